"""The page's editor in a real browser (Debian's Chromium through Playwright) on both services as
real processes: choosing people by clicking them, the brush, undo, compare and zoom, on a photo of
two people made of two portraits of ../shared/data (skipped without it)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from PIL import Image

from tests.conftest import a_pixel_of
from tests.test_web_page import RESULT_TIMEOUT_MS, WebPage, open_page, report_screenshot

pytestmark = pytest.mark.slow

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PHOTO_SIZE = (680, 400)  # the two-people photo: width, height


@pytest.fixture
def laptop(browser, matting_service) -> Iterator[WebPage]:
    yield from open_page(browser, matting_service, viewport=LAPTOP)


@pytest.fixture
def phone(browser, matting_service) -> Iterator[WebPage]:
    yield from open_page(browser, matting_service, viewport=PHONE, is_mobile=True,
                         has_touch=True, device_scale_factor=2)


@pytest.fixture(scope="module")
def labels(matting_service, two_people_png) -> np.ndarray:
    """The people of the photo as the service numbers them: 0 nobody, 1 + index."""
    response = requests.post(matting_service.url + "/people", files={"image": two_people_png},
                             timeout=120)
    assert response.status_code == 200, response.text
    encoded = response.json()["index_mask"].split(",", 1)[1]
    labels = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
    assert set(np.unique(labels)) == {0, 1, 2}
    return labels


def open_photo(web: WebPage, png: bytes, background: str = "transparent") -> None:
    """Choose the photo over ``background`` and wait for the first result and the people."""
    if background == "transparent":
        web.page.get_by_role("radio", name="Transparent").check()
    web.choose_photo({"name": "two-people.png", "mimeType": "image/png", "buffer": png})
    web.wait_for_result(background)
    web.expect(web.page.locator("#views")).to_have_attribute("data-people", "2",
                                                             timeout=RESULT_TIMEOUT_MS)
    web.expect(web.page.locator("#tools")).to_be_enabled()


def on_screen(web: WebPage, x: float, y: float,
              size: tuple[int, int] = PHOTO_SIZE) -> tuple[float, float]:
    """A pixel of a photo of ``size`` → the page's coordinates, wherever zoom and pan put it."""
    box = web.page.locator("#layers").bounding_box()
    return (box["x"] + (x + 0.5) * box["width"] / size[0],
            box["y"] + (y + 0.5) * box["height"] / size[1])


def redone(web: WebPage, action) -> None:
    """Do ``action`` and wait until the page shows the result it asked for."""
    result = web.page.locator("#result")
    before = result.get_attribute("src")
    action()
    web.expect(result).not_to_have_attribute("src", before or "", timeout=RESULT_TIMEOUT_MS)
    web.expect(web.page.locator("#form")).to_have_attribute("data-state", "done",
                                                            timeout=RESULT_TIMEOUT_MS)


def paint(web: WebPage, tool: str, start: tuple[int, int], end: tuple[int, int]) -> None:
    web.page.locator(f'label[for="tool-{tool}"]').click()
    mouse = web.page.mouse
    mouse.move(*on_screen(web, *start))
    mouse.down()
    mouse.move(*on_screen(web, *end), steps=8)
    mouse.up()


def alpha_of(png: bytes, size: tuple[int, int] = PHOTO_SIZE) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGBA" and image.size == size
        return np.asarray(image)[..., 3]


def api_alpha(service, png: bytes, **form) -> np.ndarray:
    response = requests.post(service.url + "/matte", files={"image": png},
                             data={"output": "alpha", **form}, timeout=120)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_clicking_a_person_keeps_that_person_alone(laptop, matting_service, two_people_png,
                                                   labels):
    open_photo(laptop, two_people_png)
    _, everyone = laptop.download()
    assert np.mean(alpha_of(everyone)[labels == 2] > 127) > 0.95

    redone(laptop, lambda: laptop.page.mouse.click(*on_screen(laptop, *a_pixel_of(labels, 0))))
    _, only = laptop.download()
    alpha = alpha_of(only)
    assert alpha[labels == 2].max() == 0, "the other person is gone"
    assert np.mean(alpha[labels == 1] > 127) > 0.95
    assert np.array_equal(alpha, api_alpha(matting_service, two_people_png, people="0"))

    redone(laptop, lambda: laptop.page.mouse.click(*on_screen(laptop, *a_pixel_of(labels, 1))))
    _, both = laptop.download()
    assert both == everyone, "both kept again is the first result"
    laptop.check_healthy()


def test_brush_remove_and_keep_and_undo_restores_each_result(laptop, two_people_png, labels,
                                                             screenshots, record_property):
    open_photo(laptop, two_people_png)
    _, first = laptop.download()
    x, y = a_pixel_of(labels, 0)
    assert alpha_of(first)[y, x] == 255

    redone(laptop, lambda: paint(laptop, "remove", (x - 30, y), (x + 30, y)))
    _, removed = laptop.download()
    alpha = alpha_of(removed)
    assert np.all(alpha[y - 2:y + 3, x - 30:x + 31] == 0), "removed: transparent"

    gap = (340, 60)  # the grey gap between the two portraits: background
    assert alpha[gap[1], gap[0]] == 0
    redone(laptop, lambda: paint(laptop, "keep", (gap[0], gap[1] - 30), (gap[0], gap[1] + 30)))
    _, kept = laptop.download()
    alpha = alpha_of(kept)
    assert np.all(alpha[gap[1] - 30:gap[1] + 31, gap[0] - 2:gap[0] + 3] == 255), "kept: opaque"
    assert np.all(alpha[y - 2:y + 3, x - 30:x + 31] == 0), "the earlier stroke stays"

    shot = screenshots / "editor-laptop.png"
    laptop.page.screenshot(path=str(shot))
    report_screenshot(shot, record_property)

    redone(laptop, lambda: laptop.page.locator("#undo").click())
    assert laptop.download()[1] == removed
    redone(laptop, lambda: laptop.page.keyboard.press("Control+z"))
    assert laptop.download()[1] == first
    laptop.expect(laptop.page.locator("#undo")).to_be_disabled()
    redone(laptop, lambda: laptop.page.locator("#redo").click())
    assert laptop.download()[1] == removed

    # The strokes stay when the background changes.
    laptop.pick_colour("#e0157a")
    laptop.wait_for_result("#e0157a")
    _, magenta = laptop.download()
    with Image.open(io.BytesIO(magenta)) as image:
        rgb = np.asarray(image.convert("RGB"))
    assert tuple(rgb[y, x]) == (0xE0, 0x15, 0x7A)
    laptop.check_healthy()


def test_the_result_is_in_view_without_scrolling_on_a_laptop(laptop, two_people_png):
    open_photo(laptop, two_people_png, background="green")
    box = laptop.page.locator("#result").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= LAPTOP["width"] + 0.5
    assert box["y"] + box["height"] <= LAPTOP["height"] + 0.5
    assert box["width"] >= 600, "the result fills the editor"
    assert laptop.page.evaluate("window.scrollY") == 0
    assert laptop.page.locator("#download").is_visible()


def test_compare_zoom_and_pan_at_phone_width(phone, two_people_png, labels, screenshots,
                                             record_property):
    open_photo(phone, two_people_png, background="green")
    page = phone.page
    box = page.locator("#result").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], "in view"
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The compare slider: left of the divide the original answers, right of it the result.
    page.locator("#compare").fill("50")
    phone.expect(page.locator("#divider")).to_be_visible()
    at = "([x, y]) => document.elementFromPoint(x, y).id"
    left = on_screen(phone, 100, 300)
    right = on_screen(phone, 580, 300)
    assert page.evaluate(at, list(left)) == "original"
    assert page.evaluate(at, list(right)) == "result"
    page.locator("#compare").fill("0")
    assert page.evaluate(at, list(left)) == "result"

    # Zoom: in, then 100 % (one photo pixel a CSS pixel), then fit again.
    fitted = page.locator("#layers").bounding_box()
    page.get_by_role("button", name="Zoom in").click()
    zoomed = page.locator("#layers").bounding_box()
    assert zoomed["width"] == pytest.approx(fitted["width"] * 1.5, rel=0.01)
    page.get_by_role("button", name="100 %").click()
    phone.expect(page.locator("#zoom-level")).to_have_text("100 %")
    actual = page.locator("#layers").bounding_box()
    assert actual["width"] == pytest.approx(PHOTO_SIZE[0], abs=0.5)

    # Pan with the move tool: the photo follows the drag.
    page.locator('label[for="tool-move"]').click()
    actual = page.locator("#layers").bounding_box()
    stage = page.locator("#stage").bounding_box()
    start = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 60, start[1] + 40, steps=5)
    page.mouse.up()
    moved = page.locator("#layers").bounding_box()
    assert moved["x"] == pytest.approx(actual["x"] + 60, abs=1)
    assert moved["y"] == pytest.approx(actual["y"] + 40, abs=1)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_role("button", name="Fit").click()
    refit = page.locator("#layers").bounding_box()
    assert refit["width"] == pytest.approx(fitted["width"], abs=0.5)

    # A person clicked at phone width is kept alone too.
    page.locator('label[for="tool-people"]').click()
    redone(phone, lambda: page.mouse.click(*on_screen(phone, *a_pixel_of(labels, 1))))
    page.locator("#compare").fill("35")
    shot = screenshots / "editor-phone.png"
    page.screenshot(path=str(shot))
    report_screenshot(shot, record_property)
    phone.check_healthy()


def test_output_and_format_are_above_the_fold_on_a_laptop(laptop, astronaut_png):
    for moment in ("empty", "result"):
        if moment == "result":
            laptop.choose_photo({"name": "astronaut.png", "mimeType": "image/png",
                                 "buffer": astronaut_png})
            laptop.wait_for_result("green")
        for control in ("#output", "#format"):
            box = laptop.page.locator(control).bounding_box()
            assert box["y"] + box["height"] <= LAPTOP["height"], (moment, control)
    assert laptop.page.evaluate("window.scrollY") == 0


def test_choosing_a_background_on_a_phone_keeps_the_result_in_view(phone, astronaut_png):
    phone.choose_photo({"name": "astronaut.png", "mimeType": "image/png",
                        "buffer": astronaut_png})
    phone.wait_for_result("green")
    choice = phone.page.locator('label[for="bg-blur"]')
    choice.scroll_into_view_if_needed()
    assert phone.page.evaluate("window.scrollY") > 300, "the choices are below the editor"
    choice.click()
    phone.wait_for_result("blur")
    for seen in ("#result", 'label[for="bg-blur"]'):
        box = phone.page.locator(seen).bounding_box()
        assert box["y"] >= -0.5 and box["y"] + box["height"] <= PHONE["height"] + 0.5, seen
    phone.check_healthy()


def test_the_outlines_toggle_and_a_new_photo_resets_the_hint(laptop, two_people_png, labels,
                                                             astronaut_png):
    open_photo(laptop, two_people_png)
    page = laptop.page
    outlines, toggle, hint = (page.locator(selector) for selector in
                              ("#outlines", "#show-outlines", "#tool-hint"))
    laptop.expect(outlines).to_be_visible()
    assert toggle.is_checked()
    toggle.uncheck()
    laptop.expect(outlines).to_be_hidden()
    toggle.check()
    laptop.expect(outlines).to_be_visible()

    redone(laptop, lambda: page.mouse.click(*on_screen(laptop, *a_pixel_of(labels, 0))))
    laptop.expect(hint).to_have_text("Keeping 1 of 2 people.")
    laptop.expect(outlines).to_be_hidden()  # a choice made: the edge shows without them
    assert not toggle.is_checked()

    laptop.choose_photo({"name": "astronaut.png", "mimeType": "image/png",
                         "buffer": astronaut_png})
    laptop.wait_for_result("transparent")
    laptop.expect(hint).to_contain_text("Click a person to keep only them")
    assert toggle.is_checked()
    laptop.check_healthy()

"""The matting service's web page in a real browser: Playwright driving Debian's Chromium headless
against both services as real processes (embedded backends).

``scripts/setup.sh`` installs ``/usr/bin/chromium`` with apt-get when it runs as root; without it
the browser tests skip and say why. Playwright's own browsers are never downloaded.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from testing.launcher import ROOT

pytestmark = pytest.mark.slow

RESULT_TIMEOUT_MS = 60_000
ASTRONAUT = ROOT / "examples" / "astronaut.png"
MAGENTA = "#e0157a"
MAGENTA_RGB = (0xE0, 0x15, 0x7A)

_PIXEL_AT = """(image, [x, y]) => {
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  return Array.from(context.getImageData(x, y, 1, 1).data);
}"""

_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((element) => element.getClientRects().length > 0)
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .map((element) => `${element.tagName.toLowerCase()}#${element.id}.${element.className}`);
  return {width, scrollWidth: document.documentElement.scrollWidth, wide};
}"""


class ScreenshotWritten(UserWarning):
    """Names a screenshot the browser tests wrote, so the path shows in pytest's summary."""


def report_screenshot(path: Path, record_property) -> None:
    print(f"\nscreenshot of the web page: {path}")
    record_property("screenshot", str(path))
    warnings.warn(ScreenshotWritten(f"screenshot of the web page: {path}"), stacklevel=2)


@dataclass
class WebPage:
    """One browser tab on the matting service's page, with the steps the tests repeat."""

    page: Any  # playwright.sync_api.Page
    base_url: str
    expect: Any  # playwright.sync_api.expect
    script_errors: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def open(self) -> WebPage:
        self.page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.goto(self.base_url + "/")
        self.expect(self.page.locator("#named-backgrounds .thumb")).not_to_have_count(0)
        return self

    def choose_photo(self, photo: Path | dict) -> None:
        self.page.locator("#photo").set_input_files(photo)

    def pick_colour(self, colour: str) -> None:
        self.page.locator("#colour").fill(colour)

    def wait_for_result(self, background: str) -> None:
        """Wait until the page shows a result made with ``background`` (its request value)."""
        result = self.page.locator("#result")
        self.expect(result).to_have_attribute("data-background", background,
                                              timeout=RESULT_TIMEOUT_MS)
        self.expect(self.page.locator("#form")).to_have_attribute("data-state", "done")
        self.expect(result).to_be_visible()

    def result_pixel(self, x: int, y: int) -> tuple[int, ...]:
        return tuple(self.page.locator("#result").evaluate(_PIXEL_AT, [x, y]))

    def download(self) -> tuple[str, bytes]:
        with self.page.expect_download() as info:
            self.page.locator("#download").click()
        download = info.value
        return download.suggested_filename, Path(download.path()).read_bytes()

    def check_healthy(self) -> None:
        """No uncaught script error, and nothing requested from anywhere but the service."""
        assert self.script_errors == []
        foreign = [url for url in self.requested
                   if not url.startswith((self.base_url + "/", "blob:", "data:"))]
        assert foreign == [], "the page must load everything from the service itself"


def open_page(browser, matting_service, **context_options) -> Iterator[WebPage]:
    from playwright.sync_api import expect

    context = browser.new_context(accept_downloads=True, **context_options)
    context.set_default_timeout(15_000)
    try:
        yield WebPage(context.new_page(), matting_service.url, expect).open()
    finally:
        context.close()


@pytest.fixture
def web(browser, matting_service) -> Iterator[WebPage]:
    yield from open_page(browser, matting_service, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser, matting_service) -> Iterator[WebPage]:
    yield from open_page(browser, matting_service, viewport={"width": 375, "height": 812},
                         is_mobile=True, has_touch=True, device_scale_factor=2)


def test_page_static_files_and_thumbnails_come_from_the_service(matting_service):
    page = requests.get(matting_service.url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "web/app.js" in references and "web/style.css" in references
    assert not [ref for ref in references if "//" in ref], "no external fonts, scripts or CDNs"
    for name, mimetype in (("app.js", "text/javascript"), ("style.css", "text/css")):
        static = requests.get(f"{matting_service.url}/web/{name}", timeout=10)
        assert static.status_code == 200 and static.headers["Content-Type"].startswith(mimetype)
        assert "http://" not in static.text and "https://" not in static.text

    thumbnail = requests.get(matting_service.url + "/backgrounds/green.jpg", timeout=10)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumbnail.content))
    assert image.format == "JPEG" and image.size == (160, 90)
    assert np.abs(np.asarray(image, np.int16)[40, 80] - (0, 177, 64)).max() <= 6
    for name in ("nothing", "..%2Fgreen", "green.png", "GREEN"):
        missing = requests.get(f"{matting_service.url}/backgrounds/{name}.jpg", timeout=10)
        assert missing.status_code == 404, name
    assert missing.json()["error"]["code"] == "unknown_background"


def test_colour_background_shows_in_the_result_and_downloads_as_png(web, screenshots,
                                                                    record_property):
    web.choose_photo(ASTRONAUT)
    web.pick_colour(MAGENTA)
    web.wait_for_result(MAGENTA)

    corner = web.result_pixel(3, 3)
    assert np.abs(np.subtract(corner[:3], MAGENTA_RGB)).max() <= 2 and corner[3] == 255
    assert web.page.locator("#original").evaluate("image => image.naturalWidth") == 512
    info = web.page.locator("#info").inner_text()
    assert re.search(r"512 × 512 px · PNG · \d+ kB · \d+\.\d s", info), info
    assert web.page.locator("#error").is_hidden()

    shot = screenshots / "web-page-result.png"
    web.page.screenshot(path=str(shot), full_page=True)
    report_screenshot(shot, record_property)

    name, data = web.download()
    assert name == "astronaut-composite.png"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (512, 512)
        pixels = np.asarray(image.convert("RGB"))
    assert np.all(pixels[:20, :20] == MAGENTA_RGB)
    web.check_healthy()


def test_transparent_background_downloads_with_an_alpha_channel(web):
    web.choose_photo(ASTRONAUT)
    web.page.get_by_role("radio", name="Transparent").check()
    web.expect(web.page.locator('#format option[value="jpeg"]')).to_be_disabled()
    web.wait_for_result("transparent")
    assert web.result_pixel(3, 3)[3] == 0

    name, data = web.download()
    assert name == "astronaut-composite.png"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (512, 512)
        assert image.mode == "RGBA"
        alpha = np.asarray(image)[..., 3]
    assert np.all(alpha[:20, :20] == 0) and np.all(alpha[110:140, 210:240] == 255)
    web.check_healthy()


def test_a_text_file_shows_the_error_and_a_photo_afterwards_still_works(web):
    web.choose_photo({"name": "notes.txt", "mimeType": "text/plain",
                      "buffer": b"not a photo, only words\n"})
    error = web.page.locator("#error")
    web.expect(error).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    web.expect(error).to_contain_text("not a picture this service can read")
    web.expect(web.page.locator("#form")).to_have_attribute("data-state", "error")
    assert web.page.locator("#result").is_hidden() and web.page.locator("#done").is_hidden()

    web.choose_photo(ASTRONAUT)
    web.wait_for_result("green")
    assert error.is_hidden()
    name, _ = web.download()
    assert name == "astronaut-composite.png"
    web.check_healthy()


def test_progress_shows_and_segmentation_down_is_said_in_plain_words(start_service, browser):
    # A pair of services of its own, so that stopping segmentation troubles no other test.
    segmentation = start_service("segmentation_api", {"SEGMENTER": "selfie"})
    matting = start_service("matting_api", {"MATTER": "closed-form",
                                            "SEGMENTATION_URL": segmentation.url})
    pages = open_page(browser, matting, viewport={"width": 1280, "height": 900})
    try:
        web = next(pages)
        web.choose_photo(ASTRONAUT)
        progress = web.page.locator("#progress")
        web.expect(progress).to_be_visible()
        web.expect(progress).to_contain_text("Cutting out the people")
        web.expect(web.page.locator("#form")).to_have_attribute("data-state", "busy")
        web.wait_for_result("green")

        assert web.page.get_by_role("button", name="Replace background").count() == 0
        segmentation.stop()
        web.pick_colour(MAGENTA)  # every change redoes the result: no button to press
        error = web.page.locator("#error")
        web.expect(error).to_contain_text("finds people is not running right now",
                                          timeout=RESULT_TIMEOUT_MS)
        web.expect(error).to_contain_text("cannot be reached")
        web.expect(progress).to_be_hidden()

        segmentation.start()  # the same port; the matting service is not restarted
        web.pick_colour("#20c0a0")
        web.wait_for_result("#20c0a0")
        assert error.is_hidden()
        assert web.script_errors == []
    finally:
        pages.close()
        matting.stop()
        segmentation.stop()


def test_phone_width_nothing_overflows(phone, screenshots, record_property):
    layout = phone.page.evaluate(_OVERFLOWING)
    assert layout["scrollWidth"] <= layout["width"] == 375 and layout["wide"] == [], layout

    phone.choose_photo(ASTRONAUT)
    phone.wait_for_result("green")
    layout = phone.page.evaluate(_OVERFLOWING)
    assert layout["scrollWidth"] <= layout["width"] and layout["wide"] == [], layout
    result_box = phone.page.locator("#result").bounding_box()
    assert 300 <= result_box["width"] <= 375

    shot = screenshots / "web-page-phone.png"
    phone.page.screenshot(path=str(shot), full_page=True)
    report_screenshot(shot, record_property)
    phone.check_healthy()


def test_the_page_asks_for_an_api_key_once_and_keeps_it_for_the_tab(start_service,
                                                                    segmentation_service,
                                                                    browser):
    key = "page-key-7d2c90e1"
    matting = start_service("matting_api", {"MATTER": "closed-form", "API_KEYS": key,
                                            "SEGMENTATION_URL": segmentation_service.url})
    pages = open_page(browser, matting, viewport={"width": 1280, "height": 900})
    try:
        web = next(pages)
        web.choose_photo(ASTRONAUT)
        error = web.page.locator("#error")
        web.expect(error).to_contain_text("needs an API key", timeout=RESULT_TIMEOUT_MS)
        web.expect(web.page.locator("#key-entry")).to_be_visible()

        web.page.locator("#api-key").fill("not-the-key")
        web.page.locator("#use-key").click()
        web.expect(error).to_contain_text("was not accepted", timeout=RESULT_TIMEOUT_MS)

        web.page.locator("#api-key").fill(key)
        web.page.locator("#use-key").click()
        web.wait_for_result("green")
        assert error.is_hidden()
        web.pick_colour(MAGENTA)  # the next request carries the kept key: no second question
        web.wait_for_result(MAGENTA)
        assert error.is_hidden()
        web.check_healthy()
    finally:
        pages.close()


def warm_picture(path: Path) -> Path:
    """A textured picture under a warm light, brighter at the top: a light whose colour the
    astronaut's photo lacks."""
    rng = np.random.default_rng(5)
    rows = np.linspace(1.0, 0.6, 512, dtype=np.float32)[:, None, None]
    picture = rows * np.array([250, 190, 120]) + rng.normal(0, 12, (512, 512, 3))
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(path)
    return path


def test_each_effect_toggles_with_a_live_preview_and_the_page_says_which_applied(
        web, screenshots, record_property, tmp_path):
    web.choose_photo(ASTRONAUT)
    web.page.locator("#background-file").set_input_files(warm_picture(tmp_path / "warm.png"))
    web.wait_for_result("your picture")
    result = web.page.locator("#result")
    web.expect(result).to_have_attribute("data-effects", "none")
    _, plain = web.download()
    shadow = "shadow=0.6, shadow_angle=0"
    steps = (("#fx-harmonise", "harmonise=0.5"),
             ("#fx-light-wrap", "harmonise=0.5, light_wrap=0.5"),
             ("#fx-shadow", f"harmonise=0.5, light_wrap=0.5, {shadow}"))
    answers = [plain]
    for toggle, applied in steps:
        web.page.locator(toggle).check()
        web.expect(result).to_have_attribute("data-effects", applied,
                                             timeout=RESULT_TIMEOUT_MS)
        web.expect(web.page.locator("#effects-applied")).to_have_text(applied)
        answers.append(web.download()[1])
    web.page.locator("#shadow-angle").fill("-45")
    web.expect(result).to_have_attribute(
        "data-effects", "harmonise=0.5, light_wrap=0.5, shadow=0.6, shadow_angle=-45",
        timeout=RESULT_TIMEOUT_MS)
    answers.append(web.download()[1])
    assert web.page.locator('input[data-field="shadow"]').get_attribute("max") == "1"
    shot = screenshots / "web-page-effects.png"
    web.page.screenshot(path=str(shot), full_page=True)
    report_screenshot(shot, record_property)
    pictures = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), int)
                for data in answers]
    for before, after in pairwise(pictures):
        assert np.abs(after - before).max() > 10, "each toggle changes the result"
    darker = pictures[3] - pictures[2]
    assert darker.min() < -15 and darker.max() <= 1, "the shadow only darkens"
    for toggle, _ in steps:
        web.page.locator(toggle).uncheck()
    web.expect(result).to_have_attribute("data-effects", "none", timeout=RESULT_TIMEOUT_MS)
    assert web.download()[1] == plain, "all turned off, the first result comes back"
    web.page.locator("#output").select_option("cutout")
    web.expect(web.page.locator("#fx-harmonise")).to_be_disabled()
    web.check_healthy()


def test_the_divider_is_dragged_on_the_image(web):
    web.choose_photo(ASTRONAUT)
    web.wait_for_result("green")
    page = web.page
    divider = page.locator("#divider")
    web.expect(divider).to_be_visible()  # at the left edge: all result
    layers = page.locator("#layers").bounding_box()
    grip = page.locator("#divider .grip").bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(layers["x"] + layers["width"] * 0.6, grip["y"], steps=6)
    page.mouse.up()
    assert int(page.locator("#compare").input_value()) == pytest.approx(60, abs=2)
    line = divider.bounding_box()
    assert line["x"] == pytest.approx(layers["x"] + layers["width"] * 0.6, abs=4)
    at = "([x, y]) => document.elementFromPoint(x, y).id"
    middle = layers["y"] + layers["height"] / 2
    assert page.evaluate(at, [layers["x"] + layers["width"] * 0.3, middle]) == "original"
    assert page.evaluate(at, [layers["x"] + layers["width"] * 0.9, middle]) == "result"
    # Dragged back by the line itself, past the edge: all result again.
    page.mouse.move(line["x"] + 1, middle)
    page.mouse.down()
    page.mouse.move(layers["x"] - 40, middle, steps=6)
    page.mouse.up()
    assert page.locator("#compare").input_value() == "0"
    assert page.evaluate(at, [layers["x"] + layers["width"] * 0.3, middle]) == "result"
    web.check_healthy()


def test_the_icon_is_served_and_nothing_the_page_asks_for_is_missing(browser, matting_service):
    icon = requests.get(matting_service.url + "/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    page = requests.get(matting_service.url + "/", timeout=10).text
    assert '<link rel="icon" href="web/favicon.svg"' in page
    assert "HEIC/HEIF or AVIF" in page and ".heic" in page, "the formats, filled in"
    pages = open_page(browser, matting_service, viewport={"width": 1280, "height": 900})
    try:
        web = next(pages)
        failed: list[str] = []
        web.page.on("response", lambda answer: answer.status >= 400 and failed.append(answer.url))
        web.page.reload()
        web.choose_photo(ASTRONAUT)
        web.wait_for_result("green")
        assert failed == []
        assert web.page.evaluate(
            "fetch('web/favicon.svg').then((answer) => answer.status)") == 200
    finally:
        pages.close()


def test_a_heic_photo_shows_upright_in_the_page(web):
    from tests.test_heic_avif import UPRIGHT, phone_photo

    web.choose_photo({"name": "phone.heic", "mimeType": "image/heic",
                      "buffer": phone_photo("HEIF")})
    web.wait_for_result("green")
    web.expect(web.page.locator("#views")).to_have_attribute("data-loaded", "yes")
    original = web.page.locator("#original")
    assert original.evaluate("image => [image.naturalWidth, image.naturalHeight]") == \
        list(UPRIGHT), "the service's preview of a photo the browser cannot read"
    assert web.page.locator("#result").evaluate("image => image.naturalWidth") == UPRIGHT[0]
    web.check_healthy()

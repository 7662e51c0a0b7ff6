"""People who touch are separate people: two portraits side by side with no gap, both services
as real processes with the pose segmenter, over HTTP and through the page in a real browser."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from PIL import Image

from tests.conftest import a_pixel_of
from tests.test_web_editor import LAPTOP, alpha_of, on_screen, redone
from tests.test_web_page import RESULT_TIMEOUT_MS, WebPage, open_page

pytestmark = pytest.mark.slow

WIDTH = 600  # the touching photo: two 300×400 portraits


@pytest.fixture(scope="module")
def labels(pose_matting_service, touching_people_png) -> np.ndarray:
    """The people of the touching photo as /people numbers them: 0 nobody, 1 + index."""
    response = requests.post(pose_matting_service.url + "/people",
                             files={"image": touching_people_png}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["segmenter"] == "pose" and len(body["people"]) == 2
    encoded = body["index_mask"].split(",", 1)[1]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


def alpha(service, png: bytes, **form) -> np.ndarray:
    response = requests.post(service.url + "/matte", files={"image": png},
                             data={"output": "alpha", **form}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["X-Segmenter"] == "pose"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_touching_people_are_two_people_each_on_their_side(labels):
    left, right = sorted((1, 2), key=lambda label: np.nonzero(labels == label)[1].mean())
    assert np.mean(np.nonzero(labels == left)[1] < WIDTH // 2) > 0.9
    assert np.mean(np.nonzero(labels == right)[1] >= WIDTH // 2) > 0.9


def test_a_point_on_one_keeps_that_person_alone(pose_matting_service, touching_people_png,
                                                labels):
    everyone = alpha(pose_matting_service, touching_people_png)
    for index in (0, 1):
        x, y = a_pixel_of(labels, index)
        only = alpha(pose_matting_service, touching_people_png, points=f"{x},{y}")
        mine, theirs = labels == index + 1, labels == 2 - index
        assert np.mean(only[mine] > 127) > 0.95
        assert np.mean(only[theirs] > 127) < 0.02, "the other person is background"
        assert np.mean(everyone[theirs] > 127) > 0.95


@pytest.fixture
def laptop(browser, pose_matting_service) -> Iterator[WebPage]:
    yield from open_page(browser, pose_matting_service, viewport=LAPTOP)


def test_clicking_one_of_two_touching_people_in_the_page_keeps_them_alone(
        laptop, pose_matting_service, touching_people_png, labels):
    laptop.page.get_by_role("radio", name="Transparent").check()
    laptop.choose_photo({"name": "touching.png", "mimeType": "image/png",
                         "buffer": touching_people_png})
    laptop.wait_for_result("transparent")
    laptop.expect(laptop.page.locator("#views")).to_have_attribute("data-people", "2",
                                                                   timeout=RESULT_TIMEOUT_MS)
    x, y = a_pixel_of(labels, 1)
    redone(laptop, lambda: laptop.page.mouse.click(*on_screen(laptop, x, y, (WIDTH, 400))))
    _, only = laptop.download()
    kept = alpha_of(only, (WIDTH, 400))
    assert np.mean(kept[labels == 2] > 127) > 0.95
    assert np.mean(kept[labels == 1] > 127) < 0.02, "the other person is gone"
    assert np.array_equal(kept, alpha(pose_matting_service, touching_people_png, people="1"))
    laptop.check_healthy()

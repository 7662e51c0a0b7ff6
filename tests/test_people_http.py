"""Choosing the people and correcting the trimap with hints, over HTTP: both services as real
processes (embedded backends) on a photo of two people (two portraits of ../shared/data)."""

import base64
import io

import numpy as np
import pytest
import requests
from PIL import Image

from background_replacement.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from tests.conftest import a_pixel_of

pytestmark = pytest.mark.slow


def post(service, path: str, image: bytes, files=None, **form) -> requests.Response:
    return requests.post(service.url + path, files={"image": image, **(files or {})},
                         data=form, timeout=120)


def pixels(response: requests.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def found(matting_service, two_people_png) -> dict:
    """The matting service's /people answer, with the index mask decoded into ``labels``."""
    response = post(matting_service, "/people", two_people_png)
    assert response.status_code == 200, response.text
    body = response.json()
    header, encoded = body["index_mask"].split(",", 1)
    assert header == "data:image/png;base64"
    body["labels"] = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
    return body


def test_people_are_reported_one_by_one_by_both_services(found, segmentation_service,
                                                         two_people_png):
    assert (found["width"], found["height"]) == (680, 400) and found["segmenter"] == "selfie"
    people = found["people"]
    assert [person["index"] for person in people] == [0, 1]
    labels = found["labels"]
    assert labels.shape == (400, 680) and set(np.unique(labels)) == {0, 1, 2}
    for person in people:
        x0, y0, x1, y1 = person["box"]
        rows, cols = np.nonzero(labels == person["index"] + 1)
        assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        assert person["area"] == len(rows) and 0.6 <= person["score"] <= 1.0
    left, right = sorted(people, key=lambda person: person["box"][0])
    assert left["box"][2] <= 340 <= right["box"][0], "one person on each side of the gap"
    direct = post(segmentation_service, "/people", two_people_png)
    assert direct.json()["people"] == people and direct.headers["X-People-Count"] == "2"


def test_keep_by_index_gives_a_matte_with_that_person_only(matting_service, two_people_png,
                                                           found):
    labels = found["labels"]
    for index in (0, 1):
        response = post(matting_service, "/matte", two_people_png, output="alpha",
                        people=str(index))
        alpha = pixels(response)
        assert response.headers["X-People-Count"] == "1"
        assert response.headers["X-People-Found"] == "2"
        other = 2 - index  # the other person's label
        assert alpha[labels == other].max() == 0, "the person left out is background"
        assert np.mean(alpha[labels == index + 1] > 127) > 0.95
    both = pixels(post(matting_service, "/matte", two_people_png, output="alpha",
                       people="0,1"))
    default = pixels(post(matting_service, "/matte", two_people_png, output="alpha"))
    assert np.array_equal(both, default)
    assert np.array_equal(default, pixels(post(matting_service, "/matte", two_people_png,
                                               output="alpha", people="all")))


def test_keep_by_point_and_largest_are_keep_by_index(matting_service, two_people_png, found):
    labels = found["labels"]
    for index in (0, 1):
        x, y = a_pixel_of(labels, index)
        by_point = post(matting_service, "/matte", two_people_png, output="alpha",
                        points=f"{x},{y}")
        by_index = post(matting_service, "/matte", two_people_png, output="alpha",
                        people=str(index))
        assert by_point.content == by_index.content
    largest = max(found["people"], key=lambda person: person["area"])["index"]
    assert (post(matting_service, "/matte", two_people_png, output="alpha",
                 people="largest").content
            == post(matting_service, "/matte", two_people_png, output="alpha",
                    people=str(largest)).content)
    points = ";".join(f"{x},{y}" for x, y in (a_pixel_of(labels, 0), a_pixel_of(labels, 1)))
    assert (post(matting_service, "/matte", two_people_png, output="alpha",
                 points=points).content
            == post(matting_service, "/matte", two_people_png, output="alpha").content)


def test_segmentation_trimap_keeps_only_the_chosen_person(segmentation_service,
                                                          two_people_png, found):
    labels = found["labels"]
    response = post(segmentation_service, "/trimap", two_people_png, people="1")
    trimap = pixels(response)
    assert response.headers["X-People-Count"] == "1"
    assert response.headers["X-People-Found"] == "2"
    assert np.all(trimap[labels == 1] == BACKGROUND)
    assert np.any(trimap[labels == 2] == FOREGROUND)
    old = pixels(post(segmentation_service, "/trimap", two_people_png))  # old clients: all
    assert np.any(old[labels == 1] == FOREGROUND) and np.any(old[labels == 2] == FOREGROUND)


def test_hint_strokes_remove_keep_and_edge(matting_service, two_people_png, found):
    labels = found["labels"]
    x, y = a_pixel_of(labels, 0)
    hint = np.zeros((400, 680, 4), np.uint8)  # transparent: no hint
    hint[y - 10:y + 10, x - 10:x + 10] = (0, 0, 0, 255)  # remove, inside person 0
    hint[5:25, 320:360] = (255, 255, 255, 255)  # keep, in the grey gap between them
    hint[30:50, 320:360] = (128, 128, 128, 255)  # edge
    response = post(matting_service, "/matte", two_people_png,
                    files={"hint": png(hint)}, output="alpha")
    alpha = pixels(response)
    assert response.headers["X-Hint"] == "merged"
    assert np.all(alpha[y - 10:y + 10, x - 10:x + 10] == 0)
    assert np.all(alpha[5:25, 320:360] == 255)
    unhinted = pixels(post(matting_service, "/matte", two_people_png, output="alpha"))
    assert unhinted[y, x] == 255 and unhinted[15, 340] == 0
    trimap = pixels(post(matting_service, "/matte", two_people_png,
                         files={"hint": png(hint)}, output="trimap"))
    assert np.all(trimap[30:50, 320:360] == UNKNOWN)
    assert np.all(trimap[5:25, 320:360] == FOREGROUND)

    opaque_rgb = np.zeros((400, 680, 3), np.uint8)  # no alpha channel: all of it applies
    opaque_rgb[:, 340:] = 255
    everywhere = pixels(post(matting_service, "/matte", two_people_png,
                             files={"hint": png(opaque_rgb)}, output="alpha"))
    assert np.all(everywhere[:, :340] == 0) and np.all(everywhere[:, 340:] == 255)


@pytest.mark.parametrize(("form", "status", "code", "says"), [
    ({"people": "2"}, 422, "no_such_person", "no person 2"),
    ({"people": "0,7"}, 422, "no_such_person", "no person 7"),
    ({"points": "340,200"}, 422, "no_such_person", "no person at (340, 200)"),
    ({"points": "680,10"}, 400, "bad_parameter", "outside the 680×400 image"),
    ({"points": "-1,10"}, 400, "bad_parameter", "outside"),
    ({"points": "10,20,30"}, 400, "bad_parameter", "x,y pairs"),
    ({"points": "a,b"}, 400, "bad_parameter", "x,y pairs"),
    ({"people": "first"}, 400, "bad_parameter", "'people' must be"),
    ({"people": "-1"}, 400, "bad_parameter", "'people' must be"),
])
def test_bad_choices_are_json_errors(matting_service, segmentation_service, two_people_png,
                                     form, status, code, says):
    for service in (matting_service, segmentation_service):
        path = "/matte" if service is matting_service else "/trimap"
        response = post(service, path, two_people_png, **form)
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == code and says in error["message"], error


def test_bad_hints_and_mixed_inputs_are_json_errors(matting_service, two_people_png):
    small = png(np.zeros((40, 68, 4), np.uint8))
    response = post(matting_service, "/matte", two_people_png, files={"hint": small})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_hint"
    assert "68×40" in response.json()["error"]["message"]
    response = post(matting_service, "/matte", two_people_png, files={"hint": b"not a png"})
    assert response.status_code == 415 and response.json()["error"]["code"] == "not_an_image"
    trimap = png(np.full((400, 680), UNKNOWN, np.uint8))
    response = post(matting_service, "/matte", two_people_png, files={"trimap": trimap},
                    people="0")
    assert response.status_code == 400 and "uploaded trimap" in response.json()["error"][
        "message"]

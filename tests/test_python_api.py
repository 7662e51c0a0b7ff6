"""The Python API runs the services' pipeline in process: the same photo gives the same result
through ``BackgroundReplacer.replace`` as through ``POST /matte``."""

import io

import cv2
import numpy as np
import pytest
import requests
from PIL import Image

import background_replacement
from background_replacement import (
    BackgroundReplacer,
    NoPersonFound,
    NoSuchPerson,
    PeopleChoice,
    TrimapParams,
)
from background_replacement.background import Colour
from background_replacement.compositing import to_uint8
from background_replacement.images import load_photo
from background_replacement.matters.closed_form import ClosedFormMatter
from background_replacement.trimap import UNKNOWN
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

EMBEDDED = {"segmenter": "selfie", "matter": "closed-form"}  # as the session's services


@pytest.fixture(scope="module")
def replacer() -> BackgroundReplacer:
    return BackgroundReplacer(EMBEDDED)


@pytest.mark.parametrize("output", ["composite", "cutout", "alpha"])
def test_same_photo_same_answer_in_process_and_over_http(replacer, matting_service,
                                                         astronaut_png, output):
    response = requests.post(matting_service.url + "/matte", files={"image": astronaut_png},
                             data={"output": output}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["X-Segmenter"] == replacer.segmenter.name
    assert response.headers["X-Matter"] == replacer.matter.name
    served = np.asarray(Image.open(io.BytesIO(response.content)))
    local = replacer.replace_array(EXAMPLES / "astronaut.png", output=output)
    assert local.dtype == np.uint8 and local.shape == served.shape
    assert np.abs(local.astype(int) - served.astype(int)).max() <= 1
    if output != "alpha":  # people were found and cut out: the matte is not all 0 or all 1
        alpha = local[:, :, 3] if output == "cutout" else replacer.replace_array(
            EXAMPLES / "astronaut.png", output="alpha")
        assert 0.05 < np.mean(alpha > 127) < 0.95


def test_every_kind_of_image_gives_the_same_pixels(replacer, astronaut_png):
    path = EXAMPLES / "astronaut.png"
    with Image.open(path) as image:
        pil = image.copy()
    rgb = np.asarray(pil.convert("RGB"))
    results = [replacer.replace_array(source, output="alpha", background="white")
               for source in (path, str(path), astronaut_png, pil, rgb)]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_backgrounds_of_every_kind(replacer, astronaut_png):
    blue = replacer.replace_array(astronaut_png, background="#2040ff")
    picture = replacer.replace_array(astronaut_png,
                               background=np.full((10, 10, 3), (32, 64, 255), np.uint8))
    drawn = replacer.replace_array(astronaut_png, background=Colour((32, 64, 255), "mine"))
    np.testing.assert_array_equal(blue, picture)
    np.testing.assert_array_equal(blue, drawn)
    assert replacer.replace_array(astronaut_png, background="transparent").shape[2] == 4
    with pytest.raises(ValueError, match="available"):
        replacer.replace_array(astronaut_png, background="nosuch")
    with pytest.raises(ValueError):
        replacer.replace_array(astronaut_png, output="hologram")
    with pytest.raises(ValueError):
        replacer.replace_array(astronaut_png, params=TrimapParams(kernel_size=0))


def test_nobody_in_the_photo(replacer):
    empty = np.full((48, 64, 3), 200, np.uint8)
    with pytest.raises(NoPersonFound):
        replacer.replace_array(empty)
    np.testing.assert_array_equal(replacer.replace_array(empty, if_no_person="original"), empty)
    behind = replacer.replace_array(empty, if_no_person="empty", background="#2040ff")
    assert np.all(behind == (0x20, 0x40, 0xFF))


def test_the_one_off_function_loads_once_and_answers_the_same(replacer, astronaut_png,
                                                               monkeypatch):
    monkeypatch.setenv("SEGMENTER", EMBEDDED["segmenter"])
    monkeypatch.setenv("MATTER", EMBEDDED["matter"])
    background_replacement.default_replacer.cache_clear()
    try:
        first = background_replacement.replace(astronaut_png, output="cutout")
        loaded = background_replacement.default_replacer()
        assert background_replacement.default_replacer() is loaded
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(first))),
                                      replacer.replace_array(astronaut_png, output="cutout"))
    finally:
        background_replacement.default_replacer.cache_clear()


def test_people_and_hints_in_process_as_over_http(replacer, matting_service, two_people_png):
    hint = np.zeros((400, 680, 4), np.uint8)
    hint[10:40, 320:360] = (255, 255, 255, 255)  # keep a piece of the grey gap
    buffer = io.BytesIO()
    Image.fromarray(hint).save(buffer, format="PNG")
    for form, local in (({"people": "1"}, {"people": [1]}),
                        ({"people": "largest"}, {"people": "largest"}),
                        ({"points": "120,300"}, {"points": [(120, 300)]}),
                        ({"people": "0"}, {"people": PeopleChoice(indices=(0,)), "hint": hint})):
        files = {"image": two_people_png}
        if "hint" in local:
            files["hint"] = buffer.getvalue()
        response = requests.post(matting_service.url + "/matte", files=files,
                                 data={"output": "alpha", **form}, timeout=120)
        assert response.status_code == 200, response.text
        served = np.asarray(Image.open(io.BytesIO(response.content)))
        mine = replacer.replace_array(two_people_png, output="alpha", **local)
        assert np.abs(mine.astype(int) - served.astype(int)).max() <= 1, form
    assert np.all(mine[10:40, 320:360] == 255)
    with pytest.raises(NoSuchPerson):
        replacer.replace_array(two_people_png, people=[5])
    with pytest.raises(NoSuchPerson):
        replacer.replace_array(two_people_png, points=[(340, 200)])  # the gap: nobody
    with pytest.raises(ValueError, match="outside"):
        replacer.replace_array(two_people_png, points=[(700, 10)])
    with pytest.raises(ValueError, match="the hint is"):
        replacer.replace_array(two_people_png, hint=hint[:10])


def test_edge_strokes_keep_the_solved_alpha_in_process_and_over_http(replacer, matting_service,
                                                                     two_people_png):
    """An "edge" stroke lets the matting decide: closed-form's alpha there is as solved, not
    hardened beyond a few pixels of the outline as it is elsewhere."""
    trimap = replacer.replace_array(two_people_png, output="trimap")
    rows, cols = np.nonzero(trimap == UNKNOWN)
    stroke = np.zeros(trimap.shape, bool)  # the top quarter of the people's band, widened
    top = rows.min() + (rows.max() - rows.min()) // 4
    stroke[rows.min():top, cols.min():cols.max() + 1] = True
    stroke &= cv2.dilate((trimap == UNKNOWN).astype(np.uint8), np.ones((25, 25))) > 0
    hint = np.zeros((*trimap.shape, 4), np.uint8)
    hint[stroke] = (128, 128, 128, 255)
    mine = replacer.replace_array(two_people_png, output="alpha", hint=hint)
    merged = np.where(stroke, UNKNOWN, trimap).astype(np.uint8)
    rgb = load_photo(two_people_png).rgb
    solved = ClosedFormMatter(confine=False).matte(rgb, merged).alpha
    confined = ClosedFormMatter().matte(rgb, merged).alpha
    assert np.abs(mine[stroke].astype(int) - to_uint8(solved)[stroke]).max() <= 1
    assert np.abs(mine[~stroke].astype(int) - to_uint8(confined)[~stroke]).max() <= 1
    faint = stroke & (solved > 0.05) & (solved < 0.5) & (confined == 0)
    assert faint.sum() > 100, "the stroke holds alpha that confinement would have removed"
    buffer = io.BytesIO()
    Image.fromarray(hint).save(buffer, format="PNG")
    response = requests.post(matting_service.url + "/matte", timeout=120,
                             files={"image": two_people_png, "hint": buffer.getvalue()},
                             data={"output": "alpha"})
    assert response.status_code == 200, response.text
    served = np.asarray(Image.open(io.BytesIO(response.content)))
    assert np.abs(served.astype(int) - mine.astype(int)).max() <= 1


def test_effects_in_process_as_over_http(replacer, matting_service, astronaut_png):
    chosen = background_replacement.Effects(harmonise=1.0, light_wrap=0.5, shadow=0.6)
    response = requests.post(matting_service.url + "/matte", files={"image": astronaut_png},
                             data={"background": "studio", **chosen.to_form()}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["X-Effects"] == \
        "harmonise=1, light_wrap=0.5, shadow=0.6, shadow_angle=0"
    served = np.asarray(Image.open(io.BytesIO(response.content)))
    local = replacer.replace_array(astronaut_png, background="studio", effects=chosen)
    plain = replacer.replace_array(astronaut_png, background="studio")
    assert np.abs(local.astype(int) - served.astype(int)).max() <= 1
    assert np.abs(local.astype(int) - plain.astype(int)).max() > 10
    with pytest.raises(ValueError, match="harmonise"):
        replacer.replace_array(astronaut_png, effects=background_replacement.Effects(harmonise=2))


def encoded(rgb: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt)
    return buffer.getvalue()


def test_replace_answers_in_the_kind_it_was_given(replacer, astronaut_png, tmp_path):
    path = EXAMPLES / "astronaut.png"
    rgb = replacer.replace_array(path, output="alpha")
    with Image.open(path) as image:
        pil = image.convert("RGB")
    photo = np.asarray(pil)
    assert isinstance(replacer.replace(photo, output="alpha"), np.ndarray)
    answer = replacer.replace(pil, output="cutout")
    assert isinstance(answer, Image.Image) and answer.mode == "RGBA"
    answer = replacer.replace(path, output="alpha")
    assert isinstance(answer, Image.Image) and answer.mode == "L"
    np.testing.assert_array_equal(np.asarray(answer), rgb)
    assert isinstance(replacer.replace(str(path)), Image.Image)
    # Bytes: the same format where it holds the result, else PNG (a JPEG cutout needs alpha).
    for fmt, output, answered in (("PNG", "composite", "PNG"), ("JPEG", "composite", "JPEG"),
                                  ("WEBP", "cutout", "WEBP"), ("JPEG", "cutout", "PNG"),
                                  ("JPEG", "alpha", "JPEG"), ("BMP", "composite", "PNG")):
        answer = replacer.replace(encoded(photo, fmt), output=output)
        assert isinstance(answer, bytes)
        with Image.open(io.BytesIO(answer)) as image:
            assert image.format == answered, (fmt, output)
            assert image.size == pil.size
    # A path to write to: the format from its suffix, the path answered.
    written = replacer.replace(path, output="alpha", save_as=tmp_path / "alpha.png")
    assert written == tmp_path / "alpha.png"
    np.testing.assert_array_equal(np.asarray(Image.open(written)), rgb)
    assert Image.open(replacer.replace(astronaut_png, save_as=tmp_path / "a.jpg")).format \
        == "JPEG"
    with pytest.raises(ValueError, match="format"):
        replacer.replace(path, save_as=tmp_path / "a.gif")


def test_people_answers_what_post_people_answers(replacer, matting_service, two_people_png):
    response = requests.post(matting_service.url + "/people", files={"image": two_people_png},
                             timeout=120)
    assert response.status_code == 200, response.text
    mine = replacer.people(two_people_png)
    served = response.json()
    assert set(mine) == set(served)
    assert mine["segmenter"] == served["segmenter"] == replacer.segmenter.name
    assert (mine["width"], mine["height"]) == (680, 400)
    assert len(mine["people"]) == len(served["people"]) == 2
    for own, theirs in zip(mine["people"], served["people"], strict=True):
        assert own["index"] == theirs["index"] and own["box"] == theirs["box"]
        assert abs(own["area"] - theirs["area"]) <= 0.001 * theirs["area"]
    assert mine["index_mask"].startswith("data:image/png;base64,")
    assert replacer.people(np.full((48, 64, 3), 200, np.uint8))["people"] == []

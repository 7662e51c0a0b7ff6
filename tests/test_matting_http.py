"""The matting service end to end: both services as real processes, embedded backends."""

import io
import subprocess

import numpy as np
import pytest
import requests
from PIL import Image

from background_replacement.background import BACKGROUNDS_DIR
from background_replacement.compositing import cover
from background_replacement.service_common.uploads import MAX_IMAGE_SIDE
from bench.data import alpha_scores, portraits, summary
from testing.commands import PHOTO_COMMAND
from testing.launcher import ROOT
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

GREEN = np.array([0, 177, 64])


def matte(service, image: bytes, timeout: float = 120, files=None, **form) -> requests.Response:
    return requests.post(service.url + "/matte", files={"image": image, **(files or {})},
                         data=form, timeout=timeout)


def decoded(response: requests.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


@pytest.fixture(scope="module")
def astronaut_rgb(astronaut_png):
    return np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("RGB"))


@pytest.fixture(scope="module")
def green_composite(matting_service, astronaut_png):
    return matte(matting_service, astronaut_png)


def test_composite_is_green_in_the_corner_and_unchanged_on_the_face(green_composite,
                                                                     astronaut_rgb):
    assert green_composite.headers["X-Matter"] == "closed-form"
    assert green_composite.headers["X-Segmenter"] == "selfie"
    timing = green_composite.headers["Server-Timing"]
    assert all(f"{stage};dur=" in timing for stage in ("segmentation", "matting", "compositing"))
    result = decoded(green_composite)
    assert result.shape == astronaut_rgb.shape
    assert np.all(result[:40, :40] == GREEN)
    assert np.array_equal(result[110:140, 210:240], astronaut_rgb[110:140, 210:240])


def test_cutout_is_transparent_in_the_corner_and_opaque_on_the_face(matting_service,
                                                                     astronaut_png):
    rgba = decoded(matte(matting_service, astronaut_png, output="cutout"))
    assert rgba.shape == (512, 512, 4)
    assert np.all(rgba[:40, :40, 3] == 0)
    assert np.all(rgba[110:140, 210:240, 3] == 255)


def test_transparent_background_and_alpha_output_agree(matting_service, astronaut_png):
    rgba = decoded(matte(matting_service, astronaut_png, background="transparent"))
    alpha = decoded(matte(matting_service, astronaut_png, output="alpha"))
    assert alpha.shape == (512, 512)
    assert np.array_equal(rgba[..., 3], alpha)
    soft = np.count_nonzero((alpha > 10) & (alpha < 245))
    assert soft > 500, "the matte should have soft edges, not only 0 and 255"


def test_colour_and_uploaded_background(matting_service, astronaut_png):
    red = decoded(matte(matting_service, astronaut_png, background="#ff0000", format="jpeg"))
    assert red[5, 5, 0] > 240 and red[5, 5, 1:].max() < 20
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, :200] = (0, 0, 255)
    wide[:, 200:] = (255, 255, 0)
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, format="PNG")
    result = decoded(matte(matting_service, astronaut_png,
                           files={"background": ("bg.png", buffer.getvalue())}))
    # Covered and centre-cropped: the left edge is blue, the right edge yellow.
    assert tuple(result[5, 5]) == (0, 0, 255) and tuple(result[5, 506]) == (255, 255, 0)


def test_uploaded_trimap_skips_segmentation(matting_service, astronaut_png):
    trimap = np.zeros((512, 512), np.uint8)
    trimap[100:400, 150:350] = 128
    trimap[150:350, 200:300] = 255
    buffer = io.BytesIO()
    Image.fromarray(trimap).save(buffer, format="PNG")
    response = matte(matting_service, astronaut_png, output="alpha",
                     files={"trimap": ("t.png", buffer.getvalue())})
    alpha = decoded(response)
    assert response.headers["X-Segmenter"] == "uploaded-trimap"
    assert np.all(alpha[trimap == 0] == 0) and np.all(alpha[trimap == 255] == 255)


def test_no_person(matting_service):
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), (30, 60, 200)).save(buffer, format="PNG")
    empty = buffer.getvalue()
    refused = matte(matting_service, empty)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "no_person"
    original = decoded(matte(matting_service, empty, if_no_person="original"))
    assert np.all(original == (30, 60, 200))
    background_only = decoded(matte(matting_service, empty, if_no_person="empty"))
    assert np.all(background_only == GREEN)


@pytest.mark.parametrize(("form", "code"), [
    ({"background": "../../etc/passwd"}, "bad_background"),
    ({"background": "#12345"}, "bad_background"),
    ({"background": "nosuchname"}, "bad_background"),
    ({"output": "hologram"}, "bad_parameter"),
    ({"format": "gif"}, "bad_parameter"),
    ({"output": "cutout", "format": "jpeg"}, "bad_parameter"),
    ({"fg_threshold": "2"}, "bad_parameter"),
])
def test_bad_parameters(matting_service, astronaut_png, form, code):
    response = matte(matting_service, astronaut_png, **form)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_not_an_image_is_415(matting_service):
    response = matte(matting_service, b"just some text\n" * 10)
    assert response.status_code == 415


def test_backgrounds_listing_has_green_first(matting_service):
    names = [b["name"] for b in requests.get(matting_service.url + "/backgrounds",
                                             timeout=5).json()["backgrounds"]]
    assert names[0] == "green" and len(names) >= 2


def test_a_named_background_as_matte_draws_it(matting_service, astronaut_png):
    url = matting_service.url + "/backgrounds/sky"
    drawn = requests.get(url, params={"width": 64, "height": 48}, timeout=10)
    assert drawn.status_code == 200 and drawn.headers["Content-Type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(drawn.content)))
    assert pixels.shape == (48, 64, 3)
    with Image.open(BACKGROUNDS_DIR / "sky.png") as sky:
        np.testing.assert_array_equal(pixels, cover(np.asarray(sky.convert("RGB")), 48, 64))
        full = Image.open(io.BytesIO(requests.get(url, timeout=10).content))
        assert full.size == sky.size
    # The same pixels /matte puts behind a photo in which nobody is found.
    empty = requests.post(matting_service.url + "/matte", data={
        "background": "sky", "if_no_person": "empty"}, files={
        "image": encoded(np.full((48, 64, 3), 200, np.uint8))}, timeout=60)
    assert empty.status_code == 200, empty.text
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(empty.content))), pixels)
    for params, status in (({"width": 64}, 400), ({"width": 0, "height": 5}, 400),
                           ({"width": MAX_IMAGE_SIDE + 1, "height": 1}, 400),
                           ({"width": MAX_IMAGE_SIDE, "height": MAX_IMAGE_SIDE}, 413)):
        assert requests.get(url, params=params, timeout=10).status_code == status, params
    assert requests.get(matting_service.url + "/backgrounds/nosuch", timeout=10).json()[
        "error"]["code"] == "unknown_background"


def encoded(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_cli_writes_the_same_files(matting_service, tmp_path, green_composite):
    source = ROOT / "examples" / "astronaut.png"
    for name, extra in (("green.png", []), ("cutout.webp", ["--output-kind", "cutout"])):
        done = subprocess.run([*PHOTO_COMMAND, str(source),
                               str(tmp_path / name), "--server", matting_service.url, *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    written = np.asarray(Image.open(tmp_path / "green.png"))
    assert np.array_equal(written, decoded(green_composite))
    assert Image.open(tmp_path / "cutout.webp").mode == "RGBA"


def test_cli_folder_mode_and_failure_exit(matting_service, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes((ROOT / "examples" / "astronaut.png").read_bytes())
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    done = subprocess.run([*PHOTO_COMMAND, str(folder),
                           str(tmp_path / "out"), "--server", matting_service.url],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1
    assert (tmp_path / "out" / "a.png").is_file() and not (tmp_path / "out" / "b.png").exists()
    assert "not an image" in done.stderr


def test_segmentation_down_is_503_then_recovers(start_service, astronaut_png):
    segmentation = start_service("segmentation_api", {"SEGMENTER": "selfie"})
    matting = start_service("matting_api", {"MATTER": "closed-form",
                                            "SEGMENTATION_URL": segmentation.url,
                                            "SEGMENTATION_CONNECT_TIMEOUT": "2"})
    try:
        assert matte(matting, astronaut_png).status_code == 200
        segmentation.stop()
        down = matte(matting, astronaut_png, timeout=10)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "segmentation_unavailable"
        assert "segmentation service" in down.json()["error"]["message"]
        assert requests.get(matting.url + "/readyz", timeout=5).status_code == 503
        segmentation.start()  # the same port again
        assert matte(matting, astronaut_png).status_code == 200
        assert matting.alive()
    finally:
        matting.stop()
        segmentation.stop()


# Floors of the default embedded chain through /matte on portraits-dev (20 photos): the
# straightforward pipeline's figures measured in the same bench run (bench/matting_quality.py),
# which the project must not fall below.
DEV_FLOORS = {"mean_iou": 0.9619, "boundary_f": 0.6767}
# Ceilings of its haze there: the target for the exterior (the project measures 0.83 %),
# the straightforward pipeline's figure for the interior (the project 1.62 %, the target of
# 0.5 % is below what the selfie segmentation alone reaches).
DEV_CEILINGS = {"exterior_haze": 0.02, "interior_haze": 0.0277}


def test_portraits_dev_quality_floors(matting_service):
    scores = []
    for _, image_path, truth in portraits(shared_data("portraits-dev")):
        alpha = decoded(matte(matting_service, image_path.read_bytes(), output="alpha"))
        scores.append(alpha_scores(alpha / 255.0, truth))
    result = summary(scores)
    assert result["images"] == 20
    for name, floor in DEV_FLOORS.items():
        assert result[name] >= floor, (name, result)
    for name, ceiling in DEV_CEILINGS.items():
        assert result[name] <= ceiling, (name, result)


def beach(height: int, width: int) -> bytes:
    """A warm picture background, brighter at the top, with texture (its light has a colour
    the astronaut's photo lacks), as PNG bytes."""
    rng = np.random.default_rng(5)
    rows = np.linspace(1.0, 0.6, height, dtype=np.float32)[:, None, None]
    picture = np.clip(rows * np.array([250, 190, 120]) + rng.normal(0, 12, (height, width, 3)),
                      0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def test_effects_are_applied_named_and_never_touch_a_transparent_result(matting_service,
                                                                        astronaut_png):
    chosen = {"harmonise": "1", "light_wrap": "0.5", "shadow": "0.6", "shadow_angle": "20"}
    picture = {"background": ("beach.png", beach(512, 512))}
    plain = matte(matting_service, astronaut_png, files=picture)
    shot = matte(matting_service, astronaut_png, files=picture, **chosen)
    assert plain.headers["X-Effects"] == "none"
    assert shot.headers["X-Effects"] == \
        "harmonise=1, light_wrap=0.5, shadow=0.6, shadow_angle=20"
    alpha = decoded(matte(matting_service, astronaut_png, output="alpha"))
    before, after = decoded(plain).astype(int), decoded(shot).astype(int)
    person = alpha == 255
    assert np.abs(after - before)[person].mean() > 1, "the person took the new light"
    assert np.array_equal(after[:40, :40], before[:40, :40]), "nothing far from the people"
    colour = matte(matting_service, astronaut_png, background="#3060a0", **chosen)
    # No light to take from a colour: only the shadow.
    assert colour.headers["X-Effects"] == "shadow=0.6, shadow_angle=20"
    for form in ({"background": "transparent"}, {"output": "cutout"}, {"output": "alpha"}):
        untouched = matte(matting_service, astronaut_png, **form)
        with_effects = matte(matting_service, astronaut_png, **form, **chosen)
        assert with_effects.headers["X-Effects"] == "none"
        assert with_effects.content == untouched.content, form


@pytest.mark.parametrize(("name", "value"), [("harmonise", "1.5"), ("light_wrap", "-0.1"),
                                             ("shadow", "x"), ("shadow_angle", "90")])
def test_effects_out_of_range_get_a_400_naming_them(matting_service, astronaut_png, name,
                                                    value):
    answer = matte(matting_service, astronaut_png, **{name: value})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_parameter"
    assert name in answer.json()["error"]["message"]

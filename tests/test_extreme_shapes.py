"""Extreme image shapes as a property: every answer is the right size or a 4xx JSON naming the
limit, and the services keep serving. Real service processes, both backend sets."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from background_replacement.compositing import cover
from background_replacement.fba import FBANet
from background_replacement.pipeline import OUTPUTS
from background_replacement.segmenters.maskrcnn import build_maskrcnn
from background_replacement.service_common.uploads import FORMAT_MAX_SIDE, MAX_IMAGE_SIDE
from tests.hostile import encoded

pytestmark = pytest.mark.slow

# The services under test take at most this many pixels, so that shapes just under and just over
# the pixel limit stay cheap; the side limits are the real ones.
MAX_PIXELS = 600_000
EXAMPLES = 20
SIDES = st.one_of(
    st.integers(1, MAX_IMAGE_SIDE + 1),
    st.integers(1, 64),
    st.sampled_from([1, 2, 3, 7, 8, 9, FORMAT_MAX_SIDE["webp"], FORMAT_MAX_SIDE["webp"] + 1,
                     32766, 32767, 32768, MAX_IMAGE_SIDE, MAX_IMAGE_SIDE + 1, 65535, 65536]),
)
BACKGROUNDS = ("green", "#2040ff", "blur", "transparent")
drawn: list[tuple[str, int, int, int]] = []  # backends, height, width, /matte's status


@st.composite
def shapes(draw) -> tuple[int, int]:
    """(height, width): any side from 1 to just over the side limit, the other side from 1 to
    just over what the pixel limit leaves it, either way round."""
    long_side = draw(SIDES)
    most = max(1, MAX_PIXELS // long_side)
    other = draw(st.one_of(st.integers(1, min(MAX_IMAGE_SIDE + 1, most * 5 // 4 + 1)),
                           st.sampled_from([1, 2, most, most + 1])))
    return (long_side, other) if draw(st.booleans()) else (other, long_side)


def refusal(height: int, width: int, fmt: str = "png",
            transparent: bool = False) -> tuple[int, str] | None:
    """The status and code a request must get, in the order the services check; None: 200."""
    if height * width > MAX_PIXELS:
        return 413, "too_many_pixels"
    if max(height, width) > MAX_IMAGE_SIDE:
        return 413, "image_side_too_large"
    if max(height, width) > FORMAT_MAX_SIDE[fmt]:
        return 422, "too_large_for_format"
    if transparent and fmt == "jpeg":
        return 400, "bad_parameter"
    return None


def drawn_trimap(height: int, width: int) -> np.ndarray:
    """Unknown over the middle half of each side, foreground over the middle of that."""
    trimap = np.zeros((height, width), np.uint8)
    rows = slice(height // 4, max(height // 4 + 1, 3 * height // 4))
    cols = slice(width // 4, max(width // 4 + 1, 3 * width // 4))
    trimap[rows, cols] = 128
    trimap[height * 3 // 8:max(height * 3 // 8 + 1, height * 5 // 8),
           width * 3 // 8:max(width * 3 // 8 + 1, width * 5 // 8)] = 255
    return trimap


def check(response: requests.Response, expected: tuple[int, str] | None,
          size: tuple[int, int], mode: str | tuple[str, ...]) -> None:
    """200 with an image of ``size`` (width, height) and ``mode`` (or one of several), or the
    expected 4xx JSON."""
    if expected is None:
        assert response.status_code == 200, response.text[:300]
        answer = Image.open(io.BytesIO(response.content))
        assert answer.size == size and answer.mode in ((mode,) if isinstance(mode, str) else mode)
    else:
        assert response.status_code == expected[0], response.text[:300]
        error = response.json()["error"]
        assert error["code"] == expected[1]
        if expected[0] == 413 or expected[1] == "too_large_for_format":
            assert any(str(n) in error["message"] for n in (MAX_PIXELS, MAX_IMAGE_SIDE,
                                                            FORMAT_MAX_SIDE["webp"]))


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    torch.save(build_maskrcnn().state_dict(), folder / "maskrcnn.pth")
    torch.save(FBANet().state_dict(), folder / "FBA.pth")
    return {"MASKRCNN_WEIGHTS": str(folder / "maskrcnn.pth"),
            "FBA_WEIGHTS": str(folder / "FBA.pth")}


@pytest.fixture(scope="module", params=["embedded", "design"])
def services(request, start_session_service, random_weights):
    """Both services with the embedded backends, or with Mask R-CNN and FBA (random weights)."""
    design = request.param == "design"
    limits = {"MAX_IMAGE_PIXELS": str(MAX_PIXELS), "THREADS": "1"}
    segmentation = start_session_service("segmentation_api", {
        **limits, "SEGMENTER": "maskrcnn" if design else "selfie", **random_weights})
    matting = start_session_service("matting_api", {
        **limits, "MATTER": "fba" if design else "closed-form", **random_weights,
        "SEGMENTATION_URL": segmentation.url})
    yield request.param, segmentation, matting
    for service in (matting, segmentation):
        service.stop()
    mine = [entry[1:] for entry in drawn if entry[0] == request.param]
    statuses = sorted({status for *_, status in mine})
    print(f"\n{request.param}: {len(mine)} shapes drawn, /matte statuses "
          f"{ {s: sum(1 for *_, t in mine if t == s) for s in statuses} }, "
          f"processed (200): {sorted((h, w) for h, w, t in mine if t == 200)}")


@pytest.fixture(scope="module")
def astronaut_rgb(astronaut_png) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("RGB"))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(shape=shapes(), output=st.sampled_from(OUTPUTS),
       fmt=st.sampled_from(["png", "jpeg", "webp"]), background=st.sampled_from(BACKGROUNDS),
       upload_trimap=st.booleans())
def test_every_shape_is_answered_and_the_services_keep_serving(
        services, astronaut_rgb, shape, output, fmt, background, upload_trimap):
    backends, segmentation, matting = services
    height, width = shape
    photo = encoded(Image.fromarray(cover(astronaut_rgb, height, width)), "PNG", compress_level=1)

    for route in ("/mask", "/trimap"):
        answer = requests.post(segmentation.url + route, files={"image": photo},
                               data={"allow_empty": "true"}, timeout=300)
        check(answer, refusal(height, width), (width, height), "L")

    transparent = output == "cutout" or (output == "composite" and background == "transparent")
    files = {"image": photo}
    if upload_trimap:
        files["trimap"] = encoded(Image.fromarray(drawn_trimap(height, width)), "PNG")
    answer = requests.post(matting.url + "/matte", files=files, timeout=300, data={
        "output": output, "format": fmt, "background": background, "if_no_person": "empty"})
    gray = output in ("alpha", "trimap") and fmt != "webp"  # WebP has no gray mode: RGB
    mode = "RGBA" if transparent else ("L" if gray else "RGB")
    if transparent and fmt == "webp":
        # libwebp leaves out an alpha plane that is opaque everywhere (a 1×1 cutout of an
        # uploaded all-foreground trimap): such a WebP decodes as RGB.
        mode = ("RGBA", "RGB")
    drawn.append((backends, height, width, answer.status_code))
    check(answer, refusal(height, width, fmt, transparent), (width, height), mode)

    # The next ordinary request is served as usual.
    small = encoded(Image.fromarray(cover(astronaut_rgb, 120, 160)), "JPEG")
    after = requests.post(matting.url + "/matte", files={"image": small}, timeout=120,
                          data={"if_no_person": "empty"})
    check(after, None, (160, 120), "RGB")
    assert segmentation.alive() and matting.alive()



def test_the_reported_1x100000_png(segmentation_service, matting_service, astronaut_png):
    """The upload that used to abort the segmentation process, with the default limits."""
    thin = encoded(Image.fromarray(np.full((100_000, 1, 3), 200, np.uint8)), "PNG")
    for url in (segmentation_service.url + "/trimap", matting_service.url + "/matte"):
        answer = requests.post(url, files={"image": thin}, timeout=60)
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["code"] == "image_side_too_large"
        assert "1×100000" in answer.json()["error"]["message"]
        assert str(MAX_IMAGE_SIDE) in answer.json()["error"]["message"]
    assert requests.post(segmentation_service.url + "/trimap", files={"image": astronaut_png},
                         timeout=60).status_code == 200
    assert requests.post(matting_service.url + "/matte", files={"image": astronaut_png},
                         timeout=120).status_code == 200

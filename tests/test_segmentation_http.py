"""The segmentation service as a real process on 127.0.0.1, with the embedded backend."""

import io

import numpy as np
import pytest
import requests
from PIL import Image

from background_replacement.service_common.settings import ServiceSettings

pytestmark = pytest.mark.slow


def post(service, path: str, files=None, data=None) -> requests.Response:
    return requests.post(service.url + path, files=files, data=data, timeout=60)


def as_array(response: requests.Response) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_astronaut_trimap(segmentation_service, astronaut_png):
    response = post(segmentation_service, "/trimap", files={"image": astronaut_png})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Segmenter"] == "selfie"
    assert int(response.headers["X-People-Count"]) == 1
    assert "segment;dur=" in response.headers["Server-Timing"]
    trimap = as_array(response)
    assert trimap.shape == (512, 512) and trimap.dtype == np.uint8
    assert set(np.unique(trimap)) <= {0, 128, 255}
    assert np.all(trimap[110:140, 210:240] == 255)  # the face
    assert np.all(trimap[:40, :40] == 0)  # the top-left corner


def test_mask_is_an_8_bit_probability_map(segmentation_service, astronaut_png):
    response = post(segmentation_service, "/mask", files={"image": astronaut_png})
    assert response.status_code == 200
    mask = as_array(response)
    assert mask.shape == (512, 512) and mask.dtype == np.uint8
    assert mask[125, 225] > 240 and mask[10, 10] < 15


def test_parameters_change_the_trimap(segmentation_service, astronaut_png):
    narrow = as_array(post(segmentation_service, "/trimap", files={"image": astronaut_png},
                           data={"dilate_iterations": "0", "erode_iterations": "0"}))
    wide = as_array(post(segmentation_service, "/trimap", files={"image": astronaut_png},
                         data={"dilate_iterations": "20", "erode_iterations": "20"}))
    assert np.count_nonzero(wide == 128) > np.count_nonzero(narrow == 128)


def test_no_person_is_422_unless_allowed(segmentation_service):
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (20, 90, 200)).save(buffer, format="PNG")
    empty_scene = buffer.getvalue()
    response = post(segmentation_service, "/trimap", files={"image": empty_scene})
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_person"
    allowed = post(segmentation_service, "/trimap", files={"image": empty_scene},
                   data={"allow_empty": "true"})
    assert allowed.status_code == 200 and allowed.headers["X-People-Count"] == "0"
    assert as_array(allowed).shape == (240, 320)


@pytest.mark.parametrize(("files", "data", "status", "code"), [
    ({"image": ("empty.png", b"")}, None, 400, "empty_upload"),
    ({"image": ("notes.png", b"this is a text file, not a picture\n" * 20)}, None, 415,
     "not_an_image"),
    ({"other": ("x.png", b"123")}, None, 400, "missing_field"),
    (None, {"image": "text"}, 400, "not_multipart"),
])
def test_bad_uploads_get_json_errors(segmentation_service, astronaut_png, files, data, status,
                                     code):
    response = post(segmentation_service, "/trimap", files=files, data=data)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert post(segmentation_service, "/trimap",
                files={"image": astronaut_png}).status_code == 200


def test_truncated_jpeg_then_service_keeps_serving(segmentation_service, astronaut_png):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(astronaut_png)).save(buffer, format="JPEG")
    truncated = buffer.getvalue()[:6000]
    response = post(segmentation_service, "/trimap", files={"image": ("a.jpg", truncated)})
    assert response.status_code == 400 and response.json()["error"]["code"] == "corrupt_image"
    assert segmentation_service.alive()
    assert post(segmentation_service, "/trimap",
                files={"image": astronaut_png}).status_code == 200


@pytest.mark.parametrize(("field", "value"), [("fg_threshold", "1.5"), ("kernel_size", "abc"),
                                              ("bg_threshold", "0.95"), ("dilate_iterations",
                                                                         "1000")])
def test_out_of_range_parameters_are_400(segmentation_service, astronaut_png, field, value):
    response = post(segmentation_service, "/trimap", files={"image": astronaut_png},
                    data={field: value})
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


def test_health_and_readiness(segmentation_service):
    assert requests.get(segmentation_service.url + "/healthz", timeout=5).json() == {
        "status": "ok", "max_in_flight": ServiceSettings().max_in_flight}
    ready = requests.get(segmentation_service.url + "/readyz", timeout=5).json()
    assert ready["segmenter"] == "selfie"
    missing = requests.get(segmentation_service.url + "/nothing", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

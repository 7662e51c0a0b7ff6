"""A corpus of hostile and broken requests against each service as a real process: each gets a
precise 4xx JSON error (never a 5xx), and the next valid request still succeeds."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pytest
import requests
from PIL import Image

from tests.hostile import (
    animated_gif,
    cmyk_jpeg,
    encoded,
    multipart,
    plain_scene,
    png_bomb,
    png_claiming,
    sixteen_bit_png,
)

pytestmark = pytest.mark.slow

PLAIN_PNG = encoded(plain_scene(), "PNG")
NOISE_PNG = encoded(Image.fromarray(
    np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)), "PNG")


@dataclass
class Case:
    """One request: multipart ``files``/``data``, or a raw ``body`` with its content type."""

    name: str
    status: int
    code: str | None = None
    files: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None
    method: str = "POST"

    def send(self, url: str) -> requests.Response:
        if self.body is not None:
            headers = {"Content-Type": self.content_type} if self.content_type else {}
            return requests.request(self.method, url, data=self.body, headers=headers,
                                    timeout=60)
        return requests.request(self.method, url, files=self.files or None,
                                data=self.data or None, timeout=60)


def image_cases(field_name: str = "image") -> list[Case]:
    """Cases about the uploaded image itself; the same for both services."""
    text = b"<html><body>not a picture</body></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    many_parts, many_type = multipart([(b"f%d" % i, None, b"x") for i in range(100)])
    odd_name, odd_type = multipart([(b"image", b"\xff\xfe\xfa.png", PLAIN_PNG)])
    broken_body, _ = multipart([(b"image", b"a.png", PLAIN_PNG)])
    return [
        Case("empty body", 400, "not_multipart", body=b""),
        Case("json body", 400, "not_multipart", body=b'{"image": [1, 2, 3]}',
             content_type="application/json"),
        Case("no fields", 400, "missing_field", body=b"--x--\r\n",
             content_type="multipart/form-data"),
        Case("missing image field", 400, "missing_field", files={"other": ("a.png", PLAIN_PNG)}),
        Case("image as a text field", 400, "bad_field", data={field_name: "not a file"},
             files={"unrelated": ("u.txt", b"u")}),
        Case("empty file", 400, "empty_upload", files={field_name: ("a.png", b"")}),
        Case("truncated jpeg", 400, "corrupt_image",
             files={field_name: ("a.jpg", encoded(Image.new("RGB", (300, 200), (9, 9, 9)),
                                                   "JPEG")[:400])}),
        Case("truncated png", 400, "corrupt_image",
             files={field_name: ("a.png", NOISE_PNG[:3000])}),
        Case("png signature only", 415, "not_an_image",
             files={field_name: ("a.png", b"\x89PNG\r\n\x1a\n")}),
        Case("header claims 50000x50000", 413, "too_many_pixels",
             files={field_name: ("big.png", png_claiming(50_000, 50_000))}),
        Case("zip bomb png", 413, "too_many_pixels", files={field_name: ("bomb.png", png_bomb())}),
        Case("svg named png", 415, "not_an_image", files={field_name: ("a.png", svg)}),
        Case("html named png", 415, "not_an_image", files={field_name: ("a.png", text)}),
        Case("text file", 415, "not_an_image", files={field_name: ("notes.txt", b"hello\n" * 50)}),
        Case("1x1 image", 422, "no_person",
             files={field_name: ("dot.png", encoded(Image.new("RGB", (1, 1)), "PNG"))}),
        Case("cmyk jpeg", 422, "no_person", files={field_name: ("cmyk.jpg", cmyk_jpeg())}),
        Case("16-bit png", 422, "no_person", files={field_name: ("deep.png", sixteen_bit_png())}),
        Case("animated gif (first frame used)", 422, "no_person",
             files={field_name: ("anim.gif", animated_gif())}),
        Case("non-utf-8 filename", 400, "missing_field", body=odd_name, content_type=odd_type),
        Case("multipart without its boundary", 400, "missing_field", body=broken_body,
             content_type="multipart/form-data"),
        Case("too many parts", 413, "too_large", body=many_parts, content_type=many_type),
        Case("huge text field", 413, "too_large", files={field_name: ("a.png", PLAIN_PNG)},
             data={"score_threshold": "0." + "5" * 2_000_000}),
        Case("GET on an upload path", 405, "method_not_allowed", method="GET"),
    ]


def parameter_cases(field_name: str = "image") -> list[Case]:
    """Out-of-range and malformed trimap parameters (both services)."""
    bad = [("fg_threshold", "2"), ("fg_threshold", "-0.1"), ("bg_threshold", "nan"),
           ("score_threshold", "inf"), ("score_threshold", "1e309"), ("kernel_size", "0"),
           ("kernel_size", "1000"), ("kernel_size", "2.5"), ("erode_iterations", "-1"),
           ("dilate_iterations", "abc"), ("bg_threshold", "0.95")]
    return [Case(f"{name}={value}", 400, "bad_parameter", data={name: value},
                 files={field_name: ("a.png", PLAIN_PNG)}) for name, value in bad]


def matting_cases() -> list[Case]:
    """Cases only the matting service has: backgrounds, outputs, formats, trimaps."""
    image = {"image": ("a.png", PLAIN_PNG)}
    cases = [Case(f"background {value!r}", 400, "bad_background", files=image,
                  data={"background": value})
             for value in ("../backgrounds/green", "../../etc/passwd", "/etc/passwd", "#12345",
                           "#gggggg", "reddish", "rgb(1,2,3)", "nosuch")]
    cases += [
        Case("unknown output", 400, "bad_parameter", files=image, data={"output": "hologram"}),
        Case("unknown format", 400, "bad_parameter", files=image, data={"format": "gif"}),
        Case("cutout as jpeg", 400, "bad_parameter", files=image,
             data={"output": "cutout", "format": "jpeg"}),
        Case("unknown if_no_person", 400, "bad_parameter", files=image,
             data={"if_no_person": "shrug"}),
        Case("background upload not an image", 415, "not_an_image",
             files={**image, "background": ("bg.png", b"not an image")}),
        Case("trimap upload not an image", 415, "not_an_image",
             files={**image, "trimap": ("t.png", b"%PDF-1.4")}),
        Case("trimap of another size", 400, "bad_trimap",
             files={**image, "trimap": ("t.png", encoded(Image.new("L", (5, 5)), "PNG"))}),
    ]
    return cases


SEGMENTATION_CASES = image_cases() + parameter_cases()
MATTING_CASES = image_cases() + parameter_cases() + matting_cases()


def check(response: requests.Response, case: Case) -> None:
    assert response.status_code == case.status, (case.name, response.status_code, response.text)
    error = response.json()["error"]
    assert error["message"] and len(error["message"]) > 10
    if case.code:
        assert error["code"] == case.code, (case.name, error)


def test_corpus_is_large_enough():
    assert len(SEGMENTATION_CASES) >= 30 and len(MATTING_CASES) >= 30


@pytest.mark.parametrize("case", SEGMENTATION_CASES, ids=lambda c: c.name)
def test_segmentation_refuses(segmentation_service, astronaut_png, case):
    check(case.send(segmentation_service.url + "/trimap"), case)
    valid = requests.post(segmentation_service.url + "/trimap",
                          files={"image": astronaut_png}, timeout=60)
    assert valid.status_code == 200 and segmentation_service.alive()


@pytest.fixture(scope="module")
def small_astronaut(astronaut_png) -> bytes:
    small = Image.open(io.BytesIO(astronaut_png)).convert("RGB").resize((160, 160))
    return encoded(small, "PNG")


@pytest.mark.parametrize("case", MATTING_CASES, ids=lambda c: c.name)
def test_matting_refuses(matting_service, small_astronaut, case):
    check(case.send(matting_service.url + "/matte"), case)
    valid = requests.post(matting_service.url + "/matte", files={"image": small_astronaut},
                          timeout=60)
    assert valid.status_code == 200 and matting_service.alive()

"""Only the documented formats are decoded; every other picture gets 415 before decoding."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from background_replacement.service_common.uploads import INPUT_FORMATS, INPUT_FORMATS_TEXT

# Formats Pillow reads but the services do not, as Pillow writes them (format, save options).
UNDOCUMENTED = [("ICO", {}), ("TGA", {}), ("PCX", {}), ("SGI", {}), ("DDS", {}), ("PPM", {}),
                ("QOI", {}), ("JPEG2000", {}), ("XBM", {}), ("EPS", {}),
                ("PSD", None), ("MSP", {})]


def picture(fmt: str, **options) -> bytes:
    mode = {"XBM": "1", "MSP": "1"}.get(fmt, "RGB")
    image = Image.new(mode, (64, 48), 1 if mode == "1" else (200, 60, 30))
    buffer = io.BytesIO()
    if fmt == "HEIF":  # pi-heif only decodes; the dev extra's pillow-heif encodes
        pytest.importorskip("pillow_heif").from_pillow(image).save(buffer, **options)
    else:
        image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def undocumented_pictures() -> list[tuple[str, bytes]]:
    pictures = []
    for fmt, options in UNDOCUMENTED:
        if options is None:  # Pillow reads it but cannot write it: its signature is enough
            pictures.append((fmt, b"8BPS\x00\x01" + b"\x00" * 20))
            continue
        pictures.append((fmt, picture(fmt, **options)))
    return pictures


def test_the_documented_formats_are_named_once():
    assert list(INPUT_FORMATS) == ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF"]
    assert INPUT_FORMATS_TEXT == "PNG, JPEG, WebP, GIF, BMP, TIFF, HEIC/HEIF or AVIF"


@pytest.mark.parametrize(("fmt", "data"), undocumented_pictures(),
                         ids=[fmt for fmt, _ in UNDOCUMENTED])
def test_undocumented_formats_get_415(segmentation_service, matting_service, fmt, data):
    for url, field in ((segmentation_service.url + "/trimap", "image"),
                       (matting_service.url + "/matte", "image"),
                       (matting_service.url + "/v1.0/removebg", "image_file")):
        answer = requests.post(url, files={field: data}, timeout=60)
        expected = 400 if "removebg" in url else 415  # remove.bg answers 400 for any input
        assert answer.status_code == expected, (url, answer.text[:200])
        assert "invalid_file_type" in answer.text or "not_an_image" in answer.text
    # Nothing it carries reaches a loader: the service still answers.
    assert requests.get(matting_service.url + "/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("fmt", list(INPUT_FORMATS))
def test_documented_formats_are_read(segmentation_service, fmt):
    data = picture(fmt)
    answer = requests.post(segmentation_service.url + "/mask", files={"image": data},
                           timeout=60)
    assert answer.status_code in (200, 422), answer.text[:200]  # read; a plain colour has nobody

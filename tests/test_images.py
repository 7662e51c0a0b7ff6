"""Decoding of uploads: orientation, modes, limits checked before decoding."""

import io

import numpy as np
import pytest
from PIL import Image

from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.uploads import decode_image, encode_image
from tests.hostile import png_claiming

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 5_000_000}


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = decode_image(encoded(image, "JPEG", exif=exif, quality=95), **LIMITS)
    assert decoded.rgb.shape == (40, 20, 3)
    assert decoded.rgb[:15].mean() > 200 and decoded.rgb[25:].mean() < 50  # white on top


def test_grayscale_becomes_rgb():
    decoded = decode_image(encoded(Image.new("L", (8, 6), 77)), **LIMITS)
    assert decoded.rgb.shape == (6, 8, 3) and np.all(decoded.rgb == 77)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    samples = np.full((4, 5), 40_000, np.uint16)
    decoded = decode_image(encoded(Image.fromarray(samples)), **LIMITS)
    assert np.all(decoded.rgb == 40_000 >> 8)


def test_rgba_keeps_its_alpha():
    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 51
    decoded = decode_image(encoded(Image.fromarray(rgba)), **LIMITS)
    assert np.all(decoded.rgb[..., 0] == 200)
    assert decoded.alpha is not None and np.allclose(decoded.alpha, 0.2)


def test_palette_and_cmyk_decode_to_rgb():
    palette = Image.new("RGB", (6, 6), (10, 120, 240)).convert("P", palette=Image.ADAPTIVE)
    assert tuple(decode_image(encoded(palette), **LIMITS).rgb[0, 0]) == (10, 120, 240)
    cmyk = Image.new("CMYK", (6, 6), (0, 0, 0, 0))
    assert decode_image(encoded(cmyk, "JPEG"), **LIMITS).rgb.min() > 250


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    rgb = decode_image(data, **LIMITS).rgb
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 2] < 50


def test_pixel_limit_is_checked_from_the_header():
    with pytest.raises(ApiError) as error:
        decode_image(png_claiming(50_000, 50_000), **LIMITS)
    assert error.value.status == 413 and "50000×50000" in error.value.message


def test_byte_limit():
    with pytest.raises(ApiError) as error:
        decode_image(b"x" * 101, max_bytes=100, max_pixels=10)
    assert error.value.status == 413


@pytest.mark.parametrize(("data", "status"), [(b"", 400), (b"hello, not an image", 415),
                                              (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415)])
def test_not_images(data, status):
    with pytest.raises(ApiError) as error:
        decode_image(data, **LIMITS)
    assert error.value.status == status


def test_truncated_jpeg_is_a_client_error():
    data = encoded(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(ApiError) as error:
        decode_image(data[: len(data) // 2], **LIMITS)
    assert error.value.status == 400


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_encode_round_trip_keeps_size(fmt):
    pixels = np.random.default_rng(0).integers(0, 255, (13, 17, 3), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(encode_image(pixels, fmt))))
    assert back.shape == pixels.shape
    if fmt == "png":
        assert np.array_equal(back, pixels)

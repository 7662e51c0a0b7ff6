"""Photos with a colour profile (an iPhone's Display P3, Adobe RGB, …) are read in sRGB, the
space every result is written in: the result looks like the photo did, whatever the profile."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image, ImageCms

from background_replacement.images import load_photo
from testing.icc import wide_gamut_profile
from tests.conftest import EXAMPLES

WIDE = wide_gamut_profile()
WIDE_PROFILE = ImageCms.ImageCmsProfile(io.BytesIO(WIDE))
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
SAVE_OPTIONS = {"PNG": {}, "JPEG": {"quality": 100, "subsampling": 0},
                "WEBP": {"lossless": True}, "TIFF": {}, "AVIF": {"quality": 100},
                "HEIF": {"quality": 100}}
# Mean levels the saturated pixels may differ from the original after the round trip: the
# conversion's rounding, and the coding loss of the formats an iPhone writes.
TOLERANCE = {"HEIF": 3.0, "AVIF": 3.0}


def astronaut() -> Image.Image:
    with Image.open(EXAMPLES / "astronaut.png") as image:
        return image.convert("RGB")


def in_wide_gamut(image: Image.Image) -> Image.Image:
    """The same colours as ``image`` (sRGB), expressed in the wide-gamut profile's numbers."""
    return ImageCms.profileToProfile(image, SRGB, WIDE_PROFILE,
                                     renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                     outputMode=image.mode)


def encoded(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    image = image.copy()
    image.info.pop("icc_profile", None)  # the conversion leaves its output profile there
    buffer = io.BytesIO()
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif", reason="the dev extra makes HEIC files")
        heif = pillow_heif.from_pillow(image)
        if icc:
            heif.info["icc_profile"] = icc
        heif.save(buffer, **SAVE_OPTIONS[fmt])
        return buffer.getvalue()
    extra = {"icc_profile": icc} if icc else {}
    image.save(buffer, format=fmt, **SAVE_OPTIONS[fmt], **extra)
    return buffer.getvalue()


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def saturated(rgb: np.ndarray) -> np.ndarray:
    """Where the colours are strong (channels over 60 levels apart): where profiles differ
    most; greys read alike in any of them."""
    return (rgb.max(axis=2).astype(int) - rgb.min(axis=2)) > 60


@pytest.mark.parametrize("fmt", list(SAVE_OPTIONS))
def test_a_photo_in_another_profile_is_read_as_it_looks(fmt):
    original = astronaut()
    wide = in_wide_gamut(original)
    tagged = load_photo(encoded(wide, fmt, WIDE)).rgb
    untagged = load_photo(encoded(wide, fmt, None)).rgb
    assert mean_difference(untagged, np.asarray(wide)) < TOLERANCE.get(fmt, 1.0), \
        "no profile: the pixels as stored"
    strong = saturated(np.asarray(original))
    assert mean_difference(untagged[strong], np.asarray(original)[strong]) > 8, \
        "the profile changes the numbers"
    assert mean_difference(tagged[strong], np.asarray(original)[strong]) \
        < TOLERANCE.get(fmt, 1.5), "converted back to sRGB"


def test_an_alpha_channel_is_kept_through_the_conversion():
    original = astronaut().convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, original.width, dtype=np.uint8), (original.height, 1))
    original.putalpha(Image.fromarray(alpha))
    photo = load_photo(encoded(in_wide_gamut(original), "PNG", WIDE))
    assert photo.alpha is not None
    assert np.abs(photo.alpha * 255 - alpha).max() < 0.51, "alpha untouched by the profile"
    assert mean_difference(photo.rgb, np.asarray(original)[:, :, :3]) < 1.5


def test_an_srgb_profile_or_a_broken_one_leaves_the_pixels_as_stored():
    stored = astronaut()
    srgb_icc = SRGB.tobytes()
    for icc in (srgb_icc, b"not a colour profile at all"):
        decoded = load_photo(encoded(stored, "PNG", icc)).rgb
        assert np.array_equal(decoded, np.asarray(stored)), icc[:20]


@pytest.mark.slow
def test_the_service_answers_in_the_colours_the_photo_had(matting_service):
    """The same photo, once in sRGB and once in the wide-gamut profile, gives the same cutout
    over HTTP; the wide-gamut numbers read without their profile would not."""
    original = astronaut()
    wide = in_wide_gamut(original)

    def cutout(data: bytes) -> np.ndarray:
        response = requests.post(matting_service.url + "/matte", files={"image": data},
                                 data={"output": "cutout"}, timeout=120)
        assert response.status_code == 200, response.text
        return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))

    reference = cutout(encoded(original, "PNG", None))
    tagged = cutout(encoded(wide, "JPEG", WIDE))
    untagged = cutout(encoded(wide, "JPEG", None))
    person = (reference[:, :, 3] > 250) & (tagged[:, :, 3] > 250) & (untagged[:, :, 3] > 250)
    assert person.mean() > 0.1, "the astronaut is found in all three"
    person &= saturated(np.asarray(original))
    assert person.sum() > 1000, "the flag, the badges: strong colours on the person"
    assert mean_difference(tagged[person, :3], reference[person, :3]) < 2.0
    assert mean_difference(untagged[person, :3], reference[person, :3]) > 6.0, \
        "the test photo's colours do depend on the profile"

"""Safe decoding of uploaded images and encoding of results.

Every image leaves ``decode_image`` as RGB uint8 H×W×3 with EXIF orientation applied, plus the
input's own alpha channel (float32 H×W in [0, 1]) when it had one. Limits on bytes and pixels are
checked before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from service_common.errors import ApiError

# Pillow's own bomb guard would fire on our pixel limit's multiples; we check the header ourselves.
Image.MAX_IMAGE_PIXELS = None

ENCODE_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"),
                  "webp": ("WEBP", "image/webp")}


@dataclass(frozen=True)
class DecodedImage:
    """An uploaded image: ``rgb`` uint8 H×W×3 and, if the upload had one, ``alpha`` float32 H×W."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    format: str


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale a 16- or 32-bit integer or float single-channel array to uint8."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        peak = 1.0 if array.size and float(np.nanmax(array)) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(array) * (255.0 / peak), 0, 255).round().astype(np.uint8)
    # Integer modes ("I;16", "I") hold 16-bit samples.
    return np.clip(array.astype(np.int64) >> 8, 0, 255).astype(np.uint8)


def _pixels(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert any Pillow mode to (RGB uint8, alpha float32 or None)."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = _to_uint8(np.asarray(image))
        return np.repeat(gray[:, :, None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode == "P" and "transparency" in image.info
    ) or (mode in ("L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[:, :, 3].astype(np.float32) / 255.0
        return np.ascontiguousarray(rgba[:, :, :3]), alpha
    return np.asarray(image.convert("RGB")), None


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int,
                 field: str = "image") -> DecodedImage:
    """Decode uploaded bytes into RGB uint8 H×W×3 (orientation applied) and optional alpha.

    Raises ``ApiError``: 400 empty or corrupt, 413 over ``max_bytes`` or ``max_pixels`` (read from
    the header, before decoding), 415 not an image.
    """
    if not data:
        raise ApiError(400, "empty_upload", f"The '{field}' upload is empty.")
    if len(data) > max_bytes:
        raise ApiError(413, "too_large",
                       f"The '{field}' upload has {len(data)} bytes; the limit is {max_bytes}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ApiError(415, "not_an_image",
                       f"The '{field}' upload is not an image this service can read "
                       "(PNG, JPEG, WebP, GIF, BMP or TIFF).") from None
    except Exception as exc:  # Pillow raises many types on hostile headers.
        raise ApiError(400, "corrupt_image",
                       f"The '{field}' image cannot be read: {exc}.") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise ApiError(400, "corrupt_image", f"The '{field}' image has no pixels.")
    if width * height > max_pixels:
        raise ApiError(413, "too_many_pixels",
                       f"The '{field}' image is {width}×{height} = {width * height} pixels; "
                       f"the limit is {max_pixels}.")
    source_format = (image.format or "unknown").lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.seek(0)  # An animated image is read as its first frame.
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb, alpha = _pixels(image)
    except Exception as exc:
        raise ApiError(400, "corrupt_image",
                       f"The '{field}' image is truncated or corrupt: {exc}.") from None
    return DecodedImage(rgb=np.ascontiguousarray(rgb), alpha=alpha, format=source_format)


def encode_image(pixels: np.ndarray, fmt: str, *, quality: int = 92) -> bytes:
    """Encode uint8 H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA) as ``fmt`` (png, jpeg, webp)."""
    if fmt not in ENCODE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    pil_format, _ = ENCODE_FORMATS[fmt]
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    if pil_format == "PNG":
        image.save(buffer, format="PNG", compress_level=1)
    elif pil_format == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="WEBP", quality=quality)
    return buffer.getvalue()


def mimetype(fmt: str) -> str:
    """The MIME type of an encode format name."""
    return ENCODE_FORMATS[fmt][1]

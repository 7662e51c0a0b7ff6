"""Safe decoding of uploaded images and encoding of results, and the size limits they enforce.

Every image leaves ``decode_image`` as RGB uint8 H×W×3 with EXIF orientation applied, plus the
input's own alpha channel (float32 H×W in [0, 1]) when it had one. Limits on bytes, pixels and
sides are checked before any pixel is decoded.

Native limits on the request path, found by running every stage on extreme shapes (1×1 to
1×100000, just under and just over each number below), and what the services do about each:

- libjpeg writes at most 65500 pixels a side (its JPEG_MAX_DIMENSION; above it Pillow raises
  "broken data stream"): ``MAX_IMAGE_SIDE`` refuses larger sides with 413 before decoding, so
  every accepted image can also be answered as JPEG.
- The WebP encoder holds at most 16383 a side: ``check_encodable`` answers 422 before any work.
- MediaPipe's selfie graph (OpenCV ``remap``) needs every side under 32767 and aborts the whole
  process above it; torchvision's detection transform makes a side of 0 pixels when the long side
  is more than max_size/min_size times the short one. Segmenters therefore only ever see a copy
  at most ``SEGMENT_MAX_SIDE`` a side, padded to at most ``SEGMENT_MAX_ASPECT`` : 1
  (background_replacement.pipeline), and the probability comes back at the input's size.
- Closed-form matting's 3×3 windows make its system singular on a side under 3 pixels: matters
  work on a crop padded to ``MIN_SOLVE_SIDE`` (background_replacement.matters.base). FBA pads
  its sides to multiples of 8 itself, at any size.
- ``cover`` crops a background before scaling it (scaling first allocated the whole scaled
  picture: 40 GB for a 1×100000 photo).
- OpenCV's morphology, resize, guided filter and Gaussian blur, and the PNG codec, met no limit
  up to 100000 pixels a side. Pillow's own bomb guard is replaced by ``max_pixels``, read from
  the header.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from background_replacement.images import (  # noqa: F401  (encoding is the core's; named here too)
    ENCODE_FORMATS,
    FORMAT_MAX_SIDE,
    INPUT_FORMATS,
    INPUT_FORMATS_TEXT,
    Photo,
    encode_image,
    photo_from_pil,
)
from background_replacement.service_common.errors import ApiError

# Pillow's own bomb guard would fire on our pixel limit's multiples; we check the header ourselves.
Image.MAX_IMAGE_PIXELS = None

# The largest side any upload may have: JPEG's, so every accepted image can also be answered as
# JPEG; the pixel limit (MAX_IMAGE_PIXELS) applies as well.
MAX_IMAGE_SIDE = FORMAT_MAX_SIDE["jpeg"]


@dataclass(frozen=True)
class DecodedImage(Photo):
    """An uploaded image: a ``Photo`` and the ``format`` it came in."""

    format: str = "unknown"


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int, field: str = "image",
                 charge: Callable[[int], None] | None = None) -> DecodedImage:
    """Decode uploaded bytes into RGB uint8 H×W×3 (orientation applied) and optional alpha.

    Raises ``ApiError``: 400 empty or corrupt, 413 over ``max_bytes``, ``max_pixels`` or
    ``MAX_IMAGE_SIDE`` (read from the header, before decoding), 415 not an image in one of
    ``INPUT_FORMATS``. ``charge`` is told the pixel count once the header passed, before
    decoding; it may raise to refuse them.
    """
    if not data:
        raise ApiError(400, "empty_upload", f"The '{field}' upload is empty.")
    if len(data) > max_bytes:
        raise ApiError(413, "too_large",
                       f"The '{field}' upload has {len(data)} bytes; the limit is {max_bytes}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data), formats=tuple(INPUT_FORMATS))
    except UnidentifiedImageError:
        raise ApiError(415, "not_an_image",
                       f"The '{field}' upload is not an image this service can read "
                       f"({INPUT_FORMATS_TEXT}).") from None
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
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ApiError(413, "image_side_too_large",
                       f"The '{field}' image is {width}×{height}; no side may be over "
                       f"{MAX_IMAGE_SIDE} pixels.")
    if charge is not None:
        charge(width * height)
    source_format = (image.format or "unknown").lower()
    try:
        photo = photo_from_pil(image)  # it silences Pillow's warnings itself
    except Exception as exc:
        raise ApiError(400, "corrupt_image",
                       f"The '{field}' image is truncated or corrupt: {exc}.") from None
    return DecodedImage(rgb=photo.rgb, alpha=photo.alpha, format=source_format)


def check_encodable(height: int, width: int, fmt: str) -> None:
    """Raise ``ApiError`` 422 when an image of height×width cannot be written as ``fmt``."""
    limit = FORMAT_MAX_SIDE[fmt]
    if max(height, width) > limit:
        raise ApiError(422, "too_large_for_format",
                       f"A {fmt.upper()} image can have at most {limit} pixels per side; this one "
                       f"is {width}×{height}. Ask for format png.")


def mimetype(fmt: str) -> str:
    """The MIME type of an encode format name."""
    return ENCODE_FORMATS[fmt][1]

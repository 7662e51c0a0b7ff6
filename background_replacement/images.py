"""Any image a caller has → ``Photo``: RGB uint8 H×W×3 in sRGB (an embedded colour profile
converted) with EXIF orientation applied, and the image's own alpha channel (float32 H×W in
[0, 1]) when it has one. The services decode uploads
with the same conversion, after checking their limits; results are encoded here for all
(``encode_image``)."""

from __future__ import annotations

import functools
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pi_heif
from PIL import Image, ImageCms, ImageOps

log = logging.getLogger(__name__)

# HEIC/HEIF through pi-heif (libheif and libde265, LGPL; decoding only). Pillow reads AVIF
# itself (its wheels bundle libavif).
pi_heif.register_heif_opener()

# The formats a photo may come in, declared once: Pillow's name → the name people know. The
# services decode nothing else (Pillow would also open ICO, TGA, PCX, EPS through Ghostscript,
# …); README, OpenAPI, the page and the 415 message name these.
INPUT_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP",
                 "TIFF": "TIFF", "HEIF": "HEIC/HEIF", "AVIF": "AVIF"}
INPUT_FORMATS_TEXT = ", ".join(list(INPUT_FORMATS.values())[:-1]) \
    + f" or {list(INPUT_FORMATS.values())[-1]}"
# Suffixes of the image files a path may name (a picture, not a video): those Pillow registers
# for the formats above (.heic, .avif, .jpg, …).
IMAGE_SUFFIXES = frozenset(suffix for suffix, name in Image.registered_extensions().items()
                           if name in INPUT_FORMATS)

ImageSource = str | Path | bytes | Image.Image | np.ndarray
# What the Python API answers, in the kind of what it was given (``answer_in_kind``).
Answer = np.ndarray | Image.Image | bytes | Path

# What results are encoded as: format name → (Pillow's name, MIME type).
ENCODE_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"),
                  "webp": ("WEBP", "image/webp")}
# The encode format a result file's suffix asks for.
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
# Formats whose results keep an alpha channel.
ALPHA_FORMATS = ("png", "webp")
# The largest side each output format can hold (libjpeg's and libwebp's limits; PNG's is far
# above any side accepted).
FORMAT_MAX_SIDE = {"png": 2**31 - 1, "jpeg": 65500, "webp": 16383}


@dataclass(frozen=True)
class Photo:
    """``rgb`` uint8 H×W×3 and, if the image had one, its ``alpha`` float32 H×W in [0, 1]."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None


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


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def in_srgb(image: Image.Image) -> Image.Image:
    """``image`` with its colours converted from its embedded ICC profile to sRGB (relative
    colorimetric), so that its pixels look as the photo did once written without a profile
    (results are untagged, which viewers read as sRGB): an iPhone's Display P3, Adobe RGB, a
    CMYK JPEG's press profile. As it is where it has no profile, an sRGB one, a mode without
    colours to convert (gray, palette), or a profile LittleCMS cannot use."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return image
        return ImageCms.profileToProfile(
            image, profile, _srgb(), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGBA" if image.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("colour profile ignored, pixels read as stored: %s", exc)
        return image


def photo_from_pil(image: Image.Image) -> Photo:
    """The first frame of an opened Pillow image, decoded, upright, in sRGB, as a ``Photo``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image.seek(0)  # An animated image is read as its first frame.
        image.load()
        image = in_srgb(ImageOps.exif_transpose(image))
        rgb, alpha = _pixels(image)
    return Photo(np.ascontiguousarray(rgb), alpha)


def photo_from_array(pixels: np.ndarray) -> Photo:
    """RGB uint8 H×W×3 as it is, or RGBA uint8 H×W×4 split into colours and alpha."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB uint8 H×W×3 (or RGBA H×W×4) array, got "
                         f"{pixels.dtype} {pixels.shape}")
    if pixels.shape[2] == 3:
        return Photo(np.ascontiguousarray(pixels))
    return Photo(np.ascontiguousarray(pixels[:, :, :3]), pixels[:, :, 3].astype(np.float32) / 255)


def load_photo(source: ImageSource) -> Photo:
    """A ``Photo`` from a path, encoded bytes, a Pillow image or an RGB(A) uint8 array."""
    if isinstance(source, np.ndarray):
        return photo_from_array(source)
    if isinstance(source, Image.Image):
        return photo_from_pil(source)
    if isinstance(source, bytes):
        with Image.open(io.BytesIO(source)) as image:
            return photo_from_pil(image)
    if isinstance(source, str | Path):
        with Image.open(Path(source).expanduser()) as image:
            return photo_from_pil(image)
    raise TypeError(f"cannot read an image from a {type(source).__name__}")


def encode_image(pixels: np.ndarray, fmt: str, *, quality: int = 92) -> bytes:
    """Encode uint8 H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA) as ``fmt`` (png, jpeg, webp)."""
    if fmt not in ENCODE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if max(pixels.shape[:2]) > FORMAT_MAX_SIDE[fmt]:
        raise ValueError(f"{fmt} cannot hold a side over {FORMAT_MAX_SIDE[fmt]} pixels")
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


def format_of_suffix(path: Path) -> str:
    """The encode format a result file's suffix asks for; ``ValueError`` for another one."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format from {path.name!r}; end it in "
                         f"{', '.join(SUFFIX_FORMATS)}")
    return fmt


def format_of_bytes(data: bytes, pixels: np.ndarray) -> str:
    """The encode format for a result made from encoded ``data``: the same format where it can
    be written and holds ``pixels`` (PNG for an alpha channel a JPEG cannot hold), else PNG."""
    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "").lower()
    if fmt not in ENCODE_FORMATS or (pixels.ndim == 3 and pixels.shape[2] == 4
                                     and fmt not in ALPHA_FORMATS):
        return "png"
    return fmt


def answer_in_kind(source: ImageSource, pixels: np.ndarray,
                   save_as: str | Path | None = None) -> Answer:
    """Result ``pixels`` (uint8 H×W, H×W×3 or H×W×4) in the kind of ``source``: an array for an
    array, encoded bytes for bytes (``format_of_bytes``), a Pillow image for a Pillow image or a
    path. With ``save_as``, written there instead (format from its suffix) and that path."""
    if save_as is not None:
        path = Path(save_as).expanduser()
        path.write_bytes(encode_image(pixels, format_of_suffix(path)))
        return path
    if isinstance(source, np.ndarray):
        return pixels
    if isinstance(source, bytes):
        return encode_image(pixels, format_of_bytes(source, pixels))
    return Image.fromarray(pixels)

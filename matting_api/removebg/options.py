"""remove.bg's request parameters, parsed from a mapping of text fields (pure functions).

Every refusal is an ``ApiError`` with status 400 and remove.bg's own error code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from background_replacement.background import parse_colour
from background_replacement.matting_api.removebg.geometry import NO_MARGINS, Length, Margins
from background_replacement.service_common.errors import ApiError

# Output size caps in megapixels; None: the input's own size, within the service's limits.
SIZES: dict[str, float | None] = {
    "preview": 0.25, "small": 0.25, "regular": 0.25, "medium": 1.5, "hd": 4.0,
    "full": None, "4k": None, "50mp": None, "auto": None}
DEFAULT_SIZE = "preview"
TYPES = ("auto", "person")  # what the segmenter finds: people
REFUSED_TYPES = ("car", "product", "animal", "graphic", "transportation")
TYPE_LEVELS = ("none", "1", "2", "latest")
FORMATS = ("auto", "png", "jpg", "zip")
CHANNELS = ("rgba", "alpha")
SHADOW_METHODS = ("legacy", "latest")
DETECTED_TYPE = "person"
# The largest crop margin on each side.
MAX_MARGIN = {"px": 500.0, "%": 50.0}
SCALE_RANGE = (10.0, 100.0)
# Fields that name a URL: this service never fetches one.
URL_FIELDS = {"image_url": "image_file or image_file_b64", "bg_image_url": "bg_image_file"}
# Accepted booleans, validated and without effect here (see README).
IGNORED_FLAGS = ("semitransparency",)

_HEX = re.compile(r"^#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_LENGTH = re.compile(r"^(\d+(?:\.\d+)?)(px|%)?$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class RemoveBgOptions:
    """A validated request's options (the image and background upload are read elsewhere)."""

    max_megapixels: float | None = SIZES[DEFAULT_SIZE]
    type_level: str = "1"
    format: str = "auto"
    channels: str = "rgba"
    bg_color: tuple[int, int, int, int] | None = None
    crop: bool = False
    crop_margin: Margins = NO_MARGINS
    scale: float | None = None
    position: tuple[float, float] | None = None
    roi: tuple[Length, Length, Length, Length] | None = None
    add_shadow: bool = False  # over a background colour or picture only


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _choice(fields: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (fields.get(name) or default).strip().lower()
    if value not in allowed:
        raise _bad(f"invalid_{name}", f"'{name}' must be one of {', '.join(allowed)}; "
                   f"got {value[:40]!r}.")
    return value


def parse_flag(fields: Mapping[str, str], name: str, default: bool) -> bool:
    """true/false (also 1/0); 400 ``invalid_<name>`` otherwise."""
    raw = (fields.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise _bad(f"invalid_{name}", f"'{name}' must be true or false; got {raw[:40]!r}.")


def parse_bg_color(text: str) -> tuple[int, int, int, int]:
    """A hex colour of 3, 4, 6 or 8 digits (``#`` optional; the 4th and 8th give alpha) or a CSS
    colour name → RGBA; raises ``ValueError``. The colour itself is read by the core's grammar."""
    text = text.strip()
    alpha = 255
    match = _HEX.match(text)
    if match:
        digits = match.group(1)
        if len(digits) in (4, 8):  # the last digit or pair is alpha
            step = len(digits) // 4
            alpha = int(digits[-step:] * (2 // step), 16)
            digits = digits[:-step]
        text = "#" + digits
    colour = parse_colour(text) if text else None
    if colour is None:
        raise ValueError(f"{text[:40]!r} is neither a hex colour nor a colour name")
    return (*colour, alpha)


def parse_length(token: str) -> Length:
    """``30px``, ``10%`` or a bare number of pixels; raises ``ValueError``."""
    match = _LENGTH.match(token.strip().lower())
    if not match:
        raise ValueError(f"{token[:20]!r} is not a length such as 30px or 10%")
    return Length(float(match.group(1)), match.group(2) or "px")


def parse_margins(text: str) -> Margins:
    """One, two (top/bottom, left/right) or four (top, right, bottom, left) lengths, each at
    most ``MAX_MARGIN``; raises ``ValueError``."""
    lengths = [parse_length(token) for token in text.split()]
    if len(lengths) not in (1, 2, 4):
        raise ValueError("give one, two or four lengths")
    for length in lengths:
        if length.value > MAX_MARGIN[length.unit]:
            raise ValueError(f"a margin is at most {MAX_MARGIN['px']:g}px or "
                             f"{MAX_MARGIN['%']:g}%")
    if len(lengths) == 1:
        lengths *= 4
    elif len(lengths) == 2:
        lengths *= 2
    return Margins(*lengths)


def parse_scale(text: str) -> float | None:
    """``original`` → None, ``10%`` to ``100%`` → 0.1 to 1; raises ``ValueError``."""
    text = text.strip().lower()
    if text == "original":
        return None
    match = _PERCENT.match(text)
    if not match or not SCALE_RANGE[0] <= float(match.group(1)) <= SCALE_RANGE[1]:
        raise ValueError(f"use 'original' or {SCALE_RANGE[0]:g}% to {SCALE_RANGE[1]:g}%")
    return float(match.group(1)) / 100.0


def parse_position(text: str) -> tuple[float, float] | None:
    """``original`` → None, ``center`` → (0.5, 0.5), ``x%`` or ``x% y%`` (0 to 100) →
    fractions; raises ``ValueError``."""
    text = text.strip().lower()
    if text == "original":
        return None
    if text == "center":
        return (0.5, 0.5)
    parts = text.split()
    matches = [_PERCENT.match(part) for part in parts]
    if len(parts) not in (1, 2) or not all(matches):
        raise ValueError("use 'original', 'center', 'x%' or 'x% y%'")
    values = [float(m.group(1)) / 100.0 for m in matches]  # type: ignore[union-attr]
    if any(v > 1.0 for v in values):
        raise ValueError("a position is 0% to 100%")
    return (values[0], values[-1])


def parse_roi(text: str) -> tuple[Length, Length, Length, Length]:
    """``x1 y1 x2 y2``, each in px or %; raises ``ValueError``."""
    lengths = [parse_length(token) for token in text.split()]
    if len(lengths) != 4:
        raise ValueError("give four lengths: x1 y1 x2 y2")
    return tuple(lengths)  # type: ignore[return-value]


def _parsed(fields: Mapping[str, str], name: str, parse, default):
    raw = fields.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise _bad(f"invalid_{name}", f"Invalid '{name}' {raw[:60]!r}: {exc}.") from None


def parse_options(fields: Mapping[str, str]) -> RemoveBgOptions:
    """Validate every option remove.bg documents; refuse URLs and foreground types other than
    people."""
    for name, instead in URL_FIELDS.items():
        if (fields.get(name) or "").strip():
            raise _bad(f"{name}_not_supported", f"This server never fetches URLs: send the "
                       f"image as {instead} instead of '{name}'.")
    size = _choice(fields, "size", tuple(SIZES), DEFAULT_SIZE)
    kind = (fields.get("type") or "auto").strip().lower()
    if kind in REFUSED_TYPES:
        raise _bad("unsupported_type", f"This server finds people only: use type=person or "
                   f"type=auto, not {kind!r}.")
    _choice(fields, "type", TYPES, "auto")
    _choice(fields, "shadow_method", SHADOW_METHODS, "latest")
    for name in IGNORED_FLAGS:
        parse_flag(fields, name, name == "semitransparency")
    return RemoveBgOptions(
        max_megapixels=SIZES[size],
        type_level=_choice(fields, "type_level", TYPE_LEVELS, "1"),
        format=_choice(fields, "format", FORMATS, "auto"),
        channels=_choice(fields, "channels", CHANNELS, "rgba"),
        bg_color=_parsed(fields, "bg_color", parse_bg_color, None),
        crop=parse_flag(fields, "crop", False),
        crop_margin=_parsed(fields, "crop_margin", parse_margins, NO_MARGINS),
        scale=_parsed(fields, "scale", parse_scale, None),
        position=_parsed(fields, "position", parse_position, None),
        roi=_parsed(fields, "roi", parse_roi, None),
        add_shadow=parse_flag(fields, "add_shadow", False))

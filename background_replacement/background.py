"""The background grammar, parsed in this one place, and the backgrounds it names.

A background is written as ``transparent``, ``blur`` (the photo's own background, blurred),
``#rrggbb`` or ``#rgb``, the name of a named background (an image in a library, ``green`` by
default), a CSS colour name (``navy``), or, where files may be read, the path of a picture.
Each parses into an object that draws itself behind a matte: ``behind(image_rgb, alpha)``
answers RGB uint8 H×W×3 at the matte's size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import ImageColor

from background_replacement.backgrounds import LIBRARY
from background_replacement.compositing import blurred_background, cover, solid
from background_replacement.images import IMAGE_SUFFIXES, SUFFIX_FORMATS, load_photo

DEFAULT_BACKGROUND = "green"
# The named backgrounds that ship with the project (backgrounds/ at the top of the repository).
BACKGROUNDS_DIR = LIBRARY
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # a named background's name
_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_LIBRARY_SUFFIXES = tuple(SUFFIX_FORMATS)  # a named background: a picture the project writes too
WORDS = ("transparent", "blur")  # the backgrounds written as a word of their own


class Background(Protocol):
    """What goes behind the people: drawn at the matte's size, or nothing (transparent)."""

    label: str
    transparent: bool

    def behind(self, image_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """RGB uint8 H×W×3 behind a photo (RGB uint8 H×W×3) and its matte (float32 H×W)."""
        ...


@dataclass(frozen=True)
class Transparent:
    """No background: the result keeps the matte as its alpha channel."""

    label: str = "transparent"
    transparent: bool = True

    def behind(self, image_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        raise TypeError("a transparent background has no pixels")


@dataclass(frozen=True)
class Colour:
    """One colour, ``rgb`` 0–255 each."""

    rgb: tuple[int, int, int]
    label: str
    transparent: bool = False

    def behind(self, image_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return solid(self.rgb, *alpha.shape)


@dataclass(frozen=True)
class Blur:
    """The photo's own background, blurred, without the people's colours bleeding into it."""

    label: str = "blur"
    transparent: bool = False

    def behind(self, image_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return blurred_background(image_rgb, alpha)


@dataclass(frozen=True, eq=False)
class Picture:
    """An image (RGB uint8 H×W×3) scaled to cover the matte and centre-cropped, never
    stretched; at the matte's size already, it is used as it is."""

    image_rgb: np.ndarray = field(repr=False)
    label: str
    transparent: bool = False

    def behind(self, image_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return cover(self.image_rgb, *alpha.shape)


def load_library(folder: Path = BACKGROUNDS_DIR) -> dict[str, np.ndarray]:
    """Every image in ``folder`` as RGB uint8 H×W×3, by file stem, the default first; read once
    at start-up."""
    library = {}
    paths = sorted(folder.iterdir(), key=lambda p: (p.stem != DEFAULT_BACKGROUND, p.name)) \
        if folder.is_dir() else []
    for path in paths:
        if path.suffix.lower() in _LIBRARY_SUFFIXES and NAME.match(path.stem):
            library[path.stem] = load_photo(path).rgb
    return library


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """``#rrggbb``, ``#rgb`` or a CSS colour name → (r, g, b); None for any other word;
    ``ValueError`` for a malformed ``#…``."""
    if text.startswith("#"):
        if not _HEX_COLOUR.match(text):
            raise ValueError(f"{text[:60]!r} is not a colour of the form #rrggbb")
        digits = text[1:] if len(text) == 7 else "".join(2 * d for d in text[1:])
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    name = text.lower()
    # Pillow's colour table caches the tuples it computes in place of their hex strings, so it
    # is asked through getrgb, never read as text.
    return ImageColor.getrgb(name)[:3] if name in ImageColor.colormap else None


def written_as(spec: str) -> str:
    """What a background ``spec`` is written as, by its form alone (nothing is looked up or
    read): ``"word"`` (``transparent``, ``blur``), ``"colour"`` (``#…``, even malformed, or a
    CSS colour name), ``"name"`` (a named background's form and no colour), ``"path"`` (it
    holds ``/``, ``\\`` or ``.``; a name or a colour never does), else ``"other"``."""
    text = spec.strip()
    if text in WORDS:
        return "word"
    if text.startswith("#"):
        return "colour"
    if NAME.match(text) and parse_colour(text) is None:
        return "name"
    if parse_colour(text) is not None:
        return "colour"
    if "/" in text or "\\" in text or "." in text:
        return "path"
    return "other"


def is_transparent_spec(spec: str | bytes | None) -> bool:
    """Whether ``spec`` (None: the default; bytes: a picture) writes no background at all."""
    return isinstance(spec, str) and spec.strip() == "transparent"


def file_named(spec: str) -> Path | None:
    """The file a background ``spec`` names when it is written as a path (``written_as``),
    else None. ``ValueError`` when there is no such file."""
    if written_as(spec) != "path":
        return None
    path = Path(spec.strip()).expanduser()
    if not path.is_file():
        raise ValueError(f"background {spec!r}: no such file")
    return path


def _picture_file(path: Path) -> Picture:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"background {str(path)!r}: not an image file "
                         f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    return Picture(load_photo(path).rgb, path.name)


def parse_background(spec: str | None, library: Mapping[str, np.ndarray], *,
                     files: bool = False) -> Background:
    """The ``Background`` that ``spec`` writes (see the module's docstring); None or blank is
    the default. A name is looked up in ``library`` first, then among the CSS colours. Paths
    are read only when ``files`` is true (never in a service). Raises ``ValueError`` with a
    message for the user when ``spec`` names nothing usable."""
    text = (spec or DEFAULT_BACKGROUND).strip()
    if written_as(text) == "word":
        return Transparent() if text == "transparent" else Blur()
    if NAME.match(text) and text in library:
        return Picture(library[text], text)
    colour = parse_colour(text)
    if colour is not None:
        return Colour(colour, text)
    path = file_named(text) if files else None
    if path is not None:
        return _picture_file(path)
    if not NAME.match(text):
        raise ValueError("'background' must be a name from /backgrounds, #rrggbb, a CSS colour "
                         f"name, 'blur', 'transparent' or an image; got {text[:60]!r}")
    names = ", ".join(sorted(library)) or "none installed"
    raise ValueError(f"unknown background {text!r}; available: {names}")

"""What the ``background`` parameter may name, parsed before any expensive work is done."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from matting_api.compositing import blurred_background, cover, parse_colour, solid

DEFAULT_BACKGROUND = "green"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def load_library(folder: Path) -> dict[str, np.ndarray]:
    """Every image in ``folder`` as RGB uint8 H×W×3, by file stem, the default first; read once
    at start-up."""
    library = {}
    paths = sorted(folder.iterdir(), key=lambda p: (p.stem != DEFAULT_BACKGROUND, p.name)) \
        if folder.is_dir() else []
    for path in paths:
        if path.suffix.lower() in _SUFFIXES and _NAME.match(path.stem):
            with Image.open(path) as image:
                library[path.stem] = np.asarray(image.convert("RGB"))
    return library


@dataclass(frozen=True)
class Background:
    """A parsed background choice: ``kind`` is image, colour, blur or transparent."""

    kind: str
    label: str
    colour: tuple[int, int, int] | None = None
    image_rgb: np.ndarray | None = None

    @property
    def transparent(self) -> bool:
        return self.kind == "transparent"

    def render(self, image_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The background pixels (RGB uint8 H×W×3) for a photo and its matte."""
        height, width = alpha.shape
        if self.kind == "colour":
            return solid(self.colour, height, width)
        if self.kind == "blur":
            return blurred_background(image_rgb, alpha)
        if self.kind == "image":
            return cover(self.image_rgb, height, width)
        raise ValueError("a transparent background has no pixels")


def parse_background(text: str | None, uploaded_rgb: np.ndarray | None,
                     library: dict[str, np.ndarray]) -> Background:
    """Turn the request's ``background`` (text or uploaded image) into a ``Background``.

    Raises ``ValueError`` with a message for the client when the text names nothing usable.
    """
    if uploaded_rgb is not None:
        return Background("image", "upload", image_rgb=uploaded_rgb)
    text = (text or DEFAULT_BACKGROUND).strip()
    if text in ("transparent", "blur"):
        return Background(text, text)
    if text.startswith("#"):
        return Background("colour", text, colour=parse_colour(text))
    if not _NAME.match(text):
        raise ValueError(f"'background' must be a name from /backgrounds, #rrggbb, 'blur', "
                         f"'transparent' or an uploaded image; got {text[:60]!r}")
    if text not in library:
        names = ", ".join(sorted(library)) or "none installed"
        raise ValueError(f"unknown background {text!r}; available: {names}")
    return Background("image", text, image_rgb=library[text])

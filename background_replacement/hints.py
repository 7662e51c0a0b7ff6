"""Hints: a person's corrections painted over the photo, merged into the automatic trimap.

A hint image is the photo's size. Where it is opaque (alpha ≥ 128, or everywhere when it has
no alpha channel) its first channel is a trimap value: 0 remove (sure background), 255 keep
(sure person), anything else edge (let the matting decide). Where it is transparent the
automatic trimap stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from background_replacement.images import ImageSource, Photo, load_photo
from background_replacement.trimap import UNKNOWN, as_trimap

# Hint pixels count from this opacity (alpha in [0, 1]).
HINT_OPACITY = 0.5


@dataclass(frozen=True)
class Hint:
    """``where`` bool H×W: the pixels hinted; ``values`` uint8 H×W: their trimap values."""

    where: np.ndarray
    values: np.ndarray

    @classmethod
    def from_photo(cls, photo: Photo) -> Hint:
        """Read a decoded hint image (see the module's docstring)."""
        values = as_trimap(photo.rgb[:, :, 0])
        if photo.alpha is None:
            return cls(np.ones(values.shape, bool), values)
        return cls(photo.alpha >= HINT_OPACITY, values)

    @classmethod
    def load(cls, source: ImageSource | Hint) -> Hint:
        """A ``Hint`` from what ``load_photo`` reads (a path, bytes, Pillow image, RGB(A) array)."""
        return source if isinstance(source, Hint) else cls.from_photo(load_photo(source))

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    @property
    def edges(self) -> np.ndarray:
        """bool H×W: the "edge" strokes, where the matting's alpha is to be kept as solved."""
        return self.where & (self.values == UNKNOWN)


def merge_hint(trimap: np.ndarray, hint: Hint) -> np.ndarray:
    """The trimap (uint8 H×W) with the hinted pixels replaced by the hint's values; a new array.
    Raises ``ValueError`` when the sizes differ."""
    if hint.shape != trimap.shape:
        raise ValueError(f"the hint is {hint.shape[1]}×{hint.shape[0]}; the image is "
                         f"{trimap.shape[1]}×{trimap.shape[0]}")
    return np.where(hint.where, hint.values, trimap).astype(np.uint8)

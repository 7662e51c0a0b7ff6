"""The interface every person segmenter implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self

import numpy as np

if TYPE_CHECKING:
    from background_replacement.people import People
    from background_replacement.settings import Settings


class PersonSegmenter(Protocol):
    """Owns one model; keeps no per-request state; safe to call from several threads."""

    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the backend (device, sizes, weights) from the settings; raises
        ``SegmenterUnavailable`` when it cannot load."""
        ...

    def segment(self, image_rgb: np.ndarray, *, score_threshold: float) -> People:
        """The people of an RGB uint8 H×W×3 image (those scored at least ``score_threshold``)
        and the person probability of each pixel, at the image's size."""
        ...


class SegmenterUnavailable(RuntimeError):
    """A backend cannot load (weights missing or wrong); the message says how to fix it."""

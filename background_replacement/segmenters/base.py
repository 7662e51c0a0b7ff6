"""The interface every person segmenter implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self

import numpy as np

if TYPE_CHECKING:
    from background_replacement.settings import Settings


@dataclass(frozen=True)
class PersonSegmentation:
    """``probability``: float32 H×W in [0, 1], at the input's size; ``people``: how many found;
    ``masks``: float32 people×H×W, each person's own probability (their pixelwise maximum is
    ``probability`` where anyone was found); ``scores``: one per person."""

    probability: np.ndarray
    people: int
    masks: np.ndarray
    scores: tuple[float, ...]


class PersonSegmenter(Protocol):
    """Owns one model; keeps no per-request state; safe to call from several threads."""

    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the backend (device, sizes, weights) from the settings; raises
        ``SegmenterUnavailable`` when it cannot load."""
        ...

    def segment(self, image_rgb: np.ndarray, *, score_threshold: float) -> PersonSegmentation:
        """Person probability of every pixel of an RGB uint8 H×W×3 image."""
        ...


class SegmenterUnavailable(RuntimeError):
    """A backend cannot load (weights missing or wrong); the message says how to fix it."""

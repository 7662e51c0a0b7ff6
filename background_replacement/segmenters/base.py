"""The interface every person segmenter implements."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Self

import numpy as np

if TYPE_CHECKING:
    from background_replacement.settings import Settings


@dataclass(frozen=True)
class PersonSegmentation:
    """``probability``: float32 H×W in [0, 1], at the input's size; ``scores``: one per person
    found; ``split`` computes, only when asked (``masks``), each person's own probability."""

    probability: np.ndarray
    scores: tuple[float, ...]
    split: Callable[[], np.ndarray] = field(repr=False, compare=False)

    @property
    def people(self) -> int:
        """How many people were found."""
        return len(self.scores)

    @functools.cached_property
    def masks(self) -> np.ndarray:
        """float32 people×H×W, each person's own probability (their pixelwise maximum is
        ``probability`` where anyone was found)."""
        return self.split()


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

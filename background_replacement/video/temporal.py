"""Temporal stability of a video's matte: less alpha flicker on still parts of the picture.

A motion-adaptive recursive filter, the kind video denoisers use. Each frame's alpha is mixed
with the previous frame's smoothed alpha, pixel by pixel, with a weight that depends on how much
the *picture* changed there:

    motion  = dilate(|blur(gray_t) − blur(gray_t−1)|)                  (levels of 255)
    w       = strength · clip((moving_above − motion) / (moving_above − still_below), 0, 1)
    alpha_t = w · alpha_t−1 + (1 − w) · raw_alpha_t

Where the picture is still (motion ≤ ``still_below``), alpha keeps ``strength`` of its history,
so the matte stops shimmering from frame to frame; where it moves (motion ≥ ``moving_above``, or
within ``spread`` pixels of such a place), the service's alpha is taken as it is, so moving edges
are never smeared or dragged behind. A frame in which the service found nobody starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class TemporalStability:
    """Parameters of the filter (see the module's docstring); ``strength`` 0 turns it off."""

    strength: float = 0.8  # history kept on a perfectly still pixel, in [0, 1)
    still_below: float = 3.0  # picture change (levels of 255) up to which a pixel is still
    moving_above: float = 12.0  # picture change from which a pixel is moving
    spread: int = 5  # pixels: places this close to motion count as moving
    sigma: float = 1.0  # Gaussian blur of the gray frames before differencing (noise)

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength < 1.0:
            raise ValueError("strength must be in [0, 1)")
        if not 0.0 <= self.still_below < self.moving_above:
            raise ValueError("need 0 <= still_below < moving_above")
        if self.spread < 0 or self.sigma < 0:
            raise ValueError("spread and sigma must be 0 or more")


def smoothed_gray(image_rgb: np.ndarray, sigma: float) -> np.ndarray:
    """float32 H×W luma of an RGB uint8 H×W×3 frame, blurred with ``sigma`` (0: not blurred)."""
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(gray, (0, 0), sigma) if sigma > 0 else gray


def motion(previous_gray: np.ndarray, gray: np.ndarray, spread: int) -> np.ndarray:
    """float32 H×W: the picture's change at each pixel, the largest within ``spread`` pixels."""
    change = cv2.absdiff(gray, previous_gray)
    if spread == 0:
        return change
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * spread + 1, 2 * spread + 1))
    return cv2.dilate(change, disc)


def history_weight(change: np.ndarray, settings: TemporalStability) -> np.ndarray:
    """float32 H×W in [0, strength]: how much of the previous alpha each pixel keeps."""
    span = settings.moving_above - settings.still_below
    stillness = np.clip((settings.moving_above - change) / span, 0.0, 1.0)
    return (settings.strength * stillness).astype(np.float32)


class AlphaStabilizer:
    """Applies ``TemporalStability`` to a video's frames, in order; one per video."""

    def __init__(self, settings: TemporalStability) -> None:
        self.settings = settings
        self._gray: np.ndarray | None = None
        self._alpha: np.ndarray | None = None

    def __call__(self, image_rgb: np.ndarray, alpha: np.ndarray,
                 people_count: int | None = None) -> np.ndarray:
        """The stabilised alpha (float32 H×W) for the next frame and the service's alpha.

        ``people_count``: how many people the service found (``None``: not known); 0 resets
        the history, so a frame with nobody in it is exactly the background.
        """
        gray = smoothed_gray(image_rgb, self.settings.sigma)
        previous_gray, previous_alpha = self._gray, self._alpha
        self._gray = gray
        if (people_count == 0 or previous_alpha is None or previous_gray is None
                or previous_alpha.shape != alpha.shape or self.settings.strength == 0):
            self._alpha = alpha.astype(np.float32)
            return self._alpha
        weight = history_weight(motion(previous_gray, gray, self.settings.spread), self.settings)
        self._alpha = weight * previous_alpha + (1.0 - weight) * alpha
        return self._alpha

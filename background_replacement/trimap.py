"""Person probability map → trimap (pure numpy and OpenCV), and the trimap's three values, declared
here and nowhere else."""

from __future__ import annotations

import cv2
import numpy as np

from background_replacement.params import DEFAULT_PARAMS

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255


def unknown_mask(trimap: np.ndarray) -> np.ndarray:
    """bool H×W: the pixels that are neither known background nor known foreground."""
    return (trimap != BACKGROUND) & (trimap != FOREGROUND)


def as_trimap(values: np.ndarray) -> np.ndarray:
    """Any uint8 H×W map read as a trimap: 0 background, 255 foreground, anything else unknown
    (an uploaded or hand-drawn trimap)."""
    return np.where(unknown_mask(values), UNKNOWN, values).astype(np.uint8)


def enforce_known(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Set ``alpha`` (float H×W, in place) to 0 on known background and 1 on known foreground;
    returns it."""
    alpha[trimap == BACKGROUND] = 0.0
    alpha[trimap == FOREGROUND] = 1.0
    return alpha


def make_trimap(probability: np.ndarray, *, fg_threshold: float = DEFAULT_PARAMS.fg_threshold,
                bg_threshold: float = DEFAULT_PARAMS.bg_threshold,
                kernel_size: int = DEFAULT_PARAMS.kernel_size,
                erode_iterations: int = DEFAULT_PARAMS.erode_iterations,
                dilate_iterations: int = DEFAULT_PARAMS.dilate_iterations) -> np.ndarray:
    """Turn a person probability map into a trimap.

    Args:
        probability: float H×W in [0, 1].
    Returns:
        uint8 H×W: 0 background, 128 unknown, 255 foreground.

    Foreground is ``probability ≥ fg_threshold`` eroded; unknown is the band
    ``bg_threshold ≤ probability < fg_threshold`` dilated with an elliptic kernel, and every pixel
    that erosion took from the foreground. Background is only ever where the probability is below
    ``bg_threshold`` and outside the dilated band.
    """
    if probability.ndim != 2:
        raise ValueError(f"expected an H×W probability map, got shape {probability.shape}")
    if not 0.0 <= bg_threshold < fg_threshold <= 1.0:
        raise ValueError("need 0 ≤ bg_threshold < fg_threshold ≤ 1")
    if kernel_size < 1 or erode_iterations < 0 or dilate_iterations < 0:
        raise ValueError("kernel_size must be ≥ 1 and iteration counts ≥ 0")
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    sure = (probability >= fg_threshold).astype(np.uint8)
    person = probability >= bg_threshold
    band = (person & (probability < fg_threshold)).astype(np.uint8)
    if erode_iterations:
        sure = cv2.erode(sure, kernel, iterations=erode_iterations)
    if dilate_iterations:
        band = cv2.dilate(band, kernel, iterations=dilate_iterations)
    trimap = np.full(probability.shape, BACKGROUND, np.uint8)
    trimap[person | band.astype(bool)] = UNKNOWN
    trimap[sure.astype(bool) & ~band.astype(bool)] = FOREGROUND
    return trimap


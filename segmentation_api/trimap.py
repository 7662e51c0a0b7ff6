"""Person probability map → trimap (pure numpy and OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255


def make_trimap(probability: np.ndarray, *, fg_threshold: float = 0.9, bg_threshold: float = 0.1,
                kernel_size: int = 5, erode_iterations: int = 10,
                dilate_iterations: int = 10) -> np.ndarray:
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

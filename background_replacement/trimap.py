"""Trimaps: their three values, their parameters, and person probability → trimap (pure numpy
and OpenCV). The values 0/128/255 are declared here and nowhere else."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255


@dataclass(frozen=True)
class NumberRange:
    """A numeric parameter's default and inclusive bounds."""

    default: float | int
    low: float | int
    high: float | int
    integer: bool = False


# Detection and trimap parameters, named the same in the services and the Python API; their
# defaults and ranges are declared here once (forms, OpenAPI and ``TrimapParams`` read them).
TRIMAP_PARAMETERS: dict[str, NumberRange] = {
    "score_threshold": NumberRange(0.6, 0.0, 1.0),
    "fg_threshold": NumberRange(0.9, 0.0, 1.0),
    "bg_threshold": NumberRange(0.1, 0.0, 1.0),
    "kernel_size": NumberRange(5, 1, 51, integer=True),
    "erode_iterations": NumberRange(10, 0, 50, integer=True),
    "dilate_iterations": NumberRange(10, 0, 50, integer=True),
}


def _default(name: str):
    return TRIMAP_PARAMETERS[name].default


@dataclass(frozen=True)
class TrimapParams:
    """Detection and trimap parameters; ``validate`` checks them against their ranges."""

    score_threshold: float = _default("score_threshold")
    fg_threshold: float = _default("fg_threshold")
    bg_threshold: float = _default("bg_threshold")
    kernel_size: int = _default("kernel_size")
    erode_iterations: int = _default("erode_iterations")
    dilate_iterations: int = _default("dilate_iterations")

    def validate(self) -> TrimapParams:
        """Raise ``ValueError`` naming the first parameter out of its range; else ``self``."""
        for field in fields(self):
            bounds, value = TRIMAP_PARAMETERS[field.name], getattr(self, field.name)
            if bounds.integer and int(value) != value:
                raise ValueError(f"'{field.name}' must be an integer, got {value!r}")
            if not bounds.low <= value <= bounds.high:  # also false for NaN
                raise ValueError(f"'{field.name}' must be between {bounds.low:g} and "
                                 f"{bounds.high:g}, got {value!r}")
        if self.bg_threshold >= self.fg_threshold:
            raise ValueError(f"'bg_threshold' ({self.bg_threshold:g}) must be below "
                             f"'fg_threshold' ({self.fg_threshold:g})")
        return self

    def to_form(self) -> dict[str, str]:
        """The parameters as form fields, to pass on to the segmentation service."""
        return {name: str(value) for name, value in asdict(self).items()}


DEFAULT_PARAMS = TrimapParams()


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


def trimap_for(probability: np.ndarray, params: TrimapParams = DEFAULT_PARAMS) -> np.ndarray:
    """``make_trimap`` with the trimap parameters of ``params``."""
    return make_trimap(probability, fg_threshold=params.fg_threshold,
                       bg_threshold=params.bg_threshold, kernel_size=params.kernel_size,
                       erode_iterations=params.erode_iterations,
                       dilate_iterations=params.dilate_iterations)

"""The interface every matter implements, and the region each one works on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self

import cv2
import numpy as np

from background_replacement.trimap import FOREGROUND, enforce_known

if TYPE_CHECKING:
    from background_replacement.settings import Settings

# The smallest side a matter solves on: closed-form matting's 3×3 windows leave its system
# singular below 3 pixels, and FBA works in multiples of 8.
MIN_SOLVE_SIDE = 8


@dataclass(frozen=True)
class Matte:
    """``alpha`` float32 H×W in [0, 1]; ``foreground`` colours float32 H×W×3 in [0, 1]."""

    alpha: np.ndarray
    foreground: np.ndarray


class Matter(Protocol):
    """Owns one model; keeps no per-request state."""

    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the backend (device, precision, limits, weights) from the settings; raises
        ``MatterUnavailable`` when it cannot load."""
        ...

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray,
              free: np.ndarray | None = None) -> Matte:
        """Alpha and foreground colours of an RGB uint8 H×W×3 image under a uint8 H×W trimap.
        ``free`` (bool H×W, unknown in the trimap): where a person asked the matting to decide,
        so a matter that refines its alpha leaves it there as solved."""
        ...


class MatterUnavailable(RuntimeError):
    """A backend cannot load (weights missing or wrong); the message says how to fix it."""


def check_inputs(image_rgb: np.ndarray, trimap: np.ndarray) -> None:
    """Raise ``ValueError`` unless image is uint8 H×W×3 and trimap uint8 H×W of the same size."""
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 H×W×3 image, got {image_rgb.dtype} "
                         f"{image_rgb.shape}")
    if trimap.dtype != np.uint8 or trimap.shape != image_rgb.shape[:2]:
        raise ValueError(f"expected a uint8 trimap of shape {image_rgb.shape[:2]}, got "
                         f"{trimap.dtype} {trimap.shape}")


def region(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """The bounding box of ``mask`` grown by ``margin`` pixels and clipped, or None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (slice(max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)))


def known_matte(image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
    """The matte the trimap alone gives: alpha 1 on foreground, 0 elsewhere; F = the image."""
    alpha = (trimap == FOREGROUND).astype(np.float32)
    return Matte(alpha, image_rgb.astype(np.float32) / 255.0)


def matte_in_region(image_rgb: np.ndarray, trimap: np.ndarray, box: tuple[slice, slice] | None,
                    solve) -> Matte:
    """Run ``solve(image_crop, trimap_crop) -> Matte`` inside ``box`` only; outside it the trimap
    is known, so alpha comes from it. Known regions are enforced on the result and F is the
    image wherever alpha is 1."""
    result = known_matte(image_rgb, trimap)
    if box is not None:
        inner = solve_padded(image_rgb[box], trimap[box], solve)
        result.alpha[box] = inner.alpha
        result.foreground[box] = inner.foreground
    alpha, foreground = result.alpha, result.foreground
    np.clip(alpha, 0.0, 1.0, out=alpha)
    enforce_known(alpha, trimap)
    opaque = alpha >= 1.0
    foreground[opaque] = image_rgb[opaque].astype(np.float32) / 255.0
    return Matte(alpha, foreground)


def solve_padded(image_rgb: np.ndarray, trimap: np.ndarray, solve) -> Matte:
    """``solve(image, trimap) -> Matte`` on a copy whose sides are padded (border replicated) to
    at least ``MIN_SOLVE_SIDE``, its answer cropped back; as it is when no side is shorter."""
    height, width = trimap.shape
    pad_rows, pad_cols = max(0, MIN_SOLVE_SIDE - height), max(0, MIN_SOLVE_SIDE - width)
    if not (pad_rows or pad_cols):
        return solve(image_rgb, trimap)
    top, left = pad_rows // 2, pad_cols // 2
    borders = (top, pad_rows - top, left, pad_cols - left, cv2.BORDER_REPLICATE)
    padded = solve(cv2.copyMakeBorder(image_rgb, *borders), cv2.copyMakeBorder(trimap, *borders))
    inside = (slice(top, top + height), slice(left, left + width))
    return Matte(np.ascontiguousarray(padded.alpha[inside]),
                 np.ascontiguousarray(padded.foreground[inside]))

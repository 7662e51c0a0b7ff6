"""Closed-form matting with multilevel foreground estimation (pymatting): the embedded default."""

from __future__ import annotations

import numpy as np

from matting_api.matters.base import (
    BACKGROUND,
    FOREGROUND,
    Matte,
    check_inputs,
    guided_upsample,
    matte_in_region,
    region,
    shrink,
    solve_scale,
)

# Known pixels beyond the unknown band that constrain the closed-form solution.
CONTEXT_MARGIN = 16
# The solve's cost grows with its unknown pixels; above this many it runs at reduced size.
DEFAULT_MAX_UNKNOWN = 60_000
# Relative residual at which conjugate gradients stop: far below what 8-bit alpha resolves.
CG_RTOL = 1e-4
# Diagonal shifts tried for the incomplete Cholesky preconditioner, smallest first.
ICHOL_SHIFTS = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


class ClosedFormMatter:
    """Levin et al.'s closed-form alpha and Germer et al.'s multilevel foreground (pymatting).

    Works on the bounding box of the unknown pixels plus a margin. When that box holds more than
    ``max_unknown`` unknown pixels, alpha is solved at reduced size and brought back with
    ``guided_upsample``, so the time stays bounded whatever the photo's size; the foreground
    colours are always estimated at full size.
    """

    name = "closed-form"

    def __init__(self, max_unknown: int = DEFAULT_MAX_UNKNOWN) -> None:
        from pymatting import estimate_alpha_cf, estimate_foreground_ml, ichol

        self.max_unknown = max_unknown
        self._estimate_alpha = estimate_alpha_cf
        self._estimate_foreground = estimate_foreground_ml
        self._ichol = ichol

    @classmethod
    def from_settings(cls, settings, device=None) -> ClosedFormMatter:
        return cls(max_unknown=settings.closed_form_max_unknown)

    def _alpha(self, image_rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """Closed-form alpha (float64 H×W) of an image and trimap at their own size."""
        return self._estimate_alpha(
            image_rgb.astype(np.float64) / 255.0, trimap.astype(np.float64) / 255.0,
            preconditioner=lambda matrix: self._ichol(matrix, shifts=list(ICHOL_SHIFTS)),
            cg_kwargs={"rtol": CG_RTOL})

    def _solve(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        image = image_rgb.astype(np.float64) / 255.0
        if not np.any(trimap == FOREGROUND):
            # Nothing to anchor the solution: the unknown band becomes transparent.
            return Matte(np.zeros(trimap.shape, np.float32), image.astype(np.float32))
        unknown = np.count_nonzero((trimap != BACKGROUND) & (trimap != FOREGROUND))
        scale = solve_scale(unknown, self.max_unknown)
        if scale == 1.0:
            alpha = np.clip(self._alpha(image_rgb, trimap), 0.0, 1.0).astype(np.float32)
        else:
            small_alpha = self._alpha(*shrink(image_rgb, trimap, scale))
            alpha = guided_upsample(np.clip(small_alpha, 0.0, 1.0), image_rgb, scale)
            alpha[trimap == BACKGROUND] = 0.0
            alpha[trimap == FOREGROUND] = 1.0
        foreground = self._estimate_foreground(image, alpha.astype(np.float64))
        return Matte(alpha, np.clip(foreground, 0, 1).astype(np.float32))

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        """Alpha and foreground colours; known trimap regions are kept as they are."""
        check_inputs(image_rgb, trimap)
        unknown = (trimap != BACKGROUND) & (trimap != FOREGROUND)
        return matte_in_region(image_rgb, trimap, region(unknown, CONTEXT_MARGIN), self._solve)

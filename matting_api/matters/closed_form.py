"""Closed-form matting with multilevel foreground estimation (pymatting): the embedded default."""

from __future__ import annotations

import cv2
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
# Relative residual at which conjugate gradients stop: measured on a 720p photo, 1e-5 puts alpha
# within 0.003 (under 1/255) of the fully converged solution on average, where 1e-4 left it
# 0.04 away; 1e-6 costs 60 % more iterations for 0.002.
CG_RTOL = 1e-5
# Diagonal shifts tried for the incomplete Cholesky preconditioner, smallest first.
ICHOL_SHIFTS = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


def band_ramp(trimap: np.ndarray) -> np.ndarray:
    """A guess of alpha that goes from 0 at the background to 1 at the foreground across the
    unknown band, by distance to each (float64 H×W)."""
    to_foreground = cv2.distanceTransform((trimap != FOREGROUND).astype(np.uint8), cv2.DIST_L2, 3)
    to_background = cv2.distanceTransform((trimap != BACKGROUND).astype(np.uint8), cv2.DIST_L2, 3)
    total = np.maximum(to_foreground + to_background, 1e-6)
    return (to_background / total).astype(np.float64)


class ClosedFormMatter:
    """Levin et al.'s closed-form alpha and Germer et al.'s multilevel foreground (pymatting).

    Works on the bounding box of the unknown pixels plus a margin. When that box holds more than
    ``max_unknown`` unknown pixels, alpha is solved at reduced size and brought back with
    ``guided_upsample``, so the time stays bounded whatever the photo's size; the foreground
    colours are always estimated at full size.
    """

    name = "closed-form"

    def __init__(self, max_unknown: int = DEFAULT_MAX_UNKNOWN) -> None:
        from pymatting import cf_laplacian, cg, estimate_foreground_ml, ichol

        self.max_unknown = max_unknown
        self._laplacian = cf_laplacian
        self._cg = cg
        self._ichol = ichol
        self._estimate_foreground = estimate_foreground_ml

    @classmethod
    def from_settings(cls, settings, device=None) -> ClosedFormMatter:
        return cls(max_unknown=settings.closed_form_max_unknown)

    def _alpha(self, image_rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """Closed-form alpha (float64 H×W, unclipped) of an image and trimap at their own size.

        The matting Laplacian restricted to the unknown pixels is solved by conjugate gradients
        with an incomplete Cholesky preconditioner, starting from a ramp across the unknown band
        (fewer iterations than starting from zero).
        """
        image = image_rgb.astype(np.float64) / 255.0
        known_fg = (trimap == FOREGROUND).ravel()
        unknown = ((trimap != BACKGROUND) & (trimap != FOREGROUND)).ravel()
        known = ~unknown
        laplacian = self._laplacian(image, is_known=known.reshape(trimap.shape))
        rows = laplacian[unknown]
        system = rows[:, unknown]
        rhs = -rows[:, known].dot(known_fg[known].astype(np.float64))
        preconditioner = self._ichol(system, shifts=list(ICHOL_SHIFTS))
        alpha = known_fg.astype(np.float64)
        alpha[unknown] = self._cg(system, rhs, x0=band_ramp(trimap).ravel()[unknown],
                                  M=preconditioner, rtol=CG_RTOL)
        return alpha.reshape(trimap.shape)

    def _solve(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        image = image_rgb.astype(np.float64) / 255.0
        if not np.any(trimap == FOREGROUND):
            # Nothing to anchor the solution: the unknown band becomes transparent.
            return Matte(np.zeros(trimap.shape, np.float32), image.astype(np.float32))
        unknown = np.count_nonzero((trimap != BACKGROUND) & (trimap != FOREGROUND))
        scale = solve_scale(unknown, self.max_unknown)
        if scale == 1.0:
            alpha = np.clip(self._alpha(image_rgb, trimap), 0.0, 1.0)
            foreground = self._estimate_foreground(image, alpha)
            return Matte(alpha.astype(np.float32), np.clip(foreground, 0, 1).astype(np.float32))
        small_image, small_trimap = shrink(image_rgb, trimap, scale)
        small_alpha = np.clip(self._alpha(small_image, small_trimap), 0.0, 1.0)
        alpha = guided_upsample(small_alpha, image_rgb, scale)
        alpha[trimap == BACKGROUND] = 0.0
        alpha[trimap == FOREGROUND] = 1.0
        # Foreground colours vary slowly: estimated at the solve's size, then upsampled.
        small_foreground = self._estimate_foreground(small_image / 255.0, small_alpha)
        height, width = trimap.shape
        foreground = cv2.resize(small_foreground.astype(np.float32), (width, height),
                                interpolation=cv2.INTER_LINEAR)
        return Matte(alpha, np.clip(foreground, 0, 1))

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        """Alpha and foreground colours; known trimap regions are kept as they are."""
        check_inputs(image_rgb, trimap)
        unknown = (trimap != BACKGROUND) & (trimap != FOREGROUND)
        return matte_in_region(image_rgb, trimap, region(unknown, CONTEXT_MARGIN), self._solve)

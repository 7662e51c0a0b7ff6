"""Closed-form matting with multilevel foreground estimation (pymatting): the embedded default."""

from __future__ import annotations

import numpy as np

from matting_api.matters.base import FOREGROUND, Matte, check_inputs, matte_in_region, region

# Known pixels beyond the unknown band that constrain the closed-form solution.
CONTEXT_MARGIN = 16


class ClosedFormMatter:
    """Levin et al.'s closed-form alpha and Germer et al.'s multilevel foreground, solved only
    on the bounding box of the unknown pixels plus a margin."""

    name = "closed-form"

    def __init__(self) -> None:
        from pymatting import estimate_alpha_cf, estimate_foreground_ml

        self._estimate_alpha = estimate_alpha_cf
        self._estimate_foreground = estimate_foreground_ml

    @classmethod
    def from_settings(cls, settings, device=None) -> ClosedFormMatter:
        return cls()

    def _solve(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        image = image_rgb.astype(np.float64) / 255.0
        if not np.any(trimap == FOREGROUND):
            # Nothing to anchor the solution: the unknown band becomes transparent.
            return Matte(np.zeros(trimap.shape, np.float32), image.astype(np.float32))
        alpha = self._estimate_alpha(image, trimap.astype(np.float64) / 255.0)
        alpha = np.clip(alpha, 0.0, 1.0)
        foreground = self._estimate_foreground(image, alpha)
        return Matte(alpha.astype(np.float32), np.clip(foreground, 0, 1).astype(np.float32))

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        """Alpha and foreground colours; known trimap regions are kept as they are."""
        check_inputs(image_rgb, trimap)
        unknown = (trimap != 0) & (trimap != FOREGROUND)
        return matte_in_region(image_rgb, trimap, region(unknown, CONTEXT_MARGIN), self._solve)

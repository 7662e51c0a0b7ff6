"""Closed-form matting with multilevel foreground estimation (pymatting's methods, in NumPy:
``closed_form_parts``): the embedded default."""

from __future__ import annotations

import numpy as np

from background_replacement.backends import CLOSED_FORM_MAX_UNKNOWN
from background_replacement.matters.base import (
    Matte,
    check_inputs,
    matte_in_region,
    region,
)
from background_replacement.matters.closed_form_parts import estimate_foreground_ml, laplacian_rows
from background_replacement.matters.sparse_solve import solve_spd
from background_replacement.refine import confine_transition, transition_radius
from background_replacement.scaling import matte_at_scale, solve_scale
from background_replacement.trimap import BACKGROUND, FOREGROUND

# Known pixels beyond the unknown band that constrain the closed-form solution.
CONTEXT_MARGIN = 16
# The matting Laplacian's regularisation (pymatting's default is 1e-7). Chosen on portraits-tune
# (bench/matting_quality.py): larger values smooth alpha across faint colour differences, which
# suits portraits' soft backgrounds; 1e-7 → 3e-5 raised boundary F by about 0.02.
EPSILON = 3e-5


class ClosedFormMatter:
    """Levin et al.'s closed-form alpha and Germer et al.'s multilevel foreground.

    Works on the bounding box of the unknown pixels plus a margin. When that box holds more than
    ``max_unknown`` unknown pixels, alpha is solved at reduced size and brought back with
    ``scaling.upsample``, so the time stays bounded whatever the photo's size; the foreground
    colours are then estimated at the solve's size and brought back as the photo plus their
    correction, upsampled. With
    ``confine`` (the default), alpha is then kept fractional only near its 0.5 level
    (``confine_transition``), which removes the haze the solve leaves far from the edge.
    """

    name = "closed-form"  # its key in background_replacement.backends

    def __init__(self, max_unknown: int = CLOSED_FORM_MAX_UNKNOWN, *,
                 confine: bool = True) -> None:
        self.max_unknown = max_unknown
        self.confine = confine

    @classmethod
    def from_settings(cls, settings) -> ClosedFormMatter:
        return cls(max_unknown=settings.closed_form_max_unknown)

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """Closed-form alpha (float64 H×W, unclipped) of an image (float64 H×W×3 in [0, 1]) and
        trimap at their own size: the matting Laplacian restricted to the unknown pixels, solved
        exactly (sparse Cholesky) with the known pixels as boundary values."""
        known_fg = (trimap == FOREGROUND).ravel()
        unknown = ((trimap != BACKGROUND) & (trimap != FOREGROUND)).ravel()
        known = ~unknown
        if not known_fg.any():
            return np.zeros(trimap.shape)  # nothing anchors alpha at 1: all transparent
        rows = laplacian_rows(image, EPSILON, unknown.reshape(trimap.shape))
        rhs = -rows[:, known].dot(known_fg[known].astype(np.float64))
        alpha = known_fg.astype(np.float64)
        alpha[unknown] = solve_spd(rows[:, unknown], rhs)
        return alpha.reshape(trimap.shape)

    def _matte_as_given(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        """Alpha and foreground colours at the image's own size."""
        image = image_rgb.astype(np.float64) / 255.0
        alpha = np.clip(self._alpha(image, trimap), 0.0, 1.0)
        foreground = estimate_foreground_ml(image, alpha)
        return Matte(alpha.astype(np.float32), np.clip(foreground, 0, 1).astype(np.float32))

    def _solve(self, image_rgb: np.ndarray, trimap: np.ndarray) -> Matte:
        if not np.any(trimap == FOREGROUND):
            # Nothing to anchor the solution: the unknown band becomes transparent.
            return Matte(np.zeros(trimap.shape, np.float32),
                         image_rgb.astype(np.float32) / 255.0)
        unknown = np.count_nonzero((trimap != BACKGROUND) & (trimap != FOREGROUND))
        return matte_at_scale(image_rgb, trimap, solve_scale(unknown, self.max_unknown),
                              self._matte_as_given)

    def matte(self, image_rgb: np.ndarray, trimap: np.ndarray,
              free: np.ndarray | None = None) -> Matte:
        """Alpha and foreground colours; known trimap regions are kept as they are, and alpha is
        not confined where ``free`` is set (a person's edge strokes: fine hair far from the
        0.5 level is what they want kept)."""
        check_inputs(image_rgb, trimap)
        unknown = (trimap != BACKGROUND) & (trimap != FOREGROUND)
        box = region(unknown, CONTEXT_MARGIN)
        matte = matte_in_region(image_rgb, trimap, box, self._solve)
        if self.confine and box is not None:
            # Every fractional pixel lies in the box, and the radius is at most the box's margin,
            # so confining the box alone is confining the whole alpha.
            radius = min(transition_radius(trimap.shape), CONTEXT_MARGIN)
            alpha = confine_transition(matte.alpha[box], radius)
            if free is not None:
                alpha = np.where(free[box], matte.alpha[box], alpha)
            opaque = (alpha >= 1.0) & (matte.alpha[box] < 1.0)
            matte.alpha[box] = alpha
            matte.foreground[box][opaque] = image_rgb[box][opaque].astype(np.float32) / 255.0
        return matte

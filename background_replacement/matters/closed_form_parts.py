"""The two pieces of closed-form matting that pymatting compiles with numba, in NumPy instead:
the matting Laplacian (Levin et al. 2008) and the multilevel foreground estimate (Germer et al.
2020). Nothing is compiled, so a new process mattes at once and a read-only install needs no
cache: importing pymatting compiles 30-odd numba functions (91 s on a busy 2-core machine the
first time, 1.3 s from numba's cache, which needs a writable folder even to be read).

The Laplacian's rows are pymatting's ``cf_laplacian``'s entry for entry (radius 1), only
those of the unknown pixels, which are all the solve uses. The foreground is
``estimate_foreground_ml``'s method with Jacobi sweeps (every pixel from its neighbours' previous
values) where pymatting sweeps in place, row by row.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse

WINDOW = 3  # the Laplacian's windows: 3×3 (radius 1)
SPAN = 2 * WINDOW - 1  # pixels that share a window lie within a 5×5 square


# Each window's pixels as offsets from its top-left pixel, and where the pair (i, j) of them
# lands among pixel i's 5×5 neighbours.
_OFFSETS = np.array([(dy, dx) for dy in range(WINDOW) for dx in range(WINDOW)])
_SLOTS = ((_OFFSETS[None, :, 0] - _OFFSETS[:, None, 0] + WINDOW - 1) * SPAN
          + _OFFSETS[None, :, 1] - _OFFSETS[:, None, 1] + WINDOW - 1)


def _inverse_covariances(centred: np.ndarray, epsilon: float) -> np.ndarray:
    """Each window's regularised colour covariance, inverted by its cofactors (it is
    symmetric): M×3×3 for the windows' centred colours M×9×3."""
    cov = [[None] * 3 for _ in range(3)]
    for a in range(3):
        for b in range(a, 3):
            cov[a][b] = cov[b][a] = ((centred[:, :, a] * centred[:, :, b]).sum(axis=1)
                                     + (epsilon if a == b else 0.0)) / WINDOW**2
    cofactor = np.empty((centred.shape[0], 3, 3))
    for a in range(3):
        for b in range(a, 3):
            r0, r1 = [r for r in range(3) if r != a]
            c0, c1 = [c for c in range(3) if c != b]
            sign = -1.0 if (a + b) % 2 else 1.0
            cofactor[:, a, b] = cofactor[:, b, a] = sign * (cov[r0][c0] * cov[r1][c1]
                                                            - cov[r0][c1] * cov[r1][c0])
    determinant = sum(cov[0][c] * cofactor[:, 0, c] for c in range(3))
    return cofactor / determinant[:, None, None]


def laplacian_rows(image: np.ndarray, epsilon: float,
                   unknown: np.ndarray) -> scipy.sparse.csr_matrix:
    """The rows of the unknown pixels (bool H×W, in row-major order) of the closed-form matting
    Laplacian of a float64 H×W×3 image in [0, 1]: U×N CSR (N = H·W), equal to pymatting's
    ``cf_laplacian(image, epsilon, is_known=~unknown)[unknown.ravel()]``, each row holding its
    5×5 neighbourhood (0 off the image). Only windows with an unknown pixel count."""
    height, width = image.shape[:2]
    ys, xs = np.nonzero(unknown)
    values = np.zeros(ys.size * SPAN**2)
    if height >= WINDOW and width >= WINDOW and ys.size:
        open_windows = np.zeros((height - WINDOW + 1, width - WINDOW + 1), bool)
        for dy, dx in _OFFSETS:
            open_windows |= unknown[dy:height - WINDOW + 1 + dy, dx:width - WINDOW + 1 + dx]
        top, left = np.nonzero(open_windows)
        members = (top[:, None] + _OFFSETS[:, 0]) * width + left[:, None] + _OFFSETS[:, 1]
        colours = image.reshape(-1, 3)[members]
        centred = colours - colours.mean(axis=1, keepdims=True)
        weighted = centred @ _inverse_covariances(centred, epsilon)
        entries = np.eye(WINDOW**2) - (1.0 + weighted @ centred.transpose(0, 2, 1)) / WINDOW**2
        row_of = np.full(height * width, -1, np.int64)
        row_of[ys * width + xs] = np.arange(ys.size)
        rows = row_of[members]
        kept = rows >= 0
        where = rows[kept][:, None] * SPAN**2 + _SLOTS[np.nonzero(kept)[1]]
        values = np.bincount(where.ravel(), entries[kept].ravel(), minlength=ys.size * SPAN**2)
    return scipy.sparse.csr_matrix((values, _neighbours(ys, xs, height, width).ravel(),
                                    np.arange(0, ys.size * SPAN**2 + 1, SPAN**2)),
                                   shape=(ys.size, height * width))


def _neighbours(ys: np.ndarray, xs: np.ndarray, height: int, width: int) -> np.ndarray:
    """The 5×5 neighbours of the pixels at (ys, xs) as flat indices, int64 P×25 (0 where off
    the image)."""
    offsets = np.arange(SPAN) - (WINDOW - 1)
    near_y = ys[:, None, None] + offsets[None, :, None]
    near_x = xs[:, None, None] + offsets[None, None, :]
    inside = (near_y >= 0) & (near_y < height) & (near_x >= 0) & (near_x < width)
    return np.where(inside, near_y * width + near_x, 0).reshape(len(ys), SPAN**2)


def _nearest(source: np.ndarray, height: int, width: int) -> np.ndarray:
    """``source`` (H×W or H×W×C) resized to height×width by nearest neighbours, as pymatting."""
    rows = np.minimum(np.arange(height) * source.shape[0] // height, source.shape[0] - 1)
    cols = np.minimum(np.arange(width) * source.shape[1] // width, source.shape[1] - 1)
    return source[rows[:, None], cols[None, :]]


def _shifted(array: np.ndarray) -> list[np.ndarray]:
    """``array`` seen from each pixel's left, right, upper and lower neighbour (edges
    repeated)."""
    padded = np.pad(array, [(1, 1), (1, 1)] + [(0, 0)] * (array.ndim - 2), mode="edge")
    return [padded[1:-1, :-2], padded[1:-1, 2:], padded[:-2, 1:-1], padded[2:, 1:-1]]


def _sweeps(image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray,
            background: np.ndarray, iterations: int, regularization: float,
            gradient_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """``iterations`` Jacobi sweeps of the multilevel method's per-pixel 2×2 solve at one
    level: float32 H×W×3 foreground and background."""
    weights = [regularization + gradient_weight * np.abs(alpha - other)
               for other in _shifted(alpha)]
    total = sum(weights)
    a00, a01, a11 = alpha * alpha + total, alpha * (1 - alpha), (1 - alpha) ** 2 + total
    inverse = 1.0 / (a00 * a11 - a01 * a01)
    for _ in range(iterations):
        b0 = alpha[..., None] * image
        b1 = (1 - alpha)[..., None] * image
        for weight, fg, bg in zip(weights, _shifted(foreground), _shifted(background),
                                  strict=True):
            b0 = b0 + weight[..., None] * fg
            b1 = b1 + weight[..., None] * bg
        foreground = np.clip((inverse * a11)[..., None] * b0 - (inverse * a01)[..., None] * b1,
                             0, 1).astype(np.float32)
        background = np.clip((inverse * a00)[..., None] * b1 - (inverse * a01)[..., None] * b0,
                             0, 1).astype(np.float32)
    return foreground, background


def estimate_foreground_ml(image: np.ndarray, alpha: np.ndarray, regularization: float = 1e-5,
                           small_iterations: int = 10, big_iterations: int = 2,
                           small_size: int = 32, gradient_weight: float = 1.0) -> np.ndarray:
    """The foreground colours (float32 H×W×3 in [0, 1]) of an H×W×3 image in [0, 1] under its
    alpha (H×W), by Germer et al.'s multilevel method with pymatting's parameters: from the
    mean colours of the sure foreground and background at 1×1, up a pyramid of sizes to the
    image's, each level refined by a few sweeps."""
    image = image.astype(np.float32)
    alpha = alpha.astype(np.float32)
    height, width = alpha.shape
    sure_fg, sure_bg = alpha > 0.9, alpha < 0.1
    foreground = (image[sure_fg].sum(axis=0) / (sure_fg.sum() + 1e-5))[None, None]
    background = (image[sure_bg].sum(axis=0) / (sure_bg.sum() + 1e-5))[None, None]
    levels = max(1, math.ceil(math.log2(max(height, width))))
    for level in range(levels + 1):
        size = (round(height ** (level / levels)), round(width ** (level / levels)))
        iterations = small_iterations if max(size) <= small_size else big_iterations
        foreground, background = _sweeps(
            _nearest(image, *size), _nearest(alpha, *size), _nearest(foreground, *size),
            _nearest(background, *size), iterations, regularization, gradient_weight)
    return foreground

"""The direct solvers behind closed-form matting, on real matting systems."""

import numpy as np
import pytest
import scipy.sparse as sp
from pymatting import cf_laplacian

from background_replacement.matters.closed_form import ClosedFormMatter
from background_replacement.matters.sparse_solve import cholmod_solve, solve_spd, superlu_solve


def matting_system(size: int = 40) -> tuple[sp.csr_matrix, np.ndarray]:
    """The closed-form system of a textured image whose middle columns are unknown."""
    rng = np.random.default_rng(7)
    image = rng.random((size, size, 3))
    unknown = np.zeros((size, size), bool)
    unknown[:, size // 4: 3 * size // 4] = True
    foreground = np.zeros((size, size), bool)
    foreground[:, 3 * size // 4:] = True
    laplacian = cf_laplacian(image, is_known=~unknown)
    rows = laplacian[unknown.ravel()]
    rhs = -rows[:, ~unknown.ravel()].dot(foreground[~unknown].astype(np.float64))
    return rows[:, unknown.ravel()].tocsr(), rhs


def test_both_solvers_give_the_dense_solution():
    matrix, rhs = matting_system()
    expected = np.linalg.solve(matrix.toarray(), rhs)
    for solve in (cholmod_solve, superlu_solve, solve_spd):
        solution = solve(matrix, rhs)
        assert solution.shape == rhs.shape
        np.testing.assert_allclose(solution, expected, rtol=0, atol=1e-8)


def test_an_indefinite_matrix_falls_back_to_lu():
    matrix = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]))
    rhs = np.array([3.0, 3.0, 6.0])
    with pytest.raises(ArithmeticError):
        cholmod_solve(matrix, rhs)
    np.testing.assert_allclose(solve_spd(matrix, rhs), [1.0, 1.0, 2.0], atol=1e-12)


def test_foreground_lost_by_shrinking_gives_a_transparent_band():
    """One foreground pixel in a large unknown trimap vanishes at the reduced solve size (nearest
    sampling skips row and column 151): the band comes back transparent, that pixel opaque."""
    rng = np.random.default_rng(1)
    image = (rng.random((300, 300, 3)) * 255).astype(np.uint8)
    trimap = np.full((300, 300), 128, np.uint8)
    trimap[151, 151] = 255
    matte = ClosedFormMatter(max_unknown=2_000).matte(image, trimap)
    assert matte.alpha[151, 151] == 1.0
    matte.alpha[151, 151] = 0.0
    assert np.all(matte.alpha == 0.0)

"""Direct solvers for the sparse symmetric positive definite systems of closed-form matting."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

try:  # imported with the matter, so that its BLAS is loaded before threads are configured
    import cvxopt
    import cvxopt.cholmod
except ImportError:  # GPL-3.0: an installation may leave it out
    cvxopt = None


def cholmod_solve(matrix: sp.spmatrix, rhs: np.ndarray) -> np.ndarray:
    """``x`` with ``matrix @ x = rhs`` by CHOLMOD's Cholesky factorisation (a fill-reducing
    ordering, then supernodal blocks through BLAS on systems as large as matting's).

    Only the lower triangle of ``matrix`` is read. Raises ``ArithmeticError`` when the matrix
    is not numerically positive definite.
    """
    lower = sp.tril(matrix, format="coo")
    system = cvxopt.spmatrix(lower.data, lower.row.astype(np.int64), lower.col.astype(np.int64),
                             size=matrix.shape)
    solution = cvxopt.matrix(np.asarray(rhs, dtype=np.float64).reshape(-1, 1))
    cvxopt.cholmod.linsolve(system, solution)
    return np.asarray(solution, dtype=np.float64).ravel()


def superlu_solve(matrix: sp.spmatrix, rhs: np.ndarray) -> np.ndarray:
    """``x`` with ``matrix @ x = rhs`` by SciPy's SuperLU in symmetric mode (a minimum-degree
    ordering of A + Aᵀ, diagonal pivots preferred): slower than CHOLMOD, but in SciPy itself."""
    factor = sla.splu(sp.csc_matrix(matrix), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                      options={"SymmetricMode": True})
    return factor.solve(np.asarray(rhs, dtype=np.float64))


def solve_spd(matrix: sp.spmatrix, rhs: np.ndarray) -> np.ndarray:
    """Solve a sparse symmetric positive definite system exactly: CHOLMOD when it is
    installed and the factorisation succeeds, SuperLU otherwise."""
    if cvxopt is not None:
        try:
            return cholmod_solve(matrix, rhs)
        except ArithmeticError:
            pass  # not numerically positive definite: LU with pivoting still solves it
    return superlu_solve(matrix, rhs)

"""Geodesic distance between true and predicted connectomes (SPD manifold)."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..pairs import RegionPairs
from ._core import _as_number

__all__ = ["geodesic_distance"]


# ---------------------------------------------------------------------- geodesic distance
def _as_square(matrix, name: str) -> np.ndarray:
    arr = np.asarray(matrix, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _spd(matrix: np.ndarray, eps: float, unit_diagonal: bool) -> np.ndarray:
    sym = (matrix + matrix.T) / 2
    if unit_diagonal:
        np.fill_diagonal(sym, 1.0)
    w, v = np.linalg.eigh(sym)
    if w.min() >= eps:
        return sym
    return (v * np.maximum(w, eps)) @ v.T


def geodesic_distance(fc_true, fc_pred, *, eps=1e-3, unit_diagonal=True) -> float:
    """Affine-invariant (geodesic) distance between two connectivity matrices.

    Both matrices are symmetrised as ``(M + M.T) / 2``, given a unit diagonal
    (proper correlation matrices; the reference used a zero diagonal, which makes
    them indefinite), and regularised to be symmetric positive definite by
    clipping their eigenvalues below ``eps`` up to ``eps`` (``M = V diag(max(w,
    eps)) V.T``; a matrix already SPD with smallest eigenvalue at least ``eps`` is
    left unchanged). The distance is

    ``d(A, B) = sqrt(sum_k log(mu_k) ** 2)``

    where ``mu_k`` are the generalised eigenvalues of ``B v = mu A v``, i.e. the
    eigenvalues of ``A^{-1/2} B A^{-1/2}``, for A the true and B the predicted
    matrix. It is symmetric, zero only for equal (regularised) matrices, and
    invariant under congruence ``M -> W M W.T`` (W invertible) when
    ``unit_diagonal=False`` and no eigenvalue is clipped.

    Parameters
    ----------
    fc_true : array-like of shape (n, n)
        True connectivity.
    fc_pred : array-like of shape (n, n)
        Predicted connectivity.
    eps : float, default=1e-3
        Smallest eigenvalue allowed after regularisation.
    unit_diagonal : bool, default=True
        Set both diagonals to 1 before regularising (correlation matrices). Turn
        off for covariance-like matrices whose diagonal carries information.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the matrices are not square, differ in shape, are not finite, or
        ``eps`` is not positive.

    Notes
    -----
    The distance grows with the number of regions: compare values on the same
    regions only. A predicted matrix is often far from positive definite, and
    Fisher-z connectivity with a unit diagonal can be indefinite too; the
    clipped eigenvalues then dominate the distance, which therefore depends on
    ``eps``. Report ``eps`` with the numbers. The reference computed a
    pseudo-distance from singular values of zero-diagonal matrices; this is
    the proper affine-invariant distance between correlation matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.metrics import geodesic_distance
    >>> A = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    >>> geodesic_distance(A, A)
    0.0
    >>> d = geodesic_distance(A, 2 * A, unit_diagonal=False)
    >>> bool(np.isclose(d, np.sqrt(3) * np.log(2)))
    True
    """
    fc_true = _as_square(fc_true, "fc_true")
    fc_pred = _as_square(fc_pred, "fc_pred")
    if fc_true.shape != fc_pred.shape:
        raise ValueError(
            f"fc_true and fc_pred must have the same shape, got {fc_true.shape} and {fc_pred.shape}"
        )
    eps = _as_number(eps, "eps")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    a = _spd(fc_true, eps, unit_diagonal)
    b = _spd(fc_pred, eps, unit_diagonal)
    mu = scipy.linalg.eigh(b, a, eigvals_only=True)
    # Both matrices are SPD, so mu > 0 up to rounding; the floor guards the log.
    log_mu = np.log(np.maximum(mu, np.finfo(float).tiny))
    distance = float(np.sqrt(np.sum(log_mu**2)))
    # Identical inputs give mu = 1 up to rounding; report an exact zero.
    return 0.0 if distance < 1e-10 * np.sqrt(len(mu)) else distance


def _complete_grid(X: RegionPairs, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Regions and (U, 2) sorted pairs if the unordered pairs form a complete grid."""
    if len(rows) == 0 or np.unique(X.variant).size != 1:
        return None
    pairs = np.sort(X.pairs[rows], axis=1)
    regions = np.unique(pairs)
    n = len(regions)
    if n < 2 or len(rows) != n * (n - 1) // 2:
        return None
    return regions, pairs


def _grid_geodesic(y_true_u, y_pred_u, X: RegionPairs, rows: np.ndarray) -> float:
    grid = _complete_grid(X, rows)
    if grid is None:
        return float("nan")
    regions, pairs = grid
    n = len(regions)
    i = np.searchsorted(regions, pairs[:, 0])
    j = np.searchsorted(regions, pairs[:, 1])
    fc_true = np.eye(n)
    fc_pred = np.eye(n)
    fc_true[i, j] = fc_true[j, i] = y_true_u
    fc_pred[i, j] = fc_pred[j, i] = y_pred_u
    return geodesic_distance(fc_true, fc_pred)

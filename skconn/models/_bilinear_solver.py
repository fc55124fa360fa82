"""Closed-form and exact solvers of the bilinear Connectome Model.

The model predicts ``x_iᵀ O x_j + b`` for a pair of regions with feature rows
``x_i`` and ``x_j``. Everything here works in the reduced basis of the training
regions: with the thin SVD ``X = U S Vᵀ`` of the (n, F) node features, write
``Q = U S`` (n, r) and ``O = V Õ Vᵀ``. Then ``XᵀX`` is diagonal (``λ = S²``), so
both penalties below are diagonal in ``Õ`` and every closed form is an
element-wise division.

Penalties (``pen_ab`` multiplies ``Õ_ab²``):

* ``"ridge"``: ``α`` — the exact ridge objective ``‖·‖² + α‖O‖_F²``;
* ``"kronecker"``: ``α(λ_a + λ_b) + α²`` — the regulariser that the published
  formula ``(XᵀX + αI)⁻¹ XᵀYX (XᵀX + αI)⁻¹`` implicitly uses (Ratzan et al., NeurIPS 2025).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BilinearBasis", "BilinearSolution", "solve_exact", "solve_reference"]


@dataclass
class BilinearBasis:
    """Thin SVD of the node features, shared by every alpha and penalty."""

    Q: np.ndarray  # (n, r) = U S
    components: np.ndarray  # (r, F) = Vᵀ
    eigvals: np.ndarray  # (r,) = S², the nonzero eigenvalues of XᵀX
    col_sums: np.ndarray  # (r,) = Qᵀ1

    @classmethod
    def from_features(cls, features: np.ndarray, rtol: float = 1e-10) -> BilinearBasis:
        U, s, Vt = np.linalg.svd(features, full_matrices=False)
        keep = s > rtol * max(s[0] if s.size else 0.0, np.finfo(float).tiny)
        U, s, Vt = U[:, keep], s[keep], Vt[keep]
        Q = U * s
        return cls(Q=Q, components=Vt, eigvals=s**2, col_sums=Q.sum(axis=0))

    def penalty(self, penalty: str, alpha: float) -> np.ndarray:
        lam = self.eigvals
        if penalty == "ridge":
            return np.full((lam.size, lam.size), float(alpha))
        alpha = np.float64(alpha)
        with np.errstate(over="ignore"):
            pen = alpha * (lam[:, None] + lam[None, :]) + alpha**2
        # a huge alpha saturates rather than overflowing: inf * 0 would give NaN downstream
        return np.minimum(pen, np.finfo(float).max)

    def project(self, features: np.ndarray) -> np.ndarray:
        """Coordinates of (m, F) feature rows in the reduced basis, (m, r)."""
        return features @ self.components.T


@dataclass
class BilinearSolution:
    core: np.ndarray  # Õ, (r, r)
    intercept: float
    n_iter: int = 0
    converged: bool = True


def _full_grid_solve(basis, pen, weight, G, g_b, fit_intercept):
    """Inverse of the normal operator for a uniform weight ``weight`` on all n² entries.

    Solves ``weight·(Λ Õ Λ + b s sᵀ) + pen∘Õ = G`` and ``weight·(sᵀ Õ s + n² b) = g_b``.
    """
    lam, s = basis.eigvals, basis.col_sums
    n = basis.Q.shape[0]
    D = weight * np.outer(lam, lam) + pen
    core = G / D
    b = 0.0
    if fit_intercept:
        S = np.outer(s, s) / D
        denom = weight * n * n - weight**2 * (s @ S @ s)
        num = g_b - weight * (s @ core @ s)
        b = num / denom if denom > 1e-12 * weight * n * n else 0.0
        core = core - weight * b * S
    return core, b


def _normal_operator(basis, pen, W, core, b, fit_intercept):
    Q = basis.Q
    R = W * (Q @ core @ Q.T + b)
    out_core = Q.T @ R @ Q + pen * core
    out_b = R.sum() if fit_intercept else 0.0
    return out_core, out_b


def solve_exact(
    basis: BilinearBasis,
    Y: np.ndarray,
    W: np.ndarray,
    *,
    penalty: str = "ridge",
    alpha: float = 1.0,
    fit_intercept: bool = True,
    tol: float = 1e-10,
    max_iter: int = 200,
    init: BilinearSolution | None = None,
) -> BilinearSolution:
    """Exact minimiser of ``Σ W_ab (Y_ab − q_aᵀ Õ q_b − b)² + Σ pen_ab Õ_ab²``.

    The weighted problem (only the given pairs count) is solved by conjugate
    gradients on its normal equations, preconditioned by the closed-form solution
    of the same problem on a complete grid, which it differs from only by the
    missing entries (e.g. the diagonal): a handful of iterations reach ``tol``.

    Parameters
    ----------
    basis : BilinearBasis
    Y, W : ndarray of shape (n, n)
        Mean target and weight (pair count) of every ordered node pair.
    penalty : {"ridge", "kronecker"}
    alpha : float
    fit_intercept : bool
    tol : float
        Relative residual of the normal equations at which to stop.
    max_iter : int
    init : BilinearSolution, default=None
        Warm start.

    Returns
    -------
    BilinearSolution
    """
    pen = basis.penalty(penalty, alpha)
    Q = basis.Q
    n = Q.shape[0]
    WY = W * Y
    rhs_core = Q.T @ WY @ Q
    rhs_b = WY.sum() if fit_intercept else 0.0
    weight = W.sum() / (n * n)
    if weight <= 0:
        raise ValueError("no pairs to fit")

    def precond(c, bb):
        return _full_grid_solve(basis, pen, weight, c, bb, fit_intercept)

    if init is None:
        core, b = precond(rhs_core, rhs_b)
    else:
        core, b = init.core.copy(), float(init.intercept)
    Hc, Hb = _normal_operator(basis, pen, W, core, b, fit_intercept)
    rc, rb = rhs_core - Hc, rhs_b - Hb
    rhs_norm = np.sqrt(np.sum(rhs_core**2) + rhs_b**2) or 1.0
    zc, zb = precond(rc, rb)
    pc, pb = zc.copy(), zb
    rz = np.sum(rc * zc) + rb * zb
    n_iter = 0
    converged = np.sqrt(np.sum(rc**2) + rb**2) <= tol * rhs_norm
    while not converged and n_iter < max_iter:
        n_iter += 1
        Apc, Apb = _normal_operator(basis, pen, W, pc, pb, fit_intercept)
        denom = np.sum(pc * Apc) + pb * Apb
        if denom <= 0:
            break
        step = rz / denom
        core += step * pc
        b += step * pb
        rc -= step * Apc
        rb -= step * Apb
        converged = np.sqrt(np.sum(rc**2) + rb**2) <= tol * rhs_norm
        if converged:
            break
        zc, zb = precond(rc, rb)
        rz_new = np.sum(rc * zc) + rb * zb
        beta = rz_new / rz
        rz = rz_new
        pc = zc + beta * pc
        pb = zb + beta * pb
    core = (core + core.T) / 2
    return BilinearSolution(core=core, intercept=float(b), n_iter=n_iter, converged=bool(converged))


def solve_reference(
    basis: BilinearBasis,
    Y: np.ndarray,
    W: np.ndarray,
    *,
    alpha: float = 1.0,
    fit_intercept: bool = True,
) -> BilinearSolution:
    """The published approximation ``(XᵀX + αI)⁻¹ XᵀYX (XᵀX + αI)⁻¹`` (the published formula).

    As in the published code, the fit uses the whole block of the training
    regions with every pair not given (the diagonal, at least) set to 0, and the
    scalar bias is the mean residual over that whole block.
    """
    Q = basis.Q
    Y0 = np.where(W > 0, Y, 0.0)
    lam = basis.eigvals
    core = (Q.T @ Y0 @ Q) / np.outer(lam + alpha, lam + alpha)
    b = float(np.mean(Y0 - Q @ core @ Q.T)) if fit_intercept else 0.0
    return BilinearSolution(core=(core + core.T) / 2, intercept=b)

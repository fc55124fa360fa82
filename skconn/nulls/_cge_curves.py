"""CGE-distance curves and their exponential and cubic fits, for many maps at once."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from numpy.polynomial import polynomial as P

from .._validation import Interval, validate_params

__all__ = [
    "CURVE_PARAMETERS",
    "DistanceBins",
    "cge_distance_curve",
    "curve_parameters",
    "exponential_decay",
    "fit_cubic",
    "fit_exponential",
    "spun_cge_curves",
]

#: Names of the six curve parameters, in the order the fits return them.
CURVE_PARAMETERS = ("SA_lambda", "SA_inf", "poly_a1", "poly_a2", "poly_a3", "poly_a4")

_LAMBDA_MAX = 100.0
_LAMBDA_MIN = 1e-3


def _as_float_array(values, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric: {exc}") from None


def _check_curves(centers, means) -> tuple[np.ndarray, np.ndarray, bool]:
    """(centers (B,), means (S, B), whether one curve was given), finite, or an error."""
    d = _as_float_array(centers, "centers")
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"centers must be a non-empty 1-D array of bin centres, got {d.shape}")
    if not np.isfinite(d).all():
        raise ValueError("centers contain NaN or infinite values")
    Y = _as_float_array(means, "means")
    single = Y.ndim == 1
    if Y.ndim not in (1, 2):
        raise ValueError(f"means must have shape (S, B) or (B,), got {Y.shape}")
    Y = np.atleast_2d(Y)
    if Y.shape[1] != d.shape[0]:
        raise ValueError(f"means have {Y.shape[1]} bins but centers has {d.shape[0]}")
    if not np.isfinite(Y).all():
        raise ValueError("means contain NaN or infinite values")
    return d, Y, single


def exponential_decay(d, sa_lambda, sa_inf):
    """``SA_inf + (1 - SA_inf) * exp(-d / SA_lambda)``: CGE decaying with distance d."""
    return sa_inf + (1.0 - sa_inf) * np.exp(-np.asarray(d) / sa_lambda)


@dataclass
class DistanceBins:
    """Region pairs (i < j) grouped into distance bins, computed once for many maps.

    Attributes
    ----------
    left, right : ndarray of shape (M,)
        Regions of each pair, sorted by bin.
    starts : ndarray of shape (B,)
        Where each non-empty bin starts in that order.
    counts : ndarray of shape (B,)
        Pairs per bin.
    centers : ndarray of shape (B,)
        Bin centres (mm).
    """

    left: np.ndarray
    right: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    centers: np.ndarray

    @classmethod
    def from_distances(cls, distances, bin_size=5.0) -> DistanceBins:
        distances = _as_float_array(distances, "distances")
        if distances.ndim != 2 or distances.shape[0] != distances.shape[1]:
            raise ValueError(f"distances must be a square (R, R) matrix, got {distances.shape}")
        if isinstance(bin_size, (bool, str, bytes)) or not isinstance(bin_size, numbers.Real):
            raise TypeError(f"bin_size must be a number of mm, got {bin_size!r}")
        if not 0 < bin_size < np.inf:
            raise ValueError(f"bin_size must be a positive finite number of mm, got {bin_size!r}")
        i, j = np.triu_indices(len(distances), k=1)
        d = distances[i, j]
        if not np.isfinite(d).all():
            raise ValueError("distances contain NaN or infinite values")
        if (d < 0).any():
            raise ValueError("distances must be non-negative")
        which = np.floor(d / bin_size).astype(np.intp)
        order = np.argsort(which, kind="stable")
        which = which[order]
        starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
        counts = np.diff(np.r_[starts, len(which)])
        centers = (which[starts] + 0.5) * bin_size
        return cls(i[order].astype(np.int32), j[order].astype(np.int32), starts, counts, centers)

    def means(self, matrix, perms=None) -> np.ndarray:
        """Mean of ``matrix[p_i, p_j]`` per bin, for each permutation p.

        Parameters
        ----------
        matrix : ndarray of shape (R, R)
        perms : ndarray of shape (S, R), default=None
            The identity (one curve) by default.

        Returns
        -------
        ndarray of shape (S, B)
        """
        matrix = np.asarray(matrix, dtype=float)
        n = matrix.shape[0]
        # flat positions of the pairs, in bin order (ascending within a bin)
        where = self.left.astype(np.intp) * n + self.right
        if perms is None:
            return (np.add.reduceat(matrix.ravel().take(where), self.starts) / self.counts)[None]
        perms = np.asarray(perms, dtype=np.intp)
        sums = np.empty((len(perms), len(self.starts)))
        for k, p in enumerate(perms):
            # permuting rows, then columns within rows, reads memory in order
            spun = matrix[p][:, p]
            sums[k] = np.add.reduceat(spun.ravel().take(where), self.starts)
        return sums / self.counts


@validate_params(
    {"bin_size": [Interval(numbers.Real, 0, None, closed="neither")]},
    prefer_skip_nested_validation=True,
)
def cge_distance_curve(cge, distances, bin_size=5.0):
    """Mean correlated gene expression per distance bin.

    Parameters
    ----------
    cge : array-like of shape (R, R)
        Correlated gene expression (e.g. :meth:`Connectome.cge`), finite.
    distances : array-like of shape (R, R)
        Distances between regions (mm).
    bin_size : float, default=5.0
        Bin width (mm); bins are [0, 5), [5, 10), ... and empty bins are left out.

    Returns
    -------
    centers : ndarray of shape (B,)
    means : ndarray of shape (B,)
    counts : ndarray of shape (B,)

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import cge_distance_curve
    >>> d = np.array([[0, 2, 12], [2, 0, 11], [12, 11, 0.]])
    >>> cge = np.array([[1, .9, .1], [.9, 1, .3], [.1, .3, 1]])
    >>> cge_distance_curve(cge, d)
    (array([ 2.5, 12.5]), array([0.9, 0.2]), array([1, 2]))
    """
    cge = _check_cge(cge)
    bins = DistanceBins.from_distances(distances, bin_size)
    if cge.shape != np.shape(distances):
        raise ValueError(
            f"cge and distances must have the same shape, got {cge.shape} and "
            f"{np.shape(distances)}"
        )
    return bins.centers, bins.means(cge)[0], bins.counts


def _check_cge(cge):
    cge = _as_float_array(cge, "cge")
    if cge.ndim != 2 or cge.shape[0] != cge.shape[1]:
        raise ValueError(f"cge must be a square (R, R) matrix, got {cge.shape}")
    if not np.isfinite(cge).all():
        raise ValueError(
            "cge contains NaN: some regions have no expression; impute them first "
            "(skconn.datasets.impute_missing_regions) or drop them"
        )
    return cge


def _exp_fit_at(lam, d, Y):
    """Best SA_inf (clipped to [-1, 1]) and the squared error, at each row's lambda."""
    e = np.exp(-d[None, :] / lam[:, None])  # (S, B)
    w = 1.0 - e
    a = np.einsum("sb,sb->s", Y - e, w) / np.maximum(np.einsum("sb,sb->s", w, w), 1e-300)
    a = np.clip(a, -1.0, 1.0)
    r = Y - e - a[:, None] * w
    return a, np.einsum("sb,sb->s", r, r)


@validate_params(
    {"n_grid": [Interval(numbers.Integral, 2, None, closed="left")],
     "n_refine": [Interval(numbers.Integral, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def fit_exponential(centers, means, *, n_grid=120, n_refine=40):
    """Least-squares fit of ``SA_inf + (1 - SA_inf) exp(-d / SA_lambda)`` to many curves.

    For a fixed SA_lambda the model is linear in SA_inf, so SA_inf has a
    closed form (clipped to [-1, 1]); SA_lambda is found by a grid over
    (0, 100] mm evaluated for all curves with one matrix product, then refined
    by golden-section search in the bracket around each curve's best grid
    point, all curves at once.

    Parameters
    ----------
    centers : array-like of shape (B,)
        Bin centres (mm).
    means : array-like of shape (S, B) or (B,)
        One curve per row, no NaN.
    n_grid : int, default=120
        Log-spaced grid points for SA_lambda.
    n_refine : int, default=40
        Golden-section steps (each shrinks the bracket by 0.618).

    Returns
    -------
    sa_lambda, sa_inf : ndarray of shape (S,) (or scalars for one curve)

    Notes
    -----
    The published code calls ``scipy.optimize.curve_fit`` from (0, 10) with
    bounds SA_inf in [-1, 1] and SA_lambda in [0, 100], a local search; this
    finds the global least-squares optimum on the grid's resolution, then
    refines it, so the two agree wherever curve_fit converges.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import exponential_decay, fit_exponential
    >>> d = np.arange(2.5, 150, 5.0)
    >>> lam, inf = fit_exponential(d, exponential_decay(d, 20.0, 0.3))
    >>> round(float(lam), 4), round(float(inf), 4)
    (20.0, 0.3)
    """
    d, Y, single = _check_curves(centers, means)
    n_grid, n_refine = int(n_grid), int(n_refine)
    grid = np.geomspace(0.1, _LAMBDA_MAX, n_grid)
    E = np.exp(-d[None, :] / grid[:, None])  # (L, B)
    W = 1.0 - E
    YE = Y @ E.T  # (S, L)
    YW = Y.sum(axis=1, keepdims=True) - YE
    ew, ww, ee = (E * W).sum(1), (W * W).sum(1), (E * E).sum(1)
    a = np.clip((YW - ew) / ww, -1.0, 1.0)
    # Σ(y - e - a w)² expanded, so the whole (S, L) table comes from Y @ Eᵀ
    sse = (Y * Y).sum(1, keepdims=True) - 2 * (YE + a * YW) + ee + 2 * a * ew + a * a * ww
    k = sse.argmin(axis=1)
    lo = grid[np.maximum(k - 1, 0)]
    hi = grid[np.minimum(k + 1, n_grid - 1)]
    lo = np.where(k == 0, _LAMBDA_MIN, lo)
    g = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    _, f1 = _exp_fit_at(x1, d, Y)
    _, f2 = _exp_fit_at(x2, d, Y)
    for _ in range(n_refine):
        left = f1 <= f2
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        new = np.where(left, hi - g * (hi - lo), lo + g * (hi - lo))
        _, fn = _exp_fit_at(new, d, Y)
        x2, f2, x1, f1 = (
            np.where(left, x1, new),
            np.where(left, f1, fn),
            np.where(left, new, x2),
            np.where(left, fn, f2),
        )
    lam = (lo + hi) / 2.0
    # the grid's end points are candidates too (the optimum may sit on the bound)
    a_mid, f_mid = _exp_fit_at(lam, d, Y)
    lam_end = np.full_like(lam, _LAMBDA_MAX)
    a_end, f_end = _exp_fit_at(lam_end, d, Y)
    use_end = f_end < f_mid
    lam = np.where(use_end, lam_end, lam)
    a = np.where(use_end, a_end, a_mid)
    if single:
        return float(lam[0]), float(a[0])
    return lam, a


def fit_cubic(centers, means) -> np.ndarray:
    """Least-squares cubic ``a1 + a2 d + a3 d² + a4 d³`` of many curves, one solve.

    Parameters
    ----------
    centers : array-like of shape (B,)
    means : array-like of shape (S, B) or (B,)

    Returns
    -------
    ndarray of shape (S, 4) (or (4,))
        Coefficients in ascending order (``poly_a1`` = constant), as
        ``numpy.polynomial.Polynomial.fit(...).convert().coef`` gives them.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import fit_cubic
    >>> d = np.arange(2.5, 100, 5.0)
    >>> np.allclose(fit_cubic(d, 1 - 0.01 * d + 1e-5 * d**3), [1, -0.01, 0, 1e-5])
    True
    """
    d, Y, single = _check_curves(centers, means)
    if len(Y) == 0:
        return np.empty((0, 4))
    coef = P.polyfit(d, Y.T, 3).T  # (S, 4)
    return coef[0] if single else coef


def curve_parameters(centers, means) -> np.ndarray:
    """The six curve parameters of many curves, (S, 6), in ``CURVE_PARAMETERS`` order."""
    _, Y, _ = _check_curves(centers, means)
    lam, inf = fit_exponential(centers, Y)
    cubic = np.atleast_2d(fit_cubic(centers, Y))
    return np.column_stack([np.atleast_1d(lam), np.atleast_1d(inf), cubic])


def _curve_block(cge, bins, perms):
    return curve_parameters(bins.centers, bins.means(cge, perms))


@validate_params(
    {"bin_size": [Interval(numbers.Real, 0, None, closed="neither")],
     "n_jobs": [numbers.Integral, None],
     "batch_size": [Interval(numbers.Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def spun_cge_curves(cge, distances, perms, *, bin_size=5.0, n_jobs=None, batch_size=256):
    """Curve parameters of the CGE of every spun map.

    Spinning the expression map by a permutation p permutes its CGE matrix:
    region pair (i, j) gets ``cge[p_i, p_j]`` while distances stay, so CGE is
    computed once and each spin only re-bins it.

    Parameters
    ----------
    cge : array-like of shape (R, R)
    distances : array-like of shape (R, R)
    perms : array-like of shape (S, R)
    bin_size : float, default=5.0
    n_jobs : int, default=None
        joblib workers over blocks of ``batch_size`` spins.
    batch_size : int, default=256

    Returns
    -------
    ndarray of shape (S, 6)
        ``SA_lambda, SA_inf, poly_a1..poly_a4`` per spin.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.nulls import spun_cge_curves
    >>> c = make_toy_connectome(20, 30)
    >>> perms = np.array([np.random.default_rng(k).permutation(20) for k in range(3)])
    >>> spun_cge_curves(c.cge(), c.distances(), perms).shape
    (3, 6)
    """
    cge = _check_cge(cge)
    bins = DistanceBins.from_distances(distances, bin_size)
    if cge.shape != np.shape(distances):
        raise ValueError(
            f"cge and distances must have the same shape, got {cge.shape} and "
            f"{np.shape(distances)}"
        )
    batch_size = int(batch_size)
    perms = np.asarray(perms)
    n = cge.shape[0]
    if perms.ndim != 2 or perms.shape[1] != n:
        raise ValueError(f"perms must have shape (S, {n}), got {perms.shape}")
    if perms.size and perms.dtype.kind not in "iu":
        raise TypeError(f"perms must hold integer region indices, got dtype {perms.dtype}")
    if perms.size and (perms.min() < 0 or perms.max() >= n):
        raise ValueError(f"perms must hold region indices in 0..{n - 1}")
    blocks = [perms[s : s + batch_size] for s in range(0, len(perms), batch_size)]
    out = Parallel(n_jobs=n_jobs)(delayed(_curve_block)(cge, bins, b) for b in blocks)
    return np.vstack(out) if out else np.empty((0, len(CURVE_PARAMETERS)))

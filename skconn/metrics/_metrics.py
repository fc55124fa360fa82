"""Metrics of predicted region-pair connectivity (REFERENCE §5, with the §9.4 choices).

Every function here works on plain arrays; :func:`score_report` ties them to a
:class:`~skconn.pairs.RegionPairs` input, which knows each pair's regions and
their distance.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.stats import rankdata
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from ..pairs import RegionPairs

__all__ = [
    "REPORT_KEYS",
    "distance_stratified_r",
    "geodesic_distance",
    "pearson_r",
    "score_report",
    "spearman_r",
    "strength_stratified_r",
    "unordered",
]

#: Keys of :func:`score_report`, in the order it returns them.
REPORT_KEYS = (
    "pearson_r",
    "spearman_r",
    "r2",
    "mse",
    "mae",
    "short_r",
    "mid_r",
    "long_r",
    "strong_neg_r",
    "weak_r",
    "strong_pos_r",
    "left_r",
    "right_r",
    "inter_r",
    "geodesic",
    "n_pairs",
)


# ---------------------------------------------------------------------- input checks
def _as_vector(values, name: str, *, allow_nan: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric (one value per pair): {exc}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per pair), got shape {arr.shape}")
    if not allow_nan and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def _as_number(value, name: str) -> float:
    """``float(value)`` or a TypeError naming the option."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None


def _check_pair_targets(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = _as_vector(y_true, "y_true")
    y_pred = _as_vector(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    return y_true, y_pred


def _check_region_pairs(X, n: int) -> RegionPairs:
    if not isinstance(X, RegionPairs):
        raise TypeError(
            "X must be the skconn.pairs.RegionPairs the predictions were made on, "
            f"got {type(X).__name__}"
        )
    if len(X) != n:
        raise ValueError(f"X has {len(X)} pairs but y_true and y_pred have {n} values")
    return X


# ---------------------------------------------------------------------- unordered pairs
def _unordered_groups(X: RegionPairs) -> tuple[np.ndarray, np.ndarray]:
    """Group index (P,) of each row's unordered pair and one representative row per group.

    Groups are numbered in order of first appearance in ``X``.
    """
    lo = np.minimum(X.pairs[:, 0], X.pairs[:, 1]).astype(np.int64)
    hi = np.maximum(X.pairs[:, 0], X.pairs[:, 1]).astype(np.int64)
    n = np.int64(X.n_regions)
    keys = (X.variant.astype(np.int64) * n + lo) * n + hi
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    return relabel[inverse.ravel()], first[order]


def _group_mean(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    counts = np.bincount(groups, minlength=n_groups)
    return np.bincount(groups, weights=values, minlength=n_groups) / counts


def unordered(y_true, y_pred, X):
    """Collapse ordered region pairs to unordered ones, averaging the orderings.

    Rows are grouped by ``(variant, min(i, j), max(i, j))``; the targets and the
    predictions of (i, j) and (j, i) are averaged. A pair present in one order
    only is kept as it is. Unordered pairs come in the order in which they first
    appear in ``X``.

    Parameters
    ----------
    y_true : array-like of shape (P,)
        True connectivity of each ordered pair.
    y_pred : array-like of shape (P,)
        Predicted connectivity of each ordered pair.
    X : RegionPairs of length P
        The pairs the values belong to.

    Returns
    -------
    y_true_u : ndarray of shape (U,)
        Mean true value of each unordered pair.
    y_pred_u : ndarray of shape (U,)
        Mean prediction of each unordered pair.
    rows : ndarray of shape (U,)
        One row of ``X`` per unordered pair (its first ordering), e.g. for
        ``X[rows].distances()``.

    Raises
    ------
    TypeError
        If ``X`` is not a RegionPairs.
    ValueError
        If the lengths disagree or a value is NaN or infinite.

    See Also
    --------
    score_report : Every metric, on unordered pairs by default.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.metrics import unordered
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(3, 2))
    >>> X.pairs.tolist()
    [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]]
    >>> y_pred = np.array([1.0, 3.0, 0.0, 0.0, 5.0, 6.0])
    >>> y_u, pred_u, rows = unordered(y, y_pred, X)
    >>> pred_u.tolist(), rows.tolist()
    ([2.0, 0.0, 5.5], [0, 2, 4])
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    X = _check_region_pairs(X, len(y_true))
    groups, rows = _unordered_groups(X)
    return (
        _group_mean(y_true, groups, len(rows)),
        _group_mean(y_pred, groups, len(rows)),
        rows,
    )


# ---------------------------------------------------------------------- correlations
def pearson_r(y_true, y_pred) -> float:
    """Pearson correlation between true and predicted connectivity.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)

    Returns
    -------
    float
        NaN, without a warning, when either input is constant or has fewer
        than two values.

    Examples
    --------
    >>> from skconn.metrics import pearson_r
    >>> round(pearson_r([0.1, 0.4, 0.2, 0.8], [0.0, 0.5, 0.1, 0.9]), 4)
    0.9883
    >>> pearson_r([0.1, 0.4, 0.2], [1.0, 1.0, 1.0])
    nan
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    if len(y_true) < 2 or y_true.min() == y_true.max() or y_pred.min() == y_pred.max():
        # constant input: the mean's rounding must not make up a correlation
        return float("nan")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        a = y_true - y_true.mean()
        b = y_pred - y_pred.mean()
        denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if not 0 < denom < np.inf:
        # values so large or small that the sums of squares overflow or underflow:
        # r is scale-free, so correlate the inputs scaled to a maximum of 1
        a = y_true / np.abs(y_true).max()
        b = y_pred / np.abs(y_pred).max()
        a, b = a - a.mean(), b - b.mean()
        denom = np.sqrt(np.dot(a, a)) * np.sqrt(np.dot(b, b))
    # Rounding can push |r| a hair above 1.
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


def spearman_r(y_true, y_pred) -> float:
    """Spearman rank correlation (Pearson r of average ranks).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)

    Returns
    -------
    float
        NaN when either input is constant or has fewer than two values.

    Examples
    --------
    >>> from skconn.metrics import spearman_r
    >>> spearman_r([0.1, 0.4, 0.2, 0.8], [0.0, 0.5, 0.1, 9.0])
    1.0
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    return pearson_r(rankdata(y_true), rankdata(y_pred))


def _masked_r(y_true, y_pred, mask, min_pairs: int) -> float:
    if int(mask.sum()) < min_pairs:
        return float("nan")
    return pearson_r(y_true[mask], y_pred[mask])


def _check_min_pairs(min_pairs) -> int:
    if isinstance(min_pairs, bool) or not isinstance(min_pairs, (int, np.integer)) or min_pairs < 0:
        raise ValueError(f"min_pairs must be a non-negative integer, got {min_pairs!r}")
    return int(min_pairs)


def distance_stratified_r(y_true, y_pred, distances, *, max_distance=180.0, min_pairs=50):
    """Pearson r within short, mid and long distance strata.

    The cut-offs are ``max_distance / 3`` and ``2 * max_distance / 3`` (60 and
    120 mm by default, the paper's text; the published code used 175 mm):
    short is ``d <= max/3``, mid is ``max/3 < d <= 2 max/3`` and long is
    ``d > 2 max/3`` (including pairs beyond ``max_distance``).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)
    distances : array-like of shape (n,)
        Distance between the two regions of each pair, in mm.
    max_distance : float, default=180.0
        The distance range (mm) split in three equal strata.
    min_pairs : int, default=50
        A stratum with fewer pairs than this gets NaN (the reference needed
        more than 100).

    Returns
    -------
    dict
        ``{"short_r": float, "mid_r": float, "long_r": float}``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.metrics import distance_stratified_r
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(0, 150, 600)
    >>> y = np.exp(-d / 40) + rng.normal(0, 0.05, 600)
    >>> r = distance_stratified_r(y, np.exp(-d / 40), d)
    >>> sorted(r)
    ['long_r', 'mid_r', 'short_r']
    >>> distance_stratified_r(y, y, d, max_distance=450.0)["long_r"]
    nan
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    distances = _as_vector(distances, "distances")
    if distances.shape != y_true.shape:
        raise ValueError(
            f"distances must have one value per pair ({len(y_true)}), got {len(distances)}"
        )
    max_distance = _as_number(max_distance, "max_distance")
    if not 0 < max_distance < np.inf:
        raise ValueError(f"max_distance must be a positive number of mm, got {max_distance!r}")
    min_pairs = _check_min_pairs(min_pairs)
    low, high = max_distance / 3, 2 * max_distance / 3
    return {
        "short_r": _masked_r(y_true, y_pred, distances <= low, min_pairs),
        "mid_r": _masked_r(y_true, y_pred, (distances > low) & (distances <= high), min_pairs),
        "long_r": _masked_r(y_true, y_pred, distances > high, min_pairs),
    }


def strength_stratified_r(y_true, y_pred, *, threshold=0.3, min_pairs=50):
    """Pearson r within strata of the *true* connectivity strength.

    strong_neg is ``y_true < -threshold``, weak is ``|y_true| <= threshold``
    and strong_pos is ``y_true > threshold``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)
    threshold : float, default=0.3
    min_pairs : int, default=50
        A stratum with fewer pairs than this gets NaN.

    Returns
    -------
    dict
        ``{"strong_neg_r": float, "weak_r": float, "strong_pos_r": float}``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.metrics import strength_stratified_r
    >>> y = np.linspace(-0.5, 0.9, 200)
    >>> r = strength_stratified_r(y, 2 * y, min_pairs=20)
    >>> {k: round(v, 3) for k, v in r.items()}
    {'strong_neg_r': 1.0, 'weak_r': 1.0, 'strong_pos_r': 1.0}
    >>> strength_stratified_r(y, 2 * y)["strong_neg_r"]
    nan
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    threshold = _as_number(threshold, "threshold")
    if not threshold >= 0:
        raise ValueError(f"threshold must be non-negative, got {threshold!r}")
    min_pairs = _check_min_pairs(min_pairs)
    return {
        "strong_neg_r": _masked_r(y_true, y_pred, y_true < -threshold, min_pairs),
        "weak_r": _masked_r(y_true, y_pred, np.abs(y_true) <= threshold, min_pairs),
        "strong_pos_r": _masked_r(y_true, y_pred, y_true > threshold, min_pairs),
    }


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
    pseudo-distance from singular values of zero-diagonal matrices (REFERENCE
    §5); this is the proper affine-invariant distance of REFERENCE §9.4.

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


# ---------------------------------------------------------------------- report
def score_report(
    y_true,
    y_pred,
    X,
    *,
    unordered=True,
    max_distance=180.0,
    min_pairs=50,
    networks=None,
) -> dict:
    """Every metric of REFERENCE §5 for one set of predicted region pairs.

    Parameters
    ----------
    y_true : array-like of shape (P,)
        True connectivity of each row of ``X``.
    y_pred : array-like of shape (P,)
        Predicted connectivity of each row of ``X``.
    X : RegionPairs of length P
        The pairs that were predicted (usually the test pairs of one fold).
    unordered : bool, default=True
        Score unordered pairs, the predictions of (i, j) and (j, i) averaged
        (see :func:`unordered`). ``False`` scores every ordered row, as the
        published code did.
    max_distance : float, default=180.0
        Range split into the short, mid and long strata, mm.
    min_pairs : int, default=50
        Strata with fewer pairs get NaN.
    networks : array-like of shape (n_regions,), False or None, default=None
        Functional network of each region of ``X``, for the subnetwork metrics.
        None reads them from the region table (:func:`region_networks`: a
        ``network`` column or Schaefer labels) and leaves the subnetwork metrics
        out where it has none; False leaves them out.

    Returns
    -------
    dict
        ``pearson_r``, ``spearman_r``, ``r2`` (sklearn's :func:`~sklearn.metrics.r2_score`,
        against the mean of the scored values, so it can be negative), ``mse``, ``mae``,
        ``short_r``, ``mid_r``, ``long_r`` (:func:`distance_stratified_r`),
        ``strong_neg_r``, ``weak_r``, ``strong_pos_r`` (:func:`strength_stratified_r`),
        ``left_r``, ``right_r``, ``inter_r`` (:func:`hemispheric_r`),
        ``geodesic`` and ``n_pairs`` (the number of values scored), in the order of
        :data:`REPORT_KEYS`; then, where networks are known, ``intra_r_<network>``
        and ``inter_r_<network>`` for each network (:func:`network_r`). ``geodesic``
        (:func:`geodesic_distance`) is computed only when the pairs are every pair
        of their regions in a single variant, as with the test-test pairs of a
        region split: the true and predicted (n, n) matrices are rebuilt from the
        unordered values with a unit diagonal. It is NaN otherwise.

    Raises
    ------
    TypeError
        If ``X`` is not a RegionPairs.
    ValueError
        If there are no pairs, the lengths disagree or ``y_true`` or ``y_pred``
        holds NaN or infinite values.

    See Also
    --------
    skconn.metrics.get_scorer : The same metrics as ``scoring=`` objects.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.metrics import score_report
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(12, 3))
    >>> report = score_report(y, y, X, min_pairs=10)
    >>> report["pearson_r"], report["mse"], report["geodesic"], report["n_pairs"]
    (1.0, 0.0, 0.0, 66)
    >>> score_report(y, y, X, unordered=False)["n_pairs"]
    132
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    X = _check_region_pairs(X, len(y_true))
    if len(X) == 0:
        raise ValueError("there are no pairs to score (X is empty)")
    if not isinstance(unordered, (bool, np.bool_)):
        raise TypeError(f"unordered must be True or False, got {unordered!r}")
    groups, rows = _unordered_groups(X)
    y_true_u = _group_mean(y_true, groups, len(rows))
    y_pred_u = _group_mean(y_pred, groups, len(rows))
    if unordered:
        yt, yp, distances = y_true_u, y_pred_u, X[rows].distances()
    else:
        yt, yp, distances = y_true, y_pred, X.distances()
    report = {
        "pearson_r": pearson_r(yt, yp),
        "spearman_r": spearman_r(yt, yp),
        "r2": float(r2_score(yt, yp)) if len(yt) >= 2 else float("nan"),
        "mse": float(mean_squared_error(yt, yp)),
        "mae": float(mean_absolute_error(yt, yp)),
    }
    report.update(
        distance_stratified_r(yt, yp, distances, max_distance=max_distance, min_pairs=min_pairs)
    )
    report.update(strength_stratified_r(yt, yp, min_pairs=min_pairs))
    from ._groups import hemispheric_r, network_r, region_networks  # they import this module

    pairs = X.pairs[rows] if unordered else X.pairs
    hemispheres = X.regions["hemisphere"].to_numpy(dtype=object)
    report.update(hemispheric_r(yt, yp, hemispheres[pairs], min_pairs=min_pairs))
    report["geodesic"] = _grid_geodesic(y_true_u, y_pred_u, X, rows)
    report["n_pairs"] = len(yt)
    if networks is None:
        networks = region_networks(X.regions)
    elif networks is not False:
        networks = np.asarray(networks, dtype=object)
        if networks.shape != (X.n_regions,):
            raise ValueError(
                f"networks must give one label per region ({X.n_regions}), "
                f"got shape {networks.shape}"
            )
    if networks is not None and networks is not False:
        report.update(network_r(yt, yp, networks[pairs], min_pairs=min_pairs))
    return report

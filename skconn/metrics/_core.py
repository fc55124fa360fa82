"""Core metrics of predicted region-pair connectivity: correlations and strata.

Every function here works on plain arrays (plus the input checks and the
unordered-pair averaging that the group metrics, the report and the scorers
share); nothing here imports another metrics module.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from ..pairs import RegionPairs

__all__ = [
    "distance_stratified_r",
    "pearson_r",
    "spearman_r",
    "strength_stratified_r",
    "unordered",
]


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
    masks = _distance_masks(distances, max_distance)
    return {key: _masked_r(y_true, y_pred, mask, min_pairs) for key, mask in masks.items()}


def _distance_masks(distances: np.ndarray, max_distance: float) -> dict:
    """The pairs of each distance stratum: short, mid and long, boolean (n,) masks."""
    low, high = max_distance / 3, 2 * max_distance / 3
    return {
        "short_r": distances <= low,
        "mid_r": (distances > low) & (distances <= high),
        "long_r": distances > high,
    }


def _strength_masks(y_true: np.ndarray, threshold: float) -> dict:
    """The pairs of each strength stratum of the true connectivity, boolean (n,) masks."""
    return {
        "strong_neg_r": y_true < -threshold,
        "weak_r": np.abs(y_true) <= threshold,
        "strong_pos_r": y_true > threshold,
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
    masks = _strength_masks(y_true, threshold)
    return {key: _masked_r(y_true, y_pred, mask, min_pairs) for key, mask in masks.items()}


# ---------------------------------------------------------------------- geodesic distance

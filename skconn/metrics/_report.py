"""The full metric report of one set of predicted region pairs."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from ._core import (
    _check_pair_targets,
    _check_region_pairs,
    _group_mean,
    _unordered_groups,
    distance_stratified_r,
    pearson_r,
    spearman_r,
    strength_stratified_r,
)
from ._geodesic import _grid_geodesic
from ._groups import hemispheric_r, network_r, region_networks

__all__ = ["REPORT_KEYS", "score_report"]

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
    """Every metric of the paper's evaluation for one set of predicted region pairs.

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

"""Out-of-fold predictions of every region pair under a region splitter."""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import Bunch

from ..pairs import RegionPairs
from ._split import RandomRegionSplit, _BaseRegionSplit

__all__ = ["cross_val_predict"]

_CROSS_PAIRS = ("nan", "predict")


def _region_folds(X: RegionPairs, splits, test_cross_pairs: bool) -> np.ndarray:
    """Fold of every region of X's table (-1 for regions in no test fold), (R,) int.

    A fold's test regions are read from the rows the splitter yielded: the regions
    of its test rows when test rows hold only within-fold pairs, else the regions
    missing from its training rows.
    """
    region_fold = np.full(X.n_regions, -1, dtype=np.intp)
    present = np.unique(X.pairs[np.concatenate([np.concatenate(s) for s in splits])])
    for k, (train, test) in enumerate(splits):
        if test_cross_pairs:
            test_regions = np.setdiff1d(present, X.pairs[train])
        else:
            test_regions = np.unique(X.pairs[test])
        if (region_fold[test_regions] >= 0).any():
            raise ValueError(
                "the splitter's test folds overlap in regions; cross_val_predict needs each "
                "region in at most one test fold"
            )
        region_fold[test_regions] = k
    return region_fold


def _fit_params_for(fit_params: dict, rows: np.ndarray, n: int) -> dict:
    """Index the sample-aligned fit parameters (length ``n``) by the training rows."""
    out = {}
    for key, value in fit_params.items():
        if hasattr(value, "__len__") and not isinstance(value, (str, dict)) and len(value) == n:
            out[key] = value.iloc[rows] if hasattr(value, "iloc") else np.asarray(value)[rows]
        else:
            out[key] = value
    return out


def _fit_and_predict(estimator, X, y, train, predict_rows, fit_params):
    """Fit a clone on the training rows and predict the rows it may honestly predict."""
    model = clone(estimator)
    model.fit(X[train], y[train], **_fit_params_for(fit_params, train, len(X)))
    if not len(predict_rows):
        return np.empty(0)
    return np.asarray(model.predict(X[predict_rows]), dtype=float).reshape(-1)


def cross_val_predict(
    estimator,
    X: RegionPairs,
    y,
    *,
    cv=None,
    cross_pairs: str = "nan",
    n_jobs: int | None = None,
    fit_params: dict | None = None,
    verbose: int = 0,
) -> Bunch:
    """Out-of-fold prediction of every region pair under region-level folds.

    A region splitter such as :class:`RandomRegionSplit` assigns each region to
    one test fold. The pairs of two regions of the same fold are test pairs of
    that fold and get its model's prediction. The *cross pairs*, one region in
    fold a and one in fold b, are in no test set (so
    :func:`sklearn.model_selection.cross_val_predict` refuses these folds, "only
    works for partitions"); they are left as NaN and marked, or, on request,
    predicted honestly (see ``cross_pairs``).

    Parameters
    ----------
    estimator : estimator
        A regressor taking ``RegionPairs`` (a skconn model or a pipeline ending
        in one); it is cloned for every fold.
    X : RegionPairs of length P
        Region pairs from :func:`skconn.pairs.make_pairs`. Only the rows of the
        variant the splitter folds (the true data when present) are predicted.
    y : array-like of shape (P,)
        Observed connectivity of each pair.
    cv : region splitter, default=None
        :class:`RandomRegionSplit`, :class:`SpatialRegionSplit` or another
        subclass of their base. ``None`` means ``RandomRegionSplit(n_splits=4)``
        (unseeded: pass a splitter with ``random_state`` for reproducible folds).
    cross_pairs : {"nan", "predict"}, default="nan"
        What the cross pairs get. ``"nan"``: no prediction (NaN), since no fold
        holds them out with both regions unseen. ``"predict"``: the mean of the
        predictions of the two fold models whose test folds hold one of the
        pair's regions each. Neither model trained on the pair, but each saw one
        of its two regions in training, so these predictions are easier than
        the test pairs' and are reported apart (``is_cross``); they need a
        splitter with ``train_cross_pairs=False``.
    n_jobs : int, default=None
        Folds fitted in parallel by :class:`joblib.Parallel`; ``None`` means 1
        unless in a :func:`joblib.parallel_backend` context, -1 means all cores.
    fit_params : dict, default=None
        Keyword arguments of ``estimator.fit``; values of length P are indexed
        by each fold's training rows, others passed as they are.
    verbose : int, default=0
        Verbosity of :class:`joblib.Parallel`.

    Returns
    -------
    result : sklearn.utils.Bunch
        With keys

        ``predictions`` : ndarray of shape (P,)
            Out-of-fold prediction of every row of X; NaN for rows not predicted
            (cross pairs with ``cross_pairs="nan"``, rows of other variants).
        ``fold`` : ndarray of shape (P,), int
            The fold whose test set held the row; -1 for cross pairs and rows of
            other variants.
        ``is_cross`` : ndarray of shape (P,), bool
            Rows of the folded variant whose two regions lie in different folds.
        ``region_fold`` : ndarray of shape (R,), int
            Test fold of each region of X's region table (-1 if in none).
        ``matrix`` : ndarray of shape (R, R)
            Predicted connectome in the order of ``X.labels``: entry (i, j) is
            the mean of the predictions of (i, j) and (j, i) (unordered pairs
            averaged, so it is symmetric), NaN where neither was predicted and
            on the diagonal.
        ``coverage`` : float
            Fraction of the folded variant's rows that got a prediction.

    Raises
    ------
    TypeError
        If ``cv`` is not a region splitter or X is not a ``RegionPairs``.
    ValueError
        On an unknown ``cross_pairs``, ``cross_pairs="predict"`` with a
        splitter that trains on cross pairs, or y of the wrong length.

    See Also
    --------
    sklearn.model_selection.cross_val_predict : The same over a partition of rows.
    skconn.metrics.score_report : Metrics of the test pairs' predictions.

    Notes
    -----
    With ``train_cross_pairs=True`` every cross pair is in the training set of
    every fold, so it has no out-of-fold prediction at all and stays NaN. With
    ``test_cross_pairs=True`` the splitter tests each cross pair in two folds;
    here it is treated as a cross pair all the same (NaN or the mean of those
    two folds).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.model_selection import RandomRegionSplit, cross_val_predict
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(12, 3))
    >>> cv = RandomRegionSplit(n_splits=3, random_state=0)
    >>> result = cross_val_predict(Ridge(), X, y, cv=cv)
    >>> result.predictions.shape, result.matrix.shape
    ((132,), (12, 12))
    >>> round(result.coverage, 3)  # 3 folds of 4 regions: 3 * 12 of 132 pairs
    0.273
    >>> bool(np.isnan(result.predictions[result.is_cross]).all())
    True
    >>> result = cross_val_predict(Ridge(), X, y, cv=cv, cross_pairs="predict")
    >>> result.coverage
    1.0
    """
    if not isinstance(X, RegionPairs):
        raise TypeError(
            "cross_val_predict needs X as a RegionPairs from skconn.pairs.make_pairs, "
            f"got {type(X).__name__}"
        )
    if cv is None:
        cv = RandomRegionSplit(n_splits=4)
    if not isinstance(cv, _BaseRegionSplit):
        raise TypeError(
            "cv must be a region splitter (RandomRegionSplit, SpatialRegionSplit or a "
            f"subclass of their base), got {cv!r}; a splitter of rows would put the same "
            "regions in training and test"
        )
    if cross_pairs not in _CROSS_PAIRS:
        raise ValueError(f"cross_pairs must be one of {_CROSS_PAIRS}, got {cross_pairs!r}")
    if cross_pairs == "predict" and cv.train_cross_pairs:
        raise ValueError(
            "cross_pairs='predict' needs a splitter with train_cross_pairs=False: with "
            "train_cross_pairs=True every fold trains on the cross pairs, so none of them "
            "has an out-of-fold prediction"
        )
    y = np.asarray(y, dtype=float).reshape(-1) if y is not None else None
    if y is None or len(y) != len(X):
        raise ValueError(
            f"y must hold one value per row of X ({len(X)} rows), got "
            f"{'None' if y is None else len(y)}"
        )
    fit_params = {} if fit_params is None else dict(fit_params)

    splits = list(cv.split(X, y))
    variant = cv._split_variant(X)
    region_fold = _region_folds(X, splits, bool(cv.test_cross_pairs))
    rows = np.flatnonzero(X.variant == variant)
    folds_ij = region_fold[X.pairs[rows]]
    within = (folds_ij[:, 0] == folds_ij[:, 1]) & (folds_ij[:, 0] >= 0)
    cross = (folds_ij[:, 0] != folds_ij[:, 1]) & (folds_ij >= 0).all(axis=1)

    predict_rows = []
    for k in range(len(splits)):
        mine = (folds_ij == k).any(axis=1)
        wanted = mine & within
        if cross_pairs == "predict":
            wanted |= mine & cross
        predict_rows.append(rows[wanted])

    fold_predictions = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_predict)(estimator, X, y, train, predict_rows[k], fit_params)
        for k, (train, _) in enumerate(splits)
    )

    total = np.zeros(len(X))
    count = np.zeros(len(X))
    for k, values in enumerate(fold_predictions):
        np.add.at(total, predict_rows[k], values)
        np.add.at(count, predict_rows[k], 1.0)
    predictions = np.full(len(X), np.nan)
    done = count > 0
    predictions[done] = total[done] / count[done]

    fold = np.full(len(X), -1, dtype=np.intp)
    fold[rows[within]] = folds_ij[within, 0]
    is_cross = np.zeros(len(X), dtype=bool)
    is_cross[rows[cross]] = True

    n = X.n_regions
    sums = np.zeros((n, n))
    counts = np.zeros((n, n))
    hit = rows[done[rows]]
    i, j = X.pairs[hit, 0], X.pairs[hit, 1]
    for a, b in ((i, j), (j, i)):
        np.add.at(sums, (a, b), predictions[hit])
        np.add.at(counts, (a, b), 1.0)
    matrix = np.full((n, n), np.nan)
    np.divide(sums, counts, out=matrix, where=counts > 0)
    np.fill_diagonal(matrix, np.nan)

    return Bunch(
        predictions=predictions,
        fold=fold,
        is_cross=is_cross,
        region_fold=region_fold,
        matrix=matrix,
        coverage=float(done[rows].mean()) if len(rows) else float("nan"),
    )

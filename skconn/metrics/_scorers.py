"""Scorer objects for ``scoring=`` in scikit-learn's model selection tools.

A scikit-learn scorer built with :func:`~sklearn.metrics.make_scorer` only sees
``y_true`` and ``y_pred``, so it cannot average the two orderings of a pair or
find its distance. The scorers here are plain callables ``(estimator, X, y) ->
float``, which scikit-learn accepts wherever ``scoring=`` is, and they read the
pairs from ``X``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from ..pairs import RegionPairs
from ._core import (
    _check_min_pairs,
    _check_pair_targets,
    _check_region_pairs,
    _distance_masks,
    _group_mean,
    _strength_masks,
    _unordered_groups,
    distance_stratified_r,
    pearson_r,
    spearman_r,
    strength_stratified_r,
)
from ._geodesic import _grid_geodesic
from ._groups import hemispheric_r

__all__ = ["PairScorer", "get_scorer", "get_scorer_names", "pearson_scorer", "scorers"]

# Scorer name -> (metric key of score_report, sign that makes greater better).
_METRICS = {
    "pearson": ("pearson_r", 1.0),
    "spearman": ("spearman_r", 1.0),
    "r2": ("r2", 1.0),
    "neg_mean_squared_error": ("mse", -1.0),
    "neg_mean_absolute_error": ("mae", -1.0),
    "short_r": ("short_r", 1.0),
    "mid_r": ("mid_r", 1.0),
    "long_r": ("long_r", 1.0),
    "strong_neg_r": ("strong_neg_r", 1.0),
    "weak_r": ("weak_r", 1.0),
    "strong_pos_r": ("strong_pos_r", 1.0),
    "left_r": ("left_r", 1.0),
    "right_r": ("right_r", 1.0),
    "inter_r": ("inter_r", 1.0),
    "neg_geodesic": ("geodesic", -1.0),
}
_ALIASES = {"neg_mse": "neg_mean_squared_error", "neg_mae": "neg_mean_absolute_error"}
_DISTANCE_KEYS = ("short_r", "mid_r", "long_r")
_STRENGTH_KEYS = ("strong_neg_r", "weak_r", "strong_pos_r")
_HEMISPHERE_KEYS = ("left_r", "right_r", "inter_r")


def _compute(key, y_true, y_pred, X, *, unordered, max_distance, min_pairs) -> float:
    """One metric of :func:`score_report`, computing nothing else."""
    is_pairs = isinstance(X, RegionPairs)
    if key in (*_DISTANCE_KEYS, *_HEMISPHERE_KEYS, "geodesic") and not is_pairs:
        raise ValueError(
            f"{key!r} needs the pair regions: pass X as a skconn.pairs.RegionPairs, "
            f"not {type(X).__name__}"
        )
    if is_pairs:
        X = _check_region_pairs(X, len(y_true))
    if len(y_true) == 0:
        raise ValueError("there are no pairs to score (X is empty)")
    rows = None
    if is_pairs and (unordered or key == "geodesic"):
        groups, rows = _unordered_groups(X)
        y_true = _group_mean(y_true, groups, len(rows))
        y_pred = _group_mean(y_pred, groups, len(rows))
    if key == "geodesic":
        return _grid_geodesic(y_true, y_pred, X, rows)
    if key == "pearson_r":
        return pearson_r(y_true, y_pred)
    if key == "spearman_r":
        return spearman_r(y_true, y_pred)
    if key == "r2":
        return float(r2_score(y_true, y_pred)) if len(y_true) >= 2 else float("nan")
    if key == "mse":
        return float(mean_squared_error(y_true, y_pred))
    if key == "mae":
        return float(mean_absolute_error(y_true, y_pred))
    if key in _DISTANCE_KEYS:
        distances = (X[rows] if rows is not None else X).distances()
        strata = distance_stratified_r(
            y_true, y_pred, distances, max_distance=max_distance, min_pairs=min_pairs
        )
        mask = _distance_masks(distances, float(max_distance))[key]
        return _warn_if_too_few(key, strata[key], int(mask.sum()), min_pairs, rows is not None)
    if key in _HEMISPHERE_KEYS:
        pairs = (X[rows] if rows is not None else X).pairs
        hemispheres = X.regions["hemisphere"].to_numpy(dtype=object)[pairs]
        return hemispheric_r(y_true, y_pred, hemispheres, min_pairs=min_pairs)[key]
    value = strength_stratified_r(y_true, y_pred, min_pairs=min_pairs)[key]
    n = int(_strength_masks(y_true, 0.3)[key].sum())
    return _warn_if_too_few(key, value, n, min_pairs, rows is not None)


def _warn_if_too_few(key, value: float, n: int, min_pairs, unordered) -> float:
    """``value``; a UserWarning says why when it is NaN for too few pairs in its stratum."""
    min_pairs = _check_min_pairs(min_pairs)
    if np.isnan(value) and n < min_pairs:
        kind = "unordered pairs" if unordered else "pairs"
        warnings.warn(
            f"{key} is NaN: its stratum holds {n} {kind} of the scored set, fewer than "
            f"min_pairs={min_pairs}; score more pairs or lower min_pairs",
            UserWarning,
            stacklevel=3,
        )
    return value


class PairScorer:
    """A ``scoring=`` callable that scores region-pair predictions.

    Calling it as ``scorer(estimator, X, y)`` predicts ``X`` and returns one
    metric of :func:`~skconn.metrics.score_report`, signed so that greater is
    better (errors and the geodesic distance are negated). With a
    :class:`~skconn.pairs.RegionPairs` ``X`` it scores unordered pairs by
    default; with a dense (P, 2F) array it scores the rows as given, and the
    distance strata and the geodesic distance are unavailable.

    Parameters
    ----------
    metric : str
        One of :func:`get_scorer_names`, e.g. ``"pearson"``, ``"short_r"`` or
        ``"neg_mean_squared_error"`` (alias ``"neg_mse"``).
    unordered : bool, default=True
        Average the predictions of (i, j) and (j, i) before scoring (RegionPairs
        input only).
    max_distance : float, default=180.0
        Range split into the short, mid and long strata, mm.
    min_pairs : int, default=50
        Strata with fewer pairs score NaN, with a ``UserWarning`` naming the
        metric, the stratum's pair count and ``min_pairs`` (distance and
        strength strata).

    Attributes
    ----------
    key : str
        The :func:`~skconn.metrics.score_report` entry it returns.
    sign : float
        +1.0, or -1.0 for errors and distances.

    See Also
    --------
    get_scorer : Get a scorer by name.
    scorers : Several scorers for multi-metric ``cross_validate``.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.metrics import PairScorer
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(10, 4))
    >>> model = Ridge().fit(X, y)
    >>> scorer = PairScorer("neg_mse", unordered=False)
    >>> scorer
    PairScorer('neg_mean_squared_error', unordered=False)
    >>> scorer(model, X, y) <= 0
    True
    """

    def __init__(self, metric, *, unordered=True, max_distance=180.0, min_pairs=50):
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a scorer name (str), got {type(metric).__name__}")
        name = _ALIASES.get(metric, metric)
        if name not in _METRICS:
            raise ValueError(f"metric must be one of {get_scorer_names()}, got {metric!r}")
        if not isinstance(unordered, (bool, np.bool_)):
            raise TypeError(f"unordered must be True or False, got {unordered!r}")
        self.metric = name
        self.unordered = unordered
        self.max_distance = max_distance
        self.min_pairs = min_pairs

    @property
    def key(self) -> str:
        return _METRICS[self.metric][0]

    @property
    def sign(self) -> float:
        return _METRICS[self.metric][1]

    def __call__(self, estimator, X, y) -> float:
        """Predict ``X`` with ``estimator`` and score against ``y``.

        Parameters
        ----------
        estimator : fitted estimator with ``predict``
        X : RegionPairs or array-like of shape (P, 2F)
        y : array-like of shape (P,)

        Returns
        -------
        float
        """
        y_true, y_pred = _check_pair_targets(y, estimator.predict(X))
        value = _compute(
            self.key,
            y_true,
            y_pred,
            X,
            unordered=self.unordered,
            max_distance=self.max_distance,
            min_pairs=self.min_pairs,
        )
        return float(self.sign * value)

    def __repr__(self) -> str:
        defaults = {"unordered": True, "max_distance": 180.0, "min_pairs": 50}
        extra = "".join(
            f", {name}={getattr(self, name)!r}"
            for name, default in defaults.items()
            if getattr(self, name) != default
        )
        return f"PairScorer({self.metric!r}{extra})"


#: Pearson r on unordered pairs: ``PairScorer("pearson")``.
pearson_scorer = PairScorer("pearson")


def get_scorer_names() -> list[str]:
    """Names that :func:`get_scorer` resolves to skconn scorers.

    Any other name is passed to :func:`sklearn.metrics.get_scorer`; see
    :func:`sklearn.metrics.get_scorer_names` for those.

    Returns
    -------
    list of str
        Sorted, aliases included.

    Examples
    --------
    >>> from skconn.metrics import get_scorer_names
    >>> "pearson" in get_scorer_names(), "neg_mse" in get_scorer_names()
    (True, True)
    """
    return sorted([*_METRICS, *_ALIASES])


def get_scorer(scoring):
    """Get a scorer by name, skconn's first and then scikit-learn's.

    Parameters
    ----------
    scoring : str or callable
        A name of :func:`get_scorer_names` gives a :class:`PairScorer` with
        default options; any other name is looked up with
        :func:`sklearn.metrics.get_scorer` (which scores ordered rows and knows
        nothing of pairs); a callable is returned as is.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Raises
    ------
    ValueError
        If the name is neither skconn's nor scikit-learn's.
    TypeError
        If ``scoring`` is neither a string nor a callable.

    Examples
    --------
    >>> from skconn.metrics import get_scorer
    >>> get_scorer("short_r")
    PairScorer('short_r')
    >>> get_scorer("neg_mse")
    PairScorer('neg_mean_squared_error')
    >>> get_scorer("explained_variance")
    make_scorer(explained_variance_score, response_method='predict')
    """
    if callable(scoring):
        return scoring
    if not isinstance(scoring, str):
        raise TypeError(
            f"scoring must be a scorer name or a callable, got {type(scoring).__name__}"
        )
    if _ALIASES.get(scoring, scoring) in _METRICS:
        return PairScorer(scoring)
    try:
        return _sklearn_get_scorer(scoring)
    except ValueError:
        raise ValueError(
            f"{scoring!r} is not a valid scoring name: use one of skconn's "
            f"{get_scorer_names()} or a scikit-learn name "
            "(sklearn.metrics.get_scorer_names())"
        ) from None


def scorers(*names, **options) -> dict:
    """Several scorers by name, for multi-metric ``cross_validate`` or a search.

    Parameters
    ----------
    *names : str
        Scorer names (see :func:`get_scorer`); every skconn scorer without its
        aliases when none are given.
    **options
        ``unordered``, ``max_distance`` and ``min_pairs``, passed to every
        :class:`PairScorer` (not to scikit-learn scorers).

    Notes
    -----
    The distance strata and the geodesic distance need a
    :class:`~skconn.pairs.RegionPairs` input; with a dense ``X`` ask for the
    other scorers by name.

    Returns
    -------
    dict
        ``{name: scorer}``, ready for ``scoring=``.

    Examples
    --------
    >>> from skconn.metrics import scorers
    >>> scorers("pearson", "neg_mse", "explained_variance")
    {'pearson': PairScorer('pearson'), 'neg_mse': PairScorer('neg_mean_squared_error'),
     'explained_variance': make_scorer(explained_variance_score, response_method='predict')}
    >>> list(scorers(min_pairs=20))[:3]
    ['pearson', 'spearman', 'r2']
    """
    unknown = set(options) - {"unordered", "max_distance", "min_pairs"}
    if unknown:
        raise TypeError(f"scorers() got unexpected option(s) {sorted(unknown)}")
    if not names:
        names = tuple(_METRICS)
    out = {}
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"scorer names must be strings, got {type(name).__name__}")
        if _ALIASES.get(name, name) in _METRICS:
            out[name] = PairScorer(name, **options)
        else:
            out[name] = get_scorer(name)
    return out

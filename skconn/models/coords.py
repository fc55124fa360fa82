"""A coordinates-only baseline: gradient boosting on the two regions' MNI centroids."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._persistence import VersionedStateMixin
from ..pairs import RegionPairs
from ._input import PairGraph, check_pair_input

__all__ = ["CoordinateRegressor"]


def pair_coordinate_features(graph: PairGraph) -> np.ndarray:
    """Order-free features of each pair's two points, (P, 3k + 2).

    Per coordinate the smaller and the larger of the two values and their
    absolute difference, then the Euclidean distance and the distance with both
    points folded onto the left hemisphere (``x -> -|x|``; homotopic pairs are
    close). Swapping the two regions of a pair leaves every feature unchanged.
    """
    points = graph.coords if graph.coords is not None else graph.features
    points = np.asarray(points, dtype=float)
    a, b = points[graph.left], points[graph.right]
    folded = points.copy()
    folded[:, 0] = -np.abs(folded[:, 0])
    return np.column_stack([
        np.minimum(a, b),
        np.maximum(a, b),
        np.abs(a - b),
        np.linalg.norm(a - b, axis=1),
        np.linalg.norm(folded[graph.left] - folded[graph.right], axis=1),
    ])


class CoordinateRegressor(VersionedStateMixin, RegressorMixin, BaseEstimator):
    """Connectivity from the two regions' positions alone (a non-neural baseline).

    A :class:`~sklearn.ensemble.HistGradientBoostingRegressor` on symmetric
    features of the pair's two MNI centroids (per axis the smaller and larger
    coordinate and their difference, the Euclidean distance and the distance
    with the hemispheres folded together), so that the prediction for (i, j)
    equals that for (j, i). It sees no expression: it is the bar any
    coordinate-aware model must clear (Ratzan et al., NeurIPS 2025, report an
    MLP on coordinates alone at r = 0.72 on UK Biobank S456), and it scores the
    same on the true data and on every spatial null, whose expression alone is
    permuted.

    Parameters
    ----------
    max_iter : int, default=200
        Boosting iterations.
    learning_rate : float, default=0.1
    max_leaf_nodes : int, default=31
    min_samples_leaf : int, default=20
    l2_regularization : float, default=0.0
    random_state : int, RandomState instance or None, default=None
        Seeds the booster (its early-stopping split and binning subsample).

    Attributes
    ----------
    regressor_ : HistGradientBoostingRegressor
        The fitted booster.
    n_iter_ : int
        Boosting iterations run.
    n_features_in_ : int
        Columns of X (the expression features are ignored for RegionPairs).

    See Also
    --------
    ExpDecayRegressor : Connectivity from distance alone.

    Notes
    -----
    On RegionPairs the centroids are read from the region table (never
    permuted by nulls); on a dense (P, 2k) array the two halves of each row are
    taken as the two points. Predict on the kind of input fitted on.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.models import CoordinateRegressor
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(20, 3))
    >>> model = CoordinateRegressor(max_iter=20, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (380,)
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(numbers.Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(numbers.Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, max_iter=200, learning_rate=0.1, max_leaf_nodes=31,
                 min_samples_leaf=20, l2_regularization=0.0, random_state=None):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the booster on the pairs' coordinate features.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2k)
            Region pairs, or dense rows ``[point_i, point_j]``.
        y : array-like of shape (P,)

        Returns
        -------
        self : CoordinateRegressor
        """
        graph, y = check_pair_input(self, X, y, reset=True)
        self._fitted_on_region_pairs = isinstance(X, RegionPairs)
        self.regressor_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(pair_coordinate_features(graph), y)
        self.n_iter_ = int(self.regressor_.n_iter_)
        return self

    def predict(self, X):
        """Predict connectivity from the two centroids.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2k)

        Returns
        -------
        ndarray of shape (P,)
        """
        check_is_fitted(self)
        if isinstance(X, RegionPairs) != self._fitted_on_region_pairs:
            fitted = "RegionPairs (region centroids)" if self._fitted_on_region_pairs else (
                "a dense array (the two halves of each row as points)")
            raise TypeError(
                f"CoordinateRegressor was fitted on {fitted} but X is a "
                f"{type(X).__name__}: predict on the same kind of input"
            )
        graph = check_pair_input(self, X, reset=False)
        return self.regressor_.predict(pair_coordinate_features(graph))

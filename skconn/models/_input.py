"""Turning estimator input (RegionPairs or a dense pair matrix) into a region graph.

Every estimator of skconn works on *nodes* (the distinct regions of its input,
as seen in their variant) and on the pairs between them. This module is the one
place that knows how both kinds of input map to that view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from .._arguments import naming_argument
from ..pairs import RegionPairs

__all__ = ["PairGraph", "check_pair_input", "node_targets"]


@dataclass
class PairGraph:
    """Distinct regions (nodes) of an input and its pairs between them.

    Attributes
    ----------
    features : ndarray of shape (n, F)
        Features of each node.
    coords : ndarray of shape (n, 3) or None
        MNI centroid of each node (``None`` for dense input).
    left, right : ndarray of shape (P,)
        Node index of each pair's first and second region.
    """

    features: np.ndarray
    coords: np.ndarray | None
    left: np.ndarray
    right: np.ndarray

    @property
    def n_nodes(self) -> int:
        return self.features.shape[0]

    @property
    def n_pairs(self) -> int:
        return self.left.shape[0]


def _by_first_appearance(first: np.ndarray, inverse: np.ndarray):
    """Renumber ``np.unique`` output so that nodes count in order of first appearance.

    Parameters
    ----------
    first : ndarray of shape (n,)
        Position of each unique value's first occurrence (``return_index``).
    inverse : ndarray
        Unique index of each occurrence (``return_inverse``).

    Returns
    -------
    order : ndarray of shape (n,)
        The unique values' indices in the new numbering order.
    inverse : ndarray
        The new node index of each occurrence.
    """
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return order, rank[np.ravel(inverse)]


def _graph_from_region_pairs(X: RegionPairs) -> PairGraph:
    rows_i, rows_j = X.feature_rows()
    n_rows = X.n_regions
    # interleaved (i_0, j_0, i_1, j_1, ...): nodes are numbered as they first appear
    # in X's rows, exactly as for the dense export (same inner folds for one seed)
    keys = np.column_stack([rows_i * n_rows + X.pairs[:, 0], rows_j * n_rows + X.pairs[:, 1]])
    uniq, first, inverse = np.unique(keys.ravel(), return_index=True, return_inverse=True)
    order, inverse = _by_first_appearance(first, inverse)
    rows, regions = np.divmod(uniq[order], n_rows)
    return PairGraph(
        features=X.feature_table[rows],
        coords=X.coords[regions],
        left=inverse[0::2],
        right=inverse[1::2],
    )


def _graph_from_dense(X: np.ndarray) -> PairGraph:
    F = X.shape[1] // 2
    halves = X.reshape(2 * X.shape[0], F)  # rows (i_0, j_0, i_1, j_1, ...)
    nodes, first, inverse = np.unique(halves, axis=0, return_index=True, return_inverse=True)
    order, inverse = _by_first_appearance(first, inverse)
    return PairGraph(
        features=nodes[order], coords=None, left=inverse[0::2], right=inverse[1::2]
    )


def check_pair_input(estimator, X, y=None, *, reset: bool = True):
    """Validate estimator input and return its :class:`PairGraph` (and ``y``).

    ``X`` is a :class:`~skconn.pairs.RegionPairs` or a dense (P, 2F) array whose
    rows are ``[features of region i, features of region j]``; identical half-rows
    are taken to be the same region.

    Parameters
    ----------
    estimator : BaseEstimator
        Receives ``n_features_in_`` when ``reset``; checked against it otherwise.
    X : RegionPairs or array-like of shape (P, 2F)
    y : array-like of shape (P,), default=None
        Required when ``reset`` (in ``fit``).
    reset : bool, default=True
        True in ``fit``, False in ``predict``.

    Returns
    -------
    graph : PairGraph
    y : ndarray of shape (P,)
        Only when ``y`` is given.
    """
    if not reset:
        check_is_fitted(estimator)
    elif y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )
    if isinstance(X, RegionPairs):
        if len(X) == 0:
            raise ValueError("X holds no region pairs (0 samples)")
        n_in = X.shape[1]
        if reset:
            estimator.n_features_in_ = n_in
            estimator._region_feature_names = np.asarray(X.feature_names, dtype=object)
            estimator.feature_names_in_ = X.pair_feature_names
        else:
            if n_in != estimator.n_features_in_:
                raise ValueError(
                    f"X has {n_in} features, but {type(estimator).__name__} is expecting "
                    f"{estimator.n_features_in_} features as input ({n_in // 2} per region "
                    f"instead of {estimator.n_features_in_ // 2})"
                )
            _check_region_feature_names(estimator, X)
        graph = _graph_from_region_pairs(X)
        if y is not None:
            y = check_pair_target(y, len(X), column_vector=False)
        return _checked_scale(graph, y)
    with naming_argument("X"):
        X = validate_data(estimator, X, reset=reset, dtype=float)
    if reset:
        # fitted on a dense matrix: no region feature names to check in predict
        estimator.__dict__.pop("_region_feature_names", None)
    if X.shape[1] % 2:
        raise ValueError(
            f"a dense region-pair matrix has an even number of columns ([features of "
            f"region i, features of region j]); X has n_features={X.shape[1]}"
        )
    graph = _graph_from_dense(X)
    if y is not None:
        y = check_pair_target(y, X.shape[0], column_vector=True)
    return _checked_scale(graph, y)


#: Largest magnitude accepted in X and in y. The bilinear closed forms use the squared
#: eigenvalues of X Xᵀ (fourth powers of X) and every model squares errors in y; beyond
#: these limits those products overflow float64 (about 1.8e308).
MAX_X, MAX_Y = 1e75, 1e150


def _checked_scale(graph: PairGraph, y: np.ndarray | None):
    """``graph`` (and ``y``) if within float64's usable scale, else a ``ValueError``.

    The node features must have their largest magnitude in [1/MAX_X, MAX_X] (or be all
    zero), ``y`` at most MAX_Y; rescaling such input is the user's fix.
    """
    for name, values, low, high in (("X", graph.features, 1 / MAX_X, MAX_X),
                                    ("y", y, 0.0, MAX_Y)):
        if values is None or not values.size:
            continue
        top = float(np.max(np.abs(values)))
        if top > high or 0 < top < low:
            raise ValueError(
                f"{name} has values of magnitude up to {top:.3g}; products of such values "
                f"overflow or underflow float64 (largest magnitude must lie in "
                f"[{1 / high:g}, {high:g}]): rescale {name}"
            )
    return graph if y is None else (graph, y)


def check_pair_target(y, n_pairs: int, *, column_vector: bool = False) -> np.ndarray:
    """``y`` as a finite float (P,) array, or a ``ValueError``/``TypeError`` naming ``y``.

    The one target check of skconn's pair estimators and of the null tests.

    Parameters
    ----------
    y : array-like of shape (P,)
    n_pairs : int
        Pairs in ``X``, P.
    column_vector : bool
        Accept a (P, 1) column with a ``DataConversionWarning``, as scikit-learn
        does for dense input.

    Returns
    -------
    ndarray of shape (P,)
    """
    with naming_argument("y"):
        y = check_array(y, ensure_2d=False, dtype=float, input_name="y")
        if column_vector and y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one connectivity value per pair), got {y.shape}")
    if y.shape[0] != n_pairs:
        raise ValueError(
            f"y must have one value per pair: X has {n_pairs} pairs but y has "
            f"{y.shape[0]} values (inconsistent numbers of samples)"
        )
    return y


def _check_region_feature_names(estimator, X: RegionPairs) -> None:
    """Raise if ``X`` names its region features (genes) unlike the fitted input.

    Two region tables with the same number of genes but other genes (or the same
    genes in another order) would otherwise be predicted on silently.
    """
    fitted = getattr(estimator, "_region_feature_names", None)
    if fitted is None:
        return
    names = np.asarray(X.feature_names, dtype=object)
    if not np.array_equal(names, fitted):
        known = set(fitted)
        unseen = [str(n) for n in names if n not in known][:5]
        raise ValueError(
            f"X has other region features (genes) than {type(estimator).__name__} was fitted "
            f"on, or the same ones in another order"
            + (f"; unseen at fit time: {unseen}" if unseen else "")
        )


def node_targets(graph: PairGraph, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean target and pair weight for each ordered node pair, two (n, n) arrays.

    Returns
    -------
    mean : ndarray of shape (n, n)
        Mean target of the input pairs that join node a to node b in either
        order (0 where there are none); symmetric.
    weight : ndarray of shape (n, n)
        Half the number of input pairs joining node a to node b in either order
        (a self pair (a, a) counts as both orders), so symmetric too: a pair given
        in both orders, (a, b) and (b, a), weighs 1 in ``weight[a, b]`` and 1 in
        ``weight[b, a]``; given in one order only, 0.5 in each. ``weight.sum()``
        is the number of input pairs.
    """
    n = graph.n_nodes
    idx = np.concatenate([graph.left * n + graph.right, graph.right * n + graph.left])
    yy = np.concatenate([y, y])
    counts = np.bincount(idx, minlength=n * n).reshape(n, n).astype(float)
    sums = np.bincount(idx, weights=yy, minlength=n * n).reshape(n, n)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return mean, counts / 2.0

"""Inner region-level splits of a PairGraph, for estimators that tune themselves."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, check_cv

from ..pairs import RegionPairs
from ._input import PairGraph

__all__ = ["inner_splits", "subgraph"]


def subgraph(graph: PairGraph, pair_idx: np.ndarray) -> PairGraph:
    """The graph of some pairs only, with its nodes renumbered."""
    left, right = graph.left[pair_idx], graph.right[pair_idx]
    nodes, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    P = len(pair_idx)
    return PairGraph(
        features=graph.features[nodes],
        coords=None if graph.coords is None else graph.coords[nodes],
        left=inverse[:P],
        right=inverse[P:],
    )


def _check_split(train, validation, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """One inner (train, validation) split as non-empty pair-index arrays within range."""
    out = []
    for name, idx in (("train", train), ("validation", validation)):
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(
                f"cv must give non-empty 1-D integer arrays of pair indices; a {name} "
                f"part has dtype {idx.dtype} and shape {idx.shape}"
            )
        if idx.min() < -n_pairs or idx.max() >= n_pairs:
            raise ValueError(
                f"cv gives {name} pair indices outside 0..{n_pairs - 1} (X has {n_pairs} pairs)"
            )
        out.append(idx)
    return out[0], out[1]


def inner_splits(graph: PairGraph, cv, random_state, X=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation pair indices for an estimator's own parameter search.

    An integer ``cv`` splits the *nodes* (regions) into shuffled K folds and keeps
    the pairs with both regions on the same side, so validation regions are
    unseen, as in the outer evaluation. When the input has too few shared regions
    for that (e.g. a dense matrix whose pairs share no region), pairs are split
    instead. A splitter (an object with ``split``) is applied to ``X`` (a
    RegionPairs); an iterable of (train, validation) pair-index arrays, as
    scikit-learn accepts, is used as given.
    """
    if not isinstance(cv, (int, np.integer)):
        if hasattr(cv, "split"):
            if not isinstance(X, RegionPairs):
                raise TypeError("a splitter as cv needs RegionPairs input; use an int for dense X")
            splits = cv.split(X)
        else:
            splits = check_cv(cv).split()
        return [_check_split(tr, va, graph.n_pairs) for tr, va in splits]
    kf = KFold(int(cv), shuffle=True, random_state=random_state)
    n = graph.n_nodes
    if n >= 2 * cv:
        folds = []
        for _, va_nodes in kf.split(np.arange(n)):
            in_val = np.zeros(n, dtype=bool)
            in_val[va_nodes] = True
            lv, rv = in_val[graph.left], in_val[graph.right]
            tr, va = np.flatnonzero(~lv & ~rv), np.flatnonzero(lv & rv)
            if tr.size < 2 or va.size < 2:
                folds = []
                break
            folds.append((tr, va))
        if folds:
            return folds
    if graph.n_pairs < 2 * cv:
        raise ValueError(
            f"too few pairs (n_samples={graph.n_pairs}) for an inner {cv}-fold split; "
            "give a fixed alpha or more data"
        )
    return list(kf.split(np.arange(graph.n_pairs)))

"""Inner region-level splits of a PairGraph, for estimators that tune themselves."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold

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


def inner_splits(graph: PairGraph, cv, random_state, X=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation pair indices for an estimator's own parameter search.

    An integer ``cv`` splits the *nodes* (regions) into shuffled K folds and keeps
    the pairs with both regions on the same side, so validation regions are
    unseen, as in the outer evaluation. When the input has too few shared regions
    for that (e.g. a dense matrix whose pairs share no region), pairs are split
    instead. Any other ``cv`` is a splitter applied to ``X`` (a RegionPairs).
    """
    if not isinstance(cv, (int, np.integer)):
        if not isinstance(X, RegionPairs):
            raise TypeError("a splitter as cv needs RegionPairs input; use an int for dense X")
        return [(np.asarray(tr), np.asarray(va)) for tr, va in cv.split(X)]
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

"""The published evaluation protocol (REFERENCE §1-2), shared by model tests."""

from __future__ import annotations

import numpy as np

from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.pairs import make_pairs

SEEDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 42)


def protocol_scores(connectome, make_estimator, split: str, seeds=SEEDS, n_splits: int = 4):
    """Test Pearson r of every fold of every seed (ordered pairs, as published)."""
    X, y = make_pairs(connectome)
    scores = []
    for seed in seeds:
        cv = (RandomRegionSplit if split == "random" else SpatialRegionSplit)(
            n_splits, random_state=seed
        )
        for train, test in cv.split(X):
            pred = make_estimator(seed).fit(X[train], y[train]).predict(X[test])
            scores.append(np.corrcoef(pred, y[test])[0, 1])
    return np.array(scores)

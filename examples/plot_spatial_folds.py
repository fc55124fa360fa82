"""
Spatial and random region folds
===============================

Spatial folds hold out contiguous blocks of regions, so a model cannot score well by
interpolating from a test region's immediate neighbours.
"""

import matplotlib.pyplot as plt
import numpy as np

from skconn.datasets import load_default
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.pairs import make_pairs

X, y = make_pairs(load_default(verbose=False))
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
for ax, cv in zip(axes, [RandomRegionSplit(4, random_state=0),
                         SpatialRegionSplit(4, random_state=0)], strict=True):
    fold = np.zeros(X.n_regions, dtype=int)
    for k, (_, test) in enumerate(cv.split(X)):
        fold[np.unique(X.pairs[test])] = k
    ax.scatter(X.coords[:, 1], X.coords[:, 2], c=fold, cmap="tab10", vmax=9, s=30)
    ax.set_title(type(cv).__name__)
    ax.set_xlabel("y (mm)")
    ax.set_ylabel("z (mm)")
fig.tight_layout()

"""A tiny synthetic connectome for examples and unit tests of mechanics."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .._arguments import check_random_state
from ._connectome import Connectome

__all__ = ["make_toy_connectome"]


def make_toy_connectome(
    n_regions: int = 6, n_genes: int = 4, *, random_state: int | None = 0
) -> Connectome:
    """Make a small synthetic connectome (for examples and mechanics tests only).

    Regions alternate between hemispheres; expression is uniform in [0, 1] and
    connectivity decays with distance plus a bilinear expression term, so models
    have something to learn. Never use it to judge a model: use real data.

    Parameters
    ----------
    n_regions : int, default=6
    n_genes : int, default=4
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    Connectome

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> make_toy_connectome(10, 5)
    Connectome(name='toy', n_regions=10, n_genes=5, n_subjects=0)
    """
    for name, value, low in (("n_regions", n_regions, 2), ("n_genes", n_genes, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
    rng = check_random_state(random_state)
    hemi = np.where(np.arange(n_regions) % 2 == 0, "L", "R")
    xyz = rng.uniform(-60, 60, size=(n_regions, 3))
    xyz[:, 0] = np.where(hemi == "L", -np.abs(xyz[:, 0]) - 1, np.abs(xyz[:, 0]) + 1)
    regions = pd.DataFrame(
        {
            "label": [f"region_{i}" for i in range(n_regions)],
            "hemisphere": hemi,
            "structure": "cortex",
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )
    expr = rng.uniform(0, 1, size=(n_regions, n_genes))
    dist = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    centred = expr - expr.mean(0)
    fc = 0.6 * np.exp(-dist / 30.0) + 0.1 * centred @ centred.T
    fc = (fc + fc.T) / 2
    np.fill_diagonal(fc, 1.0)
    genes = [f"GENE{g}" for g in range(n_genes)]
    return Connectome(regions, pd.DataFrame(expr, columns=genes), fc, name="toy")

"""Filling the expression of regions without AHBA samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from ._connectome import Connectome

__all__ = ["impute_missing_regions"]

_METHODS = ("nearest", "mirror", "mirror_nearest")


def _nearest_profile(target_xyz, candidates, coords, values, k):
    d = cdist(target_xyz[None], coords[candidates])[0]
    order = np.argsort(d, kind="stable")[:k]
    w = 1.0 / np.maximum(d[order], 1e-6)
    return (w[:, None] * values[candidates[order]]).sum(0) / w.sum()


def impute_missing_regions(
    connectome: Connectome, method: str = "mirror_nearest", k: int = 10
) -> Connectome:
    """Fill all-NaN expression rows from sampled regions.

    Parameters
    ----------
    connectome : Connectome
    method : {"mirror_nearest", "mirror", "nearest"}, default="mirror_nearest"
        ``"nearest"``: inverse-distance-weighted mean of the ``k`` nearest sampled
        regions of the same hemisphere and structure (all sampled regions of the
        structure if that hemisphere has none). ``"mirror"``: the profile of the
        sampled region of the other hemisphere closest to the mirrored centroid
        (x -> -x), the region-level analogue of abagen's contralateral mirroring.
        ``"mirror_nearest"``: the mean of both, the published "mirror-and-interpolate".
    k : int, default=10
        Neighbours for ``"nearest"``.

    Returns
    -------
    Connectome
        A copy with every expression row filled.

    Raises
    ------
    ValueError
        On an unknown method, ``k < 1``, or no sampled region to borrow from.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome, impute_missing_regions
    >>> c = make_toy_connectome(8, 3)
    >>> c.expression.iloc[2] = np.nan
    >>> impute_missing_regions(c).sampled.all()
    np.True_
    """
    if not isinstance(connectome, Connectome):
        raise TypeError(f"connectome must be a Connectome, got {type(connectome).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    sampled = connectome.sampled
    if not sampled.any():
        raise ValueError("no region has expression to impute from")
    values = connectome.expression.to_numpy().copy()
    coords = connectome.coords
    hemi = connectome.regions["hemisphere"].to_numpy()
    struct = connectome.regions["structure"].to_numpy()
    for r in np.flatnonzero(~sampled):
        same_struct = sampled & (struct == struct[r])
        if not same_struct.any():
            same_struct = sampled
        estimates = []
        if method in ("mirror", "mirror_nearest"):
            other = same_struct & (hemi != hemi[r]) if hemi[r] != "B" else same_struct
            if other.any():
                mirrored = coords[r] * np.array([-1.0, 1.0, 1.0])
                donors = np.flatnonzero(other)
                estimates.append(_nearest_profile(mirrored, donors, coords, values, 1))
        if method in ("nearest", "mirror_nearest") or not estimates:
            near = same_struct & (hemi == hemi[r])
            if not near.any():
                near = same_struct
            estimates.append(_nearest_profile(coords[r], np.flatnonzero(near), coords, values, k))
        values[r] = np.mean(estimates, axis=0)
    expression = pd.DataFrame(values, index=connectome.expression.index, columns=connectome.genes)
    return Connectome(
        connectome.regions,
        expression,
        connectome.connectivity,
        subject_connectivity=connectome.subject_connectivity,
        name=connectome.name,
    )

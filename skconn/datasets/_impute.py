"""Filling the expression of regions without AHBA samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from ._connectome import Connectome

__all__ = ["imputation_leave_one_out", "impute_missing_regions"]

_METHODS = ("nearest", "mirror", "mirror_nearest")
_MIRROR = np.array([-1.0, 1.0, 1.0])


def _check_method(method, k) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _nearest_profile(target_xyz, candidates, coords, values, k):
    d = cdist(target_xyz[None], coords[candidates])[0]
    order = np.argsort(d, kind="stable")[:k]
    w = 1.0 / np.maximum(d[order], 1e-6)
    return (w[:, None] * values[candidates[order]]).sum(0) / w.sum()


def _impute_rows(targets, donors, coords, hemi, struct, values, method, k) -> np.ndarray:
    """Estimates for the ``targets`` regions from the ``donors`` regions, (n_targets, G).

    ``coords``, ``hemi``, ``struct`` and ``values`` describe every region; only the
    rows of ``donors`` are read from ``values``.
    """
    donors = np.asarray(donors, dtype=bool)
    out = np.empty((len(targets), values.shape[1]))
    for row, r in enumerate(targets):
        same_struct = donors & (struct == struct[r])
        if not same_struct.any():
            same_struct = donors
        estimates = []
        if method in ("mirror", "mirror_nearest"):
            other = same_struct & (hemi != hemi[r]) if hemi[r] != "B" else same_struct
            if other.any():
                estimates.append(
                    _nearest_profile(coords[r] * _MIRROR, np.flatnonzero(other), coords, values, 1)
                )
        if method in ("nearest", "mirror_nearest") or not estimates:
            near = same_struct & (hemi == hemi[r])
            if not near.any():
                near = same_struct
            estimates.append(_nearest_profile(coords[r], np.flatnonzero(near), coords, values, k))
        out[row] = np.mean(estimates, axis=0)
    return out


def _region_arrays(connectome: Connectome):
    regions = connectome.regions
    return (
        connectome.coords,
        regions["hemisphere"].to_numpy(),
        regions["structure"].to_numpy(),
        connectome.expression.to_numpy(),
    )


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

    See Also
    --------
    imputation_leave_one_out : How well each method recovers known regions.
    skconn.preprocessing.RegionImputer : The same, fitted on training regions only.

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
    _check_method(method, k)
    sampled = connectome.sampled
    if not sampled.any():
        raise ValueError("no region has expression to impute from")
    coords, hemi, struct, values = _region_arrays(connectome)
    values = values.copy()
    missing = np.flatnonzero(~sampled)
    if missing.size:
        values[missing] = _impute_rows(missing, sampled, coords, hemi, struct, values, method, k)
    expression = pd.DataFrame(values, index=connectome.expression.index, columns=connectome.genes)
    return Connectome(
        connectome.regions,
        expression,
        connectome.connectivity,
        subject_connectivity=connectome.subject_connectivity,
        name=connectome.name,
    )


def imputation_leave_one_out(
    connectome: Connectome, method: str = "mirror_nearest", k: int = 10
) -> pd.Series:
    """Leave-one-sampled-region-out validation of :func:`impute_missing_regions`.

    Each sampled region in turn is hidden, imputed from every other sampled
    region, and its imputed profile correlated (Pearson, over genes) with its
    true one.

    Parameters
    ----------
    connectome : Connectome
    method : {"mirror_nearest", "mirror", "nearest"}, default="mirror_nearest"
    k : int, default=10

    Returns
    -------
    pandas.Series of shape (n_sampled,)
        Correlation per sampled region, indexed by label.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome, imputation_leave_one_out
    >>> r = imputation_leave_one_out(make_toy_connectome(8, 20), method="nearest", k=2)
    >>> r.shape
    (8,)
    """
    if not isinstance(connectome, Connectome):
        raise TypeError(f"connectome must be a Connectome, got {type(connectome).__name__}")
    _check_method(method, k)
    sampled = connectome.sampled
    if sampled.sum() < 2:
        raise ValueError("leave-one-out needs at least two sampled regions")
    coords, hemi, struct, values = _region_arrays(connectome)
    hidden = np.flatnonzero(sampled)
    guesses = np.empty((len(hidden), values.shape[1]))
    for row, r in enumerate(hidden):
        donors = sampled.copy()
        donors[r] = False
        guesses[row] = _impute_rows([r], donors, coords, hemi, struct, values, method, k)[0]
    truth = values[hidden]
    a = guesses - guesses.mean(axis=1, keepdims=True)
    b = truth - truth.mean(axis=1, keepdims=True)
    r = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return pd.Series(r, index=connectome.labels[hidden], name=f"r_{method}")

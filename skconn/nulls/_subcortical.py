"""Spins of subcortical regions and whole-brain (cortex + subcortex) permutations."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .._arguments import check_random_state
from .._validation import Interval, StrOptions, validate_params
from ..datasets._connectome import Connectome
from ._assign import METHODS
from ._spins import check_coords, check_hemiid, sphere_coords, spin_permutations

__all__ = ["hemisphere_ids", "subcortical_spins", "whole_brain_spins"]

_CENTERS = ("centroid", "origin")


def hemisphere_ids(regions) -> np.ndarray:
    """0 (left) / 1 (right) for each region; midline "B" regions by the sign of x.

    Parameters
    ----------
    regions : pandas.DataFrame
        A region table with ``hemisphere`` (L, R, B) and ``x`` columns.

    Returns
    -------
    ndarray of shape (R,), int8

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.nulls import hemisphere_ids
    >>> hemisphere_ids(pd.DataFrame({"hemisphere": ["L", "R", "B", "B"],
    ...                              "x": [-30., 30., -1., 2.]})).tolist()
    [0, 1, 0, 1]
    """
    if not isinstance(regions, pd.DataFrame):
        raise TypeError(f"regions must be a pandas.DataFrame, got {type(regions).__name__}")
    if "hemisphere" not in regions or "x" not in regions:
        raise ValueError("regions must have 'hemisphere' and 'x' columns")
    if regions["hemisphere"].isna().any():
        raise ValueError("regions.hemisphere has missing labels")
    hemi = regions["hemisphere"].astype(str).to_numpy()
    bad = sorted(set(hemi) - {"L", "R", "B"})
    if bad:
        raise ValueError(f"regions.hemisphere must be L, R or B, got {bad[:5]}")
    x = regions["x"].to_numpy(dtype=float)
    right = (hemi == "R") | ((hemi == "B") & (x > 0))
    return right.astype(np.int8)


def _centred(coords, hemiid, center):
    """Coordinates about each side's centroid, or as given for ``center="origin"``."""
    centred = coords.copy()
    if center == "centroid":
        for h in (0, 1):
            idx = hemiid == h
            if idx.any():
                centred[idx] -= coords[idx].mean(axis=0)
    return centred


@validate_params(
    {
        "n_rotate": [Interval(numbers.Integral, 1, None, closed="left")],
        "center": [StrOptions(set(_CENTERS))],
        "method": [StrOptions(set(METHODS))],
        "random_state": ["random_state"],
        "n_jobs": [numbers.Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def subcortical_spins(
    coords,
    hemiid,
    n_rotate,
    *,
    center="centroid",
    method="vasa",
    random_state=None,
    rotations=None,
    n_jobs=None,
):
    """Spin permutations of subcortical regions in MNI space.

    Each side's regions are rotated in millimetre space (no sphere), the right
    side with the mirror ``F R F`` of the left rotation so that bilateral
    symmetry is kept, and matched to rotated regions of the same side.

    Parameters
    ----------
    coords : array-like of shape (S, 3)
        MNI centroids (mm) of the subcortical regions.
    hemiid : array-like of shape (S,)
        0/"L" left, 1/"R" right.
    n_rotate : int
        Number of spins.
    center : {"centroid", "origin"}, default="centroid"
        Rotate each side about the centroid of its subcortical regions (a
        rotation then moves structures around each other, not across the
        brain), or about the MNI origin as the published code does.
    method : {"vasa", "hungarian", "original"}, default="vasa"
    random_state : int, RandomState instance or None, default=None
    rotations : array-like of shape (n_rotate, 3, 3), default=None
        Left rotations to use instead of random ones.
    n_jobs : int, default=None

    Returns
    -------
    perms : ndarray of shape (n_rotate, S)
        Row k: the region whose data each region takes in spin k.
    cost : ndarray of shape (n_rotate, S)
        Distance (mm) from each region to its match.

    Notes
    -----
    Duplicate spins are allowed: a handful of subcortical regions has few
    distinct spins, and whole-brain spins are told apart by the cortex.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import subcortical_spins
    >>> xyz = np.array([[-10., 10, 0], [-25, 0, -5], [-20, -20, -10],
    ...                 [10., 10, 0], [25, 0, -5], [20, -20, -10]])
    >>> perms, cost = subcortical_spins(xyz, [0, 0, 0, 1, 1, 1], 3, random_state=0)
    >>> perms.shape, bool((np.sort(perms, axis=1) == np.arange(6)).all())
    ((3, 6), True)
    """
    coords = check_coords(coords)
    hemiid = check_hemiid(hemiid, len(coords))
    perms, cost, _ = spin_permutations(
        _centred(coords, hemiid, center),
        hemiid,
        n_rotate,
        method=method,
        random_state=random_state,
        check_duplicates=False,
        rotations=rotations,
        n_jobs=n_jobs,
    )
    return perms, cost


@validate_params(
    {
        "n_spins": [Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "subcortical_center": [StrOptions(set(_CENTERS))],
        "random_state": ["random_state"],
        "n_jobs": [numbers.Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def whole_brain_spins(
    connectome,
    n_spins,
    *,
    method="vasa",
    subcortical_center="centroid",
    random_state=None,
    n_jobs=None,
):
    """Spin permutations of every region of a connectome: cortex and subcortex.

    Cortical regions are spun on the unit sphere of their centred, normalised
    centroids (:func:`sphere_coords`, one sphere per hemisphere) and
    subcortical regions in MNI space (:func:`subcortical_spins`); both use the
    mirrored rotation for the right hemisphere. The two permutations are
    joined into one permutation of all R regions, cortex mapping to cortex and
    subcortex to subcortex.

    Parameters
    ----------
    connectome : Connectome or pandas.DataFrame
        A connectome, or its region table (hemisphere, structure, x, y, z).
    n_spins : int
    method : {"vasa", "hungarian", "original"}, default="vasa"
    subcortical_center : {"centroid", "origin"}, default="centroid"
    random_state : int, RandomState instance or None, default=None
        Seeds the cortical rotations, then the subcortical ones.
    n_jobs : int, default=None

    Returns
    -------
    perms : ndarray of shape (n_spins, R)
        Row k: the region whose data each region shows in spin k (the layout
        of ``make_pairs(..., nulls=perms)``).
    cortical_cost : ndarray of shape (n_spins,)
        Summed distance of the cortical matches (unit-sphere units).
    subcortical_cost : ndarray of shape (n_spins,)
        Summed distance of the subcortical matches (mm); 0 without subcortex.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.nulls import whole_brain_spins
    >>> c = make_toy_connectome(12, 3)
    >>> perms, ctx_cost, sub_cost = whole_brain_spins(c, 4, random_state=0)
    >>> perms.shape
    (4, 12)
    """
    regions = connectome.regions if isinstance(connectome, Connectome) else connectome
    if not isinstance(regions, pd.DataFrame):
        raise TypeError(f"connectome must be a Connectome or a region table, got {type(regions)}")
    missing = [c for c in ("structure", "x", "y", "z") if c not in regions.columns]
    if missing:
        raise ValueError(f"regions is missing the column(s) {missing}")
    hemiid = hemisphere_ids(regions)
    coords = check_coords(regions[["x", "y", "z"]], "regions x, y, z")
    structure = regions["structure"].astype(str).to_numpy()
    rs = check_random_state(random_state)
    n = len(coords)
    perms = np.broadcast_to(np.arange(n), (int(n_spins), n)).copy()
    ctx = np.flatnonzero(structure == "cortex")
    sub = np.flatnonzero(structure != "cortex")
    cortical_cost = np.zeros(int(n_spins))
    subcortical_cost = np.zeros(int(n_spins))
    if ctx.size:
        # written straight into perms: memory stays at the (n_spins, R) array
        _, cortical_cost, _ = spin_permutations(
            sphere_coords(coords[ctx], hemiid[ctx]),
            hemiid[ctx],
            n_spins,
            method=method,
            random_state=rs,
            n_jobs=n_jobs,
            out=perms,
            index=ctx,
            sum_cost=True,
        )
    if sub.size:
        centred = _centred(coords[sub], hemiid[sub], subcortical_center)
        _, subcortical_cost, _ = spin_permutations(
            centred,
            hemiid[sub],
            n_spins,
            method=method,
            random_state=rs,
            check_duplicates=False,
            n_jobs=n_jobs,
            out=perms,
            index=sub,
            sum_cost=True,
        )
    return perms, cortical_cost, subcortical_cost

"""Spatiomolecular nulls: spins whose CGE-distance curve matches the true one."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from ..datasets._connectome import Connectome
from ._cge_curves import CURVE_PARAMETERS, DistanceBins, curve_parameters, spun_cge_curves
from ._subcortical import whole_brain_spins

__all__ = ["cge_matched_spins"]

_RANKINGS = ("zsum", "mean_rank")
_FSAVERAGE_RADIUS = 100.0  # FreeSurfer's ?h.sphere, where the published spins ran
_SA = ["SA_lambda", "SA_inf"]
_POLY = ["poly_a1", "poly_a2", "poly_a3", "poly_a4"]


def _z(values, true_value):
    """|z(value) - z(true)| with the nulls' mean and SD (ddof=1); 0 where SD is 0."""
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    if not sd > 0:
        return np.zeros_like(values)
    return np.abs(values - true_value) / sd


def _usable(perms: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """Spins that move every block: cortex and subcortex each spun, not left as they are.

    The subcortical block has few distinct spins, so some whole-brain spins leave it
    unspun (its identity); such a null shows the true expression there.
    """
    usable = np.ones(len(perms), dtype=bool)
    for block in (np.flatnonzero(structure == "cortex"), np.flatnonzero(structure != "cortex")):
        if block.size > 1:
            usable &= ~(perms[:, block] == block).all(axis=1)
    return usable


def _best_distinct(perms: np.ndarray, order: np.ndarray, usable: np.ndarray, k: int):
    """Indices of the k best usable spins, best first, each a permutation not kept yet."""
    chosen, seen = [], set()
    for idx in order:
        key = perms[idx].tobytes()
        if usable[idx] and key not in seen:
            seen.add(key)
            chosen.append(idx)
            if len(chosen) == k:
                break
    if not chosen:
        raise ValueError(
            f"none of the {len(perms)} spins moves every block (cortex, subcortex); "
            "draw more spins (n_spins)"
        )
    if len(chosen) < k:
        warnings.warn(
            f"only {len(chosen)} of the {len(perms)} spins are distinct and move every block "
            f"(cortex, subcortex); returning {len(chosen)} nulls instead of k={k}",
            UserWarning,
            stacklevel=3,
        )
    return np.asarray(chosen, dtype=np.intp)


def cge_matched_spins(
    connectome,
    n_spins=10_000,
    k=10,
    *,
    ranking="zsum",
    method="vasa",
    bin_size=5.0,
    subcortical_center="centroid",
    random_state=None,
    n_jobs=None,
    return_all=False,
):
    """Spin nulls whose CGE-distance curve best matches the true data (Algorithm 1).

    Draws ``n_spins`` whole-brain spin permutations (:func:`whole_brain_spins`),
    fits the exponential decay (SA_λ, SA_∞) and a cubic to the CGE-distance
    curve of every spun expression map, and keeps the ``k`` spins whose curve
    parameters and reassignment cost are closest to the true data's. These
    nulls keep both the spatial autocorrelation and the CGE-distance relation
    of the expression, so a model that beats them uses more than either.

    Parameters
    ----------
    connectome : Connectome
        Every region must have expression (impute or drop unsampled regions).
    n_spins : int, default=10_000
        Spins to draw and score.
    k : int, default=10
        Spins to keep, at most ``n_spins``.
    ranking : {"zsum", "mean_rank"}, default="zsum"
        ``"zsum"``: the paper's Algorithm 1, the sum over SA_λ, SA_∞,
        poly_a1..a4 and the cost of ``|z(spin) - z(true)|``, parameters z-scored
        across the spins (ddof=1) and the true value standardised with the
        spins' mean and SD; the true cost is 0. Cortical and subcortical costs
        (sphere units and mm) are each standardised, then added, before the
        cost enters. ``"mean_rank"``: the published code's ranking
        (REFERENCE §4.1), the mean of the ranks of the raw total cost, the
        SA error and the cubic error. The total cost adds the cortical cost on
        the published scale (fsaverage sphere, radius 100; skconn spins on the
        unit sphere) and the subcortical cost (mm), mixed units as published.
    method : {"vasa", "hungarian", "original"}, default="vasa"
        Matching of spun regions; "original" may not give permutations.
    bin_size : float, default=5.0
        Distance bin width (mm).
    subcortical_center : {"centroid", "origin"}, default="centroid"
        See :func:`subcortical_spins`.
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=None
        joblib workers for the spins and the curve fits.
    return_all : bool, default=False
        Also return all ``n_spins`` permutations.

    Returns
    -------
    best : ndarray of shape (k, R)
        The k best permutations, best first: row j says which region's
        expression each region shows in null j (``make_pairs(c, nulls=best)``).
        Only distinct spins that move every block count: a spin that leaves the
        cortex or the subcortex unspun (a few subcortical regions have few
        distinct spins) or repeats a better one is passed over. If fewer than
        ``k`` remain, a warning says so and fewer rows come back (none: a
        ValueError).
    diagnostics : pandas.DataFrame of shape (n_spins, ...)
        One row per spin, in draw order: ``cortical_cost``,
        ``subcortical_cost``, ``total_cost``, the six curve parameters,
        ``standardized_SA_error``, ``standardized_poly_error``,
        ``standardized_cost_error``, ``standardized_error`` (the z-sum),
        ``total_cost_rank``, ``SA_error_rank``, ``poly_error_rank``,
        ``mean_error_rank``, ``rank`` (0 = best under ``ranking``) and
        ``usable`` (False for a spin that leaves a block unspun).
        ``diagnostics.attrs["true"]`` holds the true curve parameters and
        ``attrs["curve"]`` the true binned curve (centers, means).
    perms : ndarray of shape (n_spins, R)
        Only with ``return_all=True``.

    Raises
    ------
    ValueError
        If regions lack expression, ``k`` exceeds ``n_spins``, or an option is
        unknown.

    See Also
    --------
    whole_brain_spins, spun_cge_curves, skconn.pairs.make_pairs

    Notes
    -----
    CGE is computed once; a spun map's CGE is the permuted CGE matrix, and
    each spin's curve is a re-binning of it (5 mm bins, empty bins left out).
    The fits run for all spins at once (:func:`fit_exponential`,
    :func:`fit_cubic`). Memory is the (n_spins, R) permutation array plus
    the diagnostics table.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.nulls import cge_matched_spins
    >>> c = make_toy_connectome(30, 20)
    >>> best, diag = cge_matched_spins(c, n_spins=20, k=3, random_state=0)
    >>> best.shape, len(diag), int(diag["rank"].min())
    ((3, 30), 20, 0)
    """
    if not isinstance(connectome, Connectome):
        raise TypeError(f"connectome must be a Connectome, got {type(connectome).__name__}")
    for name, value in (("n_spins", n_spins), ("k", k)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if k > n_spins:
        raise ValueError(f"k={k} spins cannot be kept out of n_spins={n_spins}")
    if ranking not in _RANKINGS:
        raise ValueError(f"ranking must be one of {_RANKINGS}, got {ranking!r}")
    sampled = connectome.sampled
    if not sampled.all():
        missing = connectome.labels[~sampled].tolist()
        raise ValueError(
            f"{len(missing)} region(s) have NaN expression (e.g. {missing[:3]}); impute them "
            "(skconn.datasets.impute_missing_regions) or drop them before making nulls"
        )
    cge = connectome.cge()
    distances = connectome.distances()
    perms, cortical_cost, subcortical_cost = whole_brain_spins(
        connectome,
        n_spins,
        method=method,
        subcortical_center=subcortical_center,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    params = spun_cge_curves(cge, distances, perms, bin_size=bin_size, n_jobs=n_jobs)
    bins = DistanceBins.from_distances(distances, bin_size)
    true_curve = bins.means(cge)[0]
    true = dict(zip(CURVE_PARAMETERS, curve_parameters(bins.centers, true_curve)[0], strict=True))

    diag = pd.DataFrame(params, columns=list(CURVE_PARAMETERS))
    diag.insert(0, "cortical_cost", cortical_cost)
    diag.insert(1, "subcortical_cost", subcortical_cost)
    # the published cortical costs are distances on the fsaverage sphere (radius 100);
    # skconn spins on the unit sphere, so its costs are scaled back before adding mm
    diag.insert(2, "total_cost", _FSAVERAGE_RADIUS * cortical_cost + subcortical_cost)
    dz = {p: _z(diag[p].to_numpy(), true[p]) for p in CURVE_PARAMETERS}
    diag["standardized_SA_error"] = sum(dz[p] for p in _SA)
    diag["standardized_poly_error"] = sum(dz[p] for p in _POLY)
    # each block's cost in its own units (sphere, mm) is z-scored before adding;
    # the unspun map has cost 0 in both blocks
    cost_z = np.zeros(len(diag))
    true_cost_z = 0.0
    for col in ("cortical_cost", "subcortical_cost"):
        values = diag[col].to_numpy()
        sd = values.std(ddof=1) if len(values) > 1 else 0.0
        if sd > 0:
            cost_z = cost_z + (values - values.mean()) / sd
            true_cost_z += (0.0 - values.mean()) / sd
    diag["standardized_cost_error"] = _z(cost_z, true_cost_z)
    diag["standardized_error"] = (
        diag["standardized_SA_error"]
        + diag["standardized_poly_error"]
        + diag["standardized_cost_error"]
    )
    diag["total_cost_rank"] = diag["total_cost"].rank()
    diag["SA_error_rank"] = diag["standardized_SA_error"].rank()
    diag["poly_error_rank"] = diag["standardized_poly_error"].rank()
    diag["mean_error_rank"] = diag[["total_cost_rank", "SA_error_rank", "poly_error_rank"]].mean(
        axis=1
    )
    score = diag["standardized_error" if ranking == "zsum" else "mean_error_rank"].to_numpy()
    order = np.argsort(score, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    diag["rank"] = rank
    diag["usable"] = _usable(perms, connectome.regions["structure"].astype(str).to_numpy())
    diag.index.name = "spin"
    diag.attrs["true"] = true
    diag.attrs["curve"] = {"centers": bins.centers, "means": true_curve}
    diag.attrs["ranking"] = ranking
    best = perms[_best_distinct(perms, order, diag["usable"].to_numpy(), k)]
    if return_all:
        return best, diag, perms
    return best, diag

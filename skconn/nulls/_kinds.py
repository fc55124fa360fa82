"""One entry point for the nulls of a connectome, by kind."""

from __future__ import annotations

import numbers

import numpy as np

from .._arguments import check_random_state
from .._permutations import NEAR_IDENTITY_THRESHOLD
from .._validation import Interval, StrOptions, validate_params
from ..datasets._connectome import Connectome
from ._matched import (
    _MOVED,
    _usable,
    best_distinct,
    cge_matched_spins,
    check_all_sampled,
    near_identity_spins,
    spin_table,
)
from ._subcortical import whole_brain_spins

__all__ = ["NULL_KINDS", "make_nulls"]

#: The kinds of null :func:`make_nulls` draws.
NULL_KINDS = ("cge_matched", "spin", "permute")

_MAX_PERMUTE_TRIES = 100


def _plain_spins(connectome, k, n_spins, random_state, n_jobs):
    perms, cortical_cost, subcortical_cost = whole_brain_spins(
        connectome, n_spins, random_state=random_state, n_jobs=n_jobs
    )
    diag = spin_table(connectome, perms)
    diag.insert(0, "cortical_cost", cortical_cost)
    diag.insert(1, "subcortical_cost", subcortical_cost)
    usable = _usable(perms, connectome.regions["structure"].astype(str).to_numpy())
    near, min_disp = near_identity_spins(
        diag["fraction_kept"].to_numpy(), diag["mean_displacement"].to_numpy(), usable,
        max_fraction_kept=NEAR_IDENTITY_THRESHOLD, displacement_quantile=0.05,
    )
    diag["usable"] = usable
    diag["near_identity"] = near
    diag["eligible"] = usable & ~near
    reason = (f"{_MOVED} and are not near-identity (keep <= {NEAR_IDENTITY_THRESHOLD:.0%} of "
              f"regions in place, mean displacement >= {min_disp:.3g} mm)")
    chosen = best_distinct(perms, np.arange(n_spins), diag["eligible"].to_numpy(), k, reason)
    diag["selected"] = np.isin(np.arange(n_spins), chosen)
    diag.index.name = "spin"
    diag.attrs["min_displacement"] = min_disp
    return perms[chosen], diag


def _permutations(connectome, k, random_state):
    rs = check_random_state(random_state)
    n = connectome.n_regions
    identity = np.arange(n)
    chosen, seen, tries = [], {identity.tobytes()}, 0
    while len(chosen) < k:
        p = rs.permutation(n)
        tries += 1
        key = p.tobytes()
        if key not in seen:
            seen.add(key)
            chosen.append(p)
            tries = 0
        elif tries >= _MAX_PERMUTE_TRIES:
            raise ValueError(
                f"could not draw k={k} distinct non-identity permutations of {n} regions "
                f"(found {len(chosen)}); ask for fewer nulls"
            )
    perms = np.asarray(chosen, dtype=np.intp)
    diag = spin_table(connectome, perms)
    diag["selected"] = True
    diag.index.name = "null"
    return perms, diag


@validate_params(
    {
        "connectome": [Connectome],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "kind": [StrOptions(set(NULL_KINDS))],
        "n_spins": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [numbers.Integral, None],
        "return_diagnostics": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_nulls(connectome, k=10, *, kind="cge_matched", n_spins=1000, random_state=None,
               n_jobs=None, return_diagnostics=False):
    """Draw ``k`` null region permutations of a connectome, of a given kind.

    Parameters
    ----------
    connectome : Connectome
        Every region must have expression: keep the sampled regions with
        ``connectome.subset(connectome.sampled)`` or impute the others
        (:func:`skconn.datasets.impute_missing_regions`).
    k : int, default=10
        Number of nulls.
    kind : {"cge_matched", "spin", "permute"}, default="cge_matched"
        ``"cge_matched"``: spins that move the data and whose CGE-distance
        curve matches the true one (:func:`cge_matched_spins` with its
        defaults: Algorithm 1 of Ratzan et al., NeurIPS 2025, near-identity
        spins excluded). ``"spin"``: plain spins (Alexander-Bloch et al.,
        2018, with the Váša et al., 2018 assignment), the first ``k``
        distinct spins in draw order that move every block and are not
        near-identity (same rule as ``"cge_matched"``), with no CGE selection:
        they keep spatial autocorrelation but not the CGE-distance curve.
        ``"permute"``: uniformly random permutations of the regions (the
        "permuted" null of Ratzan et al.), which destroy all spatial
        structure: the easiest null to beat.
    n_spins : int, default=1000
        Spins drawn and screened (``"cge_matched"``, ``"spin"``); at least
        ``k``. Unused by ``"permute"``.
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=None
        joblib workers for the spins and curve fits.
    return_diagnostics : bool, default=False
        Also return the per-spin (per-null for ``"permute"``) table, with
        ``fraction_kept`` and ``mean_displacement`` (mm) for every row.

    Returns
    -------
    nulls : ndarray of shape (k, R)
        Row j: the region whose expression each region shows in null j, the
        layout of ``make_pairs(connectome, nulls=nulls)``.
    diagnostics : pandas.DataFrame
        Only with ``return_diagnostics=True``; ``attrs["kind"]`` names the kind.

    Raises
    ------
    ValueError
        If the kind is unknown, ``k`` exceeds ``n_spins`` or the number of
        usable spins, or regions lack expression.

    See Also
    --------
    cge_matched_spins, whole_brain_spins, fraction_in_place, mean_displacement
    skconn.pairs.make_pairs

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.nulls import fraction_in_place, make_nulls
    >>> c = make_toy_connectome(30, 20)
    >>> nulls = make_nulls(c, 3, kind="spin", n_spins=20, random_state=0)
    >>> nulls.shape, bool((fraction_in_place(nulls) <= 0.1).all())
    ((3, 30), True)
    >>> make_nulls(c, 2, kind="permute", random_state=0).shape
    (2, 30)
    """
    if kind != "permute" and k > n_spins:
        raise ValueError(f"k={k} nulls cannot be kept out of n_spins={n_spins} spins")
    check_all_sampled(connectome, "nulls")
    if kind == "cge_matched":
        perms, diag = cge_matched_spins(
            connectome, n_spins=n_spins, k=k, random_state=random_state, n_jobs=n_jobs
        )
    elif kind == "spin":
        perms, diag = _plain_spins(connectome, k, n_spins, random_state, n_jobs)
    else:
        perms, diag = _permutations(connectome, k, random_state)
    if not return_diagnostics:
        return perms
    diag.attrs["kind"] = kind
    return perms, diag

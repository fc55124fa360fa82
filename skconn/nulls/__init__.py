"""Spatial and spatiomolecular nulls: spins, CGE-matched spins and null tests.

A null is a region permutation ``p`` of shape (R,): region i shows the
expression of region ``p[i]``; K of them stacked, (K, R), feed
``skconn.pairs.make_pairs(connectome, nulls=perms)``. :func:`make_nulls` draws
them by kind (CGE-matched spins, plain spins, random permutations); a null that
leaves more than 10% of the regions in place is not a null, and
:func:`warn_if_near_identity` says so.
"""

from .._permutations import fraction_in_place, mean_displacement, warn_if_near_identity
from ._cge_curves import (
    CURVE_PARAMETERS,
    DistanceBins,
    cge_distance_curve,
    curve_parameters,
    exponential_decay,
    fit_cubic,
    fit_exponential,
    spun_cge_curves,
)
from ._kinds import NULL_KINDS, make_nulls
from ._matched import cge_matched_spins
from ._null_test import null_test, spin_test
from ._rotations import mirror_rotations, random_rotations
from ._spins import SpinPermutations, gen_spinsamples, sphere_coords
from ._subcortical import hemisphere_ids, subcortical_spins, whole_brain_spins

__all__ = [
    "CURVE_PARAMETERS",
    "NULL_KINDS",
    "DistanceBins",
    "SpinPermutations",
    "cge_distance_curve",
    "cge_matched_spins",
    "curve_parameters",
    "exponential_decay",
    "fit_cubic",
    "fit_exponential",
    "fraction_in_place",
    "gen_spinsamples",
    "hemisphere_ids",
    "make_nulls",
    "mean_displacement",
    "mirror_rotations",
    "null_test",
    "random_rotations",
    "sphere_coords",
    "spin_test",
    "spun_cge_curves",
    "subcortical_spins",
    "warn_if_near_identity",
    "whole_brain_spins",
]

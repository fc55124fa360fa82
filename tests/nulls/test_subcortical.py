"""Subcortical and whole-brain spins on hcp_schaefer400 (400 cortical + 14 subcortical)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skconn.nulls import hemisphere_ids, random_rotations, subcortical_spins, whole_brain_spins

from .conftest import is_permutation


def test_subcortical_spins_keep_sides(subcortex400):
    xyz, hemi = subcortex400
    perms, cost = subcortical_spins(xyz, hemi, 50, random_state=0)
    assert perms.shape == (50, 14) and is_permutation(perms)
    assert (hemi[perms] == hemi[None, :]).all()
    assert (cost >= 0).all()


def test_subcortical_mirror_symmetry():
    """Mirror-symmetric structures get mirror-symmetric spins."""
    left = np.array([[-10.0, 12, 2], [-24, 2, -4], [-20, -22, -9], [-12, -18, 8]])
    xyz = np.vstack([left, left * [-1, 1, 1]])
    hemi = np.repeat([0, 1], 4)
    for center in ("centroid", "origin"):
        perms, _ = subcortical_spins(xyz, hemi, 20, center=center, random_state=1)
        np.testing.assert_array_equal(perms[:, 4:] - 4, perms[:, :4])


def test_center_changes_the_rotation_axis(subcortex400):
    xyz, hemi = subcortex400
    rots = random_rotations(30, random_state=2)
    _, ca = subcortical_spins(xyz, hemi, 30, rotations=rots, center="centroid")
    _, cb = subcortical_spins(xyz, hemi, 30, rotations=rots, center="origin")
    # about the origin a rotation swings structures far away: larger reassignment cost
    assert cb.sum(axis=1).mean() > ca.sum(axis=1).mean()
    with pytest.raises(ValueError, match="center"):
        subcortical_spins(xyz, hemi, 3, center="middle")


def test_whole_brain_spins(hcp400):
    perms, ctx_cost, sub_cost = whole_brain_spins(hcp400, 30, random_state=0)
    assert perms.shape == (30, 414) and is_permutation(perms)
    structure = hcp400.regions["structure"].to_numpy()
    hemi = hemisphere_ids(hcp400.regions)
    assert (structure[perms] == structure[None]).all()  # cortex <-> cortex only
    assert (hemi[perms] == hemi[None]).all()
    assert (ctx_cost > 0).all() and (sub_cost >= 0).all()
    again, _, _ = whole_brain_spins(hcp400, 30, random_state=0)
    np.testing.assert_array_equal(perms, again)


def test_hemisphere_ids_errors():
    with pytest.raises(ValueError, match="hemisphere"):
        hemisphere_ids(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="missing"):
        hemisphere_ids(pd.DataFrame({"hemisphere": ["L", None], "x": [-1.0, 1.0]}))
    with pytest.raises(ValueError, match="L, R or B"):
        hemisphere_ids(pd.DataFrame({"hemisphere": ["L", "X"], "x": [-1.0, 1.0]}))


def test_cortex_only_and_one_hemisphere(ukbb100):
    perms, ctx_cost, sub_cost = whole_brain_spins(ukbb100, 5, random_state=0)
    assert is_permutation(perms) and (sub_cost == 0).all() and (ctx_cost > 0).all()
    left = ukbb100.regions[ukbb100.regions["hemisphere"] == "L"]
    perms, _, _ = whole_brain_spins(left, 5, random_state=0)
    assert perms.shape == (5, len(left)) and is_permutation(perms)


def test_unequal_hemispheres(hcp400):
    """Hemispheres of different sizes are matched separately (no stacking)."""
    keep = np.r_[np.arange(0, 200), np.arange(200, 390)]  # 200 left, 190 right
    perms, _, _ = whole_brain_spins(hcp400.regions.iloc[keep], 8, random_state=0)
    hemi = hemisphere_ids(hcp400.regions.iloc[keep])
    assert is_permutation(perms) and (hemi[perms] == hemi[None]).all()
    with pytest.raises(ValueError, match="n_spins"):
        whole_brain_spins(hcp400, 0)
    with pytest.raises(TypeError, match="region table"):
        whole_brain_spins(np.zeros((3, 3)), 2)

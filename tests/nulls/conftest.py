"""Real Schaefer-400 centroids and an imputed hcp_schaefer400 for the null tests."""

from __future__ import annotations

import numpy as np
import pytest

from skconn.datasets import impute_missing_regions
from skconn.nulls import hemisphere_ids, sphere_coords


@pytest.fixture(scope="session")
def cortex400(hcp400):
    """(sphere coords, hemiid, MNI coords) of the 400 cortical Schaefer parcels."""
    ctx = (hcp400.regions["structure"] == "cortex").to_numpy()
    hemi = hemisphere_ids(hcp400.regions)[ctx]
    xyz = hcp400.coords[ctx]
    return sphere_coords(xyz, hemi), hemi, xyz


@pytest.fixture(scope="session")
def hcp400_full(hcp400):
    """hcp_schaefer400 with the 49 unsampled regions imputed (every region sampled)."""
    full = impute_missing_regions(hcp400)
    assert full.sampled.all()
    return full


@pytest.fixture(scope="session")
def subcortex400(hcp400):
    sub = (hcp400.regions["structure"] == "subcortex").to_numpy()
    return hcp400.coords[sub], hemisphere_ids(hcp400.regions)[sub]


def is_permutation(perms):
    perms = np.asarray(perms)
    return bool((np.sort(perms, axis=-1) == np.arange(perms.shape[-1])).all())

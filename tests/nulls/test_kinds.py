"""make_nulls (null kinds), the movement helpers and the near-identity warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from skconn.exceptions import NearIdentityNullWarning
from skconn.model_selection import RandomRegionSplit, SpinNullSplit
from skconn.models import ConnectomeModelRegressor
from skconn.nulls import (
    NULL_KINDS,
    fraction_in_place,
    make_nulls,
    mean_displacement,
    null_test,
    warn_if_near_identity,
)
from skconn.pairs import make_pairs

from .conftest import is_permutation


def test_permute_has_no_spatial_structure(hcp100):
    """Uniform permutations: kept ~ 1/R, displacement ~ that of random region pairs."""
    perms, diag = make_nulls(hcp100, 300, kind="permute", random_state=0,
                             return_diagnostics=True)
    n = hcp100.n_regions
    assert perms.shape == (300, n) and is_permutation(perms)
    assert diag.attrs["kind"] == "permute"
    kept = fraction_in_place(perms)
    np.testing.assert_allclose(diag["fraction_kept"], kept)
    # E[kept] = 1/R; SD of the mean over 300 draws ~ 1/(R sqrt(300))
    assert abs(kept.mean() - 1 / n) < 4 / (n * np.sqrt(300))
    # E[displacement] = mean distance over all R^2 (region, source) pairs
    d = hcp100.distances()
    expected = d.sum() / n**2
    disp = mean_displacement(perms, hcp100.coords)
    assert abs(disp.mean() - expected) < 0.02 * expected
    # spatial structure: the distance between the sources of two regions follows the
    # distance between the regions for spins, not for permutations
    spins = make_nulls(hcp100, 20, kind="spin", n_spins=50, random_state=0)
    i, j = np.triu_indices(n, 1)

    def kept_geometry(p):
        return np.corrcoef(d[i, j], d[p[i], p[j]])[0, 1]

    assert min(kept_geometry(p) for p in spins) > 0.2  # measured: min 0.33
    assert abs(np.mean([kept_geometry(p) for p in perms[:20]])) < 0.05


def test_spin_kind_excludes_near_identity_spins(hcp100):
    perms, diag = make_nulls(hcp100, 10, kind="spin", n_spins=200, random_state=0,
                             return_diagnostics=True)
    assert is_permutation(perms) and len({p.tobytes() for p in perms}) == 10
    assert (fraction_in_place(perms) <= 0.1).all()
    # the first eligible spins in draw order: no CGE selection
    first = np.flatnonzero(diag["eligible"].to_numpy())[:10]
    np.testing.assert_array_equal(np.flatnonzero(diag["selected"].to_numpy()), first)
    assert diag["near_identity"].any() or diag["fraction_kept"].max() <= 0.1


def test_cge_matched_kind_is_the_default(hcp100):
    from skconn.nulls import cge_matched_spins

    a = make_nulls(hcp100, 3, n_spins=60, random_state=1)
    b, _ = cge_matched_spins(hcp100, n_spins=60, k=3, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert NULL_KINDS == ("cge_matched", "spin", "permute")


def test_bad_input(hcp100, hcp400):
    with pytest.raises(ValueError, match="kind"):
        make_nulls(hcp100, 2, kind="random")
    with pytest.raises(ValueError, match=r"k=20.*n_spins=10"):
        make_nulls(hcp100, 20, kind="spin", n_spins=10)
    with pytest.raises(ValueError, match=r"distinct.*draw more spins"):
        make_nulls(hcp100, 9, kind="spin", n_spins=9, random_state=0)
    with pytest.raises(ValueError, match=r"Connectome\.subset.*impute_missing_regions"):
        make_nulls(hcp400, 2, kind="permute")
    with pytest.raises(ValueError, match="k"):
        make_nulls(hcp100, 0)
    with pytest.raises(ValueError, match="repeats region"):
        fraction_in_place([[0, 0, 1]])
    with pytest.raises(ValueError, match="shape"):
        mean_displacement([[1, 0, 2]], np.zeros((4, 3)))


def test_warning_names_the_null_and_its_fraction():
    perms = np.array([np.roll(np.arange(10), 1), np.arange(10), np.arange(10)])
    perms[2, :3] = [1, 2, 0]
    with pytest.warns(NearIdentityNullWarning, match=r"here: null 1 keeps 100%, null 2 keeps 70%"):
        kept = warn_if_near_identity(perms, where="here")
    np.testing.assert_allclose(kept, [0.0, 1.0, 0.7])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearIdentityNullWarning)
        warn_if_near_identity(perms, threshold=1.0)
    assert issubclass(NearIdentityNullWarning, UserWarning)


@pytest.fixture(scope="module")
def near_identity_pairs(hcp100_small):
    n = hcp100_small.n_regions
    near = np.arange(n)
    near[:2] = [1, 0]
    moved = np.roll(np.arange(n), 7)
    with pytest.warns(NearIdentityNullWarning):
        return make_pairs(hcp100_small, nulls=[moved, near])


def test_spin_null_split_warns(near_identity_pairs):
    X, y = near_identity_pairs
    with pytest.warns(NearIdentityNullWarning, match="SpinNullSplit: variant 2 keeps 95%"):
        list(SpinNullSplit(RandomRegionSplit(2, random_state=0)).split(X, y))


def test_null_test_warns(near_identity_pairs):
    X, y = near_identity_pairs
    with pytest.warns(NearIdentityNullWarning, match="null_test: variant 2 keeps 95%"):
        null_test(ConnectomeModelRegressor(alpha=1.0), X, y,
                  cv=[RandomRegionSplit(2, random_state=0)], variants=[2], n_permutations=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearIdentityNullWarning)
        null_test(ConnectomeModelRegressor(alpha=1.0), X, y,
                  cv=[RandomRegionSplit(2, random_state=0)], variants=[1], n_permutations=9)


def test_spin_test_warns(hcp100_small):
    from skconn.nulls import spin_test

    X, y = make_pairs(hcp100_small)
    n = hcp100_small.n_regions
    near = np.arange(n)
    near[:2] = [1, 0]
    moved = np.roll(np.arange(n), 7)
    with pytest.warns(NearIdentityNullWarning, match="spin_test: null 1 keeps 95%"):
        spin_test(ConnectomeModelRegressor(alpha=1.0), X, y, nulls=[moved, near])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearIdentityNullWarning)
        spin_test(ConnectomeModelRegressor(alpha=1.0), X, y, nulls=[moved])

"""Spin permutations on real Schaefer-400 centroids, and parity with neuromaps 0.0.7."""

from __future__ import annotations

import numpy as np
import pytest

from skconn.nulls import (
    SpinPermutations,
    gen_spinsamples,
    mirror_rotations,
    random_rotations,
    sphere_coords,
)

from .conftest import is_permutation


@pytest.fixture(scope="module")
def neuromaps_spins():
    spins = pytest.importorskip("neuromaps.nulls.spins")
    return spins.gen_spinsamples


def test_rotations_are_proper_and_haar_sign_fixed():
    R = random_rotations(500, random_state=3)
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3))
    assert np.allclose(np.linalg.det(R), 1)
    M = mirror_rotations(R)
    assert np.allclose(np.linalg.det(M), 1)
    F = np.diag([-1.0, 1.0, 1.0])
    assert np.array_equal(M, F @ R @ F)
    # uniform on SO(3): the rotated x axis has mean ~0 in every direction
    assert np.abs((np.array([1.0, 0, 0]) @ R).mean(axis=0)).max() < 0.1


@pytest.mark.parametrize("method", ["vasa", "hungarian"])
def test_spins_are_permutations_within_hemisphere(cortex400, method):
    sphere, hemi, _ = cortex400
    n = 60 if method == "vasa" else 8
    perms, cost = gen_spinsamples(sphere, hemi, n, method=method, seed=0, return_cost=True)
    assert perms.shape == (400, n) and cost.shape == (400, n)
    assert is_permutation(perms.T)
    assert (hemi[perms] == hemi[:, None]).all()  # nobody crosses the midline
    assert (cost >= 0).all() and np.isfinite(cost).all()
    assert len({tuple(p) for p in perms.T}) == n  # distinct spins


@pytest.mark.parametrize("method", ["vasa", "hungarian", "original"])
def test_parity_with_neuromaps(cortex400, neuromaps_spins, method):
    sphere, hemi, _ = cortex400
    n = {"vasa": 25, "hungarian": 4, "original": 25}[method]
    ours, our_cost = gen_spinsamples(sphere, hemi, n, method=method, seed=1234, return_cost=True)
    theirs, their_cost = neuromaps_spins(
        sphere, hemi, n, method=method, seed=1234, return_cost=True
    )
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(our_cost, their_cost, rtol=0, atol=1e-12)


def test_parity_on_raw_mni_coordinates(cortex400, neuromaps_spins):
    _, hemi, xyz = cortex400
    ours = gen_spinsamples(xyz, hemi, 10, method="vasa", seed=5)
    np.testing.assert_array_equal(ours, neuromaps_spins(xyz, hemi, 10, method="vasa", seed=5))


def test_duplicate_redraw_matches_neuromaps(neuromaps_spins):
    # four points per hemisphere have few distinct spins: redraws happen often
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(8, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    hemi = np.repeat([0, 1], 4)
    ours = gen_spinsamples(pts, hemi, 12, method="vasa", seed=2)
    np.testing.assert_array_equal(ours, neuromaps_spins(pts, hemi, 12, method="vasa", seed=2))
    assert len({tuple(p) for p in ours.T}) == 12


def test_explicit_rotations_equal_seeded_draw(cortex400):
    sphere, hemi, _ = cortex400
    rots = random_rotations(15, random_state=9)
    a = gen_spinsamples(sphere, hemi, 15, method="vasa", seed=9, check_duplicates=False)
    b = gen_spinsamples(sphere, hemi, method="vasa", rotations=rots)
    np.testing.assert_array_equal(a, b)


def test_vasa_vectorised_equals_one_rotation_loop(cortex400):
    """The batched greedy equals the textbook loop on each rotation."""
    from skconn.nulls._assign import assign_rotated

    sphere, hemi, _ = cortex400
    left = sphere[hemi == 0]
    rots = random_rotations(6, random_state=1)
    col, _ = assign_rotated(left, rots, "vasa")
    for k, R in enumerate(rots):
        y = left @ R
        d = np.sqrt(((left[:, None] - y[None]) ** 2).sum(-1))
        expected = np.zeros(len(left), dtype=int)
        for _ in range(len(left)):
            row = d.min(axis=1).argmax()
            expected[row] = d[row].argmin()
            d[row] = -np.inf
            d[:, expected[row]] = np.inf
        np.testing.assert_array_equal(col[k], expected)


def test_deterministic_and_parallel_equal(cortex400):
    sphere, hemi, _ = cortex400
    a = gen_spinsamples(sphere, hemi, 40, method="vasa", seed=7)
    b = gen_spinsamples(sphere, hemi, 40, method="vasa", seed=7, n_jobs=2)
    np.testing.assert_array_equal(a, b)
    c = gen_spinsamples(sphere, hemi, 40, method="vasa", seed=8)
    assert not np.array_equal(a, c)


def test_estimator_form(cortex400):
    sphere, hemi, _ = cortex400
    est = SpinPermutations(n_rep=10, random_state=0).fit(sphere, hemi)
    assert est.permutations_.shape == (10, 400)
    np.testing.assert_array_equal(
        est.permutations_.T, gen_spinsamples(sphere, hemi, 10, method="vasa", seed=0)
    )
    data = np.arange(400.0)
    np.testing.assert_array_equal(est.randomize(data), data[est.permutations_])
    assert est.rotations_.shape == (10, 3, 3)
    with pytest.raises(ValueError, match="rows"):
        est.randomize(np.arange(5.0))


def test_sphere_coords_per_hemisphere(cortex400):
    sphere, hemi, _ = cortex400
    assert np.allclose(np.linalg.norm(sphere, axis=1), 1)
    for h in (0, 1):
        # centred: the unit vectors of a full hemisphere roughly cancel
        assert np.linalg.norm(sphere[hemi == h].mean(axis=0)) < 0.5


@pytest.mark.parametrize(
    ("coords", "hemiid", "match"),
    [
        (np.zeros((5, 2)), [0, 0, 1, 1, 1], r"3-D points, shape \(N, 3\)"),
        (np.zeros((5, 3, 1)), [0, 0, 1, 1, 1], "3-D points"),
        (np.ones((4, 3)), None, "hemiid is required"),
        (np.ones((4, 3)), [0, 1, 2, 1], "0 \\(left\\) or 1 \\(right\\)"),
        (np.ones((4, 3)), [0, 1, np.nan, 1], "missing"),
        (np.ones((4, 3)), ["L", "R", "B", "L"], "'L' or 'R'"),
        (np.ones((4, 3)), [0, 1], "shape \\(4,\\)"),
        (np.array([[0, 0, np.nan]] * 4), [0, 0, 1, 1], "NaN"),
    ],
)
def test_bad_input(coords, hemiid, match):
    with pytest.raises(ValueError, match=match):
        gen_spinsamples(coords, hemiid, 2, seed=0)


def test_bad_options(cortex400):
    sphere, hemi, _ = cortex400
    with pytest.raises(ValueError, match="method"):
        gen_spinsamples(sphere, hemi, 2, method="nearest")
    with pytest.raises(ValueError, match="n_rotate"):
        gen_spinsamples(sphere, hemi, 0)
    with pytest.raises(ValueError, match="rotations"):
        gen_spinsamples(sphere, hemi, rotations=np.ones((2, 3, 3)))
    with pytest.raises(TypeError, match="numeric"):
        gen_spinsamples([["a", "b", "c"]], [0], 1)


def test_string_hemisphere_labels(cortex400):
    sphere, hemi, _ = cortex400
    labels = np.where(hemi == 1, "R", "L")
    np.testing.assert_array_equal(
        gen_spinsamples(sphere, labels, 5, method="vasa", seed=0),
        gen_spinsamples(sphere, hemi, 5, method="vasa", seed=0),
    )
    assert sphere_coords(sphere, labels).shape == (400, 3)


def test_layout_conventions(cortex400):
    """gen_spinsamples keeps neuromaps' (N, n_rotate) + "original"; skconn uses (K, R) + vasa."""
    import inspect

    sphere, hemi, _ = cortex400
    assert inspect.signature(gen_spinsamples).parameters["method"].default == "original"
    assert SpinPermutations().method == "vasa"
    cols = gen_spinsamples(sphere, hemi, 3, method="vasa", seed=0)
    assert cols.shape == (400, 3)
    rows = SpinPermutations(n_rep=3, random_state=0).fit(sphere, hemi).permutations_
    assert rows.shape == (3, 400)
    np.testing.assert_array_equal(cols.T, rows)


@pytest.mark.parametrize(("params", "match"), [
    ({"n_rep": 0}, "n_rep"), ({"n_rep": 1.5}, "n_rep"), ({"method": "nearest"}, "method"),
    ({"check_duplicates": "yes"}, "check_duplicates"),
])
def test_estimator_parameter_validation(cortex400, params, match):
    sphere, hemi, _ = cortex400
    with pytest.raises(ValueError, match=f"'{match}' parameter of SpinPermutations"):
        SpinPermutations(**params).fit(sphere, hemi)
    # with explicit rotations n_rep is unused and not checked
    if "n_rep" in params:
        quarter_turn = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
        est = SpinPermutations(**params).fit(sphere, hemi, rotations=quarter_turn[None])
        assert est.permutations_.shape == (1, 400)

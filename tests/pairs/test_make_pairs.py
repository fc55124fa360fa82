"""make_pairs and pair_indices on the real datasets."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from skconn.pairs import make_pairs, pair_indices


@pytest.fixture(params=["hcp100", "ukbb100"])
def connectome(request):
    return request.getfixturevalue(request.param)


def test_pair_indices():
    np.testing.assert_array_equal(pair_indices(4, "upper"), list(combinations(range(4), 2)))
    both = pair_indices(4)
    np.testing.assert_array_equal(both[0::2], pair_indices(4, "upper"))
    np.testing.assert_array_equal(both[1::2], pair_indices(4, "upper")[:, ::-1])
    assert pair_indices(2, "upper").tolist() == [[0, 1]]
    with pytest.raises(ValueError, match="order"):
        pair_indices(4, "lower")


def test_order_both(connectome):
    X, y = make_pairs(connectome)
    n = connectome.n_regions
    assert len(X) == len(y) == n * (n - 1)
    i, j = X.pairs.T
    assert (i != j).all()
    # rows 2k and 2k+1 are (i, j) and (j, i), with the same target
    np.testing.assert_array_equal(X.pairs[0::2], X.pairs[1::2, ::-1])
    np.testing.assert_array_equal(y[0::2], y[1::2])
    np.testing.assert_array_equal(y, connectome.connectivity[i, j])
    # every ordered pair exactly once
    assert len(np.unique(i * n + j)) == len(X)
    np.testing.assert_array_equal(X.variant, 0)
    assert X.n_variants == 1


def test_order_upper(connectome):
    X, y = make_pairs(connectome, order="upper")
    n = connectome.n_regions
    assert len(X) == n * (n - 1) // 2
    i, j = X.pairs.T
    assert (i < j).all()
    np.testing.assert_array_equal(X.pairs, pair_indices(n, "upper"))
    np.testing.assert_array_equal(y, connectome.connectivity[i, j])
    _, y_both = make_pairs(connectome)
    np.testing.assert_array_equal(y, y_both[0::2])


def test_features_are_the_connectome_expression(hcp100):
    X, _ = make_pairs(hcp100, order="upper")
    np.testing.assert_array_equal(X.region_features(), hcp100.expression.to_numpy())
    np.testing.assert_array_equal(X.feature_names, hcp100.genes)
    np.testing.assert_array_equal(X.labels, hcp100.labels)


def test_nulls(hcp100):
    rng = np.random.default_rng(42)
    n, K = hcp100.n_regions, 3
    nulls = np.stack([rng.permutation(n) for _ in range(K)])
    X, y = make_pairs(hcp100, nulls=nulls)
    base, y_base = make_pairs(hcp100)
    P = len(base)
    assert len(X) == (K + 1) * P and X.n_variants == K + 1
    # variant 0 (the true data) first, then one block per null, in order
    np.testing.assert_array_equal(X.variant, np.repeat(np.arange(K + 1), P))
    np.testing.assert_array_equal(X.variants[0], np.arange(n))
    np.testing.assert_array_equal(X.variants[1:], nulls)
    expression = hcp100.expression.to_numpy()
    for v in range(K + 1):
        block = X[v * P : (v + 1) * P]
        # the same pairs, coordinates and targets in every variant
        np.testing.assert_array_equal(block.pairs, base.pairs)
        np.testing.assert_array_equal(block.distances(), base.distances())
        np.testing.assert_array_equal(y[v * P : (v + 1) * P], y_base)
        # only the expression rows are permuted
        rows_i, rows_j = block.feature_rows()
        perm = np.arange(n) if v == 0 else nulls[v - 1]
        np.testing.assert_array_equal(rows_i, perm[base.pairs[:, 0]])
        np.testing.assert_array_equal(rows_j, perm[base.pairs[:, 1]])
        np.testing.assert_array_equal(block.region_features(variant=v), expression[perm])
    # the shared table is the unpermuted expression, stored once
    np.testing.assert_array_equal(X._table.features, expression)


def test_single_null_as_1d(hcp100_small):
    perm = np.random.default_rng(1).permutation(hcp100_small.n_regions)
    X, _ = make_pairs(hcp100_small, order="upper", nulls=perm)
    assert X.n_variants == 2
    np.testing.assert_array_equal(X.variants[1], perm)


@pytest.mark.parametrize(
    ("nulls", "error", "match"),
    [
        (lambda n: np.tile(np.arange(n), (2, 1))[:, :-1], ValueError, "shape"),
        (lambda n: np.zeros((2, n, 2), dtype=int), ValueError, "shape"),
        (lambda n: np.zeros((1, n), dtype=int), ValueError, "not permutations"),
        (lambda n: np.arange(n)[None, :] + 1, ValueError, "not permutations"),
        (lambda n: np.arange(n, dtype=float)[None, :], TypeError, "integer"),
    ],
    ids=["short-rows", "3-d", "repeats", "out-of-range", "float"],
)
def test_bad_nulls(hcp100_small, nulls, error, match):
    with pytest.raises(error, match=match):
        make_pairs(hcp100_small, nulls=nulls(hcp100_small.n_regions))


def test_missing_drop_warns_and_drops_unsampled(hcp400):
    sampled = hcp400.sampled
    assert (~sampled).sum() == 49
    with pytest.warns(UserWarning, match="dropping 49 region"):
        X, y = make_pairs(hcp400, order="upper")
    n = int(sampled.sum())
    assert X.n_regions == n == 365
    assert len(X) == n * (n - 1) // 2
    np.testing.assert_array_equal(X.labels, hcp400.labels[sampled])
    kept = np.flatnonzero(sampled)
    np.testing.assert_array_equal(y, hcp400.connectivity[kept[X.pairs[:, 0]], kept[X.pairs[:, 1]]])
    np.testing.assert_array_equal(X.region_features(), hcp400.expression.to_numpy()[sampled])


def test_missing_raise(hcp400):
    with pytest.raises(ValueError, match="49 region"):
        make_pairs(hcp400, missing="raise")


def test_missing_impute_keeps_every_region(hcp400):
    X, y = make_pairs(hcp400, order="upper", missing="impute")
    assert X.n_regions == 414
    assert len(X) == 414 * 413 // 2
    assert np.isfinite(X.region_features()).all()
    sampled = hcp400.sampled
    np.testing.assert_array_equal(
        X.region_features(np.flatnonzero(sampled)), hcp400.expression.to_numpy()[sampled]
    )
    np.testing.assert_array_equal(y, hcp400.connectivity[X.pairs[:, 0], X.pairs[:, 1]])


def test_nulls_with_unsampled_regions_raise(hcp400):
    perm = np.arange(hcp400.n_regions)[None, ::-1]
    with pytest.raises(ValueError, match="impute"):
        make_pairs(hcp400, nulls=perm)


def test_sampled_data_never_warns(hcp100, recwarn):
    make_pairs(hcp100, missing="raise")
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"order": "lower"}, ValueError, "order"),
        ({"missing": "ignore"}, ValueError, "missing"),
    ],
)
def test_bad_options(hcp100_small, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_pairs(hcp100_small, **kwargs)


def test_requires_a_connectome(hcp100):
    with pytest.raises(TypeError, match="Connectome"):
        make_pairs(hcp100.expression)


def test_nulls_error_names_subset_and_imputation(hcp400):
    perm = np.arange(hcp400.n_regions)[None, ::-1]
    with pytest.raises(ValueError, match=r"Connectome\.subset.*impute_missing_regions"):
        make_pairs(hcp400, nulls=perm)


def test_near_identity_null_warns(hcp100_small):
    from skconn.exceptions import NearIdentityNullWarning

    n = hcp100_small.n_regions
    near = np.arange(n)
    near[:4] = [1, 0, 3, 2]  # 34 of 38 regions in place
    moved = np.roll(np.arange(n), 5)
    with pytest.warns(NearIdentityNullWarning, match=r"null 1 keeps 89% of the 38 regions"):
        make_pairs(hcp100_small, nulls=[moved, near])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", NearIdentityNullWarning)
        make_pairs(hcp100_small, nulls=[moved])  # a null that moves every region: silent


def test_null_kind_string_is_refused_with_a_pointer(hcp100_small):
    with pytest.raises(TypeError, match=r"make_nulls\(connectome, k, kind='spin'\)"):
        make_pairs(hcp100_small, nulls="spin")

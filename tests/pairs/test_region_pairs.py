"""RegionPairs: views, dense export, scikit-learn plumbing and memory, on real data."""

from __future__ import annotations

import pickle
import tracemalloc
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import _safe_indexing

from skconn.datasets import Connectome
from skconn.pairs import RegionPairs, make_pairs


@pytest.fixture(scope="module")
def pairs100(hcp100):
    """hcp_schaefer100 as region pairs, both orders: 114 * 113 = 12,882 rows."""
    return make_pairs(hcp100)


@pytest.fixture(scope="module")
def null_pairs(hcp100_small):
    """The 40-region subset with two region permutations as null variants."""
    rng = np.random.default_rng(0)
    nulls = np.stack([rng.permutation(hcp100_small.n_regions) for _ in range(2)])
    X, y = make_pairs(hcp100_small, nulls=nulls)
    return X, y, nulls


def assert_same_pairs(a: RegionPairs, b: RegionPairs):
    np.testing.assert_array_equal(a.pairs, b.pairs)
    np.testing.assert_array_equal(a.variant, b.variant)
    np.testing.assert_array_equal(a._table.features, b._table.features)
    np.testing.assert_array_equal(a.variants, b.variants)
    pd.testing.assert_frame_equal(a.regions, b.regions)
    pd.testing.assert_index_equal(a.feature_names, b.feature_names)


def test_shape_len_and_repr(pairs100, hcp100):
    X, y = pairs100
    n = hcp100.n_regions
    assert len(X) == X.shape[0] == y.shape[0] == n * (n - 1)
    assert X.shape == (n * (n - 1), 2 * hcp100.n_genes)
    assert X.ndim == 2
    assert (X.n_regions, X.n_features, X.n_variants) == (n, hcp100.n_genes, 1)
    assert repr(X) == f"RegionPairs(n_pairs={len(X)}, n_regions={n}, n_features=810, n_variants=1)"
    pd.testing.assert_index_equal(X.feature_names, hcp100.genes.astype(str))
    np.testing.assert_array_equal(X.labels, hcp100.labels)
    np.testing.assert_allclose(X.coords, hcp100.coords)


@pytest.mark.parametrize(
    "key",
    [
        slice(100, 400),
        slice(None, None, 7),
        slice(-50, None),
        np.array([5, 0, 12_000, 5, 77]),
        [3, 2, 1],
        np.array([], dtype=int),
        [],
        "mask",
        (np.array([10, 20, 30]), Ellipsis),
        (slice(0, 10), slice(None)),
    ],
    ids=[
        "slice",
        "step",
        "negative",
        "int-array",
        "int-list",
        "empty",
        "empty-list",
        "mask",
        "ellipsis",
        "full-columns",
    ],
)
def test_indexing_returns_view_sharing_table(pairs100, key):
    X, _ = pairs100
    if isinstance(key, str):
        key = X.pairs[:, 0] < X.pairs[:, 1]
    rows = key[0] if isinstance(key, tuple) else key
    if isinstance(rows, list):
        rows = np.asarray(rows, dtype=np.intp)
    view = X[key]
    assert isinstance(view, RegionPairs)
    assert view._table is X._table
    expected = X.pairs[rows]
    np.testing.assert_array_equal(view.pairs, expected)
    assert len(view) == len(expected)
    assert view.shape == (len(expected), X.shape[1])


def test_integer_index_and_chained_views(pairs100):
    X, _ = pairs100
    last = X[-1]
    assert len(last) == 1 and last._table is X._table
    np.testing.assert_array_equal(last.pairs, X.pairs[-1:])
    np.testing.assert_array_equal(X[np.int64(3)].pairs, X.pairs[3:4])
    chained = X[1000:3000][::10][np.array([0, 5, 2])]
    np.testing.assert_array_equal(chained.pairs, X.pairs[1000:3000][::10][[0, 5, 2]])
    assert chained._table is X._table


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ((slice(None), 0), TypeError),
        ((slice(None), slice(0, 3)), TypeError),
        (np.array([0.5, 1.0]), IndexError),
        (np.array([True, False]), IndexError),
        (10**9, IndexError),
        (np.array([10**9]), IndexError),
    ],
)
def test_bad_indexing_raises(pairs100, key, error):
    X, _ = pairs100
    with pytest.raises(error):
        X[key]


def test_safe_indexing_is_a_view(pairs100):
    X, y = pairs100
    idx = np.flatnonzero(X.pairs.sum(axis=1) % 3 == 0)
    view = _safe_indexing(X, idx)
    assert isinstance(view, RegionPairs) and view._table is X._table
    np.testing.assert_array_equal(view.pairs, X.pairs[idx])
    mask = np.zeros(len(X), dtype=bool)
    mask[idx] = True
    np.testing.assert_array_equal(_safe_indexing(X, mask).pairs, view.pairs)
    np.testing.assert_array_equal(_safe_indexing(y, idx), y[idx])


def test_dense_export_equals_manual_concatenation(pairs100, hcp100):
    X, _ = pairs100
    view = X[::97]
    expression = hcp100.expression.to_numpy()
    i, j = view.pairs.T
    expected = np.concatenate([expression[i], expression[j]], axis=1)
    dense = np.asarray(view)
    assert dense.shape == view.shape
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(view.to_dense(), expected)
    assert np.asarray(view, dtype=np.float32).dtype == np.float32
    left, right = view.pair_features()
    np.testing.assert_array_equal(np.hstack([left, right]), expected)


def test_dense_export_with_coords_layout(pairs100, hcp100):
    X, _ = pairs100
    view = X[5:40]
    G = hcp100.n_genes
    expression, xyz = hcp100.expression.to_numpy(), hcp100.coords
    i, j = view.pairs.T
    dense = view.to_dense(coords=True)
    assert dense.shape == (len(view), 2 * G + 6)
    np.testing.assert_array_equal(dense[:, :G], expression[i])
    np.testing.assert_allclose(dense[:, G : G + 3], xyz[i])
    np.testing.assert_array_equal(dense[:, G + 3 : 2 * G + 3], expression[j])
    np.testing.assert_allclose(dense[:, 2 * G + 3 :], xyz[j])


def test_distances_and_regions(pairs100, hcp100):
    X, _ = pairs100
    i, j = X.pairs.T
    np.testing.assert_allclose(X.distances(), hcp100.distances()[i, j])
    np.testing.assert_array_equal(X.unique_regions(), np.arange(hcp100.n_regions))
    np.testing.assert_array_equal(X[:3].unique_regions(), np.unique(X.pairs[:3]))
    np.testing.assert_array_equal(X.region_features([3, 1]), hcp100.expression.to_numpy()[[3, 1]])
    assert X.primary_variant() == 0


def test_variants_gather_permuted_rows(null_pairs, hcp100_small):
    X, _, nulls = null_pairs
    expression = hcp100_small.expression.to_numpy()
    np.testing.assert_array_equal(X.variants[1:], nulls)
    for v in range(X.n_variants):
        view = X[X.variant == v]
        rows_i, rows_j = view.feature_rows()
        perm = np.arange(X.n_regions) if v == 0 else nulls[v - 1]
        np.testing.assert_array_equal(rows_i, perm[view.pairs[:, 0]])
        np.testing.assert_array_equal(rows_j, perm[view.pairs[:, 1]])
        np.testing.assert_array_equal(view.region_features(variant=v), expression[perm])
        dense = np.asarray(view[:50])
        np.testing.assert_array_equal(dense[:, : X.n_features], expression[rows_i[:50]])
        a, b = view.pair_coords()
        np.testing.assert_allclose(a, hcp100_small.coords[view.pairs[:, 0]])
        np.testing.assert_allclose(b, hcp100_small.coords[view.pairs[:, 1]])
        assert view.primary_variant() == v
    with pytest.raises(ValueError, match="null variants"):
        X[X.variant > 0].primary_variant()


def test_with_features_keeps_pairs_and_variants(null_pairs):
    X, _, _ = null_pairs
    view = X[::3]
    table = np.arange(X.n_regions * 2, dtype=float).reshape(X.n_regions, 2)
    new = view.with_features(table, ["a", "b"])
    np.testing.assert_array_equal(new.pairs, view.pairs)
    np.testing.assert_array_equal(new.variant, view.variant)
    assert new.variants is X.variants and new.regions is X.regions
    assert new.shape == (len(view), 4) and new.feature_names.tolist() == ["a", "b"]
    assert X.n_features == 120  # the original is untouched
    rows_i, _ = view.feature_rows()
    np.testing.assert_array_equal(np.asarray(new)[:, :2], table[rows_i])
    assert new.with_features(table).feature_names.tolist() == ["f0", "f1"]
    with pytest.raises(ValueError, match="shape"):
        view.with_features(table[:-1])
    with pytest.raises(ValueError, match="one name per feature"):
        view.with_features(table, ["a"])
    with pytest.raises(ValueError, match="finite"):
        view.with_features(np.full_like(table, np.nan))


def test_constructor_validates(hcp100_small):
    c = hcp100_small
    features, regions = c.expression.to_numpy(), c.regions
    pairs = np.array([[0, 1], [1, 0]])
    X = RegionPairs(features, regions, pairs, feature_names=c.genes)
    assert X.shape == (2, 240)
    bad = features.copy()
    bad[0, 0] = np.nan
    cases = [
        ((bad, regions, pairs), {}, "finite"),
        ((features[0], regions, pairs), {}, "2-D"),
        ((features, regions.iloc[:-1], pairs), {}, "one row per feature row"),
        ((features, regions, np.array([[0, 1.0]])), {}, "integer array"),
        ((features, regions, np.array([[0, c.n_regions]])), {}, "outside"),
        ((features, regions, pairs), {"variant": [0]}, "one entry per pair"),
        ((features, regions, pairs), {"variant": [0, 1]}, "variant must lie"),
        ((features, regions, pairs), {"variants": np.arange(c.n_regions)[None, ::-1]}, "identity"),
        ((features, regions, pairs), {"variants": np.zeros((1, 3), dtype=int)}, "shape"),
        ((features, regions, pairs), {"feature_names": ["a"]}, "one name per feature"),
        # a float pairs array is named by its dtype, not by its (valid) shape
        ((features, regions, np.array([[0.0, 1.0]])), {}, "dtype float64"),
        ((features, regions, np.array([[0, 1], [2, 2]])), {}, r"i != j.*\[1\]"),
        ((features, regions, np.array([[-1, 1]])), {}, "pairs must lie"),
    ]
    n = c.n_regions
    swapped = np.arange(n)
    swapped[[0, 1]] = [1, 0]
    two = {"variant": [1, 1]}
    cases += [
        # floats are refused, not truncated to a valid index
        ((features, regions, pairs), {"variant": [0.9, 0.0]}, "variant must be an integer"),
        ((features, regions, pairs), {**two, "variants": np.vstack([np.arange(n), swapped + 0.5])},
         "variants must be an integer"),
        # out-of-range rows would be read with wrap-around (negative) or fail later
        ((features, regions, pairs), {**two, "variants": np.vstack([np.arange(n), swapped - n])},
         "variants must lie"),
        ((features, regions, pairs), {**two, "variants": np.vstack([np.arange(n), swapped + n])},
         "variants must lie"),
        ((features, regions, pairs), {"variant": [-1, 0]}, "variant must lie"),
        ((features, regions, pairs), {"variant": [True, False]}, "variant must be an integer"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            RegionPairs(*args, **kwargs)


def test_pickle_and_joblib_round_trip(null_pairs, tmp_path):
    X, _, _ = null_pairs
    view = X[np.arange(0, len(X), 5)]
    for loaded in (pickle.loads(pickle.dumps(view)), _joblib_round_trip(view, tmp_path)):
        assert isinstance(loaded, RegionPairs)
        assert_same_pairs(loaded, view)
        np.testing.assert_array_equal(np.asarray(loaded[:20]), np.asarray(view[:20]))
    # views pickled together still share one table afterwards
    a, b = pickle.loads(pickle.dumps((X[:10], X[10:20])))
    assert a._table is b._table


def _joblib_round_trip(obj, folder):
    path = folder / "pairs.joblib"
    joblib.dump(obj, path)
    return joblib.load(path)


def test_clone_of_a_pipeline_holding_region_pairs(pairs100):
    X, y = pairs100
    reference = X[:10]
    pipe = Pipeline(
        [
            (
                "first_region",
                FunctionTransformer(_first_region_features, kw_args={"ref": reference}),
            ),
            ("ridge", Ridge()),
        ]
    )
    cloned = clone(pipe)
    held = cloned.named_steps["first_region"].kw_args["ref"]
    assert isinstance(held, RegionPairs) and held is not reference
    assert_same_pairs(held, reference)
    train = X[::50]
    fitted = cloned.fit(train, y[::50])
    refit = clone(fitted).fit(train, y[::50])
    np.testing.assert_allclose(fitted.predict(X[1::50]), refit.predict(X[1::50]))


def _first_region_features(X, ref):
    assert isinstance(X, RegionPairs) and X.n_features == ref.n_features
    return X.pair_features()[0]


# --------------------------------------------------------------------------- memory
N_BIG_REGIONS, N_BIG_GENES = 456, 7380


@pytest.fixture(scope="module")
def big_connectome():
    """456 regions x 7,380 genes (synthetic values; one region unsampled)."""
    rng = np.random.default_rng(0)
    R, G = N_BIG_REGIONS, N_BIG_GENES
    regions = pd.DataFrame(
        {
            "label": [f"region_{r}" for r in range(R)],
            "hemisphere": np.where(np.arange(R) % 2, "R", "L"),
            "structure": "cortex",
            "x": rng.normal(0, 40, R),
            "y": rng.normal(0, 40, R),
            "z": rng.normal(0, 40, R),
        }
    )
    expression = rng.random((R, G))
    expression[7] = np.nan
    fc = rng.random((R, R))
    fc = (fc + fc.T) / 2
    genes = [f"GENE{g}" for g in range(G)]
    return Connectome(regions, pd.DataFrame(expression, columns=genes), fc, name="big")


def test_region_pairs_cost_the_region_table_not_the_dense_matrix(big_connectome):
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the one unsampled region
            X, y = make_pairs(big_connectome)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n = N_BIG_REGIONS - 1
    assert len(X) == n * (n - 1) == 206_570
    table_bytes = X._table.features.nbytes
    pair_bytes = X.pairs.nbytes + X.variant.nbytes
    dense_bytes = len(X) * X.shape[1] * 8  # ~24 GB of float64
    budget = 2 * (table_bytes + pair_bytes)  # ~64 MB
    assert len(pickle.dumps(X, protocol=pickle.HIGHEST_PROTOCOL)) < budget
    assert kept - y.nbytes < budget
    assert peak < 2 * budget < dense_bytes / 100

    # a GridSearchCV-style split indexes half the rows: pairs are copied, the table is not
    half = np.arange(0, len(X), 2)
    tracemalloc.start()
    try:
        train = _safe_indexing(X, half)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert train._table is X._table
    assert np.shares_memory(train._table.features, X._table.features)
    assert peak < pair_bytes < table_bytes / 4


def test_find_returns_the_rows_of_given_pairs_in_a_variant(hcp100):
    perm = np.random.default_rng(0).permutation(hcp100.n_regions)
    X, _ = make_pairs(hcp100, nulls=perm[None])
    want = np.array([[5, 2], [2, 5], [113, 0], [40, 41]])
    for variant in (0, 1):
        rows = X.find(want, variant)
        np.testing.assert_array_equal(X.pairs[rows], want)
        assert (X.variant[rows] == variant).all()
    view = X[X.find(want[:2])]  # a view lacks what it does not hold
    with pytest.raises(ValueError, match="1 of the 2 pairs are not in X in variant 0"):
        view.find(want[1:3])
    with pytest.raises(ValueError, match="not in X in variant 1"):
        view.find(want[:1], variant=1)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        X.find([1, 2])

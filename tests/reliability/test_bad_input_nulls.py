"""Bad input for the region splitters and the null generators.

Every generated call either works - and the answer is then checked: folds
partition the regions, spins are permutations within a hemisphere, curve fits are
finite - or raises ``ValueError``/``TypeError`` naming the argument at fault (see
``_outcomes.attempt``).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.model_selection import KFold

from skconn.datasets import Connectome, load_connectome, make_toy_connectome
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit, SpinNullSplit
from skconn.models import ConnectomeModelRegressor, ExpDecayRegressor
from skconn.nulls import (
    SpinPermutations,
    cge_distance_curve,
    cge_matched_spins,
    curve_parameters,
    fit_cubic,
    fit_exponential,
    gen_spinsamples,
    hemisphere_ids,
    mirror_rotations,
    null_test,
    random_rotations,
    sphere_coords,
    spin_test,
    spun_cge_curves,
    subcortical_spins,
    whole_brain_spins,
)
from skconn.pairs import RegionPairs, make_pairs

from ..conftest import SHARED_DATA
from ._outcomes import accepted_or_rejected


@functools.cache
def _real() -> Connectome:
    """16 real regions (12 cortical, 4 subcortical) x 20 genes of hcp_schaefer100."""
    full = load_connectome(SHARED_DATA / "hcp_schaefer100")
    idx = np.r_[np.arange(0, 100, 9)[:12], [100, 101, 107, 108]]
    sub = full.subset(idx)
    return Connectome(sub.regions, sub.expression.iloc[:, :20], sub.connectivity, name="real16")


@functools.cache
def _toy() -> Connectome:
    return make_toy_connectome(8, 4, random_state=1)


def _base(which: str) -> Connectome:
    return _toy() if which == "toy" else _real()


@functools.cache
def _pairs(which: str, n_nulls: int = 0):
    c = _base(which)
    rng = np.random.default_rng(0)
    nulls = [rng.permutation(c.n_regions) for _ in range(n_nulls)] if n_nulls else None
    return make_pairs(c, nulls=nulls)


_BASES = st.sampled_from(["toy", "real"])
# valid values come first and often: the accepted calls are checked for correctness
_SEEDS = st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 9), st.none(),
                   st.sampled_from(["abc", 1.5, -1]))
_SPLIT_NAMES = ["n_splits", "X", "y", "random_state", "shuffle", "cross_pairs", "regions",
                "hemisphere_aware"]


def _assert_region_folds(X: RegionPairs, folds, n_splits: int) -> None:
    """Test regions partition the split regions; rows respect the region split."""
    assert len(folds) == n_splits
    seen = []
    regions = np.unique(X.pairs[X.variant == X.primary_variant()])
    for train, test in folds:
        assert train.dtype.kind in "iu" and test.dtype.kind in "iu"
        assert len(train) and len(test)
        assert np.intersect1d(train, test).size == 0
        assert train.max() < len(X) and test.max() < len(X)
        test_regions = np.unique(X.pairs[test])
        assert np.intersect1d(test_regions, np.unique(X.pairs[train])).size == 0
        seen.append(test_regions)
    every = np.concatenate(seen)
    assert len(every) == len(np.unique(every))  # each region tested once at most
    assert set(every) <= set(regions)


# ---------------------------------------------------------------------- splitters


@st.composite
def _splitter(draw):
    kind = draw(st.sampled_from(["random", "spatial"]))
    n_splits = draw(st.one_of(st.integers(2, 5), st.integers(2, 5), st.integers(-1, 20),
                              st.sampled_from([2.0, "3", None, True])))
    seed = draw(_SEEDS)
    if kind == "random":
        shuffle = draw(st.sampled_from([True, True, False, "yes"]))
        if not shuffle:
            seed = None if draw(st.booleans()) else seed
        return RandomRegionSplit(n_splits, shuffle=shuffle, random_state=seed)
    return SpatialRegionSplit(n_splits, random_state=seed,
                              hemisphere_aware=draw(st.booleans()))


@st.composite
def _split_input(draw):
    which = draw(_BASES)
    X, y = _pairs(which)
    kind = draw(st.sampled_from(["ok", "ok", "ok", "ok", "dense", "list", "few_regions",
                                 "short_y", "one_pair", "empty"]))
    if kind == "dense":
        X = np.asarray(X)
    elif kind == "list":
        X = X.pairs.tolist()
    elif kind == "few_regions":
        keep = draw(st.integers(2, 4))
        rows = np.flatnonzero((X.pairs < keep).all(axis=1))
        X, y = X[rows], y[rows]
    elif kind == "short_y":
        y = y[:-1]
    elif kind == "one_pair":
        X, y = X[:1], y[:1]
    elif kind == "empty":
        X, y = X[:0], y[:0]
    return kind, X, y


@given(cv=_splitter(), data=_split_input())
def test_region_splitters_bad_input(cv, data):
    kind, X, y = data
    target = f"{type(cv).__name__}.split"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ok, folds = accepted_or_rejected(target, lambda: list(cv.split(X, y)),
                                         names=_SPLIT_NAMES)
    if kind in ("dense", "list", "short_y"):
        assert not ok
    if not ok:
        return
    n = len(np.unique(X.pairs))
    assert isinstance(cv.n_splits, (int, np.integer)) and 2 <= cv.n_splits <= n
    _assert_region_folds(X, folds, cv.n_splits)


@given(which=_BASES, row=st.integers(0, 5), col=st.sampled_from(["x", "y", "z"]),
       value=st.sampled_from([np.nan, np.inf, "abc", None]), drop=st.booleans())
def test_region_pairs_rejects_bad_coordinates(which, row, col, value, drop):
    X, _ = _pairs(which)
    regions = X.regions.copy()
    if drop:
        regions = regions.drop(columns=col)
    else:
        regions[col] = regions[col].astype(object)
        regions.loc[row, col] = value
    ok, _ = accepted_or_rejected("RegionPairs", RegionPairs, X.region_features(), regions,
                                   X.pairs, names=["regions"])
    assert not ok


@given(which=_BASES, n_nulls=st.integers(0, 3), n_splits=st.integers(2, 4),
       variants=st.one_of(st.none(), st.lists(st.integers(-1, 5), max_size=5),
                          st.sampled_from([[1.0, 2.0], "12", 3])),
       base=st.sampled_from(["random", "spatial", "kfold", "none"]))
def test_spin_null_split_bad_input(which, n_nulls, n_splits, variants, base):
    X, y = _pairs(which, n_nulls)
    base_cv = {"random": RandomRegionSplit(n_splits, random_state=0),
               "spatial": SpatialRegionSplit(n_splits, random_state=0),
               "kfold": KFold(n_splits), "none": None}[base]
    cv = SpinNullSplit(base_cv, variants=variants)
    ok, folds = accepted_or_rejected("SpinNullSplit.split", lambda: list(cv.split(X, y)),
                                     names=["variants", "base_cv", "X", "n_splits", "nulls"])
    # a row splitter (KFold) would put the same pairs in train and test once mapped onto
    # one null; X without nulls would be scored as its own null
    if base in ("none", "kfold") or n_nulls == 0 or (variants is not None and (
            not isinstance(variants, list) or len(variants) != n_splits
            or min(variants) < 1 or max(variants) > n_nulls
            or len(set(variants)) != len(variants))):
        assert not ok, (base, variants, n_nulls)
    if not ok:
        return
    assert len(folds) == n_splits
    for k, (train, test) in enumerate(folds):
        v_train, v_test = np.unique(X.variant[train]), np.unique(X.variant[test])
        assert len(v_train) == 1 and v_train.tolist() == v_test.tolist()
        assert v_train[0] == ((k + 1) if variants is None else variants[k])
        assert np.intersect1d(np.unique(X.pairs[train]), np.unique(X.pairs[test])).size == 0


# ---------------------------------------------------------------------- spins

_COORDS = st.one_of(
    hnp.arrays(float, st.tuples(st.integers(4, 12), st.just(3)), elements=st.floats(-80, 80)),
    hnp.arrays(float, st.tuples(st.integers(0, 9), st.sampled_from([3, 2, 4])),
               elements=st.one_of(st.floats(-80, 80), st.sampled_from([np.nan, np.inf]))),
    hnp.arrays(float, st.tuples(st.integers(2, 9), st.just(3)), elements=st.floats(-80, 80)),
    st.sampled_from([None, "abc", [[1, 2, 3], [4, 5]], np.zeros(3)]),
)


def _hemi_for(coords, draw):
    n = len(coords) if isinstance(coords, np.ndarray) and coords.ndim else 3
    return draw(st.one_of(
        st.just(np.arange(n) % 2),
        hnp.arrays(np.int8, st.sampled_from([n, n + 1]), elements=st.integers(0, 1)),
        st.lists(st.sampled_from(["L", "R"]), min_size=n, max_size=n),
        st.sampled_from([None, [0.5] * n, ["L", "B"] + ["R"] * max(0, n - 2), [np.nan] * n]),
    ))


def _assert_spins(perms, hemi, n, k, *, permutation=True):
    perms = np.asarray(perms)
    assert perms.shape == (k, n) and perms.dtype.kind in "iu"
    assert ((perms >= 0) & (perms < n)).all()
    if permutation:
        assert (np.sort(perms, axis=1) == np.arange(n)).all()
    hemi = np.asarray(hemi)
    hemi = (hemi == "R") if hemi.dtype.kind in "US" else hemi.astype(bool)
    assert (hemi[perms] == hemi[None]).all()  # spins never cross hemispheres


@settings(max_examples=40)
@given(data=st.data(), coords=_COORDS,
       n_rotate=st.one_of(st.integers(1, 4), st.integers(-1, 4), st.sampled_from([2.5, "3", None])),
       method=st.sampled_from(["vasa", "hungarian", "original", "bogus"]), seed=_SEEDS)
def test_gen_spinsamples_bad_input(data, coords, n_rotate, method, seed):
    hemi = _hemi_for(coords, data.draw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate spins of tiny inputs
        ok, out = accepted_or_rejected(
            "gen_spinsamples", gen_spinsamples, coords, hemi, n_rotate, method=method,
            seed=seed, names=["coords", "hemiid", "n_rotate", "method", "seed"])
    if not ok:
        return
    c = np.asarray(coords, dtype=float)
    assert np.isfinite(c).all() and c.ndim == 2 and c.shape[1] == 3
    _assert_spins(out.T, hemi, len(c), n_rotate, permutation=method != "original")


@given(data=st.data(), coords=_COORDS,
       n_rep=st.one_of(st.integers(1, 3), st.integers(-1, 3), st.sampled_from([1.5, None])),
       x_kind=st.sampled_from(["vector", "matrix", "short", "scalar", "none"]))
def test_spin_permutations_bad_input(data, coords, n_rep, x_kind):
    hemi = _hemi_for(coords, data.draw)
    spins = SpinPermutations(n_rep=n_rep, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ok, out = accepted_or_rejected("SpinPermutations.fit", spins.fit, coords, hemi,
                                       names=["coords", "hemiid", "n_rep"])
    if not ok:
        return
    n = len(coords)
    _assert_spins(spins.permutations_, hemi, n, n_rep)
    x = {"vector": np.arange(n, dtype=float), "matrix": np.ones((n, 2)),
         "short": np.arange(n + 1.0), "scalar": np.float64(2.0), "none": None}[x_kind]
    ok, out = accepted_or_rejected("SpinPermutations.randomize", spins.randomize, x,
                                   names=["x"])
    assert ok == (x_kind in ("vector", "matrix"))
    if ok:
        assert out.shape == (n_rep, *np.shape(x))
        np.testing.assert_array_equal(np.sort(out[..., 0] if out.ndim == 3 else out, axis=1),
                                      np.sort(np.broadcast_to(x if x.ndim == 1 else x[:, 0],
                                                              (n_rep, n)), axis=1))


@given(data=st.data(), coords=_COORDS)
def test_sphere_coords_bad_input(data, coords):
    hemi = _hemi_for(coords, data.draw)
    ok, out = accepted_or_rejected("sphere_coords", sphere_coords, coords, hemi,
                                   names=["coords", "hemiid"])
    if ok:
        assert out.shape == np.shape(coords) and np.isfinite(out).all()
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)


@given(data=st.data(), coords=_COORDS, n_rotate=st.integers(0, 3),
       center=st.sampled_from(["centroid", "origin", "middle"]))
def test_subcortical_spins_bad_input(data, coords, n_rotate, center):
    hemi = _hemi_for(coords, data.draw)
    ok, out = accepted_or_rejected("subcortical_spins", subcortical_spins, coords, hemi,
                                   n_rotate, center=center, random_state=0,
                                   names=["coords", "hemiid", "n_rotate", "center"])
    if ok:
        perms, cost = out
        _assert_spins(perms, hemi, len(coords), n_rotate)
        assert np.isfinite(cost).all() and (cost >= 0).all()


@st.composite
def _region_table(draw):
    c = _base(draw(_BASES))
    regions = c.regions.copy()
    kind = draw(st.sampled_from(["ok", "connectome", "drop", "bad_hemi", "nan_coord",
                                 "not_frame", "one_per_side", "midline", "one_side"]))
    if kind == "connectome":
        return kind, c
    if kind == "drop":
        regions = regions.drop(columns=draw(st.sampled_from(["hemisphere", "structure", "x",
                                                              "y", "z"])))
    elif kind == "bad_hemi":
        regions["hemisphere"] = regions["hemisphere"].astype(object)
        regions.loc[0, "hemisphere"] = draw(st.sampled_from([None, "X", np.nan]))
    elif kind == "nan_coord":
        regions.loc[1, draw(st.sampled_from(["x", "y", "z"]))] = np.nan
    elif kind == "not_frame":
        regions = draw(st.sampled_from([None, regions.to_numpy(), "regions"]))
    elif kind == "one_per_side":
        regions = regions.iloc[:2]
    elif kind == "midline":
        regions.loc[:1, "hemisphere"] = "B"
    elif kind == "one_side":
        regions["hemisphere"] = "L"
    return kind, regions


@settings(max_examples=30)
@given(table=_region_table(), n_spins=st.one_of(st.integers(0, 3), st.sampled_from([1.5, None])),
       method=st.sampled_from(["vasa", "hungarian", "nope"]))
def test_whole_brain_spins_and_hemisphere_ids_bad_input(table, n_spins, method):
    kind, regions = table
    names = ["connectome", "regions", "hemisphere", "n_spins", "method", "coords", "x", "y",
             "z", "structure"]
    ok, hemi = accepted_or_rejected("hemisphere_ids", hemisphere_ids,
                                    regions.regions if kind == "connectome" else regions,
                                    names=names)
    if ok:
        assert hemi.dtype == np.int8 and set(np.unique(hemi)) <= {0, 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ok, out = accepted_or_rejected("whole_brain_spins", whole_brain_spins, regions, n_spins,
                                       method=method, random_state=0, names=names)
    if kind in ("drop", "bad_hemi", "nan_coord", "not_frame"):
        assert not ok
    if ok:
        table = regions.regions if kind == "connectome" else regions
        perms, ctx_cost, sub_cost = out
        _assert_spins(perms, hemisphere_ids(table), len(table), n_spins)
        structure = table["structure"].to_numpy()
        assert (structure[perms] == structure[None]).all()
        assert np.isfinite(ctx_cost).all() and np.isfinite(sub_cost).all()


@given(n=st.one_of(st.integers(-2, 4), st.sampled_from([2.5, "3", None])), seed=_SEEDS,
       shape=st.sampled_from([(3, 3), (2, 3, 3), (3, 2), (2, 2, 2), ()]))
def test_rotations_bad_input(n, seed, shape):
    ok, out = accepted_or_rejected("random_rotations", random_rotations, n, random_state=seed,
                                   names=["n_rotations", "random_state", "seed"])
    if ok:
        assert isinstance(n, (int, np.integer)) and out.shape == (n, 3, 3)
        np.testing.assert_allclose(out @ out.transpose(0, 2, 1), np.broadcast_to(np.eye(3),
                                                                               out.shape),
                                   atol=1e-10)
    ok, out = accepted_or_rejected("mirror_rotations", mirror_rotations, np.ones(shape),
                                   names=["rotations"])
    assert ok == (shape[-2:] == (3, 3))


# ---------------------------------------------------------------------- CGE curves


@st.composite
def _curve_input(draw):
    c = _base(draw(_BASES))
    cge, d = c.cge(), c.distances()
    kind = draw(st.sampled_from(["ok", "nan_cge", "shape", "nan_distance", "negative",
                                 "non_square", "bin", "strings"]))
    bin_size = 5.0
    if kind == "nan_cge":
        cge = cge.copy()
        cge[0, 1] = cge[1, 0] = np.nan
    elif kind == "shape":
        d = d[:-1, :-1]
    elif kind == "nan_distance":
        d = d.copy()
        d[0, 1] = d[1, 0] = np.nan
    elif kind == "negative":
        d = -d
    elif kind == "non_square":
        cge = cge[:, :-1]
    elif kind == "bin":
        bin_size = draw(st.sampled_from([0.0, -1.0, np.nan, np.inf, "5", None, 1e-3, 500.0]))
    elif kind == "strings":
        cge = cge.astype(str)
        cge[0, 0] = "high"
    return kind, c, cge, d, bin_size


@given(case=_curve_input(), perm_kind=st.sampled_from(["ok", "float", "range", "shape", "empty"]),
       batch_size=st.sampled_from([256, 1, 0, -2, 2.5]))
def test_cge_curves_bad_input(case, perm_kind, batch_size):
    kind, c, cge, d, bin_size = case
    names = ["cge", "distances", "bin_size", "perms", "batch_size"]
    ok, curve = accepted_or_rejected("cge_distance_curve", cge_distance_curve, cge, d, bin_size,
                                     names=names)
    assert ok == (kind in ("ok", "bin") and isinstance(bin_size, float)
                  and 0 < bin_size < np.inf), (kind, bin_size)
    if ok:
        centers, means, counts = curve
        n = c.n_regions
        assert counts.sum() == n * (n - 1) // 2 and (counts > 0).all()
        assert np.isfinite(centers).all() and np.isfinite(means).all()
        assert np.all(np.diff(centers) > 0)
    rng = np.random.default_rng(0)
    n = c.n_regions
    perms = {"ok": np.array([rng.permutation(n) for _ in range(3)]),
             "float": np.array([rng.permutation(n) for _ in range(2)]) + 0.5,
             "range": np.full((2, n), n), "shape": np.zeros((2, n + 1), int),
             "empty": np.zeros((0, n), int)}[perm_kind]
    ok, params = accepted_or_rejected("spun_cge_curves", spun_cge_curves, cge, d, perms,
                                      bin_size=bin_size, batch_size=batch_size, names=names)
    if ok:
        assert perm_kind in ("ok", "empty") and kind in ("ok", "bin")
        assert params.shape == (len(perms), 6) and np.isfinite(params).all()


@given(centers=st.one_of(
    hnp.arrays(float, st.integers(1, 12), elements=st.floats(0, 200)),
    hnp.arrays(float, st.integers(0, 12), elements=st.floats(0, 200)),
    hnp.arrays(float, st.integers(1, 12), elements=st.sampled_from([np.nan, 2.5, np.inf])),
), data=st.data(), n_grid=st.sampled_from([120, 120, 2, 1, 0, 2.5]))
def test_curve_fits_bad_input(centers, data, n_grid):
    b = len(centers)
    means = data.draw(st.one_of(
        hnp.arrays(float, st.tuples(st.integers(0, 3), st.sampled_from([b, b + 1])),
                   elements=st.floats(-1, 1)),
        hnp.arrays(float, st.just(b), elements=st.one_of(st.floats(-1, 1),
                                                         st.just(np.nan))),
    ))
    names = ["centers", "means", "n_grid"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.RankWarning)  # < 4 bins: underdetermined
        for target, func, kw in (("fit_exponential", fit_exponential, {"n_grid": n_grid}),
                                 ("fit_cubic", fit_cubic, {}),
                                 ("curve_parameters", curve_parameters, {})):
            ok, out = accepted_or_rejected(target, func, centers, means, names=names, **kw)
            if not ok:
                continue
            assert np.isfinite(centers).all() and np.isfinite(means).all() and b >= 1
            assert means.shape[-1] == b
            out = np.column_stack(out) if isinstance(out, tuple) else np.asarray(out)
            assert np.isfinite(out).all(), target
            if target == "fit_exponential":
                lam, inf = np.atleast_2d(out.T)
                assert ((lam > 0) & (lam <= 100)).all() and (np.abs(inf) <= 1).all()


@settings(max_examples=15)
@given(which=_BASES, n_spins=st.one_of(st.integers(1, 6), st.integers(0, 6),
                                      st.sampled_from([2.5, None])),
       k=st.one_of(st.integers(1, 3), st.integers(0, 7), st.sampled_from(["2"])),
       ranking=st.sampled_from(["zsum", "mean_rank", "zsum", "best"]),
       unsampled=st.booleans())
def test_cge_matched_spins_bad_input(which, n_spins, k, ranking, unsampled):
    c = _base(which)
    if unsampled:
        expression = c.expression.copy()
        expression.iloc[0] = np.nan
        c = Connectome(c.regions, expression, c.connectivity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", np.exceptions.RankWarning)
        ok, out = accepted_or_rejected(
            "cge_matched_spins", cge_matched_spins, c, n_spins, k, ranking=ranking,
            random_state=0, names=["n_spins", "k", "ranking", "expression", "connectome"])
    if not ok:
        return
    best, diag = out
    # spins that leave a block unspun or repeat a better one are passed over, so a few
    # spins of a small atlas may give fewer than k nulls (with a warning)
    assert 1 <= len(best) <= k and len({b.tobytes() for b in best}) == len(best)
    _assert_spins(best, hemisphere_ids(c.regions), c.n_regions, len(best))
    assert len(diag) == n_spins and np.isfinite(diag.select_dtypes("number").to_numpy()).all()


# ---------------------------------------------------------------------- null and spin tests


@settings(max_examples=15)
@given(nulls_kind=st.sampled_from(["ok", "float", "not_perm", "short", "ragged", "string",
                                   "one_row", "empty"]),
       estimator=st.sampled_from(["cm", "exp"]), batch_size=st.sampled_from([64, 0, 1.5]),
       y_kind=st.sampled_from(["ok", "nan", "short"]))
def test_spin_test_bad_input(nulls_kind, estimator, batch_size, y_kind):
    X, y = _pairs("toy")
    n = X.n_regions
    rng = np.random.default_rng(0)
    nulls = {"ok": [rng.permutation(n) for _ in range(4)],
             "float": np.array([rng.permutation(n) for _ in range(2)], dtype=float),
             "not_perm": np.zeros((2, n), int), "short": [rng.permutation(n - 1)],
             "ragged": [list(range(n)), list(range(n - 1))], "string": "spins",
             "one_row": rng.permutation(n), "empty": np.zeros((0, n), int)}[nulls_kind]
    y = {"ok": y, "nan": np.where(np.arange(len(y)) == 3, np.nan, y), "short": y[:-1]}[y_kind]
    model = ConnectomeModelRegressor(alpha=1.0) if estimator == "cm" else ExpDecayRegressor()
    ok, res = accepted_or_rejected("spin_test", spin_test, model, X, y, nulls,
                                   batch_size=batch_size,
                                   names=["nulls", "y", "batch_size", "X"])
    if not ok:
        return
    assert nulls_kind in ("ok", "one_row", "empty") and y_kind == "ok" and batch_size == 64
    k = 1 if nulls_kind == "one_row" else len(nulls)
    assert res.null_scores.shape == (k,) and np.isfinite(res.null_scores).all()
    assert np.isfinite(res.score) and 0 < res.pvalue <= 1


@settings(max_examples=15)
@given(cv_kind=st.sampled_from(["ok", "list", "empty_list", "not_splitter", "too_many_splits"]),
       variants=st.one_of(st.none(), st.sampled_from([[1], [2], [0], [1.5], [9], [1, 2],
                                                      "1"])),
       y_kind=st.sampled_from(["ok", "nan", "short"]),
       n_permutations=st.sampled_from([9999, 0, 2.5]))
def test_null_test_bad_input(cv_kind, variants, y_kind, n_permutations):
    X, y = _pairs("toy", 2)
    cv = {"ok": RandomRegionSplit(2, random_state=0),
          "list": [RandomRegionSplit(2, random_state=s) for s in (0, 1)],
          "empty_list": [], "not_splitter": [RandomRegionSplit(2), "folds"],
          "too_many_splits": SpatialRegionSplit(50)}[cv_kind]
    y = {"ok": y, "nan": np.where(np.arange(len(y)) == 2, np.nan, y), "short": y[1:]}[y_kind]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok, res = accepted_or_rejected(
            "null_test", null_test, ConnectomeModelRegressor(alpha=1.0), X, y, cv=cv,
            variants=variants, n_permutations=n_permutations, scoring="pearson",
            names=["cv", "variants", "y", "n_permutations", "n_splits", "X", "nulls"])
    if not ok:
        return
    assert cv_kind in ("ok", "list") and y_kind == "ok" and n_permutations == 9999
    repeats = len(cv) if isinstance(cv, list) else 1
    assert len(res.scores) == 2 * repeats
    assert set(res.scores.variant) <= {1, 2}
    scores = res.scores[["true_score", "null_score"]].to_numpy()
    # a NaN fold score is never silent: it warns, and the summaries skip it
    assert np.isfinite(scores).all() or any("scored NaN" in str(w.message) for w in caught)
    assert np.isfinite([res.true_mean, res.null_mean, res.gap]).all()
    assert 0 < res.pvalue <= 1


def test_null_test_constant_predictions_warn_not_p0():
    """A model that predicts a constant scores NaN Pearson r: warned, never p = 0."""
    from sklearn.dummy import DummyRegressor

    X, y = _pairs("toy", 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = null_test(DummyRegressor(), X, y, cv=RandomRegionSplit(2, random_state=0),
                        scoring="pearson")
    assert any("scored NaN" in str(w.message) for w in caught)
    assert np.isnan(res.true_mean) and np.isnan(res.pvalue)


def test_region_table_is_never_a_silent_keyerror():
    """A region table lacking coordinates reaches no deep KeyError anywhere."""
    regions = pd.DataFrame({"label": ["a", "b"], "hemisphere": ["L", "R"],
                            "structure": "cortex", "x": [-1.0, 1.0]})
    for target, func, args in (("hemisphere_ids", hemisphere_ids, (regions,)),
                               ("whole_brain_spins", whole_brain_spins, (regions, 2))):
        ok, _ = accepted_or_rejected(target, func, *args, names=["regions", "y", "z"])
        assert target == "hemisphere_ids" or not ok

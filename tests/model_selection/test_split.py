"""Tests of the region splitters on the real datasets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
    permutation_test_score,
)

from skconn.datasets import Connectome
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.pairs import make_pairs

SPLITTERS = {
    "random": lambda **kw: RandomRegionSplit(4, **kw),
    "spatial": lambda **kw: SpatialRegionSplit(4, **kw),
    "spatial_hemi": lambda **kw: SpatialRegionSplit(4, hemisphere_aware=True, **kw),
}


def _pairs(connectome):
    with warnings.catch_warnings():
        # hcp_schaefer400 has unsampled regions, which make_pairs drops with a warning.
        warnings.simplefilter("ignore", UserWarning)
        return make_pairs(connectome)


@pytest.fixture(scope="module")
def datasets(hcp100, ukbb100, hcp400):
    return {"hcp100": _pairs(hcp100), "ukbb100": _pairs(ukbb100), "hcp400": _pairs(hcp400)}


@pytest.fixture(scope="module")
def small(hcp100):
    """A real 30-region x 50-gene subset of hcp_schaefer100 for estimator runs."""
    sub = hcp100.subset(np.arange(0, 90, 3))
    return make_pairs(Connectome(sub.regions, sub.expression.iloc[:, :50], sub.connectivity))


def _test_regions(X, splitter):
    """Test regions of each fold, recovered from the yielded test rows."""
    return [np.unique(X.pairs[test]) for _, test in splitter.split(X)]


def _reference_spatial_folds(coords, n_splits, seed):
    """A direct transcription of REFERENCE §2.3, over positions 0..r-1."""
    rng = np.random.RandomState(seed)
    r = len(coords)
    per = r // n_splits
    remaining = set(range(r))
    folds = []
    for k in range(n_splits):
        seed_region = rng.choice(list(remaining))
        rem = list(remaining)
        dist = [np.sqrt(((coords[i] - coords[seed_region]) ** 2).sum()) for i in rem]
        ranked = [rem[i] for i in np.argsort(dist, kind="stable")]
        chosen = list(remaining) if k == n_splits - 1 else ranked[:per]
        folds.append(sorted(chosen))
        remaining -= set(chosen)
    return folds


def _mean_within_fold_distance(coords, folds):
    return np.mean([pdist(coords[f]).mean() for f in folds])


# --------------------------------------------------------------------------- fold structure
@pytest.mark.parametrize("name", ["hcp100", "ukbb100", "hcp400"])
@pytest.mark.parametrize("kind", list(SPLITTERS))
def test_folds_partition_the_regions(datasets, name, kind):
    X, _ = datasets[name]
    regions = X.unique_regions()
    tested = []
    for train, test in SPLITTERS[kind](random_state=0).split(X):
        train_regions, test_regions = np.unique(X.pairs[train]), np.unique(X.pairs[test])
        assert np.intersect1d(train_regions, test_regions).size == 0
        assert np.array_equal(np.union1d(train_regions, test_regions), regions)
        tested.append(test_regions)
    tested = np.concatenate(tested)
    assert len(tested) == len(regions)
    assert np.array_equal(np.sort(tested), regions)


@pytest.mark.parametrize("kind", list(SPLITTERS))
@pytest.mark.parametrize(
    ("train_cross", "test_cross"), [(False, False), (True, False), (False, True)]
)
def test_rows_are_exactly_the_both_in_rows(datasets, kind, train_cross, test_cross):
    X, _ = datasets["hcp100"]
    reference = SPLITTERS[kind](random_state=3)
    splitter = SPLITTERS[kind](
        random_state=3, train_cross_pairs=train_cross, test_cross_pairs=test_cross
    )
    for test_regions, (train, test) in zip(
        _test_regions(X, reference), splitter.split(X), strict=True
    ):
        in_test = np.isin(X.pairs, test_regions).sum(axis=1)
        expected_train = (in_test == 0) | (train_cross & (in_test == 1))
        expected_test = (in_test == 2) | (test_cross & (in_test == 1))
        assert np.array_equal(train, np.flatnonzero(expected_train))
        assert np.array_equal(test, np.flatnonzero(expected_test))
    if not (train_cross or test_cross):
        # Dropped cross pairs: 2 * n_train * n_test ordered rows per fold.
        n = X.unique_regions().size
        n_test = test_regions.size
        assert len(train) + len(test) == len(X) - 2 * n_test * (n - n_test)


def test_cross_pairs_in_both_sets_is_refused(datasets):
    X, _ = datasets["hcp100"]
    cv = RandomRegionSplit(train_cross_pairs=True, test_cross_pairs=True)
    with pytest.raises(ValueError, match="cannot both be True"):
        next(cv.split(X))


@pytest.mark.parametrize("kind", list(SPLITTERS))
def test_deterministic_under_random_state(datasets, kind):
    X, _ = datasets["hcp400"]
    first = list(SPLITTERS[kind](random_state=7).split(X))
    again = list(SPLITTERS[kind](random_state=7).split(X))
    other = list(SPLITTERS[kind](random_state=8).split(X))
    for (a_train, a_test), (b_train, b_test) in zip(first, again, strict=True):
        assert np.array_equal(a_train, b_train) and np.array_equal(a_test, b_test)
    assert any(
        not np.array_equal(a_test, b_test)
        for (_, a_test), (_, b_test) in zip(first, other, strict=True)
    )


# --------------------------------------------------------------------------- reference folds
@pytest.mark.parametrize("seed", [1, 42])
@pytest.mark.parametrize("name", ["hcp100", "hcp400"])
def test_random_folds_equal_kfold_on_regions(datasets, name, seed):
    X, _ = datasets[name]
    regions = X.unique_regions()
    kfold = KFold(4, shuffle=True, random_state=seed).split(regions)
    ours = _test_regions(X, RandomRegionSplit(4, random_state=seed))
    for (_, expected), got in zip(kfold, ours, strict=True):
        assert np.array_equal(regions[np.sort(expected)], got)


def test_random_folds_without_shuffle_are_consecutive(datasets):
    X, _ = datasets["ukbb100"]
    folds = _test_regions(X, RandomRegionSplit(4, shuffle=False))
    assert [f.tolist() for f in folds] == [list(range(k, k + 25)) for k in range(0, 100, 25)]


@pytest.mark.parametrize("seed", [1, 42])
@pytest.mark.parametrize("name", ["hcp100", "hcp400"])
def test_spatial_folds_match_the_reference_algorithm(datasets, name, seed):
    X, _ = datasets[name]
    regions = X.unique_regions()
    expected = _reference_spatial_folds(X.coords[regions], 4, seed)
    ours = _test_regions(X, SpatialRegionSplit(4, random_state=seed))
    for exp, got in zip(expected, ours, strict=True):
        assert np.array_equal(regions[exp], got)
    per = len(regions) // 4
    assert [len(f) for f in ours] == [per, per, per, len(regions) - 3 * per]


# --------------------------------------------------------------------------- spatial quality
def _neighbour_agreement(coords, folds, k=5):
    """Fraction of each region's k nearest regions that share its fold."""
    regions = np.concatenate(folds)
    label = np.repeat(np.arange(len(folds)), [len(f) for f in folds])
    dist = squareform(pdist(coords[regions]))
    nearest = np.argsort(dist, axis=1)[:, 1 : k + 1]
    return (label[nearest] == label[:, None]).mean()


@pytest.mark.parametrize("name", ["hcp100", "ukbb100", "hcp400"])
def test_spatial_folds_are_compact(datasets, name):
    X, _ = datasets[name]
    coords = X.coords
    seeds = range(5)
    spatial = [_test_regions(X, SpatialRegionSplit(4, random_state=s)) for s in seeds]
    random = [_test_regions(X, RandomRegionSplit(4, random_state=s)) for s in seeds]
    spread_random = np.mean([_mean_within_fold_distance(coords, f) for f in random])
    spread_spatial = np.mean([_mean_within_fold_distance(coords, f) for f in spatial])
    # The last reference fold is whatever is left (REFERENCE §2.3), so judge the grown ones too.
    spread_grown = np.mean([_mean_within_fold_distance(coords, f[:-1]) for f in spatial])
    assert spread_grown < 0.7 * spread_random
    assert spread_spatial < 0.8 * spread_random
    agree_random = np.mean([_neighbour_agreement(coords, f) for f in random])
    agree_spatial = np.mean([_neighbour_agreement(coords, f) for f in spatial])
    assert agree_spatial > 2.5 * agree_random


def _side(X, regions):
    hemi = X.regions["hemisphere"].to_numpy()[regions]
    x = X.coords[regions, 0]
    return np.where((hemi == "L") | ((hemi == "B") & (x <= 0)), "L", "R")


@pytest.mark.parametrize("name", ["hcp100", "ukbb100", "hcp400"])
@pytest.mark.parametrize("n_splits", [3, 4, 5])
def test_hemisphere_aware_folds_are_balanced_and_compact(datasets, name, n_splits):
    X, _ = datasets[name]
    regions = X.unique_regions()
    side = _side(X, regions)
    block_spread, random_spread = [], []
    for seed in range(3):
        folds = _test_regions(
            X, SpatialRegionSplit(n_splits, random_state=seed, hemisphere_aware=True)
        )
        sizes = [len(f) for f in folds]
        assert max(sizes) - min(sizes) <= 1
        for s in ("L", "R"):
            on_side = regions[side == s]
            blocks = [np.intersect1d(f, on_side) for f in folds]
            block_sizes = [len(b) for b in blocks]
            assert set(block_sizes) <= {len(on_side) // n_splits, -(-len(on_side) // n_splits)}
            block_spread.append(_mean_within_fold_distance(X.coords, blocks))
            rng = np.random.default_rng(seed)
            random_blocks = np.array_split(rng.permutation(on_side), n_splits)
            random_spread.append(_mean_within_fold_distance(X.coords, random_blocks))
    assert np.mean(block_spread) < 0.7 * np.mean(random_spread)


def test_hemisphere_aware_puts_midline_regions_by_x_sign(hcp100):
    # hcp_schaefer100 has no midline regions: relabel the subcortical ones "B".
    regions = hcp100.regions.copy()
    midline = regions["structure"].to_numpy() == "subcortex"
    regions.loc[midline, "hemisphere"] = "B"
    c = Connectome(regions, hcp100.expression, hcp100.connectivity)
    X, _ = make_pairs(c)
    is_left = regions["x"].to_numpy() <= 0
    n_left = is_left.sum()
    for seed in range(3):
        for fold in _test_regions(
            X, SpatialRegionSplit(4, random_state=seed, hemisphere_aware=True)
        ):
            assert is_left[fold].sum() in {n_left // 4, -(-n_left // 4)}


# --------------------------------------------------------------------------- variants
def test_null_variant_rows_are_never_yielded(hcp100):
    rng = np.random.default_rng(0)
    perms = np.array([rng.permutation(hcp100.n_regions) for _ in range(3)])
    X, _ = make_pairs(hcp100, nulls=perms)
    X_true, _ = make_pairs(hcp100)
    for kind, make in SPLITTERS.items():
        with_nulls = list(make(random_state=0).split(X))
        without = list(make(random_state=0).split(X_true))
        for (train, test), (train0, test0) in zip(with_nulls, without, strict=True):
            assert (X.variant[train] == 0).all() and (X.variant[test] == 0).all(), kind
            assert np.array_equal(train, train0) and np.array_equal(test, test0), kind
    # A view holding a single null variant is split on that variant.
    view = X[X.variant == 2]
    for train, test in RandomRegionSplit(4, random_state=0).split(view):
        assert (view.variant[train] == 2).all() and (view.variant[test] == 2).all()


# --------------------------------------------------------------------------- errors and API
def test_errors(datasets, hcp100):
    X, y = datasets["hcp100"]
    with pytest.raises(TypeError, match="RegionPairs"):
        next(RandomRegionSplit().split(np.asarray(X[:50]), y[:50]))
    with pytest.raises(TypeError, match="make_pairs"):
        next(SpatialRegionSplit().split(np.zeros((10, 4))))
    small_X, _ = make_pairs(hcp100.subset([0, 1, 2, 60]))
    for cv in (RandomRegionSplit(5), SpatialRegionSplit(5)):
        with pytest.raises(ValueError, match=r"n_splits=5 .* regions in X: 4"):
            next(cv.split(small_X))
    for cv in (RandomRegionSplit(n_splits=1), SpatialRegionSplit(n_splits=1)):
        with pytest.raises(ValueError, match=r"'n_splits' parameter .* range \[2, inf\)"):
            next(cv.split(X))
    with pytest.raises(ValueError, match=r"'n_splits' parameter .* range \[2, inf\)"):
        next(RandomRegionSplit(n_splits=2.5).split(X))
    # One region per fold leaves no pair to test on, unless cross pairs are tested.
    with pytest.raises(ValueError, match="empty test set"):
        list(RandomRegionSplit(4).split(small_X))
    assert len(list(RandomRegionSplit(4, test_cross_pairs=True).split(small_X))) == 4
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        next(RandomRegionSplit().split(X, y[:-1]))
    # a truthy string is not taken for True
    for cv, flag in ((SpatialRegionSplit(hemisphere_aware="no"), "hemisphere_aware"),
                     (RandomRegionSplit(test_cross_pairs="no"), "test_cross_pairs"),
                     (SpatialRegionSplit(train_cross_pairs=1), "train_cross_pairs")):
        with pytest.raises(TypeError, match=f"'{flag}' parameter .* 'bool'"):
            next(cv.split(X))
    with pytest.raises(ValueError, match="mixes null variants"):
        X_nulls, _ = make_pairs(hcp100, nulls=[np.arange(hcp100.n_regions)[::-1]] * 2)
        next(RandomRegionSplit().split(X_nulls[X_nulls.variant > 0]))


def test_init_only_stores_and_repr(datasets):
    cv = SpatialRegionSplit(n_splits=1, random_state="not validated here")
    assert cv.n_splits == 1 and cv.random_state == "not validated here"
    assert RandomRegionSplit(3).get_n_splits() == 3
    assert SpatialRegionSplit(6).get_n_splits(*datasets["hcp100"]) == 6
    assert " ".join(repr(SpatialRegionSplit(3, random_state=0)).split()) == (
        "SpatialRegionSplit(hemisphere_aware=False, n_splits=3, random_state=0, "
        "test_cross_pairs=False, train_cross_pairs=False)"
    )
    X, y = datasets["hcp100"]
    with pytest.warns(UserWarning, match="groups parameter is ignored"):
        next(RandomRegionSplit(random_state=0).split(X, y, groups=np.zeros(len(X))))


# --------------------------------------------------------------------------- scikit-learn
def test_search_and_cross_validation(small):
    X, y = small
    grid = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=RandomRegionSplit(3, random_state=0))
    grid.fit(X, y)
    assert len(grid.cv_results_["split2_test_score"]) == 2
    search = RandomizedSearchCV(
        Ridge(),
        {"alpha": [0.01, 0.1, 1.0, 10.0]},
        n_iter=2,
        cv=SpatialRegionSplit(3, random_state=0),
        random_state=0,
    )
    search.fit(X, y)
    assert np.isfinite(search.best_score_)
    result = cross_validate(
        Ridge(), X, y, cv=SpatialRegionSplit(4, random_state=0, hemisphere_aware=True)
    )
    assert np.isfinite(result["test_score"]).all() and len(result["test_score"]) == 4
    scores = cross_val_score(DummyRegressor(), X, y, cv=RandomRegionSplit(4, random_state=0))
    assert scores.shape == (4,) and np.isfinite(scores).all()
    score, perm_scores, pvalue = permutation_test_score(
        Ridge(alpha=10.0),
        X,
        y,
        cv=SpatialRegionSplit(3, random_state=0),
        n_permutations=5,
        random_state=0,
    )
    assert perm_scores.shape == (5,) and 0 < pvalue <= 1 and np.isfinite(score)


class _RecordingSplit(RandomRegionSplit):
    """Remembers the regions it was asked to fold (class-level: clone deep-copies cv)."""

    seen: list = []  # noqa: RUF012

    def _iter_test_regions(self, X, regions):
        _RecordingSplit.seen.append(regions)
        return super()._iter_test_regions(X, regions)


def test_nested_cv_splits_only_outer_training_regions(small):
    X, y = small
    _RecordingSplit.seen.clear()
    inner = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=_RecordingSplit(3, random_state=0))
    outer = SpatialRegionSplit(4, random_state=0)
    result = cross_validate(inner, X, y, cv=outer, return_estimator=True)
    assert len(result["test_score"]) == 4 and np.isfinite(result["test_score"]).all()
    outer_train = [np.unique(X.pairs[train]) for train, _ in outer.split(X)]
    assert len(_RecordingSplit.seen) == 4
    for seen, expected in zip(_RecordingSplit.seen, outer_train, strict=True):
        assert np.array_equal(seen, expected)
    # The plain splitter nests the same way.
    nested = cross_validate(
        GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=RandomRegionSplit(3)),
        X,
        y,
        cv=SpatialRegionSplit(4),
    )
    assert np.isfinite(nested["test_score"]).all()

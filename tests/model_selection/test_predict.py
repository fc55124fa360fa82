"""Tests of cross_val_predict on hcp_schaefer100 with the Connectome Model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from skconn.metrics import pearson_r
from skconn.model_selection import (
    RandomRegionSplit,
    SpatialRegionSplit,
    SpinNullSplit,
    cross_val_predict,
)
from skconn.models import ConnectomeModelRegressor
from skconn.pairs import make_pairs


@pytest.fixture(scope="module")
def data(hcp100_small):
    return make_pairs(hcp100_small)


def _manual(model, X, y, cv):
    """Reference loop: each fold's model predicts its test rows."""
    out = np.full(len(X), np.nan)
    fold = np.full(len(X), -1)
    for k, (train, test) in enumerate(cv.split(X, y)):
        out[test] = clone(model).fit(X[train], y[train]).predict(X[test])
        fold[test] = k
    return out, fold


@pytest.mark.parametrize(
    "cv",
    [RandomRegionSplit(4, random_state=0), SpatialRegionSplit(3, random_state=1)],
    ids=["random", "spatial"],
)
def test_test_pairs_match_a_manual_fold_loop(data, cv, record_property):
    X, y = data
    model = ConnectomeModelRegressor(alpha=1.0)
    result = cross_val_predict(model, X, y, cv=cv)
    expected, fold = _manual(model, X, y, cv)
    tested = fold >= 0
    np.testing.assert_allclose(result.predictions[tested], expected[tested], rtol=1e-10)
    np.testing.assert_array_equal(result.fold, fold)
    # Every row is either a test pair of exactly one fold or a cross pair (NaN).
    np.testing.assert_array_equal(result.is_cross, ~tested)
    assert np.isnan(result.predictions[result.is_cross]).all()
    assert result.coverage == pytest.approx(tested.mean())
    record_property("coverage", result.coverage)
    print(f"{type(cv).__name__}: {result.coverage:.1%} of the pairs covered")
    assert 0.15 < result.coverage < 0.5
    if isinstance(cv, RandomRegionSplit):
        # Random folds: the pooled out-of-fold predictions carry signal on real data
        # (spatial folds of 38 regions are too few for a pooled floor).
        assert pearson_r(y[tested], result.predictions[tested]) > 0.2


def test_matrix_is_the_symmetric_average_of_both_orders(data):
    X, y = data
    cv = RandomRegionSplit(4, random_state=0)
    result = cross_val_predict(ConnectomeModelRegressor(alpha=1.0), X, y, cv=cv)
    m = result.matrix
    assert m.shape == (X.n_regions, X.n_regions)
    np.testing.assert_array_equal(np.isnan(m), np.isnan(m.T))
    np.testing.assert_allclose(m, m.T, equal_nan=True)
    assert np.isnan(np.diag(m)).all()
    i, j = X.pairs.T
    for p in np.flatnonzero(result.fold >= 0)[:50]:
        q = X.find([[j[p], i[p]]])[0]
        mean = (result.predictions[p] + result.predictions[q]) / 2
        assert m[i[p], j[p]] == pytest.approx(mean)
    # Entries are filled exactly for pairs of regions of the same fold.
    rf = result.region_fold
    same = rf[:, None] == rf[None, :]
    np.fill_diagonal(same, False)
    np.testing.assert_array_equal(~np.isnan(m), same)


def test_cross_pairs_predicted_by_the_two_fold_models(data):
    X, y = data
    cv = RandomRegionSplit(3, random_state=2)
    model = ConnectomeModelRegressor(alpha=1.0)
    result = cross_val_predict(model, X, y, cv=cv, cross_pairs="predict")
    assert result.coverage == 1.0
    assert not np.isnan(result.predictions).any()
    folds = list(cv.split(X, y))
    fitted = [clone(model).fit(X[train], y[train]) for train, _ in folds]
    rows = np.flatnonzero(result.is_cross)[::37]
    for p in rows:
        a, b = result.region_fold[X.pairs[p]]
        assert a != b and result.fold[p] == -1
        expected = (fitted[a].predict(X[[p]]) + fitted[b].predict(X[[p]])) / 2
        assert result.predictions[p] == pytest.approx(expected[0])
    # The test pairs are unchanged by the option.
    plain = cross_val_predict(model, X, y, cv=cv)
    tested = result.fold >= 0
    np.testing.assert_allclose(result.predictions[tested], plain.predictions[tested])


def test_parallel_folds_and_fit_params(data):
    X, y = data
    cv = RandomRegionSplit(3, random_state=0)
    weights = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    one = cross_val_predict(Ridge(), X, y, cv=cv, fit_params={"sample_weight": weights})
    two = cross_val_predict(Ridge(), X, y, cv=cv, fit_params={"sample_weight": weights}, n_jobs=2)
    np.testing.assert_allclose(one.predictions, two.predictions, equal_nan=True)
    train, test = next(cv.split(X, y))
    expected = Ridge().fit(X[train], y[train], sample_weight=weights[train]).predict(X[test])
    np.testing.assert_allclose(one.predictions[test], expected)
    unweighted = cross_val_predict(Ridge(), X, y, cv=cv)
    assert not np.allclose(unweighted.predictions[test], expected)


def test_only_the_true_variant_is_predicted(hcp100_small):
    rng = np.random.default_rng(0)
    nulls = np.array([rng.permutation(hcp100_small.n_regions) for _ in range(2)])
    X, y = make_pairs(hcp100_small, nulls=nulls)
    result = cross_val_predict(Ridge(), X, y, cv=RandomRegionSplit(3, random_state=0))
    assert np.isnan(result.predictions[X.variant > 0]).all()
    assert (result.fold[X.variant > 0] == -1).all()
    assert not result.is_cross[X.variant > 0].any()


@pytest.mark.parametrize("cv", [KFold(3), 3, SpinNullSplit(RandomRegionSplit(3, random_state=0))])
def test_row_splitters_are_refused(data, cv):
    X, y = data
    with pytest.raises(TypeError, match="cv must be a region splitter"):
        cross_val_predict(Ridge(), X, y, cv=cv)


def test_bad_input(data):
    X, y = data
    cv = RandomRegionSplit(3, random_state=0)
    with pytest.raises(TypeError, match="RegionPairs"):
        cross_val_predict(Ridge(), np.asarray(X), y, cv=cv)
    with pytest.raises(ValueError, match="cross_pairs must be one of"):
        cross_val_predict(Ridge(), X, y, cv=cv, cross_pairs="mean")
    with pytest.raises(ValueError, match="train_cross_pairs=False"):
        cross_val_predict(
            Ridge(),
            X,
            y,
            cv=RandomRegionSplit(3, random_state=0, train_cross_pairs=True),
            cross_pairs="predict",
        )
    with pytest.raises(ValueError, match="one value per row"):
        cross_val_predict(Ridge(), X, y[:-1], cv=cv)


def test_splitters_with_cross_pairs_in_train_or_test(data):
    X, y = data
    base = cross_val_predict(Ridge(), X, y, cv=RandomRegionSplit(3, random_state=0))
    # Testing cross pairs in the splitter: same region folds, same test-pair predictions.
    tested = cross_val_predict(
        Ridge(), X, y, cv=RandomRegionSplit(3, random_state=0, test_cross_pairs=True)
    )
    np.testing.assert_array_equal(tested.region_fold, base.region_fold)
    np.testing.assert_allclose(tested.predictions, base.predictions, equal_nan=True)
    # Training on cross pairs: cross pairs have no out-of-fold prediction.
    trained = cross_val_predict(
        Ridge(), X, y, cv=RandomRegionSplit(3, random_state=0, train_cross_pairs=True)
    )
    np.testing.assert_array_equal(trained.region_fold, base.region_fold)
    assert np.isnan(trained.predictions[trained.is_cross]).all()
    assert trained.coverage == pytest.approx(base.coverage)

"""RegionImputer: unsampled regions imputed from training regions only (hcp_schaefer400)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from skconn.datasets import Connectome, impute_missing_regions
from skconn.pairs import RegionPairs, make_pairs
from skconn.preprocessing import RegionImputer, RegionPCA

from .test_region import _region_fold_cv


@pytest.fixture(scope="module")
def data(hcp400):
    X, y = make_pairs(hcp400, missing="impute", order="upper")
    return X, y, hcp400.labels[~hcp400.sampled].tolist()


def test_fitted_on_every_region_it_is_impute_missing_regions(data, hcp400):
    X, _, missing = data
    Xt = RegionImputer(missing=missing).fit(X).transform(X)
    expected = impute_missing_regions(hcp400).expression.to_numpy()
    np.testing.assert_allclose(Xt.region_features(), expected, rtol=1e-12)
    assert Xt.feature_names.equals(X.feature_names)
    np.testing.assert_array_equal(Xt.pairs, X.pairs)


@pytest.mark.parametrize("method", ["nearest", "mirror", "mirror_nearest"])
def test_fitted_on_training_regions_it_ignores_the_others(data, hcp400, method):
    X, _, missing = data
    rng = np.random.default_rng(0)
    train_regions = np.sort(rng.permutation(hcp400.n_regions)[:300])
    train = X[np.isin(X.pairs, train_regions).all(axis=1)]
    imputer = RegionImputer(method, k=5, missing=missing).fit(train)
    Xt = imputer.transform(X)
    # by hand: hide every region outside training, impute the unsampled ones
    hidden = hcp400.expression.copy()
    outside = np.setdiff1d(np.arange(hcp400.n_regions), train_regions)
    hidden.iloc[outside] = np.nan
    trial = Connectome(hcp400.regions, hidden, hcp400.connectivity)
    guess = impute_missing_regions(trial, method=method, k=5).expression.to_numpy()
    unsampled = ~hcp400.sampled
    out = Xt.region_features()
    np.testing.assert_allclose(out[unsampled], guess[unsampled], rtol=1e-12)
    # sampled regions keep their own expression, test regions included
    np.testing.assert_array_equal(out[~unsampled], hcp400.expression.to_numpy()[~unsampled])
    assert set(imputer.donors_) == set(train_regions) - set(np.flatnonzero(unsampled))


def test_in_a_cross_validated_pipeline(data, hcp400):
    X, y, missing = data
    cv = _region_fold_cv(X, hcp400.n_regions, n_folds=3)
    pipe = Pipeline(
        [
            ("impute", RegionImputer(missing=missing)),
            ("pca", RegionPCA(5, random_state=0)),
            ("ridge", Ridge()),
        ]
    )
    result = cross_validate(pipe, X, y, cv=cv, return_estimator=True, error_score="raise")
    assert np.isfinite(result["test_score"]).all()
    for (train, _), fitted in zip(cv, result["estimator"], strict=True):
        donors = fitted.named_steps["impute"].donors_
        assert set(donors) <= set(np.unique(X.pairs[train]))
    restored = pickle.loads(pickle.dumps(result["estimator"][0]))
    np.testing.assert_allclose(restored.predict(X[:10]), result["estimator"][0].predict(X[:10]))


def test_missing_from_a_sampled_column_or_a_mask(data, hcp400):
    X, _, missing = data
    regions = hcp400.regions.assign(sampled=hcp400.sampled)
    flagged = RegionPairs(X.region_features(), regions, X.pairs, feature_names=X.feature_names)
    by_column = RegionImputer().fit(flagged).transform(flagged).region_features()
    by_label = RegionImputer(missing=missing).fit(X).transform(X).region_features()
    by_mask = RegionImputer(missing=~hcp400.sampled).fit(X).transform(X).region_features()
    np.testing.assert_array_equal(by_column, by_label)
    np.testing.assert_array_equal(by_mask, by_label)
    # fitted on every region it is the transductive imputation: nothing changes
    unchanged = RegionImputer().fit(X).transform(X).region_features()
    np.testing.assert_array_equal(unchanged, X.region_features())


def test_no_sampled_column_needs_missing(hcp400):
    """An already imputed connectome's pairs have finite rows and no ``sampled`` column."""
    imputed, _ = make_pairs(impute_missing_regions(hcp400), order="upper")
    assert "sampled" not in imputed.regions.columns
    train = imputed[(imputed.pairs < 300).all(axis=1)]
    with pytest.raises(ValueError, match=r"'sampled' column of X.regions.*missing='impute'"):
        RegionImputer().fit(train)
    missing = hcp400.labels[~hcp400.sampled].tolist()
    imputer = RegionImputer(missing=missing).fit(train)
    assert imputer.missing_.sum() == len(missing) == 49
    rows = np.flatnonzero(~hcp400.sampled)
    refilled = imputer.transform(imputed).region_features(rows)
    assert not np.allclose(refilled, imputed.region_features(rows))  # training regions only
    # nothing missing, said explicitly
    unchanged = RegionImputer(missing=[]).fit(train).transform(imputed)
    np.testing.assert_array_equal(unchanged.region_features(), imputed.region_features())


def test_errors(data, hcp400):
    X, _, missing = data
    with pytest.raises(TypeError, match="X must be a RegionPairs"):
        RegionImputer().fit(np.asarray(X[:5]))
    with pytest.raises(ValueError, match="regions that X does not have"):
        RegionImputer(missing=["nowhere"]).fit(X)
    with pytest.raises(ValueError, match="must have length 414"):
        RegionImputer(missing=np.ones(3, dtype=bool)).fit(X)
    with pytest.raises(ValueError, match="no sampled region"):
        RegionImputer(missing=np.ones(hcp400.n_regions, dtype=bool)).fit(X)
    with pytest.raises(ValueError, match="method"):
        RegionImputer(method="linear").fit(X)
    fitted = RegionImputer(missing=missing).fit(X)
    small, _ = make_pairs(hcp400.subset(np.flatnonzero(hcp400.sampled)[:20]))
    with pytest.raises(ValueError, match="fitted on 414 regions"):
        fitted.transform(small)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pd.DataFrame(np.asarray(X[:3]))
    with pytest.raises(TypeError, match="RegionPairs"):
        fitted.transform(frame)

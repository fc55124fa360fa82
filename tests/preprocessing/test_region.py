"""Region-level transformers: fitted on training regions only, on real data."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconn.pairs import RegionPairs, make_pairs
from skconn.preprocessing import RegionPCA, RegionTransformer

from ..utils.conformance import even_width, expected_failed_checks

# --------------------------------------------------------------------------- conformance
# run as even-width twins; the expected-failure reasons live in tests/utils/conformance.py


@parametrize_with_checks(
    [even_width(RegionTransformer(StandardScaler())), even_width(RegionPCA())],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


def _pair_matrix(n_regions=12, n_features=3, seed=0):
    """A dense (P, 2F) matrix [f_i, f_j] over all ordered pairs of random regions."""
    rng = np.random.default_rng(seed)
    regions = rng.normal(size=(n_regions, n_features))
    i, j = np.array([(a, b) for a in range(n_regions) for b in range(n_regions) if a != b]).T
    return np.hstack([regions[i], regions[j]]), regions


@pytest.mark.parametrize(
    "estimator", [RegionTransformer(StandardScaler()), RegionPCA(2)], ids=["scaler", "pca"]
)
def test_dense_behaviour_on_pair_matrices(estimator):
    X, regions = _pair_matrix()
    fitted = clone(estimator).fit(X)
    Xt = fitted.transform(X)
    inner = fitted.transformer_ if isinstance(fitted, RegionTransformer) else fitted.pca_
    # fitted on the distinct regions, applied to each half
    F_out = inner.transform(regions).shape[1]
    assert Xt.shape == (len(X), 2 * F_out)
    np.testing.assert_allclose(
        Xt, np.hstack([inner.transform(X[:, :3]), inner.transform(X[:, 3:])])
    )
    reference = clone(inner).fit(regions)
    np.testing.assert_allclose(
        np.abs(inner.transform(regions)), np.abs(reference.transform(regions))
    )
    np.testing.assert_allclose(clone(estimator).fit_transform(X), Xt)
    np.testing.assert_allclose(fitted.fit(X).transform(X), Xt)  # idempotent refit
    # row order and subsets do not change a row's output
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(fitted.transform(X[order]), Xt[order])
    np.testing.assert_allclose(fitted.transform(X[:7]), Xt[:7])
    # other array-likes and dtypes
    np.testing.assert_allclose(fitted.transform(X.tolist()), Xt)
    np.testing.assert_allclose(fitted.transform(np.asfortranarray(X)), Xt)
    np.testing.assert_allclose(fitted.transform(X.astype(np.float32)), Xt, rtol=1e-5, atol=1e-5)
    # pickling; transform leaves the fitted state alone
    state = pickle.dumps(fitted)
    np.testing.assert_allclose(pickle.loads(state).transform(X), Xt)
    assert pickle.dumps(fitted) == state
    assert fitted.get_feature_names_out().shape == (Xt.shape[1],)
    # invalid input
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(estimator).fit(bad)
    with pytest.raises(ValueError, match="5 feature"):
        clone(estimator).fit(X[:, :5])
    with pytest.raises(ValueError, match="expecting 6 features"):
        fitted.transform(X[:, :4])
    with pytest.raises(NotFittedError):
        clone(estimator).transform(X)


# --------------------------------------------------------------------------- region folds
def _region_fold_cv(X, n_regions, n_folds=3, seed=0):
    """(train, test) pair indices: both regions in the training part / both in the test fold."""
    folds = np.array_split(np.random.default_rng(seed).permutation(n_regions), n_folds)
    cv = []
    for fold in folds:
        in_fold = np.isin(X.pairs, fold)
        cv.append((np.flatnonzero(~in_fold.any(axis=1)), np.flatnonzero(in_fold.all(axis=1))))
    return cv


@pytest.fixture(scope="module")
def pairs100(hcp100):
    return make_pairs(hcp100)


def test_region_pca_in_cross_validation_sees_training_regions_only(pairs100, hcp100):
    X, y = pairs100
    cv = _region_fold_cv(X, hcp100.n_regions)
    pipe = Pipeline([("pca", RegionPCA(n_components=10, random_state=0)), ("ridge", Ridge())])
    result = cross_validate(pipe, X, y, cv=cv, return_estimator=True, error_score="raise")
    assert np.isfinite(result["test_score"]).all()
    assert result["test_score"].mean() > 0  # expression components predict some FC
    expression = hcp100.expression.to_numpy()
    everything = PCA(n_components=10, random_state=0).fit(expression)
    for (train, test), fitted in zip(cv, result["estimator"], strict=True):
        train_regions = np.unique(X.pairs[train])
        assert len(train_regions) < hcp100.n_regions
        assert np.intersect1d(train_regions, np.unique(X.pairs[test])).size == 0
        pca = fitted.named_steps["pca"].pca_
        assert pca.n_samples_ == len(train_regions)
        on_train = PCA(n_components=10, random_state=0).fit(expression[train_regions])
        np.testing.assert_allclose(pca.mean_, on_train.mean_)
        np.testing.assert_allclose(pca.explained_variance_, on_train.explained_variance_)
        np.testing.assert_allclose(np.abs(pca.components_), np.abs(on_train.components_), atol=1e-8)
        # a PCA of every region (test regions included) is a different one: no leakage
        assert not np.allclose(pca.mean_, everything.mean_)
        assert not np.allclose(pca.explained_variance_, everything.explained_variance_)


def test_region_pca_variance_fraction(pairs100, hcp100):
    X, _ = pairs100
    train, _ = _region_fold_cv(X, hcp100.n_regions)[0]
    regions = np.unique(X.pairs[train])
    pca = RegionPCA(n_components=0.8).fit(X[train])
    ratios = PCA().fit(hcp100.expression.to_numpy()[regions]).explained_variance_ratio_
    expected = int(np.searchsorted(np.cumsum(ratios), 0.8, side="right") + 1)
    assert pca.n_components_ == expected
    assert pca.explained_variance_ratio_.sum() > 0.8
    assert pca.explained_variance_ratio_[:-1].sum() <= 0.8
    Xt = pca.transform(X)
    assert Xt.n_features == expected
    assert Xt.feature_names.tolist() == [f"pca{k}" for k in range(expected)]


def test_transform_preserves_pairs_and_variants(hcp100_small):
    rng = np.random.default_rng(3)
    nulls = np.stack([rng.permutation(hcp100_small.n_regions) for _ in range(2)])
    X, _ = make_pairs(hcp100_small, nulls=nulls)
    view = X[::3]
    pca = RegionPCA(n_components=5).fit(view)
    Xt = pca.transform(view)
    assert isinstance(Xt, RegionPairs)
    np.testing.assert_array_equal(Xt.pairs, view.pairs)
    np.testing.assert_array_equal(Xt.variant, view.variant)
    assert Xt.variants is X.variants and Xt.regions is X.regions
    assert Xt.shape == (len(view), 10)
    assert X.n_features == 120  # the input is untouched

    # every region of the table is transformed, as each variant shows it
    def project(features):
        return pca.pca_.transform(pd.DataFrame(features, columns=X.feature_names))

    for v in range(X.n_variants):
        np.testing.assert_allclose(
            Xt.region_features(variant=v), project(X.region_features(variant=v))
        )
    left, right = view.pair_features()
    np.testing.assert_allclose(np.asarray(Xt), np.hstack([project(left), project(right)]))
    # a dense export of the same pairs transforms the same way
    np.testing.assert_allclose(pca.transform(np.asarray(view)), np.asarray(Xt))
    np.testing.assert_allclose(np.asarray(pca.fit_transform(view)), np.asarray(Xt))


def test_null_variant_rows_count_as_what_they_show(hcp100_small):
    n = hcp100_small.n_regions
    perm = np.roll(np.arange(n), 5)
    X, _ = make_pairs(hcp100_small, nulls=perm[None])
    regions = np.arange(10)
    null_view = X[(X.variant == 1) & np.isin(X.pairs, regions).all(axis=1)]
    scaler = RegionTransformer(StandardScaler()).fit(null_view)
    shown = hcp100_small.expression.to_numpy()[perm[regions]]
    np.testing.assert_allclose(scaler.transformer_.mean_, shown.mean(axis=0))
    assert scaler.transformer_.n_samples_seen_ == len(regions)


def test_region_standard_scaler_uses_training_regions(pairs100, hcp100):
    X, _ = pairs100
    train, test = _region_fold_cv(X, hcp100.n_regions, seed=1)[0]
    train_regions, test_regions = np.unique(X.pairs[train]), np.unique(X.pairs[test])
    expression = hcp100.expression.to_numpy()
    scaler = RegionTransformer(StandardScaler()).fit(X[train])
    np.testing.assert_allclose(scaler.transformer_.mean_, expression[train_regions].mean(axis=0))
    np.testing.assert_allclose(scaler.transformer_.scale_, expression[train_regions].std(axis=0))
    assert not np.allclose(scaler.transformer_.mean_, expression.mean(axis=0))
    Xt = scaler.transform(X[test])
    scaled_train = Xt.region_features(train_regions)
    np.testing.assert_allclose(scaled_train.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(scaled_train.std(axis=0), 1)
    np.testing.assert_allclose(
        Xt.region_features(test_regions),
        (expression[test_regions] - scaler.transformer_.mean_) / scaler.transformer_.scale_,
    )
    assert not np.allclose(Xt.region_features(test_regions).mean(axis=0), 0, atol=1e-3)
    assert Xt.feature_names.equals(X.feature_names)
    names = scaler.get_feature_names_out()
    assert names[0] == f"{X.feature_names[0]}_i" and names[-1] == f"{X.feature_names[-1]}_j"


def test_dense_and_region_pairs_fits_agree(hcp100_small):
    X, _ = make_pairs(hcp100_small, order="upper")
    view = X[::4]
    dense = np.asarray(view)
    on_pairs, on_dense = RegionPCA(4).fit(view), RegionPCA(4).fit(dense)
    assert on_pairs.n_features_in_ == on_dense.n_features_in_ == 240
    np.testing.assert_allclose(on_pairs.pca_.mean_, on_dense.pca_.mean_)
    np.testing.assert_allclose(
        on_pairs.explained_variance_ratio_, on_dense.explained_variance_ratio_
    )
    np.testing.assert_allclose(
        np.abs(np.asarray(on_pairs.transform(view))), np.abs(on_dense.transform(dense))
    )
    with pytest.raises(ValueError, match="per region"):
        on_pairs.transform(view.with_features(view.region_features()[:, :10]))
    # the genes must be the ones fitted on, in the same order
    shuffled = view.with_features(view.region_features()[:, ::-1], view.feature_names[::-1])
    with pytest.raises(ValueError, match="feature names"):
        on_pairs.transform(shuffled)


def test_parameter_routing_and_search(hcp100_small):
    estimator = RegionTransformer(StandardScaler())
    params = estimator.get_params()
    assert params["transformer__with_mean"] is True
    estimator.set_params(transformer__with_std=False)
    assert estimator.transformer.with_std is False
    assert clone(estimator).transformer.with_std is False

    X, y = make_pairs(hcp100_small)
    pipe = Pipeline([("region", RegionTransformer(PCA())), ("ridge", Ridge())])
    search = GridSearchCV(
        pipe,
        {"region__transformer__n_components": [2, 8]},
        cv=_region_fold_cv(X, hcp100_small.n_regions),
    ).fit(X, y)
    assert search.best_params_["region__transformer__n_components"] in (2, 8)
    assert search.best_estimator_.named_steps["region"].transformer_.n_components_ in (2, 8)


def test_name_based_region_transformer(hcp100_small):
    X, _ = make_pairs(hcp100_small, order="upper")
    genes = X.feature_names[[5, 1, 9]].tolist()
    select = ColumnTransformer([("genes", "passthrough", genes)], verbose_feature_names_out=False)
    Xt = RegionTransformer(select).fit_transform(X)
    assert Xt.feature_names.tolist() == genes
    np.testing.assert_array_equal(Xt.region_features(), X.region_features()[:, [5, 1, 9]])


def test_region_pca_clone_and_pickle(pairs100):
    X, _ = pairs100
    pca = RegionPCA(n_components=6, whiten=True, random_state=0)
    assert clone(pca).get_params() == pca.get_params()
    fitted = pca.fit(X[::5])
    loaded = pickle.loads(pickle.dumps(fitted))
    view = X[1::97]
    np.testing.assert_allclose(
        np.asarray(loaded.transform(view)), np.asarray(fitted.transform(view))
    )
    np.testing.assert_allclose(fitted.transform(X[::5]).region_features().std(axis=0, ddof=1), 1)


@pytest.mark.parametrize(
    ("estimator", "match"),
    [
        (RegionPCA(n_components=0), "n_components"),
        (RegionPCA(n_components=1.5), "n_components"),
        (RegionPCA(n_components="all"), "n_components"),
        (RegionPCA(whiten="yes"), "whiten"),
        (RegionTransformer("scaler"), "transformer"),
        (RegionTransformer(Ridge()), "transformer"),
    ],
)
def test_invalid_parameters_raise_in_fit(estimator, match, hcp100_small):
    X, _ = make_pairs(hcp100_small, order="upper")
    with pytest.raises(ValueError, match=match):
        estimator.fit(X)


def test_empty_region_pairs_raise(hcp100_small):
    X, _ = make_pairs(hcp100_small, order="upper")
    with pytest.raises(ValueError, match="0 sample"):
        RegionPCA().fit(X[[]])
    with pytest.raises(NotFittedError):
        RegionPCA().transform(X)

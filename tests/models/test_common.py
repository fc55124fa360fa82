"""scikit-learn conformance of every pair estimator, on the dense path."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_estimators_partial_fit_n_features,
    check_n_features_in_after_fitting,
    parametrize_with_checks,
)

from skconn.models import (
    ConnectomeModelRegressor,
    CoordinateRegressor,
    ExpDecayRegressor,
    LowRankBilinearRegressor,
    PairMLPRegressor,
    PLSBilinearRegressor,
    SMTRegressor,
)
from skconn.preprocessing import (
    GeneOrder,
    GeneSelector,
    RegionPCA,
    RegionTransformer,
    RobustSigmoidScaler,
)

from ..utils.conformance import even_width, expected_failed_checks

ESTIMATORS = [
    ConnectomeModelRegressor(random_state=0),
    ExpDecayRegressor(),
    PLSBilinearRegressor(n_components=1, random_state=0),
    LowRankBilinearRegressor(rank=2, max_iter=50, random_state=0),
]


# each estimator runs as its even-width twin (tests/utils/conformance.py says why and how)
@parametrize_with_checks(
    [even_width(est) for est in ESTIMATORS], expected_failed_checks=expected_failed_checks
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [*ESTIMATORS, CoordinateRegressor(max_iter=20, random_state=0), RegionPCA(),
     RegionTransformer(StandardScaler()), GeneSelector(n_top_variance=1),
     RobustSigmoidScaler(), GeneOrder("expression"), GeneOrder("hierarchical"),
     GeneOrder("kmeans_bins", bin_size=2, random_state=0)],
    ids=lambda e: repr(e),
)
def test_n_features_in_after_fitting_on_the_real_estimator(estimator):
    """Its X is 4 columns wide; on the twin a 3-column predict X would be padded to 4."""
    check_n_features_in_after_fitting(type(estimator).__name__, estimator)


def _tiny_nets():
    neural = dict(max_epochs=2, batch_size=64, random_state=0, device="cpu")
    return [PairMLPRegressor(module__hidden_dims=(8,), **neural),
            SMTRegressor(module__token_size=2, module__d_model=8, module__n_heads=2,
                         module__n_layers=1, **neural)]


@pytest.mark.parametrize("estimator", _tiny_nets(), ids=lambda e: type(e).__name__)
def test_partial_fit_n_features_on_the_real_estimator(estimator):
    check_estimators_partial_fit_n_features(type(estimator).__name__, estimator)
    check_n_features_in_after_fitting(type(estimator).__name__, estimator)


def _pair_matrix(n_regions=12, n_features=3, seed=0):
    """Dense [x_i, x_j] rows over all ordered pairs of a few synthetic regions."""
    rng = np.random.default_rng(seed)
    regions = rng.uniform(size=(n_regions, n_features))
    i, j = np.nonzero(~np.eye(n_regions, dtype=bool))
    X = np.hstack([regions[i], regions[j]])
    y = np.exp(-np.linalg.norm(regions[i] - regions[j], axis=1)) + 0.1 * rng.normal(size=len(i))
    return X, y


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_what_the_odd_width_checks_cover_on_even_widths(estimator):
    X, y = _pair_matrix()
    params = estimator.get_params()
    model = clone(estimator).fit(X, y)
    assert estimator.get_params() == params  # fit never touches the prototype
    state = dict(model.__dict__)
    pred = model.predict(X)
    assert model.__dict__.keys() == state.keys()  # predict does not add state
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict(X), pred)
    np.testing.assert_allclose(model.predict(np.asfortranarray(X)), pred)
    np.testing.assert_allclose(model.predict(X.astype(np.float32)), pred, rtol=1e-5, atol=1e-6)
    perm = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(model.predict(X[perm]), pred[perm], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.predict(X[:7]), pred[:7], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="2D array"):
        model.predict(X[0])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(estimator).fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.warns(Warning, match="column-vector y"):
        clone(estimator).fit(X, y[:, None])
    with pytest.raises(ValueError, match="even number of columns"):
        clone(estimator).fit(X[:, :5], y)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_refit_on_region_pairs_replaces_dataframe_column_names(estimator, hcp100_small):
    """Names of an earlier DataFrame fit would be checked against later DataFrames."""
    import pandas as pd

    from skconn.pairs import make_pairs

    X, y = make_pairs(hcp100_small)
    X, y = X[:300], y[:300]
    columns = [f"c{k}" for k in range(X.shape[1])]
    frame = pd.DataFrame(np.asarray(X), columns=columns)
    model = clone(estimator).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    model.fit(X, y)
    # refitted on RegionPairs: the DataFrame's names are gone, the pair columns' are set
    np.testing.assert_array_equal(model.feature_names_in_, X.pair_feature_names)
    if isinstance(model, ExpDecayRegressor):
        return  # fitted on centroids, it refuses dense input
    # a DataFrame is checked against the pair columns' names, not the stale c0, c1, ...
    named = pd.DataFrame(np.asarray(X), columns=X.pair_feature_names)
    np.testing.assert_allclose(model.predict(named), model.predict(X), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(frame)

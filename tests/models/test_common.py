"""scikit-learn conformance of every pair estimator, on the dense path."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconn.models import (
    ConnectomeModelRegressor,
    ExpDecayRegressor,
    LowRankBilinearRegressor,
    PLSBilinearRegressor,
)

ESTIMATORS = [
    ConnectomeModelRegressor(random_state=0),
    ExpDecayRegressor(),
    PLSBilinearRegressor(n_components=1, random_state=0),
    LowRankBilinearRegressor(rank=2, max_iter=50, random_state=0),
]

_ODD = "feeds a 3- or 5-column X; a dense pair matrix [x_i, x_j] needs an even width"
#: Checks that only feed an odd number of columns, with the reason they cannot pass.
ODD_WIDTH_EXPECTED = {
    name: _ODD
    for name in [
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_estimators_dtypes",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_pipeline_consistency",
        "check_supervised_y_2d",
    ]
}
EXPECTED_FAILED = ODD_WIDTH_EXPECTED | {
    "check_regressors_train": "asks for R2 > 0.5 on a target linear in one column; pair "
    "models have no linear term"
}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_conformance(estimator, check):
    check(estimator)


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

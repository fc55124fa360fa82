"""CoordinateRegressor: a coordinates-only baseline on the real data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconn.metrics import get_scorer
from skconn.model_selection import RandomRegionSplit
from skconn.models import CoordinateRegressor
from skconn.nulls import make_nulls
from skconn.pairs import make_pairs

from ..utils.conformance import even_width, expected_failed_checks


# a booster learns the linear target of check_regressors_train, unlike the pair models
@parametrize_with_checks([even_width(CoordinateRegressor(max_iter=20, random_state=0))],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def hcp100_pairs(hcp100):
    nulls = make_nulls(hcp100, 2, kind="spin", n_spins=50, random_state=0)
    return make_pairs(hcp100, nulls=nulls)


def test_learns_on_hcp100_and_ignores_expression(hcp100_pairs):
    X, y = hcp100_pairs
    true = X.variant == 0
    Xt, yt = X[true], y[true]
    train, test = next(RandomRegionSplit(4, random_state=0).split(Xt, yt))
    model = CoordinateRegressor(random_state=0).fit(Xt[train], yt[train])
    r = get_scorer("pearson")(model, Xt[test], yt[test])
    assert r > 0.3, r
    # the same pairs read from a null variant: identical predictions, and an identical
    # model when fitted on the null (expression is never looked at)
    for variant in (1, 2):
        rows = X.find(Xt.pairs[test], variant)
        np.testing.assert_array_equal(model.predict(X[rows]), model.predict(Xt[test]))
        null_train = X.find(Xt.pairs[train], variant)
        on_null = CoordinateRegressor(random_state=0).fit(X[null_train], y[null_train])
        np.testing.assert_array_equal(on_null.predict(Xt[test]), model.predict(Xt[test]))
    # symmetric: (i, j) and (j, i) get the same prediction
    pred = model.predict(Xt)
    np.testing.assert_allclose(pred[0::2], pred[1::2])


def test_pickle_clone_and_input_kind(hcp100_pairs):
    X, y = hcp100_pairs
    X, y = X[:2000], y[:2000]
    model = CoordinateRegressor(max_iter=10, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(TypeError, match="fitted on RegionPairs"):
        model.predict(np.hstack(X.pair_coords()))
    with pytest.raises(ValueError, match="max_iter"):
        CoordinateRegressor(max_iter=0).fit(X, y)

"""Tests of skconn.metrics._scorers: scorers inside scikit-learn model selection."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import get_scorer_names as sklearn_scorer_names
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skconn.datasets import Connectome
from skconn.metrics import (
    PairScorer,
    get_scorer,
    get_scorer_names,
    pearson_r,
    pearson_scorer,
    score_report,
    scorers,
    unordered,
)
from skconn.pairs import make_pairs

_REPORT_KEY = {
    "pearson": "pearson_r",
    "spearman": "spearman_r",
    "r2": "r2",
    "neg_mean_squared_error": "mse",
    "neg_mean_absolute_error": "mae",
    "short_r": "short_r",
    "mid_r": "mid_r",
    "long_r": "long_r",
    "strong_neg_r": "strong_neg_r",
    "weak_r": "weak_r",
    "strong_pos_r": "strong_pos_r",
    "left_r": "left_r",
    "right_r": "right_r",
    "inter_r": "inter_r",
    "neg_geodesic": "geodesic",
}


@pytest.fixture(scope="module")
def small(hcp100):
    """30 real regions x 50 genes of hcp_schaefer100, as pairs."""
    sub = hcp100.subset(np.arange(0, 90, 3))
    conn = Connectome(sub.regions, sub.expression.iloc[:, :50], sub.connectivity)
    return make_pairs(conn)


def _region_folds(X, n_folds=3):
    """(train, test) pair indices of a region split: test pairs join two test regions."""
    groups = np.arange(X.n_regions) % n_folds
    folds = []
    for k in range(n_folds):
        test_region = groups == k
        in_test = test_region[X.pairs]
        folds.append((np.flatnonzero(~in_test.any(axis=1)), np.flatnonzero(in_test.all(axis=1))))
    return folds


@pytest.fixture(scope="module")
def fitted(small):
    """Ridge fitted on one ordering of each pair, so its predictions are not symmetric."""
    X, y = small
    return Ridge(alpha=10.0).fit(X[0::2], y[0::2]), X, y


def test_pearson_scorer_scores_unordered_pairs(fitted):
    model, X, y = fitted
    pred = model.predict(X)
    # The two orderings get different predictions.
    assert not np.allclose(pred[0::2], pred[1::2])
    y_u, pred_u, _ = unordered(y, pred, X)
    assert pearson_scorer(model, X, y) == pytest.approx(pearson_r(y_u, pred_u))
    ordered = PairScorer("pearson", unordered=False)
    assert ordered(model, X, y) == pytest.approx(pearson_r(y, pred))


def test_every_scorer_matches_score_report(fitted):
    model, X, y = fitted
    report = score_report(y, model.predict(X), X, min_pairs=20)
    for name in _REPORT_KEY:
        scorer = PairScorer(name, min_pairs=20)
        expected = report[_REPORT_KEY[name]] * scorer.sign
        np.testing.assert_allclose(scorer(model, X, y), expected, rtol=1e-10, err_msg=name)
    assert get_scorer("neg_mse")(model, X, y) == pytest.approx(-report["mse"])
    assert get_scorer("neg_mse")(model, X, y) < 0


def test_dense_input_falls_back_to_ordered_rows(fitted):
    model, X, y = fitted
    dense = np.asarray(X)
    pred = model.predict(dense)
    assert pearson_scorer(model, dense, y) == pytest.approx(pearson_r(y, pred))
    assert np.isfinite(get_scorer("weak_r")(model, dense, y))
    for name in ("short_r", "neg_geodesic"):
        with pytest.raises(ValueError, match="RegionPairs"):
            get_scorer(name)(model, dense, y)


def test_scorers_in_cross_validate_with_region_folds(small):
    X, y = small
    cv = _region_folds(X)
    scoring = scorers(min_pairs=20)
    assert set(scoring) == set(_REPORT_KEY)
    result = cross_validate(Ridge(alpha=10.0), X, y, cv=cv, scoring=scoring, error_score="raise")
    for k, (train, test) in enumerate(cv):
        model = Ridge(alpha=10.0).fit(X[train], y[train])
        report = score_report(y[test], model.predict(X[test]), X[test], min_pairs=20)
        for name, key in _REPORT_KEY.items():
            sign = scoring[name].sign
            np.testing.assert_allclose(
                result[f"test_{name}"][k], sign * report[key], rtol=1e-8, err_msg=name
            )
    # Test pairs of a region split form a grid, so the geodesic distance exists.
    assert np.isfinite(result["test_neg_geodesic"]).all()
    assert (result["test_neg_geodesic"] < 0).all()


def test_scorer_in_cross_validate_with_kfold_and_search(small):
    X, y = small
    result = cross_validate(
        Ridge(), X, y, cv=KFold(3), scoring={"r": pearson_scorer, "mse": "neg_mean_squared_error"}
    )
    assert np.isfinite(result["test_r"]).all()
    assert (result["test_mse"] < 0).all()
    search = GridSearchCV(
        Ridge(),
        {"alpha": [0.1, 100.0]},
        cv=_region_folds(X),
        scoring=scorers("pearson", "neg_mse"),
        refit="pearson",
    )
    search.fit(X, y)
    assert search.best_params_["alpha"] in (0.1, 100.0)
    assert np.isfinite(search.cv_results_["mean_test_neg_mse"]).all()
    cv = KFold(3, shuffle=True, random_state=0)
    single = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=cv, scoring=get_scorer("short_r"))
    assert np.isfinite(single.fit(X, y).best_score_)


def test_get_scorer_names_and_fallthrough():
    names = get_scorer_names()
    assert names == sorted(names)
    assert {"pearson", "spearman", "r2", "neg_mse", "neg_mean_squared_error"} <= set(names)
    assert {"short_r", "mid_r", "long_r", "strong_pos_r", "strong_neg_r", "weak_r"} <= set(names)
    assert repr(get_scorer("neg_mse")) == repr(get_scorer("neg_mean_squared_error"))
    assert isinstance(get_scorer("r2"), PairScorer)
    # Names only scikit-learn knows go to scikit-learn.
    assert "explained_variance" in sklearn_scorer_names()
    assert not isinstance(get_scorer("explained_variance"), PairScorer)
    assert get_scorer(pearson_scorer) is pearson_scorer


def test_get_scorer_rejects_bad_names():
    with pytest.raises(ValueError, match=r"'pearsonr' is not a valid scoring name.*pearson"):
        get_scorer("pearsonr")
    with pytest.raises(TypeError, match="scoring must be"):
        get_scorer(3)
    with pytest.raises(ValueError, match="metric must be one of"):
        PairScorer("accuracy")
    with pytest.raises(TypeError, match="metric must be"):
        PairScorer(None)
    with pytest.raises(TypeError, match="unordered must be True or False"):
        PairScorer("pearson", unordered="no")
    with pytest.raises(ValueError, match="not a valid scoring name"):
        scorers("pearson", "nope")
    with pytest.raises(TypeError, match="unexpected option"):
        scorers("pearson", max_dist=175.0)
    with pytest.raises(TypeError, match="strings"):
        scorers(pearson_scorer)


def test_scorer_checks_predictions(fitted):
    model, X, y = fitted

    class NaNModel:
        def predict(self, X):
            out = np.zeros(len(X))
            out[0] = np.nan
            return out

    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        pearson_scorer(NaNModel(), X, y)
    with pytest.raises(ValueError, match="same length"):
        pearson_scorer(model, X, y[:-1])


def test_scorers_pickle_and_repr(fitted):
    model, X, y = fitted
    for scorer in (pearson_scorer, *scorers(max_distance=175.0, min_pairs=10).values()):
        clone = pickle.loads(pickle.dumps(scorer))
        assert type(clone) is type(scorer) and vars(clone) == vars(scorer)
        assert repr(clone) == repr(scorer)
        np.testing.assert_equal(clone(model, X, y), scorer(model, X, y))
    assert repr(pearson_scorer) == "PairScorer('pearson')"
    assert repr(PairScorer("neg_mse", unordered=False, max_distance=175.0)) == (
        "PairScorer('neg_mean_squared_error', unordered=False, max_distance=175.0)"
    )


def test_stratified_scorers_warn_when_nan_for_too_few_pairs(small):
    """get_scorer("long_r") in cross_validate: NaN with a warning that says why."""
    from skconn.model_selection import RandomRegionSplit

    X, y = small
    cv = RandomRegionSplit(3, random_state=0)
    scoring = {"long_r": get_scorer("long_r"), "strong_pos_r": get_scorer("strong_pos_r")}
    with pytest.warns(UserWarning) as record:
        result = cross_validate(Ridge(alpha=10.0), X, y, cv=cv, scoring=scoring)
    messages = [str(w.message) for w in record if "is NaN" in str(w.message)]
    for name in scoring:
        nan_folds = int(np.isnan(result[f"test_{name}"]).sum())
        assert nan_folds > 0, name  # 10 regions per fold: too few pairs in these strata
        mine = [m for m in messages if m.startswith(f"{name} is NaN")]
        assert len(mine) == nan_folds, name
        assert all("fewer than min_pairs=50" in m for m in mine)
    # The count in the message is the stratum's count of unordered test pairs.
    train, test = next(cv.split(X, y))
    model = Ridge(alpha=10.0).fit(X[train], y[train])
    upper = X[test][X.pairs[test, 0] < X.pairs[test, 1]]  # each unordered pair once
    n_long = int((upper.distances() > 120).sum())
    with pytest.warns(UserWarning, match=rf"long_r is NaN: its stratum holds {n_long} unordered"):
        get_scorer("long_r")(model, X[test], y[test])
    # No warning when the stratum is large enough (or the value is a number).
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = PairScorer("long_r", min_pairs=n_long)(model, X[test], y[test])
    assert np.isfinite(value)

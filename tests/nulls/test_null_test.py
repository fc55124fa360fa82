"""null_test (true vs null fold scores) and the batched spin test."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge

from skconn.metrics import get_scorer
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.models import ConnectomeModelRegressor
from skconn.nulls import null_test, spin_test, whole_brain_spins
from skconn.nulls._null_test import _null_pairs, _sign_flip_pvalue
from skconn.pairs import make_pairs


@pytest.fixture(scope="module")
def hcp100_pca(hcp100):
    X, y = make_pairs(hcp100)
    Xp = X.with_features(PCA(12, random_state=0).fit_transform(X.region_features()))
    perms, _, _ = whole_brain_spins(hcp100, 40, random_state=0)
    return Xp, y, perms


def test_null_test_protocol(hcp100_small):
    perms, _, _ = whole_brain_spins(hcp100_small, 3, random_state=0)
    X, y = make_pairs(hcp100_small, nulls=perms)
    cvs = [SpatialRegionSplit(3, random_state=s) for s in (1, 2, 3)]
    res = null_test(ConnectomeModelRegressor(alpha=10.0), X, y, cv=cvs, scoring="pearson")
    table = res.scores
    assert len(table) == 9 and table["variant"].tolist() == [1] * 3 + [2] * 3 + [3] * 3
    # the true-data score of a fold is what cross-validating on the base split gives
    model = ConnectomeModelRegressor(alpha=10.0)
    train, test = next(cvs[0].split(X, y))
    fitted = model.fit(X[train], y[train])
    assert table["true_score"].iloc[0] == pytest.approx(
        get_scorer("pearson")(fitted, X[test], y[test])
    )
    assert res.true_mean == pytest.approx(table["true_score"].mean())
    assert res.null_sd == pytest.approx(table["null_score"].std(ddof=1))
    assert res.gap == pytest.approx(res.true_mean - res.null_mean)
    assert 0 < res.pvalue <= 1
    again = null_test(ConnectomeModelRegressor(alpha=10.0), X, y, cv=cvs, scoring="pearson",
                      n_jobs=2)
    np.testing.assert_allclose(again.scores["null_score"], table["null_score"])


def test_null_test_errors(hcp100_small):
    X0, y0 = make_pairs(hcp100_small)
    with pytest.raises(ValueError, match="not nulls of X"):
        null_test(Ridge(), X0, y0, cv=SpatialRegionSplit(2, random_state=0))
    perms, _, _ = whole_brain_spins(hcp100_small, 1, random_state=0)
    X, y = make_pairs(hcp100_small, nulls=perms)
    with pytest.raises(ValueError, match="variants gives"):
        null_test(Ridge(), X, y, cv=SpatialRegionSplit(2, random_state=0), variants=[1, 1])
    with pytest.raises(TypeError, match="RegionPairs"):
        null_test(Ridge(), np.ones((4, 2)), np.ones(4), cv=SpatialRegionSplit(2))


def test_sign_flip_pvalue():
    assert _sign_flip_pvalue(np.ones(5), 100, 0) == pytest.approx(1 / 32)
    assert _sign_flip_pvalue(-np.ones(5), 100, 0) == 1.0
    p = _sign_flip_pvalue(np.r_[np.ones(40)], 999, 0)
    assert p == pytest.approx(1 / 1000)


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": 1.0},
        {"alpha": 100.0, "penalty": "kronecker"},
        {"alpha": 10.0, "solver": "reference"},
        {"alpha": 0.0},
        {"alpha": 5.0, "fit_intercept": False},
    ],
)
def test_batched_spin_test_equals_refit_loop(hcp100_pca, params):
    X, y, perms = hcp100_pca
    res = spin_test(ConnectomeModelRegressor(**params), X, y, perms)
    assert res.batched and res.null_scores.shape == (40,)
    scorer = get_scorer("pearson")
    for k in (0, 7, 39):
        Xn = _null_pairs(X, perms[k])
        fitted = ConnectomeModelRegressor(**params).fit(Xn, y)
        assert res.null_scores[k] == pytest.approx(scorer(fitted, Xn, y), abs=1e-9)
    fitted = ConnectomeModelRegressor(**params).fit(X, y)
    assert res.score == pytest.approx(scorer(fitted, X, y), abs=1e-9)
    assert res.pvalue == pytest.approx((1 + np.sum(res.null_scores >= res.score)) / 41)


def test_spin_test_loop_fallback(hcp100_pca):
    X, y, perms = hcp100_pca
    res = spin_test(Ridge(), X, y, perms[:5], scoring="pearson")
    assert not res.batched and res.null_scores.shape == (5,)
    batched = spin_test(ConnectomeModelRegressor(alpha=1.0), X, y, perms[:5], n_jobs=2)
    looped = spin_test(ConnectomeModelRegressor(alpha=1.0), X, y, perms[:5],
                       scoring=get_scorer("pearson"))
    assert batched.batched and not looped.batched
    np.testing.assert_allclose(batched.null_scores, looped.null_scores, atol=1e-9)


def test_spin_test_errors(hcp100_pca):
    X, y, perms = hcp100_pca
    with pytest.raises(ValueError, match="permutation"):
        spin_test(Ridge(), X, y, np.zeros((2, X.n_regions), dtype=int))
    with pytest.raises(ValueError, match="shape"):
        spin_test(Ridge(), X, y, perms[:, :5])
    with pytest.raises(ValueError, match="y must have"):
        spin_test(Ridge(), X, y[:5], perms)


def test_null_test_needs_region_splitters(hcp100_small):
    # KFold folds the nulls' rows together with the true data's and maps train and test
    # rows onto the same null pairs: a leak, not a null test
    from sklearn.model_selection import KFold

    perms, _, _ = whole_brain_spins(hcp100_small, 1, random_state=0)
    X, y = make_pairs(hcp100_small, nulls=perms)
    with pytest.raises(TypeError, match="region splitter"):
        null_test(Ridge(), X, y, cv=KFold(3, shuffle=True, random_state=0))


def test_spin_test_p_value_with_nan_and_tied_scores(hcp100_pca):
    from sklearn.dummy import DummyRegressor

    X, y, perms = hcp100_pca
    # a constant prediction scores NaN: no p-value, rather than the smallest one
    with pytest.warns(UserWarning, match="true data scored NaN"):
        res = spin_test(DummyRegressor(), X, y, perms[:5])
    assert np.isnan(res.score) and np.isnan(res.pvalue)
    # identity "spins" give the true score again, up to round-off between batches:
    # every null reaches it, so p = 1
    identity = np.tile(np.arange(X.n_regions), (3, 1))
    res = spin_test(ConnectomeModelRegressor(alpha=10.0), X, y, identity, batch_size=2)
    assert res.batched and np.allclose(res.null_scores, res.score, atol=1e-10)
    assert res.pvalue == 1.0


def test_spin_test_refuses_x_of_a_null_variant(hcp100_small):
    # the nulls would be applied on top of an already spun map (and differently by the
    # batched and the refit paths)
    perms, _, _ = whole_brain_spins(hcp100_small, 3, random_state=0)
    X, y = make_pairs(hcp100_small, nulls=perms[:1])
    null_rows = X.variant == 1
    with pytest.raises(ValueError, match="true data only"):
        spin_test(Ridge(), X[null_rows], y[null_rows], perms[1:])


@pytest.mark.parametrize("kind", ["raw_genes", "pipeline"])
def test_batched_spin_test_on_raw_genes_and_pipelines_equals_refit_loop(hcp100_small, kind):
    """Many features (Woodbury path) and a RegionPCA pipeline batch exactly."""
    from sklearn.pipeline import make_pipeline

    from skconn.preprocessing import RegionPCA

    X, y = make_pairs(hcp100_small)
    perms, _, _ = whole_brain_spins(hcp100_small, 6, random_state=0)
    est = ConnectomeModelRegressor(alpha=1.0)
    if kind == "pipeline":
        est = make_pipeline(RegionPCA(0.95), est)
    res = spin_test(est, X, y, perms)
    with pytest.warns(UserWarning, match="one by one"):
        loop = spin_test(est, X, y, perms, scoring=get_scorer("pearson"), progress=False)
    assert res.batched and not loop.batched
    np.testing.assert_allclose(res.null_scores, loop.null_scores, atol=1e-8)
    assert res.score == pytest.approx(loop.score, abs=1e-9)


def test_spin_test_warns_why_it_loops(hcp100_small):
    X, y = make_pairs(hcp100_small)
    perms, _, _ = whole_brain_spins(hcp100_small, 2, random_state=0)
    with pytest.warns(UserWarning, match="alpha='auto'"):
        res = spin_test(ConnectomeModelRegressor(alpha="auto", random_state=0), X, y, perms,
                        progress=False)
    assert not res.batched


def test_null_test_shows_a_progress_bar_over_its_fits(capsys):
    from skconn.datasets import make_toy_connectome

    c = make_toy_connectome(24, 5)
    rng = np.random.default_rng(0)
    X, y = make_pairs(c, nulls=[rng.permutation(24)])
    cv = [RandomRegionSplit(2, random_state=0)]
    quiet = null_test(ConnectomeModelRegressor(alpha=1.0), X, y, cv=cv, n_permutations=9)
    assert "null_test" not in capsys.readouterr().err
    shown = null_test(ConnectomeModelRegressor(alpha=1.0), X, y, cv=cv, n_permutations=9,
                      progress=True)
    err = capsys.readouterr().err
    assert "null_test" in err and "4/4" in err
    assert shown.scores.equals(quiet.scores)

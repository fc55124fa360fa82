"""Numerical edge cases on real data: no crash, finite output, the behaviour theory predicts.

* Connectome Model with many more genes than regions and alpha -> 0 (alpha = 0 is allowed:
  the minimum-norm limit of a vanishing ridge, REFERENCE §3.2 uses it);
* collinear features (duplicated and constant genes);
* PLS asked for more components than the training regions allow (capped with a warning);
* exponential decay that fails to converge or degenerates (ConvergenceWarning, best effort);
* SMT with a gene count that is not a multiple of the token size (zero-padded last token).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skconn.datasets import Connectome
from skconn.models import (
    ConnectomeModelRegressor,
    ExpDecayRegressor,
    LowRankBilinearRegressor,
    PLSBilinearRegressor,
    SMTRegressor,
)
from skconn.models.smt import SMTEncoder
from skconn.pairs import make_pairs
from skconn.preprocessing import RegionPCA, RobustSigmoidScaler

torch.set_num_threads(1)


def _connectome(sub, expression):
    return Connectome(sub.regions, expression, sub.connectivity, name="edge")


@pytest.fixture(scope="module")
def sub30(hcp100):
    """30 real regions of hcp_schaefer100 (every 3rd), all 810 genes."""
    return hcp100.subset(np.arange(0, 90, 3))


def _split(X, n_train):
    """Pairs inside the first ``n_train`` regions, and pairs inside the others."""
    a, b = X.pairs[:, 0] < n_train, X.pairs[:, 1] < n_train
    return np.flatnonzero(a & b), np.flatnonzero(~a & ~b)


def _fit_quiet(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return model.fit(X, y)


# ------------------------------------------------------------------ G >> R, alpha -> 0
@pytest.mark.parametrize("penalty", ["ridge", "kronecker"])
def test_connectome_model_many_genes_alpha_to_zero(sub30, penalty):
    X, y = make_pairs(_connectome(sub30, sub30.expression.iloc[:, :800]))
    train, test = _split(X, 20)  # 20 training regions x 800 genes
    preds = {}
    for alpha in (0.0, 1e-300, 1e-12, 1e-6):
        model = _fit_quiet(ConnectomeModelRegressor(alpha, penalty=penalty), X[train], y[train])
        assert model.alpha_ == alpha  # reported as given
        fit, preds[alpha] = model.predict(X[train]), model.predict(X[test])
        assert np.isfinite(fit).all() and np.isfinite(preds[alpha]).all()
        # 800 genes > 20 regions: the training pairs are interpolated
        assert model.score(X[train], y[train]) > 1 - 1e-6
    # every alpha below the solver's floor gives the same model: a limit, not noise
    for alpha in (1e-300, 1e-12, 1e-6):
        np.testing.assert_array_equal(preds[alpha], preds[0.0])
    # ... and the vanishing-ridge limit: close to a small alpha the solver resolves
    # (before the floor, alpha = 1e-12 kept CG's starting point: off by 86% of the range)
    resolved = _fit_quiet(
        ConnectomeModelRegressor(1e-3, penalty=penalty), X[train], y[train]
    ).predict(X[test])
    assert np.abs(resolved - preds[0.0]).max() < 0.02 * np.ptp(resolved)


def test_connectome_model_reference_solver_alpha_zero(sub30):
    X, y = make_pairs(_connectome(sub30, sub30.expression.iloc[:, :800]))
    train, test = _split(X, 20)
    model = ConnectomeModelRegressor(0.0, solver="reference").fit(X[train], y[train])
    assert np.isfinite(model.predict(X[test])).all()
    assert np.isfinite(model.core_).all()


# ------------------------------------------------------------------ collinear features
@pytest.fixture(scope="module")
def collinear(sub30):
    """60 real genes; variants with gene 0 duplicated, split, scaled, or a constant gene."""
    E = sub30.expression.iloc[:, :60]
    g0 = E.columns[0]
    dup = E.assign(dup=E[g0])
    split = E.assign(**{g0: E[g0] / np.sqrt(2), "copy": E[g0] / np.sqrt(2)})
    scaled = E.assign(**{g0: E[g0] * np.sqrt(2)})
    const = E.assign(const=0.5)
    return {
        name: make_pairs(_connectome(sub30, table))
        for name, table in [("base", E), ("dup", dup), ("split", split), ("scaled", scaled),
                            ("const", const)]
    }


@pytest.mark.parametrize(
    "params",
    [dict(alpha=1.0), dict(alpha=1.0, penalty="kronecker"), dict(alpha=0.0, tol=1e-12),
     dict(alpha=5.0, solver="reference"), dict(random_state=0)],
    ids=["ridge", "kronecker", "alpha0", "reference", "auto"],
)
def test_connectome_model_duplicated_gene_invariance(collinear, params):
    # alpha=0 is solved at the penalty floor, where the conjugate-gradient system has a
    # condition number near 1e12: the default tol (1e-10) leaves ~1e-5 relative error in
    # its weakest directions, which differ with the BLAS's rounding, hence tol=1e-12 there
    # the model depends on the features only through XXᵀ (its SVD): duplicating gene g is
    # the same as scaling it by √2, and splitting g into two copies of g/√2 changes nothing
    def predict(name):
        X, y = collinear[name]
        return ConnectomeModelRegressor(**params).fit(X, y).predict(X)

    base, dup = predict("base"), predict("dup")
    assert np.isfinite(dup).all()
    np.testing.assert_allclose(dup, predict("scaled"), rtol=0, atol=1e-8 * np.ptp(base))
    np.testing.assert_allclose(predict("split"), base, rtol=0, atol=1e-8 * np.ptp(base))


@pytest.mark.parametrize("name", ["dup", "const"])
@pytest.mark.parametrize(
    "factory",
    [
        lambda: ConnectomeModelRegressor(random_state=0),
        lambda: PLSBilinearRegressor(5, random_state=0),
        lambda: LowRankBilinearRegressor(3, max_iter=50, random_state=0),
    ],
    ids=["cm", "pls", "low_rank"],
)
def test_collinear_features_give_finite_predictions(collinear, name, factory):
    X, y = collinear[name]
    train, test = _split(X, 20)
    model = factory().fit(X[train], y[train])
    assert np.isfinite(model.predict(X[test])).all()


def test_constant_gene_through_transformers(collinear):
    X, _ = collinear["const"]
    train, _ = _split(X, 20)
    for transformer in (RobustSigmoidScaler(), RegionPCA(5)):
        out = transformer.fit(X[train]).transform(X).region_features()
        assert np.isfinite(out).all(), type(transformer).__name__


# ------------------------------------------------------------------ PLS beyond the rank
def test_pls_more_components_than_regions(sub30):
    X, y = make_pairs(_connectome(sub30, sub30.expression.iloc[:, :60]))
    train, test = _split(X, 20)  # 20 training regions: at most 19 components
    with pytest.warns(UserWarning, match=r"n_components=100 exceeds .* using 19"):
        big = PLSBilinearRegressor(100, alpha=1.0).fit(X[train], y[train])
    assert big.n_components_ == 19
    exact = PLSBilinearRegressor(19, alpha=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # 19 is allowed: no warning
        exact.fit(X[train], y[train])
    pred = big.predict(X[test])
    assert np.isfinite(pred).all()
    np.testing.assert_array_equal(pred, exact.predict(X[test]))  # capped == asked for 19


def test_pls_more_components_than_genes(sub30):
    X, y = make_pairs(_connectome(sub30, sub30.expression.iloc[:, :4]))
    with pytest.warns(UserWarning, match=r"n_components=10 exceeds .* 4 features"):
        model = PLSBilinearRegressor(10, random_state=0).fit(X, y)
    assert model.n_components_ == 4
    assert np.isfinite(model.predict(X)).all()


def test_pls_components_beyond_the_rank_of_the_features(sub30):
    # 60 genes that are combinations of 5 real ones: rank 5, 20 components asked
    E = sub30.expression.iloc[:, :5].to_numpy()
    mix = np.random.default_rng(0).random((5, 60))
    table = pd.DataFrame(E @ mix, index=sub30.expression.index,
                         columns=sub30.expression.columns[:60])
    X, y = make_pairs(_connectome(sub30, table))
    model = PLSBilinearRegressor(20, alpha=1.0).fit(X, y)
    pred = model.predict(X)
    assert np.isfinite(pred).all()
    assert np.isfinite(model.encoder_.x_rotations_).all()
    # any linear embedding of rank-5 features has rank <= 5: the extra components add
    # no direction, and the decoder's basis stays 5-dimensional
    assert model.decoder_.components_.shape[0] <= 5


# ------------------------------------------------------------------ exponential decay
@pytest.fixture(scope="module")
def decay_pairs(sub30):
    X, y = make_pairs(sub30)
    d = np.linalg.norm(X.coords[X.pairs[:, 0]] - X.coords[X.pairs[:, 1]], axis=1)
    return X, y, d


@pytest.mark.parametrize(
    "case", ["max_nfev=1", "constant", "grows_with_distance", "one_bin", "binned_max_nfev"]
)
def test_exp_decay_failure_warns_and_predicts(decay_pairs, case):
    X, y, d = decay_pairs
    params, target, match = {}, y, "degenerate"
    if case == "max_nfev=1":
        params, match = dict(max_nfev=1, init=(0.1, 12.0)), "did not converge in max_nfev=1"
    elif case == "constant":
        target = np.full_like(y, 0.3)
    elif case == "grows_with_distance":
        target = d / d.max()
    elif case == "one_bin":
        params = dict(fit_on="bins", bin_width=1e4)
    else:
        params, match = dict(fit_on="bins", max_nfev=2), "did not converge in max_nfev=2"
    with pytest.warns(ConvergenceWarning, match=match):
        model = ExpDecayRegressor(**params).fit(X, target)
    pred = model.predict(X)
    assert np.isfinite(pred).all()
    assert np.isfinite([model.sa_inf_, model.sa_lambda_]).all()
    assert -1 <= model.sa_inf_ <= 1 and model.sa_lambda_ > 0
    if case == "max_nfev=1":  # best effort = the best point evaluated, here the start
        assert (model.sa_inf_, model.sa_lambda_) == (0.1, 12.0)
    if case == "constant":  # the best flat fit is the constant itself
        np.testing.assert_allclose(np.median(pred), 0.3, atol=1e-6)


@pytest.mark.parametrize("mirror_x", [True, False])
def test_exp_decay_real_fit_is_not_flagged(hcp100, mirror_x):
    X, y = make_pairs(hcp100)
    model = _fit_quiet(ExpDecayRegressor(mirror_x=mirror_x), X, y)
    assert 5 < model.sa_lambda_ < 50


# ------------------------------------------------------------------ SMT token padding
def test_smt_gene_count_not_divisible_by_token_size(sub30):
    X, y = make_pairs(_connectome(sub30, sub30.expression.iloc[:, :61]))
    model = SMTRegressor(
        module__token_size=20, module__d_model=8, module__n_heads=2, module__n_layers=1,
        module__output_dim=2, module__hidden_dims=(8,), max_epochs=1, batch_size=256,
        random_state=0, device="cpu",
    ).fit(X, y)
    assert model.module_.encoder.n_tokens == 4  # 61 genes -> 3 full tokens + 1 padded
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("n_genes, token_size, n_tokens", [(61, 20, 4), (7, 20, 1)])
def test_smt_padding_is_zero_genes_and_keeps_the_last_gene(sub30, n_genes, token_size, n_tokens):
    torch.manual_seed(0)
    kw = dict(token_size=token_size, d_model=8, n_heads=2, n_layers=1, output_dim=2, dropout=0)
    short = SMTEncoder(n_genes, **kw).eval()
    padded = SMTEncoder(n_tokens * token_size, **kw).eval()
    padded.load_state_dict(short.state_dict())
    genes = torch.from_numpy(np.array(sub30.expression.iloc[:8, :n_genes], dtype=np.float32))
    zeros = torch.zeros(len(genes), n_tokens * token_size - n_genes)
    with torch.no_grad():
        out = short(genes)
        assert out.shape == (8, n_tokens * 2)
        # the padded token is the same as explicit zero genes ...
        torch.testing.assert_close(out, padded(torch.cat([genes, zeros], 1)), rtol=0, atol=0)
        # ... and the last real gene is read, not dropped
        bumped = genes.clone()
        bumped[:, -1] += 1.0
        assert not torch.allclose(short(bumped), out)


# ------------------------------------------------------------------ extreme scales
_LINEAR = [ExpDecayRegressor, ConnectomeModelRegressor, LowRankBilinearRegressor,
           PLSBilinearRegressor]


@pytest.mark.parametrize("model", _LINEAR, ids=lambda m: m.__name__)
@pytest.mark.parametrize("scale", [1e-70, 1e70])
def test_extreme_but_representable_feature_scales_fit(sub30, model, scale):
    X, y = make_pairs(_connectome(sub30, sub30.expression.iloc[:, :40] * scale))
    pred = model().fit(X, y).predict(X)
    assert pred.shape == (len(X),) and np.all(np.isfinite(pred))


@pytest.mark.parametrize("model", _LINEAR, ids=lambda m: m.__name__)
@pytest.mark.parametrize(("scale", "name"), [(1e80, "X"), (1e-80, "X"), (1e160, "y")])
def test_out_of_scale_input_is_rejected_naming_it(sub30, model, scale, name):
    """Beyond ~1e75 in X (fourth powers) or 1e150 in y (squares) float64 overflows."""
    X = np.asarray(make_pairs(_connectome(sub30, sub30.expression.iloc[:, :10]))[0])
    y = make_pairs(sub30)[1]
    if name == "X":
        X = X * scale
    else:
        y = y * scale
    with pytest.raises(ValueError, match=rf"^{name} has values of magnitude .* rescale {name}"):
        model().fit(X, y)

"""Malformed input to every estimator and region transformer: work correctly or say what's wrong.

Each test draws one corruption of a small valid input (a real 20-region x 40-gene subset
of hcp_schaefer100) and calls a public ``fit``/``predict``/``transform`` through
:func:`~._outcomes.attempt`. A call either works - and then its output is checked:
finite predictions of the right shape, a transformed table of the right size - or raises
``ValueError``/``TypeError`` naming the argument at fault. Corruptions that can never be
valid (NaN, complex numbers, an odd width, a y of the wrong length...) must be rejected.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from skconn.datasets import Connectome, load_connectome
from skconn.models import (
    ConnectomeModelRegressor,
    ExpDecayRegressor,
    LowRankBilinearRegressor,
    PLSBilinearRegressor,
)
from skconn.models.mlp import PairMLPRegressor
from skconn.models.smt import SMTRegressor
from skconn.pairs import RegionPairs, make_pairs
from skconn.preprocessing import (
    GeneOrder,
    GeneSelector,
    RegionImputer,
    RegionPCA,
    RegionTransformer,
    RobustSigmoidScaler,
    differential_stability,
)

from ..conftest import SHARED_DATA
from ._outcomes import accepted_or_rejected

torch.set_num_threads(1)

N_REGIONS, N_GENES = 20, 40

# --------------------------------------------------------------------------- data, built once
_CACHE: dict = {}


def _subset(regions, genes) -> Connectome:
    full = _CACHE.get("full")
    if full is None:
        full = _CACHE["full"] = load_connectome(SHARED_DATA / "hcp_schaefer100")
    sub = full.subset(np.asarray(regions))
    return Connectome(sub.regions, sub.expression.iloc[:, genes], sub.connectivity)


def data():
    """The valid input and a few related region tables, cached at module level."""
    if "X" not in _CACHE:
        X, y = make_pairs(_subset(np.arange(0, 3 * N_REGIONS, 3), slice(0, N_GENES)))
        _CACHE.update(X=X, y=y, D=np.asarray(X))
        # the same genes on other regions: a valid table the model has never seen
        _CACHE["X_other_regions"] = make_pairs(
            _subset(np.arange(1, 3 * N_REGIONS, 3)[:12], slice(0, N_GENES))
        )[0]
        # as many genes, but other ones: "genes missing" from the fitted table
        _CACHE["X_other_genes"] = make_pairs(
            _subset(np.arange(0, 3 * N_REGIONS, 3), slice(N_GENES, 2 * N_GENES))
        )[0]
        # the same genes in another order
        _CACHE["X_shuffled_genes"] = make_pairs(
            _subset(np.arange(0, 3 * N_REGIONS, 3), np.arange(N_GENES)[::-1])
        )[0]
        # fewer genes
        _CACHE["X_fewer_genes"] = make_pairs(
            _subset(np.arange(0, 3 * N_REGIONS, 3), slice(0, N_GENES - 10))
        )[0]
    return _CACHE


# --------------------------------------------------------------------------- estimators
TINY_MLP = dict(module__hidden_dims=(8,), max_epochs=1, batch_size=128, random_state=0,
                device="cpu")
TINY_SMT = dict(gene_order="expression", module__token_size=8, module__d_model=8,
                module__n_heads=2, module__n_layers=1, module__output_dim=2,
                module__hidden_dims=(8,), max_epochs=1, batch_size=128, random_state=0,
                device="cpu")

ESTIMATORS = {
    "ExpDecayRegressor": lambda **kw: ExpDecayRegressor(**kw),
    "ConnectomeModelRegressor": lambda **kw: ConnectomeModelRegressor(
        **{"n_alphas": 4, "random_state": 0, **kw}),
    "LowRankBilinearRegressor": lambda **kw: LowRankBilinearRegressor(
        **{"rank": 2, "max_iter": 30, "random_state": 0, **kw}),
    "PLSBilinearRegressor": lambda **kw: PLSBilinearRegressor(
        **{"n_components": 3, "random_state": 0, **kw}),
    "PairMLPRegressor": lambda **kw: PairMLPRegressor(**{**TINY_MLP, **kw}),
    "SMTRegressor": lambda **kw: SMTRegressor(**{**TINY_SMT, **kw}),
}
NEURAL = {"PairMLPRegressor", "SMTRegressor"}
LINEAR = [name for name in ESTIMATORS if name not in NEURAL]

#: Invalid hyper-parameters of each estimator: (parameter, value) - fit must reject them
#: with the parameter's name in the message.
BAD_PARAMS = {
    "ExpDecayRegressor": [
        ("bin_width", -1.0), ("bin_width", 0), ("bin_width", np.nan), ("fit_on", "knots"),
        ("init", (np.nan, 10.0)), ("init", ("a", "b")), ("init", [1.0]), ("init", None),
        ("init", ((1, 2), (3, 4))), ("max_nfev", 0), ("mirror_x", "yes"),
    ],
    "ConnectomeModelRegressor": [
        ("alpha", -1.0), ("alpha", np.nan), ("alpha", np.inf), ("alpha", "big"),
        ("penalty", "l1"), ("solver", "lsqr"), ("alphas", []), ("alphas", [-1.0]),
        ("alphas", ["a"]), ("alphas", [np.nan]), ("n_alphas", 0), ("cv", 1), ("cv", "x"),
        ("scoring", "r2"), ("tol", 0.0), ("max_iter", 0), ("random_state", "x"),
    ],
    "LowRankBilinearRegressor": [
        ("rank", 0), ("rank", -2), ("rank", 2.5), ("alpha", -1.0), ("alpha", np.nan),
        ("max_iter", 0), ("tol", -1.0), ("random_state", -1), ("fit_intercept", 2),
    ],
    "PLSBilinearRegressor": [
        ("n_components", 0), ("n_components", 2.5), ("alpha", -1.0), ("penalty", "l2"),
        ("solver", "x"), ("projection", "whitened"), ("max_iter", 0), ("cv", 1),
        ("scale", "yes"), ("scoring", "r2"),
    ],
    "PairMLPRegressor": [
        ("lr", -1.0), ("lr", np.nan), ("lr", "fast"), ("batch_size", 0), ("batch_size", -5),
        ("batch_size", 2.5), ("max_epochs", 0), ("validation_fraction", 1.5),
        ("patience", 0), ("batching", "x"), ("autocast", "x"), ("device", "bogus"),
        ("random_state", "x"), ("module__hidden_dims", (0,)), ("module__dropout", 2.0),
    ],
    "SMTRegressor": [
        ("module__token_size", 0), ("module__token_size", -1), ("module__n_heads", 0),
        ("module__d_model", 7), ("module__clamp", (1.0,)), ("module__clamp", (1.0, -1.0)),
        ("module__alibi", "x"), ("gene_order", "bogus"), ("gene_order", [0] * N_GENES),
        ("gene_order", list(range(N_GENES - 1))), ("lr", -1.0), ("batch_size", 0),
    ],
}


def _fitted(name: str, dense: bool):
    """A model fitted on the valid input (RegionPairs or its dense export), cached."""
    key = ("fitted", name, dense)
    if key not in _CACHE:
        d = data()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _CACHE[key] = ESTIMATORS[name]().fit(d["D"] if dense else d["X"], d["y"])
    return _CACHE[key]


# --------------------------------------------------------------------------- checking outcomes
def _names_one_of(error: Exception, names) -> bool:
    """Whether the message names one of ``names``; one-letter names (X, y) as whole words."""
    message = str(error)
    for name in names:
        if len(name) == 1:
            if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message):
                return True
        elif name.lower() in message.lower():
            return True
    return False


def _call(target, func, *args, names, must_reject=False, **kwargs):
    """Classify the call; check that rejections name the argument. Returns (ok, result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok, result = accepted_or_rejected(target, func, *args, names=names, **kwargs)
    if ok:
        assert not must_reject, f"{target} accepted input it must reject"
    else:
        assert _names_one_of(result, names), f"{target}: {result!r} names none of {names}"
    return ok, result


def _check_predictions(pred, n_pairs: int) -> None:
    pred = np.asarray(pred)
    assert pred.shape == (n_pairs,), pred.shape
    assert pred.dtype.kind == "f"
    assert np.isfinite(pred).all(), "accepted input gave non-finite predictions"


# --------------------------------------------------------------------------- corruptions
@st.composite
def fit_corruptions(draw):
    """(kind, X, y, names, must_reject) for a call to fit."""
    d = data()
    X, y, D = d["X"], d["y"], d["D"]
    P = len(X)
    kind = draw(st.sampled_from([
        "nan_X", "inf_X", "nan_y", "inf_y", "dtype_X", "complex_X", "text_X", "dtype_y",
        "complex_y", "empty", "few_pairs", "one_region", "duplicate_pairs", "odd_width",
        "y_length", "y_2d", "y_constant", "X_constant", "X_none", "y_none", "X_1d",
    ]))
    dense = draw(st.booleans())
    base = D if dense else X
    row = draw(st.integers(0, P - 1))
    col = draw(st.integers(0, D.shape[1] - 1))
    if kind in ("nan_X", "inf_X"):
        bad = D.copy()
        bad[row, col] = np.nan if kind == "nan_X" else draw(st.sampled_from([np.inf, -np.inf]))
        return kind, bad, y, ["X"], True
    if kind in ("nan_y", "inf_y"):
        bad = y.copy()
        bad[row] = np.nan if kind == "nan_y" else draw(st.sampled_from([np.inf, -np.inf]))
        return kind, base, bad, ["y"], True
    if kind == "dtype_X":
        dtype = draw(st.sampled_from(["object", "str", "bool", "int", "float32"]))
        converted = (D > np.median(D)) if dtype == "bool" else D.astype(dtype)
        return kind, converted, y, ["X"], False
    if kind == "complex_X":
        return kind, D + 1j, y, ["X"], True
    if kind == "text_X":
        bad = D.astype(object)
        bad[row, col] = draw(st.sampled_from(["abc", "", "1,5"]))
        return kind, bad, y, ["X"], True
    if kind == "dtype_y":
        dtype = draw(st.sampled_from(["object", "str", "bool", "int", "float32"]))
        converted = (y > np.median(y)) if dtype == "bool" else y.astype(dtype)
        return kind, base, converted, ["y"], False
    if kind == "complex_y":
        return kind, base, y + 1j, ["y"], True
    if kind == "empty":
        return kind, base[:0], y[:0], ["X"], True
    if kind == "few_pairs":
        n = draw(st.integers(1, 4))
        return kind, base[:n], y[:n], ["X", "pairs", "alpha", "cv", "region"], False
    if kind == "one_region":
        if not dense:  # RegionPairs cannot hold self pairs (i != j); the dense export can
            region = draw(st.integers(0, N_REGIONS - 1))
            with pytest.raises(ValueError, match="i != j"):
                RegionPairs(X.region_features(), X.regions, np.full((1, 2), region))
        # both halves of every row the same region: self pairs only
        half = D[:, : N_GENES]
        one = np.hstack([half, half]) if draw(st.booleans()) else np.tile(D[row], (P, 1))
        return kind, one, y, ["X", "region", "pairs", "alpha", "cv"], False
    if kind == "duplicate_pairs":
        idx = draw(st.lists(st.integers(0, P - 1), min_size=2, max_size=30))
        idx = np.repeat(idx, 2)
        return kind, base[idx], y[idx], ["X", "pairs", "alpha", "cv", "region"], False
    if kind == "odd_width":
        drop = draw(st.sampled_from([1, 3, D.shape[1] - 1]))
        return kind, D[:, drop:], y, ["X"], True
    if kind == "y_length":
        delta = draw(st.sampled_from([-5, -1, 1, 7]))
        bad = y[: P + delta] if delta < 0 else np.concatenate([y, y[:delta]])
        return kind, base, bad, ["y"], True
    if kind == "y_2d":
        two = draw(st.booleans())
        bad = np.column_stack([y, y]) if two else y[:, None]
        # a (P, 1) column is accepted with a warning for dense input, as scikit-learn does
        return kind, base, bad, ["y"], two or not dense
    if kind == "y_constant":
        value = draw(st.sampled_from([0.0, 0.3, -1.0]))
        return kind, base, np.full(P, value), ["y"], False
    if kind == "X_constant":
        value = draw(st.sampled_from([0.0, 1.0]))
        return kind, np.full_like(D, value), y, ["X", "region"], False
    if kind == "X_none":
        return kind, None, y, ["X"], True
    if kind == "y_none":
        return kind, base, None, ["y"], True
    assert kind == "X_1d"
    return kind, D[row], y[:1], ["X"], True


@st.composite
def predict_corruptions(draw):
    """(kind, fitted_on_dense, X, names, must_reject) for a call to predict/transform."""
    d = data()
    X, D = d["X"], d["D"]
    P = len(X)
    kind = draw(st.sampled_from([
        "other_regions", "other_genes", "shuffled_genes", "fewer_genes", "narrower_dense",
        "nan_X", "inf_X", "complex_X", "text_X", "dtype_X", "empty", "one_pair", "X_none",
        "X_1d", "duplicate_pairs",
    ]))
    row = draw(st.integers(0, P - 1))
    col = draw(st.integers(0, D.shape[1] - 1))
    if kind == "other_regions":
        return kind, False, d["X_other_regions"], ["X"], False
    if kind in ("other_genes", "shuffled_genes", "fewer_genes"):
        return kind, False, d[f"X_{kind}"], ["X", "genes", "features", "feature names"], True
    if kind == "narrower_dense":
        return kind, True, D[:, 2:], ["X"], True
    if kind in ("nan_X", "inf_X"):
        bad = D.copy()
        bad[row, col] = np.nan if kind == "nan_X" else -np.inf
        return kind, True, bad, ["X"], True
    if kind == "complex_X":
        return kind, True, D.astype(complex), ["X"], True
    if kind == "text_X":
        bad = D.astype(object)
        bad[row, col] = "n/a"
        return kind, True, bad, ["X"], True
    if kind == "dtype_X":
        dtype = draw(st.sampled_from(["object", "str", "float32"]))
        return kind, True, D.astype(dtype), ["X"], False
    dense = draw(st.booleans())
    base = D if dense else X
    if kind == "empty":
        return kind, dense, base[:0], ["X"], True
    if kind == "one_pair":
        return kind, dense, base[row : row + 1], ["X"], False
    if kind == "duplicate_pairs":
        idx = np.repeat(draw(st.lists(st.integers(0, P - 1), min_size=1, max_size=10)), 3)
        return kind, dense, base[idx], ["X"], False
    if kind == "X_none":
        return kind, dense, None, ["X"], True
    assert kind == "X_1d"
    return kind, True, D[row], ["X"], True


# --------------------------------------------------------------------------- estimators
def _fit_case(name, corruption):
    _kind, X, y, names, must_reject = corruption
    model = ESTIMATORS[name]()
    ok, fitted = _call(f"{name}.fit", model.fit, X, y, names=names, must_reject=must_reject)
    if ok:
        pred = _call(f"{name}.predict", fitted.predict, X, names=["X"], must_reject=False)[1]
        _check_predictions(pred, len(X))


@pytest.mark.parametrize("name", LINEAR)
@given(corruption=fit_corruptions())
def test_linear_fit_bad_input(name, corruption):
    _fit_case(name, corruption)


@pytest.mark.parametrize("name", sorted(NEURAL))
@settings(max_examples=12)
@given(corruption=fit_corruptions())
def test_neural_fit_bad_input(name, corruption):
    _fit_case(name, corruption)


def _predict_case(name, corruption):
    _kind, dense, X, names, must_reject = corruption
    model = _fitted(name, dense)
    ok, pred = _call(f"{name}.predict", model.predict, X, names=names, must_reject=must_reject)
    if ok:
        _check_predictions(pred, len(X))


@pytest.mark.parametrize("name", list(ESTIMATORS))
@given(corruption=predict_corruptions())
def test_predict_bad_input(name, corruption):
    _predict_case(name, corruption)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@settings(max_examples=10)
@given(data_=st.data())
def test_invalid_hyper_parameters(name, data_):
    param, value = data_.draw(st.sampled_from(BAD_PARAMS[name]))
    model = ESTIMATORS[name](**{param: value})
    d = data()
    # the parameter name as a user writes it: "token_size" for "module__token_size"
    _call(f"{name}.fit", model.fit, d["X"], d["y"], names=[param.split("__")[-1]],
          must_reject=True)


def test_unfitted_predict_is_rejected():
    d = data()
    for name, make in ESTIMATORS.items():
        ok, error = _call(f"{name}.predict", make().predict, d["X"],
                          names=["fit", "initialized"], must_reject=True)
        assert not ok and "fit" in str(error).lower()


def test_predictions_on_unseen_regions_match_a_refit_table():
    """Regions absent from the fitted table: predicted from their features as dense rows are.

    (ExpDecayRegressor reads coordinates from a RegionPairs, features from dense rows.)
    """
    d = data()
    for name in LINEAR[1:]:
        model = _fitted(name, dense=False)
        other = d["X_other_regions"]
        np.testing.assert_allclose(model.predict(other), model.predict(np.asarray(other)),
                                   rtol=1e-7, atol=1e-9, err_msg=name)


# --------------------------------------------------------------------------- transformers
TRANSFORMERS = {
    "RegionTransformer": lambda **kw: RegionTransformer(**{"transformer": StandardScaler(),
                                                           **kw}),
    "RegionPCA": lambda **kw: RegionPCA(**{"n_components": 3, **kw}),
    "RegionImputer": lambda **kw: RegionImputer(**{"missing": [], **kw}),  # no 'sampled' column
    "GeneSelector": lambda **kw: GeneSelector(**{"n_top_variance": 5, **kw}),
    "RobustSigmoidScaler": lambda **kw: RobustSigmoidScaler(**kw),
    "GeneOrder": lambda **kw: GeneOrder(**{"method": "kmeans_bins", "bin_size": 7,
                                           "random_state": 0, **kw}),
}
BAD_TRANSFORMER_PARAMS = {
    "RegionTransformer": [("transformer", None), ("transformer", object())],
    "RegionPCA": [("n_components", 0), ("n_components", 1.5), ("n_components", "a"),
                  ("n_components", 1000), ("whiten", "yes")],
    "RegionImputer": [("method", "x"), ("k", 0), ("missing", ["NOPE"]), ("missing", [True]),
                      ("missing", np.ones(N_REGIONS, bool))],
    "GeneSelector": [("genes", []), ("genes", ["NOPE"]), ("genes", "GENE"),
                     ("n_top_variance", 0), ("min_stability", 2.0),
                     ("stability", [np.ones((3, 3)), np.ones((3, 3))]), ("stability", {}),
                     ("stability", "x")],
    "RobustSigmoidScaler": [("clip", "x"), ("clip", 1)],
    "GeneOrder": [("method", "bogus"), ("method", ["NOPE"]), ("method", [0, 1]),
                  ("method", [0] * N_GENES), ("bin_size", 0), ("random_state", "x")],
}
REGION_PAIRS_ONLY = {"RegionImputer"}


def _check_transformed(out, X) -> None:
    if isinstance(out, RegionPairs):
        assert len(out) == len(X)
        np.testing.assert_array_equal(out.pairs, X.pairs)
        assert np.isfinite(out.region_features()).all()
    else:
        out = np.asarray(out)
        assert out.ndim == 2 and out.shape[0] == len(X) and out.shape[1] % 2 == 0
        assert np.isfinite(out).all()


@pytest.mark.parametrize("name", list(TRANSFORMERS))
@given(corruption=fit_corruptions())
def test_transformer_fit_bad_input(name, corruption):
    kind, X, y, names, must_reject = corruption
    if kind in ("nan_y", "inf_y", "dtype_y", "complex_y", "y_length", "y_2d", "y_constant",
                "y_none"):
        # transformers ignore y: the valid X instead
        kind, X, y, names, must_reject = "valid", data()["X"], None, ["X"], False
    if name in REGION_PAIRS_ONLY and not isinstance(X, RegionPairs):
        names, must_reject = ["X", "RegionPairs"], True
    if name == "RegionPCA":
        # RegionPCA(3) needs 3 distinct regions: any corruption that collapses the
        # regions (few pairs, one region, constant or all-zero X) is its n_components' fault
        names = [*names, "n_components"]
    transformer = TRANSFORMERS[name]()
    ok, fitted = _call(f"{name}.fit", transformer.fit, X, y, names=names,
                       must_reject=must_reject)
    if ok:
        out = _call(f"{name}.transform", fitted.transform, X, names=["X"])[1]
        _check_transformed(out, X)


@pytest.mark.parametrize("name", list(TRANSFORMERS))
@given(corruption=predict_corruptions())
def test_transform_bad_input(name, corruption):
    kind, dense, X, names, must_reject = corruption
    if kind == "empty" and isinstance(X, RegionPairs):
        must_reject = False  # the same no pairs over a transformed table is a fine answer
    if name in REGION_PAIRS_ONLY:
        if not isinstance(X, RegionPairs):
            names, must_reject = ["X", "RegionPairs"], True
        elif kind == "other_regions":  # its donors index the fitted region table
            names, must_reject = ["X", "region"], True
    key = ("fitted", name, dense and name not in REGION_PAIRS_ONLY)
    if key not in _CACHE:
        d = data()
        _CACHE[key] = TRANSFORMERS[name]().fit(d["D"] if key[2] else d["X"])
    transformer = _CACHE[key]
    ok, out = _call(f"{name}.transform", transformer.transform, X, names=names,
                    must_reject=must_reject)
    if ok:
        _check_transformed(out, X)


@pytest.mark.parametrize("name", list(TRANSFORMERS))
@settings(max_examples=8)
@given(data_=st.data())
def test_invalid_transformer_parameters(name, data_):
    param, value = data_.draw(st.sampled_from(BAD_TRANSFORMER_PARAMS[name]))
    transformer = TRANSFORMERS[name](**{param: value})
    # what the rejection names: the parameter, or for gene lists what is wrong with them
    names = [param, "genes", "gene order", "regions", "donor", "sampled region"]
    _call(f"{name}.fit", transformer.fit, data()["X"], names=names, must_reject=True)


@st.composite
def donor_tables(draw):
    """(donor_expression, regions, must_reject) for differential_stability."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    labels = [f"r{k}" for k in range(6)]
    genes = ["A", "B", "C"]

    def table():
        return pd.DataFrame(rng.normal(size=(6, 3)), index=labels, columns=genes)

    kind = draw(st.sampled_from([
        "valid", "none", "string", "number", "arrays", "mixed", "one_donor", "no_donor",
        "other_genes", "duplicate_labels", "nan_rows", "regions_string", "regions_unknown",
        "disjoint_regions",
    ]))
    regions = None
    if kind == "none":
        return None, regions, True
    if kind == "string":
        return "donor", regions, True
    if kind == "number":
        return 5, regions, True
    if kind == "arrays":
        return [table().to_numpy(), table().to_numpy()], regions, True
    if kind == "mixed":
        return [table(), 3], regions, True
    if kind == "one_donor":
        return [table()], regions, True
    if kind == "no_donor":
        return {}, regions, True
    if kind == "other_genes":
        return [table(), table().set_axis(["A", "B", "D"], axis=1)], regions, True
    if kind == "duplicate_labels":
        return [table().set_axis(["r0"] * 6), table()], regions, True
    tables = {"d1": table(), "d2": table(), "d3": table()}
    if kind == "nan_rows":
        tables["d1"].iloc[: draw(st.integers(1, 6))] = np.nan
    if kind == "regions_string":
        regions = "r0"
        return tables, regions, True
    if kind == "regions_unknown":
        regions = ["nowhere"]
    if kind == "disjoint_regions":
        tables["d2"] = tables["d2"].set_axis([f"s{k}" for k in range(6)])
    return tables, regions, False


@given(case=donor_tables())
def test_differential_stability_bad_input(case):
    donors, regions, must_reject = case
    ok, out = _call("differential_stability", differential_stability, donors, regions,
                    names=["donor", "regions"], must_reject=must_reject)
    if ok:
        assert isinstance(out, pd.Series) and list(out.index) == ["A", "B", "C"]
        finite = out.dropna().to_numpy()
        assert ((finite >= -1 - 1e-9) & (finite <= 1 + 1e-9)).all()

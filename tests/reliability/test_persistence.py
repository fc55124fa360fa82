"""Persistence: pickle / joblib round trips, skorch weight files, version stamps (real data).

Every public estimator and fitted transformer must predict (transform) exactly as before after
a pickle or joblib round trip; the neural nets' ``save_params`` files must be plain state dicts
(``torch.load(weights_only=True)``) that restore the same predictions in a fresh net; and a
pickle written by another skconn version must warn :class:`SkconnVersionWarning` naming both
versions.
"""

from __future__ import annotations

import copy
import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

import skconn
from skconn.datasets import Connectome
from skconn.exceptions import SkconnVersionWarning
from skconn.models import (
    ConnectomeModelRegressor,
    ExpDecayRegressor,
    LowRankBilinearRegressor,
    PairMLPRegressor,
    PLSBilinearRegressor,
    SMTRegressor,
)
from skconn.nulls import SpinPermutations
from skconn.pairs import make_pairs
from skconn.preprocessing import (
    GeneOrder,
    GeneSelector,
    RegionImputer,
    RegionPCA,
    RegionTransformer,
    RobustSigmoidScaler,
)

torch.set_num_threads(1)

_TINY_SMT = dict(
    module__token_size=20,
    module__d_model=8,
    module__n_heads=2,
    module__n_layers=1,
    module__output_dim=2,
    module__hidden_dims=(8,),
)

#: name -> factory of an unfitted estimator (cheap settings, CPU, seeded)
REGRESSORS = {
    "ExpDecayRegressor": lambda: ExpDecayRegressor(),
    "ConnectomeModelRegressor": lambda: ConnectomeModelRegressor(random_state=0),
    "LowRankBilinearRegressor": lambda: LowRankBilinearRegressor(
        rank=3, max_iter=50, random_state=0
    ),
    "PLSBilinearRegressor": lambda: PLSBilinearRegressor(n_components=3, random_state=0),
    "PairMLPRegressor": lambda: PairMLPRegressor(
        module__hidden_dims=(8,), module__use_coords=True, max_epochs=2, batch_size=256,
        random_state=0, device="cpu",
    ),
    "SMTRegressor": lambda: SMTRegressor(
        use_cls=True, max_epochs=1, batch_size=256, random_state=0, device="cpu", **_TINY_SMT
    ),
}
NEURAL = ("PairMLPRegressor", "SMTRegressor")


def _missing_labels(small):
    return list(small.regions["label"].iloc[[3, 17]])


TRANSFORMERS = {
    "RegionPCA": lambda small: RegionPCA(5, random_state=0),
    "RegionTransformer": lambda small: RegionTransformer(StandardScaler()),
    "GeneSelector": lambda small: GeneSelector(n_top_variance=20),
    "RobustSigmoidScaler": lambda small: RobustSigmoidScaler(clip=True),
    "GeneOrder": lambda small: GeneOrder(),
    "RegionImputer": lambda small: RegionImputer(missing=_missing_labels(small)),
}
ALL = [*REGRESSORS, *TRANSFORMERS, "SpinPermutations"]


@pytest.fixture(scope="module")
def small(hcp100):
    """30 real regions (every 3rd of hcp_schaefer100) x its first 60 genes."""
    sub = hcp100.subset(np.arange(0, 90, 3))
    return Connectome(sub.regions, sub.expression.iloc[:, :60], sub.connectivity, name="small")


@pytest.fixture(scope="module")
def pairs(small):
    return make_pairs(small)


def _sphere(small):
    xyz = small.regions[["x", "y", "z"]].to_numpy(float)
    xyz = xyz - xyz.mean(axis=0)
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def _hemiid(small):
    return (small.regions["hemisphere"].to_numpy() == "R").astype(int)


def _make(name, small):
    if name in REGRESSORS:
        return REGRESSORS[name]()
    if name in TRANSFORMERS:
        return TRANSFORMERS[name](small)
    return SpinPermutations(n_rep=5, random_state=0)


@pytest.fixture(scope="module")
def fitted(small, pairs):
    """Fitted objects, fitted once per module on first use."""
    X, y = pairs
    cache = {}

    def get(name):
        if name not in cache:
            obj = _make(name, small)
            if name == "SpinPermutations":
                obj.fit(_sphere(small), _hemiid(small))
            else:
                obj.fit(X, y)
            cache[name] = obj
        return cache[name]

    return get


def _output(name, obj, small, X):
    """What must survive persistence: predictions, transformed features, or the spins."""
    if name in REGRESSORS:
        return obj.predict(X)
    if name in TRANSFORMERS:
        return np.asarray(obj.transform(X))
    return obj.randomize(np.arange(small.n_regions, dtype=float))


def _params(obj):
    return sorted((k, repr(v)) for k, v in obj.get_params(deep=False).items())


def _joblib_round_trip(obj, path):
    joblib.dump(obj, path)
    return joblib.load(path)


@pytest.mark.parametrize("name", ALL)
def test_fitted_round_trips_give_identical_output(name, fitted, small, pairs, tmp_path):
    X, _ = pairs
    obj = fitted(name)
    expected = _output(name, obj, small, X)
    assert np.isfinite(expected).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkconnVersionWarning)  # same version: silent
        loaded = [
            pickle.loads(pickle.dumps(obj)),
            pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)),
            _joblib_round_trip(obj, tmp_path / f"{name}.joblib"),
            copy.deepcopy(obj),
        ]
    for twin in loaded:
        assert type(twin) is type(obj)
        assert "_skconn_version" not in vars(twin)  # the stamp lives in the file only
        np.testing.assert_array_equal(_output(name, twin, small, X), expected)
        assert _params(twin) == _params(obj)
    # a loaded model can be pickled again and still agrees
    again = pickle.loads(pickle.dumps(loaded[2]))
    np.testing.assert_array_equal(_output(name, again, small, X), expected)


@pytest.mark.parametrize("name", ALL)
def test_unfitted_round_trip(name, small):
    obj = _make(name, small)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkconnVersionWarning)
        twin = pickle.loads(pickle.dumps(obj))
    assert type(twin) is type(obj)
    assert _params(twin) == _params(obj)
    assert repr(clone(twin)) == repr(obj)


def _fresh_net(name, model):
    """A new, initialised net of the same architecture (no training)."""
    net = REGRESSORS[name]()
    net.n_features_in_ = model.n_features_in_
    if hasattr(model, "gene_order_"):
        net.gene_order_ = model.gene_order_
    return net.initialize()


@pytest.mark.parametrize("name", NEURAL)
def test_neural_weights_save_and_load(name, fitted, pairs, tmp_path):
    X, _ = pairs
    model = fitted(name)
    expected = model.predict(X)
    path = tmp_path / "weights.pt"
    model.save_params(f_params=path)

    net = _fresh_net(name, model)
    assert not np.array_equal(net.predict(X), expected)  # a fresh init differs ...
    net.load_params(f_params=path)
    np.testing.assert_array_equal(net.predict(X), expected)  # ... until the weights load

    # the file is a plain state dict: loadable without unpickling arbitrary objects
    state = torch.load(path, weights_only=True)
    reference = model.module_.state_dict()
    assert set(state) == set(reference)
    for key, tensor in reference.items():
        assert torch.equal(state[key], tensor), key
    # coordinate standardisation travels with the weights (buffers), not as extra files
    assert any(key.endswith("coord_mean") for key in state)


def _version_pattern(*versions):
    return ".*".join(re.escape(v) for v in versions)


@pytest.mark.parametrize("name", ALL)
def test_loading_under_another_version_warns(name, fitted, small, pairs, monkeypatch):
    X, _ = pairs
    obj = fitted(name)
    expected = _output(name, obj, small, X)
    saved = skconn.__version__
    blob = pickle.dumps(obj)
    monkeypatch.setattr(skconn, "__version__", "99.1.0")
    with pytest.warns(SkconnVersionWarning, match=_version_pattern(saved, "99.1.0")) as record:
        twin = pickle.loads(blob)
    assert any(type(obj).__name__ in str(w.message) for w in record)
    assert all("refit" in str(w.message) for w in record if w.category is SkconnVersionWarning)
    # a warning, not a failure: the state is restored as saved
    np.testing.assert_array_equal(_output(name, twin, small, X), expected)


@pytest.mark.parametrize("name", ["ConnectomeModelRegressor", "SMTRegressor", "RegionPCA"])
def test_pickle_from_an_older_version_warns(name, fitted, small, pairs, monkeypatch, tmp_path):
    X, _ = pairs
    obj = fitted(name)
    monkeypatch.setattr(skconn, "__version__", "0.0.1")
    joblib.dump(obj, tmp_path / "old.joblib")
    monkeypatch.undo()
    with pytest.warns(SkconnVersionWarning) as record:
        twin = joblib.load(tmp_path / "old.joblib")
    warning = next(w.message for w in record if w.category is SkconnVersionWarning)
    assert (warning.original_version, warning.current_version) == ("0.0.1", skconn.__version__)
    assert warning.estimator_name == type(obj).__name__
    assert "0.0.1" in str(warning) and skconn.__version__ in str(warning)
    np.testing.assert_array_equal(_output(name, twin, small, X), _output(name, obj, small, X))


def _restore(cls, state):
    obj = cls.__new__(cls)
    obj.__setstate__(state)  # what unpickling does
    return obj


class _WithoutStamp:
    """Pickles ``obj`` as a skconn version from before the stamp existed would have."""

    def __init__(self, obj):
        self.obj = obj

    def __reduce__(self):
        state = self.obj.__getstate__()
        assert state.pop("_skconn_version") == skconn.__version__
        return (_restore, (type(self.obj), state))


def test_unstamped_pickle_warns_unknown_version(fitted, pairs):
    X, _ = pairs
    model = fitted("ExpDecayRegressor")
    with pytest.warns(SkconnVersionWarning, match="from skconn version unknown"):
        twin = pickle.loads(pickle.dumps(_WithoutStamp(model)))
    assert type(twin) is ExpDecayRegressor
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))


def test_version_warning_is_a_filterable_user_warning(fitted, monkeypatch):
    assert issubclass(SkconnVersionWarning, UserWarning)
    blob = pickle.dumps(fitted("ConnectomeModelRegressor"))
    monkeypatch.setattr(skconn, "__version__", "99.1.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=SkconnVersionWarning)
        pickle.loads(blob)  # silenced by category, nothing else raised
    # the warning itself survives pickling (joblib workers send warnings back)
    w = SkconnVersionWarning(estimator_name="X", current_version="2", original_version="1")
    back = pickle.loads(pickle.dumps(w))
    assert (back.estimator_name, back.current_version, back.original_version) == ("X", "2", "1")
    assert str(back) == str(w)

"""The benchmark's model registry: each family, how it is built, what its inner search tries.

A new model family is one :class:`ModelSpec` entry in :data:`MODELS` (a factory
``(seed, device) -> estimator`` and its inner-search grid); everything else (the
command line's choices, variants, ``config.toml``'s resolved parameters) reads it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from ..metrics import pearson_scorer
from ..model_selection import RandomRegionSplit, SpatialRegionSplit

__all__ = ["MODELS", "SPLITS", "ModelSpec", "make_model", "neural_device", "ran_on",
           "resolved_params"]


@dataclass
class ModelSpec:
    """How the benchmark builds a model family and what its inner search tries.

    Parameters
    ----------
    estimator : str
        Name of the estimator class in :mod:`skconn.models`.
    grid : dict, default={}
        The inner search's grid, parameter -> candidate values.
    params : dict, default={}
        Parameters the family sets on the class's defaults (e.g.
        ``{"use_cls": True}``).
    spin_test : bool, default=False
        Whether the main job runs the classic spin test (``p_spin``) on this
        family: refits on the full data under many spins, affordable where
        :func:`skconn.nulls.spin_test` batches them (the Connectome Model). PLS
        refits its encoder for every spin (0.1-0.6 s each on the shared atlases):
        run its spin test with :func:`skconn.nulls.spin_test` directly.

    Examples
    --------
    >>> from skconn.benchmark import ModelSpec
    >>> ModelSpec("ConnectomeModelRegressor").build(seed=3, device="cpu")
    ConnectomeModelRegressor(random_state=3)
    """

    estimator: str
    grid: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    spin_test: bool = False

    def build(self, seed: int, device: str) -> BaseEstimator:
        """A fresh estimator: ``random_state=seed`` and ``device`` where it has them."""
        from .. import models

        cls = getattr(models, self.estimator)
        accepted = cls().get_params(deep=False)
        given = {"random_state": seed, "device": device}
        return cls(**{k: v for k, v in given.items() if k in accepted}, **self.params)

    @property
    def factory(self) -> Callable[[int, str], BaseEstimator]:
        """``(seed, device) -> estimator`` (:meth:`build`)."""
        return self.build


#: Model families the benchmark knows: name -> ModelSpec (the estimator, the
#: parameters the family sets and the default inner-search grid: the published search
#: spaces trimmed to what 2 cores afford). A new family is one entry here.
MODELS: dict[str, ModelSpec] = {
    "exp_decay": ModelSpec("ExpDecayRegressor", {"mirror_x": [True, False]}),
    "connectome_model": ModelSpec("ConnectomeModelRegressor",
                                  {"penalty": ["ridge", "kronecker"]}, spin_test=True),
    "pls_bilinear": ModelSpec("PLSBilinearRegressor", {"n_components": [5, 10, 25]}),
    "low_rank": ModelSpec("LowRankBilinearRegressor",
                          {"rank": [5, 10, 20], "alpha": [1e-3, 1e-2, 1e-1]}),
    # coordinates alone (the two regions' MNI coordinates, no expression): the bar a
    # coordinate-aware model must clear, identical on the true data and on any null
    "coords_only": ModelSpec("CoordinateRegressor"),
    # the paper's coordinates-only MLP (appendix Table 3): the neural version of that bar
    "coords_mlp": ModelSpec("PairMLPRegressor", {"module__dropout": [0.1, 0.3]},
                            {"use_coords": True, "use_expression": False}),
    "mlp": ModelSpec("PairMLPRegressor", {"module__dropout": [0.1, 0.3]},
                     {"module__use_coords": False}),
    "mlp_coords": ModelSpec("PairMLPRegressor", {"module__dropout": [0.1, 0.3]},
                            {"module__use_coords": True}),
    "smt": ModelSpec("SMTRegressor", {"module__d_model": [64, 128]}, {"use_cls": False}),
    "smt_cls": ModelSpec("SMTRegressor", {"module__d_model": [64, 128]}, {"use_cls": True}),
}

#: Outer (and inner) region splitters by name: the ``splits`` of a configuration.
SPLITS = {"random": RandomRegionSplit, "spatial": SpatialRegionSplit}


def make_model(name: str, seed: int, device: str = "auto",
               autocast: str | bool = "auto", variants: dict | None = None) -> BaseEstimator:
    """A fresh estimator of a named model family, or of a variant of one.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`, or a key of ``variants``.
    seed : int
        ``random_state`` for models that use one.
    device : str, default="auto"
        Device of neural models (ignored by the others).
    autocast : {"auto", True, False}, default="auto"
        bf16 autocast of neural models (ignored by the others).
    variants : dict, default=None
        Model variants, name -> ``{"model": family, **params}``
        (:class:`BenchmarkConfig`'s ``variants``): the family's estimator with
        ``set_params(**params)``.

    Returns
    -------
    BaseEstimator

    Examples
    --------
    >>> from skconn.benchmark import make_model
    >>> make_model("connectome_model", 3)
    ConnectomeModelRegressor(random_state=3)
    >>> make_model("cm_ridge", 3, variants={"cm_ridge": {"model": "connectome_model",
    ...                                                  "penalty": "ridge"}})
    ConnectomeModelRegressor(penalty='ridge', random_state=3)
    """
    family, params = _family(name, variants)
    model = MODELS[family].factory(seed, device)
    if "autocast" in model.get_params(deep=False):
        model.set_params(autocast=autocast)
    if params:
        try:
            model.set_params(**params)
        except ValueError as exc:
            raise ValueError(f"model variant {name!r} of {family!r}: {exc}") from None
    return model


def _family(name: str, variants: dict | None) -> tuple[str, dict]:
    """The model family behind ``name`` and the parameters the variant sets."""
    variants = variants or {}
    if name in MODELS:
        if name in variants:
            raise ValueError(f"variant name {name!r} is taken by a model family; rename it")
        return name, {}
    if name not in variants:
        known = sorted(MODELS) + sorted(variants)
        raise ValueError(f"unknown model {name!r}; choose from {known}")
    params = dict(variants[name])
    family = params.pop("model")
    if family not in MODELS:
        raise ValueError(f"model variant {name!r}: unknown model family {family!r}; "
                         f"choose from {sorted(MODELS)}")
    return family, params


def check_models(models: Sequence[str], variants: dict | None) -> None:
    """Every name a family or a valid variant (its parameters checked by building it)."""
    unknown = [m for m in models if m not in MODELS and m not in (variants or {})]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from "
                         f"{sorted(MODELS) + sorted(variants or {})}")
    for name in models:
        make_model(name, 0, "cpu", False, variants)


def _plain(value):
    """A JSON-ready, reproducible form of a parameter value (classes by qualified name)."""
    if isinstance(value, type) or callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def resolved_params(model: BaseEstimator) -> dict:
    """The parameters that define an estimator, in a form that reproduces it.

    Its own parameters (``get_params(deep=False)``); for a skorch net, also the
    module's defaults as ``module__<name>`` unless set explicitly or derived from
    the data or from one of the estimator's own parameters. Classes and functions
    are written as ``"package.module.Name"``.

    Parameters
    ----------
    model : BaseEstimator

    Returns
    -------
    dict
        Sorted by name; every value is JSON-serialisable.

    Examples
    --------
    >>> from skconn.benchmark import make_model, resolved_params
    >>> params = resolved_params(make_model("smt", 0, "cpu"))
    >>> params["module"], params["module__d_model"], params["use_cls"]
    ('skconn.models.smt.SMTModule', 128, False)
    """
    params = model.get_params(deep=False)
    module = params.get("module")
    if isinstance(module, type):
        for name, arg in inspect.signature(module).parameters.items():
            if arg.default is not arg.empty and name not in params:
                params.setdefault(f"module__{name}", arg.default)
    return {k: _plain(v) for k, v in sorted(params.items())}


def search_grid(name: str, variants: dict | None) -> dict:
    """The inner-search grid of a model: its family's, less what a variant fixes."""
    family, params = _family(name, variants)
    return {k: v for k, v in MODELS[family].grid.items() if k not in params}


def with_search(model, name, search, split, inner_folds, n_iter, seed, variants=None,
                prefix=""):
    """``model`` inside the inner search of its grid (keys prefixed by ``prefix``, e.g.
    ``"model__"`` for a pipeline's last step), or ``model`` itself without a search."""
    grid = {prefix + k: v for k, v in search_grid(name, variants).items()}
    if search == "none" or not grid:
        return model
    inner = SPLITS[split](inner_folds, random_state=seed)
    if search == "grid":
        return GridSearchCV(model, grid, cv=inner, scoring=pearson_scorer, error_score="raise")
    return RandomizedSearchCV(model, grid, n_iter=n_iter, cv=inner, scoring=pearson_scorer,
                              random_state=seed, error_score="raise")


def _neural_net(model):
    """The neural net inside a model (its search, its pipeline), or None."""
    model = getattr(model, "estimator", model)  # an inner search's estimator
    if isinstance(model, Pipeline):
        model = model[-1]
    return model if hasattr(model, "_autocast_enabled") else None


def neural_device(model) -> str | None:
    """The device a model's neural net is set to (``"auto"`` kept), None for the others."""
    net = _neural_net(model)
    return None if net is None else net.device


def ran_on(model) -> str:
    """Where a fitted model ran: "cpu", or a neural model's device, "+bf16" under autocast."""
    net = _neural_net(model)
    if net is None:
        return "cpu"
    import torch

    kind = torch.device(net.device).type
    return kind + ("+bf16" if net._autocast_enabled() else "")


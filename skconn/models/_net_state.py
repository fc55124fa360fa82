"""What a ``PairNet`` keeps: its fit state, its device, and how both are pickled.

``device="auto"`` is resolved wherever skorch reads ``device`` while
``get_params``/``clone`` keep the value given; a new ``device`` moves a fitted
net. The callbacks hold tensors (the learning-rate schedule holds the
optimiser), so they are pickled through skorch's device mapping
(``cuda_dependent_attributes_``) with the module, criterion and optimiser: a net
fitted on CUDA unpickles on a CPU-only machine.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from .._arguments import check_random_state

__all__ = ["DeviceStateMixin", "resolve_device"]


def resolve_device(device) -> str:
    """``"auto"`` means CUDA when available, else CPU; anything else is kept."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _valid_callbacks(value) -> bool:
    """Whether ``value`` is something skorch accepts as ``callbacks``."""
    return value is None or isinstance(value, (list, tuple))


@dataclasses.dataclass
class _FitState:
    """What a net keeps between skorch's hooks: random streams and the running call.

    The streams (``shuffle_rng`` ... ``gene_order_seed``) are drawn from
    ``random_state`` at each ``fit`` and kept, so ``partial_fit`` continues them;
    ``monitor`` and ``refitting`` decide the default callbacks (``callbacks_key``:
    what the built ones were made for). ``split``, ``initial_module_state`` live
    for one ``fit``/``partial_fit`` call only (:meth:`end_call`).
    """

    shuffle_rng: np.random.Generator | None = None
    split_rng: np.random.Generator | None = None
    augment_rng: np.random.Generator | None = None
    gene_order_seed: int | None = None
    monitor: str = "valid_loss"
    refitting: bool = False
    target_mean: float | None = None
    callbacks_key: tuple | None = None
    #: (dataset, train, valid) of the running call
    split: tuple | None = None
    #: initial weights the ``refit_all`` run starts again from
    initial_module_state: dict | None = None

    def reseed(self, random_state) -> None:
        """Draw the streams of a fit (and seed torch for a seeded one)."""
        rs = check_random_state(random_state)
        seeds = rs.randint(0, 2**31 - 1, size=5)
        if random_state is not None:
            torch.manual_seed(int(seeds[0]))
        self.shuffle_rng = np.random.default_rng(seeds[1])
        self.split_rng = np.random.default_rng(seeds[2])
        self.augment_rng = np.random.default_rng(seeds[3])
        self.gene_order_seed = int(seeds[4])

    def end_call(self) -> None:
        self.split = None
        self.refitting = False
        self.initial_module_state = None


class DeviceStateMixin:
    """The fit state, ``device`` and pickling of a skorch net (put before ``NeuralNet``)."""

    #: the callbacks hold tensors (the learning-rate schedule holds the optimiser):
    #: skorch pickles these attributes through ``torch.save`` with a device mapping
    cuda_dependent_attributes_ = ["callbacks_"]

    _fit_state: _FitState | None = None

    @property
    def _state(self) -> _FitState:
        if self._fit_state is None:
            self._fit_state = _FitState()
        return self._fit_state

    @property
    def monitor_(self) -> str:
        """The loss the callbacks watch in the last fit: "valid_loss" or "train_loss"."""
        if self._fit_state is None:
            raise AttributeError("monitor_ is set by fit")
        return self._fit_state.monitor

    # ---------------------------------------------------------------- device
    # skorch reads ``self.device`` wherever it moves tensors; "auto" is resolved
    # there while get_params / clone keep the value the user gave.
    @property
    def device(self):
        return resolve_device(self._device_param)

    @device.setter
    def device(self, value):
        self._device_param = value

    def _get_param_names(self):
        # skorch takes every attribute not ending in "_" for a parameter; the private
        # state of a fit (random streams, ...) is not one, and clone() must not copy it
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def set_params(self, **params):
        """Set parameters; a new ``device`` moves a fitted net there.

        A new ``callbacks`` list is stored before it is initialised (skorch alone
        initialises the callbacks *before* it stores a new value, so a bad value
        would break every later ``set_params`` call); ``fit`` raises a
        ``TypeError`` naming it.

        Examples
        --------
        >>> from skconn.models import PairMLPRegressor
        >>> PairMLPRegressor().set_params(callbacks=[], max_epochs=5).max_epochs
        5
        """
        if "callbacks" in params:
            self.callbacks = params["callbacks"]
            if not _valid_callbacks(self.callbacks):
                del params["callbacks"]  # not initialised now: fit raises a clear TypeError
        super().set_params(**params)
        if "device" in params and self.initialized_:
            self._move_to_device()
        return self

    def _move_to_device(self) -> None:
        """Move the module, criterion and optimiser state to ``self.device``."""
        device = torch.device(self.device)
        for name in [*self._modules, *self._criteria]:
            component = getattr(self, name + "_", None)
            if isinstance(component, nn.Module):
                component.to(device)
        for name in self._optimizers:
            optimizer = getattr(self, name + "_", None)
            if not isinstance(optimizer, torch.optim.Optimizer):
                continue
            for group in optimizer.param_groups:
                on_device = group.get("fused") or group.get("capturable")
                for param in group["params"]:
                    for key, value in optimizer.state.get(param, {}).items():
                        if isinstance(value, torch.Tensor):
                            keep_cpu = key == "step" and not on_device
                            optimizer.state[param][key] = value.to("cpu" if keep_cpu else device)

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self._device_param
        params.pop("_device_param", None)
        return params

    def __getstate__(self):
        state = super().__getstate__()
        state["device"] = self.device
        return state

    def __setstate__(self, state):
        requested = state.pop("_device_param", "auto")
        _migrate_fit_state(state)
        super().__setstate__(state)
        mapped = self.__dict__.pop("device", None)
        self._device_param = "auto" if requested == "auto" else mapped


_OLD_STATE_KEYS = {
    "_shuffle_rng": "shuffle_rng",
    "_split_rng": "split_rng",
    "_augment_rng": "augment_rng",
    "_gene_order_seed": "gene_order_seed",
    "_target_mean": "target_mean",
    "_callbacks_built_for": "callbacks_key",
}


def _migrate_fit_state(state: dict) -> None:
    """Nets pickled before ``_FitState`` kept its fields as separate attributes."""
    if "_fit_state" in state or not any(k in state for k in _OLD_STATE_KEYS):
        return
    fit_state = _FitState()
    for old, new in _OLD_STATE_KEYS.items():
        if old in state:
            setattr(fit_state, new, state.pop(old))
    fit_state.monitor = state.pop("monitor_", "valid_loss")
    state.pop("_refitting", None)
    state["_fit_state"] = fit_state

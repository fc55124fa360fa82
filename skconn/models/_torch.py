"""``PairNet``: the skorch regressor shared by the neural pair estimators.

Batches are built by :mod:`skconn.models._pair_data`. skorch drives the fit
(``NeuralNet.fit`` -> ``initialize`` -> ``partial_fit`` -> ``fit_loop``); the
hooks below adapt it to region pairs. What stays custom, and why:

* the validation split is drawn over *regions* before skorch initialises the
  module, because ``output_init="mean"`` starts the output layer at the mean of
  the *training* part; the split is handed to ``fit_loop`` through
  ``get_split_datasets`` by the fit state (:class:`_FitState`);
* ``refit_all`` retrains from the saved initial weights after the selection run
  (``NeuralNet.partial_fit`` with ``epochs=``), which skorch has no notion of;
* ``run_single_epoch`` keeps each epoch's batch losses on the device and reads
  them back once per epoch (skorch calls ``.item()`` after every step);
* ``device="auto"`` is resolved wherever skorch reads ``device`` while
  ``get_params``/``clone`` keep the value given, and the callbacks (the
  learning-rate schedule holds the optimiser) go through skorch's device mapping
  when pickled, so a CUDA fit loads on a CPU-only machine.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import numbers
import threading
import warnings
from collections.abc import Iterable

import numpy as np
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import get_len
from torch import nn

from .._arguments import check_random_state
from .._persistence import VersionedStateMixin
from .._validation import Interval, Options, StrOptions, validate_own_params
from ..pairs import RegionPairs
from ._input import check_pair_input
from ._pair_data import (
    PairBatch,
    PairBatches,
    PairDataset,
    as_float32,
    region_split,
    standardise_coords_stats,
)

__all__ = ["OutputLinear", "PairNet", "mlp_head", "resolve_device"]

#: Held by every neural fit (see ``PairNet._own_torch_rng``).
_TORCH_RNG_LOCK = threading.RLock()

#: Pairs per prediction (and validation) batch unless ``iterator_valid__batch_size``
#: is given: BatchNorm and dropout are off there, so the batch size changes nothing
#: but speed (each distinct region is encoded once per batch).
PREDICT_BATCH_SIZE = 8192


def resolve_device(device) -> str:
    """``"auto"`` means CUDA when available, else CPU; anything else is kept."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class OutputLinear(nn.Linear):
    """The output layer, computed in float32 even under autocast.

    Under bf16 autocast a Linear layer returns bf16 (8 significant bits), which
    would quantise every prediction, and the loss, to steps of ~2⁻¹⁰ around FC
    values; this layer disables autocast and computes in float32. Its parameters
    are those of :class:`torch.nn.Linear` (same state-dict keys).
    """

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return super().forward(x.float())


def mlp_head(in_dim: int, hidden_dims, dropout: float) -> nn.Sequential:
    """Blocks Linear → ReLU → BatchNorm1d → Dropout, then a float32 ``OutputLinear(·, 1)``."""
    if isinstance(hidden_dims, (str, bytes)) or not isinstance(hidden_dims, Iterable):
        raise TypeError(
            f"hidden_dims must be a sequence of positive ints (e.g. (16,)), got {hidden_dims!r}"
        )
    widths = list(hidden_dims)
    if not all(isinstance(w, numbers.Integral) and w >= 1 for w in widths):
        raise ValueError(f"hidden_dims must be positive ints, got {hidden_dims!r}")
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_dim, width), nn.ReLU(), nn.BatchNorm1d(width), nn.Dropout(dropout)]
        in_dim = width
    layers.append(OutputLinear(in_dim, 1))
    return nn.Sequential(*layers)


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


class PairNet(VersionedStateMixin, NeuralNetRegressor):
    """Base skorch regressor for modules that read batches of region pairs.

    Subclasses state only the defaults they change (the skorch way:
    ``def __init__(self, module=MyModule, *, lr=..., **kwargs)``), set
    ``_module_data_kwargs`` (module arguments that come from the data, e.g. the
    number of features) and may transform node features in ``_node_features``.
    The shared parameters are documented once, in :data:`SHARED_PARAMETERS_DOC`,
    which the subclasses' docstrings include.
    """

    _lr_defaults = {"factor": 0.3, "patience": 30, "threshold": 0.1}

    _parameter_constraints: dict = {
        "lr": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Options(numbers.Integral, {-1}),
        ],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lr_patience": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "random_state": ["random_state"],
        "progress_bar": ["boolean"],
        "autocast": [StrOptions({"auto"}), "boolean"],
        "batching": [StrOptions({"random", "region_blocks"})],
        "refit_all": ["boolean"],
        "output_init": [StrOptions({"mean", "torch"})],
    }

    #: the callbacks hold tensors (the learning-rate schedule holds the optimiser):
    #: skorch pickles these attributes through ``torch.save`` with a device mapping
    cuda_dependent_attributes_ = ["callbacks_"]

    _fit_state: _FitState | None = None

    def __init__(
        self,
        module,
        *,
        criterion=nn.MSELoss,
        optimizer=torch.optim.AdamW,
        lr=1e-4,
        max_epochs=100,
        batch_size=512,
        validation_fraction=0.2,
        patience=50,
        lr_patience=None,
        random_state=None,
        progress_bar=False,
        autocast="auto",
        device="auto",
        verbose=0,
        train_split=None,
        batching="random",
        refit_all=False,
        output_init="mean",
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.lr_patience = lr_patience
        self.random_state = random_state
        self.progress_bar = progress_bar
        self.autocast = autocast
        self.batching = batching
        self.refit_all = refit_all
        self.output_init = output_init

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

    # ---------------------------------------------------------------- callbacks
    def get_default_callbacks(self):
        callbacks = list(super().get_default_callbacks())
        state = self._state
        lr = dict(self._lr_defaults)
        if self.lr_patience is not None:
            lr["patience"] = self.lr_patience
        callbacks.append(
            (
                "lr_scheduler",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                    monitor=state.monitor,
                    mode="min",
                    threshold_mode="rel",
                    cooldown=1,
                    min_lr=1e-6,
                    **lr,
                ),
            )
        )
        if self.patience is not None and not state.refitting:
            callbacks.append(
                (
                    "early_stopping",
                    # load_best deep-copies the best state and restores it at the end
                    EarlyStopping(
                        monitor=state.monitor,
                        patience=self.patience,
                        threshold=0.0,
                        load_best=True,
                    ),
                )
            )
        if self.progress_bar:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _callbacks_key(self) -> tuple:
        return self._state.monitor, self._state.refitting

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._state.callbacks_key = self._callbacks_key()
        return self

    def _sync_callbacks(self) -> None:
        """Rebuild the callbacks if the monitored loss or the refit state changed.

        The default callbacks (learning-rate schedule, early stopping) depend on
        the monitored loss and on whether the net is refitting; a fitted net that
        trains again (``partial_fit``, a warm-started ``fit``) gets callbacks
        matching them.
        """
        if self._state.callbacks_key != self._callbacks_key():
            self._initialize_callbacks()

    # ---------------------------------------------------------------- data
    def _module_data_kwargs(self) -> dict:
        return {"n_features": self.n_features_in_ // 2}

    def _node_features(self, features: np.ndarray) -> np.ndarray:
        return features

    def _fit_node_transform(self, X, graph) -> None:
        """Learn what ``_node_features`` needs from the training input (in fit)."""

    def _make_dataset(self, X, y=None, *, reset: bool, training: bool = False) -> PairDataset:
        if isinstance(X, PairDataset):
            return X
        if y is None:
            graph = check_pair_input(self, X, None, reset=reset)
        else:
            graph, y = check_pair_input(self, X, y, reset=reset)
        if (reset or training) and graph.n_pairs < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 region pairs to train "
                f"(BatchNorm), got n_samples={graph.n_pairs}"
            )
        if isinstance(X, RegionPairs):
            node_region = np.empty(graph.n_nodes, dtype=np.intp)
            node_region[graph.left] = X.pairs[:, 0]
            node_region[graph.right] = X.pairs[:, 1]
            pair_regions = X.pairs
        else:
            node_region = np.arange(graph.n_nodes)
            pair_regions = None
        if reset:
            if isinstance(X, RegionPairs):
                self.feature_names_in_ = np.asarray(X.feature_names, dtype=object)
            self.coord_mean_, self.coord_scale_ = standardise_coords_stats(graph.coords)
            self._fit_node_transform(X, graph)
        features = as_float32(self._node_features(graph.features), "X")
        coords = None if graph.coords is None else graph.coords.astype(np.float32)
        return PairDataset(
            features,
            coords,
            graph.left,
            graph.right,
            None if y is None else as_float32(y, "y"),
            node_region,
            pair_regions,
            device=self.device,
        )

    def get_dataset(self, X, y=None):
        return self._make_dataset(X, y, reset=False)

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self._make_dataset(X, y, reset=False)
        split = self._state.split
        if split is not None and split[0] is dataset:  # drawn by fit / partial_fit
            return split[1], split[2]
        if callable(self.train_split):
            return self._user_split(dataset, **fit_params)
        return dataset, None

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        params = self.get_params_for(prefix)
        batch_size = params.get(
            "batch_size", self.batch_size if training else max(self.batch_size, PREDICT_BATCH_SIZE)
        )
        if batch_size == -1:
            batch_size = len(dataset)
        shuffle = bool(params.get("shuffle", training))
        return PairBatches(
            dataset,
            batch_size,
            shuffle=shuffle,
            rng=self._state.shuffle_rng,
            region_blocks=training and self.batching == "region_blocks",
        )

    # ---------------------------------------------------------------- checks
    def _check_params(self) -> None:
        """Parameter validation: the declared constraints, then what they cannot say."""
        if isinstance(self.callbacks, str) and self.callbacks == "disable":
            raise ValueError(
                "callbacks='disable' is not supported: it drops the loss recording that "
                "early stopping and best_epoch_ need; pass None or a list of callbacks"
            )
        if not _valid_callbacks(self.callbacks):
            raise TypeError(
                "callbacks must be a list of callbacks or (name, callback) tuples, or None; "
                f"got {self.callbacks!r}"
            )
        validate_own_params(self)
        train_batch = self.get_params_for("iterator_train").get("batch_size", self.batch_size)
        if isinstance(train_batch, numbers.Integral) and train_batch == 1:
            raise ValueError(
                "batch_size=1 is not supported: BatchNorm cannot normalise a batch of one "
                "pair in training mode (single-pair batches are merged into the previous "
                "one, so every batch would be merged into a full batch); use batch_size >= 2"
            )
        shuffle = self.get_params_for("iterator_train").get("shuffle", True)
        if self.batching == "region_blocks" and not shuffle:
            raise ValueError(
                "batching='region_blocks' draws random blocks of regions: it needs "
                "iterator_train__shuffle=True (or unset)"
            )
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device={self._device_param!r} is not a torch device") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self._device_param!r} but CUDA is not available")

    @contextlib.contextmanager
    def _own_torch_rng(self):
        """Run a fit holding torch's default generator; a seeded fit forks and restores it.

        Initial weights and dropout masks come from torch's process-wide generator. Fits
        in threads of one process (joblib's threading backend, in-process dask workers)
        take turns on it, so a seeded fit draws only its own stream; and a seeded fit
        leaves the caller's torch stream as it found it.
        """
        with _TORCH_RNG_LOCK:
            if self.random_state is None:
                yield
                return
            device = torch.device(self.device)
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                yield

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y, **fit_params):
        """Fit the network on region pairs.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)
        y : array-like of shape (P,)

        Returns
        -------
        self
        """
        self._check_params()
        with self._own_torch_rng():
            return self._fit(X, y, **fit_params)

    def _require_y(self, y) -> None:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )

    def _fit(self, X, y, **fit_params):
        self._require_y(y)
        warm = bool(self.warm_start) and self.initialized_ and hasattr(self, "n_features_in_")
        if self.warm_start and self.refit_all:
            raise ValueError(
                "warm_start=True with refit_all=True is not supported: the refit starts "
                "again from the initial weights, which would discard the warm start; "
                "set one of them to False (or continue training with partial_fit)"
            )
        state = self._state
        state.reseed(self.random_state)
        # warm start: keep the fitted input checks and preprocessing (gene order,
        # coordinate statistics) that the kept weights were trained with
        dataset = self._make_dataset(X, y, reset=not warm, training=True)
        n_before = len(self.history) if warm else 0
        try:
            valid = self._split_for_training(dataset)
            state.target_mean = float(np.mean(state.split[1].y))  # for output_init="mean"
            if warm:
                self._sync_callbacks()
            super().fit(dataset, None, **fit_params)  # initialize, then partial_fit
            self.best_epoch_ = self._held_epoch(n_before, valid is not None)
            if self.refit_all and valid is not None:
                self._refit_on_every_pair(dataset, **fit_params)
        finally:
            state.end_call()
        self._after_fit()
        return self

    def _refit_on_every_pair(self, dataset: PairDataset, **fit_params) -> None:
        """Retrain from the initial weights on every training pair for the best epochs."""
        state = self._state
        n_epochs = self._lowest_valid_epoch(0)
        self.selection_history_ = copy.deepcopy(self.history)
        initial = state.initial_module_state
        state.reseed(self.random_state)
        state.split = (dataset, dataset, None)
        state.monitor = "train_loss"
        state.refitting = True
        state.target_mean = float(np.mean(dataset.y))
        self.initialize()  # draws as much of torch's stream as the first one did
        self.module_.load_state_dict(initial)
        self._init_output_layer()  # the mean of all training pairs
        super().partial_fit(dataset, None, epochs=n_epochs, _routing_method="fit", **fit_params)
        self.train_pairs_ = dataset.index
        self.best_epoch_ = n_epochs

    def _lowest_valid_epoch(self, start: int) -> int:
        """History epoch of the lowest validation loss among rows ``start:`` (first one)."""
        rows = self.history[start:]
        losses = np.array([row.get("valid_loss", np.nan) for row in rows], dtype=float)
        if np.isnan(losses).all():
            return int(rows[-1]["epoch"])
        return int(rows[int(np.nanargmin(losses))]["epoch"])

    def _held_epoch(self, start: int, validated: bool) -> int | None:
        """The history epoch whose weights the module holds after training rows ``start:``.

        None without a validation split. Early stopping restores its best epoch (the
        lowest validation loss of this call); without it (``patience=None``) the
        module keeps the last epoch's weights.
        """
        if not validated or len(self.history) <= start:
            return None
        stopper = dict(self.callbacks_).get("early_stopping")
        if isinstance(stopper, EarlyStopping) and getattr(stopper, "load_best", False):
            best = int(getattr(stopper, "best_epoch_", 0) or 0)
            if best > int(self.history[start]["epoch"]) - 1:
                return best
        if stopper is None:
            return int(self.history[-1, "epoch"])
        return self._lowest_valid_epoch(start)

    def _split_for_training(self, dataset: PairDataset) -> PairDataset | None:
        """Cut the validation regions off ``dataset`` (kept in the fit state); the valid part."""
        valid = None
        if callable(self.train_split):
            train, valid = self._user_split(dataset)
        elif self.validation_fraction is not None:
            train, valid = region_split(dataset, self.validation_fraction, self._state.split_rng)
        else:
            train = dataset
        if valid is None and self.validation_fraction is not None and self.verbose:
            warnings.warn(
                "too few regions for a validation split; monitoring the training loss",
                UserWarning,
                stacklevel=4,
            )
        self._state.split = (dataset, train, valid)
        self._state.monitor = "valid_loss" if valid is not None else "train_loss"
        self._state.refitting = False
        self.train_pairs_ = train.index
        self.valid_pairs_ = None if valid is None else valid.index
        return valid

    def _user_split(self, dataset: PairDataset, **fit_params) -> tuple:
        """``train_split(dataset, None)`` as two :class:`PairDataset` (valid may be None).

        ``torch.utils.data.Subset`` results (skorch's ``ValidSplit``) become subsets of
        ``dataset``.
        """
        parts = self.train_split(dataset, None, **fit_params)
        try:
            train, valid = parts
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "train_split must return a (train, valid) pair of datasets, got "
                f"{type(parts).__name__}"
            ) from exc

        def as_pairs(part, allow_none):
            if part is None and allow_none:
                return None
            if isinstance(part, PairDataset):
                return part
            if isinstance(part, torch.utils.data.Subset) and isinstance(part.dataset, PairDataset):
                return part.dataset.subset(np.asarray(part.indices, dtype=np.intp))
            raise TypeError(
                "train_split must return (train, valid) as PairDataset subsets of the "
                "dataset it is given (dataset.subset(positions)) or torch Subsets of it"
                f"{' (valid may be None)' if allow_none else ''}; got "
                f"{type(part).__name__}"
            )

        train, valid = as_pairs(train, False), as_pairs(valid, True)
        if valid is not None and len(valid) == 0:
            valid = None
        if len(train) < 2:
            raise ValueError(
                f"train_split left {len(train)} training pair(s); at least 2 are needed "
                "(BatchNorm)"
            )
        return train, valid

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train ``max_epochs`` more epochs on region pairs, without reinitialising.

        A fitted network keeps its weights, optimiser state, history and input
        preprocessing (``gene_order_``, coordinate statistics), and continues on
        ``(X, y)`` (the same genes as in ``fit``). Each call draws a fresh region
        validation split from the pairs it is given, for early stopping and the
        learning-rate schedule, so regions trained on in earlier calls can be in
        it (validation losses across calls are not held out from one another).
        When the pairs are too few for that split, the training loss is
        monitored, as in :meth:`fit`. ``best_epoch_`` becomes the epoch (history
        numbering) whose weights the net then holds. An unfitted network is
        fitted as by :meth:`fit`.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)
        y : array-like of shape (P,)
        classes : None
            Unused (scikit-learn's signature).

        Returns
        -------
        self
        """
        split = self._state.split
        if split is not None and X is split[0]:  # from fit(): the split is drawn
            return super().partial_fit(X, y, classes, **fit_params)
        if not (self.initialized_ and hasattr(self, "n_features_in_")):
            return self.fit(X, y, **fit_params)
        self._require_y(y)
        self._check_params()
        state = self._state
        with self._own_torch_rng():
            if self.random_state is not None:  # a seeded net continues reproducibly
                torch.manual_seed(int(state.split_rng.integers(2**31 - 1)))
            dataset = self._make_dataset(X, y, reset=False, training=True)
            n_before = len(self.history)
            try:
                valid = self._split_for_training(dataset)
                self._sync_callbacks()
                super().partial_fit(dataset, None, **fit_params)
                self.best_epoch_ = self._held_epoch(n_before, valid is not None)
            finally:
                state.end_call()
            self._after_fit()
        return self

    def initialize_module(self):
        if not hasattr(self, "n_features_in_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"{type(self).__name__}.initialize() cannot size the module before it "
                "has seen data (n_features_in_ is unknown); call fit (or partial_fit) "
                "instead"
            )
        kwargs = {**self._module_data_kwargs(), **self.get_params_for("module")}
        self.module_ = self.module(**kwargs)
        if hasattr(self.module_, "set_coord_stats") and hasattr(self, "coord_mean_"):
            self.module_.set_coord_stats(self.coord_mean_, self.coord_scale_)
        self._init_output_layer()
        state = self._state
        if self.refit_all and not state.refitting:
            # the refit starts again from these weights (whatever random_state is)
            state.initial_module_state = copy.deepcopy(self.module_.state_dict())
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimiser arguments; AdamW/Adam get ``fused`` on CUDA, ``foreach`` else.

        Either is left alone when given (``optimizer__fused``, ``optimizer__foreach``).
        """
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if self.optimizer in (torch.optim.AdamW, torch.optim.Adam) and not (
            {"fused", "foreach"} & set(kwargs)
        ):
            if torch.device(self.device).type == "cuda":
                kwargs["fused"] = True
            else:
                kwargs["foreach"] = True
        return args, kwargs

    def _init_output_layer(self) -> None:
        """``output_init="mean"``: start at the constant predictor of the training mean.

        The last Linear layer gets zero weights and the training targets' mean as its
        bias. PyTorch's default initialisation instead starts the output with a
        variance near 1/3 after the head's BatchNorm, ~10x that of typical FC values,
        which a small atlas (few optimiser steps per epoch) may not undo before early
        stopping gives up.
        """
        head = getattr(self.module_, "head", None)
        target = self._state.target_mean
        if self.output_init != "mean" or not isinstance(head, nn.Sequential) or target is None:
            return
        layer = head[-1]
        if isinstance(layer, nn.Linear) and layer.out_features == 1:
            with torch.no_grad():
                layer.weight.zero_()
                layer.bias.fill_(target)

    def _after_fit(self):
        """Hook for subclasses (e.g. free caches)."""

    # ---------------------------------------------------------------- steps
    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, with the batch losses read from the device once per epoch.

        skorch records ``loss.item()`` after every step, a device→host
        synchronisation per batch on CUDA. Here each batch row holds the loss as a
        0-d device tensor while the epoch runs (a callback may still read it:
        ``float(loss)``); at the end of the epoch (also when interrupted) all of
        them are copied to the host at once and the rows get Python floats.
        """
        if iterator is None:
            return
        key = prefix + "_loss"
        rows, losses = [], []
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                loss = step["loss"].detach()
                self.history.record_batch(key, loss)
                rows.append(self.history[-1]["batches"][-1])
                losses.append(loss)
                self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:
            if losses:
                values = torch.stack(losses).float().cpu().tolist()
                for row, value in zip(rows, values, strict=True):
                    row[key] = value
        self.history.record(prefix + "_batch_count", len(rows))

    def _autocast_enabled(self) -> bool:
        # "auto": on CUDA only; True: on any device (CPU bf16 autocast is slow on CPUs
        # without bf16 instructions, but runs, which lets the CUDA code path be tested)
        on_cuda = torch.device(self.device).type == "cuda"
        return self.autocast is True or (on_cuda and self.autocast == "auto")

    def infer(self, x, **fit_params):
        if isinstance(x, PairBatch):
            x = x.inputs
        if self._autocast_enabled():
            with torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16):
                out = super().infer(x, **fit_params)
        else:
            out = super().infer(x, **fit_params)
        return out.float()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion on float32 predictions and targets (also under autocast)."""
        return super().get_loss(y_pred.float(), y_true.float(), X=X, training=training)

    def predict(self, X):
        """Predicted connectivity of each region pair, (P,) float64."""
        return np.asarray(super().predict(X), dtype=np.float64).reshape(-1)

    def score(self, X, y, sample_weight=None):
        from sklearn.metrics import r2_score

        return r2_score(y, self.predict(X), sample_weight=sample_weight)


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


def shared_parameters_doc(cls) -> str:
    """The Parameters entries every neural pair estimator shares (numpydoc text)."""
    lr = dict(cls._lr_defaults)
    return f"""\
    batch_size : int, default=512
        Pairs per training batch, at least 2 (BatchNorm), or -1 for all pairs. A
        batch of a single pair is merged into the previous one. Prediction and
        validation use batches of max(batch_size, {PREDICT_BATCH_SIZE}) pairs
        (``iterator_valid__batch_size`` sets it).
    validation_fraction : float or None, default=0.2
        Fraction of the training regions held out to monitor; pairs with both
        regions held out form the validation set, cross pairs are unused.
        ``None`` trains on everything and monitors the training loss.
    patience : int or None, default=50
        Early-stopping patience in epochs (None: no early stopping).
    lr_patience : int, default=None
        ReduceLROnPlateau patience (None: {lr["patience"]}, the published value). Factor
        {lr["factor"]}, threshold {lr["threshold"]} relative, cooldown 1, min_lr 1e-6;
        change them with ``callbacks__lr_scheduler__<name>``.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (weights, dropout), the validation split and the shuffling. An int
        gives bit-identical fits on CPU, also across processes and when several fits run
        in threads at once (neural fits in one process take turns on torch's generator);
        a seeded fit leaves the caller's torch random stream as it found it.
    progress_bar : bool, default=False
        Show a tqdm progress bar per epoch.
    autocast : {{"auto", True, False}}, default="auto"
        bf16 autocast of the forward pass: "auto" on CUDA only, True on any device
        (on CPU it runs, but is only faster on CPUs with bf16 instructions). The
        output layer and the loss are computed in float32 either way, so
        predictions are not quantised.
    device : str, default="auto"
        Torch device; "auto" picks CUDA when available. ``set_params(device=...)``
        moves a fitted net; a net fitted on CUDA unpickles on a CPU-only machine
        (mapped to the CPU with skorch's ``DeviceWarning``).
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    train_split : callable or None, default=None
        A skorch-style ``(dataset, y) -> (train, valid)`` replacing the region
        validation split. It must return subsets of the dataset it is given:
        ``dataset.subset(positions)`` or ``torch.utils.data.Subset`` (as skorch's
        ``ValidSplit`` does); ``valid`` may be None.
    batching : {{"random", "region_blocks"}}, default="random"
        How training batches are drawn: uniformly shuffled pairs, or all pairs
        between two random blocks of regions per batch (fewer distinct regions
        per batch: cheaper for region encoders such as SMT, each batch touching
        ~2√(batch_size/2) regions; see
        :class:`~skconn.models._pair_data.PairBatches`).
    refit_all : bool, default=False
        After training with the validation split, retrain from the same
        initial weights (saved, so for any ``random_state``; only the output
        bias moves to the mean of all pairs with ``output_init="mean"``) on
        *all* training pairs (the held-out regions and the cross pairs
        included) for the epoch count of the lowest validation loss
        (``best_epoch_``). The validation split keeps only (1 - f)² + f² of
        the pairs (68% at f = 0.2), which matters on small atlases. Not
        supported with ``warm_start=True`` (a ``ValueError`` at ``fit``): the
        refit would discard the warm-started weights.
    output_init : {{"mean", "torch"}}, default="mean"
        "mean": the network starts as the constant predictor of the training
        targets' mean (last Linear layer: zero weights, the mean as bias). "torch":
        PyTorch's default initialisation, as published. On small atlases, "torch"
        starts with an output variance ~10x that of FC, and early stopping can end
        before training undoes it (then the restored net is near its random
        initialisation); see ``benchmarks/RESULTS.md``.
    **kwargs
        Any other skorch ``NeuralNet`` parameter (``optimizer__weight_decay``,
        ``callbacks``, ``compile``, ``iterator_valid__batch_size``...). AdamW runs
        with ``fused=True`` on CUDA and ``foreach=True`` otherwise unless
        ``optimizer__fused``/``optimizer__foreach`` is given. Batches are built by
        :class:`~skconn.models._pair_data.PairBatches`, not a DataLoader: of the
        ``iterator_train__``/``iterator_valid__`` parameters only ``batch_size`` and
        ``shuffle`` are used (training batches are shuffled unless
        ``iterator_train__shuffle=False``). ``warm_start=True`` makes a later
        ``fit`` continue from the fitted weights, keeping the fitted input checks
        and preprocessing (the same genes are required)."""


SHARED_ATTRIBUTES_DOC = """\
    history_ : skorch.History
    n_features_in_ : int
        Width of the dense pair matrix, 2F.
    feature_names_in_ : ndarray of shape (F,)
        The region feature names (gene symbols) of a ``RegionPairs`` fit, or the
        column names of a dense DataFrame fit.
    monitor_ : str
        The loss the learning-rate schedule and early stopping watched in the last
        fit: "valid_loss", or "train_loss" without a validation split.
    train_pairs_, valid_pairs_ : ndarray of int
        Positions (in the fitted X) of the pairs trained on and validated on.
    coord_mean_, coord_scale_ : ndarray of shape (3,)
        Coordinate standardisation (training regions' mean and SD).
    best_epoch_ : int or None
        Epoch (1-based, numbered as in ``history_``) whose weights the net holds:
        the lowest validation loss of the last ``fit``/``partial_fit`` call,
        which early stopping restores (without early stopping,
        ``patience=None``: that call's last epoch). With ``refit_all``, the
        number of epochs retrained (the selection run's lowest validation
        loss). None when no validation split was drawn.
    selection_history_ : skorch.History
        With ``refit_all``: the history of the run that chose ``best_epoch_``."""


def with_shared_docs(cls):
    """Fill ``{shared_parameters}`` and ``{shared_attributes}`` in a class docstring."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace(
            "    {shared_parameters}", shared_parameters_doc(cls)
        ).replace("    {shared_attributes}", SHARED_ATTRIBUTES_DOC)
    return cls

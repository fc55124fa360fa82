"""``PairNet``: the skorch regressor shared by the neural pair estimators.

Batches are built by :mod:`skconn.models._pair_data`. skorch drives the fit
(``NeuralNet.fit`` -> ``initialize`` -> ``partial_fit`` -> ``fit_loop``); the
hooks below adapt it to region pairs. What stays custom, and why:

* the validation split is drawn over *regions* before skorch initialises the
  module, because ``output_init="mean"`` starts the output layer at the mean of
  the *training* part; the split is handed to ``fit_loop`` through
  ``get_split_datasets`` by the fit state
  (:class:`~skconn.models._net_state._FitState`);
* ``refit_all`` retrains from the saved initial weights after the selection run
  (``NeuralNet.partial_fit`` with ``epochs=``), which skorch has no notion of;
* ``run_single_epoch`` keeps each epoch's batch losses on the device and reads
  them back once per epoch (skorch calls ``.item()`` after every step):
  :mod:`skconn.models._net_steps`;
* ``device="auto"`` is resolved wherever skorch reads ``device`` while
  ``get_params``/``clone`` keep the value given, and the callbacks (the
  learning-rate schedule holds the optimiser) go through skorch's device mapping
  when pickled, so a CUDA fit loads on a CPU-only machine:
  :mod:`skconn.models._net_state`.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import threading
import warnings

import numpy as np
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping
from torch import nn

from .._persistence import VersionedStateMixin
from .._validation import Interval, Options, StrOptions, validate_own_params
from ..pairs import RegionPairs
from ._heads import OutputLinear, mlp_head
from ._input import check_pair_input
from ._net_docs import SHARED_ATTRIBUTES_DOC, shared_parameters_doc, with_shared_docs
from ._net_state import DeviceStateMixin, _valid_callbacks, resolve_device
from ._net_steps import TrainingStepsMixin
from ._pair_data import (
    PREDICT_BATCH_SIZE,
    PairBatches,
    PairDataset,
    as_float32,
    region_split,
    standardise_coords_stats,
    user_split,
)

__all__ = [
    "SHARED_ATTRIBUTES_DOC",
    "OutputLinear",
    "PairNet",
    "mlp_head",
    "resolve_device",
    "shared_parameters_doc",
    "with_shared_docs",
]

#: Held by every neural fit (see ``PairNet._own_torch_rng``).
_TORCH_RNG_LOCK = threading.RLock()


class PairNet(VersionedStateMixin, DeviceStateMixin, TrainingStepsMixin, NeuralNetRegressor):
    """Base skorch regressor for modules that read batches of region pairs.

    Subclasses state only the defaults they change (the skorch way:
    ``def __init__(self, module=MyModule, *, lr=..., **kwargs)``), set
    ``_module_data_kwargs`` (module arguments that come from the data, e.g. the
    number of features) and may transform node features in ``_node_features``.
    The shared parameters are documented once (:func:`shared_parameters_doc`),
    and the subclasses' docstrings include them (:func:`with_shared_docs`). The
    device, fit state and pickling live in :class:`DeviceStateMixin`, the skorch
    step hooks in :class:`TrainingStepsMixin`.
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
                self.feature_names_in_ = X.pair_feature_names
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
            return user_split(self.train_split, dataset, **fit_params)
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
            train, valid = user_split(self.train_split, dataset)
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

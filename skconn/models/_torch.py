"""Shared machinery of the neural pair estimators (skorch nets over region pairs).

A batch of region pairs is handed to a module as the *distinct* regions it
touches plus two index vectors: ``features`` (u, F) and ``coords`` (u, 3) of
the u distinct regions, and ``left``/``right`` (B,) positions of each pair's
regions among them. A module can therefore encode each region once per batch
and gather, instead of once per pair slot; no (P, 2F) pair matrix is built.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import numbers
import threading
import warnings
from collections.abc import Iterable

import numpy as np
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from torch import nn

from .._arguments import check_random_state
from .._persistence import VersionedStateMixin
from ..pairs import RegionPairs
from ._input import check_pair_input

__all__ = ["PairBatch", "PairBatches", "PairDataset", "PairNet", "resolve_device"]

#: Held by every neural fit (see ``PairNet._own_torch_rng``).
_TORCH_RNG_LOCK = threading.RLock()


def resolve_device(device) -> str:
    """``"auto"`` means CUDA when available, else CPU; anything else is kept."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class PairDataset(torch.utils.data.Dataset):
    """Region pairs over a table of distinct nodes (regions as seen in a variant).

    Indexing with an array of pair positions returns one whole batch,
    ``(PairBatch, y)``.

    Parameters
    ----------
    features : ndarray of shape (n, F)
        Node features (float32).
    coords : ndarray of shape (n, 3) or None
        Node MNI centroids.
    left, right : ndarray of shape (P,)
        Node of each pair's first and second region.
    y : ndarray of shape (P,) or None
    node_region : ndarray of shape (n,)
        Region of each node (nodes of one region in several null variants share it);
        validation splits are drawn over these.
    pair_regions : ndarray of shape (P, 2) or None
        Region indices (into the full region table) of each pair, used to look up
        subject-level targets; None for dense input.
    """

    def __init__(self, features, coords, left, right, y, node_region, pair_regions):
        self.features = features
        self.coords = coords
        self.left = left
        self.right = right
        self.y = y
        self.node_region = node_region
        self.pair_regions = pair_regions
        self.index = np.arange(len(left))  # positions in the dataset fit was given
        self.split_ = None

    def __len__(self) -> int:
        return len(self.left)

    def subset(self, idx) -> PairDataset:
        """The pairs at positions ``idx`` (same node table)."""
        sub = PairDataset(
            self.features,
            self.coords,
            self.left[idx],
            self.right[idx],
            None if self.y is None else self.y[idx],
            self.node_region,
            None if self.pair_regions is None else self.pair_regions[idx],
        )
        sub.index = self.index[idx]
        return sub

    def batch(self, idx) -> tuple[PairBatch, torch.Tensor]:
        """The batch of pairs at positions ``idx``: ``(PairBatch, y)``."""
        idx = np.asarray(idx)
        left, right = self.left[idx], self.right[idx]
        nodes, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
        B = len(idx)
        inputs = {
            "features": torch.from_numpy(self.features[nodes]),
            "left": torch.from_numpy(inverse[:B].astype(np.int64)),
            "right": torch.from_numpy(inverse[B:].astype(np.int64)),
        }
        if self.coords is not None:
            inputs["coords"] = torch.from_numpy(self.coords[nodes])
        y = torch.zeros(B) if self.y is None else torch.from_numpy(self.y[idx])
        return PairBatch(inputs, idx), y

    __getitem__ = batch


class PairBatch:
    """Module inputs of one batch (``inputs``: features, left, right[, coords]).

    ``pair_index`` holds the batch's positions in its dataset. ``len`` is the
    number of pairs B. Callbacks may replace ``inputs`` and ``pair_index`` in
    place (target augmentation swaps whole batches).
    """

    __slots__ = ("inputs", "pair_index")

    def __init__(self, inputs: dict, pair_index: np.ndarray):
        self.inputs = inputs
        self.pair_index = pair_index

    def __len__(self) -> int:
        return len(self.pair_index)


class PairBatches:
    """Iterate over a :class:`PairDataset` in batches of pair positions.

    Parameters
    ----------
    dataset : PairDataset
    batch_size : int
    shuffle : bool
    rng : numpy.random.Generator or None
        Draws the permutation of each pass when shuffling.
    region_blocks : bool, default=False
        Group pairs by blocks of regions: each pass permutes the regions, cuts
        them into blocks of k ≈ √(batch_size/2), and makes one batch of all the
        pairs between each (unordered) pair of blocks, in random order. A batch
        then touches at most 2k regions instead of up to 2·batch_size, so
        distinct-region encoding does ~k times less encoder work; every pair is
        still seen once per pass. Needs ``shuffle``.

    Notes
    -----
    A batch of a single pair is merged into the previous one: BatchNorm cannot
    normalise one sample in training mode.
    """

    def __init__(self, dataset, batch_size, shuffle=False, rng=None, region_blocks=False):
        self.dataset = dataset
        self.batch_size = len(dataset) if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle
        self.rng = rng if rng is not None else np.random.default_rng()
        self.region_blocks = region_blocks and shuffle

    def __len__(self) -> int:
        # exact for random batches; for region blocks an estimate (progress bars only)
        n = len(self.dataset)
        return max(1, -(-n // self.batch_size) - (n > self.batch_size and n % self.batch_size == 1))

    def _plan(self) -> list[np.ndarray]:
        n = len(self.dataset)
        if not self.region_blocks:
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
            bounds = [*range(0, n, self.batch_size), n]
        else:
            left, right = self.dataset.left, self.dataset.right
            n_nodes = len(self.dataset.features)
            k = max(2, int(np.sqrt(self.batch_size / 2)))
            block = np.empty(n_nodes, dtype=np.int64)
            block[self.rng.permutation(n_nodes)] = np.arange(n_nodes) // k
            n_blocks = int(block.max()) + 1
            bl, br = block[left], block[right]
            key = np.minimum(bl, br) * n_blocks + np.maximum(bl, br)
            rank = self.rng.permutation(n_blocks * n_blocks)[key]
            order = np.argsort(rank, kind="stable")
            sorted_rank = rank[order]
            bounds = [0, *np.flatnonzero(np.diff(sorted_rank)) + 1, n]
        batches = [order[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        merged: list[np.ndarray] = []
        for b in batches:
            if len(b) == 1 and merged:
                merged[-1] = np.concatenate([merged[-1], b])
            else:
                merged.append(b)
        return merged

    def __iter__(self):
        for idx in self._plan():
            yield self.dataset.batch(idx)


def _region_split(dataset: PairDataset, fraction: float, rng) -> tuple[PairDataset, PairDataset]:
    """Hold out a random ``fraction`` of the regions: validation = pairs inside them."""
    pair_nodes = np.concatenate([dataset.left, dataset.right])
    regions = np.unique(dataset.node_region[pair_nodes])
    n_valid = max(2, round(fraction * len(regions)))
    if len(regions) - n_valid < 2:
        return dataset, None
    held = np.zeros(dataset.node_region.max() + 1, dtype=bool)
    held[rng.choice(regions, n_valid, replace=False)] = True
    in_l = held[dataset.node_region[dataset.left]]
    in_r = held[dataset.node_region[dataset.right]]
    valid, train = np.flatnonzero(in_l & in_r), np.flatnonzero(~in_l & ~in_r)
    if len(valid) == 0 or len(train) < 2:
        return dataset, None
    return dataset.subset(train), dataset.subset(valid)


def _as_float32(values: np.ndarray, name: str) -> np.ndarray:
    """Contiguous float32 copy of finite ``values``; a ``ValueError`` if any overflows."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(
            f"{name} has values beyond the float32 range (|v| > {np.finfo(np.float32).max:.2e}) "
            "that the network computes in"
        )
    return out


def standardise_coords_stats(coords: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale (SD, 1 where 0) of node coordinates, two (3,) float32 arrays."""
    if coords is None or len(coords) == 0:
        return np.zeros(3, np.float32), np.ones(3, np.float32)
    mean = coords.mean(axis=0)
    sd = coords.std(axis=0)
    return mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32)


def mlp_head(in_dim: int, hidden_dims, dropout: float) -> nn.Sequential:
    """Blocks Linear → ReLU → BatchNorm1d → Dropout, then Linear(·, 1) (REFERENCE §3.5)."""
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
    layers.append(nn.Linear(in_dim, 1))
    return nn.Sequential(*layers)


def _valid_callbacks(value) -> bool:
    """Whether ``value`` is something skorch accepts as ``callbacks``."""
    return value is None or isinstance(value, (list, tuple))


class PairNet(VersionedStateMixin, NeuralNetRegressor):
    """Base skorch regressor for modules that read batches of region pairs.

    Subclasses set ``_module_data_kwargs`` (module arguments that come from the
    data, e.g. the number of features) and may transform node features in
    ``_node_features``. See :class:`~skconn.models.smt.SMTRegressor` for the
    parameters.
    """

    _lr_defaults = {"factor": 0.3, "patience": 30, "threshold": 0.1}

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
        """Set parameters; a new ``callbacks`` list is stored before it is initialised.

        skorch alone initialises the callbacks *before* it stores a new ``callbacks``
        value, so a bad value would break every later ``set_params`` call; here it is
        stored as given and ``fit`` raises a ``TypeError`` naming it.

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
        return super().set_params(**params)

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
        super().__setstate__(state)
        mapped = self.__dict__.pop("device", None)
        self._device_param = "auto" if requested == "auto" else mapped

    # ---------------------------------------------------------------- callbacks
    def get_default_callbacks(self):
        callbacks = list(super().get_default_callbacks())
        monitor = getattr(self, "monitor_", "valid_loss")
        lr = dict(self._lr_defaults)
        if self.lr_patience is not None:
            lr["patience"] = self.lr_patience
        callbacks.append(
            (
                "lr_scheduler",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                    monitor=monitor,
                    mode="min",
                    threshold_mode="rel",
                    cooldown=1,
                    min_lr=1e-6,
                    **lr,
                ),
            )
        )
        if self.patience is not None and not getattr(self, "_refitting", False):
            callbacks.append(
                (
                    "early_stopping",
                    # load_best deep-copies the best state and restores it at the end
                    EarlyStopping(
                        monitor=monitor,
                        patience=self.patience,
                        threshold=0.0,
                        load_best=True,
                    ),
                )
            )
        if self.progress_bar:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

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
            self.coord_mean_, self.coord_scale_ = standardise_coords_stats(graph.coords)
            self._fit_node_transform(X, graph)
        features = _as_float32(self._node_features(graph.features), "X")
        coords = None if graph.coords is None else graph.coords.astype(np.float32)
        return PairDataset(
            features,
            coords,
            graph.left,
            graph.right,
            None if y is None else _as_float32(y, "y"),
            node_region,
            pair_regions,
        )

    def get_dataset(self, X, y=None):
        return self._make_dataset(X, y, reset=False)

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self._make_dataset(X, y, reset=False)
        if dataset.split_ is not None:
            return dataset.split_
        if callable(self.train_split):
            return self._user_split(dataset, **fit_params)
        return dataset, None

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        params = self.get_params_for(prefix)
        batch_size = params.get("batch_size", self.batch_size)
        shuffle = bool(params.get("shuffle", training))
        rng = getattr(self, "_shuffle_rng", None)
        return PairBatches(
            dataset,
            batch_size,
            shuffle=shuffle,
            rng=rng,
            region_blocks=training and self.batching == "region_blocks",
        )

    # ---------------------------------------------------------------- fitting
    def _seed(self):
        rs = check_random_state(self.random_state)
        seeds = rs.randint(0, 2**31 - 1, size=5)
        if self.random_state is not None:
            torch.manual_seed(int(seeds[0]))
        self._shuffle_rng = np.random.default_rng(seeds[1])
        self._split_rng = np.random.default_rng(seeds[2])
        self._augment_rng = np.random.default_rng(seeds[3])
        self._gene_order_seed = int(seeds[4])

    def _check_own_params(self):
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
        frac = self.validation_fraction
        if frac is not None and not (isinstance(frac, numbers.Real) and 0 < frac < 1):
            raise ValueError(f"validation_fraction must be in (0, 1) or None, got {frac!r}")
        if self.patience is not None and not (
            isinstance(self.patience, numbers.Integral) and self.patience >= 1
        ):
            raise ValueError(f"patience must be a positive int or None, got {self.patience!r}")
        if self.batching not in ("random", "region_blocks"):
            raise ValueError(f"batching must be 'random' or 'region_blocks', got {self.batching!r}")
        if self.output_init not in ("mean", "torch"):
            raise ValueError(f"output_init must be 'mean' or 'torch', got {self.output_init!r}")
        if self.autocast not in ("auto", True, False):
            raise ValueError(f"autocast must be 'auto', True or False, got {self.autocast!r}")
        if not (isinstance(self.max_epochs, numbers.Integral) and self.max_epochs >= 1):
            raise ValueError(f"max_epochs must be a positive int, got {self.max_epochs!r}")
        if not (
            isinstance(self.batch_size, numbers.Integral)
            and (self.batch_size >= 1 or self.batch_size == -1)
        ):
            raise ValueError(
                f"batch_size must be a positive int or -1 (all pairs), got {self.batch_size!r}"
            )
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
        if not (isinstance(self.lr, numbers.Real) and 0 <= self.lr < np.inf):
            raise ValueError(f"lr must be a finite number >= 0, got {self.lr!r}")
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
        self._check_own_params()
        with self._own_torch_rng():
            return self._fit(X, y, **fit_params)

    def _fit(self, X, y, **fit_params):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        warm = bool(self.warm_start) and self.initialized_ and hasattr(self, "n_features_in_")
        if self.warm_start and self.refit_all:
            raise ValueError(
                "warm_start=True with refit_all=True is not supported: the refit starts "
                "again from the initial weights, which would discard the warm start; "
                "set one of them to False (or continue training with partial_fit)"
            )
        self._seed()
        # warm start: keep the fitted input checks and preprocessing (gene order,
        # coordinate statistics) that the kept weights were trained with
        dataset = self._make_dataset(X, y, reset=not warm, training=True)
        valid = self._split_for_training(dataset)
        self._target_mean = float(np.mean(dataset.split_[0].y))  # for output_init="mean"
        self._refitting = False
        n_before = len(self.history) if warm else 0
        try:
            if warm:
                self._sync_callbacks()
            super().fit(dataset, None, **fit_params)
            self.best_epoch_ = self._held_epoch(n_before, valid is not None)
            if self.refit_all and valid is not None:
                # retrain from the same initial weights on every training pair (cross
                # pairs included) for the epochs of the lowest validation loss
                n_epochs = self._lowest_valid_epoch(0)
                self.selection_history_ = copy.deepcopy(self.history)
                self._seed()
                dataset.split_ = (dataset, None)
                self.monitor_ = "train_loss"
                self._refitting = True
                self._target_mean = float(np.mean(dataset.y))
                self.initialize()  # draws as much of torch's stream as the first one did
                self.module_.load_state_dict(self._initial_module_state)
                self._init_output_layer()  # the mean of all training pairs
                self.notify("on_train_begin", X=dataset, y=None)
                try:
                    self.fit_loop(dataset, None, epochs=n_epochs, **fit_params)
                except KeyboardInterrupt:
                    pass
                self.notify("on_train_end", X=dataset, y=None)
                self.train_pairs_ = dataset.index
                self.best_epoch_ = n_epochs
        finally:
            dataset.split_ = None
            self._refitting = False
            self.__dict__.pop("_initial_module_state", None)
        self._after_fit()
        return self

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

    def _callbacks_key(self) -> tuple:
        return getattr(self, "monitor_", "valid_loss"), getattr(self, "_refitting", False)

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._callbacks_built_for = self._callbacks_key()
        return self

    def _sync_callbacks(self) -> None:
        """Rebuild the callbacks if the monitored loss or the refit state changed.

        The default callbacks (learning-rate schedule, early stopping) depend on
        ``monitor_`` and on whether the net is refitting; a fitted net that trains
        again (``partial_fit``, a warm-started ``fit``) gets callbacks matching them.
        """
        if getattr(self, "_callbacks_built_for", None) != self._callbacks_key():
            self._initialize_callbacks()

    def _split_for_training(self, dataset: PairDataset) -> PairDataset | None:
        """Cut the validation regions off ``dataset`` (``dataset.split_``); the validation part."""
        valid = None
        if callable(self.train_split):
            train, valid = self._user_split(dataset)
        elif self.validation_fraction is not None:
            train, valid = _region_split(dataset, self.validation_fraction, self._split_rng)
        else:
            train = dataset
        if valid is None and self.validation_fraction is not None and self.verbose:
            warnings.warn(
                "too few regions for a validation split; monitoring the training loss",
                UserWarning,
                stacklevel=3,
            )
        dataset.split_ = (train, valid)
        self.monitor_ = "valid_loss" if valid is not None else "train_loss"
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
        if isinstance(X, PairDataset) and X.split_ is not None:  # from fit(): split already
            return super().partial_fit(X, y, classes, **fit_params)
        if not (self.initialized_ and hasattr(self, "n_features_in_")):
            return self.fit(X, y, **fit_params)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        self._check_own_params()
        with self._own_torch_rng():
            if self.random_state is not None:  # a seeded net continues reproducibly
                torch.manual_seed(int(self._split_rng.integers(2**31 - 1)))
            dataset = self._make_dataset(X, y, reset=False, training=True)
            n_before = len(self.history)
            try:
                valid = self._split_for_training(dataset)
                self._refitting = False
                self._sync_callbacks()
                super().partial_fit(dataset, None, **fit_params)
                self.best_epoch_ = self._held_epoch(n_before, valid is not None)
            finally:
                dataset.split_ = None
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
        if self.refit_all and not getattr(self, "_refitting", False):
            # the refit starts again from these weights (whatever random_state is)
            self._initial_module_state = copy.deepcopy(self.module_.state_dict())
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
        target = getattr(self, "_target_mean", None)
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

    def predict(self, X):
        """Predicted connectivity of each region pair, (P,) float64."""
        return np.asarray(super().predict(X), dtype=np.float64).reshape(-1)

    def score(self, X, y, sample_weight=None):
        from sklearn.metrics import r2_score

        return r2_score(y, self.predict(X), sample_weight=sample_weight)

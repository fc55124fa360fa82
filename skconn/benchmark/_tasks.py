"""The units of the main job: one :class:`FoldTask` per model, split, repeat, fold and data.

Words: a *model variant* is a user's named change of a model family (``--variant``,
:data:`~skconn.benchmark.MODELS`); a *data variant* is one copy of the pairs in
:func:`skconn.pairs.make_pairs` ``(nulls=...)``: copy 0 the observed expression, copy
``1 + k`` null ``k``. :func:`data_variants` is the one place that says which data each
repeat is scored on; a new kind of null adds its kind there.

Neural folds on one CUDA device from several workers (``n_jobs``) share its memory:
each worker is limited to 0.9 / ``n_jobs`` of it
(:func:`~skconn.models._shared_device.share_device_memory`) and returns its cached
blocks after each fold, so a fold that needs more than its share fails at once with
a message that names the remedy, and the folds already finished are kept.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from .._config import BenchmarkConfig
from ..datasets import Connectome
from ..exceptions import NearIdentityNullWarning
from ..metrics import score_report
from ..pairs import RegionPairs, make_pairs
from ..preprocessing import RegionImputer
from ._registry import SPLITS, make_model, neural_device, ran_on, with_search

__all__ = ["DATA_KINDS", "OBSERVED", "SPIN_NULL", "FoldTask", "data_variants", "fold_model",
           "fold_pairs", "make_tasks", "run_fold"]

#: Values of the ``data`` column: the observed expression, or a CGE-matched spin null.
#: (Not "true"/"null", which ``pandas.read_csv`` would read as a boolean and a NaN.)
OBSERVED, SPIN_NULL = "observed", "spin-null"

#: Every kind of data, in the order of the reports.
DATA_KINDS = (OBSERVED, SPIN_NULL)

#: ``unsampled`` of the configuration -> ``missing`` of :func:`~skconn.pairs.make_pairs`.
_MISSING = {"drop": "drop", "impute": "impute"}


def data_variants(repeat: int, nulls: np.ndarray | None) -> list[tuple[str, int]]:
    """The data a repeat is scored on: ``(kind, data variant)`` pairs.

    The observed data (variant 0), and with nulls null ``repeat % K`` (variant
    ``1 + repeat % K``): one null per repeat, as published.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.benchmark._tasks import data_variants
    >>> data_variants(3, None)
    [('observed', 0)]
    >>> data_variants(3, np.zeros((2, 10), dtype=int))
    [('observed', 0), ('spin-null', 2)]
    """
    chosen = [(OBSERVED, 0)]
    if nulls is not None:
        chosen.append((SPIN_NULL, 1 + repeat % len(nulls)))
    return chosen


@dataclass
class FoldTask:
    """One fit and score of the job: a model on one outer fold of one data variant.

    ``train`` and ``test`` index the rows of ``X`` (every data variant stacked, as
    :func:`~skconn.pairs.make_pairs` returns them); ``key`` names the fold's files
    in ``runs/`` and must never change (existing folders are resumed by it).
    """

    model_name: str
    split: str
    repeat: int
    fold: int
    seed: int
    data: str
    data_variant: int
    dataset: str
    model: BaseEstimator = field(repr=False)
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)
    X: RegionPairs = field(repr=False)
    y: np.ndarray = field(repr=False)
    #: processes running folds at once (``n_jobs``): neural folds on CUDA share its memory
    workers: int = 1

    @property
    def key(self) -> str:
        """``<model>__<split>__r<repeat>__f<fold>__<data>``: the fold's file names."""
        return f"{self.model_name}__{self.split}__r{self.repeat}__f{self.fold}__{self.data}"

    @property
    def null_index(self) -> int:
        """The null scored (as in ``nulls.npz``), -1 for the observed data."""
        return self.data_variant - 1 if self.data_variant else -1

    def meta(self) -> dict:
        """The identifying columns of the fold's row in ``folds.csv``."""
        return {"dataset": self.dataset, "model": self.model_name, "split": self.split,
                "repeat": self.repeat, "fold": self.fold, "seed": self.seed, "data": self.data,
                "null_index": self.null_index}


def fold_pairs(connectome: Connectome, config: BenchmarkConfig,
               nulls: np.ndarray | None) -> tuple[RegionPairs, np.ndarray]:
    """The job's pairs: every data variant stacked; with ``unsampled="impute"`` over every
    region (a ``sampled`` column marks the imputed ones for the models' RegionImputer)."""
    with warnings.catch_warnings():
        # the nulls' near-identity warning was given once, where the job drew them
        warnings.simplefilter("ignore", NearIdentityNullWarning)
        return make_pairs(connectome, nulls=nulls, missing=_MISSING[config.unsampled])


def fold_model(name: str, seed: int, split: str, config: BenchmarkConfig) -> BaseEstimator:
    """The estimator a fold fits: the model (in its inner search), behind a fold-wise
    :class:`~skconn.preprocessing.RegionImputer` with ``unsampled="impute"``."""
    model = make_model(name, seed, config.device, config.autocast, config.variants)
    impute = config.unsampled == "impute"
    if impute:
        model = Pipeline([("impute", RegionImputer()), ("model", model)])
    return with_search(model, name, config.search, split, config.inner_folds, config.n_iter,
                       seed, config.variants, prefix="model__" if impute else "")


def make_tasks(connectome: Connectome, config: BenchmarkConfig,
               nulls: np.ndarray | None) -> Iterator[FoldTask]:
    """Every (model, split, repeat, fold, data) unit of the job, in a fixed order."""
    X, y = fold_pairs(connectome, config, nulls)
    n_base = len(X) // X.n_variants  # pairs per data variant (RegionPairs' word)
    base = X[:n_base]
    workers = effective_n_jobs(config.n_jobs)
    for split in config.splits:
        for repeat in range(config.repeats):
            seed = config.seed + repeat
            cv = SPLITS[split](config.folds, random_state=seed)
            for fold, (train, test) in enumerate(cv.split(base)):
                for kind, data_variant in data_variants(repeat, nulls):
                    for name in config.models:
                        model = fold_model(name, seed, split, config)
                        yield FoldTask(
                            model_name=name, split=split, repeat=repeat, fold=fold, seed=seed,
                            data=kind, data_variant=data_variant, dataset=connectome.name,
                            model=model, train=train + data_variant * n_base,
                            test=test + data_variant * n_base, X=X, y=y, workers=workers,
                        )


def run_fold(task: FoldTask) -> tuple[dict, dict]:
    """Fit on the train rows, score on the test rows: the unit of work (and of resuming).

    Returns the fold's row of ``folds.csv`` and its predictions (``pairs``,
    ``y_true``, ``y_pred``).
    """
    X, y, train, test = task.X, task.y, task.train, task.test
    with _device_share(task, neural_device(task.model)):
        start = time.perf_counter()
        fitted = clone(task.model).fit(X[train], y[train])
        fit_time = time.perf_counter() - start
        pred = fitted.predict(X[test])
    report = score_report(y[test], pred, X[test])
    params = {k.removeprefix("model__"): v
              for k, v in getattr(fitted, "best_params_", {}).items()}
    row = {**task.meta(), "fit_time": fit_time, **report,
           "params": json.dumps(params, default=str),
           "device": ran_on(getattr(fitted, "best_estimator_", fitted))}
    predictions = {"pairs": X.pairs[test], "y_true": y[test], "y_pred": pred}
    return row, predictions


@contextmanager
def _device_share(task: FoldTask, device: str | None):
    """Run a fold within its worker's share of a CUDA device (neural models only);
    running out of it names the fold and the remedy."""
    if device is None:  # closed-form models: no torch, no CUDA context
        yield
        return
    import torch

    from ..models._shared_device import release_device_memory, share_device_memory

    fraction = share_device_memory(device, task.workers) if task.workers > 1 else None
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        share = (f" with {task.workers} workers sharing the device ({fraction:.0%} of its "
                 "memory each)" if fraction else "")
        raise RuntimeError(
            f"fold {task.key} ran out of GPU memory{share}: run fewer folds at once "
            "(--n-jobs) or give the model less to hold (module__checkpoint=True, "
            "batching='region_blocks', a smaller batch_size); the folds already finished "
            "are kept, and the same command resumes"
        ) from exc
    finally:
        if fraction is not None:
            release_device_memory(device)

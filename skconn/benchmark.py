"""The main job: repeated region-level cross-validation of several models on one dataset."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone

from .datasets import Connectome, load_connectome, load_default
from .metrics import REPORT_KEYS, score_report
from .model_selection import RandomRegionSplit, SpatialRegionSplit
from .pairs import make_pairs

__all__ = ["MODELS", "format_summary", "load_dataset", "make_model", "run_benchmark", "summarize"]


def _exp_decay(seed):
    from .models import ExpDecayRegressor

    return ExpDecayRegressor()


def _connectome_model(seed):
    from .models import ConnectomeModelRegressor

    return ConnectomeModelRegressor(random_state=seed)


def _pls_bilinear(seed):
    from .models import PLSBilinearRegressor

    return PLSBilinearRegressor(random_state=seed)


def _low_rank(seed):
    from .models import LowRankBilinearRegressor

    return LowRankBilinearRegressor(random_state=seed)


#: Model names the benchmark knows, each a factory ``seed -> estimator``.
MODELS: dict[str, Callable[[int], BaseEstimator]] = {
    "exp_decay": _exp_decay,
    "connectome_model": _connectome_model,
    "pls_bilinear": _pls_bilinear,
    "low_rank": _low_rank,
}

_SPLITS = {"random": RandomRegionSplit, "spatial": SpatialRegionSplit}


def make_model(name: str, seed: int) -> BaseEstimator:
    """A fresh default estimator of a named model family.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    seed : int
        ``random_state`` for models that use one.

    Returns
    -------
    BaseEstimator

    Examples
    --------
    >>> from skconn.benchmark import make_model
    >>> make_model("connectome_model", 3)
    ConnectomeModelRegressor(random_state=3)
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[name](seed)


def load_dataset(data: str | os.PathLike) -> Connectome:
    """``"default"`` (the embedded dataset) or a dataset folder.

    Examples
    --------
    >>> from skconn.benchmark import load_dataset
    >>> load_dataset("no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: dataset folder not found: no/such/folder
    """
    if str(data) == "default":
        return load_default()
    return load_connectome(Path(data))


def _run_fold(model, name, X, y, train, test, meta):
    start = time.perf_counter()
    fitted = clone(model).fit(X[train], y[train])
    fit_time = time.perf_counter() - start
    pred = fitted.predict(X[test])
    report = score_report(y[test], pred, X[test])
    return {**meta, "model": name, "fit_time": fit_time, **report}


def run_benchmark(
    connectome: Connectome,
    models: Sequence[str] = ("exp_decay", "connectome_model", "pls_bilinear"),
    *,
    split: str = "random",
    repeats: int = 3,
    folds: int = 4,
    random_state: int = 0,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> pd.DataFrame:
    """Score models on repeated outer region folds of a dataset.

    Every repeat draws new region folds (seed ``random_state + repeat``); every
    model is fitted on the pairs among the training regions of each fold and
    scored on the pairs among its test regions with
    :func:`skconn.metrics.score_report` (unordered pairs).

    Parameters
    ----------
    connectome : Connectome
    models : sequence of str, default=("exp_decay", "connectome_model", "pls_bilinear")
        Names from :data:`MODELS`.
    split : {"random", "spatial"}, default="random"
    repeats : int, default=3
    folds : int, default=4
    random_state : int, default=0
    n_jobs : int, default=None
        Folds run in parallel through joblib.
    verbose : int, default=0
        joblib progress messages.

    Returns
    -------
    pandas.DataFrame
        One row per (model, repeat, fold): dataset, split, repeat, fold, seed,
        model, fit_time and every metric of the report.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.benchmark import run_benchmark
    >>> df = run_benchmark(make_toy_connectome(24, 5), ["exp_decay"], repeats=1, folds=2)
    >>> df[["model", "repeat", "fold"]].values.tolist()
    [['exp_decay', 0, 0], ['exp_decay', 0, 1]]
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    if repeats < 1 or folds < 2:
        raise ValueError(f"need repeats >= 1 and folds >= 2, got {repeats} and {folds}")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(MODELS)}")
    X, y = make_pairs(connectome)
    tasks = []
    for repeat in range(repeats):
        seed = random_state + repeat
        cv = _SPLITS[split](folds, random_state=seed)
        for fold, (train, test) in enumerate(cv.split(X)):
            meta = {"dataset": connectome.name, "split": split, "repeat": repeat,
                    "fold": fold, "seed": seed}
            for name in models:
                tasks.append((make_model(name, seed), name, train, test, meta))
    rows = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_run_fold)(model, name, X, y, train, test, meta)
        for model, name, train, test, meta in tasks
    )
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± SD of each metric per model over every fold of every repeat.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`run_benchmark`.
    metrics : sequence of str, default=None
        Metric columns; every report metric present by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by model, columns ``<metric>_mean``, ``<metric>_sd`` and ``n_runs``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.benchmark import summarize
    >>> df = pd.DataFrame({"model": ["a", "a"], "pearson_r": [0.5, 0.7]})
    >>> summarize(df, ["pearson_r"]).round(3).to_dict("records")
    [{'pearson_r_mean': 0.6, 'pearson_r_sd': 0.141, 'n_runs': 2}]
    """
    if metrics is None:
        metrics = [k for k in (*REPORT_KEYS, "fit_time") if k in results and k != "n_pairs"]
    grouped = results.groupby("model", sort=False)
    out = {}
    for m in metrics:
        out[f"{m}_mean"] = grouped[m].mean()
        out[f"{m}_sd"] = grouped[m].std(ddof=1)
    table = pd.DataFrame(out)
    table["n_runs"] = grouped.size()
    return table


def format_summary(table: pd.DataFrame, metrics: Sequence[str]) -> str:
    """Markdown table of ``mean ± SD`` cells (used by the command line)."""
    header = "| model | " + " | ".join(metrics) + " | runs |"
    lines = [header, "|" + "---|" * (len(metrics) + 2)]
    for model, row in table.iterrows():
        cells = []
        for m in metrics:
            mean, sd = row[f"{m}_mean"], row[f"{m}_sd"]
            cells.append("nan" if np.isnan(mean) else f"{mean:.3f} ± {sd:.3f}")
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {int(row['n_runs'])} |")
    return "\n".join(lines)

"""The main job: nested region-level cross-validation of several models on one dataset."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from . import __version__
from ._atomic import atomic_write, remove_stale_temp_files
from ._config import BenchmarkConfig
from .datasets import Connectome, load_connectome, load_default
from .metrics import REPORT_KEYS, pearson_scorer, score_report
from .model_selection import RandomRegionSplit, SpatialRegionSplit
from .pairs import make_pairs

__all__ = [
    "MODELS",
    "BenchmarkConfig",
    "ModelSpec",
    "dataset_fingerprint",
    "format_summary",
    "load_dataset",
    "make_model",
    "resolved_params",
    "run_benchmark",
    "run_job",
    "summarize",
]


@dataclass
class ModelSpec:
    """How the benchmark builds a model family and what its inner search tries."""

    factory: Callable[[int, str], BaseEstimator]
    grid: dict = field(default_factory=dict)


def _exp_decay(seed, device):
    from .models import ExpDecayRegressor

    return ExpDecayRegressor()


def _connectome_model(seed, device):
    from .models import ConnectomeModelRegressor

    return ConnectomeModelRegressor(random_state=seed)


def _pls_bilinear(seed, device):
    from .models import PLSBilinearRegressor

    return PLSBilinearRegressor(random_state=seed)


def _low_rank(seed, device):
    from .models import LowRankBilinearRegressor

    return LowRankBilinearRegressor(random_state=seed)


def _mlp(seed, device, use_coords=False):
    from .models import PairMLPRegressor

    return PairMLPRegressor(module__use_coords=use_coords, random_state=seed, device=device)


def _mlp_coords(seed, device):
    return _mlp(seed, device, use_coords=True)


def _smt(seed, device, use_cls=False):
    from .models import SMTRegressor

    return SMTRegressor(use_cls=use_cls, random_state=seed, device=device)


def _smt_cls(seed, device):
    return _smt(seed, device, use_cls=True)


#: Model families the benchmark knows: name -> ModelSpec (factory ``(seed, device)``
#: and the default inner-search grid, REFERENCE §3 trimmed to what 2 cores afford).
MODELS: dict[str, ModelSpec] = {
    "exp_decay": ModelSpec(_exp_decay, {"mirror_x": [True, False]}),
    "connectome_model": ModelSpec(_connectome_model, {"penalty": ["ridge", "kronecker"]}),
    "pls_bilinear": ModelSpec(_pls_bilinear, {"n_components": [5, 10, 25]}),
    "low_rank": ModelSpec(_low_rank, {"rank": [5, 10, 20], "alpha": [1e-3, 1e-2, 1e-1]}),
    "mlp": ModelSpec(_mlp, {"module__dropout": [0.1, 0.3]}),
    "mlp_coords": ModelSpec(_mlp_coords, {"module__dropout": [0.1, 0.3]}),
    "smt": ModelSpec(_smt, {"module__d_model": [64, 128]}),
    "smt_cls": ModelSpec(_smt_cls, {"module__d_model": [64, 128]}),
}

_SPLITS = {"random": RandomRegionSplit, "spatial": SpatialRegionSplit}

#: Values of the ``data`` column: the observed expression, or a CGE-matched spin null.
#: (Not "true"/"null", which ``pandas.read_csv`` would read as a boolean and a NaN.)
OBSERVED, SPIN_NULL = "observed", "spin-null"


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


def _check_models(models: Sequence[str], variants: dict | None) -> None:
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


def _search_grid(name: str, variants: dict | None) -> dict:
    """The inner-search grid of a model: its family's, less what a variant fixes."""
    family, params = _family(name, variants)
    return {k: v for k, v in MODELS[family].grid.items() if k not in params}


def _with_search(model, name, search, split, inner_folds, n_iter, seed, variants=None):
    grid = _search_grid(name, variants)
    if search == "none" or not grid:
        return model
    inner = _SPLITS[split](inner_folds, random_state=seed)
    if search == "grid":
        return GridSearchCV(model, grid, cv=inner, scoring=pearson_scorer, error_score="raise")
    return RandomizedSearchCV(model, grid, n_iter=n_iter, cv=inner, scoring=pearson_scorer,
                              random_state=seed, error_score="raise")


def _ran_on(model) -> str:
    """Where a fitted model ran: "cpu", or a neural model's device, "+bf16" under autocast."""
    if not hasattr(model, "_autocast_enabled"):
        return "cpu"
    import torch

    kind = torch.device(model.device).type
    return kind + ("+bf16" if model._autocast_enabled() else "")


def _run_fold(model, X, y, train, test, meta):
    """Fit on train rows, score on test rows; the unit of work (and of resuming)."""
    start = time.perf_counter()
    fitted = clone(model).fit(X[train], y[train])
    fit_time = time.perf_counter() - start
    pred = fitted.predict(X[test])
    report = score_report(y[test], pred, X[test])
    params = getattr(fitted, "best_params_", {})
    row = {**meta, "fit_time": fit_time, **report, "params": json.dumps(params, default=str),
           "device": _ran_on(getattr(fitted, "best_estimator_", fitted))}
    predictions = {"pairs": X.pairs[test], "y_true": y[test], "y_pred": pred}
    return row, predictions


def _keyed_fold(key, *args):
    return key, _run_fold(*args)


def _tasks(connectome, config: BenchmarkConfig, perms):
    """Every (model, split, repeat, fold, true/null) unit of the job, in a fixed order."""
    X, y = make_pairs(connectome, nulls=perms)
    n_base = len(X) // X.n_variants
    base = X[:n_base]
    for split in config.splits:
        for repeat in range(config.repeats):
            seed = config.seed + repeat
            cv = _SPLITS[split](config.folds, random_state=seed)
            for fold, (train, test) in enumerate(cv.split(base)):
                variants = [(OBSERVED, 0)]
                if perms is not None:
                    variants.append((SPIN_NULL, 1 + repeat % len(perms)))
                for kind, v in variants:
                    for name in config.models:
                        model = _with_search(
                            make_model(name, seed, config.device, config.autocast,
                                       config.variants),
                            name, config.search, split, config.inner_folds, config.n_iter,
                            seed, config.variants,
                        )
                        meta = {"dataset": connectome.name, "model": name, "split": split,
                                "repeat": repeat, "fold": fold, "seed": seed, "data": kind,
                                "null_index": v - 1 if v else -1}
                        key = f"{name}__{split}__r{repeat}__f{fold}__{kind}"
                        yield key, model, train + v * n_base, test + v * n_base, meta, X, y


def run_benchmark(
    connectome: Connectome,
    models: Sequence[str] = ("exp_decay", "connectome_model", "pls_bilinear"),
    *,
    split: str = "random",
    repeats: int = 3,
    folds: int = 4,
    random_state: int = 0,
    search: str = "none",
    n_jobs: int | None = None,
    verbose: int = 0,
    variants: dict | None = None,
) -> pd.DataFrame:
    """Score models on repeated outer region folds of a dataset, in memory.

    Every repeat draws new region folds (seed ``random_state + repeat``); every
    model is fitted on the pairs among the training regions of each fold and
    scored on the pairs among its test regions with
    :func:`skconn.metrics.score_report` (unordered pairs). :func:`run_job` does the
    same with nulls, an output folder, resuming and figures.

    Parameters
    ----------
    connectome : Connectome
    models : sequence of str, default=("exp_decay", "connectome_model", "pls_bilinear")
        Names from :data:`MODELS` or ``variants``.
    split : {"random", "spatial"}, default="random"
    repeats : int, default=3
    folds : int, default=4
    random_state : int, default=0
    search : {"none", "grid", "random"}, default="none"
        Inner hyperparameter search over each model's default grid.
    n_jobs : int, default=None
        Folds run in parallel through joblib.
    verbose : int, default=0
        joblib progress messages.
    variants : dict, default=None
        Model variants, name -> ``{"model": family, **params}`` (as
        :class:`BenchmarkConfig`'s ``variants``).

    Returns
    -------
    pandas.DataFrame
        One row per (model, repeat, fold): dataset, model, split, repeat, fold,
        seed, data (``"observed"``), fit_time, every metric of the report, the
        chosen params and where the model ran (``device``: ``"cpu"``,
        ``"cuda+bf16"``, ...).

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.benchmark import run_benchmark
    >>> df = run_benchmark(make_toy_connectome(24, 5), ["exp_decay"], repeats=1, folds=2)
    >>> df[["model", "repeat", "fold"]].values.tolist()
    [['exp_decay', 0, 0], ['exp_decay', 0, 1]]
    """
    _check_models(models, variants)
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    config = BenchmarkConfig(models=list(models), splits=[split], repeats=repeats, folds=folds,
                             seed=random_state, search=search, variants=dict(variants or {}))
    tasks = list(_tasks(connectome, config, None))
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_run_fold)(model, X, y, train, test, meta)
        for _, model, train, test, meta, X, y in tasks
    )
    return pd.DataFrame([row for row, _ in results])


def summarize(results: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± SD of each metric per model (and split, and true/null data) over all folds.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`run_benchmark` (or ``folds.csv`` of :func:`run_job`).
    metrics : sequence of str, default=None
        Metric columns; every report metric present by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by model (then split and data when present), columns
        ``<metric>_mean``, ``<metric>_sd``, ``<metric>_n`` (the folds where the
        metric is finite: a fold with too few pairs in a distance range or a
        network scores NaN there) and ``n_runs`` (all folds).

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.benchmark import summarize
    >>> df = pd.DataFrame({"model": ["a", "a"], "pearson_r": [0.5, 0.7]})
    >>> summarize(df, ["pearson_r"]).round(3).to_dict("records")
    [{'pearson_r_mean': 0.6, 'pearson_r_sd': 0.141, 'pearson_r_n': 2, 'n_runs': 2}]
    """
    if metrics is None:
        metrics = [k for k in (*REPORT_KEYS, "fit_time") if k in results and k != "n_pairs"]
    keys = ["model"] + [k for k in ("split", "data") if k in results]
    grouped = results.groupby(keys if len(keys) > 1 else "model", sort=False)
    out = {}
    for m in metrics:
        out[f"{m}_mean"] = grouped[m].mean()
        out[f"{m}_sd"] = grouped[m].std(ddof=1)
        out[f"{m}_n"] = grouped[m].count()
    table = pd.DataFrame(out)
    table["n_runs"] = grouped.size()
    return table


def format_summary(table: pd.DataFrame, metrics: Sequence[str]) -> str:
    """Markdown table of ``mean ± SD`` cells, one row per index entry of ``table``.

    A cell averaged over fewer folds than the row's ``runs`` (the metric was NaN on
    the others) says over how many, e.g. ``0.487 (n=1)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.benchmark import format_summary, summarize
    >>> t = summarize(pd.DataFrame({"model": ["a", "a"], "pearson_r": [0.5, 0.7]}), ["pearson_r"])
    >>> print(format_summary(t, ["pearson_r"]))
    | model | pearson_r | runs |
    |---|---|---|
    | a | 0.600 ± 0.141 | 2 |
    """
    names = list(table.index.names) if table.index.nlevels > 1 else ["model"]
    header = "| " + " | ".join(names) + " | " + " | ".join(metrics) + " | runs |"
    lines = [header, "|" + "---|" * (len(names) + len(metrics) + 1)]
    for index, row in table.iterrows():
        index = index if isinstance(index, tuple) else (index,)
        cells = []
        for m in metrics:
            cells.append(_summary_cell(row, m))
        lines.append("| " + " | ".join(map(str, index)) + " | " + " | ".join(cells)
                     + f" | {int(row['n_runs'])} |")
    return "\n".join(lines)


def _summary_cell(row: pd.Series, metric: str) -> str:
    mean, sd = row[f"{metric}_mean"], row[f"{metric}_sd"]
    if np.isnan(mean):
        return "nan"
    cell = f"{mean:.3f}" if np.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"
    n = row.get(f"{metric}_n", row["n_runs"])
    return cell if n == row["n_runs"] else f"{cell} (n={int(n)})"


# ---------------------------------------------------------------------- the job on disk
def _save_fold(runs: Path, key: str, row: dict, predictions: dict) -> None:
    atomic_write(runs / f"{key}.npz", lambda p: np.savez(p.open("wb"), **predictions))
    # the row is written last: its presence marks the fold as finished
    atomic_write(runs / f"{key}.json", lambda p: p.write_text(json.dumps(row, default=float)))


def _check_stamp(out: Path, name: str, value: str, what: str) -> bool:
    """Refuse a folder whose stamp ``name`` holds another value than ``value``.

    Returns whether the stamp exists (and matches): the folder holds a run of this
    ``what`` (stamps are written once a run got as far as its first fold).
    """
    stamp = out / name
    if not stamp.exists():
        return False
    found = stamp.read_text().strip()
    if found != value:
        raise ValueError(
            f"{out} holds a run {what} ({name}: {found}, this run: {value}); choose another "
            "--output (or delete the folder) to start a new run"
        )
    return True


def dataset_fingerprint(connectome: Connectome) -> str:
    """Hash of a dataset's content: what the benchmark's folds are computed from.

    Region labels, hemispheres, structures and centroids, gene names, the
    expression and the connectivity (not the name, nor subject-level data).

    Parameters
    ----------
    connectome : Connectome

    Returns
    -------
    str
        16 hexadecimal digits.

    Examples
    --------
    >>> from skconn.benchmark import dataset_fingerprint
    >>> from skconn.datasets import make_toy_connectome
    >>> a, b = make_toy_connectome(20, 4), make_toy_connectome(20, 4, random_state=1)
    >>> dataset_fingerprint(a) == dataset_fingerprint(make_toy_connectome(20, 4))
    True
    >>> dataset_fingerprint(a) == dataset_fingerprint(b)
    False
    """
    digest = hashlib.sha256()

    def add(tag: str, data: bytes) -> None:
        digest.update(f"{tag}:{len(data)}:".encode() + data)

    def text(values) -> bytes:
        return json.dumps([str(v) for v in values]).encode()

    def floats(values) -> bytes:
        return np.ascontiguousarray(values, dtype="<f8").tobytes()

    regions = connectome.regions
    add("labels", text(connectome.labels))
    add("hemisphere", text(regions["hemisphere"]))
    add("structure", text(regions["structure"]))
    add("coords", floats(connectome.coords))
    add("genes", text(connectome.genes))
    add("expression", floats(connectome.expression.to_numpy()))
    add("connectivity", floats(connectome.connectivity))
    return digest.hexdigest()[:16]


def _write_stamps(out: Path, config: BenchmarkConfig, digest: str, stamped: dict) -> None:
    """Mark the folder as this configuration's on this dataset (once it can run folds);
    add this run's variants to ``stamped``, those already in ``variants.json``."""
    for name, value in (("fingerprint.txt", config.fingerprint()), ("dataset.txt", digest)):
        if not (out / name).exists():
            atomic_write(out / name, lambda p, v=value: p.write_text(v + "\n"))
    used = {m: config.variants[m] for m in config.models if m in config.variants}
    if used.keys() - stamped.keys():
        stamped.update(used)
        text = json.dumps(stamped, indent=1, sort_keys=True)
        atomic_write(out / "variants.json", lambda p: p.write_text(text + "\n"))


def _check_variant_stamps(out: Path, config: BenchmarkConfig) -> dict:
    """The variants that ran in the folder (``variants.json``); a ValueError if one of
    this run's variants was defined otherwise there (its folds would be reused)."""
    path = out / "variants.json"
    stamped = json.loads(path.read_text()) if path.exists() else {}
    for name in config.models:
        if name in config.variants and name in stamped and stamped[name] != config.variants[name]:
            raise ValueError(
                f"{out} holds folds of model variant {name!r} defined as {stamped[name]}, "
                f"this run defines it as {config.variants[name]}; give the new definition "
                "another name (or choose another --output)"
            )
    return stamped


def write_null_figure(path: Path, connectome, diagnostics, spins) -> None:
    """CGE-distance curves of the true data against the best and worst nulls."""
    import matplotlib.pyplot as plt

    from .plotting import plot_cge_curves

    fig = plot_cge_curves(connectome, diagnostics, spins)
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"))
    plt.close(fig)


def cge_curve_table(connectome: Connectome, diagnostics: pd.DataFrame, spins: np.ndarray,
                    kept: np.ndarray, n_show: int = 3) -> pd.DataFrame:
    """The data of ``cge_distance.png``: binned CGE-distance curves and their fits.

    One row per curve and distance bin: the true data, the nulls the figure draws
    (best and worst ``n_show``) and the kept nulls.

    Parameters
    ----------
    connectome : Connectome
    diagnostics : pandas.DataFrame
        Of :func:`skconn.nulls.cge_matched_spins` (with its ``attrs``).
    spins : ndarray of shape (n_spins, R)
        All spins screened.
    kept : ndarray of shape (K, R)
        The nulls kept, null ``k`` in row ``k``.
    n_show : int, default=3

    Returns
    -------
    pandas.DataFrame
        Columns ``curve`` (``"true"`` or ``"null"``), ``spin`` (-1 for the true
        data), ``rank``, ``null_index`` (as in ``folds.csv``; -1 if not kept),
        ``shown`` (``"best"``, ``"worst"`` or ``""``), ``distance`` (bin centre,
        mm), ``mean_cge`` and the fitted curve parameters of the curve.
    """
    from .nulls import CURVE_PARAMETERS, DistanceBins
    from .plotting._nulls import shown_nulls

    curve, true = diagnostics.attrs["curve"], diagnostics.attrs["true"]
    centers = np.asarray(curve["centers"], dtype=float)
    best, worst = shown_nulls(diagnostics, n_show)
    null_index = {int(np.flatnonzero((spins == p).all(axis=1))[0]): k for k, p in enumerate(kept)}
    shown = {**{int(i): "worst" for i in worst}, **{int(i): "best" for i in best}}
    chosen = list(dict.fromkeys([*best, *worst, *null_index]))
    bins = DistanceBins.from_distances(connectome.distances())
    means = bins.means(connectome.cge(), spins[chosen]) if chosen else np.empty((0, 0))
    frames = [pd.DataFrame({"curve": "true", "spin": -1, "rank": -1, "null_index": -1,
                            "shown": "", "distance": centers, "mean_cge": curve["means"],
                            **{k: true[k] for k in CURVE_PARAMETERS}})]
    for spin, row in zip(chosen, means, strict=True):
        fit = diagnostics.loc[spin]
        frames.append(pd.DataFrame({
            "curve": "null", "spin": int(spin), "rank": int(fit["rank"]),
            "null_index": null_index.get(int(spin), -1), "shown": shown.get(int(spin), ""),
            "distance": bins.centers, "mean_cge": row,
            **{k: fit[k] for k in CURVE_PARAMETERS}}))
    return pd.concat(frames, ignore_index=True)


def _null_permutations(connectome: Connectome, config: BenchmarkConfig, out: Path,
                       reuse: bool):
    """The job's nulls; the saved ones only if ``reuse`` (the folder's stamp matched)."""
    if config.nulls == 0:
        return None
    from .nulls import cge_matched_spins

    cached = out / "nulls.npz"
    if reuse and cached.exists():
        return np.load(cached)["permutations"]
    perms, diagnostics, spins = cge_matched_spins(
        connectome, n_spins=config.n_spins, k=config.nulls, random_state=config.seed,
        n_jobs=config.n_jobs, return_all=True,
    )
    atomic_write(out / "null_diagnostics.csv", lambda p: diagnostics.to_csv(p, index=False))
    table = cge_curve_table(connectome, diagnostics, spins, perms)
    atomic_write(out / "cge_curve.csv", lambda p: table.to_csv(p, index=False))
    write_null_figure(out / "cge_distance.png", connectome, diagnostics, spins)
    # written last: its presence means the nulls (and their figure) are complete
    atomic_write(cached, lambda p: np.savez(p.open("wb"), permutations=perms))
    return perms


def run_job(config: BenchmarkConfig, *, progress: bool = True,
            connectome: Connectome | None = None) -> pd.DataFrame:
    """Run (or resume) a whole benchmark and write its output folder.

    Each finished fold is written at once to ``runs/`` (temporary file, then
    rename), so an interrupted run loses at most the folds in flight, and running
    the same configuration again skips every finished fold. Runs that differ only
    in ``models`` or ``splits`` may share a folder (e.g. one job per model, then one
    with all of them, which only writes the reports); the reports cover the models
    and splits of this run. At the end the folder
    holds ``folds.csv`` (tidy, one row per model × split × repeat × fold × data, where
    data is ``"observed"`` or ``"spin-null"``),
    ``summary.csv`` / ``summary.md`` (mean ± SD and number of runs), ``config.toml``
    (the configuration, package version and resolved options; written when the
    folds start, so that an interrupted run can be rerun from it, and again at the
    end with where each model ran) and the figures (with ``predictions.csv`` and,
    with nulls, ``cge_curve.csv``: the data they show).

    ``fingerprint.txt`` (:meth:`BenchmarkConfig.fingerprint`) and ``dataset.txt``
    (:func:`dataset_fingerprint` of the data, after dropping unsampled regions)
    mark the folder once the data, nulls and folds were built, so a run that fails
    before leaves the folder free; a later run with another configuration or on
    other data is refused with a ValueError. A folder lacking ``dataset.txt``
    (written by an older skconn) gets it. Temporary files left by a killed run are
    removed at the start.

    Parameters
    ----------
    config : BenchmarkConfig
    progress : bool, default=True
        Show a progress bar.
    connectome : Connectome, default=None
        The data, if already loaded (otherwise ``config.data`` is loaded).

    Returns
    -------
    pandas.DataFrame
        The per-fold table.

    Examples
    --------
    >>> import tempfile
    >>> from skconn._config import BenchmarkConfig
    >>> from skconn.benchmark import run_job
    >>> from skconn.datasets import make_toy_connectome
    >>> cfg = BenchmarkConfig(models=["exp_decay"], repeats=1, folds=2, nulls=0,
    ...                       output=tempfile.mkdtemp())
    >>> df = run_job(cfg, progress=False, connectome=make_toy_connectome(20, 4))
    >>> len(df)
    2
    """
    from tqdm.auto import tqdm

    _check_models(config.models, config.variants)
    out = Path(config.output)
    stamped_variants = _check_variant_stamps(out, config)
    resuming = _check_stamp(out, "fingerprint.txt", config.fingerprint(),
                            "with a different configuration")
    if connectome is None:
        connectome = load_dataset(config.data)
    if not connectome.sampled.all():
        # nulls permute expression over every region, so unsampled ones go for all runs alike
        unsampled = connectome.labels[~connectome.sampled].tolist()
        warnings.warn(f"dropping {len(unsampled)} region(s) without expression: {unsampled[:5]}",
                      UserWarning, stacklevel=2)
        connectome = connectome.subset(connectome.sampled)
    digest = dataset_fingerprint(connectome)
    _check_stamp(out, "dataset.txt", digest, "on different data")
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for folder in (out, runs):  # left by a run killed while writing
        remove_stale_temp_files(folder)
    perms = _null_permutations(connectome, config, out, reuse=resuming)
    tasks = list(_tasks(connectome, config, perms))
    # stamped only now that the data, nulls and folds were built: a run that failed
    # before (bad path, too few spins or regions) leaves the folder free for the fix
    _write_stamps(out, config, digest, stamped_variants)
    _write_config(out, config, connectome, digest)
    todo = [t for t in tasks if not (runs / f"{t[0]}.json").exists()]
    n_total = len(tasks)
    bar = tqdm(total=n_total, initial=n_total - len(todo), disable=not progress,
               desc="folds", unit="fit")
    jobs = Parallel(n_jobs=config.n_jobs, return_as="generator_unordered")(
        delayed(_keyed_fold)(key, model, X, y, tr, te, meta)
        for key, model, tr, te, meta, X, y in todo
    )
    for key, (row, predictions) in jobs:
        _save_fold(runs, key, row, predictions)
        bar.update()
    bar.close()
    return _write_reports(out, config, connectome, [t[0] for t in tasks], digest)


def _with_new_metrics(runs: Path, keys, rows: list[dict], connectome) -> list[dict]:
    """Fill in, from its saved predictions, the metrics a fold lacks because
    :func:`~skconn.metrics.score_report` gained them after the fold ran."""
    stale = [k for k, row in enumerate(rows) if any(m not in row for m in REPORT_KEYS)]
    if not stale:
        return rows
    X, _ = make_pairs(connectome)
    for k in stale:
        with np.load(runs / f"{keys[k]}.npz") as saved:
            pairs, y_true, y_pred = saved["pairs"], saved["y_true"], saved["y_pred"]
        report = score_report(y_true, y_pred, X[X.find(pairs)])
        rows[k] = {**rows[k], **{m: v for m, v in report.items() if m not in rows[k]}}
    return rows


def _write_config(out: Path, config: BenchmarkConfig, connectome, digest: str,
                  folds: pd.DataFrame | None = None) -> None:
    """``config.toml``: the configuration, package version and resolved options; with
    the per-fold table, also where each model's folds ran (``ran_on_<model>``)."""
    resolved = {
        "version": __version__,
        "dataset": str(connectome.name),
        "n_regions": int(connectome.n_regions),
        "n_genes": int(connectome.n_genes),
        "fingerprint": config.fingerprint(),
        "dataset_fingerprint": digest,
        **{f"params_{m}": json.dumps(resolved_params(
            make_model(m, config.seed, config.device, config.autocast, config.variants)))
           for m in config.models},
        **{f"grid_{m}": json.dumps(_search_grid(m, config.variants))
           for m in config.models},
    }
    if folds is not None and "device" in folds:
        # where the folds ran: a folder can be finished on other devices or in another precision
        resolved.update({f"ran_on_{m}": sorted(set(folds.loc[folds["model"] == m, "device"]
                                                   .dropna()))
                         for m in config.models})
    atomic_write(out / "config.toml",
                 lambda p: p.write_text(config.to_toml(resolved), encoding="utf-8"))


def _write_reports(out: Path, config: BenchmarkConfig, connectome, keys,
                   digest: str) -> pd.DataFrame:
    from .plotting import write_result_figures

    rows = [json.loads((out / "runs" / f"{key}.json").read_text()) for key in keys]
    rows = _with_new_metrics(out / "runs", keys, rows, connectome)
    order = {m: k for k, m in enumerate(config.models)}
    folds = pd.DataFrame(rows)
    rank = {"model": order, "split": {s: k for k, s in enumerate(config.splits)},
            "data": {OBSERVED: 0, SPIN_NULL: 1}}
    folds = folds.sort_values(
        ["model", "split", "data", "repeat", "fold"],
        key=lambda col: col.map(rank[col.name]) if col.name in rank else col,
    ).reset_index(drop=True)
    atomic_write(out / "folds.csv", lambda p: folds.to_csv(p, index=False))
    table = summarize(folds)
    atomic_write(out / "summary.csv", lambda p: table.to_csv(p))
    shown = [m for m in ("pearson_r", "short_r", "mid_r", "long_r", "r2", "mse", "fit_time")
             if f"{m}_mean" in table]
    text = format_summary(table, shown)
    atomic_write(out / "summary.md", lambda p: p.write_text(text + "\n"))
    _write_config(out, config, connectome, digest, folds)
    write_result_figures(out, folds, connectome)
    return folds

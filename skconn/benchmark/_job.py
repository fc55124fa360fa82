"""The main job: nested region-level cross-validation of several models on one dataset.

:func:`run_benchmark` scores the folds in memory; :func:`run_job` runs (or resumes) them
into an output folder (:class:`~skconn.benchmark._store.RunFolder`) and writes the reports.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._config import BenchmarkConfig
from ..datasets import Connectome, impute_missing_regions, load_connectome, load_default
from ..metrics import REPORT_KEYS, score_report
from ..metrics._summary import summarize, summary_markdown
from ..pairs import make_pairs
from ._nulls import null_permutations
from ._registry import SPLITS, check_models
from ._spin import spin_test_table, write_spin_figure
from ._store import RunFolder, dataset_fingerprint
from ._tasks import DATA_KINDS, OBSERVED, SPIN_NULL, FoldTask, make_tasks, run_fold

__all__ = ["load_dataset", "run_benchmark", "run_job"]


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
    check_models(models, variants)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    config = BenchmarkConfig(models=list(models), splits=[split], repeats=repeats, folds=folds,
                             seed=random_state, search=search, variants=dict(variants or {}))
    tasks = list(make_tasks(connectome, config, None))
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(delayed(run_fold)(t) for t in tasks)
    return pd.DataFrame([row for row, _ in results])


def run_job(config: BenchmarkConfig, *, progress: bool = True,
            connectome: Connectome | None = None) -> pd.DataFrame:
    """Run (or resume) a whole benchmark and write its output folder.

    Each finished fold is written at once to ``runs/`` (temporary file, then
    rename), so an interrupted run loses at most the folds in flight, and running
    the same configuration again skips every finished fold. Runs that differ only
    in ``models`` or ``splits`` may share a folder (e.g. one job per model, then one
    with all of them, which only writes the reports); the reports cover the models
    and splits of this run. The folder holds ``folds.csv`` (tidy, one row per
    model × split × repeat × fold × data, where data is ``"observed"`` or
    ``"spin-null"``; rewritten as each fold finishes, so it holds the finished folds
    of an interrupted run), and at the end ``summary.csv`` / ``summary.md`` (mean ±
    SD and the number of folds of each row; ``summary.md`` leaves out metrics that
    are NaN in every fold and says in a footnote why cells are NaN),
    ``config.toml`` (the configuration, package version and resolved options;
    written when the folds start, so that an interrupted run can be rerun from it,
    and again at the end with where each model ran) and the figures
    (``connectomes.png``, ``scatter.png``, ``brain.png``: the best model's
    out-of-fold predicted connectome next to the observed one on a glass brain,
    ``metrics.png`` and, with nulls, ``cge_distance.png``; see
    :func:`skconn.plotting.write_result_figures`), with ``predictions.csv`` and,
    with nulls, ``cge_curve.csv``: the data they show.

    ``fingerprint.txt`` (:meth:`BenchmarkConfig.fingerprint`) and ``dataset.txt``
    (:func:`dataset_fingerprint` of the data, after dropping unsampled regions)
    mark the folder once the data, nulls and folds were built, so a run that fails
    before leaves the folder free; a later run with another configuration is
    refused with a ValueError naming each option that differs from the folder's
    ``config.toml`` (e.g. ``--folds: 3 here, 4 in the folder``), and a run on other
    data with one that says so. A folder lacking ``dataset.txt`` (written by an
    older skconn) gets it. Temporary files left by a killed run are removed at the
    start.

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
    >>> from skconn.benchmark import BenchmarkConfig
    >>> from skconn.benchmark import run_job
    >>> from skconn.datasets import make_toy_connectome
    >>> cfg = BenchmarkConfig(models=["exp_decay"], repeats=1, folds=2, nulls=0,
    ...                       output=tempfile.mkdtemp())
    >>> df = run_job(cfg, progress=False, connectome=make_toy_connectome(20, 4))
    >>> len(df)
    2
    """
    from tqdm.auto import tqdm

    check_models(config.models, config.variants)
    folder = RunFolder(config.output)
    stamped_variants = folder.check_variants(config)
    resuming = folder.check_config(config)
    if connectome is None:
        connectome = load_dataset(config.data)
    connectome, imputed = _unsampled_regions(connectome, config)
    digest = dataset_fingerprint(connectome)
    folder.check_dataset(digest)
    folder.prepare()
    nulls = null_permutations(imputed, config, folder.path, reuse=resuming)
    tasks = list(make_tasks(connectome, config, nulls))
    # stamped only now that the data, nulls and folds were built: a run that failed
    # before (bad path, too few spins or regions) leaves the folder free for the fix
    folder.write_stamps(config, digest, stamped_variants)
    folder.write_config(config, connectome, digest)
    keys = [t.key for t in tasks]
    rows = {k: folder.load_row(k) for k in folder.finished_keys(keys)}
    todo = [t for t in tasks if t.key not in rows]
    bar = tqdm(total=len(tasks), initial=len(rows), disable=not progress,
               desc="folds", unit="fit")
    jobs = Parallel(n_jobs=config.n_jobs, return_as="generator_unordered")(
        delayed(_keyed_fold)(task) for task in todo
    )
    for key, (row, predictions) in jobs:
        folder.save_fold(key, row, predictions)
        rows[key] = row
        # folds.csv holds every finished fold of this run as it goes
        folder.write_folds(_sorted_folds([rows[k] for k in keys if k in rows], config))
        bar.update()
    bar.close()
    return _write_reports(folder, config, imputed, keys, digest)


def _unsampled_regions(connectome: Connectome,
                       config: BenchmarkConfig) -> tuple[Connectome, Connectome]:
    """The job's data (``unsampled="drop"``: sampled regions only) and the copy the nulls
    and the spin test are drawn on (``"impute"``: imputed from every sampled region)."""
    if connectome.sampled.all():
        return connectome, connectome
    unsampled = connectome.labels[~connectome.sampled].tolist()
    if config.unsampled == "impute":
        return connectome, impute_missing_regions(connectome)
    # nulls permute expression over every region, so unsampled ones go for all runs alike
    warnings.warn(f"dropping {len(unsampled)} region(s) without expression: {unsampled[:5]} "
                  "(--unsampled impute keeps them, imputed fold by fold)",
                  UserWarning, stacklevel=3)
    kept = connectome.subset(connectome.sampled)
    return kept, kept


def _keyed_fold(task: FoldTask) -> tuple[str, tuple[dict, dict]]:
    return task.key, run_fold(task)


def _sorted_folds(rows: list[dict], config: BenchmarkConfig) -> pd.DataFrame:
    """The per-fold table in the reports' order: model and split as configured, observed
    before null data, then repeat and fold."""
    rank = {"model": {m: k for k, m in enumerate(config.models)},
            "split": {s: k for k, s in enumerate(config.splits)},
            "data": {d: k for k, d in enumerate(DATA_KINDS)}}
    return pd.DataFrame(rows).sort_values(
        ["model", "split", "data", "repeat", "fold"],
        key=lambda col: col.map(rank[col.name]) if col.name in rank else col,
    ).reset_index(drop=True)


def _with_new_metrics(folder: RunFolder, keys, rows: list[dict], connectome) -> list[dict]:
    """Fill in, from its saved predictions, the metrics a fold lacks because
    :func:`~skconn.metrics.score_report` gained them after the fold ran."""
    stale = [k for k, row in enumerate(rows) if any(m not in row for m in REPORT_KEYS)]
    if not stale:
        return rows
    X, _ = make_pairs(connectome)
    for k in stale:
        saved = folder.load_predictions(keys[k])
        report = score_report(saved["y_true"], saved["y_pred"], X[X.find(saved["pairs"])])
        rows[k] = {**rows[k], **{m: v for m, v in report.items() if m not in rows[k]}}
    return rows


def _write_reports(folder: RunFolder, config: BenchmarkConfig, connectome, keys,
                   digest: str) -> pd.DataFrame:
    from ..plotting import write_result_figures

    rows = [folder.load_row(key) for key in keys]
    rows = _with_new_metrics(folder, keys, rows, connectome)
    folds = _sorted_folds(rows, config)
    folder.write_folds(folds)
    spins = spin_test_table(connectome, config, folder.path)
    table = with_spin_p_values(with_fold_p_values(summarize(folds), folds), spins)
    folder.write_table("summary.csv", lambda p: table.to_csv(p))
    if len(spins):
        folder.write_table("spin_test.csv", lambda p: spins.to_csv(p, index=False))
        write_spin_figure(folder.path / "spin_test.png", spins)
    text = summary_markdown(table) + _p_values_markdown(table, spins)
    folder.write_table("summary.md", lambda p: p.write_text(text + "\n"))
    folder.write_config(config, connectome, digest, folds)
    write_result_figures(folder.path, folds, connectome)
    return folds


def with_fold_p_values(table: pd.DataFrame, folds: pd.DataFrame,
                       metric: str = "pearson_r") -> pd.DataFrame:
    """``table`` (of :func:`summarize`) with ``p_folds`` on its observed-data rows.

    ``p_folds``: for each model and split, the fraction of null folds whose
    ``metric`` is at or above that of the observed fold they pair with (same
    repeat and fold: repeat r scores the true data and null ``r % K`` on the same
    folds). NaN without nulls.
    """
    if "data" not in table.index.names or "split" not in table.index.names \
            or metric not in folds:
        return table
    keys = ["model", "split", "repeat", "fold"]
    true = folds[folds["data"] == OBSERVED].set_index(keys)[metric]
    null = folds[folds["data"] == SPIN_NULL].set_index(keys)[metric]
    paired = pd.concat({"true": true, "null": null}, axis=1, join="inner").dropna()
    p = (paired["null"] >= paired["true"]).groupby(level=["model", "split"], sort=False).mean()
    table = table.copy()
    table["p_folds"] = [p.get((m, s), np.nan) if d == OBSERVED else np.nan
                        for m, s, d in table.index]
    return table


def with_spin_p_values(table: pd.DataFrame, spins: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``p_spin`` (of :func:`~._spin.spin_test_table`) on its observed-data
    rows: one value per model (the full data has no split), NaN for the models not tested."""
    if "data" not in table.index.names:
        return table
    p = dict(zip(spins["model"], spins["p_spin"], strict=True))
    table = table.copy()
    table["p_spin"] = [p.get(m, np.nan) if d == OBSERVED else np.nan
                       for m, _, d in table.index]
    return table


def _p_values_markdown(table: pd.DataFrame, spins: pd.DataFrame) -> str:
    """A markdown table of ``p_folds`` and ``p_spin`` per model and split ("" without
    either)."""
    columns = [c for c in ("p_folds", "p_spin") if c in table and table[c].notna().any()]
    if not columns:
        return ""
    rows = table.loc[table[columns].notna().any(axis=1), columns]
    lines = ["", "", "| model | split | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    lines += [f"| {m} | {s} | " + " | ".join("" if np.isnan(v) else f"{v:.3f}" for v in vals)
              + " |" for (m, s, _), vals in zip(rows.index, rows.to_numpy(), strict=True)]
    lines.append("")
    if "p_folds" in columns:
        lines.append("p_folds: fraction of null folds whose Pearson r is at or above that of "
                     "the observed fold they pair with (same repeat and fold).")
    if "p_spin" in columns:
        n = int(spins["n_spins"].iloc[0])
        lines.append(f"p_spin: classic spin test, (1 + #{{null >= observed}}) / ({n} + 1) over "
                     f"{n} plain spins (distinct, none keeping more than 10% of regions in place), "
                     "each model refitted and scored on all pairs of the full data (the same "
                     "value for every split); spin_test.csv, spin_test.png.")
    return "\n".join(lines)

"""Summaries of per-fold metric tables: mean ± SD per model, and their Markdown form.

Here, in the metrics layer, so that both the figures (:mod:`skconn.plotting`) and
the main job and command line (:mod:`skconn.benchmark`, :mod:`skconn.cli`) read
one definition, and imports run one way (metrics -> plotting -> benchmark -> cli).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import REPORT_KEYS, score_report

__all__ = ["SHOWN_METRICS", "format_summary", "min_pairs_per_stratum", "summarize",
           "summary_markdown"]

#: The metrics the main job's ``summary.md`` (and the command line) shows, in order.
SHOWN_METRICS = ("pearson_r", "short_r", "mid_r", "long_r", "r2", "mse", "fit_time")

#: Metrics that are NaN when a fold's test set has too few pairs in their group.
_STRATIFIED = ("short_r", "mid_r", "long_r")


def min_pairs_per_stratum() -> int:
    """The fewest test pairs a distance stratum needs for :func:`score_report` to score it.

    Examples
    --------
    >>> from skconn.metrics._summary import min_pairs_per_stratum
    >>> min_pairs_per_stratum()
    50
    """
    return int(inspect.signature(score_report).parameters["min_pairs"].default)


def summarize(results: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± SD of each metric per model (and split, and true/null data) over all folds.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`skconn.benchmark.run_benchmark` (or ``folds.csv`` of
        :func:`skconn.benchmark.run_job`).
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

    The last column, ``folds``, counts the folds of the row (``n_runs`` of
    :func:`summarize`). A cell averaged over fewer folds (the metric was NaN on
    the others) says over how many, e.g. ``0.487 (n=1)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.benchmark import format_summary, summarize
    >>> t = summarize(pd.DataFrame({"model": ["a", "a"], "pearson_r": [0.5, 0.7]}), ["pearson_r"])
    >>> print(format_summary(t, ["pearson_r"]))
    | model | pearson_r | folds |
    |---|---|---|
    | a | 0.600 ± 0.141 | 2 |
    """
    names = list(table.index.names) if table.index.nlevels > 1 else ["model"]
    header = "| " + " | ".join(names) + " | " + " | ".join(metrics) + " | folds |"
    lines = [header, "|" + "---|" * (len(names) + len(metrics) + 1)]
    for index, row in table.iterrows():
        index = index if isinstance(index, tuple) else (index,)
        cells = [_summary_cell(row, m) for m in metrics]
        lines.append("| " + " | ".join(map(str, index)) + " | " + " | ".join(cells)
                     + f" | {int(row['n_runs'])} |")
    return "\n".join(lines)


def summary_markdown(table: pd.DataFrame, metrics: Sequence[str] = SHOWN_METRICS) -> str:
    """The main job's ``summary.md``: :func:`format_summary` of the metrics that have a
    value, with a footnote on the metrics left out and on cells averaged over fewer folds.

    A distance stratum (``short_r``, ``mid_r``, ``long_r``) is NaN in a fold whose test
    set has fewer than :func:`min_pairs_per_stratum` pairs in it; a metric NaN in every
    fold is hidden and named in the footnote.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skconn.metrics._summary import summarize, summary_markdown
    >>> df = pd.DataFrame({"model": ["a", "a"], "pearson_r": [0.5, 0.7],
    ...                    "long_r": [np.nan, np.nan]})
    >>> print(summary_markdown(summarize(df)))
    | model | pearson_r | folds |
    |---|---|---|
    | a | 0.600 ± 0.141 | 2 |
    <BLANKLINE>
    Not shown, NaN in every fold: long_r. A distance stratum (short_r, mid_r, long_r) is NaN in a fold whose test pairs hold fewer than 50 pairs in it (``min_pairs`` of skconn.metrics.score_report). ``folds``: the outer folds of every repeat averaged in the row.
    """  # noqa: E501
    present = [m for m in metrics if f"{m}_mean" in table]
    shown = [m for m in present if table[f"{m}_mean"].notna().any()]
    hidden = [m for m in present if m not in shown]
    partly = [m for m in shown if f"{m}_n" in table and (table[f"{m}_n"] < table["n_runs"]).any()]
    text = format_summary(table, shown)
    notes = []
    if hidden:
        notes.append(f"Not shown, NaN in every fold: {', '.join(hidden)}.")
    if partly:
        notes.append(f"(n=k): {', '.join(partly)} had a value in only k of the row's folds.")
    if any(m in _STRATIFIED for m in (*hidden, *partly)):
        notes.append("A distance stratum (short_r, mid_r, long_r) is NaN in a fold whose test "
                     f"pairs hold fewer than {min_pairs_per_stratum()} pairs in it (``min_pairs`` "
                     "of skconn.metrics.score_report).")
    notes.append("``folds``: the outer folds of every repeat averaged in the row.")
    return text + "\n\n" + " ".join(notes)


def _summary_cell(row: pd.Series, metric: str) -> str:
    mean, sd = row[f"{metric}_mean"], row[f"{metric}_sd"]
    if np.isnan(mean):
        return "nan"
    cell = f"{mean:.3f}" if np.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"
    n = row.get(f"{metric}_n", row["n_runs"])
    return cell if n == row["n_runs"] else f"{cell} (n={int(n)})"

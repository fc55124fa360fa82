"""Figures of benchmark results: predicted connectomes, scatter by distance, metric bars."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._brain import plot_brain_connectomes

__all__ = [
    "pairs_to_matrix",
    "plot_metric_bars",
    "plot_predicted_connectomes",
    "plot_prediction_scatter",
    "write_result_figures",
]


def _figure(n_panels: int, size: float = 3.2):
    import matplotlib.pyplot as plt

    cols = min(n_panels, 4)
    rows = int(np.ceil(n_panels / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def pairs_to_matrix(pairs: np.ndarray, values: np.ndarray, n_regions: int) -> np.ndarray:
    """An (R, R) matrix from pair values, the two orderings averaged; NaN where absent.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.plotting import pairs_to_matrix
    >>> pairs_to_matrix(np.array([[0, 1], [1, 0]]), np.array([1.0, 3.0]), 3)[0]
    array([nan,  2., nan])
    """
    total = np.zeros((n_regions, n_regions))
    count = np.zeros((n_regions, n_regions))
    i, j = pairs[:, 0], pairs[:, 1]
    np.add.at(total, (i, j), values)
    np.add.at(count, (i, j), 1)
    np.add.at(total, (j, i), values)
    np.add.at(count, (j, i), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def plot_predicted_connectomes(true_fc: np.ndarray, predicted: dict[str, np.ndarray], *,
                               order: np.ndarray | None = None, regions=None):
    """True connectivity next to each model's predicted (R, R) matrix.

    Parameters
    ----------
    true_fc : ndarray of shape (R, R)
    predicted : dict of str to ndarray of shape (R, R)
        NaN where a model made no prediction (e.g. train-test cross pairs).
    order : ndarray of shape (R,), default=None
        Region order for display: the matrices are drawn as
        ``matrix[np.ix_(order, order)]``. None orders the regions by
        hemisphere, then network (:func:`region_order` of ``regions``) when
        ``regions`` is given, and keeps the rows' order otherwise. An order
        given here is used as it is, with or without ``regions``.
    regions : Connectome, RegionPairs or pandas.DataFrame, default=None
        The regions in the order of the matrices' rows (a region table with
        ``hemisphere`` and ``x``, ``y``, ``z``; Schaefer labels or a
        ``network`` column add the networks), used for the default order.

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    region_order : The default order when ``regions`` is given.
    plot_ordered_connectomes : The same matrices with the group boundaries drawn and named.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.plotting import plot_predicted_connectomes
    >>> fc = np.corrcoef(np.random.default_rng(0).normal(size=(5, 20)))
    >>> fig = plot_predicted_connectomes(fc, {"model": fc * 0.5})
    >>> len(fig.axes)
    3

    With the region table, left-hemisphere regions come first:

    >>> from skconn.datasets import make_toy_connectome
    >>> c = make_toy_connectome(6, 4)
    >>> fig = plot_predicted_connectomes(c.connectivity, {"model": c.connectivity},
    ...                                  regions=c)
    >>> shown = fig.axes[0].get_images()[0].get_array()
    >>> bool(np.allclose(shown[0, 1], c.connectivity[0, 2]))
    True
    """
    true_fc = np.asarray(true_fc, dtype=float)
    n = true_fc.shape[0]
    if order is not None:
        order = np.asarray(order)
    elif regions is not None:
        from ._brain import region_order

        order = region_order(regions)
        if len(order) != n:
            raise ValueError(
                f"regions has {len(order)} regions but true_fc is {true_fc.shape}: "
                "give the regions of the matrices' rows"
            )
    else:
        order = np.arange(n)
    panels = {"true": true_fc, **predicted}
    fig, axes = _figure(len(panels))
    off = ~np.eye(len(order), dtype=bool)
    values = true_fc[np.ix_(order, order)][off]
    vmax = float(np.nanpercentile(np.abs(values), 99)) or 1.0
    image = None
    for ax, (name, matrix) in zip(axes, panels.items(), strict=True):
        shown = np.array(matrix, dtype=float)[np.ix_(order, order)]
        np.fill_diagonal(shown, np.nan)
        image = ax.imshow(shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.8, label="connectivity")
    return fig


def plot_prediction_scatter(y_true, y_pred, distances, *, ax=None, title=None):
    """Predicted against true connectivity, coloured by the distance between regions.

    Parameters
    ----------
    y_true, y_pred, distances : array-like of shape (P,)
    ax : matplotlib Axes, default=None
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.plotting import plot_prediction_scatter
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_prediction_scatter(rng.random(50), rng.random(50), 100 * rng.random(50))
    >>> fig.axes[0].get_xlabel()
    'true connectivity'
    """
    if ax is None:
        fig, (ax,) = _figure(1, size=4.0)
    else:
        fig = ax.figure
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    points = ax.scatter(y_true, y_pred, c=distances, s=4, cmap="viridis", alpha=0.6,
                        rasterized=True)
    lo = float(min(y_true.min(), y_pred.min()))
    hi = float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
    r = np.corrcoef(y_true, y_pred)[0, 1] if len(y_true) > 1 else np.nan
    ax.set_title(f"{title + ': ' if title else ''}r = {r:.2f}")
    ax.set_xlabel("true connectivity")
    ax.set_ylabel("predicted")
    fig.colorbar(points, ax=ax, label="distance (mm)")
    return fig


def plot_metric_bars(summary: pd.DataFrame, metrics: Sequence[str] = ("pearson_r", "short_r",
                                                                        "mid_r", "long_r", "r2")):
    """Mean ± SD of each metric per model (and split), true data beside the null when present.

    Parameters
    ----------
    summary : pandas.DataFrame
        Long table with columns model, split (optional), data
        (``"observed"``/``"spin-null"``, optional) and ``<metric>_mean``/``<metric>_sd``,
        e.g. ``summarize(folds).reset_index()``. With several splits, each model has
        one group of bars per split, labelled ``model (split)``.
    metrics : sequence of str
        Metrics to show; those without a value (e.g. a distance stratum with too
        few pairs in every fold) are left out.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.plotting import plot_metric_bars
    >>> s = pd.DataFrame({"model": ["a", "a"], "data": ["observed", "spin-null"],
    ...                   "pearson_r_mean": [0.6, 0.3], "pearson_r_sd": [0.1, 0.1]})
    >>> fig = plot_metric_bars(s, ["pearson_r"])
    >>> len(fig.axes[0].patches)
    2
    """
    metrics = [m for m in metrics
               if f"{m}_mean" in summary and summary[f"{m}_mean"].notna().any()]
    fig, axes = _figure(len(metrics), size=3.6)
    data = summary["data"] if "data" in summary else pd.Series("observed", index=summary.index)
    kinds = [k for k in ("observed", "spin-null") if (data == k).any()]
    if "split" in summary and summary["split"].nunique() > 1:
        group = summary["model"].astype(str) + " (" + summary["split"].astype(str) + ")"
    else:
        group = summary["model"].astype(str)
    groups = list(dict.fromkeys(group))
    width = 0.8 / len(kinds)
    for ax, metric in zip(axes, metrics, strict=True):
        for k, kind in enumerate(kinds):
            rows = summary[data == kind].set_index(group[data == kind]).reindex(groups)
            ax.bar(np.arange(len(groups)) + (k - (len(kinds) - 1) / 2) * width,
                   rows[f"{metric}_mean"], width, yerr=rows[f"{metric}_sd"], capsize=2,
                   label=kind, color="C0" if kind == "observed" else "0.6")
        ax.set_xticks(np.arange(len(groups)), groups, rotation=45, ha="right")
        ax.set_title(metric)
        ax.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    if len(kinds) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(kinds),
                   bbox_to_anchor=(0.5, 1.0), frameon=False)
    return fig


def _best_model(folds: pd.DataFrame, split) -> str:
    """The model with the highest mean ``pearson_r`` on the observed data of ``split``.

    Every repeat and fold of that split counts; ties go to the model listed first.
    """
    rows = folds[(folds["split"] == split)]
    if "data" in rows:
        rows = rows[rows["data"] == "observed"]
    means = rows.groupby("model", sort=False)["pearson_r"].mean()
    if means.isna().all():
        return str(means.index[0])
    return str(means.idxmax())


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from .._atomic import atomic_write

    atomic_write(path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"))
    plt.close(fig)


def write_result_figures(out, folds: pd.DataFrame, connectome) -> list[Path]:
    """Write the benchmark figures (PNG) and the data behind them into ``out``.

    ``connectomes.png`` (true vs predicted matrices, regions ordered by test fold so
    that each fold's predictions form a diagonal block; data ``predictions.csv``, with
    columns split, repeat, fold and data), ``scatter.png`` and ``brain.png`` use the
    first split's first repeat (true data), and say so in their titles.
    ``brain.png`` draws on a glass brain (:func:`plot_brain_connectomes`, the
    strongest 2 % of edges, nodes at the region centroids) the observed connectivity
    next to the out-of-fold predicted connectome of the best model: the highest mean
    ``pearson_r`` on the observed data of the first split, over all its repeats and
    folds. Both panels show the test pairs only (pairs between two test folds have
    no prediction). ``metrics.png`` shows the observed and spin-null bars of every
    split over every repeat and fold (data ``summary.csv``). The job writes
    ``cge_distance.png`` (data ``cge_curve.csv``) when it draws its nulls.

    Returns
    -------
    list of Path
        The figures written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from .._atomic import atomic_write
    from ..metrics._summary import summarize
    from ..pairs import make_pairs

    out = Path(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unsampled regions, already reported
        X, y = make_pairs(connectome)
    n = X.n_regions
    split = folds["split"].iloc[0]
    observed = folds["data"] == "observed"
    first = folds[(folds["split"] == split) & (folds["repeat"] == 0) & observed]
    records, matrices = [], {}
    test_fold = np.full(n, -1)
    for model in dict.fromkeys(first["model"]):
        folds_of_model = sorted(first.loc[first["model"] == model, "fold"])
        parts = [np.load(out / "runs" / f"{model}__{split}__r0__f{f}__observed.npz")
                 for f in folds_of_model]
        for f, part in zip(folds_of_model, parts, strict=True):
            test_fold[np.unique(part["pairs"])] = f
        fold = np.concatenate([np.full(len(p["y_pred"]), f)
                               for f, p in zip(folds_of_model, parts, strict=True)])
        pairs = np.vstack([p["pairs"] for p in parts])
        y_pred = np.concatenate([p["y_pred"] for p in parts])
        y_true = np.concatenate([p["y_true"] for p in parts])
        matrices[model] = pairs_to_matrix(pairs, y_pred, n)
        records.append(pd.DataFrame({
            "model": model, "split": split, "repeat": 0, "fold": fold, "data": "observed",
            "i": X.labels[pairs[:, 0]], "j": X.labels[pairs[:, 1]],
            "y_true": y_true, "y_pred": y_pred,
            "distance": np.linalg.norm(X.coords[pairs[:, 0]] - X.coords[pairs[:, 1]], axis=1),
        }))
    predictions = pd.concat(records, ignore_index=True)
    atomic_write(out / "predictions.csv", lambda p: predictions.to_csv(p, index=False))
    true_fc = pairs_to_matrix(X.pairs, y, n)
    # test folds as diagonal blocks, hemispheres within them
    order = np.lexsort((np.arange(n), X.regions["hemisphere"].to_numpy(), test_fold))
    shown = f"{split} split, repeat 0, observed data"
    written = []
    path = out / "connectomes.png"
    fig = plot_predicted_connectomes(true_fc, matrices, order=order)
    fig.suptitle(f"Test-fold predictions ({shown})")
    _save(fig, path)
    written.append(path)

    fig, axes = _figure(len(matrices), size=4.0)
    for ax, (model, rows) in zip(axes, predictions.groupby("model", sort=False), strict=True):
        plot_prediction_scatter(rows["y_true"], rows["y_pred"], rows["distance"], ax=ax,
                                title=model)
    fig.tight_layout()
    fig.suptitle(f"Test pairs ({shown})", y=1.02)
    path = out / "scatter.png"
    _save(fig, path)
    written.append(path)

    best = _best_model(folds, split)
    # smaller nodes on finer atlases, so that the edges stay visible at 400 regions
    fig = plot_brain_connectomes(X, true_fc, {best: matrices[best]},
                                 node_size=float(np.clip(2000 / n, 4, 20)))
    fig.suptitle(f"Best model by mean pearson_r: {best}, out-of-fold predictions ({shown})",
                 y=1.05)
    path = out / "brain.png"
    _save(fig, path)
    written.append(path)

    table = summarize(folds).reset_index()
    path = out / "metrics.png"
    fig = plot_metric_bars(table)
    splits = " and ".join(f"{s} split" for s in dict.fromkeys(folds["split"]))
    # above the legend of observed / spin-null bars when there is one
    fig.suptitle(f"{splits}, every repeat and fold", y=1.12 if "data" in table and
                 table["data"].nunique() > 1 else 1.02)
    _save(fig, path)
    written.append(path)

    return written

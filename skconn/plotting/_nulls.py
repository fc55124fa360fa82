"""Figures for spatial and spatiomolecular nulls."""

from __future__ import annotations

import numpy as np

from ..nulls._cge_curves import DistanceBins, exponential_decay

__all__ = ["plot_cge_curves", "plot_null_distribution"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        # constrained layout keeps the axis labels inside the figure (a fixed figsize cut them)
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def shown_nulls(diagnostics, n_show: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The spins :func:`plot_cge_curves` draws: the ``n_show`` best and worst by rank.

    The best are chosen among the spins :func:`skconn.nulls.cge_matched_spins` may
    return: the eligible ones (``eligible``: usable, i.e. moving every block, and not
    near-identity) or, in tables without that column, the usable ones.

    Returns
    -------
    best, worst : ndarray of int
        Row labels of ``diagnostics`` (spin indices), best first and worst last.
    """
    order = diagnostics.sort_values("rank").index.to_numpy()
    column = next((c for c in ("eligible", "usable") if c in diagnostics), None)
    if column is not None:
        allowed = diagnostics.loc[order, column].to_numpy(dtype=bool)
        best = order[allowed][:n_show]
    else:
        best = order[:n_show]
    return best, order[-n_show:]


def plot_cge_curves(connectome, diagnostics, perms=None, *, n_show=3, ax=None, figsize=(6, 4)):
    """CGE-distance curve of the true data against the best and worst nulls.

    Parameters
    ----------
    connectome : Connectome
        Every region with expression (as given to :func:`cge_matched_spins`).
    diagnostics : pandas.DataFrame
        The diagnostics of :func:`skconn.nulls.cge_matched_spins` (its ``rank``
        column and ``attrs``).
    perms : ndarray of shape (n_spins, R), default=None
        All spins (``return_all=True``); without them only the fitted curves of
        the nulls are drawn.
    n_show : int, default=3
        How many of the best and of the worst nulls to draw.
    ax : matplotlib Axes, default=None
    figsize : tuple, default=(6, 4)

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.nulls import cge_matched_spins
    >>> from skconn.plotting import plot_cge_curves
    >>> c = make_toy_connectome(30, 20)
    >>> best, diag, perms = cge_matched_spins(c, 20, 3, random_state=0, return_all=True)
    >>> fig = plot_cge_curves(c, diag, perms)
    >>> len(fig.axes)
    1
    """
    fig, ax = _axes(ax, figsize)
    curve = diagnostics.attrs.get("curve")
    true = diagnostics.attrs.get("true")
    if curve is None or true is None:
        raise ValueError("diagnostics must come from cge_matched_spins (attrs 'curve', 'true')")
    centers = np.asarray(curve["centers"])
    grid = np.linspace(0, centers.max(), 200)
    best, worst = shown_nulls(diagnostics, n_show)
    groups = (("best", best, "tab:green"), ("worst", worst, "tab:red"))
    bins = DistanceBins.from_distances(connectome.distances()) if perms is not None else None
    cge = connectome.cge() if perms is not None else None
    for name, spins, color in groups:
        for j, spin in enumerate(spins):
            row = diagnostics.loc[spin]
            label = f"{name} {spin}" if name == "best" else (
                f"{name} nulls" if j == 0 else None)
            if name == "best" and "fraction_kept" in row and "mean_displacement" in row:
                # how far the null moved the data: a near-identity null keeps most in place
                label = (f"spin {spin}: {row['fraction_kept']:.0%} kept, "
                         f"{row['mean_displacement']:.0f} mm")
            if bins is not None:
                ax.plot(bins.centers, bins.means(cge, perms[[spin]])[0], ".", color=color,
                        alpha=0.4, ms=3)
            ax.plot(grid, exponential_decay(grid, row["SA_lambda"], row["SA_inf"]), "-",
                    color=color, alpha=0.6, lw=1, label=label)
    ax.plot(centers, curve["means"], "o", color="black", ms=4, label="true data")
    ax.plot(grid, exponential_decay(grid, true["SA_lambda"], true["SA_inf"]), "-",
            color="black", lw=2)
    ax.set_xlabel("distance (mm)")
    ax.set_ylabel("mean CGE")
    ax.set_title(f"CGE-distance: true λ={true['SA_lambda']:.1f} mm, ∞={true['SA_inf']:.2f}")
    ax.legend(frameon=False)
    return fig


def plot_null_distribution(null_scores, true_score, *, pvalue=None, bins=30, ax=None,
                           figsize=(5, 3.5), xlabel="score"):
    """Histogram of null scores with the true score marked.

    Parameters
    ----------
    null_scores : array-like of shape (K,)
    true_score : float
    pvalue : float, default=None
        Shown in the legend when given.
    bins : int, default=30
    ax : matplotlib Axes, default=None
    figsize : tuple, default=(5, 3.5)
    xlabel : str, default="score"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skconn.plotting import plot_null_distribution
    >>> fig = plot_null_distribution(np.random.default_rng(0).normal(size=100), 2.5,
    ...                              pvalue=0.01)
    >>> fig.axes[0].get_xlabel()
    'score'
    """
    null_scores = np.asarray(null_scores, dtype=float).ravel()
    fig, ax = _axes(ax, figsize)
    finite = null_scores[np.isfinite(null_scores)]
    ax.hist(finite, bins=bins, color="0.7", edgecolor="white", label=f"nulls (n={len(finite)})")
    label = f"true = {true_score:.3f}"
    if pvalue is not None:
        label += f" (p = {pvalue:.3g})"
    ax.axvline(true_score, color="tab:red", lw=2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    # above the axes: inside, it hid the true-score line when that was an extreme
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return fig

"""Brain-space figures through nilearn: connectomes on a glass brain, matrices ordered by group.

Regions come from a :class:`~skconn.datasets.Connectome`, a
:class:`~skconn.pairs.RegionPairs` or a region table (columns ``label``,
``hemisphere``, ``structure``, ``x``, ``y``, ``z``); their centroids place the
nodes and their hemisphere, structure and functional network (Schaefer labels,
see :func:`skconn.metrics.region_networks`) order the matrices.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import region_networks

__all__ = ["plot_brain_connectomes", "plot_ordered_connectomes", "region_order"]

_KEYS = ("hemisphere", "structure", "network")
# Schaefer's 7- and 17-network orders (the order of its label tables), subcortex after them
_NETWORKS = ("Vis", "VisCent", "VisPeri", "SomMot", "SomMotA", "SomMotB", "DorsAttn",
             "DorsAttnA", "DorsAttnB", "SalVentAttn", "SalVentAttnA", "SalVentAttnB", "Limbic",
             "LimbicA", "LimbicB", "Cont", "ContA", "ContB", "ContC", "Default", "DefaultA",
             "DefaultB", "DefaultC", "TempPar")
_RANKS = {"hemisphere": {"L": 0, "R": 1, "B": 2}, "structure": {"cortex": 0, "subcortex": 1},
          "network": {name: i for i, name in enumerate(_NETWORKS)}}
_LAST = {"network": ("Subcortex", "-")}


def _region_table(source) -> pd.DataFrame:
    regions = source if isinstance(source, pd.DataFrame) else getattr(source, "regions", None)
    if not isinstance(regions, pd.DataFrame):
        raise TypeError(
            "regions must come from a Connectome, a RegionPairs or a region table "
            f"(pandas.DataFrame), got {type(source).__name__}"
        )
    missing = [c for c in ("hemisphere", "x", "y", "z") if c not in regions]
    if missing:
        raise ValueError(f"the region table is missing the column(s) {missing}")
    return regions.reset_index(drop=True)


def _group_columns(regions: pd.DataFrame, by) -> dict[str, np.ndarray]:
    """The grouping columns to sort by, each as an (R,) object array of labels."""
    explicit = by is not None
    by = _KEYS if by is None else ((by,) if isinstance(by, str) else list(by))
    custom = {}
    for position, key in enumerate(by):
        if isinstance(key, str):
            continue
        labels = np.asarray(key, dtype=object)
        if labels.shape != (len(regions),):
            raise ValueError(
                f"by: a grouping given as labels must have one per region ({len(regions)}), "
                f"got shape {labels.shape}"
            )
        by[position] = f"group{position}"
        custom[by[position]] = np.array([str(v) for v in labels], dtype=object)
    unknown = sorted(set(by) - set(_KEYS) - set(custom))
    if unknown:
        raise ValueError(f"by must name columns among {list(_KEYS)}, got {unknown}")
    columns = {}
    if not explicit and region_networks(regions) is not None:
        by = ("hemisphere", "network")  # the network already tells subcortex apart
    for key in by:
        if key in custom:
            values = custom[key]
        elif key == "network":
            values = region_networks(regions)
            if values is None:
                if explicit:
                    raise ValueError(
                        "by='network' needs a 'network' column or Schaefer labels "
                        "(e.g. 7Networks_LH_Vis_1) in the region table"
                    )
                continue
        elif key in regions:
            values = regions[key].astype(str).to_numpy(dtype=object)
        elif explicit:
            raise ValueError(f"by={key!r}: the region table has no {key!r} column")
        else:
            continue
        values = np.array(["-" if v is None else str(v) for v in values], dtype=object)
        if explicit or len(set(values)) > 1:  # by default, only groupings that split regions
            columns[key] = values
    return columns


def _rank(key: str, values: np.ndarray) -> np.ndarray:
    """Sort key of one grouping: the usual order (L, R, B; cortex, subcortex; Schaefer's
    networks, then others alphabetically, then subcortex and regions without a network)."""
    known = _RANKS.get(key, {})
    last = _LAST.get(key, ())
    others = sorted(set(values) - set(known) - set(last), key=_natural_key)
    order = {**known, **{v: len(known) + i for i, v in enumerate(others)},
             **{v: len(known) + len(others) + i for i, v in enumerate(last)}}
    return np.array([order[v] for v in values])


def _natural_key(label: str) -> tuple:
    """``"Vis_10"`` after ``"Vis_9"``: digits compared as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label))


def _within_group_rank(regions: pd.DataFrame) -> np.ndarray:
    """Order inside a group: by label (numbers as numbers), else by table position."""
    if "label" not in regions:
        return np.arange(len(regions))
    keys = [_natural_key(str(v)) for v in regions["label"]]
    ranks = np.empty(len(keys), dtype=int)
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return ranks


def region_order(source, by: Sequence[str] | str | None = None, *, return_groups: bool = False):
    """A display order of the regions: grouped by hemisphere, structure and network.

    Regions are sorted left before right (then bilateral ``B``), cortex before
    subcortex, and by functional network (Schaefer's network order, other
    networks alphabetically, then ``Subcortex`` and regions without one);
    within a group by label, numbers compared as numbers (``Vis_9`` before
    ``Vis_10``). The order depends on the regions, not on the table's row
    order: a shuffled table gets the same display.

    Parameters
    ----------
    source : Connectome, RegionPairs or pandas.DataFrame
        The regions (a region table with at least ``hemisphere`` and ``x``,
        ``y``, ``z``).
    by : sequence of {"hemisphere", "structure", "network"} or (R,) labels, default=None
        The groupings, outermost first; an entry may also be one label per
        region (e.g. each region's test fold), sorted with numbers compared as
        numbers. None groups by hemisphere, then by
        network where :func:`skconn.metrics.region_networks` can tell it (e.g.
        from Schaefer labels; subcortical regions form the ``Subcortex``
        network), else by structure, leaving out a grouping that does not split
        the regions. A grouping named explicitly that the table lacks raises
        ``ValueError``.
    return_groups : bool, default=False
        Also return the group label of each region in display order.

    Returns
    -------
    order : ndarray of int, shape (R,)
        Region indices in display order: ``matrix[np.ix_(order, order)]``.
    groups : ndarray of str, shape (R,)
        Only with ``return_groups=True``: the group of each ordered region,
        e.g. ``"L Vis"`` (the grouping values joined by spaces).

    See Also
    --------
    plot_ordered_connectomes : Matrices in this order with the group boundaries.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.plotting import region_order
    >>> c = make_toy_connectome(6, 4)
    >>> c.regions["hemisphere"].tolist()
    ['L', 'R', 'L', 'R', 'L', 'R']
    >>> order, groups = region_order(c, return_groups=True)
    >>> order.tolist(), groups.tolist()
    ([0, 2, 4, 1, 3, 5], ['L', 'L', 'L', 'R', 'R', 'R'])
    """
    regions = _region_table(source)
    columns = _group_columns(regions, by)
    ranks = [_rank(key, values) for key, values in columns.items()]
    # np.lexsort sorts by the last key: outermost grouping, ..., innermost, then the label
    order = np.lexsort([_within_group_rank(regions), *ranks[::-1]])
    if not return_groups:
        return order
    if columns:
        groups = np.array([" ".join(v) for v in zip(*columns.values(), strict=True)])[order]
    else:
        groups = np.full(len(regions), "all")
    return order, groups


def _as_panels(observed, predicted) -> dict[str, np.ndarray]:
    if isinstance(predicted, Mapping):
        panels = {"observed": observed, **predicted}
    else:
        panels = {"observed": observed, "predicted": predicted}
    return {name: np.asarray(m, dtype=float) for name, m in panels.items()}


def _check_panels(panels: dict[str, np.ndarray], n: int) -> None:
    for name, matrix in panels.items():
        if matrix.shape != (n, n):
            raise ValueError(
                f"{name} must be an (R, R) matrix for the {n} regions, got shape {matrix.shape}"
            )


def _common_mask(panels: dict[str, np.ndarray]) -> np.ndarray:
    """Off-diagonal pairs finite in every matrix."""
    mask = ~np.eye(len(next(iter(panels.values()))), dtype=bool)
    for matrix in panels.values():
        mask &= np.isfinite(matrix)
    return mask


def _threshold(values: np.ndarray, edge_threshold) -> float | None:
    """A numeric edge threshold: a percentile ("95%") of ``|values|``, or the number given."""
    if edge_threshold is None:
        return None
    if isinstance(edge_threshold, str):
        text = edge_threshold.strip()
        try:
            percent = float(text[:-1]) if text.endswith("%") else np.nan
        except ValueError:
            percent = np.nan
        if not 0 <= percent <= 100:
            raise ValueError(
                f"edge_threshold must be a number or a percentile such as '95%', "
                f"got {edge_threshold!r}"
            )
        return float(np.percentile(np.abs(values), percent)) if values.size else 0.0
    if isinstance(edge_threshold, bool) or not isinstance(edge_threshold, (int, float)):
        raise TypeError(f"edge_threshold must be a number or a str, got {edge_threshold!r}")
    return float(edge_threshold)


def _node_colors(groups_in_table_order: np.ndarray) -> tuple[list, dict]:
    """One colour per region, and the colour of each group (for the legend)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if len(set(groups_in_table_order)) > 10 else "tab10"]
    names = list(dict.fromkeys(groups_in_table_order))
    legend = {g: cmap(i % cmap.N) for i, g in enumerate(names)}
    return [legend[g] for g in groups_in_table_order], legend


def plot_brain_connectomes(source, observed, predicted, *, edge_threshold="98%",
                           common_pairs: bool = True, display_mode: str = "ortho",
                           node_size: float = 20, node_color="network", ncols: int | None = None,
                           panel_size: tuple[float, float] = (6.5, 2.6)):
    """Observed and predicted connectomes side by side on a glass brain.

    Each matrix is drawn with :func:`nilearn.plotting.plot_connectome`, its
    nodes at the region centroids (``x``, ``y``, ``z`` of the region table, MNI
    mm), keeping the edges whose absolute value passes ``edge_threshold``.

    Parameters
    ----------
    source : Connectome, RegionPairs or pandas.DataFrame
        The regions, in the order of the matrices' rows.
    observed : array-like of shape (R, R)
        The observed connectivity.
    predicted : array-like of shape (R, R) or dict of str to array-like
        One predicted matrix, or several by name (one panel each). NaN where no
        prediction was made (e.g. pairs between two different test folds); the
        diagonal is ignored. Build one from pair predictions with
        :func:`pairs_to_matrix`.
    edge_threshold : str, float or None, default="98%"
        A percentile of the absolute edge values (``"98%"`` keeps the strongest
        2 % of each panel's pairs, computed over the pairs shown) or an absolute
        value; None draws every edge.
    common_pairs : bool, default=True
        Show, in every panel, only the pairs that every matrix has (finite and
        off the diagonal), so that observed and predicted edges are chosen from
        the same pairs.
    display_mode : str, default="ortho"
        nilearn's display mode (``"ortho"``, ``"z"``, ``"lzr"``, ...).
    node_size : float, default=20
        Node size in points^2.
    node_color : "network", "hemisphere" or color, default="network"
        Colour the nodes by functional network where known (else by
        hemisphere), by hemisphere, or with one matplotlib colour (or a
        sequence of R colours). Group colours are named in a legend below.
    ncols : int, default=None
        Panels per row; None puts them all in one row.
    panel_size : tuple of float, default=(6.5, 2.6)
        Width and height of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel for the brain (titled with the panel name and the
        threshold) plus nilearn's display and colour-bar axes.

    See Also
    --------
    plot_ordered_connectomes : The same matrices as ordered heat maps.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.plotting import plot_brain_connectomes
    >>> c = make_toy_connectome(20, 10)
    >>> fig = plot_brain_connectomes(c, c.connectivity, 0.5 * c.connectivity)
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['observed (top 2% of |edges|)', 'predicted (top 2% of |edges|)']
    """
    import matplotlib.pyplot as plt
    from nilearn import plotting as niplot

    regions = _region_table(source)
    n = len(regions)
    panels = _as_panels(observed, predicted)
    _check_panels(panels, n)
    if common_pairs:
        mask = _common_mask(panels)
    coords = regions[["x", "y", "z"]].to_numpy(dtype=float)
    if isinstance(node_color, str) and node_color in ("network", "hemisphere"):
        by = ("hemisphere",) if node_color == "hemisphere" else None
        columns = _group_columns(regions, by)
        key = "network" if "network" in columns else "hemisphere"
        colors, legend = _node_colors(columns[key])
    else:
        colors, legend = node_color, {}
    ncols = len(panels) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (name, matrix) in zip(axes.flat, panels.items(), strict=False):
        shown = matrix.copy()
        keep = mask if common_pairs else ~np.eye(n, dtype=bool) & np.isfinite(matrix)
        shown[~keep] = 0.0
        upper = np.triu(keep, 1)
        threshold = _threshold(matrix[upper], edge_threshold)
        if edge_threshold is None:
            detail = "all edges"
        elif isinstance(edge_threshold, str):
            detail = f"top {100 - float(edge_threshold.strip()[:-1]):g}% of |edges|"
        else:
            detail = f"|edges| > {threshold:g}"
        ax.set_axis_off()
        niplot.plot_connectome(shown, coords, node_color=colors, node_size=node_size,
                               edge_threshold=threshold, display_mode=display_mode,
                               figure=fig, axes=ax, colorbar=True, annotate=False)
        ax.set_title(f"{name} ({detail})")
    if legend:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker="o", color=c, label=g) for g, c in legend.items()]
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.02),
                   ncol=min(len(handles), 8), frameon=False, fontsize=8)
    return fig


def _boundaries(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions where the ordered group changes, and each group's centre and name."""
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, len(groups)]
    return change, (starts + ends - 1) / 2, groups[starts]


def plot_ordered_connectomes(source, observed, predicted=None, *, by=None, vmax=None,
                             panel_size: float = 4.8, cmap: str = "RdBu_r"):
    """Connectivity matrices with the regions grouped by hemisphere, structure and network.

    Each matrix is drawn with :func:`nilearn.plotting.plot_matrix` in the order
    of :func:`region_order`; lines mark where a group ends and the ticks name
    the groups.

    Parameters
    ----------
    source : Connectome, RegionPairs or pandas.DataFrame
        The regions, in the order of the matrices' rows.
    observed : array-like of shape (R, R)
        The observed connectivity.
    predicted : array-like of shape (R, R) or dict of str to array-like, default=None
        One predicted matrix or several by name; NaN (left blank) where no
        prediction was made. None draws ``observed`` alone.
    by : sequence of {"hemisphere", "structure", "network"} or (R,) labels, default=None
        The groupings (see :func:`region_order`), e.g.
        ``("hemisphere", test_fold)`` to draw each fold's pairs as blocks.
    vmax : float, default=None
        Colour limit (symmetric, ``-vmax`` to ``vmax``) for every panel; None
        takes each panel's 99th percentile of absolute off-diagonal values,
        so that shrunken predictions stay visible (compare colour bars).
    panel_size : float, default=4.8
        Width of one panel in inches.
    cmap : str, default="RdBu_r"

    Returns
    -------
    matplotlib.figure.Figure
        One matrix axes per panel (titled with the panel name) and its colour bar.

    See Also
    --------
    region_order : The order used here.
    plot_brain_connectomes : The same matrices on a glass brain.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.plotting import plot_ordered_connectomes
    >>> c = make_toy_connectome(20, 10)
    >>> fig = plot_ordered_connectomes(c, c.connectivity, 0.5 * c.connectivity)
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['observed', 'predicted']
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['L', 'R']
    """
    import matplotlib.pyplot as plt
    from nilearn import plotting as niplot

    regions = _region_table(source)
    n = len(regions)
    if predicted is None:
        panels = {"observed": np.asarray(observed, dtype=float)}
    else:
        panels = _as_panels(observed, predicted)
    _check_panels(panels, n)
    order, groups = region_order(regions, by, return_groups=True)
    change, centres, names = _boundaries(groups)
    # a bolder line where the outermost grouping changes (e.g. left to right hemisphere),
    # named along x; every group is named along y
    outer = np.array([g.split(" ")[0] for g in groups])
    major_change, major_centres, major_names = _boundaries(outer)
    major = set(major_change)
    fig, axes = plt.subplots(1, len(panels), squeeze=False,
                             figsize=(panel_size * len(panels), panel_size * 0.85))
    for ax, (name, matrix) in zip(axes.flat, panels.items(), strict=True):
        shown = matrix[np.ix_(order, order)].copy()
        np.fill_diagonal(shown, np.nan)
        finite = np.abs(shown[np.isfinite(shown)])
        limit = vmax if vmax is not None else (
            float(np.percentile(finite, 99)) if finite.size else 1.0) or 1.0
        niplot.plot_matrix(shown, axes=ax, vmin=-limit, vmax=limit, cmap=cmap,
                           colorbar=True, auto_fit=False, labels=None)
        for position in change:
            width = 1.2 if position in major else 0.5
            ax.axhline(position - 0.5, color="k", lw=width)
            ax.axvline(position - 0.5, color="k", lw=width)
        ax.set_xticks(major_centres, major_names, fontsize=8)
        ax.set_yticks(centres, names, fontsize=7 if len(names) > 8 else 8)
        ax.tick_params(length=0)
        ax.set_title(name)
    fig.tight_layout()
    return fig

"""Attention maps of a fitted Spatiomolecular Transformer."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_attention_maps"]


def plot_attention_maps(maps, *, title=None, cmap="viridis"):
    """Plot head-wise and head-averaged attention maps.

    Parameters
    ----------
    maps : dict
        The output of :meth:`skconn.models.SMTRegressor.attention_maps`:
        ``"heads"``, an (h, L, L) array of attention weights averaged over regions,
        and ``"mean"``, the (L, L) average over heads.
    title : str, default=None
    cmap : str, default="viridis"

    Returns
    -------
    matplotlib.figure.Figure
        One panel per head and one for their mean (query tokens on rows).

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.plotting import plot_attention_maps
    >>> heads = np.full((2, 3, 3), 1 / 3)
    >>> fig = plot_attention_maps({"heads": heads, "mean": heads.mean(axis=0)})
    >>> len(fig.axes)  # two heads and their mean, each with a colour bar
    6
    """
    import matplotlib.pyplot as plt

    heads = np.asarray(maps["heads"])
    panels = [*heads, np.asarray(maps["mean"])]
    names = [f"head {k}" for k in range(len(heads))] + ["mean over heads"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    for ax, panel, name in zip(axes[0], panels, names, strict=True):
        im = ax.imshow(panel, cmap=cmap, interpolation="nearest")
        ax.set_title(name)
        ax.set_xlabel("key token")
        ax.set_ylabel("query token")
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

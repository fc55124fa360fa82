"""Pearson r within groups of region pairs: hemispheres and functional networks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._core import _check_min_pairs, _check_pair_targets, _masked_r

__all__ = ["hemispheric_r", "network_r", "region_networks"]

# "7Networks_LH_Vis_1", "17Networks_RH_DefaultA_PFCm_2": the network follows the hemisphere
_SCHAEFER = re.compile(r"^\d+Networks_[LR]H_([A-Za-z]+)_")


def _pair_labels(labels, name: str, n: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=object)
    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n_pairs, 2), got {labels.shape}")
    if len(labels) != n:
        raise ValueError(f"{name} must have one row per pair ({n}), got {len(labels)}")
    return labels


def hemispheric_r(y_true, y_pred, hemispheres, *, min_pairs=50) -> dict:
    """Pearson r within the left hemisphere, within the right and between them.

    A pair is left–left when both regions are in hemisphere ``"L"``,
    right–right when both are in ``"R"``, and inter-hemispheric otherwise
    (which takes in bilateral regions, ``"B"``). The published code split
    pairs by the sign of the x coordinate instead, which files midline and
    cerebellar regions by where their centroid falls.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)
    hemispheres : array-like of shape (n, 2)
        Hemisphere (``"L"``, ``"R"`` or ``"B"``) of the two regions of each
        pair, e.g. ``X.regions["hemisphere"].to_numpy()[X.pairs]``.
    min_pairs : int, default=50
        A group with fewer pairs gets NaN.

    Returns
    -------
    dict
        ``{"left_r": float, "right_r": float, "inter_r": float}``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.metrics import hemispheric_r
    >>> hemi = np.array([["L", "L"], ["L", "L"], ["R", "R"], ["R", "R"], ["L", "R"], ["R", "L"]])
    >>> y = np.array([0.1, 0.3, 0.2, 0.6, 0.0, 0.1])
    >>> hemispheric_r(y, y, hemi, min_pairs=2)
    {'left_r': 1.0, 'right_r': 1.0, 'inter_r': 1.0}
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    hemi = _pair_labels(hemispheres, "hemispheres", len(y_true))
    min_pairs = _check_min_pairs(min_pairs)
    left = (hemi[:, 0] == "L") & (hemi[:, 1] == "L")
    right = (hemi[:, 0] == "R") & (hemi[:, 1] == "R")
    return {
        "left_r": _masked_r(y_true, y_pred, left, min_pairs),
        "right_r": _masked_r(y_true, y_pred, right, min_pairs),
        "inter_r": _masked_r(y_true, y_pred, ~(left | right), min_pairs),
    }


def network_r(y_true, y_pred, networks, *, min_pairs=50) -> dict:
    """Pearson r of the pairs inside each network and of those leaving it.

    For each network label k, ``intra_r_k`` is the Pearson r over the pairs
    whose two regions are both in k, and ``inter_r_k`` over the pairs with
    exactly one region in k (the paper's subnetwork metrics). Pairs with a
    missing label (None or NaN) on one side count for the other side's network
    only.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)
    networks : array-like of shape (n, 2)
        Network label of the two regions of each pair, e.g.
        ``region_networks(X.regions)[X.pairs]``.
    min_pairs : int, default=50
        A group with fewer pairs gets NaN.

    Returns
    -------
    dict
        ``intra_r_<label>`` and ``inter_r_<label>`` for each label, labels in
        sorted order.

    See Also
    --------
    region_networks : Network labels from a region table.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.metrics import network_r
    >>> nets = np.array([["Vis", "Vis"], ["Vis", "Vis"], ["Vis", "DMN"], ["DMN", "Vis"],
    ...                  ["DMN", "DMN"], ["DMN", "DMN"]])
    >>> y = np.array([0.5, 0.7, 0.1, 0.2, 0.4, 0.3])
    >>> r = network_r(y, y, nets, min_pairs=2)
    >>> sorted(r)
    ['inter_r_DMN', 'inter_r_Vis', 'intra_r_DMN', 'intra_r_Vis']
    >>> r["intra_r_Vis"]
    1.0
    """
    y_true, y_pred = _check_pair_targets(y_true, y_pred)
    nets = _pair_labels(networks, "networks", len(y_true))
    min_pairs = _check_min_pairs(min_pairs)
    present = pd.isna(nets)
    labels = sorted({str(v) for v in nets[~present]})
    a = np.where(present[:, 0], None, nets[:, 0].astype(str))
    b = np.where(present[:, 1], None, nets[:, 1].astype(str))
    report = {}
    for label in labels:
        in_a, in_b = a == label, b == label
        report[f"intra_r_{label}"] = _masked_r(y_true, y_pred, in_a & in_b, min_pairs)
        report[f"inter_r_{label}"] = _masked_r(y_true, y_pred, in_a ^ in_b, min_pairs)
    return report


def region_networks(regions: pd.DataFrame) -> np.ndarray | None:
    """The functional network of each region of a region table, where it can be told.

    A ``network`` column is used as it is. Otherwise Schaefer labels
    (``7Networks_LH_Vis_1``) give their network (``Vis``), and subcortical
    regions (``structure``) get ``"Subcortex"``.

    Parameters
    ----------
    regions : DataFrame
        A region table (``RegionPairs.regions`` or ``Connectome.regions``).

    Returns
    -------
    ndarray of object, shape (n_regions,), or None
        One label per region (None where a region has none), or None when no
        region has a network.

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.metrics import region_networks
    >>> regions = pd.DataFrame({"label": ["7Networks_LH_Vis_1", "7Networks_RH_Default_PFC_2",
    ...                                   "Lthal"],
    ...                         "structure": ["cortex", "cortex", "subcortex"]})
    >>> region_networks(regions).tolist()
    ['Vis', 'Default', 'Subcortex']
    """
    if "network" in regions:
        nets = np.array([None if pd.isna(v) else v for v in regions["network"]], dtype=object)
        return None if all(v is None for v in nets) else nets
    labels = regions["label"].astype(str) if "label" in regions else pd.Series(dtype=str)
    nets = np.array(
        [m.group(1) if (m := _SCHAEFER.match(v)) else None for v in labels], dtype=object
    )
    if all(v is None for v in nets):
        return None
    if "structure" in regions:
        structure = regions["structure"].astype(str).str.lower().to_numpy()
        nets[(structure == "subcortex") & pd.isna(nets)] = "Subcortex"
    return nets

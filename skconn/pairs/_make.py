"""Turning a Connectome into region-pair estimator input."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .._permutations import check_permutations, warn_if_near_identity
from ..datasets._connectome import Connectome
from ..datasets._impute import impute_missing_regions
from ._region_pairs import RegionPairs

__all__ = ["make_pairs", "pair_indices"]

_ORDERS = ("both", "upper")
_MISSING = ("drop", "impute", "raise")


def pair_indices(n_regions: int, order: str = "both") -> np.ndarray:
    """Index pairs (i, j), i != j, over ``n_regions`` regions.

    Parameters
    ----------
    n_regions : int
    order : {"both", "upper"}, default="both"
        ``"upper"`` gives each unordered pair once as (i, j), i < j, in
        ``itertools.combinations`` order; ``"both"`` follows each with its
        reverse, so row 2k is (i, j) and row 2k+1 is (j, i).

    Returns
    -------
    ndarray of shape (P, 2)

    Examples
    --------
    >>> from skconn.pairs import pair_indices
    >>> pair_indices(3).tolist()
    [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]]
    """
    if not isinstance(n_regions, numbers.Integral) or isinstance(n_regions, bool):
        raise TypeError(f"n_regions must be an integer, got {n_regions!r}")
    if n_regions < 0:
        raise ValueError(f"n_regions must be non-negative, got {n_regions}")
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
    i, j = np.triu_indices(n_regions, k=1)
    upper = np.column_stack([i, j]).astype(np.intp)
    if order == "upper":
        return upper
    both = np.empty((2 * len(upper), 2), dtype=np.intp)
    both[0::2] = upper
    both[1::2] = upper[:, ::-1]
    return both


def make_pairs(
    connectome: Connectome,
    *,
    order: str = "both",
    nulls=None,
    missing: str = "drop",
) -> tuple[RegionPairs, np.ndarray]:
    """Build the region-pair input ``X`` and target ``y`` of a connectome.

    Parameters
    ----------
    connectome : Connectome
    order : {"both", "upper"}, default="both"
        Emit each unordered pair in both orders (rows 2k and 2k+1, the published
        layout) or once (i < j).
    nulls : array-like of shape (K, R), default=None
        Region permutations (e.g. from :mod:`skconn.nulls`): row k says region i
        shows the expression of region ``nulls[k, i]`` in null variant k+1.
        ``X`` then holds the pairs of every variant, the true data (variant 0)
        first; coordinates and targets are never permuted. Only permutations
        are accepted, not a null kind: draw them with
        :func:`skconn.nulls.make_nulls` (``kind="cge_matched"``, ``"spin"`` or
        ``"permute"``), so that the nulls are made once, seeded and inspectable.
        A null that keeps more than 10% of the regions in place raises a
        :class:`~skconn.exceptions.NearIdentityNullWarning`.
    missing : {"drop", "impute", "raise"}, default="drop"
        What to do with regions whose expression is all NaN: drop them with a
        warning, fill them with :func:`skconn.datasets.impute_missing_regions`
        (the region table of ``X`` then has a boolean ``sampled`` column, which
        :class:`skconn.preprocessing.RegionImputer` uses), or raise. With
        ``nulls``, only ``"impute"`` keeps unsampled regions: the nulls then
        permute all R regions of the imputed connectome (draw them on
        ``impute_missing_regions(connectome)``), and a ``RegionImputer`` in a
        pipeline re-imputes the unsampled rows from the training regions before
        the null variants read them.

    Returns
    -------
    X : RegionPairs of length P
        ``P = (K + 1) * n * (n - 1)`` with ``order="both"`` for n kept regions.
    y : ndarray of shape (P,)
        ``connectivity[i, j]`` of each pair.

    Raises
    ------
    ValueError
        On an unknown option, fewer than two sampled regions, malformed nulls
        (wrong length, a repeated region), or nulls combined with unsampled
        regions unless ``missing="impute"``.
    TypeError
        If ``nulls`` is not integer (e.g. a null kind given as a string).

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> c = make_toy_connectome(4, 3)
    >>> X, y = make_pairs(c)
    >>> len(X), y.shape
    (12, (12,))
    >>> X, y = make_pairs(c, order="upper", nulls=[[1, 0, 3, 2]])
    >>> len(X), X.n_variants
    (12, 2)
    """
    if not isinstance(connectome, Connectome):
        raise TypeError(f"connectome must be a Connectome, got {type(connectome).__name__}")
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {_MISSING}, got {missing!r}")
    sampled = connectome.sampled
    if not sampled.all():
        unsampled = connectome.labels[~sampled].tolist()
        if nulls is not None and missing != "impute":
            raise ValueError(
                f"nulls need every region sampled, but {len(unsampled)} region(s) have no "
                f"expression (e.g. {unsampled[:3]}): keep the sampled regions with "
                "Connectome.subset(connectome.sampled), or impute the others (here with "
                "missing='impute', or with skconn.datasets.impute_missing_regions) and draw "
                "the nulls for the imputed connectome"
            )
        if missing == "raise":
            raise ValueError(f"{len(unsampled)} region(s) have no expression: {unsampled[:5]}")
        if missing == "impute":
            connectome = impute_missing_regions(connectome)
        else:
            warnings.warn(
                f"dropping {len(unsampled)} region(s) without expression: {unsampled[:5]}"
                + (" ..." if len(unsampled) > 5 else ""),
                UserWarning,
                stacklevel=2,
            )
            if sampled.sum() < 2:
                raise ValueError(
                    f"connectome has {int(sampled.sum())} region(s) with expression; pairs "
                    "need at least 2 (impute the others with missing='impute')"
                )
            connectome = connectome.subset(sampled)
    n = connectome.n_regions
    if n < 2:
        raise ValueError(f"need at least 2 sampled regions to form pairs, got {n}")
    base = pair_indices(n, order)
    variants = np.arange(n)[None, :]
    if nulls is not None:
        perms = check_permutations(nulls, n)
        warn_if_near_identity(perms, where="make_pairs(nulls=...)", stacklevel=3)
        variants = np.vstack([variants, perms])
    n_var = len(variants)
    pairs = np.tile(base, (n_var, 1))
    variant = np.repeat(np.arange(n_var), len(base))
    regions = connectome.regions
    if missing == "impute":
        # which rows were imputed, so that a RegionImputer can redo it on training regions only
        regions = regions.assign(sampled=sampled)
    X = RegionPairs(
        connectome.expression.to_numpy(),
        regions,
        pairs,
        variant=variant,
        variants=variants,
        feature_names=connectome.genes,
    )
    y = connectome.connectivity[pairs[:, 0], pairs[:, 1]]
    return X, y

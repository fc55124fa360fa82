"""Region permutations (nulls): validation, how far they move the data, a warning.

The low-level checks shared by :mod:`skconn.pairs` (``make_pairs(nulls=...)``),
:mod:`skconn.model_selection` and :mod:`skconn.nulls`; it imports neither, so
each may import it. The public names are re-exported from :mod:`skconn.nulls`.

A null is a region permutation ``p`` of shape (R,): region i shows the data of
region ``p[i]``; K of them stacked give a (K, R) array.
"""

from __future__ import annotations

import warnings

import numpy as np

from .exceptions import NearIdentityNullWarning

__all__ = [
    "NEAR_IDENTITY_THRESHOLD",
    "check_permutations",
    "fraction_in_place",
    "mean_displacement",
    "warn_if_near_identity",
    "warn_if_near_identity_variants",
]

#: Fraction of regions kept in place above which a null counts as near-identity.
NEAR_IDENTITY_THRESHOLD = 0.1


def check_permutations(nulls, n_regions: int | None = None, name: str = "nulls") -> np.ndarray:
    """``nulls`` as a (K, R) integer array whose rows are permutations of 0..R-1.

    Parameters
    ----------
    nulls : array-like of shape (K, R) or (R,)
        One region permutation per row; a single row may be given as (R,).
    n_regions : int, default=None
        R, when known (the regions of a connectome); checked against the rows.
    name : str, default="nulls"
        Argument name used in error messages.

    Returns
    -------
    ndarray of shape (K, R), dtype intp

    Raises
    ------
    TypeError
        If the values are not integers.
    ValueError
        If the shape is wrong, a row has the wrong length, or a row repeats or
        skips a region.
    """
    if isinstance(nulls, str):
        raise TypeError(
            f"{name} must be region permutations (a (K, R) integer array), got the string "
            f"{nulls!r}; to draw nulls of a kind use skconn.nulls.make_nulls(connectome, k, "
            f"kind={nulls!r})"
        )
    try:
        perms = np.asarray(nulls)
    except ValueError as exc:  # ragged rows
        raise ValueError(
            f"{name} must be a (K, R) array of region permutations, all rows of one length: {exc}"
        ) from None
    if perms.ndim == 1:
        perms = perms[None, :]
    expected_r = perms.shape[-1] if n_regions is None else n_regions
    if perms.ndim != 2 or perms.shape[1] != expected_r or perms.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (K, {expected_r}): one permutation of the {expected_r} "
            f"regions per row, got shape {perms.shape}"
        )
    if perms.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer region indices, got dtype {perms.dtype}")
    expected = np.arange(expected_r)
    bad = np.flatnonzero(~(np.sort(perms, axis=1) == expected).all(axis=1))
    if bad.size:
        row = perms[bad[0]]
        values, counts = np.unique(row, return_counts=True)
        repeats = values[counts > 1][:5].tolist()
        outside = row[(row < 0) | (row >= expected_r)][:5].tolist()
        detail = (f"repeats region(s) {repeats}" if repeats else "") + (
            f"{'; ' if repeats else ''}holds index(es) {outside} outside 0..{expected_r - 1}"
            if outside else "")
        raise ValueError(
            f"{name} rows {bad[:5].tolist()} are not permutations of 0..{expected_r - 1} "
            f"(row {int(bad[0])} {detail}): every region must appear exactly once per row"
        )
    return perms.astype(np.intp, copy=False)


def fraction_in_place(perms) -> np.ndarray:
    """Fraction of regions each null leaves showing their own data.

    Parameters
    ----------
    perms : array-like of shape (K, R) or (R,)
        Region permutations: region i shows the data of region ``perms[k, i]``.

    Returns
    -------
    ndarray of shape (K,)
        ``mean(perms[k] == arange(R))``: 0 for a null that moves every region,
        1 for the identity, about 1/R for a uniformly random permutation.

    Examples
    --------
    >>> from skconn.nulls import fraction_in_place
    >>> fraction_in_place([[0, 1, 3, 2], [1, 0, 3, 2]]).tolist()
    [0.5, 0.0]
    """
    perms = check_permutations(perms, name="perms")
    return (perms == np.arange(perms.shape[1])).mean(axis=1)


def mean_displacement(perms, coords) -> np.ndarray:
    """Mean distance between each region and the region whose data it receives.

    Parameters
    ----------
    perms : array-like of shape (K, R) or (R,)
        Region permutations: region i shows the data of region ``perms[k, i]``.
    coords : array-like of shape (R, 3)
        Region centroids (MNI, mm).

    Returns
    -------
    ndarray of shape (K,)
        ``mean_i ||coords[i] - coords[perms[k, i]]||`` in the units of
        ``coords`` (mm): 0 for the identity; for a uniformly random permutation
        about the mean distance between two regions.

    Examples
    --------
    >>> from skconn.nulls import mean_displacement
    >>> xyz = [[0, 0, 0], [10, 0, 0], [0, 10, 0]]
    >>> mean_displacement([[1, 0, 2]], xyz).tolist()
    [6.666666666666667]
    """
    perms = check_permutations(perms, name="perms")
    xyz = np.asarray(coords, dtype=float)
    if xyz.ndim != 2 or xyz.shape[0] != perms.shape[1]:
        raise ValueError(
            f"coords must have one row per region, shape ({perms.shape[1]}, D); got {xyz.shape}"
        )
    return np.linalg.norm(xyz[perms] - xyz[None], axis=2).mean(axis=1)


def warn_if_near_identity(perms, *, threshold: float = NEAR_IDENTITY_THRESHOLD,
                          where: str | None = None, stacklevel: int = 2) -> np.ndarray:
    """Warn when a null leaves more than ``threshold`` of the regions in place.

    A spin by a small rotation is the data shifted by a fraction of a parcel: a
    model scores on it as on the true data, and a null test with it cannot fail.
    Call this wherever user-supplied permutations are used as nulls.

    Parameters
    ----------
    perms : array-like of shape (K, R) or (R,)
        Region permutations (validated as by ``make_pairs``).
    threshold : float, default=0.1
        Largest fraction of regions a null may keep in place without a warning.
    where : str, default=None
        Who uses the nulls (e.g. ``"make_pairs"``), named in the message.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`.

    Returns
    -------
    ndarray of shape (K,)
        The fraction of regions each null keeps in place.

    Warns
    -----
    NearIdentityNullWarning
        Naming the near-identity nulls (row index k, 0-based) and their
        fractions kept.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skconn.nulls import warn_if_near_identity
    >>> perms = np.array([np.arange(20), np.roll(np.arange(20), 1)])
    >>> perms[0, :2] = [1, 0]  # 18 of 20 regions in place
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kept = warn_if_near_identity(perms, where="example")
    >>> kept.tolist()
    [0.9, 0.0]
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    example: null 0 keeps 90% of the 20 regions in place ...
    """
    kept = fraction_in_place(perms)
    _warn_kept(kept, None, np.shape(np.atleast_2d(perms))[1], threshold, where, stacklevel + 1)
    return kept


def warn_if_near_identity_variants(variants, chosen, *, where: str,
                                   threshold: float = NEAR_IDENTITY_THRESHOLD,
                                   stacklevel: int = 2) -> np.ndarray:
    """:func:`warn_if_near_identity` for the null variants of a RegionPairs table.

    ``variants`` is ``RegionPairs.variants`` ((V, R): feature row of each region
    in each variant, variant 0 the true data); a region is kept in place in
    variant v when it reads the same feature row as in variant 0.
    """
    table = np.asarray(variants)
    chosen = np.asarray(chosen, dtype=np.intp).ravel()
    kept = (table[chosen] == table[0]).mean(axis=1)
    labels = [f"variant {int(v)}" for v in chosen]
    _warn_kept(kept, labels, table.shape[1], threshold, where, stacklevel + 1)
    return kept


def _warn_kept(kept, labels, n, threshold, where, stacklevel):
    bad = np.flatnonzero(kept > threshold)
    if not bad.size:
        return
    names = [f"null {int(k)}" for k in bad] if labels is None else [labels[k] for k in bad]
    listed = ", ".join(f"{name} keeps {kept[k]:.0%}" for name, k in zip(names, bad, strict=True))
    if bad.size > 5:
        listed = ", ".join(listed.split(", ")[:5]) + f" (and {bad.size - 5} more)"
    prefix = f"{where}: " if where else ""
    warnings.warn(
        f"{prefix}{listed} of the {n} regions in place (more than {threshold:.0%}): "
        "a near-identity null shows mostly the true data, so a model scores on it as on "
        "the data and the null test cannot fail; draw nulls with skconn.nulls.make_nulls "
        "or cge_matched_spins, which exclude such spins",
        NearIdentityNullWarning,
        stacklevel=stacklevel,
    )

"""The validated container for one parcellated dataset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from ._subjects import _symmetric_with_nan

__all__ = ["REGION_COLUMNS", "Connectome"]

#: Columns every region table carries, in this order.
REGION_COLUMNS = ("label", "hemisphere", "structure", "x", "y", "z")
#: Accepted spellings of each hemisphere code, compared case-insensitively.
HEMISPHERE_SPELLINGS = {
    "L": ("l", "lh", "left"),
    "R": ("r", "rh", "right"),
    "B": ("b", "both", "bilateral", "midline"),
}
_HEMISPHERE_CODES = {
    spelling: code for code, spellings in HEMISPHERE_SPELLINGS.items() for spelling in spellings
}
_STRUCTURES = {"cortex", "subcortex"}


def hemisphere_codes(values, name: str = "regions.hemisphere") -> np.ndarray:
    """Normalise hemisphere spellings to the codes ``"L"``, ``"R"`` and ``"B"``.

    ``"left"``, ``"Left"``, ``"lh"``, ``"LH"``, ``"L"`` (any case) become ``"L"``;
    right likewise; ``"both"``, ``"bilateral"``, ``"midline"`` and ``"B"`` become
    ``"B"``.

    Raises
    ------
    ValueError
        On any other value (missing values included), listing the accepted spellings.
    """
    values = pd.Series(values, dtype=object)
    keys = values.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    codes = keys.map(_HEMISPHERE_CODES)
    bad = sorted({str(v) for v in values[codes.isna()]})
    if bad:
        accepted = "; ".join(
            f"{code} = {', '.join(spellings)}" for code, spellings in HEMISPHERE_SPELLINGS.items()
        )
        raise ValueError(
            f"{name} must be L, R or B (one of L, R, B or a spelling of them, any case: "
            f"{accepted}); got {bad[:5]}"
        )
    return codes.to_numpy(dtype=object).astype(str)


def region_xyz(regions: pd.DataFrame) -> np.ndarray:
    """The finite float (R, 3) ``x``, ``y``, ``z`` columns of a region table.

    Raises
    ------
    TypeError
        If the coordinates are not numeric.
    ValueError
        If any is NaN or infinite.
    """
    try:
        xyz = regions[["x", "y", "z"]].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"regions x, y, z must be numeric MNI coordinates: {exc}") from None
    if not np.isfinite(xyz).all():
        raise ValueError("regions x, y, z contain NaN or infinite coordinates")
    return xyz


def _as_region_table(regions: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(regions, pd.DataFrame):
        raise TypeError(
            f"regions must be a pandas.DataFrame with columns {list(REGION_COLUMNS)}, "
            f"got {type(regions).__name__}"
        )
    missing = [c for c in REGION_COLUMNS if c not in regions.columns]
    if missing:
        raise ValueError(
            f"regions is missing the column(s) {missing}; expected {list(REGION_COLUMNS)}"
        )
    repeated = regions.columns[regions.columns.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(f"regions has duplicate columns: {repeated[:5]}")
    table = regions.loc[:, list(REGION_COLUMNS)].reset_index(drop=True).copy()
    if len(table) < 2:
        raise ValueError(f"regions must list at least 2 regions, got {len(table)}")
    table["label"] = table["label"].astype(str)
    duplicated = table["label"][table["label"].duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"regions has duplicate labels: {duplicated[:5]}")
    table["hemisphere"] = hemisphere_codes(table["hemisphere"])
    table["structure"] = table["structure"].astype(str)
    bad = sorted(set(table["structure"]) - _STRUCTURES)
    if bad:
        raise ValueError(f"regions.structure must be 'cortex' or 'subcortex'; got {bad}")
    table[["x", "y", "z"]] = region_xyz(table)
    return table


def _as_expression(expression: pd.DataFrame, labels: pd.Index) -> pd.DataFrame:
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(
            "expression must be a pandas.DataFrame (regions x genes, gene symbols as columns), "
            f"got {type(expression).__name__}"
        )
    if expression.shape[0] != len(labels):
        raise ValueError(
            f"expression has {expression.shape[0]} rows but regions has {len(labels)} regions"
        )
    if expression.shape[1] == 0:
        raise ValueError("expression has no gene columns")
    index = expression.index.astype(str)
    if isinstance(expression.index, pd.RangeIndex):
        expression = expression.set_axis(labels, axis=0)
    elif not index.equals(labels):
        if set(index) != set(labels):
            extra = sorted(set(index) - set(labels))[:5]
            lacking = sorted(set(labels) - set(index))[:5]
            raise ValueError(
                "expression index does not match regions.label: "
                f"not in regions {extra}, missing from expression {lacking}"
            )
        expression = expression.set_axis(index, axis=0).loc[labels]
    columns = expression.columns.astype(str)
    if columns.duplicated().any():
        repeated = columns[columns.duplicated()][:5].tolist()
        raise ValueError(f"expression has duplicate gene columns: {repeated}")
    try:
        values = expression.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"expression must be numeric: {exc}") from None
    if np.isinf(values).any():
        raise ValueError("expression contains infinite values")
    nan_rows = np.isnan(values).all(axis=1)
    partial = np.isnan(values).any(axis=1) & ~nan_rows
    if partial.any():
        raise ValueError(
            "expression rows may be complete or entirely NaN (an unsampled region), but "
            f"{int(partial.sum())} row(s) are partly NaN, e.g. {list(labels[partial][:3])}"
        )
    return pd.DataFrame(values, index=pd.Index(labels, name="label"), columns=columns)


def _align_connectivity(connectivity: pd.DataFrame, labels: pd.Index, name: str) -> pd.DataFrame:
    """Re-order a labelled connectivity frame to ``labels``, as expression is.

    A ``RangeIndex`` on both axes means regions order. Labelled axes must hold
    exactly the region labels (in any order); with one axis labelled and the
    other not, the labelled axis must already be in regions order (the other
    axis's order is unknown).
    """
    index_labelled = not isinstance(connectivity.index, pd.RangeIndex)
    columns_labelled = not isinstance(connectivity.columns, pd.RangeIndex)
    for axis, labelled, values in (
        ("row", index_labelled, connectivity.index.astype(str)),
        ("column", columns_labelled, connectivity.columns.astype(str)),
    ):
        if labelled and not values.equals(labels):
            if (
                len(values) != len(labels)
                or set(values) != set(labels)
                or values.duplicated().any()
            ):
                extra = sorted(set(values) - set(labels))[:5]
                lacking = sorted(set(labels) - set(values))[:5]
                raise ValueError(
                    f"{name} {axis} labels do not match regions.label: not in regions {extra}, "
                    f"missing from {name} {lacking}"
                )
            if not (index_labelled and columns_labelled):
                raise ValueError(
                    f"{name} {axis} labels are in another order than regions.label and the "
                    f"other axis is unlabelled; label both axes to have it re-ordered"
                )
    if index_labelled and columns_labelled:
        connectivity = connectivity.set_axis(connectivity.index.astype(str), axis=0)
        connectivity = connectivity.set_axis(connectivity.columns.astype(str), axis=1)
        connectivity = connectivity.loc[labels, labels]
    return connectivity


def _as_connectivity(connectivity, labels: pd.Index, name: str = "connectivity") -> np.ndarray:
    if isinstance(connectivity, pd.DataFrame):
        connectivity = _align_connectivity(connectivity, labels, name)
    try:
        fc = np.asarray(connectivity, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (R, R) array: {exc}") from None
    n = len(labels)
    if fc.shape != (n, n):
        raise ValueError(f"{name} must have shape ({n}, {n}) to match regions, got {fc.shape}")
    off_diagonal = ~np.eye(n, dtype=bool)
    if not np.isfinite(fc[off_diagonal]).all():
        raise ValueError(f"{name} contains NaN or infinite values off the diagonal")
    # No model uses the diagonal: a NaN or infinite one (as many exports write,
    # e.g. arctanh(1)) is set to 0 rather than refused.
    fc = fc.copy()
    diagonal = np.diagonal(fc)
    fc[np.diag_indices(n)] = np.where(np.isfinite(diagonal), diagonal, 0.0)
    if not np.allclose(fc, fc.T, rtol=1e-6, atol=1e-8):
        worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(fc - fc.T)), fc.shape))
        raise ValueError(
            f"{name} must be symmetric; entry {worst} differs from its transpose by "
            f"{abs(fc[worst] - fc[worst[::-1]]):.3g}"
        )
    return (fc + fc.T) / 2


def _as_subject_connectivity(subject_connectivity, labels: pd.Index) -> np.ndarray | None:
    if subject_connectivity is None:
        return None
    if isinstance(subject_connectivity, tuple):
        from ._subjects import subject_connectivity_from_upper

        if len(subject_connectivity) != 2:
            raise ValueError(
                "subject_connectivity as a tuple must be (upper_triangles, mask) of shapes "
                f"(S, P) and (S, P); got {len(subject_connectivity)} items"
            )
        subject_connectivity = subject_connectivity_from_upper(*subject_connectivity)
    try:
        sfc = np.asarray(subject_connectivity, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"subject_connectivity must be numeric (S, R, R): {exc}") from None
    n = len(labels)
    if sfc.ndim != 3 or sfc.shape[1:] != (n, n) or sfc.shape[0] == 0:
        raise ValueError(f"subject_connectivity must have shape (S, {n}, {n}), got {sfc.shape}")
    if np.isinf(sfc).any():
        raise ValueError(
            "subject_connectivity contains infinite values (use NaN for missing edges)"
        )
    if not _symmetric_with_nan(sfc):
        raise ValueError(
            "subject_connectivity must be symmetric in its last two axes (NaN included)"
        )
    return sfc


class Connectome:
    """A parcellated dataset: regions, regional expression and group connectivity.

    Parameters
    ----------
    regions : pandas.DataFrame of shape (R, 6)
        One row per region with columns ``label`` (unique), ``hemisphere``
        (``"L"``, ``"R"`` or ``"B"`` for bilateral/midline; ``"left"``, ``"lh"``,
        ``"right"``, ``"rh"``, ``"both"``, ``"bilateral"``, ``"midline"`` in any
        case are normalised to these), ``structure``
        (``"cortex"`` or ``"subcortex"``) and the MNI centroid ``x``, ``y``, ``z`` in mm.
    expression : pandas.DataFrame of shape (R, G)
        Regional gene expression, gene symbols as columns. Rows are matched to
        ``regions.label`` by index (a default ``RangeIndex`` means regions order).
        A row that is entirely NaN marks a region without samples.
    connectivity : array-like of shape (R, R)
        Symmetric group-level functional connectivity. A DataFrame is aligned
        by label like ``expression``: with both axes labelled it is re-ordered
        to ``regions.label`` (a default ``RangeIndex`` means regions order).
        The diagonal is kept but never used as a target; NaN or infinite
        diagonal entries (what many exports write) are set to 0.
    subject_connectivity : array-like of shape (S, R, R) or tuple, default=None
        Optional subject-level connectivity (NaN where an edge is missing), used
        for target-side augmentation. Also accepted as ``(upper, mask)``: upper
        triangles of shape (S, R(R-1)/2) in ``numpy.triu_indices(R, k=1)`` order
        and a boolean mask of the same shape (True where the edge is present),
        see :func:`skconn.datasets.subject_upper_triangles`.
    name : str, default=None
        A short name for reports.

    Attributes
    ----------
    regions : pandas.DataFrame of shape (R, 6)
    expression : pandas.DataFrame of shape (R, G)
    connectivity : ndarray of shape (R, R)
    subject_connectivity : ndarray of shape (S, R, R) or None
    name : str or None

    Raises
    ------
    ValueError
        If shapes or labels disagree, the connectivity is not symmetric or not
        finite off its diagonal, labels repeat, a hemisphere is not a known
        spelling, or an expression row is only partly NaN.

    See Also
    --------
    skconn.datasets.load_connectome : Read a dataset folder.
    skconn.pairs.make_pairs : Turn a connectome into estimator input.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skconn.datasets import Connectome
    >>> regions = pd.DataFrame({"label": ["a", "b", "c"], "hemisphere": ["L", "L", "R"],
    ...                         "structure": "cortex", "x": [-30., -20., 25.],
    ...                         "y": [0., 10., 5.], "z": [0., 5., 0.]})
    >>> expression = pd.DataFrame([[0.1, 0.5], [0.2, 0.4], [0.9, 0.3]], columns=["G1", "G2"])
    >>> fc = np.array([[1, .5, .2], [.5, 1, .3], [.2, .3, 1]])
    >>> c = Connectome(regions, expression, fc, name="toy")
    >>> c
    Connectome(name='toy', n_regions=3, n_genes=2, n_subjects=0)
    >>> c.distances().round(1)[0]
    array([ 0. , 15. , 55.2])
    """

    def __init__(
        self,
        regions: pd.DataFrame,
        expression: pd.DataFrame,
        connectivity,
        *,
        subject_connectivity=None,
        name: str | None = None,
    ) -> None:
        self.regions = _as_region_table(regions)
        labels = pd.Index(self.regions["label"], name="label")
        self.expression = _as_expression(expression, labels)
        self.connectivity = _as_connectivity(connectivity, labels)
        self.subject_connectivity = _as_subject_connectivity(subject_connectivity, labels)
        self.name = name

    def __repr__(self) -> str:
        n_sub = 0 if self.subject_connectivity is None else self.subject_connectivity.shape[0]
        return (
            f"Connectome(name={self.name!r}, n_regions={self.n_regions}, "
            f"n_genes={self.n_genes}, n_subjects={n_sub})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Connectome):
            return NotImplemented
        same_subjects = (self.subject_connectivity is None) == (other.subject_connectivity is None)
        if same_subjects and self.subject_connectivity is not None:
            same_subjects = np.array_equal(
                self.subject_connectivity, other.subject_connectivity, equal_nan=True
            )
        return (
            self.regions.equals(other.regions)
            and self.expression.equals(other.expression)
            and np.array_equal(self.connectivity, other.connectivity)
            and same_subjects
        )

    __hash__ = None  # mutable container

    @property
    def labels(self) -> pd.Index:
        """Region labels, (R,) Index."""
        return pd.Index(self.regions["label"], name="label")

    @property
    def coords(self) -> np.ndarray:
        """MNI centroids, (R, 3) array in mm."""
        return self.regions[["x", "y", "z"]].to_numpy(dtype=float)

    @property
    def genes(self) -> pd.Index:
        """Gene symbols, (G,) Index."""
        return self.expression.columns

    @property
    def n_regions(self) -> int:
        """Number of regions R."""
        return len(self.regions)

    @property
    def n_genes(self) -> int:
        """Number of genes G."""
        return self.expression.shape[1]

    @property
    def sampled(self) -> np.ndarray:
        """Boolean (R,) mask of regions whose expression row is not all NaN."""
        return ~np.isnan(self.expression.to_numpy()).all(axis=1)

    def distances(self) -> np.ndarray:
        """Euclidean distances between region centroids, (R, R) array in mm."""
        return cdist(self.coords, self.coords)

    def cge(self) -> np.ndarray:
        """Correlated gene expression, (R, R) Pearson correlation of expression rows.

        Rows and columns of unsampled regions are NaN.
        """
        values = self.expression.to_numpy()
        out = np.full((self.n_regions, self.n_regions), np.nan)
        ok = self.sampled
        if ok.sum() >= 2:
            out[np.ix_(ok, ok)] = np.corrcoef(values[ok])
        return out

    def subset(self, regions: Sequence[int] | Sequence[str] | np.ndarray) -> Connectome:
        """Return the connectome restricted to some regions, in the order given.

        Parameters
        ----------
        regions : array-like of int, bool or str
            Region positions, a boolean mask of length R, or region labels.

        Returns
        -------
        Connectome
        """
        idx = self._region_positions(regions)
        sub = None
        if self.subject_connectivity is not None:
            sub = self.subject_connectivity[:, idx][:, :, idx]
        return Connectome(
            self.regions.iloc[idx],
            self.expression.iloc[idx],
            self.connectivity[np.ix_(idx, idx)],
            subject_connectivity=sub,
            name=self.name,
        )

    def _region_positions(self, regions) -> np.ndarray:
        """Positions (in ``0..R-1``) of the regions that :meth:`subset` was given."""
        n = self.n_regions
        idx = np.asarray(regions)
        if idx.ndim != 1:
            raise TypeError(
                "regions must be a 1-D sequence of positions, labels or a boolean mask, "
                f"got {'a scalar' if idx.ndim == 0 else f'shape {idx.shape}'}"
            )
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"regions as a boolean region mask must have length {n}")
            return np.flatnonzero(idx)
        if idx.dtype.kind in "USO":
            pos = pd.Series(np.arange(n), index=self.labels)
            unknown = [str(r) for r in idx if r not in pos.index]
            if unknown:
                raise ValueError(f"regions names unknown region labels: {unknown[:5]}")
            return pos.loc[idx].to_numpy()
        if idx.size == 0:
            return idx.astype(np.intp)
        if idx.dtype.kind not in "iu":
            raise TypeError(
                f"regions must be integer positions, labels or a boolean mask, got {idx.dtype}"
            )
        if idx.min() < -n or idx.max() >= n:
            raise ValueError(f"regions positions must lie in 0..{n - 1}, got {idx.tolist()[:8]}")
        return idx.astype(np.intp)

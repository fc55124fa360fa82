"""A lazy array-like of region pairs: the estimator input."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from ..datasets._connectome import region_xyz

__all__ = ["RegionPairs"]


def _check_region_coords(regions: pd.DataFrame) -> None:
    """Raise unless ``regions`` has finite numeric ``x``, ``y``, ``z`` columns."""
    missing = [c for c in ("label", "x", "y", "z") if c not in regions.columns]
    if missing:
        raise ValueError(f"regions is missing the column(s) {missing}")
    region_xyz(regions)


def _check_indices(values: np.ndarray, name: str, n: int) -> np.ndarray:
    """``values`` as intp indices in 0..n-1, or a ``ValueError`` naming ``name``.

    Floats are refused rather than truncated, and negative indices rather than read
    from the end.
    """
    if values.size and values.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {values.dtype}")
    values = values.astype(np.intp)
    if values.size and (values.min() < 0 or values.max() >= n):
        raise ValueError(
            f"{name} must lie in 0..{n - 1}; got values outside it (from {values.min()} "
            f"to {values.max()})"
        )
    return values


class _RegionTable:
    """Immutable per-region data shared by every view of one RegionPairs.

    ``variants[v, r]`` is the row of ``features`` that region ``r`` shows in
    variant ``v`` (variant 0 is the identity: the true data).
    """

    __slots__ = ("coords", "feature_names", "features", "regions", "variants")

    def __init__(self, features, feature_names, regions, variants):
        self.features = features
        self.feature_names = feature_names
        self.regions = regions
        self.coords = regions[["x", "y", "z"]].to_numpy(dtype=float)
        self.variants = variants

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)


class RegionPairs:
    """Ordered region pairs that reference a shared region table.

    A ``RegionPairs`` of length P stands for a (P, 2*F) design matrix whose row p
    is ``[features[i_p], features[j_p]]``, without materialising it. Indexing with
    an integer array, a boolean mask or a slice returns a cheap view that shares
    the region table, which is what lets scikit-learn's cross-validation, search,
    cloning, pickling and pipelines work on it. Build one with
    :func:`skconn.pairs.make_pairs`.

    Parameters
    ----------
    features : ndarray of shape (R, F)
        Region-level features (e.g. expression), one row per region.
    regions : pandas.DataFrame of shape (R, 6)
        Region table with columns label, hemisphere, structure, x, y, z.
    pairs : ndarray of shape (P, 2)
        Region indices (i, j) of each row, i != j.
    variant : ndarray of shape (P,), default=None
        Which variant of the feature table each row reads (0 = true data). All
        zeros by default.
    variants : ndarray of shape (V, R), default=None
        ``variants[v, r]`` is the feature row region r shows in variant v; row 0
        must be the identity. Identity only by default.
    feature_names : array-like of shape (F,), default=None

    Attributes
    ----------
    pairs : ndarray of shape (P, 2)
    variant : ndarray of shape (P,)
    shape : tuple
        ``(P, 2 * F)``, the shape of the dense export.

    See Also
    --------
    skconn.pairs.make_pairs : The usual way to build one.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(5, 3))
    >>> X
    RegionPairs(n_pairs=20, n_regions=5, n_features=3, n_variants=1)
    >>> X[:4].pairs.tolist()
    [[0, 1], [1, 0], [0, 2], [2, 0]]
    >>> np.asarray(X).shape
    (20, 6)
    """

    __array_priority__ = 10

    def __init__(
        self, features, regions, pairs, *, variant=None, variants=None, feature_names=None
    ):
        features = np.asarray(features, dtype=float)
        if features.ndim != 2:
            raise ValueError(
                f"features must be 2-D (regions, features), got shape {features.shape}"
            )
        if not np.isfinite(features).all():
            raise ValueError("features must be finite (no NaN or inf)")
        if not isinstance(regions, pd.DataFrame) or len(regions) != features.shape[0]:
            raise ValueError("regions must be a DataFrame with one row per feature row")
        _check_region_coords(regions)
        n_regions = features.shape[0]
        pairs = np.asarray(pairs)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"pairs must be an integer array of shape (P, 2), got {pairs.shape}")
        pairs = _check_indices(pairs, "pairs", n_regions)
        selfish = np.flatnonzero(pairs[:, 0] == pairs[:, 1])
        if selfish.size:
            raise ValueError(
                f"pairs must join two different regions (i != j); row(s) "
                f"{selfish[:5].tolist()} pair a region with itself"
            )
        if variants is None:
            variants = np.arange(n_regions)[None, :]
        variants = np.asarray(variants)
        if variants.ndim != 2 or variants.shape[1] != n_regions:
            raise ValueError(f"variants must have shape (V, {n_regions}), got {variants.shape}")
        variants = _check_indices(variants, "variants", n_regions)
        if not np.array_equal(variants[0], np.arange(n_regions)):
            raise ValueError("variants[0] must be the identity (the true data)")
        if variant is None:
            variant = np.zeros(len(pairs), dtype=np.intp)
        variant = np.asarray(variant)
        if variant.shape != (len(pairs),):
            raise ValueError("variant must have one entry per pair")
        variant = _check_indices(variant, "variant", len(variants))
        if feature_names is None:
            feature_names = pd.Index([f"f{k}" for k in range(features.shape[1])])
        feature_names = pd.Index(feature_names).astype(str)
        if len(feature_names) != features.shape[1]:
            raise ValueError("feature_names must have one name per feature column")
        table = _RegionTable(features, feature_names, regions.reset_index(drop=True), variants)
        self._init_view(table, pairs, variant)

    @classmethod
    def _view(cls, table: _RegionTable, pairs: np.ndarray, variant: np.ndarray) -> RegionPairs:
        obj = cls.__new__(cls)
        obj._init_view(table, pairs, variant)
        return obj

    def _init_view(self, table, pairs, variant):
        self._table = table
        self.pairs = pairs
        self.variant = variant

    # ------------------------------------------------------------------ array protocol
    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.pairs), 2 * self.n_features)

    @property
    def ndim(self) -> int:
        return 2

    def __getitem__(self, key):
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            elif len(key) == 2 and isinstance(key[1], slice) and key[1] == slice(None):
                key = key[0]
            else:
                raise TypeError(
                    "RegionPairs supports row indexing only; use np.asarray(X) for columns"
                )
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"index {key} is out of bounds for {n} pairs")
            key = slice(key, key + 1 if key != -1 else None)
        if not isinstance(key, slice):
            original, key = key, np.asarray(key)
            if key.ndim == 0:
                raise TypeError(
                    "RegionPairs row index must be an integer, a slice or a 1-D array, "
                    f"got {type(original).__name__}"
                )
            if key.ndim != 1:
                raise IndexError(f"RegionPairs takes a 1-D row index, got shape {key.shape}")
            if key.dtype == bool:
                if key.shape != (len(self),):
                    raise IndexError(f"boolean index must have length {len(self)}")
            elif key.dtype.kind not in "iu" and key.size:
                raise IndexError(f"RegionPairs cannot be indexed with {key.dtype} values")
            elif not key.size:
                key = key.astype(np.intp)
        return RegionPairs._view(self._table, self.pairs[key], self.variant[key])

    def __array__(self, dtype=None, copy=None):
        out = self.to_dense()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (
            f"RegionPairs(n_pairs={len(self)}, n_regions={self.n_regions}, "
            f"n_features={self.n_features}, n_variants={self.n_variants})"
        )

    def __getstate__(self):
        return {"table": self._table, "pairs": self.pairs, "variant": self.variant}

    def __setstate__(self, state):
        self._init_view(state["table"], state["pairs"], state["variant"])

    # ------------------------------------------------------------------ region table
    @property
    def n_features(self) -> int:
        """Features per region, F."""
        return self._table.features.shape[1]

    @property
    def n_regions(self) -> int:
        """Regions in the shared table, R (not only those this view uses)."""
        return self._table.features.shape[0]

    @property
    def n_variants(self) -> int:
        """Variants of the feature table (1 + number of nulls)."""
        return self._table.variants.shape[0]

    @property
    def feature_names(self) -> pd.Index:
        """Names of the F region features."""
        return self._table.feature_names

    @property
    def pair_feature_names(self) -> np.ndarray:
        """Names of the 2F columns of the dense pair matrix: ``<name>_i`` then ``<name>_j``.

        What an estimator fitted on this X reports as ``feature_names_in_``, and the
        columns of its dense export as a DataFrame.

        Examples
        --------
        >>> from skconn.datasets import make_toy_connectome
        >>> from skconn.pairs import make_pairs
        >>> X, _ = make_pairs(make_toy_connectome(4, 2))
        >>> X.pair_feature_names.tolist()
        ['GENE0_i', 'GENE1_i', 'GENE0_j', 'GENE1_j']
        """
        names = [str(n) for n in self.feature_names]
        return np.asarray([f"{n}_i" for n in names] + [f"{n}_j" for n in names], dtype=object)

    @property
    def regions(self) -> pd.DataFrame:
        """The (R, 6) region table (label, hemisphere, structure, x, y, z)."""
        return self._table.regions

    @property
    def labels(self) -> np.ndarray:
        """Region labels, (R,)."""
        return self._table.regions["label"].to_numpy()

    @property
    def coords(self) -> np.ndarray:
        """Region MNI centroids, (R, 3). Coordinates are never permuted by nulls."""
        return self._table.coords

    @property
    def variants(self) -> np.ndarray:
        """(V, R) map from (variant, region) to feature row."""
        return self._table.variants

    @property
    def feature_table(self) -> np.ndarray:
        """The (N, F) table of region feature rows that every view shares.

        Row ``variants[v, r]`` holds region ``r``'s features in variant ``v``
        (N = R without nulls). Read it to transform every region at once, e.g. in a
        region-level transformer; it is shared, so copy before writing to it.
        """
        return self._table.features

    def region_features(self, regions=None, variant=0) -> np.ndarray:
        """Features of some regions as seen in one variant.

        Parameters
        ----------
        regions : array-like of int, default=None
            Region indices; all R regions by default.
        variant : int or array-like of int, default=0
            The variant (broadcast against ``regions``).

        Returns
        -------
        ndarray of shape (n, F)
        """
        if regions is None:
            regions = np.arange(self.n_regions)
        rows = self._table.variants[np.asarray(variant), np.asarray(regions)]
        return self._table.features[rows]

    def feature_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the feature table that each pair's two regions read, two (P,) arrays."""
        v = self._table.variants
        return v[self.variant, self.pairs[:, 0]], v[self.variant, self.pairs[:, 1]]

    def pair_features(self) -> tuple[np.ndarray, np.ndarray]:
        """Gather the features of both regions of every pair: two (P, F) arrays."""
        left, right = self.feature_rows()
        return self._table.features[left], self._table.features[right]

    def pair_coords(self) -> tuple[np.ndarray, np.ndarray]:
        """MNI centroids of both regions of every pair: two (P, 3) arrays."""
        return self._table.coords[self.pairs[:, 0]], self._table.coords[self.pairs[:, 1]]

    def distances(self) -> np.ndarray:
        """Euclidean distance between the centroids of each pair, (P,) in mm."""
        a, b = self.pair_coords()
        return np.linalg.norm(a - b, axis=1)

    def unique_regions(self) -> np.ndarray:
        """Sorted indices of the regions that appear in at least one pair."""
        return np.unique(self.pairs)

    def find(self, pairs, variant: int = 0) -> np.ndarray:
        """Rows of this view that hold the given ordered region pairs in one variant.

        Parameters
        ----------
        pairs : array-like of int, shape (n, 2)
            Region indices ``(i, j)``, as in :attr:`pairs`.
        variant : int, default=0
            0 for the true data, k for null k.

        Returns
        -------
        ndarray of int, shape (n,)
            ``X[rows]`` holds ``pairs`` in that order.

        Raises
        ------
        ValueError
            If some of the pairs are not in the view in that variant.

        Examples
        --------
        >>> from skconn.datasets import make_toy_connectome
        >>> from skconn.pairs import make_pairs
        >>> X, y = make_pairs(make_toy_connectome(5, 3))
        >>> rows = X.find([[3, 1], [0, 4]])
        >>> X.pairs[rows].tolist()
        [[3, 1], [0, 4]]
        """
        pairs = np.asarray(pairs)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"pairs must have shape (n, 2), got {pairs.shape}")
        n = np.int64(self.n_regions)
        target = np.flatnonzero(self.variant == variant)
        keys = self.pairs[target, 0].astype(np.int64) * n + self.pairs[target, 1]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        want = pairs[:, 0].astype(np.int64) * n + pairs[:, 1]
        at = np.searchsorted(sorted_keys, want)
        found = at < len(sorted_keys)
        found[found] = sorted_keys[at[found]] == want[found]
        if not found.all():
            raise ValueError(
                f"{int((~found).sum())} of the {len(pairs)} pairs are not in X in variant "
                f"{variant}"
            )
        return target[order[at]]

    def primary_variant(self) -> int:
        """The variant that region splitters fold: 0 if present, else the only one.

        Raises
        ------
        ValueError
            If the view holds several null variants but not the true data.
        """
        present = np.unique(self.variant)
        if present.size == 0 or present[0] == 0:
            return 0
        if present.size == 1:
            return int(present[0])
        raise ValueError(
            f"X mixes null variants {present[:5].tolist()} without the true data; "
            "select one variant before splitting"
        )

    def with_features(self, features, feature_names=None) -> RegionPairs:
        """Same pairs and variants over a new (R, F') region feature table.

        Region-level transformers use this: transforming the table row-wise
        commutes with the variants' row permutations.

        Parameters
        ----------
        features : ndarray of shape (R, F')
        feature_names : array-like of shape (F',), default=None

        Returns
        -------
        RegionPairs
        """
        features = np.asarray(features, dtype=float)
        if features.ndim != 2 or features.shape[0] != self._table.features.shape[0]:
            raise ValueError(
                f"features must have shape ({self._table.features.shape[0]}, F'), "
                f"got {features.shape}"
            )
        if not np.isfinite(features).all():
            raise ValueError("features must be finite (no NaN or inf)")
        if feature_names is None:
            feature_names = pd.Index([f"f{k}" for k in range(features.shape[1])])
        feature_names = pd.Index(feature_names).astype(str)
        if len(feature_names) != features.shape[1]:
            raise ValueError(
                f"feature_names must have one name per feature column ({features.shape[1]}), "
                f"got {len(feature_names)}"
            )
        table = _RegionTable(features, feature_names, self._table.regions, self._table.variants)
        return RegionPairs._view(table, self.pairs, self.variant)

    def to_dense(self, *, coords: bool = False) -> np.ndarray:
        """Materialise the (P, 2F) matrix ``[f_i, f_j]`` (for small data only).

        Parameters
        ----------
        coords : bool, default=False
            Append each region's centroid to its block: ``[f_i, xyz_i, f_j, xyz_j]``.

        Returns
        -------
        ndarray of shape (P, 2F) or (P, 2F + 6)
        """
        left, right = self.pair_features()
        if coords:
            ci, cj = self.pair_coords()
            return np.hstack([left, ci, right, cj])
        return np.hstack([left, right])

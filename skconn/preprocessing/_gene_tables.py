"""Gene-table steps: transformers of one (n_regions, G) expression table, and gene stability.

The public gene transformers in :mod:`._genes` fit one of these on the table of
the regions of X and apply it to every region; they remember gene names, check
them in ``transform`` and choose, scale or reorder gene columns.
"""

from __future__ import annotations

import itertools
from numbers import Integral

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._arguments import check_random_state

__all__ = ["differential_stability"]

_IQR_TO_SD = 1.3489795003921634  # IQR of a standard normal (scipy.stats.iqr scale="normal")


# --------------------------------------------------------------------------- inner transformers
# The public classes of ._genes are RegionTransformer-style wrappers: each fits one of
# these on the (n_regions, G) table of the regions of X and applies it to every region.
class _GeneTableTransformer(TransformerMixin, BaseEstimator):
    """A transformer of one (n_regions, G) gene table: remembers its gene names in
    fit and checks them in transform."""

    def _start_fit(self, table):
        if isinstance(table, pd.DataFrame):
            self.feature_names_in_ = np.asarray(table.columns.astype(str), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        values = np.asarray(table, dtype=float)
        self.n_features_in_ = values.shape[1]
        return values

    def _check_table(self, table):
        check_is_fitted(self)
        values = np.asarray(table, dtype=float)
        if values.ndim != 2 or values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"expected {self.n_features_in_} genes per region, got shape {values.shape}"
            )
        names = getattr(self, "feature_names_in_", None)
        if isinstance(table, pd.DataFrame) and names is not None:
            if not np.array_equal(table.columns.astype(str), names):
                raise ValueError("the genes of X differ from those seen in fit (names or order)")
        return values

    def _names_in(self):
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return np.asarray([f"x{k}" for k in range(self.n_features_in_)], dtype=object)
        return names

    def _require_names(self, what: str) -> None:
        """Refuse a name-based criterion on genes known only by position."""
        if getattr(self, "feature_names_in_", None) is None:
            raise ValueError(
                f"{what} works on gene names, but X has none (a plain matrix): pass a "
                "RegionPairs, or a DataFrame whose columns are <gene>_i then <gene>_j"
            )


class _ColumnChoice(_GeneTableTransformer):
    """Transform = keep the columns ``columns_`` (chosen in fit), in that order."""

    def transform(self, table):
        return self._check_table(table)[:, self.columns_]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return self._names_in()[self.columns_]


def differential_stability(donor_expression, regions=None) -> pd.Series:
    """Differential stability of each gene: mean Spearman r over donor pairs.

    The correlation of a gene's regional profile between two donors, averaged
    over all donor pairs, as :func:`abagen.correct.keep_stable_genes` computes
    it: each donor's values are ranked over the regions it covers (optionally
    only ``regions``), then the ranks are Pearson-correlated over the regions
    both donors cover (Spearman's rho when they cover the same regions).

    Parameters
    ----------
    donor_expression : dict or list of pandas.DataFrame of shape (R, G)
        One region table per donor (regions as index, genes as columns), e.g.
        ``fetch_ahba_expression(..., return_donors=True)``.
    regions : array-like of str, default=None
        Region labels to compute it over (the training regions); all by default.

    Returns
    -------
    pandas.Series of shape (G,)
        Indexed by gene; NaN where no donor pair has two shared regions.

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.preprocessing import differential_stability
    >>> a = pd.DataFrame({"G1": [1, 2, 3, 4], "G2": [1, 2, 3, 4]}, index=list("pqrs"))
    >>> b = pd.DataFrame({"G1": [2, 3, 5, 9], "G2": [4, 3, 2, 1]}, index=list("pqrs"))
    >>> differential_stability([a, b]).tolist()
    [1.0, -1.0]
    """
    if isinstance(donor_expression, dict):
        tables = list(donor_expression.values())
    elif isinstance(donor_expression, (list, tuple)):
        tables = list(donor_expression)
    else:
        raise TypeError(
            "donor_expression must be a dict or list of pandas DataFrames, got "
            f"{type(donor_expression).__name__}"
        )
    if not all(isinstance(t, pd.DataFrame) for t in tables):
        kinds = sorted({type(t).__name__ for t in tables if not isinstance(t, pd.DataFrame)})
        raise TypeError(f"donor_expression must hold one pandas DataFrame per donor, got {kinds}")
    if any(not t.index.is_unique for t in tables):
        raise ValueError("donor_expression tables must have unique region labels (index)")
    if len(tables) < 2:
        raise ValueError(f"differential stability needs at least two donors, got {len(tables)}")
    genes = tables[0].columns
    if any(not t.columns.equals(genes) for t in tables[1:]):
        raise ValueError("every donor table must have the same genes in the same order")
    if regions is not None:
        if isinstance(regions, str) or np.ndim(regions) != 1:
            raise TypeError(f"regions must be a 1-D array-like of region labels, got {regions!r}")
        wanted = pd.Index(np.asarray(regions).astype(str))
        tables = [t.set_axis(t.index.astype(str), axis=0) for t in tables]
        tables = [t.loc[t.index.intersection(wanted)] for t in tables]
    # like abagen: rank each donor's regions, then correlate over the shared ones
    ranked = [t.rank() for t in tables]
    pair_r = []
    for first, second in itertools.combinations(ranked, 2):
        shared = first.dropna(how="all").index.intersection(second.dropna(how="all").index)
        if len(shared) < 2:
            pair_r.append(np.full(len(genes), np.nan))
            continue
        a = first.loc[shared].to_numpy(dtype=float, copy=True)
        b = second.loc[shared].to_numpy(dtype=float, copy=True)
        a -= a.mean(axis=0)
        b -= b.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            pair_r.append((a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0)))
    values = np.asarray(pair_r)
    counts = np.isfinite(values).sum(axis=0)
    mean = np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), np.nan)
    return pd.Series(mean, index=genes.astype(str), name="stability")


def _check_donor_labels(donor_expression, regions) -> None:
    """Refuse donor tables sharing fewer than two training regions in any donor pair.

    Their stability would be NaN for every gene: almost always tables indexed
    by something other than the region labels of X (atlas ids, positions).
    """
    if isinstance(donor_expression, dict):
        donor_expression = donor_expression.values()
    tables = list(donor_expression)
    training = pd.Index(np.asarray(regions).astype(str))
    covered = [training.intersection(t.dropna(how="all").index.astype(str)) for t in tables]
    shared = max(len(a.intersection(b)) for a, b in itertools.combinations(covered, 2))
    if shared < 2:
        examples = list(tables[0].index[:3])
        raise ValueError(
            f"the donor tables of stability share {shared} of the {len(training)} training "
            f"regions of X in any donor pair (at least 2 needed): their index must be the "
            f"region labels of X (e.g. {list(training[:3])}), got e.g. {examples}"
        )


class _GeneSubset(_ColumnChoice):
    def __init__(self, genes, n_top_variance, stability, min_stability, regions):
        self.genes = genes
        self.n_top_variance = n_top_variance
        self.stability = stability
        self.min_stability = min_stability
        self.regions = regions

    def fit(self, table, y=None):
        values = self._start_fit(table)
        if self.genes is not None:
            self._require_names("GeneSelector(genes=...)")
        if self.stability is not None:
            self._require_names("GeneSelector(stability=...)")
        names = pd.Index(self._names_in())
        keep = np.ones(len(names), dtype=bool)
        if self.genes is not None:
            keep &= names.isin(pd.Index(np.asarray(self.genes).astype(str)))
            if not keep.any():
                raise ValueError(f"none of the {len(self.genes)} requested genes is in X")
        if self.stability is not None:
            if isinstance(self.stability, pd.Series):
                try:
                    stability = self.stability.astype(float)
                except (TypeError, ValueError) as exc:
                    raise ValueError("stability must hold numbers (one per gene)") from exc
                stability = stability.set_axis(stability.index.astype(str)).reindex(names)
            else:
                stability = differential_stability(self.stability, self.regions)
                if self.regions is not None:
                    _check_donor_labels(self.stability, self.regions)
                stability = stability.reindex(names)
            self.stability_ = stability
            keep &= (stability >= self.min_stability).to_numpy()
        if self.n_top_variance is not None:
            variance = np.where(keep, values.var(axis=0), -np.inf)
            top = np.argsort(-variance, kind="stable")[: min(self.n_top_variance, keep.sum())]
            keep = np.isin(np.arange(len(names)), top)
        if not keep.any():
            raise ValueError("no gene passes the selection")
        self.columns_ = np.flatnonzero(keep)
        return self


class _RobustSigmoid(_GeneTableTransformer):
    def __init__(self, clip):
        self.clip = clip

    def fit(self, table, y=None):
        values = self._start_fit(table)
        self.median_ = np.median(values, axis=0)
        q75, q25 = np.percentile(values, [75, 25], axis=0)
        iqr = (q75 - q25) / _IQR_TO_SD
        self.scale_ = np.where(iqr > 0, iqr, 1.0)
        sigmoid = self._sigmoid(values)
        self.sigmoid_min_ = sigmoid.min(axis=0)
        self.sigmoid_range_ = sigmoid.max(axis=0) - self.sigmoid_min_
        self.sigmoid_range_[self.sigmoid_range_ == 0] = 1.0
        return self

    def _sigmoid(self, values):
        return 1.0 / (1.0 + np.exp(-(values - self.median_) / self.scale_))

    def transform(self, table):
        values = self._check_table(table)
        scaled = (self._sigmoid(values) - self.sigmoid_min_) / self.sigmoid_range_
        return np.clip(scaled, 0.0, 1.0) if self.clip else scaled

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return self._names_in()


def _zscore_genes(values: np.ndarray) -> np.ndarray:
    """(G, n) gene profiles over regions, z-scored (constant genes -> 0)."""
    profiles = values.T - values.T.mean(axis=1, keepdims=True)
    sd = profiles.std(axis=1, keepdims=True)
    return np.divide(profiles, sd, out=np.zeros_like(profiles), where=sd > 0)


def _balanced_kmeans(z: np.ndarray, bin_size: int, random_state, n_iter: int = 50) -> np.ndarray:
    """Bin index of each of the G rows of ``z``: bins of exactly ``bin_size`` rows
    (the last one the remainder), by k-means with a greedy capacity-constrained
    assignment (rows closest to a centre are placed first)."""
    from sklearn.cluster import kmeans_plusplus

    n_genes = len(z)
    n_bins = -(-n_genes // bin_size)
    capacity = np.full(n_bins, bin_size)
    capacity[-1] = n_genes - bin_size * (n_bins - 1)
    centres, _ = kmeans_plusplus(z, n_bins, random_state=random_state)
    assignment = np.full(n_genes, -1)
    for _ in range(n_iter):
        distance = cdist(z, centres, "sqeuclidean")
        preference = np.argsort(distance, axis=1, kind="stable")
        free = capacity.copy()
        new = np.empty(n_genes, dtype=int)
        for gene in np.argsort(distance.min(axis=1), kind="stable"):
            for centre in preference[gene]:
                if free[centre]:
                    free[centre] -= 1
                    new[gene] = centre
                    break
        if np.array_equal(new, assignment):
            break
        assignment = new
        centres = np.vstack([z[assignment == b].mean(axis=0) for b in range(n_bins)])
    return assignment


def _by_name(method) -> bool:
    """Whether a gene order needs gene names: "tss" or an array of symbols."""
    if isinstance(method, str):
        return method == "tss"
    order = np.asarray(method).ravel().tolist()
    return not all(isinstance(v, Integral) for v in order)


class _GenePermutation(_ColumnChoice):
    def __init__(self, method, bin_size, random_state):
        self.method = method
        self.bin_size = bin_size
        self.random_state = random_state

    def fit(self, table, y=None):
        from ..datasets._tss import gene_order

        values = self._start_fit(table)
        names = self._names_in()
        mean = values.mean(axis=0)
        if isinstance(self.method, str) and self.method == "hierarchical":
            if len(names) < 2:
                order = np.arange(len(names))
            else:
                tree = linkage(_zscore_genes(values), method="average", metric="euclidean")
                order = leaves_list(tree)
        elif isinstance(self.method, str) and self.method == "kmeans_bins":
            bins = _balanced_kmeans(
                _zscore_genes(values), self.bin_size, check_random_state(self.random_state)
            )
            # bins by mean expression, a smaller remainder bin last so that SMT
            # tokens of bin_size genes each cover exactly one bin
            bin_mean = pd.Series(mean).groupby(bins).mean()
            short = np.bincount(bins) < self.bin_size
            bin_rank = np.lexsort((bin_mean.to_numpy(), short)).argsort()
            order = np.lexsort((np.arange(len(names)), mean, bin_rank[bins]))
            self.bins_ = bin_rank[bins][order]
        else:
            if _by_name(self.method):
                self._require_names(
                    "GeneOrder('tss')" if isinstance(self.method, str) else "GeneOrder(<symbols>)"
                )
            order = gene_order(
                names, self.method, expression=values, random_state=self.random_state
            )
        self.columns_ = np.asarray(order, dtype=np.intp)
        return self


# --------------------------------------------------------------------------- public transformers

"""Gene tools as region-level transformers: selection, robust-sigmoid scaling, ordering."""

from __future__ import annotations

import itertools
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._arguments import check_random_state
from ..pairs import RegionPairs
from ._region import _BaseRegionTransformer

__all__ = ["GeneOrder", "GeneSelector", "RobustSigmoidScaler", "differential_stability"]

_IQR_TO_SD = 1.3489795003921634  # IQR of a standard normal (scipy.stats.iqr scale="normal")


# --------------------------------------------------------------------------- inner transformers
# The public classes below are RegionTransformer-style wrappers: each fits one of
# these on the (n_regions, G) table of the regions of X and applies it to every region.
class _RegionTable(TransformerMixin, BaseEstimator):
    """Remember the gene names of the fitted table and check them in transform."""

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


class _ColumnChoice(_RegionTable):
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
        raise TypeError(
            f"donor_expression must hold one pandas DataFrame per donor, got {kinds}"
        )
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


class _RobustSigmoid(_RegionTable):
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
class _GeneTransformer(_BaseRegionTransformer):
    """A region-level gene transformer; exposes the inner one's fitted attributes."""

    def _inner(self):
        return self._fitted_transformer()

    def fit(self, X, y=None):
        """Fit on the regions present in X.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2G)
            Region pairs; only the regions they use are looked at.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        # labels of the feature-table rows the pairs read: the training regions
        self._fit_regions = None
        if isinstance(X, RegionPairs) and len(X):
            rows = np.unique(np.concatenate(X.feature_rows()))
            self._fit_regions = X.labels[rows]
        try:
            return super().fit(X, y)
        finally:
            del self._fit_regions


class GeneSelector(_GeneTransformer):
    """Keep a subset of genes, chosen on the regions of X.

    The criteria apply in this order: a gene list, a differential-stability
    threshold, then the most variable genes across the fitted (training)
    regions. With none of them every gene is kept.

    ``genes`` and ``stability`` go by gene name: X must be a ``RegionPairs``
    or a DataFrame whose columns are ``<gene>_i`` then ``<gene>_j`` (the names
    of :meth:`get_feature_names_out`); a plain matrix is refused.

    Parameters
    ----------
    genes : array-like of str, default=None
        Gene symbols to keep (those absent from X are ignored; X's order is kept).
    n_top_variance : int, default=None
        Keep the ``n_top_variance`` genes with the highest variance across the
        regions of X (among those the other criteria keep).
    stability : pandas.Series or dict/list of pandas.DataFrame, default=None
        Differential stability: a precomputed gene -> value Series (e.g. the
        second output of ``fetch_ahba_expression(..., return_stability=True)``),
        or per-donor (R, G) tables indexed by region label, from which it is
        computed over the regions of X only, i.e. the training regions
        (:func:`differential_stability`; over every donor region when X is a
        dense matrix, which carries no region labels). Fitting on a
        ``RegionPairs`` raises when no donor pair shares two training regions
        (tables indexed by atlas id or position rather than by label).
    min_stability : float, default=0.2
        Keep genes whose stability is at least this (the paper's "stable r 0.2").

    Attributes
    ----------
    transformer_ : object
        The fitted region-level selector.
    support_ : ndarray of bool of shape (G,)
        Which input genes are kept.
    stability_ : pandas.Series of shape (G,)
        Stability of every input gene, when ``stability`` is given.
    n_features_in_ : int
        Columns of the dense input, 2G.

    See Also
    --------
    RobustSigmoidScaler, GeneOrder, RegionTransformer

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.preprocessing import GeneSelector
    >>> X, y = make_pairs(make_toy_connectome(8, 6))
    >>> Xt = GeneSelector(genes=["GENE1", "GENE4", "OTHER"]).fit_transform(X)
    >>> Xt.feature_names.tolist()
    ['GENE1', 'GENE4']
    >>> GeneSelector(n_top_variance=3).fit(X).transform(X).n_features
    3

    Differential stability from per-donor tables (e.g. ``fetch_ahba_expression(...,
    return_donors=True)``), computed over the training regions only:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = make_toy_connectome(8, 6).expression
    >>> donors = {d: truth + rng.normal(scale=0.01, size=truth.shape) for d in "ab"}
    >>> donors["b"]["GENE0"] = -donors["b"]["GENE0"]   # a gene the donors disagree on
    >>> train = X[(X.pairs < 6).all(axis=1)]
    >>> selector = GeneSelector(stability=donors, min_stability=0.5).fit(train)
    >>> selector.stability_.round(2).tolist()
    [-1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    >>> selector.transform(X).feature_names.tolist()
    ['GENE1', 'GENE2', 'GENE3', 'GENE4', 'GENE5']
    """

    _parameter_constraints: ClassVar[dict] = {
        "genes": ["array-like", None],
        "n_top_variance": [Interval(Integral, 1, None, closed="left"), None],
        "stability": [pd.Series, dict, list, None],
        "min_stability": [Interval(Real, -1, 1, closed="both")],
    }

    def __init__(self, genes=None, *, n_top_variance=None, stability=None, min_stability=0.2):
        self.genes = genes
        self.n_top_variance = n_top_variance
        self.stability = stability
        self.min_stability = min_stability

    def _make_transformer(self):
        return _GeneSubset(
            self.genes,
            self.n_top_variance,
            self.stability,
            self.min_stability,
            getattr(self, "_fit_regions", None),
        )

    @property
    def support_(self):
        inner = self._inner()
        return np.isin(np.arange(inner.n_features_in_), inner.columns_)

    @property
    def stability_(self):
        return self._inner().stability_


class RobustSigmoidScaler(_GeneTransformer):
    """Scaled robust sigmoid of each gene across regions, fitted on the regions of X.

    ``s(x) = 1 / (1 + exp(-(x - median) / (IQR / 1.349)))``, then min-max scaled
    so that the fitted regions span [0, 1] (abagen's ``srs``, the appendix's
    within-donor normalisation, applied per gene across regions). Median, IQR and
    the min/max come from the fitted (training) regions; other regions may fall
    slightly outside [0, 1] unless ``clip=True``.

    Parameters
    ----------
    clip : bool, default=False
        Clip transformed values to [0, 1].

    Attributes
    ----------
    transformer_ : object
        Fitted region-level scaler with ``median_``, ``scale_`` (IQR / 1.349; 1
        for a gene with zero IQR), ``sigmoid_min_`` and ``sigmoid_range_``.
    n_features_in_ : int
        Columns of the dense input, 2G.

    See Also
    --------
    GeneSelector, GeneOrder

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.preprocessing import RobustSigmoidScaler
    >>> X, y = make_pairs(make_toy_connectome(8, 3))
    >>> features = RobustSigmoidScaler().fit_transform(X).region_features()
    >>> features.min(axis=0).tolist(), features.max(axis=0).tolist()
    ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    """

    _parameter_constraints: ClassVar[dict] = {"clip": ["boolean"]}

    def __init__(self, *, clip=False):
        self.clip = clip

    def _make_transformer(self):
        return _RobustSigmoid(self.clip)


class GeneOrder(_GeneTransformer):
    """Reorder genes (columns), e.g. for Spatiomolecular Transformer tokenisation.

    The SMT cuts each region's gene vector into contiguous chunks of t genes, so
    the order decides which genes share a token. ``"tss"`` and an order by gene
    symbol need gene names: X must be a ``RegionPairs`` or a DataFrame whose
    columns are ``<gene>_i`` then ``<gene>_j``; a plain matrix is refused.

    Parameters
    ----------
    method : str or array-like, default="tss"
        - ``"tss"``: by chromosome then transcription start site (hg38, the
          5' end; see Notes), the published SMT order up to minus-strand
          details (:func:`skconn.datasets._tss.gene_order`); genes without a
          known TSS go last, in input order.
        - ``"expression"``: ascending mean expression over the fitted regions.
        - ``"random"``: a permutation drawn from ``random_state``.
        - ``"hierarchical"``: leaf order of average-linkage hierarchical
          clustering of the genes' regional profiles (z-scored, so the distance
          is a correlation distance) over the fitted regions: co-expressed genes
          end up adjacent.
        - ``"kmeans_bins"``: co-expression bins of exactly ``bin_size`` genes
          (a last bin takes the remainder) by k-means with a greedy balanced
          assignment on the z-scored profiles; bins in ascending mean
          expression (the remainder bin last), genes within a bin too. With
          ``bin_size`` equal to the SMT token size each token is one
          co-expression cluster.
        - an array of gene symbols or integer positions: that order.
    bin_size : int, default=60
        Genes per bin for ``"kmeans_bins"``.
    random_state : int, RandomState instance or None, default=None
        For ``"random"`` and the k-means initialisation.

    Attributes
    ----------
    transformer_ : object
        The fitted region-level permutation.
    order_ : ndarray of shape (G,)
        Input position of each output gene.
    bins_ : ndarray of shape (G,)
        Only for ``"kmeans_bins"``: the bin of each output gene (0, 0, ..., 1, ...).
    n_features_in_ : int
        Columns of the dense input, 2G.

    See Also
    --------
    GeneSelector, RobustSigmoidScaler

    Notes
    -----
    ``"tss"`` sorts each gene by its transcription start site, the 5' end (the
    higher coordinate of a minus-strand gene), not by the lower coordinate of
    its span. The published ``human_refgenome_ordered.csv`` may use the latter,
    so the two orders may differ locally around minus-strand genes (not
    verified; see :func:`skconn.datasets.gene_order`).

    Examples
    --------
    >>> import pandas as pd
    >>> from skconn.datasets import Connectome, make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.preprocessing import GeneOrder
    >>> toy = make_toy_connectome(6, 3)
    >>> genes = toy.expression.set_axis(["PVALB", "GAD1", "SST"], axis=1)
    >>> X, y = make_pairs(Connectome(toy.regions, genes, toy.connectivity))
    >>> GeneOrder("tss").fit_transform(X).feature_names.tolist()  # chr2, chr3, chr22
    ['GAD1', 'SST', 'PVALB']
    """

    _parameter_constraints: ClassVar[dict] = {
        "method": [
            StrOptions({"tss", "expression", "random", "hierarchical", "kmeans_bins"}),
            "array-like",
        ],
        "bin_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, method="tss", *, bin_size=60, random_state=None):
        self.method = method
        self.bin_size = bin_size
        self.random_state = random_state

    def _make_transformer(self):
        return _GenePermutation(self.method, self.bin_size, self.random_state)

    @property
    def order_(self):
        return self._inner().columns_

    @property
    def bins_(self):
        return self._inner().bins_

"""Gene tools as region-level transformers: selection, robust-sigmoid scaling, ordering."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from ..pairs import RegionPairs
from ._gene_tables import _GenePermutation, _GeneSubset, _RobustSigmoid
from ._region import _BaseRegionTransformer

__all__ = ["GeneOrder", "GeneSelector", "RobustSigmoidScaler"]


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
          details (:func:`skconn.datasets.gene_order`); genes without a
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

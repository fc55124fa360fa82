"""Region-level transformers: fit on the regions of X, transform the region table."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from .._arguments import naming_argument
from .._persistence import VersionedStateMixin
from ..pairs import RegionPairs
from ._output import PairOutputMixin

__all__ = ["RegionPCA", "RegionTransformer"]


def _split_halves(estimator, X: np.ndarray) -> int:
    """Number of features per region, F, of a dense (P, 2F) pair matrix."""
    n_columns = X.shape[1]
    if n_columns % 2:
        raise ValueError(
            f"X has {n_columns} feature(s), but a dense region-pair matrix has an even number "
            f"of columns ([features of region i, features of region j]); "
            f"{type(estimator).__name__} needs one of those or a RegionPairs"
        )
    return n_columns // 2


def _region_names(pair_names, n_features: int):
    """Region-level names of dense pair columns named ``<name>_i`` then ``<name>_j``.

    The naming of :meth:`get_feature_names_out` (and so of a DataFrame built from
    a transformed pair matrix); None for other or no column names.
    """
    if pair_names is None:
        return None
    first, second = list(pair_names[:n_features]), list(pair_names[n_features:])
    if not all(str(n).endswith("_i") for n in first) or not all(
        str(n).endswith("_j") for n in second
    ):
        return None
    names = [str(n)[:-2] for n in first]
    if names != [str(n)[:-2] for n in second]:
        return None
    return names


def _with_names(transformer, features: np.ndarray, names=None):
    """Region features as the fitted ``transformer`` expects them: named if it was fitted so."""
    fitted_names = getattr(transformer, "feature_names_in_", None)
    if fitted_names is None:
        return features
    return pd.DataFrame(features, columns=fitted_names if names is None else names, copy=False)


class _BaseRegionTransformer(VersionedStateMixin, PairOutputMixin, TransformerMixin, BaseEstimator):
    """Fit a region-level transformer on the regions of X; apply it to every region.

    Subclasses say which scikit-learn transformer to fit (``_make_transformer``)
    and under which attribute the fitted one lives (``_fitted_attribute``).
    """

    _fitted_attribute = "transformer_"

    def _make_transformer(self):
        raise NotImplementedError

    def _fitted_transformer(self):
        check_is_fitted(self, self._fitted_attribute)
        return getattr(self, self._fitted_attribute)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the region-level transformer on the regions present in X.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)
            Region pairs. For a ``RegionPairs`` only the feature-table rows its
            pairs read are used (the training regions, as each variant shows
            them); for a dense matrix, its distinct half-rows. A DataFrame
            whose columns are ``<name>_i`` then ``<name>_j`` (the names of
            :meth:`get_feature_names_out`) names the region features ``<name>``.
        y : None
            Ignored (targets are per pair, the transformer is per region).

        Returns
        -------
        self : object
            Fitted transformer.
        """
        transformer = self._make_transformer()
        if isinstance(X, RegionPairs):
            if len(X) == 0:
                raise ValueError(
                    f"X: Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                    f"required by {type(self).__name__}."
                )
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            rows = np.unique(np.concatenate(X.feature_rows()))
            # Gene names travel with the table so that name-based transformers
            # (column selection) work and transform can check the genes match.
            table = pd.DataFrame(X.feature_table[rows], columns=X.feature_names, copy=False)
            transformer.fit(table)
        else:
            with naming_argument("X"):
                X = validate_data(self, X, dtype=float)
            n_features = _split_halves(self, X)
            halves = np.unique(np.vstack([X[:, :n_features], X[:, n_features:]]), axis=0)
            # a DataFrame with <name>_i/<name>_j columns names its region features
            names = _region_names(getattr(self, "feature_names_in_", None), n_features)
            transformer.fit(halves if names is None else pd.DataFrame(halves, columns=names))
        setattr(self, self._fitted_attribute, transformer)
        return self

    def transform(self, X):
        """Transform the features of every region.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)

        Returns
        -------
        RegionPairs or ndarray of shape (P, 2F')
            For a ``RegionPairs``, the same pairs and variants over the
            transformed (R, F') region table (every region of the table, also
            those absent from X); for a dense matrix, ``[t(f_i), t(f_j)]``
            (a DataFrame with ``<feature>_i``/``<feature>_j`` columns under
            ``set_output(transform="pandas")``; a ``RegionPairs`` stays one).
        """
        transformer = self._fitted_transformer()
        if isinstance(X, RegionPairs):
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features ({X.n_features} per region), but "
                    f"{type(self).__name__} is expecting {self.n_features_in_} features "
                    f"as input ({self.n_features_in_ // 2} per region)"
                )
            table = _with_names(transformer, X.feature_table, X.feature_names)
            new_table = np.asarray(transformer.transform(table), dtype=float)
            return X.with_features(new_table, self._region_feature_names_out(transformer))
        original = X
        with naming_argument("X"):
            X = validate_data(self, X, dtype=float, reset=False)
        n_features = _split_halves(self, X)
        # Both halves are in the column order of the region features it was fitted on.
        left = transformer.transform(_with_names(transformer, X[:, :n_features]))
        right = transformer.transform(_with_names(transformer, X[:, n_features:]))
        out = np.hstack([np.asarray(left, dtype=float), np.asarray(right, dtype=float)])
        return self._wrap_output(out, original)

    @staticmethod
    def _region_feature_names_out(transformer):
        if hasattr(transformer, "get_feature_names_out"):
            return np.asarray(transformer.get_feature_names_out(), dtype=object)
        return None

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns of the dense pair matrix.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input seen in ``fit``; region feature
            names come from the fitted region-level transformer.

        Returns
        -------
        ndarray of str objects of shape (2F',)
            The region-level output names suffixed ``_i`` (first region) then
            ``_j`` (second region).
        """
        transformer = self._fitted_transformer()
        _check_feature_names_in(self, input_features, generate_names=False)
        names = self._region_feature_names_out(transformer)
        if names is None:
            raise AttributeError(
                f"{type(transformer).__name__} has no get_feature_names_out; "
                "output feature names are unavailable"
            )
        return np.asarray([f"{n}_i" for n in names] + [f"{n}_j" for n in names], dtype=object)


class RegionTransformer(_BaseRegionTransformer):
    """Apply any scikit-learn transformer to regions, fitted on the regions of X.

    The wrapped transformer sees a (n, F) matrix of region features: ``fit``
    uses the regions present in X only (for a :class:`~skconn.pairs.RegionPairs`,
    the distinct feature-table rows its pairs read, so a null variant's rows
    count as the expression they show), which inside cross-validation means the
    training regions only: no transductive leakage into test regions.
    ``transform`` applies it to the whole region table and returns the same pairs
    and variants over the new table, so it composes with the pair estimators in
    a :class:`~sklearn.pipeline.Pipeline`.

    A dense (P, 2F) matrix ``[f_i, f_j]`` is accepted too: the transformer is
    fitted on its distinct half-rows and applied to each half.

    Parameters
    ----------
    transformer : estimator object
        A scikit-learn transformer (``fit`` and ``transform``) working on
        (n_regions, F) region features, e.g. ``StandardScaler()`` or ``PCA(10)``.
        It is cloned in ``fit``; its parameters tune as ``transformer__<name>``.

    Attributes
    ----------
    transformer_ : estimator object
        The clone fitted on the regions of X. Fitted on a ``RegionPairs``, it saw
        a DataFrame whose columns are the feature names (gene symbols): it can
        select genes by name, and ``transform`` checks that the genes match.
    n_features_in_ : int
        Columns of the dense input, 2F.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, only when fitted on a DataFrame with string column names.

    Notes
    -----
    With ``set_output(transform="pandas")`` a dense pair matrix comes back as a
    DataFrame whose columns are ``<feature>_i`` then ``<feature>_j``
    (:meth:`get_feature_names_out`). A ``RegionPairs`` comes back as a
    ``RegionPairs``, whose ``feature_names`` name the region features: turning
    it into a (P, 2F') table would drop the region structure that region
    splitters, null variants and the pair models use. So a whole pipeline can
    be set to pandas output without changing what its models see.

    See Also
    --------
    RegionPCA : PCA of regions fitted on the regions of X.
    skconn.pairs.RegionPairs.with_features : The same pairs over a new region table.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.preprocessing import RegionTransformer
    >>> X, y = make_pairs(make_toy_connectome(6, 4))
    >>> train = X[(X.pairs < 4).all(axis=1)]  # the pairs among regions 0-3
    >>> scaler = RegionTransformer(StandardScaler()).fit(train)
    >>> np.allclose(scaler.transformer_.mean_, X.region_features([0, 1, 2, 3]).mean(axis=0))
    True
    >>> Xt = scaler.transform(X)  # every region of the table, the same pairs
    >>> Xt
    RegionPairs(n_pairs=30, n_regions=6, n_features=4, n_variants=1)
    >>> np.allclose(Xt.region_features([0, 1, 2, 3]).mean(axis=0), 0)
    True
    >>> Xt.feature_names.tolist()
    ['GENE0', 'GENE1', 'GENE2', 'GENE3']
    """

    _parameter_constraints: ClassVar[dict] = {"transformer": [HasMethods(["fit", "transform"])]}

    def __init__(self, transformer):
        self.transformer = transformer

    def _make_transformer(self):
        return clone(self.transformer)


class RegionPCA(_BaseRegionTransformer):
    """Principal components of region features, fitted on the regions of X.

    A :class:`RegionTransformer` around :class:`sklearn.decomposition.PCA`: the
    components are learnt from the regions present in X only (training regions
    inside cross-validation) and every region of the table is projected on them.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Components to keep: an int, a fraction of explained variance in (0, 1)
        (the fewest components that explain more than it), or all of them
        (``min(n_regions, F)``) with ``None``; scikit-learn's PCA semantics.
    whiten : bool, default=False
        Scale the components to unit variance over the fitted regions.
    random_state : int, RandomState instance or None, default=None
        Seed of PCA's randomized or ARPACK solvers.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
        The PCA fitted on the regions of X (on a DataFrame named by gene, as
        ``RegionTransformer.transformer_``).
    n_components_ : int
        Components kept.
    explained_variance_ratio_ : ndarray of shape (`n_components_`,)
        Fraction of the fitted regions' variance each component explains.
    n_features_in_ : int
        Columns of the dense input, 2F.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, only when fitted on a DataFrame with string column names.

    See Also
    --------
    RegionTransformer : The same for any scikit-learn transformer.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.preprocessing import RegionPCA
    >>> X, y = make_pairs(make_toy_connectome(12, 8))
    >>> pca = RegionPCA(n_components=3).fit(X)
    >>> Xt = pca.transform(X)
    >>> Xt.shape, Xt.feature_names.tolist()
    ((132, 6), ['pca0', 'pca1', 'pca2'])
    >>> pca = RegionPCA(n_components=0.9).fit(X)  # keep 90% of the variance
    >>> int(pca.n_components_), bool(pca.explained_variance_ratio_.sum() > 0.9)
    (5, True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            None,
        ],
        "whiten": ["boolean"],
        "random_state": ["random_state"],
    }
    _fitted_attribute = "pca_"

    def __init__(self, n_components=None, *, whiten=False, random_state=None):
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state

    def _make_transformer(self):
        return PCA(
            n_components=self.n_components, whiten=self.whiten, random_state=self.random_state
        )

    def fit(self, X, y=None):
        """Fit the PCA on the regions present in X.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        super().fit(X, y)
        self.n_components_ = self.pca_.n_components_
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        return self

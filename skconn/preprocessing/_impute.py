"""Imputing unsampled regions' expression from training regions only."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._persistence import VersionedStateMixin
from ..datasets._impute import _METHODS, _impute_rows
from ..pairs import RegionPairs
from ._output import PairOutputMixin

__all__ = ["RegionImputer"]


def _require_pairs(estimator, X) -> RegionPairs:
    if not isinstance(X, RegionPairs):
        raise TypeError(
            f"{type(estimator).__name__} needs region coordinates: X must be a RegionPairs "
            f"(skconn.pairs.make_pairs), got {type(X).__name__}"
        )
    return X


class RegionImputer(VersionedStateMixin, PairOutputMixin, TransformerMixin, BaseEstimator):
    """Re-impute unsampled regions' expression from the training regions only.

    :func:`skconn.datasets.impute_missing_regions` fills regions without AHBA
    samples from every sampled region, test regions included. Inside a
    cross-validation pipeline this transformer instead learns from the sampled
    regions present in the X it is fitted on (the training regions) and, in
    ``transform``, replaces the features of every missing region (training or
    test) by the same mirror/nearest-neighbour estimate computed from those
    regions alone. Sampled regions keep their own expression.

    Parameters
    ----------
    method : {"mirror_nearest", "mirror", "nearest"}, default="mirror_nearest"
        As in :func:`~skconn.datasets.impute_missing_regions`.
    k : int, default=10
        Neighbours for ``"nearest"``.
    missing : array-like of str or bool, default=None
        The regions without samples: labels, or a boolean mask over the region
        table (``[]`` for none). None reads the boolean ``sampled`` column that
        ``make_pairs(connectome, missing="impute")`` adds to ``X.regions``;
        without that column fitting raises, since the features of X are finite
        (already imputed, or never missing) and cannot tell.

    Attributes
    ----------
    donors_ : ndarray of shape (n_donors,)
        Region indices the estimates are computed from (sampled regions of X).
    donor_features_ : ndarray of shape (n_donors, F)
        Their features (null variants: the true expression, variant 0).
    n_features_in_ : int
        Columns of the dense pair matrix, 2F.

    Notes
    -----
    ``make_pairs(connectome, missing="impute")`` fills the missing rows first
    (so that the pairs are finite); pass the labels of those regions,
    ``connectome.labels[~connectome.sampled]``, as ``missing`` and this
    transformer overwrites them fold by fold.

    With null variants (``make_pairs(connectome, nulls=..., missing="impute")``)
    the re-imputed rows are those of the shared feature table, which every null
    variant indexes: a null that shows an unsampled region's expression shows
    the estimate from the training regions, as the true data does.

    Its output is always a ``RegionPairs``; ``set_output(transform="pandas")`` is
    accepted (so a whole pipeline can be set to pandas output) and leaves it a
    ``RegionPairs``, as the other region transformers do.

    See Also
    --------
    skconn.datasets.impute_missing_regions : The transductive version.
    skconn.datasets.imputation_leave_one_out : How well the methods recover known regions.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.preprocessing import RegionImputer
    >>> c = make_toy_connectome(8, 3)
    >>> c.expression.iloc[2] = np.nan
    >>> X, y = make_pairs(c, missing="impute")
    >>> train = X[(X.pairs >= 2).all(axis=1)]       # regions 2-7
    >>> imputer = RegionImputer(missing=[c.labels[2]]).fit(train)
    >>> imputer.donors_.tolist()                    # region 2 itself is not a donor
    [3, 4, 5, 6, 7]
    >>> Xt = imputer.transform(X)
    >>> bool(np.allclose(Xt.region_features([0, 1]), X.region_features([0, 1])))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "method": [StrOptions(set(_METHODS))],
        "k": [Interval(Integral, 1, None, closed="left")],
        "missing": ["array-like", None],
    }

    def __init__(self, method="mirror_nearest", k=10, *, missing=None):
        self.method = method
        self.k = k
        self.missing = missing

    def _missing_mask(self, X: RegionPairs) -> np.ndarray:
        n = X.n_regions
        if self.missing is None:
            if "sampled" not in X.regions.columns:
                # RegionPairs features are finite: imputed rows look sampled
                raise ValueError(
                    "RegionImputer(missing=None) reads the 'sampled' column of X.regions, "
                    "which X lacks: build X with make_pairs(connectome, missing='impute') "
                    "rather than from an already imputed connectome, or pass missing= (the "
                    "unsampled region labels, connectome.labels[~connectome.sampled]; [] "
                    "for none)"
                )
            return ~X.regions["sampled"].to_numpy(dtype=bool)
        given = np.asarray(self.missing)
        if given.dtype == bool:
            if given.shape != (n,):
                raise ValueError(f"a boolean missing mask must have length {n}, got {given.shape}")
            return given
        labels = np.asarray(X.labels).astype(str)
        wanted = given.astype(str).ravel()
        unknown = sorted(set(wanted) - set(labels))
        if unknown:
            raise ValueError(f"missing names regions that X does not have: {unknown[:5]}")
        return np.isin(labels, wanted)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the donor regions: the sampled regions present in X.

        Parameters
        ----------
        X : RegionPairs
        y : None
            Ignored.

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            If ``missing`` is None and ``X.regions`` has no ``sampled`` column,
            if ``missing`` names unknown regions, or X has no sampled region.
        TypeError
            If X is not a RegionPairs.
        """
        X = _require_pairs(self, X)
        if len(X) == 0:
            raise ValueError("X has no pairs to fit on")
        missing = self._missing_mask(X)
        present = np.zeros(X.n_regions, dtype=bool)
        present[X.unique_regions()] = True
        donors = np.flatnonzero(present & ~missing)
        if donors.size == 0:
            raise ValueError("X has no sampled region to impute from")
        self.donors_ = donors
        self.donor_features_ = X.region_features(donors).copy()
        self.missing_ = missing
        self.n_features_in_ = X.shape[1]
        self._labels = np.asarray(X.labels).astype(str)
        self._feature_names = np.asarray(X.feature_names, dtype=object)
        return self

    def transform(self, X):
        """Replace the missing regions' features by their estimates.

        Parameters
        ----------
        X : RegionPairs
            The same region table as in ``fit`` (any subset of pairs).

        Returns
        -------
        RegionPairs
            The same pairs over the region table with re-imputed rows.
        """
        check_is_fitted(self)
        X = _require_pairs(self, X)
        if X.shape[1] != self.n_features_in_ or X.n_regions != len(self.missing_):
            raise ValueError(
                f"X has {X.n_regions} regions and {X.shape[1]} features; this imputer was "
                f"fitted on {len(self.missing_)} regions and {self.n_features_in_} features"
            )
        labels = getattr(self, "_labels", None)
        if labels is not None and not np.array_equal(np.asarray(X.labels).astype(str), labels):
            raise ValueError(
                "X has another region table (region labels) than this imputer was fitted on; "
                "its donors and missing regions index that table"
            )
        names = getattr(self, "_feature_names", None)
        if names is not None and not np.array_equal(np.asarray(X.feature_names), names):
            raise ValueError(
                "X has other region features (genes) than this imputer was fitted on, "
                "or the same ones in another order"
            )
        features = X.feature_table.copy()
        targets = np.flatnonzero(self.missing_)
        if targets.size:
            values = np.full((X.n_regions, features.shape[1]), np.nan)
            values[self.donors_] = self.donor_features_
            donor_mask = np.zeros(X.n_regions, dtype=bool)
            donor_mask[self.donors_] = True
            regions = X.regions
            features[targets] = _impute_rows(
                targets,
                donor_mask,
                X.coords,
                regions["hemisphere"].to_numpy(),
                regions["structure"].to_numpy(),
                values,
                self.method,
                self.k,
            )
        return X.with_features(features, X.feature_names)

"""Cross-validation on null variants: the base splitter's folds, one null per fold."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.model_selection._split import BaseCrossValidator

from .._permutations import warn_if_near_identity_variants
from .._validation import validate_own_params
from ..pairs import RegionPairs
from ._split import check_region_splitter

__all__ = ["SpinNullSplit", "rows_of_variant"]


def rows_of_variant(X: RegionPairs, rows: np.ndarray, variant: int) -> np.ndarray:
    """The rows of X that hold the same pairs as ``rows`` but in another variant.

    Parameters
    ----------
    X : RegionPairs
    rows : ndarray of int
        Rows of X (any variant).
    variant : int
        The variant wanted.

    Returns
    -------
    ndarray of int, same length as ``rows``

    Raises
    ------
    ValueError
        If X lacks some of those pairs in that variant.
    """
    try:
        return X.find(X.pairs[rows], variant)
    except ValueError as exc:
        raise ValueError(
            f"X lacks some of the fold's pairs in null variant {variant} ({exc}); build X "
            "with make_pairs(connectome, nulls=...) so every variant has every pair"
        ) from None


class SpinNullSplit(BaseCrossValidator):
    """The folds of a region splitter, each on a different null variant of X.

    ``X`` holds the true data and K null variants (``make_pairs(connectome,
    nulls=perms)``). The base splitter folds the regions of the true data;
    fold k then yields the same train and test *pairs* read from null variant
    ``variants[k]``: the model is trained and tested on spun expression with
    the true connectivity. ``cross_validate(est, X, y, cv=SpinNullSplit(...))``
    gives null scores fold for fold comparable with ``cv=base_cv``, and a
    ``GridSearchCV`` used as the estimator tunes itself on the null too (its
    inner splitter sees one null variant only).

    Parameters
    ----------
    base_cv : region splitter
        E.g. :class:`SpatialRegionSplit` or :class:`RandomRegionSplit`; give
        it an int ``random_state`` so that its folds are reproducible.
    variants : sequence of int, default=None
        The null variant of each fold (1..K); ``1, 2, ..., n_splits`` by
        default, so X needs at least ``n_splits`` nulls.

    Notes
    -----
    When X holds a single null variant (as inside an outer split, whose
    training rows come from one null), every fold uses it: the base folds are
    made and yielded on that variant. X with the true data only is an error.

    See Also
    --------
    skconn.nulls.cge_matched_spins : Nulls to build X from.
    skconn.nulls.null_test : True and null scores side by side.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.model_selection import RandomRegionSplit, SpinNullSplit
    >>> from skconn.pairs import make_pairs
    >>> c = make_toy_connectome(8, 3)
    >>> rng = np.random.default_rng(0)
    >>> X, y = make_pairs(c, nulls=[rng.permutation(8) for _ in range(2)])
    >>> cv = SpinNullSplit(RandomRegionSplit(2, random_state=0))
    >>> [(np.unique(X.variant[tr]).tolist(), np.unique(X.variant[te]).tolist())
    ...  for tr, te in cv.split(X, y)]
    [([1], [1]), ([2], [2])]
    """

    _parameter_constraints: ClassVar[dict] = {
        # checked by check_region_splitter: it must fold regions, not just have `split`
        "base_cv": "no_validation",
        "variants": ["array-like", None],
    }

    def __init__(self, base_cv, *, variants=None):
        self.base_cv = base_cv
        self.variants = variants

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds: the base splitter's.

        Parameters
        ----------
        X, y, groups : object, default=None
            Passed to the base splitter.

        Returns
        -------
        int
        """
        self._check_base_cv()
        return self.base_cv.get_n_splits(X, y, groups)

    def _check_base_cv(self):
        validate_own_params(self)
        check_region_splitter(self.base_cv, "base_cv")

    def _fold_variants(self, X, n_splits, *, check_present=True):
        present = np.unique(X.variant)
        if self.variants is None:
            chosen = np.arange(1, n_splits + 1)
        else:
            chosen = np.asarray(self.variants)
            if chosen.ndim != 1 or chosen.dtype.kind not in "iu" or chosen.size == 0:
                raise ValueError(f"variants must be a sequence of ints, got {self.variants!r}")
            if len(chosen) != n_splits:
                raise ValueError(
                    f"variants gives {len(chosen)} null variants for {n_splits} folds"
                )
            if (chosen < 1).any():
                raise ValueError("variants must name null variants (>= 1), not 0 (the true data)")
            if len(np.unique(chosen)) != len(chosen):
                raise ValueError(
                    f"variants must be distinct (one null per fold), got {chosen.tolist()}"
                )
        if not check_present:
            return chosen
        missing = sorted(set(chosen.tolist()) - set(present.tolist()))
        if missing:
            raise ValueError(
                f"SpinNullSplit needs null variants {missing[:5]} for its {n_splits} folds, but "
                f"X holds variants {present[:8].tolist()}: build X with "
                f"make_pairs(connectome, nulls=perms) and at least {int(chosen.max())} nulls"
            )
        return chosen

    def split(self, X, y=None, groups=None):
        """Generate train and test rows: base folds, read from null variants.

        Parameters
        ----------
        X : RegionPairs of length P
            With the true data and null variants, or a single variant.
        y : array-like of shape (P,), default=None
        groups : array-like of shape (P,), default=None
            Passed to the base splitter.

        Yields
        ------
        train, test : ndarray of int
            Rows of X, all of one null variant per fold.
        """
        if not isinstance(X, RegionPairs):
            raise TypeError(
                "SpinNullSplit is a region splitter: X must be a RegionPairs from "
                f"skconn.pairs.make_pairs(..., nulls=...), got {type(X).__name__}"
            )
        self._check_base_cv()
        present = np.unique(X.variant)
        if present.tolist() == [0]:
            raise ValueError(
                "X holds only the true data (variant 0), so SpinNullSplit would score the "
                "true data as a null: build X with make_pairs(connectome, nulls=perms)"
            )
        folds = list(self.base_cv.split(X, y, groups))
        if not folds:
            raise ValueError("the base splitter yielded no folds")
        variants = self._fold_variants(X, len(folds), check_present=len(present) > 1)
        if len(present) == 1:
            yield from folds
            return
        warn_if_near_identity_variants(X.variants, variants, where="SpinNullSplit", stacklevel=3)
        for (train, test), variant in zip(folds, variants, strict=True):
            yield rows_of_variant(X, train, variant), rows_of_variant(X, test, variant)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        raise NotImplementedError("SpinNullSplit overrides split")

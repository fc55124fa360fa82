"""Region splitters: cross-validation folds over regions, yielded as pair indices."""

from __future__ import annotations

import numbers
import warnings
from abc import ABCMeta, abstractmethod
from typing import ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.model_selection import KFold
from sklearn.model_selection._split import BaseCrossValidator
from sklearn.utils.validation import _num_samples

from .._arguments import check_random_state
from .._validation import Interval, validate_own_params
from ..pairs import RegionPairs

__all__ = ["RandomRegionSplit", "SpatialRegionSplit"]


def _fold_masks(pairs, test_regions, n_regions, *, train_cross_pairs, test_cross_pairs):
    """Which of some pair rows are train and which are test for one region fold.

    Parameters
    ----------
    pairs : ndarray of shape (P, 2)
        Region indices of the candidate rows.
    test_regions : array-like of int
        Regions of the test fold; every other region of ``pairs`` is a train region.
    n_regions : int
        Size of the region table the indices refer to, R.
    train_cross_pairs, test_cross_pairs : bool
        Whether rows with one train and one test region join train / test.

    Returns
    -------
    train, test : ndarray of shape (P,), bool
    """
    is_test = np.zeros(n_regions, dtype=bool)
    is_test[np.asarray(test_regions, dtype=np.intp)] = True
    in_test = is_test[pairs]
    n_in_test = in_test.sum(axis=1)
    cross = n_in_test == 1
    train = n_in_test == 0
    test = n_in_test == 2
    if train_cross_pairs:
        train |= cross
    if test_cross_pairs:
        test |= cross
    return train, test


def check_region_splitter(cv, name: str) -> None:
    """Raise a TypeError unless ``cv`` folds regions.

    A splitter of rows (e.g. ``KFold``) folds the rows of every null variant
    together; mapped onto one null, the same pairs then land in train and test.
    """
    if not isinstance(cv, _BaseRegionSplit):
        raise TypeError(
            f"{name} must be a region splitter (RandomRegionSplit, SpatialRegionSplit or a "
            f"subclass of their base), got {cv!r}"
        )


class _BaseRegionSplit(BaseCrossValidator, metaclass=ABCMeta):
    """Base class for splitters that fold regions and yield region-pair rows.

    Subclasses implement ``_iter_test_regions(X, regions)``, which yields the
    test regions of each fold given the sorted regions present among the rows
    being split. ``_split_variant(X)`` says whose rows those are.
    Parameters are validated against ``_parameter_constraints`` in ``split``.
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_splits": [Interval(numbers.Integral, 2, None, closed="left")],
        "train_cross_pairs": ["boolean"],
        "test_cross_pairs": ["boolean"],
    }

    @abstractmethod
    def __init__(self, n_splits, *, train_cross_pairs, test_cross_pairs):
        self.n_splits = n_splits
        self.train_cross_pairs = train_cross_pairs
        self.test_cross_pairs = test_cross_pairs

    def split(self, X, y=None, groups=None):
        """Generate train and test row indices of region-level folds.

        Parameters
        ----------
        X : RegionPairs of length P
            Region pairs, as made by :func:`skconn.pairs.make_pairs` (or a view
            of them, such as the training subset of an outer split).
        y : array-like of shape (P,), default=None
            Ignored; checked for length only.
        groups : array-like of shape (P,), default=None
            Ignored; exists for API compatibility.

        Yields
        ------
        train : ndarray of int
            Rows of X whose two regions are both training regions (plus the
            cross pairs if ``train_cross_pairs=True``).
        test : ndarray of int
            Rows of X whose two regions are both test regions (plus the cross
            pairs if ``test_cross_pairs=True``).
        """
        name = type(self).__name__
        if not isinstance(X, RegionPairs):
            raise TypeError(
                f"{name} is a region splitter: X must be a RegionPairs from "
                f"skconn.pairs.make_pairs, got {type(X).__name__}"
            )
        for arg, values in (("y", y), ("groups", groups)):
            if values is not None and _num_samples(values) != len(X):
                raise ValueError(
                    f"inconsistent numbers of samples: {arg} has {_num_samples(values)} "
                    f"values but X has {len(X)} pairs"
                )
        if groups is not None:
            warnings.warn(f"The groups parameter is ignored by {name}", UserWarning, stacklevel=2)
        validate_own_params(self)
        n_splits = self.n_splits
        if self.train_cross_pairs and self.test_cross_pairs:
            raise ValueError(
                "train_cross_pairs and test_cross_pairs cannot both be True: the same cross "
                "pairs would then be in the training and the test set of every fold"
            )
        rows = np.flatnonzero(X.variant == self._split_variant(X))
        pairs = X.pairs[rows]
        regions = np.unique(pairs)
        if n_splits > len(regions):
            raise ValueError(
                f"Cannot have n_splits={n_splits} greater than the number of regions in X: "
                f"{len(regions)}"
            )
        for k, test_regions in enumerate(self._iter_test_regions(X, regions)):
            train, test = _fold_masks(
                pairs,
                test_regions,
                X.n_regions,
                train_cross_pairs=self.train_cross_pairs,
                test_cross_pairs=self.test_cross_pairs,
            )
            for mask, which in ((train, "training"), (test, "test")):
                if not mask.any():
                    raise ValueError(
                        f"fold {k} of {name} has an empty {which} set: its regions share no "
                        f"pair in X ({len(regions)} regions, n_splits={n_splits}); use fewer "
                        "splits or include cross pairs"
                    )
            yield rows[train], rows[test]

    def _split_variant(self, X):
        """The variant whose rows are split: the true data when X holds it.

        Rows of every other variant are never yielded. Override to fold null
        variants instead.
        """
        return X.primary_variant()

    @abstractmethod
    def _iter_test_regions(self, X, regions):
        """Yield the test regions (indices into X's region table) of each fold.

        Parameters
        ----------
        X : RegionPairs
        regions : ndarray of int
            Sorted regions present among the rows being split.
        """

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object, default=None
            Ignored; exist for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits


class RandomRegionSplit(_BaseRegionSplit):
    """K-fold cross-validation over regions, yielding region-pair rows.

    The regions present in X are split into ``n_splits`` folds exactly as
    :class:`sklearn.model_selection.KFold` splits their sorted indices (so the
    same seed gives the published random split). Each fold's
    test set is the pairs with both regions in the test fold and its training
    set the pairs with both regions in the other folds; pairs with one region on
    each side are dropped unless asked for.

    Parameters
    ----------
    n_splits : int, default=4
        Number of folds, at least 2 and at most the number of regions.
    shuffle : bool, default=True
        Whether to shuffle the regions before cutting them into folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle (as in ``KFold``); pass an int for reproducible folds.
    train_cross_pairs : bool, default=False
        Add the pairs with one training and one test region to the training
        set (the reference's ``train_shared_regions``).
    test_cross_pairs : bool, default=False
        Add those cross pairs to the test set instead (``test_shared_regions``).

    Notes
    -----
    Only the rows of one variant are split: the true data (variant 0) when X
    holds it, else X's only variant (see :meth:`RegionPairs.primary_variant`);
    rows of null variants are never yielded. Indices refer to rows of X.

    Regions are those appearing in at least one split row. Nested inside an
    outer split, the inner splitter sees the outer training rows and so folds
    only the outer training regions (and, if the outer split used
    ``train_cross_pairs=True``, the outer test regions those rows touch).

    See Also
    --------
    SpatialRegionSplit : Folds of spatially contiguous regions.
    sklearn.model_selection.KFold : The same folds over samples.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.model_selection import RandomRegionSplit
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(8, 3))
    >>> cv = RandomRegionSplit(n_splits=2, random_state=0)
    >>> cv
    RandomRegionSplit(n_splits=2, random_state=0, shuffle=True, test_cross_pairs=False,
                      train_cross_pairs=False)
    >>> for train, test in cv.split(X, y):
    ...     print(np.unique(X[train].pairs), np.unique(X[test].pairs), len(train), len(test))
    [0 3 4 5] [1 2 6 7] 12 12
    [1 2 6 7] [0 3 4 5] 12 12
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseRegionSplit._parameter_constraints,
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_splits=4,
        *,
        shuffle=True,
        random_state=None,
        train_cross_pairs=False,
        test_cross_pairs=False,
    ):
        super().__init__(
            n_splits, train_cross_pairs=train_cross_pairs, test_cross_pairs=test_cross_pairs
        )
        self.shuffle = shuffle
        self.random_state = random_state

    def _iter_test_regions(self, X, regions):
        # Delegating to KFold keeps the folds identical to it for any seed.
        kfold = KFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state)
        for _, test in kfold.split(regions.reshape(-1, 1)):
            yield regions[test]


class SpatialRegionSplit(_BaseRegionSplit):
    """Cross-validation over spatially contiguous blocks of regions.

    By default each fold grows around a random seed region: the seed and its
    ``R // n_splits - 1`` nearest remaining regions (3-D Euclidean distance
    between MNI centroids) form the test block, and the last fold takes every
    region left. This is the published spatial split (Ratzan et al., NeurIPS 2025), fold for
    fold for the same integer seed. Pairs are assigned to train and test as in
    :class:`RandomRegionSplit`.

    Parameters
    ----------
    n_splits : int, default=4
        Number of folds, at least 2 and at most the number of regions.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of seed regions; pass an int for reproducible folds.
    hemisphere_aware : bool, default=False
        Build the blocks within each hemisphere separately and let fold k be
        the union of the left and the right block k, so that no block spans
        the midline. Midline regions (hemisphere "B") join the side of their x
        coordinate (x <= 0 is left). Block sizes are balanced and the blocks
        compact (see Notes), so fold sizes differ by at most one region.
    train_cross_pairs : bool, default=False
        Add the pairs with one training and one test region to the training
        set (the reference's ``train_shared_regions``).
    test_cross_pairs : bool, default=False
        Add those cross pairs to the test set instead (``test_shared_regions``).

    Notes
    -----
    Default algorithm, on the R regions present (sorted by index; positions
    below index that order): ``rng = check_random_state(random_state)``,
    ``per = R // n_splits``, ``remaining = set(range(R))``; for each fold but
    the last, ``seed = rng.choice(list(remaining))``, the remaining positions
    are stable-sorted by distance to the seed and the ``per`` closest removed
    as the fold; the last fold is what remains (``per + R % n_splits``
    regions). Later folds are leftovers and can be less compact; the blocks
    cross the midline freely.

    With ``hemisphere_aware=True`` each side's n regions get block sizes
    ``n // n_splits``, the remainder spread one region per block (the left
    side's from the first fold on, the right side's from the last fold back).
    Blocks are grown as above with these sizes, then tightened by k-means steps
    that keep every block's size (each step optimally reassigns regions to
    block centroids), so that no block is a scattered leftover.

    Only the rows of one variant are split, as in :class:`RandomRegionSplit`.

    See Also
    --------
    RandomRegionSplit : Folds of randomly drawn regions.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.model_selection import SpatialRegionSplit
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(10, 3))
    >>> cv = SpatialRegionSplit(n_splits=3, random_state=0)
    >>> [len(np.unique(X[test].pairs)) for _, test in cv.split(X, y)]
    [3, 3, 4]
    >>> cv = SpatialRegionSplit(n_splits=3, random_state=0, hemisphere_aware=True)
    >>> for _, test in cv.split(X, y):
    ...     print(sorted(X.regions.hemisphere.iloc[np.unique(X[test].pairs)]))
    ['L', 'L', 'R']
    ['L', 'L', 'R', 'R']
    ['L', 'R', 'R']
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseRegionSplit._parameter_constraints,
        "random_state": ["random_state"],
        "hemisphere_aware": ["boolean"],
    }

    def __init__(
        self,
        n_splits=4,
        *,
        random_state=None,
        hemisphere_aware=False,
        train_cross_pairs=False,
        test_cross_pairs=False,
    ):
        super().__init__(
            n_splits, train_cross_pairs=train_cross_pairs, test_cross_pairs=test_cross_pairs
        )
        self.random_state = random_state
        self.hemisphere_aware = hemisphere_aware

    def _iter_test_regions(self, X, regions):
        rng = check_random_state(self.random_state)
        coords = X.coords[regions]
        n_splits = self.n_splits
        if not self.hemisphere_aware:
            per = len(regions) // n_splits
            sizes = [per] * (n_splits - 1) + [len(regions) - per * (n_splits - 1)]
            for block in _grow_blocks(coords, sizes, rng):
                yield regions[block]
            return
        hemisphere = X.regions["hemisphere"].to_numpy()[regions]
        left = (hemisphere == "L") | ((hemisphere == "B") & (coords[:, 0] <= 0))
        sides = [np.flatnonzero(left), np.flatnonzero(~left)]
        side_blocks = []
        for s, positions in enumerate(sides):
            sizes = np.full(n_splits, len(positions) // n_splits)
            extra = len(positions) % n_splits
            # Left remainders fill folds from the front, right ones from the
            # back, so fold totals never differ by more than one region.
            if s == 0:
                sizes[:extra] += 1
            elif extra:
                sizes[-extra:] += 1
            side_coords = coords[positions]
            blocks = _balance_blocks(side_coords, _grow_blocks(side_coords, sizes, rng))
            side_blocks.append([positions[b] for b in blocks])
        for left_block, right_block in zip(*side_blocks, strict=True):
            yield regions[np.sort(np.concatenate([left_block, right_block]))]


def _grow_blocks(coords, sizes, rng):
    """Cut points into blocks, each a random seed point and its nearest neighbours.

    Parameters
    ----------
    coords : ndarray of shape (n, 3)
        Point coordinates; blocks are lists of positions into them.
    sizes : sequence of int
        Block sizes, summing to n. The last block takes whatever remains.
    rng : numpy.random.RandomState

    Returns
    -------
    list of ndarray of int
    """
    remaining = set(range(len(coords)))
    blocks = []
    for k, size in enumerate(sizes):
        candidates = list(remaining)
        if k == len(sizes) - 1:
            block = candidates
        elif size == 0:
            block = []
        else:
            seed = rng.choice(candidates)
            dist = np.linalg.norm(coords[candidates] - coords[seed], axis=1)
            order = np.argsort(dist, kind="stable")[:size]
            block = [candidates[i] for i in order]
        remaining.difference_update(block)
        blocks.append(np.array(sorted(block), dtype=np.intp))
    return blocks


def _balance_blocks(coords, blocks, max_iter=50):
    """Tighten blocks by k-means steps that keep every block's size.

    Each step moves every point to a block slot so as to minimise the total
    squared distance to the block centroids, with as many slots per block as
    the block has points (an optimal assignment), then recomputes the
    centroids. Neither step can increase that total, so the blocks settle;
    grown blocks' leftovers are absorbed into compact blocks.

    Parameters
    ----------
    coords : ndarray of shape (n, 3)
    blocks : list of ndarray of int
        A partition of ``range(n)``; empty blocks stay empty.
    max_iter : int, default=50

    Returns
    -------
    list of ndarray of int
        Same number and sizes of blocks.
    """
    filled = [k for k, b in enumerate(blocks) if len(b)]
    if len(filled) < 2:
        return blocks
    slots = np.repeat(np.arange(len(filled)), [len(blocks[k]) for k in filled])
    blocks = list(blocks)
    for _ in range(max_iter):
        centroids = np.array([coords[blocks[k]].mean(axis=0) for k in filled])
        cost = cdist(coords, centroids, "sqeuclidean")[:, slots]
        _, slot_of_point = linear_sum_assignment(cost)
        label = slots[slot_of_point]
        new = [np.flatnonzero(label == f) for f in range(len(filled))]
        if all(np.array_equal(new[f], blocks[k]) for f, k in enumerate(filled)):
            break
        for f, k in enumerate(filled):
            blocks[k] = new[f]
    return blocks

"""Batches of region pairs for the neural estimators.

A batch of region pairs is handed to a module as the *distinct* regions it
touches plus two index vectors: ``features`` (u, F) and ``coords`` (u, 3) of
the u distinct regions, and ``left``/``right`` (B,) positions of each pair's
regions among them. A module can therefore encode each region once per batch
and gather, instead of once per pair slot; no (P, 2F) pair matrix is built.

The node table (features, coordinates) and the targets are copied to the
training device once per dataset (so once per ``fit``); a batch then moves only
its pair and node indices, and the rows are gathered with torch on the device.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

__all__ = [
    "PREDICT_BATCH_SIZE",
    "PairBatch",
    "PairBatches",
    "PairDataset",
    "region_split",
    "standardise_coords_stats",
    "user_split",
]

#: Pairs per prediction (and validation) batch unless ``iterator_valid__batch_size``
#: is given: BatchNorm and dropout are off there, so the batch size changes nothing
#: but speed (each distinct region is encoded once per batch).
PREDICT_BATCH_SIZE = 8192


class PairDataset(torch.utils.data.Dataset):
    """Region pairs over a table of distinct nodes (regions as seen in a variant).

    Indexing with an array of pair positions returns one whole batch,
    ``(PairBatch, y)``, on ``device``.

    Parameters
    ----------
    features : ndarray of shape (n, F)
        Node features (float32).
    coords : ndarray of shape (n, 3) or None
        Node MNI centroids.
    left, right : ndarray of shape (P,)
        Node of each pair's first and second region.
    y : ndarray of shape (P,) or None
    node_region : ndarray of shape (n,)
        Region of each node (nodes of one region in several null variants share it);
        validation splits are drawn over these.
    pair_regions : ndarray of shape (P, 2) or None
        Region indices (into the full region table) of each pair, used to look up
        subject-level targets; None for dense input.
    device : str or torch.device, default="cpu"
        Where batches are built. The node table goes there on the first batch and
        is shared by every :meth:`subset`.

    Examples
    --------
    >>> import numpy as np
    >>> features = np.arange(8, dtype=np.float32).reshape(4, 2)
    >>> data = PairDataset(features, None, np.array([0, 1, 2]), np.array([1, 3, 3]),
    ...                    np.zeros(3, np.float32), np.arange(4), None)
    >>> batch, y = data.batch([0, 2])
    >>> batch.inputs["features"].shape, batch.inputs["left"].tolist()  # nodes 0, 1, 2, 3
    (torch.Size([4, 2]), [0, 2])
    """

    def __init__(
        self, features, coords, left, right, y, node_region, pair_regions, device="cpu"
    ):
        self.features = features
        self.coords = coords
        self.left = left
        self.right = right
        self.y = y
        self.node_region = node_region
        self.pair_regions = pair_regions
        self.device = torch.device(device)
        self.index = np.arange(len(left))  # positions in the dataset fit was given
        # [(features, coords)] on the device once built; the list is shared by subsets
        self._nodes: list = [None]
        self._y = None  # this dataset's targets on the device

    def __len__(self) -> int:
        return len(self.left)

    def subset(self, idx) -> PairDataset:
        """The pairs at positions ``idx`` (same node table)."""
        sub = PairDataset(
            self.features,
            self.coords,
            self.left[idx],
            self.right[idx],
            None if self.y is None else self.y[idx],
            self.node_region,
            None if self.pair_regions is None else self.pair_regions[idx],
            self.device,
        )
        sub.index = self.index[idx]
        sub._nodes = self._nodes
        return sub

    def node_tensors(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and coordinates of every node on the device (copied once)."""
        if self._nodes[0] is None:
            features = torch.from_numpy(self.features).to(self.device)
            coords = None
            if self.coords is not None:
                coords = torch.from_numpy(self.coords).to(self.device)
            self._nodes[0] = (features, coords)
        return self._nodes[0]

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def batch(self, idx) -> tuple[PairBatch, torch.Tensor]:
        """The batch of pairs at positions ``idx``: ``(PairBatch, y)``."""
        idx = np.asarray(idx)
        left, right = self.left[idx], self.right[idx]
        # the distinct nodes and the pairs' positions among them: index arithmetic on
        # the host (no device synchronisation), then only indices cross to the device
        nodes, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
        B = len(idx)
        features, coords = self.node_tensors()
        node_index = self._to_device(nodes.astype(np.int64, copy=False))
        slots = self._to_device(inverse.astype(np.int64))
        inputs = {
            "features": features.index_select(0, node_index),
            "left": slots[:B],
            "right": slots[B:],
        }
        if coords is not None:
            inputs["coords"] = coords.index_select(0, node_index)
        if self.y is None:
            y = torch.zeros(B, device=self.device)
        else:
            if self._y is None:
                self._y = self._to_device(self.y)
            y = self._y.index_select(0, self._to_device(idx.astype(np.int64, copy=False)))
        return PairBatch(inputs, idx), y

    __getitem__ = batch


class PairBatch:
    """Module inputs of one batch (``inputs``: features, left, right[, coords]).

    ``pair_index`` holds the batch's positions in its dataset. ``len`` is the
    number of pairs B. Callbacks may replace ``inputs`` and ``pair_index`` in
    place (target augmentation swaps whole batches).
    """

    __slots__ = ("inputs", "pair_index")

    def __init__(self, inputs: dict, pair_index: np.ndarray):
        self.inputs = inputs
        self.pair_index = pair_index

    def __len__(self) -> int:
        return len(self.pair_index)


class PairBatches:
    """Iterate over a :class:`PairDataset` in batches of pair positions.

    Parameters
    ----------
    dataset : PairDataset
    batch_size : int
    shuffle : bool
    rng : numpy.random.Generator or None
        Draws the permutation of each pass when shuffling.
    region_blocks : bool, default=False
        Group pairs by blocks of regions: each pass permutes the regions, cuts
        them into blocks of k ≈ √(batch_size/2), and makes one batch of all the
        pairs between each (unordered) pair of blocks, in random order. A batch
        then touches at most 2k regions instead of up to 2·batch_size, so
        distinct-region encoding does ~k times less encoder work; every pair is
        still seen once per pass. Needs ``shuffle``.

    Notes
    -----
    A batch of a single pair is merged into the previous one: BatchNorm cannot
    normalise one sample in training mode.

    Examples
    --------
    >>> import numpy as np
    >>> data = PairDataset(np.zeros((4, 2), np.float32), None, np.array([0, 0, 1, 2, 0]),
    ...                    np.array([1, 2, 3, 3, 3]), None, np.arange(4), None)
    >>> [len(b) for b, _ in PairBatches(data, 2)]  # the last single pair is merged
    [2, 3]
    """

    def __init__(self, dataset, batch_size, shuffle=False, rng=None, region_blocks=False):
        self.dataset = dataset
        self.batch_size = len(dataset) if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle
        self.rng = rng if rng is not None else np.random.default_rng()
        self.region_blocks = region_blocks and shuffle

    def __len__(self) -> int:
        # exact for random batches; for region blocks an estimate (progress bars only)
        n = len(self.dataset)
        return max(1, -(-n // self.batch_size) - (n > self.batch_size and n % self.batch_size == 1))

    def _plan(self) -> list[np.ndarray]:
        n = len(self.dataset)
        if not self.region_blocks:
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
            bounds = [*range(0, n, self.batch_size), n]
        else:
            left, right = self.dataset.left, self.dataset.right
            n_nodes = len(self.dataset.features)
            k = max(2, int(np.sqrt(self.batch_size / 2)))
            block = np.empty(n_nodes, dtype=np.int64)
            block[self.rng.permutation(n_nodes)] = np.arange(n_nodes) // k
            n_blocks = int(block.max()) + 1
            bl, br = block[left], block[right]
            key = np.minimum(bl, br) * n_blocks + np.maximum(bl, br)
            rank = self.rng.permutation(n_blocks * n_blocks)[key]
            order = np.argsort(rank, kind="stable")
            sorted_rank = rank[order]
            bounds = [0, *np.flatnonzero(np.diff(sorted_rank)) + 1, n]
        batches = [order[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        merged: list[np.ndarray] = []
        for b in batches:
            if len(b) == 1 and merged:
                merged[-1] = np.concatenate([merged[-1], b])
            else:
                merged.append(b)
        return merged

    def __iter__(self):
        for idx in self._plan():
            yield self.dataset.batch(idx)


def region_split(dataset: PairDataset, fraction: float, rng) -> tuple[PairDataset, PairDataset]:
    """Hold out a random ``fraction`` of the regions: validation = pairs inside them.

    Returns ``(dataset, None)`` when the regions are too few for a split.
    """
    pair_nodes = np.concatenate([dataset.left, dataset.right])
    regions = np.unique(dataset.node_region[pair_nodes])
    n_valid = max(2, round(fraction * len(regions)))
    if len(regions) - n_valid < 2:
        return dataset, None
    held = np.zeros(dataset.node_region.max() + 1, dtype=bool)
    held[rng.choice(regions, n_valid, replace=False)] = True
    in_l = held[dataset.node_region[dataset.left]]
    in_r = held[dataset.node_region[dataset.right]]
    valid, train = np.flatnonzero(in_l & in_r), np.flatnonzero(~in_l & ~in_r)
    if len(valid) == 0 or len(train) < 2:
        return dataset, None
    return dataset.subset(train), dataset.subset(valid)


def user_split(train_split, dataset: PairDataset, **fit_params) -> tuple:
    """``train_split(dataset, None)`` as two :class:`PairDataset` (valid may be None).

    ``torch.utils.data.Subset`` results (skorch's ``ValidSplit``) become subsets of
    ``dataset``.
    """
    parts = train_split(dataset, None, **fit_params)
    try:
        train, valid = parts
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "train_split must return a (train, valid) pair of datasets, got "
            f"{type(parts).__name__}"
        ) from exc

    def as_pairs(part, allow_none):
        if part is None and allow_none:
            return None
        if isinstance(part, PairDataset):
            return part
        if isinstance(part, torch.utils.data.Subset) and isinstance(part.dataset, PairDataset):
            return part.dataset.subset(np.asarray(part.indices, dtype=np.intp))
        raise TypeError(
            "train_split must return (train, valid) as PairDataset subsets of the "
            "dataset it is given (dataset.subset(positions)) or torch Subsets of it"
            f"{' (valid may be None)' if allow_none else ''}; got "
            f"{type(part).__name__}"
        )

    train, valid = as_pairs(train, False), as_pairs(valid, True)
    if valid is not None and len(valid) == 0:
        valid = None
    if len(train) < 2:
        raise ValueError(
            f"train_split left {len(train)} training pair(s); at least 2 are needed "
            "(BatchNorm)"
        )
    return train, valid


def as_float32(values: np.ndarray, name: str) -> np.ndarray:
    """Contiguous float32 copy of finite ``values``; a ``ValueError`` if any overflows."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(
            f"{name} has values beyond the float32 range (|v| > {np.finfo(np.float32).max:.2e}) "
            "that the network computes in"
        )
    return out


def standardise_coords_stats(coords: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale (SD, 1 where 0) of node coordinates, two (3,) float32 arrays."""
    if coords is None or len(coords) == 0:
        return np.zeros(3, np.float32), np.ones(3, np.float32)
    mean = coords.mean(axis=0)
    sd = coords.std(axis=0)
    return mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32)

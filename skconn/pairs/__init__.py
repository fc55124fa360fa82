"""Region-pair estimator input: :class:`RegionPairs` and :func:`make_pairs`."""

from ._make import make_pairs, pair_indices
from ._region_pairs import RegionPairs

__all__ = ["RegionPairs", "make_pairs", "pair_indices"]

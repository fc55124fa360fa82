"""Model selection: splitters that fold regions and yield region-pair rows."""

from ._spin import SpinNullSplit
from ._split import RandomRegionSplit, SpatialRegionSplit

__all__ = ["RandomRegionSplit", "SpatialRegionSplit", "SpinNullSplit"]

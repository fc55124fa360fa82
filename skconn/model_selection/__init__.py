"""Model selection: region splitters, and out-of-fold predictions under them."""

from ._predict import cross_val_predict
from ._spin import SpinNullSplit
from ._split import RandomRegionSplit, SpatialRegionSplit

__all__ = ["RandomRegionSplit", "SpatialRegionSplit", "SpinNullSplit", "cross_val_predict"]

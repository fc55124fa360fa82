"""Estimators of region-pair connectivity (one module per model family)."""

from .connectome_model import ConnectomeModelRegressor
from .exp_decay import ExpDecayRegressor
from .low_rank import LowRankBilinearRegressor
from .pls import PLSBilinearRegressor

__all__ = [
    "ConnectomeModelRegressor",
    "ExpDecayRegressor",
    "LowRankBilinearRegressor",
    "PLSBilinearRegressor",
]

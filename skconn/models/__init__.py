"""Estimators of region-pair connectivity (one module per model family).

The neural models (:class:`PairMLPRegressor`, :class:`SMTRegressor`) and
:class:`TargetAugmentation`, :class:`SharedDevice` import torch, so they load on first access: the
closed-form models stay quick to import.
"""

import importlib

from .connectome_model import ConnectomeModelRegressor
from .coords import CoordinateRegressor
from .exp_decay import ExpDecayRegressor
from .low_rank import LowRankBilinearRegressor
from .pls import PLSBilinearRegressor

_LAZY = {
    "PairMLPRegressor": ".mlp",
    "SMTRegressor": ".smt",
    "SharedDevice": "._shared_device",
    "TargetAugmentation": "._augment",
}

__all__ = [
    "ConnectomeModelRegressor",
    "CoordinateRegressor",
    "ExpDecayRegressor",
    "LowRankBilinearRegressor",
    "PLSBilinearRegressor",
    "PairMLPRegressor",
    "SMTRegressor",
    "SharedDevice",
    "TargetAugmentation",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

"""Datasets: the :class:`Connectome` container and its sources."""

from ._connectome import REGION_COLUMNS, Connectome
from ._default import load_default
from ._impute import impute_missing_regions
from ._io import load_connectome, save_connectome
from ._toy import make_toy_connectome

__all__ = [
    "REGION_COLUMNS",
    "Connectome",
    "impute_missing_regions",
    "load_connectome",
    "load_default",
    "make_toy_connectome",
    "save_connectome",
]

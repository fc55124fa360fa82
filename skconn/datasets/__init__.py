"""Datasets: the :class:`Connectome` container and its sources."""

from ._ahba import fetch_ahba_expression
from ._atlas import connectome_from_atlas, region_centroids
from ._connectome import REGION_COLUMNS, Connectome
from ._default import load_default
from ._impute import imputation_leave_one_out, impute_missing_regions
from ._io import load_connectome, save_connectome
from ._subjects import (
    load_subject_connectivity,
    subject_connectivity_from_upper,
    subject_upper_triangles,
)
from ._timeseries import connectivity_from_timeseries
from ._toy import make_toy_connectome
from ._tss import gene_order, load_gene_tss

__all__ = [
    "REGION_COLUMNS",
    "Connectome",
    "connectivity_from_timeseries",
    "connectome_from_atlas",
    "fetch_ahba_expression",
    "gene_order",
    "imputation_leave_one_out",
    "impute_missing_regions",
    "load_connectome",
    "load_default",
    "load_gene_tss",
    "load_subject_connectivity",
    "make_toy_connectome",
    "region_centroids",
    "save_connectome",
    "subject_connectivity_from_upper",
    "subject_upper_triangles",
]

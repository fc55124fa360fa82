"""Metrics of predicted connectivity and scorers for scikit-learn model selection.

Metrics are evaluated on unordered region pairs by default (the predictions of
(i, j) and (j, i) averaged), with distance strata at ``max_distance / 3`` and
``2 * max_distance / 3`` and strength strata at ±0.3, within and between hemispheres and functional
networks (the metrics of Ratzan et al., NeurIPS 2025, with the corrections
the user guide lists).
"""

from ._core import (
    distance_stratified_r,
    pearson_r,
    spearman_r,
    strength_stratified_r,
    unordered,
)
from ._geodesic import geodesic_distance
from ._groups import hemispheric_r, network_r, region_networks
from ._report import REPORT_KEYS, score_report
from ._scorers import PairScorer, get_scorer, get_scorer_names, pearson_scorer, scorers

__all__ = [
    "REPORT_KEYS",
    "PairScorer",
    "distance_stratified_r",
    "geodesic_distance",
    "get_scorer",
    "get_scorer_names",
    "hemispheric_r",
    "network_r",
    "pearson_r",
    "pearson_scorer",
    "region_networks",
    "score_report",
    "scorers",
    "spearman_r",
    "strength_stratified_r",
    "unordered",
]

"""Figures: each function takes results and returns a matplotlib Figure."""

from ._attention import plot_attention_maps
from ._brain import plot_brain_connectomes, plot_ordered_connectomes, region_order
from ._nulls import plot_cge_curves, plot_null_distribution
from ._results import (
    pairs_to_matrix,
    plot_metric_bars,
    plot_predicted_connectomes,
    plot_prediction_scatter,
    write_result_figures,
)

__all__ = [
    "pairs_to_matrix",
    "plot_attention_maps",
    "plot_brain_connectomes",
    "plot_cge_curves",
    "plot_metric_bars",
    "plot_null_distribution",
    "plot_ordered_connectomes",
    "plot_predicted_connectomes",
    "plot_prediction_scatter",
    "region_order",
    "write_result_figures",
]

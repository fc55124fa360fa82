"""Result figures: predicted connectomes in region order, and the main job's brain figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from skconn.plotting import plot_predicted_connectomes, region_order
from skconn.plotting._results import _best_model


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _shown(fig, panel=0) -> np.ndarray:
    return np.asarray(fig.axes[panel].get_images()[0].get_array().filled(np.nan))


def _expected(matrix, order) -> np.ndarray:
    shown = np.asarray(matrix, dtype=float)[np.ix_(order, order)]
    np.fill_diagonal(shown, np.nan)
    return shown


def test_regions_give_hemisphere_network_order_by_default(hcp100):
    fc = hcp100.connectivity
    predicted = 0.5 * fc
    fig = plot_predicted_connectomes(fc, {"model": predicted}, regions=hcp100.regions)
    order = region_order(hcp100.regions)
    assert not np.array_equal(order, np.arange(hcp100.n_regions))  # a real reordering
    np.testing.assert_array_equal(_shown(fig, 0), _expected(fc, order))
    np.testing.assert_array_equal(_shown(fig, 1), _expected(predicted, order))
    # a Connectome gives the same order as its region table
    again = plot_predicted_connectomes(fc, {"model": predicted}, regions=hcp100)
    np.testing.assert_array_equal(_shown(again, 0), _expected(fc, order))


def test_without_regions_the_rows_keep_their_order(hcp100):
    fc = hcp100.connectivity
    fig = plot_predicted_connectomes(fc, {"model": fc})
    np.testing.assert_array_equal(_shown(fig, 0), _expected(fc, np.arange(hcp100.n_regions)))


def test_an_explicit_order_wins_over_the_regions(hcp100):
    fc = hcp100.connectivity
    order = np.random.default_rng(0).permutation(hcp100.n_regions)
    fig = plot_predicted_connectomes(fc, {"model": fc}, order=order, regions=hcp100.regions)
    np.testing.assert_array_equal(_shown(fig, 0), _expected(fc, order))
    assert not np.array_equal(_shown(fig, 0), _expected(fc, region_order(hcp100.regions)))


def test_regions_of_another_size_are_refused(hcp100):
    fc = hcp100.connectivity[:10, :10]
    with pytest.raises(ValueError, match=r"regions has 114 regions but true_fc is \(10, 10\)"):
        plot_predicted_connectomes(fc, {"model": fc}, regions=hcp100.regions)


def test_best_model_is_chosen_on_the_observed_data_of_the_first_split():
    rows = []
    # b wins on the observed data of the spatial split (mean over every repeat and fold);
    # a wins on repeat 0 alone, on the null and on the random split
    scores = {("a", "spatial", "observed"): [0.50, 0.10, 0.10],
              ("b", "spatial", "observed"): [0.40, 0.40, 0.40],
              ("a", "spatial", "spin-null"): [0.90, 0.90, 0.90],
              ("b", "spatial", "spin-null"): [0.00, 0.00, 0.00],
              ("a", "random", "observed"): [0.90, 0.90, 0.90],
              ("b", "random", "observed"): [0.00, 0.00, 0.00]}
    for (model, split, data), values in scores.items():
        for k, value in enumerate(values):
            rows.append({"model": model, "split": split, "data": data, "repeat": k // 2,
                         "fold": k % 2, "pearson_r": value})
    folds = pd.DataFrame(rows)
    assert _best_model(folds, "spatial") == "b"
    assert _best_model(folds, "random") == "a"
    # a model with NaN folds is judged on the others
    folds.loc[(folds["model"] == "a") & (folds["split"] == "spatial"), "pearson_r"] = [
        np.nan, 0.45, 0.45, 0.9, 0.9, 0.9]
    assert _best_model(folds, "spatial") == "a"

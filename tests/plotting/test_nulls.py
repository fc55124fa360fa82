"""Null figures return matplotlib figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from skconn.nulls import cge_matched_spins
from skconn.plotting import plot_cge_curves, plot_null_distribution


@pytest.fixture(scope="module")
def matched(hcp100):
    return hcp100, *cge_matched_spins(hcp100, n_spins=30, k=3, random_state=0, return_all=True)


def test_cge_curve_plot(matched):
    c, _, diag, perms = matched
    fig = plot_cge_curves(c, diag, perms, n_show=2)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    from skconn.plotting._nulls import shown_nulls

    best, _ = shown_nulls(diag, 2)
    want = [f"spin {s}: {diag.loc[s, 'fraction_kept']:.0%} kept, "
            f"{diag.loc[s, 'mean_displacement']:.0f} mm" for s in best]
    assert labels == [*want, "worst nulls", "true data"]
    assert ax.get_xlabel() == "distance (mm)"
    plt.close(fig)
    fig, ax = plt.subplots()
    assert plot_cge_curves(c, diag, ax=ax) is fig  # fitted curves only
    plt.close(fig)
    stripped = diag.copy()
    stripped.attrs = {}
    with pytest.raises(ValueError, match="cge_matched_spins"):
        plot_cge_curves(c, stripped)


def test_null_histogram():
    fig = plot_null_distribution(np.r_[np.random.default_rng(0).normal(size=50), np.nan], 1.5,
                                 pvalue=0.02, xlabel="Pearson r")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Pearson r"
    assert "p = 0.02" in ax.get_legend().get_texts()[1].get_text()
    assert "n=50" in ax.get_legend().get_texts()[0].get_text()
    plt.close(fig)


def test_null_histogram_keeps_its_labels_inside_the_figure():
    fig = plot_null_distribution(np.random.default_rng(0).normal(size=100), 2.5, pvalue=0.01,
                                 xlabel="Pearson r (test pairs)")
    fig.canvas.draw()
    inside = fig.bbox
    ax = fig.axes[0]
    for artist in (ax.xaxis.label, ax.yaxis.label, ax.get_legend()):
        box = artist.get_window_extent()
        assert box.y0 >= inside.y0 and box.x0 >= inside.x0, artist
        assert box.y1 <= inside.y1 and box.x1 <= inside.x1, artist
    # the legend sits above the axes, off the true-score line
    assert ax.get_legend().get_window_extent().y0 >= ax.get_window_extent().y1 - 1
    plt.close(fig)


def test_shown_best_nulls_are_eligible_ones():
    import pandas as pd

    from skconn.plotting._nulls import shown_nulls

    diagnostics = pd.DataFrame({"rank": [1, 2, 3, 4, 5],
                                "usable": [True, True, True, True, True],
                                "eligible": [False, True, False, True, True]})
    best, worst = shown_nulls(diagnostics, 2)
    assert best.tolist() == [1, 3]  # rank 1 and 3 are near-identity: never returned, not shown
    assert worst.tolist() == [3, 4]

"""Brain-space figures: glass-brain connectomes and matrices ordered by hemisphere/network."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from skconn.datasets import make_toy_connectome
from skconn.pairs import make_pairs
from skconn.plotting import (
    pairs_to_matrix,
    plot_brain_connectomes,
    plot_ordered_connectomes,
    region_order,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_order_groups_left_before_right_then_networks(hcp100):
    order, groups = region_order(hcp100, return_groups=True)
    hemi = hcp100.regions["hemisphere"].to_numpy()[order]
    assert sorted(order.tolist()) == list(range(hcp100.n_regions))
    # every left region before every right one
    assert np.flatnonzero(hemi == "L").max() < np.flatnonzero(hemi == "R").min()
    # each group is contiguous, and networks follow the Schaefer table order, subcortex last
    names = list(dict.fromkeys(groups))
    assert len(names) == len(set(groups))
    assert names[:8] == ["L Vis", "L SomMot", "L DorsAttn", "L SalVentAttn", "L Limbic",
                         "L Cont", "L Default", "L Subcortex"]
    assert all(label.startswith("7Networks_LH_Vis")
               for label in hcp100.labels[order[groups == "L Vis"]])


def test_order_undoes_a_known_permutation(hcp100):
    perm = np.random.default_rng(0).permutation(hcp100.n_regions)
    shuffled = hcp100.subset(perm)
    order = region_order(shuffled)
    # the shuffled table, reordered, lists the same regions in the same order as the original
    assert shuffled.labels[order].tolist() == hcp100.labels[region_order(hcp100)].tolist()
    # and the shuffled matrix, reordered, is the original matrix reordered
    original = region_order(hcp100)
    np.testing.assert_array_equal(shuffled.connectivity[np.ix_(order, order)],
                                  hcp100.connectivity[np.ix_(original, original)])
    # within a group, parcel numbers count up (Vis_9 before Vis_10)
    vis = hcp100.labels[original][:9].tolist()
    assert vis == [f"7Networks_LH_Vis_{k}" for k in range(1, 10)]


def test_order_by_and_bad_input():
    c = make_toy_connectome(8, 4)
    assert region_order(c.regions, by="hemisphere").tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    X, _ = make_pairs(c)
    assert region_order(X).tolist() == region_order(c).tolist()
    _, groups = region_order(c, by=("hemisphere", "structure"), return_groups=True)
    assert set(groups) == {"L cortex", "R cortex"}
    with pytest.raises(ValueError, match="network"):
        region_order(c, by="network")  # toy labels carry no network
    with pytest.raises(ValueError, match="by must name"):
        region_order(c, by="lobe")
    with pytest.raises(TypeError, match="Connectome, a RegionPairs or a region table"):
        region_order(np.zeros((3, 3)))


def test_glass_brain_nodes_are_the_centroids_and_threshold_is_a_percentile(hcp100, monkeypatch):
    calls = []
    from nilearn import plotting as niplot

    original = niplot.plot_connectome

    def spy(adjacency, coords, **kwargs):
        calls.append((np.array(adjacency), np.array(coords), kwargs))
        return original(adjacency, coords, **kwargs)

    monkeypatch.setattr(niplot, "plot_connectome", spy)
    fc = hcp100.connectivity
    predicted = fc.copy()
    predicted[:10, 10:] = predicted[10:, :10] = np.nan  # no prediction for these pairs
    fig = plot_brain_connectomes(hcp100, fc, {"model": predicted}, edge_threshold="90%")
    assert len(calls) == 2
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["observed (top 10% of |edges|)", "model (top 10% of |edges|)"]
    for adjacency, coords, kwargs in calls:
        np.testing.assert_array_equal(coords, hcp100.regions[["x", "y", "z"]].to_numpy())
        # only the pairs both matrices have, and the threshold is their 90th |value| percentile
        assert np.all(adjacency[:10, 10:] == 0) and np.all(np.diag(adjacency) == 0)
        shown = np.triu(np.ones_like(fc, dtype=bool), 1)
        shown[:10, 10:] = False
        expected = np.percentile(np.abs(fc[shown]), 90)
        assert kwargs["edge_threshold"] == pytest.approx(expected)
    calls.clear()
    plot_brain_connectomes(hcp100, fc, predicted, edge_threshold=0.5, common_pairs=False)
    assert calls[0][0][0, 50] == fc[0, 50] and calls[0][2]["edge_threshold"] == 0.5


def test_glass_brain_bad_input():
    c = make_toy_connectome(10, 4)
    with pytest.raises(ValueError, match=r"predicted must be an \(R, R\) matrix for the 10"):
        plot_brain_connectomes(c, c.connectivity, np.zeros((9, 9)))
    with pytest.raises(ValueError, match="percentile such as '95%'"):
        plot_brain_connectomes(c, c.connectivity, c.connectivity, edge_threshold="high")
    with pytest.raises(TypeError, match="edge_threshold"):
        plot_brain_connectomes(c, c.connectivity, c.connectivity, edge_threshold=[1])


def test_ordered_matrices_show_the_ordered_values_and_boundaries(hcp100):
    fc = hcp100.connectivity
    perm = np.random.default_rng(1).permutation(hcp100.n_regions)
    shuffled = hcp100.subset(perm)
    fig = plot_ordered_connectomes(shuffled, shuffled.connectivity,
                                   {"half": 0.5 * shuffled.connectivity})
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["observed", "half"]
    shown = np.array(panels[0].images[0].get_array().filled(np.nan))
    original = region_order(hcp100)
    expected = fc[np.ix_(original, original)]
    np.fill_diagonal(expected, np.nan)
    # the permutation is undone: the picture is the original matrix in display order
    np.testing.assert_allclose(shown, expected)
    ticks = [t.get_text() for t in panels[0].get_yticklabels()]
    assert ticks[0] == "L Vis" and ticks[-1] == "R Subcortex" and len(ticks) == 16
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["L", "R"]
    # a line at each of the 15 group boundaries, in both directions
    assert len(panels[0].lines) == 2 * 15


def test_ordered_matrix_from_pair_predictions_leaves_missing_pairs_blank():
    c = make_toy_connectome(12, 6)
    X, y = make_pairs(c)
    keep = (X.pairs < 6).all(axis=1)  # predictions only among the first six regions
    predicted = pairs_to_matrix(X.pairs[keep], y[keep], X.n_regions)
    fig = plot_ordered_connectomes(X, c.connectivity, predicted, vmax=1.0)
    panel = next(ax for ax in fig.axes if ax.get_title() == "predicted")
    image = panel.images[0]
    assert image.get_clim() == (-1.0, 1.0)
    values = np.array(image.get_array().filled(np.nan))
    order = region_order(c)
    inside = np.isin(order, np.arange(6))
    off = ~np.eye(12, dtype=bool)
    assert np.isfinite(values[np.ix_(inside, inside)][off[:6, :6]]).all()
    assert np.isnan(values[np.ix_(~inside, ~inside)]).all()


def test_default_dataset_figures_are_written(tmp_path):
    from skconn.datasets import load_default

    c = load_default(verbose=False)
    fig = plot_brain_connectomes(c, c.connectivity, 0.5 * c.connectivity, display_mode="z")
    fig.savefig(tmp_path / "brain.png")
    fig = plot_ordered_connectomes(c, c.connectivity)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["L", "R"]
    fig.savefig(tmp_path / "matrix.png")
    assert (tmp_path / "brain.png").stat().st_size > 10_000


def test_order_by_given_labels_groups_inside_hemispheres():
    c = make_toy_connectome(8, 4)
    fold = np.array(["fold 10", "fold 2", "fold 2", "fold 10", "fold 2", "fold 10", "fold 2",
                     "fold 10"])
    order, groups = region_order(c, by=("hemisphere", fold), return_groups=True)
    # L regions 0, 2, 4, 6 split into fold 2 (2, 4, 6) before fold 10 (0): numbers as numbers
    assert order.tolist() == [2, 4, 6, 0, 1, 3, 5, 7]
    assert groups.tolist()[:4] == ["L fold 2"] * 3 + ["L fold 10"]
    with pytest.raises(ValueError, match="one per region"):
        region_order(c, by=("hemisphere", fold[:5]))

"""Tests of filling unsampled regions' expression, on the real hcp_schaefer400 data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from skconn.datasets import Connectome, imputation_leave_one_out, impute_missing_regions

METHODS = ["nearest", "mirror", "mirror_nearest"]


def _row_corr(a, b):
    """Pearson correlation of matching rows of two (N, G) arrays."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def test_hcp400_has_49_unsampled_cortical_regions(hcp400):
    missing = ~hcp400.sampled
    assert missing.sum() == 49
    assert np.isnan(hcp400.expression.to_numpy()[missing]).all()
    assert (hcp400.regions["structure"][missing] == "cortex").all()
    # only 2 of the 6 AHBA donors have right-hemisphere samples
    assert (hcp400.regions["hemisphere"][missing] == "R").sum() == 46


@pytest.fixture(scope="module")
def imputed(hcp400):
    return {method: impute_missing_regions(hcp400, method=method) for method in METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_fills_every_row_and_changes_nothing_else(hcp400, imputed, method):
    filled = imputed[method]
    assert filled.sampled.all()
    assert np.isfinite(filled.expression.to_numpy()).all()
    sampled = hcp400.sampled
    np.testing.assert_array_equal(
        filled.expression.to_numpy()[sampled], hcp400.expression.to_numpy()[sampled]
    )
    assert filled.regions.equals(hcp400.regions)
    assert list(filled.genes) == list(hcp400.genes)
    np.testing.assert_array_equal(filled.connectivity, hcp400.connectivity)
    assert filled.name == hcp400.name
    assert (~hcp400.sampled).sum() == 49  # the input is left as it was


@pytest.mark.parametrize("method", METHODS)
def test_imputed_rows_resemble_their_neighbours(hcp400, imputed, method):
    missing = np.flatnonzero(~hcp400.sampled)
    sampled = np.flatnonzero(hcp400.sampled)
    values = imputed[method].expression.to_numpy()
    distances = hcp400.distances()[np.ix_(missing, sampled)]
    nearest = sampled[distances.argmin(axis=1)]
    r_nearest = _row_corr(values[missing], values[nearest])
    rng = np.random.default_rng(0)
    r_random = _row_corr(values[missing], values[rng.choice(sampled, len(missing))])
    assert np.median(r_nearest) > 0.7
    assert np.median(r_nearest) > np.median(r_random) + 0.2


def test_mirror_copies_the_contralateral_region(hcp400, imputed):
    values = hcp400.expression.to_numpy()
    filled = imputed["mirror"].expression.to_numpy()
    hemi = hcp400.regions["hemisphere"].to_numpy()
    cortex = (hcp400.regions["structure"] == "cortex").to_numpy()
    for r in np.flatnonzero(~hcp400.sampled):
        donors = np.flatnonzero(hcp400.sampled & cortex & (hemi != hemi[r]))
        mirrored = hcp400.coords[r] * [-1, 1, 1]
        donor = donors[cdist(mirrored[None], hcp400.coords[donors]).argmin()]
        np.testing.assert_allclose(filled[r], values[donor], rtol=1e-12)


def test_mirror_nearest_averages_both(imputed, hcp400):
    missing = ~hcp400.sampled
    both = (
        imputed["mirror"].expression.to_numpy()[missing]
        + imputed["nearest"].expression.to_numpy()[missing]
    ) / 2
    np.testing.assert_allclose(imputed["mirror_nearest"].expression.to_numpy()[missing], both)


def test_nearest_with_k1_copies_the_closest_same_side_region(hcp400):
    filled = impute_missing_regions(hcp400, method="nearest", k=1).expression.to_numpy()
    values = hcp400.expression.to_numpy()
    hemi = hcp400.regions["hemisphere"].to_numpy()
    cortex = (hcp400.regions["structure"] == "cortex").to_numpy()
    for r in np.flatnonzero(~hcp400.sampled):
        donors = np.flatnonzero(hcp400.sampled & cortex & (hemi == hemi[r]))
        donor = donors[cdist(hcp400.coords[r][None], hcp400.coords[donors]).argmin()]
        np.testing.assert_allclose(filled[r], values[donor], rtol=1e-12)


def _leave_one_out_by_hand(connectome, method, regions):
    """Hide each of ``regions`` in turn, impute it, correlate with its true profile."""
    values = connectome.expression.to_numpy()
    r = []
    for i in regions:
        hidden = connectome.expression.copy()
        hidden.iloc[i] = np.nan
        trial = Connectome(connectome.regions, hidden, connectome.connectivity)
        guess = impute_missing_regions(trial, method=method).expression.to_numpy()[i]
        r.append(np.corrcoef(guess, values[i])[0, 1])
    return np.array(r)


@pytest.fixture(scope="module")
def leave_one_out(hcp400):
    return {method: imputation_leave_one_out(hcp400, method) for method in METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_leave_one_out_is_hiding_and_imputing_each_region(hcp400, leave_one_out, method):
    scores = leave_one_out[method]
    sampled = np.flatnonzero(hcp400.sampled)
    assert scores.index.tolist() == hcp400.labels[sampled].tolist()
    some = sampled[:: len(sampled) // 6]  # a few regions, the slow way
    np.testing.assert_allclose(
        scores.loc[hcp400.labels[some]].to_numpy(),
        _leave_one_out_by_hand(hcp400, method, some),
        rtol=1e-10,
    )


def test_mirror_nearest_is_at_least_as_good_as_nearest(hcp400, leave_one_out):
    """Leave-one-sampled-region-out on hcp_schaefer400 (365 regions).

    Observed (k=10): mean r 0.842 (mirror_nearest), 0.839 (nearest), 0.777 (mirror);
    right hemisphere, where 46 of the 49 unsampled regions lie: 0.812 vs 0.792.
    See benchmarks/results_data.md.
    """
    nearest, mirror_nearest = leave_one_out["nearest"], leave_one_out["mirror_nearest"]
    assert len(nearest) == 365
    assert mirror_nearest.mean() >= nearest.mean()
    assert np.median(mirror_nearest) > 0.8  # imputation recovers real profiles
    right = (hcp400.regions.set_index("label")["hemisphere"] == "R").loc[nearest.index]
    assert mirror_nearest[right].mean() > nearest[right].mean()
    subcortex = (hcp400.regions.set_index("label")["structure"] == "subcortex").loc[nearest.index]
    assert mirror_nearest[subcortex].mean() > nearest[subcortex].mean() + 0.1


def test_leave_one_out_needs_two_sampled_regions(hcp100_small):
    values = hcp100_small.expression.copy()
    values.iloc[1:] = np.nan
    c = Connectome(hcp100_small.regions, values, hcp100_small.connectivity)
    with pytest.raises(ValueError, match="at least two sampled regions"):
        imputation_leave_one_out(c)
    with pytest.raises(ValueError, match="method must be one of"):
        imputation_leave_one_out(hcp100_small, method="linear")


def test_nothing_to_impute_returns_an_equal_copy(hcp100_small):
    filled = impute_missing_regions(hcp100_small)
    assert filled == hcp100_small and filled is not hcp100_small


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "linear"}, ValueError, r"method must be one of .*got 'linear'"),
        ({"k": 0}, ValueError, "k must be a positive integer, got 0"),
        ({"k": 2.5}, ValueError, "k must be a positive integer, got 2.5"),
    ],
)
def test_bad_arguments(hcp400, kwargs, error, match):
    with pytest.raises(error, match=match):
        impute_missing_regions(hcp400, **kwargs)


def test_needs_a_connectome_with_some_expression(hcp100_small):
    with pytest.raises(TypeError, match="connectome must be a Connectome, got DataFrame"):
        impute_missing_regions(hcp100_small.expression)
    empty = hcp100_small.expression * np.nan
    c = Connectome(hcp100_small.regions, empty, hcp100_small.connectivity)
    with pytest.raises(ValueError, match="no region has expression"):
        impute_missing_regions(c)

"""Tests of the skconn.metrics core metrics and score_report on the real datasets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from skconn.metrics import (
    REPORT_KEYS,
    distance_stratified_r,
    geodesic_distance,
    pearson_r,
    score_report,
    spearman_r,
    strength_stratified_r,
    unordered,
)
from skconn.pairs import make_pairs


def _cge_prediction(connectome, X):
    """A CGE-like prediction of every pair: the correlation of the two expression profiles."""
    cge = connectome.cge()
    return cge[X.pairs[:, 0], X.pairs[:, 1]]


def _asymmetric_prediction(connectome, X, seed=0):
    """CGE plus noise that differs between (i, j) and (j, i)."""
    rng = np.random.default_rng(seed)
    return _cge_prediction(connectome, X) + rng.normal(0, 0.05, len(X))


@pytest.fixture(scope="module")
def hcp_pairs(hcp100):
    X, y = make_pairs(hcp100)
    return X, y, _asymmetric_prediction(hcp100, X)


# ---------------------------------------------------------------------- unordered
def test_unordered_averages_the_two_orderings(hcp100, hcp_pairs):
    X, y, pred = hcp_pairs
    n = hcp100.n_regions
    y_u, pred_u, rows = unordered(y, pred, X)
    assert len(rows) == len(y_u) == len(pred_u) == n * (n - 1) // 2
    # make_pairs puts (i, j) at row 2k and (j, i) at row 2k + 1.
    np.testing.assert_array_equal(rows, np.arange(0, len(X), 2))
    np.testing.assert_allclose(pred_u, (pred[0::2] + pred[1::2]) / 2)
    np.testing.assert_allclose(y_u, y[0::2])
    np.testing.assert_allclose(y_u, hcp100.connectivity[X.pairs[rows, 0], X.pairs[rows, 1]])


def test_unordered_gives_each_pair_once_whatever_the_row_order(hcp_pairs):
    X, y, pred = hcp_pairs
    perm = np.random.default_rng(1).permutation(len(X))
    Xp, yp, predp = X[perm], y[perm], pred[perm]
    y_u, pred_u, rows = unordered(yp, predp, Xp)
    keys = np.sort(Xp.pairs[rows], axis=1)
    assert len(np.unique(keys, axis=0)) == len(keys) == len(X) // 2
    # Compare with the natural order through the sorted pair keys.
    ref_y, ref_pred, ref_rows = unordered(y, pred, X)
    ref_keys = np.sort(X.pairs[ref_rows], axis=1)
    order = np.lexsort(keys.T[::-1])
    ref_order = np.lexsort(ref_keys.T[::-1])
    np.testing.assert_array_equal(keys[order], ref_keys[ref_order])
    np.testing.assert_allclose(pred_u[order], ref_pred[ref_order])
    np.testing.assert_allclose(y_u[order], ref_y[ref_order])


def test_unordered_keeps_single_orderings_and_separates_variants(ukbb100):
    X, y = make_pairs(ukbb100, order="upper")
    pred = _asymmetric_prediction(ukbb100, X)
    y_u, pred_u, rows = unordered(y, pred, X)
    np.testing.assert_array_equal(rows, np.arange(len(X)))
    np.testing.assert_array_equal(pred_u, pred)
    np.testing.assert_array_equal(y_u, y)
    # Drop the reverse of a few pairs: those stay as they are, the rest are averaged.
    Xb, yb = make_pairs(ukbb100)
    predb = _asymmetric_prediction(ukbb100, Xb)
    keep = np.ones(len(Xb), bool)
    keep[[1, 3, 5]] = False
    _, pred_u, rows = unordered(yb[keep], predb[keep], Xb[keep])
    assert len(rows) == len(Xb) // 2
    np.testing.assert_allclose(pred_u[:3], predb[[0, 2, 4]])
    np.testing.assert_allclose(pred_u[3], (predb[6] + predb[7]) / 2)
    # The same pair in two variants is two unordered pairs.
    perm = np.random.default_rng(0).permutation(ukbb100.n_regions)
    Xn, yn = make_pairs(ukbb100, nulls=perm[None, :])
    _, _, rows = unordered(yn, yn, Xn)
    assert len(rows) == len(Xn) // 2
    assert set(np.unique(Xn.variant[rows])) == {0, 1}


def test_unordered_rejects_bad_input(hcp_pairs):
    X, y, pred = hcp_pairs
    with pytest.raises(TypeError, match="RegionPairs"):
        unordered(y, pred, np.asarray(X[:10]))
    with pytest.raises(ValueError, match="pairs"):
        unordered(y[:10], pred[:10], X[:11])
    with pytest.raises(ValueError, match="same length"):
        unordered(y, pred[:-1], X)
    bad = pred.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        unordered(y, bad, X)


# ---------------------------------------------------------------------- correlations
def test_pearson_and_spearman_match_scipy_on_real_fc(hcp100, hcp_pairs):
    X, y, _ = hcp_pairs
    cge = _cge_prediction(hcp100, X)
    assert pearson_r(y, cge) == pytest.approx(pearsonr(y, cge)[0], abs=1e-12)
    assert spearman_r(y, cge) == pytest.approx(spearmanr(y, cge)[0], abs=1e-12)
    assert 0.2 < pearson_r(y, cge) < 0.8


def test_correlations_of_constant_input_are_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(pearson_r([0.1, 0.2, 0.3], [1.0, 1.0, 1.0]))
        assert np.isnan(pearson_r([0.5, 0.5], [0.1, 0.2]))
        assert np.isnan(spearman_r([0.1, 0.2, 0.3], [2.0, 2.0, 2.0]))
        assert np.isnan(pearson_r([0.1], [0.2]))
        assert np.isnan(pearson_r([], []))


# ---------------------------------------------------------------------- strata
def test_distance_strata_partition_all_pairs(hcp100, hcp_pairs):
    X, y, pred = hcp_pairs
    y_u, pred_u, rows = unordered(y, pred, X)
    d = X[rows].distances()
    masks = {"short_r": d <= 60, "mid_r": (d > 60) & (d <= 120), "long_r": d > 120}
    counts = {k: int(m.sum()) for k, m in masks.items()}
    assert sum(counts.values()) == len(d)
    assert all(c > 50 for c in counts.values())
    full = distance_stratified_r(y_u, pred_u, d)
    for key, mask in masks.items():
        assert full[key] == pytest.approx(pearsonr(y_u[mask], pred_u[mask])[0], abs=1e-12)
        # Exactly counts[key] pairs fall in the stratum: one more required gives NaN.
        at = distance_stratified_r(y_u, pred_u, d, min_pairs=counts[key])
        above = distance_stratified_r(y_u, pred_u, d, min_pairs=counts[key] + 1)
        assert np.isfinite(at[key]) and np.isnan(above[key])


def test_distance_strata_cutoffs_follow_max_distance():
    d = np.array([10, 20, 58.4, 60.0, 60.1, 116.7, 120.0, 120.1, 200.0])
    y = np.arange(len(d), dtype=float)
    rng = np.random.default_rng(0)
    p = y + rng.normal(0, 0.1, len(d))

    def counts(max_distance):
        out = []
        for key in ("short_r", "mid_r", "long_r"):
            n = 0
            while np.isfinite(
                distance_stratified_r(y, p, d, max_distance=max_distance, min_pairs=n + 1)[key]
            ):
                n += 1
            out.append(n)
        return out

    assert counts(180.0) == [4, 3, 2]
    # The published code's 175 mm: cut-offs at 58.33 and 116.67.
    assert counts(175.0) == [2, 3, 4]
    with pytest.raises(ValueError, match="max_distance"):
        distance_stratified_r(y, p, d, max_distance=0)
    with pytest.raises(ValueError, match="min_pairs"):
        distance_stratified_r(y, p, d, min_pairs=-1)
    with pytest.raises(ValueError, match="distances"):
        distance_stratified_r(y, p, d[:-1])


def test_strength_strata_partition_all_pairs(ukbb100):
    X, y = make_pairs(ukbb100, order="upper")
    pred = _cge_prediction(ukbb100, X)
    masks = {
        "strong_neg_r": y < -0.3,
        "weak_r": (y >= -0.3) & (y <= 0.3),
        "strong_pos_r": y > 0.3,
    }
    counts = {k: int(m.sum()) for k, m in masks.items()}
    assert sum(counts.values()) == len(y)
    full = strength_stratified_r(y, pred, min_pairs=2)
    for key, mask in masks.items():
        if counts[key] < 2:
            assert np.isnan(full[key])
            continue
        assert full[key] == pytest.approx(pearsonr(y[mask], pred[mask])[0], abs=1e-12)
        assert np.isnan(strength_stratified_r(y, pred, min_pairs=counts[key] + 1)[key])
    assert counts["weak_r"] > 50 and counts["strong_pos_r"] > 50


# ---------------------------------------------------------------------- geodesic distance
def _random_spd(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 2 * n))
    return a @ a.T / (2 * n) + 0.5 * np.eye(n)


def test_geodesic_known_answers():
    A = _random_spd(8, 0)
    B = _random_spd(8, 1)
    assert geodesic_distance(A, A, unit_diagonal=False) == 0.0
    for c in (0.5, 2.0, 7.0):
        d = geodesic_distance(A, c * A, unit_diagonal=False)
        assert d == pytest.approx(np.sqrt(8) * abs(np.log(c)), rel=1e-10)
    d_ab = geodesic_distance(A, B, unit_diagonal=False)
    assert d_ab == pytest.approx(geodesic_distance(B, A, unit_diagonal=False), rel=1e-10)
    # Invariance under congruence by any invertible W.
    W = np.random.default_rng(2).normal(size=(8, 8))
    d_w = geodesic_distance(W @ A @ W.T, W @ B @ W.T, unit_diagonal=False)
    assert d_w == pytest.approx(d_ab, rel=1e-8)
    # Against the definition: eigenvalues of A^{-1/2} B A^{-1/2}.
    root = scipy.linalg.sqrtm(np.linalg.inv(A)).real
    mu = np.linalg.eigvalsh(root @ B @ root)
    assert d_ab == pytest.approx(np.sqrt(np.sum(np.log(mu) ** 2)), rel=1e-8)


def test_geodesic_two_regions_correlation():
    # I vs [[1, r], [r, 1]]: eigenvalues 1 +- r.
    r = 0.6
    expected = np.sqrt(np.log(1 + r) ** 2 + np.log(1 - r) ** 2)
    assert geodesic_distance(np.eye(2), [[1, r], [r, 1]]) == pytest.approx(expected)
    # The diagonal is replaced by ones: a zero diagonal gives the same answer.
    assert geodesic_distance(np.zeros((2, 2)), [[0, r], [r, 0]]) == pytest.approx(expected)


def test_geodesic_on_real_fc(hcp100, ukbb100):
    fc = ukbb100.connectivity
    cge = ukbb100.cge()
    assert geodesic_distance(fc, fc) == 0.0
    d = geodesic_distance(fc, cge)
    assert np.isfinite(d) and d > 0
    assert d == pytest.approx(geodesic_distance(cge, fc), rel=1e-8)
    perm = np.random.default_rng(0).permutation(len(fc))
    permuted = np.ix_(perm, perm)
    assert geodesic_distance(fc[permuted], cge[permuted]) == pytest.approx(d, rel=1e-8)
    # hcp100 holds Fisher-z values: with a unit diagonal it is indefinite, so eps matters.
    sub = hcp100.subset(np.arange(0, hcp100.n_regions, 2))
    h_fc, h_cge = sub.connectivity, sub.cge()
    assert np.linalg.eigvalsh(np.where(np.eye(len(h_fc)), 1.0, h_fc))[0] < 0
    assert geodesic_distance(h_fc, h_cge, eps=1e-2) != pytest.approx(
        geodesic_distance(h_fc, h_cge, eps=1e-3)
    )


def test_geodesic_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        geodesic_distance(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="same shape"):
        geodesic_distance(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        geodesic_distance(np.eye(2), [[1, np.nan], [np.nan, 1]])
    with pytest.raises(ValueError, match="eps"):
        geodesic_distance(np.eye(2), np.eye(2), eps=0)
    for eps in ("a", None):
        with pytest.raises(TypeError, match="eps must be a number"):
            geodesic_distance(np.eye(2), np.eye(2), eps=eps)


# ---------------------------------------------------------------------- score_report
def test_score_report_perfect_prediction(hcp_pairs):
    X, y, _ = hcp_pairs
    report = score_report(y, y.copy(), X)
    # the fixed keys, then intra/inter r of each Schaefer network and the subcortex
    assert tuple(report)[: len(REPORT_KEYS)] == REPORT_KEYS
    networks = sorted({k.split("_r_")[1] for k in tuple(report)[len(REPORT_KEYS):]})
    assert networks == sorted(
        ["Cont", "Default", "DorsAttn", "Limbic", "SalVentAttn", "SomMot", "Vis", "Subcortex"]
    )
    assert tuple(score_report(y, y.copy(), X, networks=False)) == REPORT_KEYS
    for key in ("pearson_r", "spearman_r", "r2", "short_r", "mid_r", "long_r", "weak_r",
                "left_r", "right_r", "inter_r", "intra_r_Vis", "inter_r_Default"):
        assert report[key] == pytest.approx(1.0)
    assert report["mse"] == 0.0 and report["mae"] == 0.0
    assert report["geodesic"] == pytest.approx(0.0, abs=1e-8)
    assert report["n_pairs"] == len(X) // 2


def test_score_report_values_match_the_metric_functions(hcp100, hcp_pairs):
    X, y, pred = hcp_pairs
    report = score_report(y, pred, X)
    y_u, pred_u, rows = unordered(y, pred, X)
    assert report["pearson_r"] == pytest.approx(pearsonr(y_u, pred_u)[0], abs=1e-12)
    assert report["spearman_r"] == pytest.approx(spearmanr(y_u, pred_u)[0], abs=1e-12)
    assert report["r2"] == pytest.approx(r2_score(y_u, pred_u))
    assert report["mse"] == pytest.approx(mean_squared_error(y_u, pred_u))
    assert report["mae"] == pytest.approx(mean_absolute_error(y_u, pred_u))
    strata = distance_stratified_r(y_u, pred_u, X[rows].distances())
    strata.update(strength_stratified_r(y_u, pred_u))
    for key, value in strata.items():
        np.testing.assert_equal(report[key], value)
    # The whole grid: geodesic distance of the rebuilt matrices (symmetrised prediction).
    n = hcp100.n_regions
    full_pred = np.eye(n)
    full_pred[X.pairs[:, 0], X.pairs[:, 1]] = pred
    full_pred = (full_pred + full_pred.T) / 2
    assert report["geodesic"] == pytest.approx(
        geodesic_distance(hcp100.connectivity, full_pred), rel=1e-8
    )


def test_score_report_ordered_rows(hcp_pairs):
    X, y, pred = hcp_pairs
    report = score_report(y, pred, X, unordered=False)
    assert report["n_pairs"] == len(X)
    assert report["pearson_r"] == pytest.approx(pearsonr(y, pred)[0], abs=1e-12)
    assert report["mse"] == pytest.approx(mean_squared_error(y, pred))
    # The geodesic distance always uses the symmetrised matrices.
    assert report["geodesic"] == pytest.approx(score_report(y, pred, X)["geodesic"])


def test_score_report_geodesic_needs_a_complete_grid(hcp100, hcp_pairs):
    X, y, pred = hcp_pairs
    test_regions = np.arange(10, 40)
    inside = np.isin(X.pairs, test_regions).all(axis=1)
    report = score_report(y[inside], pred[inside], X[inside], min_pairs=10)
    sub = np.ix_(test_regions, test_regions)
    full_pred = np.eye(hcp100.n_regions)
    full_pred[X.pairs[:, 0], X.pairs[:, 1]] = pred
    full_pred = (full_pred + full_pred.T) / 2
    assert report["geodesic"] == pytest.approx(
        geodesic_distance(hcp100.connectivity[sub], full_pred[sub]), rel=1e-8
    )
    assert report["n_pairs"] == 30 * 29 // 2
    # One unordered pair missing (both orderings dropped): no grid.
    holes = inside.copy()
    holes[np.flatnonzero(inside)[:2]] = False
    assert np.isnan(score_report(y[holes], pred[holes], X[holes])["geodesic"])
    # One ordering missing only: still a grid.
    one = inside.copy()
    one[np.flatnonzero(inside)[1]] = False
    assert np.isfinite(score_report(y[one], pred[one], X[one])["geodesic"])
    # Train-test pairs (a rectangle, not a grid).
    cross = np.isin(X.pairs[:, 0], test_regions) & ~np.isin(X.pairs[:, 1], test_regions)
    assert np.isnan(score_report(y[cross], pred[cross], X[cross])["geodesic"])


def test_score_report_geodesic_is_nan_for_mixed_variants(ukbb100):
    sub = ukbb100.subset(np.arange(20))
    perm = np.random.default_rng(0).permutation(20)
    X, y = make_pairs(sub, nulls=perm[None, :])
    report = score_report(y, y, X, min_pairs=10)
    assert np.isnan(report["geodesic"])
    assert report["n_pairs"] == 2 * 190
    only_null = X.variant == 1
    assert score_report(y[only_null], y[only_null], X[only_null])["geodesic"] == 0.0


def test_score_report_rejects_bad_input(hcp_pairs):
    X, y, pred = (v[:500] for v in hcp_pairs)
    with pytest.raises(TypeError, match="RegionPairs"):
        score_report(y[:10], pred[:10], np.asarray(X[:10]))
    with pytest.raises(ValueError, match="pairs"):
        score_report(y, pred, X[:-2])
    with pytest.raises(ValueError, match="same length"):
        score_report(y, pred[:-2], X)
    bad = pred.copy()
    bad[::7] = np.nan
    with pytest.raises(ValueError, match=r"y_pred contains \d+ NaN"):
        score_report(y, bad, X)
    with pytest.raises(ValueError, match="1-D"):
        score_report(y, np.column_stack([pred, pred]), X)
    with pytest.raises(ValueError, match="no pairs"):
        score_report(y[:0], pred[:0], X[:0])
    with pytest.raises(TypeError, match="unordered must be True or False"):
        score_report(y, pred, X, unordered="no")
    # A column vector of predictions is accepted.
    assert score_report(y, pred[:, None], X)["pearson_r"] == score_report(y, pred, X)["pearson_r"]


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e200])
def test_pearson_r_is_scale_free_even_where_sums_of_squares_overflow(scale):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50) + np.arange(50) / 10
    expected = pearson_r(a, b)
    assert pearson_r(a * scale, b) == pytest.approx(expected, rel=1e-12)
    assert pearson_r(a, -b * scale) == pytest.approx(-expected, rel=1e-12)

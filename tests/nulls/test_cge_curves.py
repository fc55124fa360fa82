"""CGE-distance curves and their vectorised fits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from skconn.nulls import (
    DistanceBins,
    cge_distance_curve,
    curve_parameters,
    exponential_decay,
    fit_cubic,
    fit_exponential,
    spun_cge_curves,
)


@pytest.fixture(scope="module")
def curve(hcp400_full):
    return cge_distance_curve(hcp400_full.cge(), hcp400_full.distances())


def test_true_curve_is_exponential_like(curve):
    centers, means, counts = curve
    assert centers[0] == 2.5 and np.all(np.diff(centers) >= 5) and counts.min() >= 1
    lam, inf = fit_exponential(centers, means)
    assert 5 < lam < 100 and -1 < inf < 0.5
    fitted = exponential_decay(centers, lam, inf)
    # weighted by pair counts the decay explains most of the curve
    w = counts / counts.sum()
    resid = np.sum(w * (means - fitted) ** 2)
    total = np.sum(w * (means - np.sum(w * means)) ** 2)
    assert 1 - resid / total > 0.8
    assert means[0] > means[len(means) // 2]  # near pairs share more expression


def test_exponential_fit_agrees_with_curve_fit(curve, hcp400_full):
    centers, means, _ = curve
    rng = np.random.default_rng(0)
    perms = np.array([rng.permutation(hcp400_full.n_regions) for _ in range(3)])
    bins = DistanceBins.from_distances(hcp400_full.distances())
    curves = np.vstack([means, bins.means(hcp400_full.cge(), perms)])
    lam, inf = fit_exponential(centers, curves)

    def sse(y, p):
        return np.sum((y - exponential_decay(centers, *p)) ** 2)

    for k, y in enumerate(curves):
        popt, _ = curve_fit(
            lambda d, a, b: exponential_decay(d, a, b), centers, y, p0=[10, 0],
            bounds=([0, -1], [100, 1]), maxfev=5000,
        )
        # never worse than the local search, and equal where it converged
        assert sse(y, (lam[k], inf[k])) <= sse(y, popt) + 1e-12
    popt, _ = curve_fit(lambda d, a, b: exponential_decay(d, a, b), centers, means, p0=[10, 0],
                        bounds=([0, -1], [100, 1]))
    np.testing.assert_allclose([lam[0], inf[0]], popt, rtol=1e-4)


def test_exponential_fit_recovers_parameters_and_bounds():
    d = np.arange(2.5, 160, 5.0)
    truth = [(5.0, 0.1), (20.0, 0.35), (60.0, -0.2), (99.0, 0.0)]
    Y = np.array([exponential_decay(d, lam, inf) for lam, inf in truth])
    lam, inf = fit_exponential(d, Y)
    np.testing.assert_allclose(lam, [t[0] for t in truth], rtol=1e-5)
    np.testing.assert_allclose(inf, [t[1] for t in truth], atol=1e-6)
    # a curve that keeps falling past 100 mm sits on the bound
    lam, inf = fit_exponential(d, exponential_decay(d, 400.0, 0.0))
    assert lam == 100.0
    with pytest.raises(ValueError, match="NaN"):
        fit_exponential(d, np.full_like(d, np.nan))
    with pytest.raises(ValueError, match="bins"):
        fit_exponential(d[:-1], Y)


def test_cubic_equals_numpy_polynomial(curve):
    centers, means, _ = curve
    expected = np.polynomial.Polynomial.fit(centers, means, 3).convert().coef
    np.testing.assert_allclose(fit_cubic(centers, means), expected, rtol=1e-6, atol=1e-12)
    many = fit_cubic(centers, np.vstack([means, means * 2]))
    np.testing.assert_allclose(many[1], 2 * many[0], rtol=1e-9, atol=1e-15)


def test_spun_curves_are_permuted_cge(hcp400_full):
    cge, dist = hcp400_full.cge(), hcp400_full.distances()
    rng = np.random.default_rng(1)
    perms = np.array([rng.permutation(hcp400_full.n_regions) for _ in range(4)])
    params = spun_cge_curves(cge, dist, perms, batch_size=3)
    for p, row in zip(perms, params, strict=True):
        # recompute CGE from the permuted expression: same curve
        spun = np.corrcoef(hcp400_full.expression.to_numpy()[p])
        centers, means, _ = cge_distance_curve(spun, dist)
        np.testing.assert_allclose(row, curve_parameters(centers, means)[0], rtol=1e-6,
                                   atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        cge_distance_curve(np.full((3, 3), np.nan), np.ones((3, 3)))
    with pytest.raises(ValueError, match="square"):
        DistanceBins.from_distances(np.ones((3, 2)))
    with pytest.raises(ValueError, match="bin_size"):
        DistanceBins.from_distances(np.ones((3, 3)), bin_size=0)
    with pytest.raises(ValueError, match="perms"):
        spun_cge_curves(np.eye(3), np.ones((3, 3)), np.zeros((2, 4), dtype=int))

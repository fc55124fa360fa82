"""Hemispheric and subnetwork metrics (REFERENCE §5) on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from skconn.datasets import load_default
from skconn.metrics import (
    get_scorer,
    hemispheric_r,
    network_r,
    region_networks,
    score_report,
    unordered,
)
from skconn.models import ConnectomeModelRegressor
from skconn.pairs import make_pairs


@pytest.fixture(scope="module")
def hcp_scored(hcp100):
    """A Connectome Model's predictions of every hcp_schaefer100 pair, unordered."""
    X, y = make_pairs(hcp100)
    train = np.flatnonzero((X.pairs < 80).all(axis=1))
    pred = ConnectomeModelRegressor().fit(X[train], y[train]).predict(X)
    y_u, pred_u, rows = unordered(y, pred, X)
    return X, y, pred, y_u, pred_u, X.pairs[rows]


def _r(y_true, y_pred, mask):
    return pearsonr(y_true[mask], y_pred[mask])[0]


def test_hemispheric_r_splits_pairs_by_the_hemisphere_column(hcp100, hcp_scored):
    X, y, pred, y_u, pred_u, pairs = hcp_scored
    report = score_report(y, pred, X)
    # hcp_schaefer100 has no bilateral regions and every L region lies at x < 0, so the
    # published x-sign rule gives the same groups here
    hemi = hcp100.regions["hemisphere"].to_numpy()
    x = hcp100.regions["x"].to_numpy()
    assert set(hemi) == {"L", "R"} and ((x < 0) == (hemi == "L")).all()
    left = (x[pairs] < 0).all(axis=1)
    right = (x[pairs] > 0).all(axis=1)
    assert report["left_r"] == pytest.approx(_r(y_u, pred_u, left), abs=1e-12)
    assert report["right_r"] == pytest.approx(_r(y_u, pred_u, right), abs=1e-12)
    assert report["inter_r"] == pytest.approx(_r(y_u, pred_u, ~(left | right)), abs=1e-12)
    # the three groups differ, so the entries are not copies of pearson_r
    assert len({round(report[k], 6) for k in ("left_r", "right_r", "inter_r")}) == 3
    scorer = get_scorer("inter_r")
    model = ConnectomeModelRegressor().fit(X[: len(X) // 2], y[: len(X) // 2])
    expected = score_report(y, model.predict(X), X)["inter_r"]
    assert scorer(model, X, y) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="RegionPairs"):
        scorer(model, np.asarray(X), y)


def test_bilateral_regions_count_as_inter_hemispheric():
    hemi = np.array([["L", "B"], ["B", "B"], ["R", "B"], ["L", "L"]])
    y = np.array([0.1, 0.4, 0.2, 0.3])
    pred = np.array([0.2, 0.3, 0.1, 0.3])
    r = hemispheric_r(y, pred, hemi, min_pairs=3)
    assert r["inter_r"] == pytest.approx(pearsonr(y[:3], pred[:3])[0])
    assert np.isnan(r["left_r"]) and np.isnan(r["right_r"])  # one pair each: below min_pairs
    with pytest.raises(ValueError, match=r"hemispheres must have shape \(n_pairs, 2\)"):
        hemispheric_r(y, pred, hemi[:, 0])
    with pytest.raises(ValueError, match="one row per pair"):
        hemispheric_r(y, pred, hemi[:2])


def test_network_r_on_schaefer_labels(hcp100, hcp_scored):
    X, y, pred, y_u, pred_u, pairs = hcp_scored
    report = score_report(y, pred, X)
    labels = hcp100.regions["label"].to_numpy()
    structure = hcp100.regions["structure"].to_numpy()
    for net in ("Vis", "Default", "SomMot"):
        member = np.array([f"_{net}_" in v for v in labels])
        inside = member[pairs]
        assert report[f"intra_r_{net}"] == pytest.approx(
            _r(y_u, pred_u, inside.all(axis=1)), abs=1e-12)
        assert report[f"inter_r_{net}"] == pytest.approx(
            _r(y_u, pred_u, inside[:, 0] ^ inside[:, 1]), abs=1e-12)
    sub = (structure == "subcortex")[pairs]
    assert report["intra_r_Subcortex"] == pytest.approx(_r(y_u, pred_u, sub.all(axis=1)),
                                                        abs=1e-12)
    # only 5 Limbic regions have expression here: 10 pairs inside, fewer than min_pairs=50
    assert np.isnan(report["intra_r_Limbic"])
    assert np.isfinite(score_report(y, pred, X, min_pairs=10)["intra_r_Limbic"])


def test_explicit_networks_and_atlases_without_networks(hcp100, hcp_scored):
    X, y, pred, *_ = hcp_scored
    halves = np.where(hcp100.regions["y"].to_numpy() < 0, "posterior", "anterior")
    report = score_report(y, pred, X, networks=halves)
    assert sorted(k for k in report if k.startswith(("intra_r_", "inter_r_"))) == [
        "inter_r_anterior", "inter_r_posterior", "intra_r_anterior", "intra_r_posterior"]
    # only one kind of cross pair: both networks' inter groups are the same pairs
    assert report["inter_r_anterior"] == report["inter_r_posterior"]
    with pytest.raises(ValueError, match="one label per region"):
        score_report(y, pred, X, networks=halves[:10])
    # the embedded default (Desikan-Killiany labels) has no networks: none reported
    Xd, yd = make_pairs(load_default())
    assert region_networks(Xd.regions) is None
    assert not any(k.startswith("intra_r_") for k in score_report(yd, yd, Xd))


def test_region_networks_prefers_a_network_column():
    regions = pd.DataFrame({"label": ["7Networks_LH_Vis_1", "17Networks_RH_DefaultA_PFCm_2",
                                      "Lthal", "L_bankssts"],
                            "structure": ["cortex", "cortex", "subcortex", "cortex"]})
    assert region_networks(regions).tolist() == ["Vis", "DefaultA", "Subcortex", None]
    regions["network"] = ["a", "b", "c", None]
    assert region_networks(regions).tolist() == ["a", "b", "c", None]
    # a region without a network takes part in its partner's inter group only
    nets = np.array([["a", None], ["a", "a"], ["a", "a"], ["b", None]], dtype=object)
    y = np.array([0.1, 0.5, 0.3, 0.2])
    r = network_r(y, y, nets, min_pairs=1)
    assert sorted(r) == ["inter_r_a", "inter_r_b", "intra_r_a", "intra_r_b"]
    assert np.isnan(r["intra_r_b"])  # no pair inside b

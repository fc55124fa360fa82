"""cge_matched_spins (Algorithm 1) on hcp_schaefer400."""

from __future__ import annotations

import numpy as np
import pytest

from skconn.nulls import CURVE_PARAMETERS, cge_matched_spins

from .conftest import is_permutation


@pytest.fixture(scope="module")
def matched(hcp400_full):
    return cge_matched_spins(hcp400_full, n_spins=300, k=10, random_state=0, return_all=True)


def test_output(matched, hcp400_full):
    best, diag, perms = matched
    assert best.shape == (10, 414) and perms.shape == (300, 414)
    assert is_permutation(best)
    assert len(diag) == 300 and diag.index.name == "spin"
    for col in (*CURVE_PARAMETERS, "cortical_cost", "subcortical_cost", "total_cost",
                "standardized_SA_error", "standardized_poly_error", "standardized_cost_error",
                "standardized_error", "mean_error_rank", "total_cost_rank", "rank",
                "fraction_kept", "mean_displacement", "near_identity", "eligible"):
        assert col in diag
    assert sorted(diag["rank"]) == list(range(300))
    # the best-ranked eligible spins (usable and not near-identity), in rank order
    np.testing.assert_array_equal(
        best, perms[diag[diag["eligible"]].sort_values("rank").index[:10]])
    assert not diag.loc[diag["eligible"], "near_identity"].any()
    np.testing.assert_allclose(diag["fraction_kept"], (perms == np.arange(414)).mean(axis=1))
    assert set(diag.attrs["true"]) == set(CURVE_PARAMETERS)


def test_top_k_closer_to_truth_than_random_spins(matched):
    """The point of Algorithm 1: kept nulls keep the true CGE-distance curve."""
    _, diag, _ = matched
    true = diag.attrs["true"]
    top = diag[diag["rank"] < 10]
    for p in ("SA_lambda", "SA_inf"):
        sd = diag[p].std()
        top_err = np.abs(top[p] - true[p]).mean() / sd
        all_err = np.abs(diag[p] - true[p]).mean() / sd
        assert top_err < 0.7 * all_err, p
    assert top["standardized_error"].max() <= diag["standardized_error"].median()


def test_mean_rank_reproduces_reference_ranking(hcp400_full, matched):
    _, diag, _ = matched
    _, diag2 = cge_matched_spins(hcp400_full, n_spins=300, k=5, ranking="mean_rank",
                                 selection="published", random_state=0)
    # same spins, ranked by the mean of the three ranks
    np.testing.assert_allclose(diag2["SA_lambda"], diag["SA_lambda"])
    # the published total cost: cortical cost on the fsaverage sphere (radius 100, skconn
    # spins on the unit sphere) plus subcortical mm; the cortex then dominates its rank
    np.testing.assert_allclose(
        diag2["total_cost"], 100 * diag2["cortical_cost"] + diag2["subcortical_cost"])
    rank_corr = diag2[["total_cost", "cortical_cost", "subcortical_cost"]].corr("spearman")
    assert rank_corr.loc["total_cost", "cortical_cost"] > rank_corr.loc[
        "total_cost", "subcortical_cost"]
    expected = diag2["mean_error_rank"].to_numpy().argsort(kind="stable")[:5]
    np.testing.assert_array_equal(diag2.sort_values("rank").index[:5], expected)


def test_deterministic(hcp400_full):
    a, da = cge_matched_spins(hcp400_full, n_spins=40, k=3, random_state=11)
    b, db = cge_matched_spins(hcp400_full, n_spins=40, k=3, random_state=11)
    np.testing.assert_array_equal(a, b)
    assert da.equals(db)


def test_bad_input(hcp400, hcp400_full):
    with pytest.raises(ValueError, match="NaN expression"):
        cge_matched_spins(hcp400, n_spins=10, k=2)
    with pytest.raises(ValueError, match="k=20"):
        cge_matched_spins(hcp400_full, n_spins=10, k=20)
    with pytest.raises(ValueError, match="ranking"):
        cge_matched_spins(hcp400_full, n_spins=10, k=2, ranking="best")
    with pytest.raises(ValueError, match="n_spins"):
        cge_matched_spins(hcp400_full, n_spins=0, k=1)
    with pytest.raises(TypeError, match="Connectome"):
        cge_matched_spins(hcp400_full.regions, n_spins=10, k=2)


def test_nulls_are_distinct_and_spin_every_block(hcp100):
    """A few subcortical regions have few distinct spins: some leave them unspun."""
    structure = hcp100.regions["structure"].to_numpy()
    sub = hcp100.subset(np.flatnonzero(structure != "cortex"))  # 14 regions
    n = sub.n_regions
    best, diag, perms = cge_matched_spins(sub, n_spins=300, k=10, random_state=0,
                                          selection="published", return_all=True)
    identity = (perms == np.arange(n)).all(axis=1)
    assert identity.any()  # what the selection must pass over
    np.testing.assert_array_equal(diag["usable"].to_numpy(), ~identity)
    assert not (best == np.arange(n)).all(axis=1).any()
    assert len({b.tobytes() for b in best}) == len(best) == 10
    # the ranking alone would keep unspun or repeated spins among its top 10
    top = perms[diag.sort_values("rank").index[:10]]
    assert len({t.tobytes() for t in top}) < 10 or (top == np.arange(n)).all(axis=1).any()
    # the kept ones are the best-ranked distinct usable spins, in rank order
    ranked = diag[diag["usable"]].sort_values("rank").index.to_numpy()
    firsts = list(dict.fromkeys(perms[i].tobytes() for i in ranked))
    assert [b.tobytes() for b in best] == firsts[:10]
    # asking for more nulls than there are distinct usable spins: a clear error
    # (it used to return fewer with a warning)
    with pytest.raises(ValueError, match=r"distinct and move every block.*draw more spins"):
        cge_matched_spins(sub, n_spins=300, k=len(firsts) + 1, random_state=0,
                          selection="published")
    more, _ = cge_matched_spins(sub, n_spins=300, k=len(firsts), random_state=0,
                                selection="published")
    assert len(more) == len(firsts)
    # whole brain: spins whose subcortex stays unspun are passed over too
    best, diag, perms = cge_matched_spins(hcp100, n_spins=200, k=10, random_state=0,
                                          selection="published", return_all=True)
    sub_idx = np.flatnonzero(structure != "cortex")
    assert not diag["usable"].all()
    assert not (best[:, sub_idx] == sub_idx).all(axis=1).any()
    with pytest.raises(ValueError, match="subcortical_center"):
        cge_matched_spins(hcp100.subset(np.flatnonzero(structure == "cortex")), n_spins=5,
                          k=1, subcortical_center="bogus")

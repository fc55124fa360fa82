"""The main job's null options: the classic spin test (p_spin), unsampled regions imputed
fold by fold, and the neural coordinates-only baseline."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from skconn.benchmark import BenchmarkConfig, make_model, run_job
from skconn.benchmark._tasks import fold_model, fold_pairs
from skconn.cli import main
from skconn.datasets import impute_missing_regions, make_toy_connectome
from skconn.models import ConnectomeModelRegressor
from skconn.nulls import make_nulls, spin_test
from skconn.pairs import make_pairs
from skconn.preprocessing import RegionImputer


def _config(out, **kwargs):
    return BenchmarkConfig(**{"models": ["exp_decay", "connectome_model"], "repeats": 1,
                              "folds": 3, "nulls": 2, "n_spins": 40, "spin_test": 60,
                              "output": str(out), **kwargs})


# ----------------------------------------------------------------------- p_spin
def test_job_runs_the_classic_spin_test_of_the_connectome_model(ukbb100, tmp_path):
    sub = ukbb100.subset(np.arange(0, 100, 2))  # 50 real cortical regions
    out = tmp_path / "run"
    run_job(_config(out), progress=False, connectome=sub)
    table = pd.read_csv(out / "spin_test.csv")
    assert table["model"].tolist() == ["connectome_model"]  # exp_decay sees no expression
    row = table.iloc[0]
    assert row["n_spins"] == 60 and row["batched"]
    # the same spin test by hand: plain spins, the alpha chosen on the data kept fixed
    X, y = make_pairs(sub)
    fitted = ConnectomeModelRegressor(random_state=0).fit(X, y)
    model = ConnectomeModelRegressor(alpha=fitted.alpha_, penalty=fitted.penalty_)
    spins = make_nulls(sub, 60, kind="spin", n_spins=120, random_state=0)
    expected = spin_test(model, X, y, spins)
    assert row["score"] == pytest.approx(expected.score)
    assert row["p_spin"] == pytest.approx(expected.pvalue)
    assert 1 / 61 <= row["p_spin"] <= 1
    summary = pd.read_csv(out / "summary.csv")
    observed = summary[summary["data"] == "observed"].set_index("model")
    assert observed.loc["connectome_model", "p_spin"] == pytest.approx(row["p_spin"])
    assert np.isnan(observed.loc["exp_decay", "p_spin"])
    assert summary.loc[summary["data"] == "spin-null", "p_spin"].isna().all()
    text = (out / "summary.md").read_text()
    assert "| model | split | p_folds | p_spin |" in text and "60 plain spins" in text
    assert (out / "spin_test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spin_test_is_cached_and_can_be_turned_off(tmp_path, monkeypatch):
    toy = make_toy_connectome(24, 5)
    out = tmp_path / "run"
    run_job(_config(out), progress=False, connectome=toy)
    cached = out / "spin_test" / "connectome_model__n60.npz"
    assert cached.exists()
    import skconn.benchmark._spin as spin_module

    def refuse(*args, **kwargs):
        raise AssertionError("the cached spin test was recomputed")

    monkeypatch.setattr(spin_module, "spin_model", refuse)
    run_job(_config(out), progress=False, connectome=toy)  # resumes: same fingerprint
    off = tmp_path / "off"
    run_job(_config(off, spin_test=0), progress=False, connectome=toy)
    assert not (off / "spin_test.csv").exists()
    assert pd.read_csv(off / "summary.csv")["p_spin"].isna().all()
    with pytest.raises(ValueError, match="spin_test must be >= 0"):
        BenchmarkConfig(spin_test=-1)
    assert BenchmarkConfig(spin_test=10).fingerprint() == BenchmarkConfig().fingerprint()


# ------------------------------------------------------------- unsampled regions
def test_make_pairs_takes_nulls_over_imputed_regions(hcp400):
    sub = hcp400.subset(np.arange(0, 400, 10))
    assert not sub.sampled.all()
    nulls = make_nulls(impute_missing_regions(sub), 2, kind="permute", random_state=0)
    with pytest.raises(ValueError, match="missing='impute'"):
        make_pairs(sub, nulls=nulls)
    X, _ = make_pairs(sub, nulls=nulls, missing="impute")
    assert X.n_regions == sub.n_regions and X.n_variants == 3
    # a fold-wise imputer re-imputes the shared rows that every null variant reads
    train = np.flatnonzero((X.pairs < 20).all(axis=1))
    imputer = RegionImputer().fit(X[train])
    assert set(imputer.donors_) <= set(range(20))
    Xt = imputer.transform(X)
    missing = np.flatnonzero(~sub.sampled)
    table = Xt.feature_table
    X0, _ = make_pairs(sub, missing="impute")  # the true data alone: the same estimates
    alone = RegionImputer().fit(X0[(X0.pairs < 20).all(axis=1)]).transform(X0).feature_table
    np.testing.assert_allclose(table[missing], alone[missing])
    assert not np.allclose(table[missing], X.feature_table[missing])  # not the global fill
    for v in (1, 2):
        np.testing.assert_array_equal(Xt.region_features(None, v), table[Xt.variants[v]])


def test_job_imputes_unsampled_regions_fold_by_fold(hcp400, tmp_path):
    sub = hcp400.subset(np.arange(0, 400, 10))  # 40 cortical regions, some unsampled
    n = sub.n_regions
    config = _config(tmp_path / "imp", unsampled="impute", models=["connectome_model"],
                     spin_test=0)
    model = fold_model("connectome_model", 0, "random", config)
    assert isinstance(model, Pipeline) and isinstance(model[0], RegionImputer)
    assert isinstance(model[-1], ConnectomeModelRegressor)
    X, _ = fold_pairs(sub, config, None)
    assert X.n_regions == n and "sampled" in X.regions
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing dropped
        folds = run_job(config, progress=False, connectome=sub)
    assert folds["pearson_r"].notna().all() and set(folds["data"]) == {"observed", "spin-null"}
    saved = np.load(tmp_path / "imp" / "runs" / "connectome_model__random__r0__f0__observed.npz")
    unsampled = set(np.flatnonzero(~sub.sampled))
    tested = {r for f in range(3) for r in np.load(
        tmp_path / "imp" / "runs" / f"connectome_model__random__r0__f{f}__observed.npz"
    )["pairs"].ravel()}
    assert unsampled <= tested and saved["pairs"].max() < n  # every region was scored
    assert 'unsampled = "impute"' in (tmp_path / "imp" / "config.toml").read_text()
    drop = BenchmarkConfig(unsampled="drop")
    assert drop.fingerprint() == BenchmarkConfig().fingerprint()
    assert BenchmarkConfig(unsampled="impute").fingerprint() != drop.fingerprint()
    with pytest.raises(ValueError, match="unsampled must be"):
        BenchmarkConfig(unsampled="fill")


def test_search_inside_the_imputing_pipeline_reports_plain_parameters(hcp400, tmp_path):
    sub = hcp400.subset(np.arange(0, 400, 10))
    config = _config(tmp_path / "s", unsampled="impute", models=["connectome_model"],
                     nulls=0, spin_test=0, search="grid", inner_folds=2)
    folds = run_job(config, progress=False, connectome=sub)
    assert all(set(json.loads(p)) == {"penalty"} for p in folds["params"])


def test_a_refused_rerun_names_an_option_set_off_its_default(tmp_path):
    toy = make_toy_connectome(24, 5)
    run_job(_config(tmp_path, null_kind="spin"), progress=False, connectome=toy)
    with pytest.raises(ValueError, match="--null-kind: cge_matched here, spin in the folder"):
        run_job(_config(tmp_path), progress=False, connectome=toy)


def test_cli_takes_the_new_null_options_and_prints_the_p_values(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["benchmark", "--models", "connectome_model", "--repeats", "1", "--folds", "3",
                 "--nulls", "2", "--n-spins", "40", "--spin-test", "30", "--unsampled", "drop",
                 "--output", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "p_spin" in printed and printed == (out / "summary.md").read_text()
    assert 'spin_test = 30' in (out / "config.toml").read_text()


# ------------------------------------------------------------ coordinates-only MLP
def test_coords_mlp_learns_from_coordinates_alone_and_ignores_the_nulls(hcp100):
    from skconn.model_selection import RandomRegionSplit

    model = make_model("coords_mlp", 0, "cpu").set_params(max_epochs=15)
    assert model.use_coords and not model.use_expression
    nulls = make_nulls(hcp100, 1, kind="permute", random_state=0)
    X, y = make_pairs(hcp100, nulls=nulls)
    n = len(X) // 2
    train, test = next(RandomRegionSplit(4, random_state=0).split(X[:n]))
    observed = model.fit(X[train], y[train]).predict(X[test])
    assert np.corrcoef(observed, y[test])[0, 1] > 0.3
    null = make_model("coords_mlp", 0, "cpu").set_params(max_epochs=15)
    on_null = null.fit(X[train + n], y[train + n]).predict(X[test + n])
    np.testing.assert_allclose(on_null, observed, rtol=1e-5, atol=1e-6)

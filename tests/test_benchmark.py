import json

import numpy as np
import pandas as pd
import pytest

from skconn.benchmark import (
    MODELS,
    BenchmarkConfig,
    make_model,
    resolved_params,
    run_benchmark,
    run_job,
    summarize,
)
from skconn.metrics import REPORT_KEYS


def test_run_benchmark_is_reproducible_and_complete(ukbb100):
    kwargs = dict(models=["exp_decay", "pls_bilinear"], split="random", repeats=2, folds=3,
                  random_state=5)
    first = run_benchmark(ukbb100, **kwargs)
    second = run_benchmark(ukbb100, **kwargs)
    assert len(first) == 2 * 2 * 3
    metrics = [k for k in REPORT_KEYS if k != "n_pairs"]
    np.testing.assert_allclose(first[metrics].to_numpy(float), second[metrics].to_numpy(float))
    assert set(first["seed"]) == {5, 6}
    assert (first["device"] == "cpu").all()
    assert (first["dataset"] == "ukbb_schaefer100").all()
    table = summarize(first).droplevel(["split", "data"])
    assert list(table.index) == ["exp_decay", "pls_bilinear"]
    assert (table["n_runs"] == 6).all()
    # expression beats distance alone on these data
    assert table.loc["pls_bilinear", "pearson_r_mean"] > table.loc["exp_decay", "pearson_r_mean"]


def test_inner_search_records_the_chosen_hyperparameters(ukbb100):
    df = run_benchmark(ukbb100, ["pls_bilinear"], repeats=1, folds=3, search="grid")
    chosen = [json.loads(p)["n_components"] for p in df["params"]]
    assert set(chosen) <= {5, 10, 25} and len(chosen) == 3


def test_randomized_inner_search_samples_the_grid(ukbb100):
    df = run_benchmark(ukbb100, ["low_rank"], repeats=1, folds=3, search="random")
    chosen = [json.loads(p) for p in df["params"]]
    assert len(chosen) == 3
    assert all(c["rank"] in (5, 10, 20) and c["alpha"] in (1e-3, 1e-2, 1e-1) for c in chosen)


def test_job_drops_regions_without_expression_with_a_warning(hcp400, tmp_path):
    sub = hcp400.subset(np.arange(0, 400, 10))  # 40 cortical regions, some unsampled
    n_unsampled = int((~sub.sampled).sum())
    assert n_unsampled > 0
    config = BenchmarkConfig(models=["exp_decay"], repeats=1, folds=3, nulls=0,
                             output=str(tmp_path))
    with pytest.warns(UserWarning, match=f"dropping {n_unsampled} region"):
        folds = run_job(config, progress=False, connectome=sub)
    assert len(folds) == 3 and folds["pearson_r"].notna().all()


@pytest.mark.parametrize(("field", "value", "match"), [
    ("search", "bayes", "search must be"),
    ("repeats", 0, "repeats must be >= 1"),
    ("n_spins", 0, "n_spins must be >= 1"),
    ("folds", 1, "folds and inner_folds must be >= 2"),
    ("nulls", -1, "nulls must be >= 0"),
    ("models", [], "at least one model"),
    ("splits", ["diagonal"], "splits must be among"),
    ("autocast", "yes", "autocast must be"),
    ("autocast", 1, "autocast must be"),
])
def test_config_rejects_bad_values_naming_them(field, value, match):
    with pytest.raises(ValueError, match=match):
        BenchmarkConfig(**{field: value})


def test_one_folder_takes_more_models_and_splits_later(ukbb100, tmp_path):
    def config(models, splits):
        return BenchmarkConfig(models=models, splits=splits, repeats=1, folds=3, nulls=0,
                               output=str(tmp_path))

    first = run_job(config(["exp_decay"], ["random"]), progress=False, connectome=ukbb100)
    runs = tmp_path / "runs"
    stamps = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    both = run_job(config(["exp_decay", "connectome_model"], ["random", "spatial"]),
                   progress=False, connectome=ukbb100)
    assert len(first) == 3 and len(both) == 2 * 2 * 3
    # the finished folds were reused, not refitted
    assert all(runs.joinpath(n).stat().st_mtime_ns == t for n, t in stamps.items())
    pd.testing.assert_frame_equal(
        both[(both["model"] == "exp_decay") & (both["split"] == "random")]
        .reset_index(drop=True), first)
    # the reports cover the models and splits of the latest run only
    again = run_job(config(["connectome_model"], ["spatial"]), progress=False,
                    connectome=ukbb100)
    assert set(again["model"]) == {"connectome_model"} and set(again["split"]) == {"spatial"}
    assert set(pd.read_csv(tmp_path / "folds.csv")["model"]) == {"connectome_model"}


def test_folds_run_before_a_metric_existed_get_it_from_their_saved_predictions(
        ukbb100, tmp_path):
    # a folder finished by an older skconn lacks the metrics added since (e.g. left_r);
    # the report scores them from each fold's saved predictions instead of leaving NaN
    config = BenchmarkConfig(models=["connectome_model"], splits=["spatial"], repeats=1,
                             folds=3, nulls=0, output=str(tmp_path))
    fresh = run_job(config, progress=False, connectome=ukbb100)
    added = ["left_r", "right_r", "inter_r", "intra_r_Vis", "inter_r_Default"]
    assert fresh[added].notna().any().all()  # small groups of a fold may be NaN
    for path in (tmp_path / "runs").glob("*.json"):
        row = json.loads(path.read_text())
        old = {k: v for k, v in row.items() if k not in added}
        path.write_text(json.dumps(old))
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*")}
    again = run_job(config, progress=False, connectome=ukbb100)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*")} == stamps
    pd.testing.assert_frame_equal(again[fresh.columns], fresh)


def test_parallel_folds_match_serial(ukbb100):
    kwargs = dict(models=["connectome_model"], repeats=1, folds=3, random_state=1)
    serial = run_benchmark(ukbb100, **kwargs)
    parallel = run_benchmark(ukbb100, n_jobs=2, **kwargs)
    np.testing.assert_allclose(serial["pearson_r"], parallel["pearson_r"])


def test_bad_arguments(ukbb100):
    with pytest.raises(ValueError, match="split"):
        run_benchmark(ukbb100, split="diagonal")
    with pytest.raises(ValueError, match="unknown model"):
        run_benchmark(ukbb100, models=["nope"])
    with pytest.raises(ValueError, match="folds"):
        run_benchmark(ukbb100, folds=1)
    with pytest.raises(ValueError, match="unknown model"):
        make_model("nope", 0)


def test_job_scores_each_repeat_against_its_own_cge_matched_null(ukbb100, tmp_path):
    config = BenchmarkConfig(models=["exp_decay", "connectome_model"], splits=["spatial"],
                             repeats=2, folds=3, nulls=2, n_spins=100, output=str(tmp_path))
    folds = run_job(config, progress=False, connectome=ukbb100)
    assert set(folds["data"]) == {"observed", "spin-null"}
    nulls = folds[folds["data"] == "spin-null"]
    assert sorted(set(nulls["null_index"])) == [0, 1]  # repeat r uses null r % K
    assert (nulls.groupby("repeat")["null_index"].nunique() == 1).all()
    # distance alone cannot tell a null from the truth; expression can
    decay = folds[folds["model"] == "exp_decay"].pivot_table(
        index=["repeat", "fold"], columns="data", values="pearson_r")
    np.testing.assert_allclose(decay["observed"], decay["spin-null"])
    cm = folds[folds["model"] == "connectome_model"].groupby("data")["pearson_r"].mean()
    assert cm["observed"] > cm["spin-null"]
    for name in ("cge_distance.png", "null_diagnostics.csv", "nulls.npz", "metrics.png"):
        assert (tmp_path / name).exists()
    assert len(pd.read_csv(tmp_path / "null_diagnostics.csv")) == 100


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_family_builds_and_its_grid_applies(name):
    model = make_model(name, 3, "cpu")
    grid = MODELS[name].grid
    model.set_params(**{key: values[-1] for key, values in grid.items()})
    params = model.get_params()
    assert all(params[key] == values[-1] for key, values in grid.items())



@pytest.mark.parametrize("name", sorted(MODELS))
def test_resolved_params_are_plain_and_rebuild_the_estimator(name):
    model = make_model(name, 3, "cpu")
    params = json.loads(json.dumps(resolved_params(model)))  # JSON round trip, nothing lost
    assert " at 0x" not in json.dumps(params)  # no object addresses: the text reproduces
    classes = {k for k, v in model.get_params(deep=False).items() if isinstance(v, type)}
    settable = {k: tuple(v) if isinstance(v, list) else v
                for k, v in params.items() if k not in classes}
    rebuilt = type(model)().set_params(**settable)  # from the class defaults
    assert resolved_params(rebuilt) == params


def test_autocast_reaches_the_neural_models_and_is_recorded_per_fold():
    from skconn.benchmark import _ran_on

    assert make_model("smt", 0, "cpu", autocast=True).autocast is True
    assert make_model("mlp_coords", 0, "cpu", autocast=False).autocast is False
    assert make_model("connectome_model", 0, "cpu", autocast=True)  # no such parameter: ignored
    assert _ran_on(make_model("smt", 0, "cpu", autocast=True)) == "cpu+bf16"
    assert _ran_on(make_model("mlp", 0, "cpu")) == "cpu"  # "auto": bf16 on CUDA only
    assert _ran_on(make_model("low_rank", 0)) == "cpu"
    # an execution setting, like the device: a folder can be finished in another precision
    assert BenchmarkConfig(autocast=True).fingerprint() == BenchmarkConfig().fingerprint()
    config = BenchmarkConfig(autocast=True)
    assert BenchmarkConfig.from_toml_text(config.to_toml()) == config

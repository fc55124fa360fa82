import json

import numpy as np
import pandas as pd
import pytest

from skconn.benchmark import (
    MODELS,
    BenchmarkConfig,
    dataset_fingerprint,
    format_summary,
    make_model,
    resolved_params,
    run_benchmark,
    run_job,
    summarize,
)
from skconn.metrics import REPORT_KEYS, score_report
from skconn.model_selection import RandomRegionSplit


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


def test_summary_says_over_how_many_folds_a_partly_nan_metric_is_averaged():
    folds = pd.DataFrame({"model": ["a"] * 4, "pearson_r": [0.5, 0.7, 0.6, 0.6],
                          "long_r": [0.4, np.nan, np.nan, 0.2], "mid_r": [0.1] + [np.nan] * 3,
                          "short_r": [np.nan] * 4})
    table = summarize(folds, ["pearson_r", "long_r", "mid_r", "short_r"])
    assert table.loc["a", "n_runs"] == 4
    assert table.loc["a", "long_r_n"] == 2 and table.loc["a", "pearson_r_n"] == 4
    row = format_summary(table, ["pearson_r", "long_r", "mid_r", "short_r"]).splitlines()[-1]
    assert row == "| a | 0.600 ± 0.082 | 0.300 ± 0.141 (n=2) | 0.100 (n=1) | nan | 4 |"


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


# ------------------------------------------------------------- the output folder's stamps
def _toy(seed=0):
    from skconn.datasets import make_toy_connectome

    return make_toy_connectome(24, 5, random_state=seed)


def _toy_config(out, **kwargs):
    return BenchmarkConfig(**{"models": ["exp_decay"], "repeats": 1, "folds": 3, "nulls": 0,
                              "output": str(out), **kwargs})


@pytest.mark.parametrize(("bad", "error"), [
    (dict(data="no/such/folder"), FileNotFoundError),
    (dict(nulls=5, n_spins=3), ValueError),
    (dict(folds=100), ValueError),
])
def test_a_failed_run_does_not_block_its_folder(tmp_path, bad, error):
    out = tmp_path / "run"
    connectome = None if "data" in bad else _toy()
    with pytest.raises(error):
        run_job(_toy_config(out, **bad), progress=False, connectome=connectome)
    assert not (out / "fingerprint.txt").exists() and not (out / "dataset.txt").exists()
    fixed = _toy_config(out, nulls=2, n_spins=20)
    folds = run_job(fixed, progress=False, connectome=_toy())  # the corrected command runs
    assert len(folds) == 3 * 2
    assert (out / "fingerprint.txt").read_text().strip() == fixed.fingerprint()


def test_nulls_of_a_failed_run_are_not_reused_by_another_configuration(tmp_path, monkeypatch):
    import skconn.benchmark._job as bench

    out = tmp_path / "run"
    with pytest.raises(ValueError):  # the nulls are drawn, then the folds cannot be made
        run_job(_toy_config(out, nulls=2, n_spins=20, folds=100), progress=False,
                connectome=_toy())
    assert (out / "nulls.npz").exists()
    drawn = []
    real = bench.null_permutations

    def spy(*args, **kwargs):
        drawn.append(kwargs["reuse"])
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "null_permutations", spy)
    run_job(_toy_config(out, nulls=2, n_spins=30), progress=False, connectome=_toy())
    run_job(_toy_config(out, nulls=2, n_spins=30), progress=False, connectome=_toy())
    assert drawn == [False, True]  # drawn anew, then reused once the folder is stamped


def test_a_folder_refuses_a_run_on_other_data(tmp_path):
    config = _toy_config(tmp_path)
    first = run_job(config, progress=False, connectome=_toy(0))
    stamp = (tmp_path / "dataset.txt").read_text().strip()
    assert stamp == dataset_fingerprint(_toy(0))
    with pytest.raises(ValueError, match="different data"):
        run_job(config, progress=False, connectome=_toy(1))
    again = run_job(config, progress=False, connectome=_toy(0))  # the same data resumes
    pd.testing.assert_frame_equal(first, again)
    assert (tmp_path / "dataset.txt").read_text().strip() == stamp


def test_dataset_stamp_is_added_to_a_folder_of_an_older_version(tmp_path):
    config = _toy_config(tmp_path)
    run_job(config, progress=False, connectome=_toy(0))
    (tmp_path / "dataset.txt").unlink()  # as left by skconn before the dataset stamp
    run_job(config, progress=False, connectome=_toy(0))
    assert (tmp_path / "dataset.txt").read_text().strip() == dataset_fingerprint(_toy(0))


def test_an_interrupted_run_leaves_a_config_that_reruns_it(tmp_path, monkeypatch):
    from skconn.benchmark._store import RunFolder

    config = _toy_config(tmp_path, models=["exp_decay", "connectome_model"])
    real, saved = RunFolder.save_fold, []

    def save_then_die(*args):
        if saved:
            raise KeyboardInterrupt
        saved.append(args[1])
        real(*args)

    monkeypatch.setattr(RunFolder, "save_fold", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_job(config, progress=False, connectome=_toy())
    monkeypatch.undo()
    # folds.csv is rewritten as each fold finishes: it holds the one fold that did
    partial = pd.read_csv(tmp_path / "folds.csv")
    assert partial[["model", "fold"]].values.tolist() == [["exp_decay", 0]]
    written = BenchmarkConfig.from_toml(tmp_path / "config.toml")
    assert written == config and "ran_on_" not in (tmp_path / "config.toml").read_text()
    folds = run_job(written, progress=False, connectome=_toy())
    assert len(folds) == 2 * 3
    assert 'ran_on_exp_decay = ["cpu"]' in (tmp_path / "config.toml").read_text()


def test_stale_temporary_files_are_removed_at_start(tmp_path):
    import os
    import time

    (tmp_path / "runs").mkdir()
    stale = [tmp_path / ".folds.csv.999999999.tmp",
             tmp_path / "runs" / ".exp_decay__random__r0__f0__observed.json.999999998.tmp",
             tmp_path / f".nulls.npz.{os.getpid()}.tmp"]
    live = tmp_path / ".summary.csv.1.tmp"  # pid 1 runs: another writer, recent
    old = tmp_path / "runs" / ".x.npz.1.tmp"  # pid 1 runs, but a day old: stale
    kept = [tmp_path / "notes.tmp", tmp_path / ".hidden", tmp_path / ".a.b.tmp", live]
    for path in (*stale, *kept, old):
        path.write_text("half")
    day_ago = time.time() - 86400
    os.utime(old, (day_ago, day_ago))
    run_job(_toy_config(tmp_path), progress=False, connectome=_toy())
    assert not any(p.exists() for p in (*stale, old))
    assert all(p.exists() for p in kept)


def test_the_data_behind_the_cge_figure_is_saved(tmp_path):
    from skconn.nulls import DistanceBins

    connectome = _toy()
    run_job(_toy_config(tmp_path, nulls=2, n_spins=20), progress=False, connectome=connectome)
    table = pd.read_csv(tmp_path / "cge_curve.csv", keep_default_na=False)
    assert {"curve", "spin", "rank", "null_index", "shown", "distance", "mean_cge",
            "SA_lambda", "SA_inf"} <= set(table.columns)
    true = table[table["curve"] == "true"]
    assert len(true) > 2 and true["SA_lambda"].nunique() == 1
    assert set(table.loc[table["shown"] != "", "shown"]) == {"best", "worst"}
    kept = table[table["null_index"] >= 0]
    assert sorted(set(kept["null_index"])) == [0, 1]
    bins = DistanceBins.from_distances(connectome.distances())
    perms = np.load(tmp_path / "nulls.npz")["permutations"]
    for k, rows in kept.groupby("null_index"):
        np.testing.assert_allclose(rows["mean_cge"], bins.means(connectome.cge(), perms[[k]])[0])
        np.testing.assert_allclose(rows["distance"], true["distance"])


def test_predictions_and_figures_say_which_split_they_show(tmp_path, monkeypatch):
    import skconn.plotting._results as results

    titles = {}
    real = results._save

    def record(fig, path):
        titles[path.name] = fig._suptitle.get_text() if fig._suptitle else ""
        real(fig, path)

    monkeypatch.setattr(results, "_save", record)
    config = _toy_config(tmp_path, splits=["spatial", "random"], folds=3)
    run_job(config, progress=False, connectome=_toy())
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert {"split", "repeat", "fold", "data"} <= set(predictions.columns)
    assert set(predictions["split"]) == {"spatial"} and set(predictions["repeat"]) == {0}
    assert sorted(set(predictions["fold"])) == [0, 1, 2]
    assert set(predictions["data"]) == {"observed"}
    assert set(titles) == {"connectomes.png", "scatter.png", "brain.png", "metrics.png"}
    assert all("spatial split" in t for t in titles.values()), titles


def test_brain_figure_shows_the_best_models_out_of_fold_connectome(tmp_path, monkeypatch):
    import skconn.plotting._results as results
    from skconn.pairs import make_pairs
    from skconn.plotting import pairs_to_matrix

    calls, titles = [], {}
    real_plot, real_save = results.plot_brain_connectomes, results._save

    def plot(source, observed, predicted, **kwargs):
        calls.append((source, observed, predicted, kwargs))
        return real_plot(source, observed, predicted, **kwargs)

    def save(fig, path):
        titles[path.name] = fig._suptitle.get_text() if fig._suptitle else ""
        real_save(fig, path)

    monkeypatch.setattr(results, "plot_brain_connectomes", plot)
    monkeypatch.setattr(results, "_save", save)
    connectome = _toy()
    config = _toy_config(tmp_path, models=["exp_decay", "connectome_model"],
                         splits=["spatial", "random"], repeats=2, folds=3)
    folds = run_job(config, progress=False, connectome=connectome)
    png = (tmp_path / "brain.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    observed = folds[(folds["split"] == "spatial") & (folds["data"] == "observed")]
    means = observed.groupby("model")["pearson_r"].mean()
    best = means.idxmax()
    assert means[best] > means.drop(best).max()  # a real choice between the two models
    (source, true_fc, predicted, kwargs), = calls
    assert list(predicted) == [best]
    assert "edge_threshold" not in kwargs  # the default: the strongest 2% of edges
    # the predicted matrix: the best model's test-fold predictions of repeat 0, true data
    X, y = make_pairs(connectome)
    parts = [np.load(tmp_path / "runs" / f"{best}__spatial__r0__f{f}__observed.npz")
             for f in range(3)]
    expected = pairs_to_matrix(np.vstack([p["pairs"] for p in parts]),
                               np.concatenate([p["y_pred"] for p in parts]), X.n_regions)
    np.testing.assert_array_equal(predicted[best], expected)
    assert np.isnan(expected).any() and np.isfinite(expected).any()  # cross pairs left out
    np.testing.assert_allclose(true_fc, pairs_to_matrix(X.pairs, y, X.n_regions))
    assert source.labels.tolist() == connectome.labels.tolist()  # regions in matrix order
    assert f"{best}" in titles["brain.png"] and "spatial split, repeat 0" in titles["brain.png"]


def test_a_model_variant_runs_next_to_its_family_on_the_same_folds(ukbb100, tmp_path):
    from skconn.models import ConnectomeModelRegressor
    from skconn.pairs import make_pairs

    variants = {"cm_ridge": {"model": "connectome_model", "penalty": "ridge"}}
    config = BenchmarkConfig(models=["connectome_model", "cm_ridge"], repeats=1, folds=3,
                             nulls=0, search="grid", variants=variants, output=str(tmp_path))
    folds = run_job(config, progress=False, connectome=ukbb100)
    ridge = folds[folds["model"] == "cm_ridge"].reset_index(drop=True)
    assert len(ridge) == 3 and (tmp_path / "runs" / "cm_ridge__random__r0__f0__observed.json"
                                ).exists()
    # the family's estimator with the variant's parameter, on the family's folds; the
    # inner search leaves out the parameter the variant fixes (nothing left to search)
    X, y = make_pairs(ukbb100)
    expected = run_benchmark(ukbb100, ["connectome_model"], repeats=1, folds=3)
    for fold, (train, test) in enumerate(RandomRegionSplit(3, random_state=0).split(X)):
        model = ConnectomeModelRegressor(penalty="ridge", random_state=0).fit(X[train], y[train])
        assert ridge.loc[fold, "pearson_r"] == pytest.approx(
            score_report(y[test], model.predict(X[test]), X[test])["pearson_r"], abs=1e-10)
    assert json.loads(ridge.loc[0, "params"]) == {}
    family = folds[folds["model"] == "connectome_model"]["params"].map(json.loads)
    assert all(set(p) == {"penalty"} for p in family)  # the family's own grid did run
    assert not np.allclose(expected["pearson_r"], ridge["pearson_r"])
    saved = BenchmarkConfig.from_toml(tmp_path / "config.toml")
    assert saved.variants == variants
    text = (tmp_path / "config.toml").read_text()
    assert 'grid_cm_ridge = "{}"' in text and '\\"penalty\\": \\"ridge\\"' in text
    assert json.loads((tmp_path / "variants.json").read_text()) == variants
    # another definition under the same name would reuse these folds: refused
    other = {"cm_ridge": {"model": "connectome_model", "penalty": "kronecker"}}
    with pytest.raises(ValueError, match="variant 'cm_ridge' defined as"):
        run_job(BenchmarkConfig(**{**config.to_dict(), "variants": other}), progress=False,
                connectome=ukbb100)
    # a definition that is not run is not checked against the folder
    unused = BenchmarkConfig(**{**config.to_dict(), "models": ["connectome_model"],
                                "variants": other})
    assert len(run_job(unused, progress=False, connectome=ukbb100)) == 3


@pytest.mark.parametrize(("variants", "models", "error", "match"), [
    ({"v": {"model": "svm"}}, ["v"], ValueError, "unknown model family 'svm'"),
    ({"v": {"model": "connectome_model", "colour": 1}}, ["v"], ValueError,
     "variant 'v' of 'connectome_model'.*colour"),
    ({"smt": {"model": "smt", "max_epochs": 3}}, ["smt"], ValueError, "taken by a model family"),
    ({"v": {"model": "smt"}}, ["w"], ValueError, r"unknown model\(s\) \['w'\]"),
])
def test_bad_model_variants_are_named(variants, models, error, match, tmp_path):
    config = BenchmarkConfig(models=models, variants=variants, output=str(tmp_path / "out"))
    with pytest.raises(error, match=match):
        run_job(config, progress=False)
    assert not (tmp_path / "out").exists()  # nothing written for a run that cannot start


@pytest.mark.parametrize(("variants", "error", "match"), [
    ({"a__b": {"model": "smt"}}, ValueError, "no '__'"),
    ({"a/b": {"model": "smt"}}, ValueError, "variant name 'a/b'"),
    ({"v": {"refit_all": True}}, TypeError, "'model' key"),
    ({"v": "smt"}, TypeError, "'model' key"),
    ({"v": {"model": "smt", "callbacks": {"a": 1}}}, TypeError, "callbacks = "),
    (["v"], TypeError, "variants must be a table"),
])
def test_config_rejects_malformed_variants(variants, error, match):
    with pytest.raises(error, match=match):
        BenchmarkConfig(variants=variants)


# ------------------------------------------------- what a rerun and the reports tell the user
def test_a_refused_rerun_names_each_differing_option(tmp_path):
    run_job(_toy_config(tmp_path), progress=False, connectome=_toy())
    with pytest.raises(ValueError, match="different configuration") as refused:
        run_job(_toy_config(tmp_path, folds=4, seed=2), progress=False, connectome=_toy())
    message = str(refused.value)
    assert "--folds: 4 here, 3 in the folder" in message
    assert "--seed: 2 here, 0 in the folder" in message
    assert "--repeats" not in message and "fingerprint" not in message
    # options outside the fingerprint (models, n_jobs) change nothing: the folder resumes
    assert len(run_job(_toy_config(tmp_path, models=["connectome_model"], n_jobs=2),
                       progress=False, connectome=_toy())) == 3


def test_a_refused_rerun_without_a_readable_config_falls_back_to_the_fingerprint(tmp_path):
    run_job(_toy_config(tmp_path), progress=False, connectome=_toy())
    (tmp_path / "config.toml").write_text("folds = 'three'\n")  # damaged by hand
    other = _toy_config(tmp_path, folds=4)
    with pytest.raises(ValueError, match=f"fingerprint.txt: .*this run: {other.fingerprint()}"):
        run_job(other, progress=False, connectome=_toy())


def test_other_data_is_named_apart_from_the_options(tmp_path):
    run_job(_toy_config(tmp_path), progress=False, connectome=_toy(0))
    with pytest.raises(ValueError, match="other data") as refused:
        run_job(_toy_config(tmp_path), progress=False, connectome=_toy(1))
    assert "--" not in str(refused.value).split(";")[0]  # no option differs: only the data


def test_summary_md_hides_all_nan_metrics_and_says_why_cells_are_nan(tmp_path):
    from skconn.metrics._summary import SHOWN_METRICS, min_pairs_per_stratum

    folds = run_job(_toy_config(tmp_path, folds=3), progress=False, connectome=_toy())
    table = summarize(folds)
    all_nan = [m for m in SHOWN_METRICS if f"{m}_mean" in table
               and table[f"{m}_mean"].isna().all()]
    assert all_nan  # 24 toy regions in 3 folds: too few test pairs in some distance stratum
    text = (tmp_path / "summary.md").read_text()
    header = text.splitlines()[0]
    assert header.endswith("| folds |") and "pearson_r" in header
    assert not any(f" {m} " in header for m in all_nan)
    note = text.split("\n\n", 1)[1]
    assert f"Not shown, NaN in every fold: {', '.join(all_nan)}." in note
    assert f"fewer than {min_pairs_per_stratum()} pairs" in note
    assert min_pairs_per_stratum() == 50  # score_report's default


def test_summary_markdown_footnotes_partly_nan_cells():
    from skconn.metrics._summary import summary_markdown

    folds = pd.DataFrame({"model": ["a"] * 3, "pearson_r": [0.5, 0.7, 0.6],
                          "long_r": [0.4, np.nan, 0.2], "short_r": [np.nan] * 3})
    text = summary_markdown(summarize(folds, ["pearson_r", "long_r", "short_r"]))
    table, note = text.split("\n\n")
    assert table.splitlines()[0] == "| model | pearson_r | long_r | folds |"
    assert table.splitlines()[-1] == "| a | 0.600 ± 0.100 | 0.300 ± 0.141 (n=2) | 3 |"
    assert "short_r" in note and "(n=k): long_r" in note


def test_metric_figure_covers_every_split(tmp_path, monkeypatch):
    import skconn.plotting._results as results

    ticks, real = {}, results._save

    def record(fig, path):
        ticks[path.name] = ([t.get_text() for t in fig.axes[0].get_xticklabels()],
                            fig._suptitle.get_text())
        real(fig, path)

    monkeypatch.setattr(results, "_save", record)
    run_job(_toy_config(tmp_path, splits=["spatial", "random"], nulls=2, n_spins=20),
            progress=False, connectome=_toy())
    labels, title = ticks["metrics.png"]
    assert labels == ["exp_decay (spatial)", "exp_decay (random)"]
    assert "spatial split" in title and "random split" in title


@pytest.mark.parametrize("kind", ["spin", "permute"])
def test_null_kind_is_used_recorded_and_gives_fold_p_values(tmp_path, kind):
    out = tmp_path / kind
    config = _toy_config(out, nulls=2, n_spins=30, repeats=2, null_kind=kind)
    folds = run_job(config, progress=False, connectome=_toy())
    diag = pd.read_csv(out / "null_diagnostics.csv")
    assert set(diag["null_kind"]) == {kind}
    assert "null_kind" in (out / "config.toml").read_text()
    summary = pd.read_csv(out / "summary.csv")
    true = summary[summary["data"] == "observed"]
    assert true["p_folds"].between(0, 1).all()
    assert "| exp_decay | random |" in (out / "summary.md").read_text().split("p_folds |")[1]
    t = folds[folds["data"] == "observed"].set_index(["repeat", "fold"])["pearson_r"]
    n = folds[folds["data"] == "spin-null"].set_index(["repeat", "fold"])["pearson_r"]
    assert true["p_folds"].iloc[0] == pytest.approx((n >= t.loc[n.index]).mean())


def test_cached_near_identity_nulls_warn_on_resume(tmp_path):
    out = tmp_path / "run"
    config = _toy_config(out, nulls=2, n_spins=30)
    run_job(config, progress=False, connectome=_toy())
    identity = np.tile(np.arange(24), (2, 1))
    identity[:, [0, 1]] = identity[:, [1, 0]]  # a pre-fix folder's near-identity "nulls"
    np.savez((out / "nulls.npz").open("wb"), permutations=identity)
    with pytest.warns(UserWarning, match="in place"):
        run_job(config, progress=False, connectome=_toy())


def test_new_null_options_change_the_fingerprint_only_off_their_defaults():
    base = BenchmarkConfig()
    assert BenchmarkConfig(null_kind="cge_matched").fingerprint() == base.fingerprint()
    assert BenchmarkConfig(null_kind="spin").fingerprint() != base.fingerprint()
    assert BenchmarkConfig(null_selection="published").fingerprint() != base.fingerprint()
    with pytest.raises(ValueError, match="null_kind"):
        BenchmarkConfig(null_kind="shuffle")


def test_coords_only_is_registered():
    from skconn.benchmark import make_model
    from skconn.models import CoordinateRegressor

    assert isinstance(make_model("coords_only", 0), CoordinateRegressor)

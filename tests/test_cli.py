import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from skconn._config import BenchmarkConfig
from skconn.cli import _config, _parser, main


def _row_mean(printed: str, model: str, column: str = "pearson_r") -> float:
    lines = [line for line in printed.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = next(line for line in lines if line.startswith(f"| {model} |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    return float(cells[header.index(column)].split("±")[0])


def test_benchmark_on_a_dataset_folder_writes_tables_and_figures(shared_data, tmp_path, capsys):
    out = tmp_path / "run"
    status = main([
        "benchmark", "--data", str(shared_data / "ukbb_schaefer100"), "--repeats", "2",
        "--folds", "3", "--models", "exp_decay,connectome_model", "--split", "spatial",
        "--output", str(out), "--quiet",
    ])
    assert status == 0
    printed = capsys.readouterr().out
    assert _row_mean(printed, "connectome_model") > _row_mean(printed, "exp_decay") - 0.2
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 2 * 3 * 2 * 2  # models x folds x repeats x (true, null)
    assert set(folds["model"]) == {"exp_decay", "connectome_model"}
    assert set(folds["data"]) == {"observed", "spin-null"}  # 3 CGE-matched nulls by default
    assert folds["pearson_r"].between(-1, 1).all()
    summary = pd.read_csv(out / "summary.csv").set_index(["model", "data"])
    assert summary.loc[("connectome_model", "observed"), "n_runs"] == 6
    assert (out / "summary.md").read_text().startswith("| model |")
    for figure in ("connectomes.png", "scatter.png", "brain.png", "metrics.png",
                   "cge_distance.png"):
        assert (out / figure).stat().st_size > 10_000
    predictions = pd.read_csv(out / "predictions.csv")
    assert set(predictions.columns) >= {"model", "i", "j", "y_true", "y_pred", "distance"}
    saved = BenchmarkConfig.from_toml(out / "config.toml")
    assert saved.models == ["exp_decay", "connectome_model"] and saved.splits == ["spatial"]
    assert "version" in (out / "config.toml").read_text()
    assert 'ran_on_exp_decay = ["cpu"]' in (out / "config.toml").read_text()
    assert (folds["device"] == "cpu").all()


def test_config_file_is_equivalent_to_flags(shared_data, tmp_path, capsys):
    out_flags, out_file = tmp_path / "flags", tmp_path / "file"
    common = dict(data=str(shared_data / "ukbb_schaefer100"), models=["exp_decay"], repeats=1,
                  folds=3)
    assert main(["benchmark", "--data", common["data"], "--models", "exp_decay", "--repeats",
                 "1", "--folds", "3", "--output", str(out_flags), "--quiet"]) == 0
    config = tmp_path / "run.toml"
    config.write_text(BenchmarkConfig(**common, output=str(out_file)).to_toml())
    assert main(["benchmark", "--config", str(config), "--quiet"]) == 0
    a = pd.read_csv(out_flags / "folds.csv")
    b = pd.read_csv(out_file / "folds.csv")
    np.testing.assert_allclose(a["pearson_r"], b["pearson_r"])


def test_benchmark_on_the_embedded_default(tmp_path, capsys):
    status = main(["benchmark", "--repeats", "1", "--folds", "3", "--quiet",
                   "--models", "connectome_model", "--output", str(tmp_path)])
    assert status == 0
    mean_r = _row_mean(capsys.readouterr().out, "connectome_model")
    assert 0.2 < mean_r < 1.0  # real single-subject FC is predictable from expression


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["benchmark", "--data", str(tmp_path / "missing"),
                 "--output", str(tmp_path / "o1")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["benchmark", "--models", "exp_decay,magic", "--output",
                 str(tmp_path / "o2")]) == 2
    assert "magic" in capsys.readouterr().err
    assert main(["benchmark", "--split", "diagonal", "--output", str(tmp_path / "o3")]) == 2
    with pytest.raises(SystemExit) as exit_:  # argparse: usage message and status 2
        main(["benchmark", "--autocast", "maybe", "--output", str(tmp_path / "o4")])
    assert exit_.value.code == 2 and "auto, on, off" in capsys.readouterr().err
    for flag, value in (("on", True), ("off", False), ("auto", "auto")):
        assert _config(_parser().parse_args(["benchmark", "--autocast", flag])).autocast == value
    bad = tmp_path / "bad.toml"
    bad.write_text('colour = "blue"\n')
    assert main(["benchmark", "--config", str(bad)]) == 2
    assert "colour" in capsys.readouterr().err


def test_a_changed_configuration_does_not_mix_into_an_old_folder(shared_data, tmp_path, capsys):
    args = ["benchmark", "--data", str(shared_data / "ukbb_schaefer100"), "--models",
            "exp_decay", "--repeats", "1", "--folds", "2", "--output", str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert main([*args[:-3], "--folds", "3", "--output", str(tmp_path), "--quiet"]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_killed_run_resumes_to_the_same_table(shared_data, tmp_path):
    """SIGKILL mid-run, re-run the same command: same final table as an uninterrupted run."""
    def command(out):
        return [sys.executable, "-m", "skconn", "benchmark", "--data",
                str(shared_data / "hcp_schaefer100"), "--models",
                "exp_decay,connectome_model,pls_bilinear", "--repeats", "3", "--folds", "4",
                "--output", str(out), "--quiet"]

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run(command(tmp_path / "whole"), check=True, env=env, capture_output=True)
    interrupted = tmp_path / "interrupted"
    proc = subprocess.Popen(command(interrupted), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    runs = interrupted / "runs"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(runs.glob("*.json"))) < 4:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(runs.glob("*.json"))
    assert 4 <= len(done) < 36, "the run was not interrupted mid-way"
    for path in done:  # no half-written result: every finished fold parses, with its predictions
        json.loads(path.read_text())
        np.load(path.with_suffix(".npz"))["y_pred"]
    # folds.csv is rewritten as each fold finishes (the kill may fall between a fold's
    # file and the table): it holds the finished folds, none twice, no unfinished one
    partial = pd.read_csv(interrupted / "folds.csv")
    keys = {"__".join([m, s, f"r{r}", f"f{f}", d])
            for m, s, r, f, d in partial[["model", "split", "repeat", "fold", "data"]].values}
    assert len(keys) == len(partial) and keys <= {p.stem for p in done}
    assert len(done) - 1 <= len(partial) <= len(done)
    subprocess.run(command(interrupted), check=True, env=env, capture_output=True)
    whole = pd.read_csv(tmp_path / "whole" / "folds.csv").drop(columns="fit_time")
    resumed = pd.read_csv(interrupted / "folds.csv").drop(columns="fit_time")
    pd.testing.assert_frame_equal(whole, resumed)
    summary = [pd.read_csv(p / "summary.csv").filter(regex="model|pearson|r2|mse")
               for p in (tmp_path / "whole", interrupted)]
    pd.testing.assert_frame_equal(*summary)


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "skconn", "benchmark", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--split" in done.stdout and "--nulls" in done.stdout and "--config" in done.stdout


def _benchmark_help() -> str:
    sub = next(a for a in _parser()._actions if a.dest == "command")
    return " ".join(sub.choices["benchmark"].format_help().split())


def test_help_shows_the_real_defaults():
    text = _benchmark_help()
    defaults = BenchmarkConfig()
    assert "default 0: none" not in text
    for flag, value in (("--nulls", defaults.nulls), ("--n-spins", defaults.n_spins),
                        ("--repeats", defaults.repeats), ("--folds", defaults.folds),
                        ("--n-iter", defaults.n_iter), ("--inner-folds", defaults.inner_folds),
                        ("--seed", defaults.seed), ("--n-jobs", defaults.n_jobs),
                        ("--search", defaults.search), ("--device", defaults.device),
                        ("--split", ",".join(defaults.splits))):
        after = text.split(f"{flag} ", 2)[2]  # past the usage line, at the flag's help
        help_of_flag = after.split(" --", 1)[0]
        assert f"(default {value})" in help_of_flag or f"default {value}" in help_of_flag, flag


@pytest.mark.parametrize(("text", "key"), [
    ('repeats = "1"', "repeats"), ('folds = "3"', "folds"), ("repeats = 2.5", "repeats"),
    ("seed = 1.5", "seed"), ('models = "exp_decay"', "models"),
])
def test_config_file_with_wrong_types_is_an_error_naming_the_key(tmp_path, capsys, text, key):
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\n")
    assert main(["benchmark", "--config", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skconn: error:") and f"{key} must be" in err
    assert "Traceback" not in err and "['e', 'x'" not in err


def test_negative_n_jobs_are_accepted_zero_is_not(tmp_path, capsys):
    assert _config(_parser().parse_args(["benchmark", "--n-jobs", "-2"])).n_jobs == -2
    assert main(["benchmark", "--n-jobs", "0", "--output", str(tmp_path / "o")]) == 2
    assert "n_jobs must not be 0" in capsys.readouterr().err


def test_variants_come_from_flags_and_from_the_config_file(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('models = ["ridge"]\n\n[variants.ridge]\nmodel = "connectome_model"\n'
                      'penalty = "ridge"\n')
    args = _parser().parse_args([
        "benchmark", "--config", str(config),
        "--variant", 'low = {model = "low_rank", rank = 5, alpha = 1e-2}',
        "--variant", 'mlp_small = {model = "mlp", module__hidden_dims = [16, 8]}',
    ])
    variants = _config(args).variants
    assert variants == {"ridge": {"model": "connectome_model", "penalty": "ridge"},
                        "low": {"model": "low_rank", "rank": 5, "alpha": 0.01},
                        "mlp_small": {"model": "mlp", "module__hidden_dims": [16, 8]}}
    assert main(["benchmark", "--config", str(config), "--repeats", "1", "--folds", "3",
                 "--nulls", "0", "--models", "ridge,low", "--output", str(tmp_path / "out"),
                 "--variant", 'low = {model = "low_rank", rank = 5}', "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert 0.2 < _row_mean(printed, "ridge") < 1 and 0.2 < _row_mean(printed, "low") < 1
    for bad, match in (("low = low_rank", "TOML"), ('a = {model = "smt"}\nb = 1', "one NAME")):
        with pytest.raises(SystemExit) as exit_:
            _parser().parse_args(["benchmark", "--variant", bad])
        assert exit_.value.code == 2 and match in capsys.readouterr().err
    assert main(["benchmark", "--models", "v", "--variant", 'v = {model = "smt", depth = 2}',
                 "--output", str(tmp_path / "o")]) == 2
    assert "variant 'v' of 'smt'" in capsys.readouterr().err


def test_a_refused_rerun_names_the_option_and_the_summary_says_why_cells_are_nan(
        shared_data, tmp_path, capsys):
    def args(folds):
        return ["benchmark", "--data", str(shared_data / "ukbb_schaefer100"), "--models",
                "exp_decay", "--repeats", "1", "--folds", folds, "--nulls", "0", "--output",
                str(tmp_path), "--quiet"]

    assert main(args("2")) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == (tmp_path / "summary.md").read_text().strip()
    assert "| folds |" in printed.splitlines()[0] and "``folds``" in printed
    assert main(args("3")) == 2
    err = capsys.readouterr().err
    assert "--folds: 3 here, 2 in the folder" in err and "--nulls" not in err


def test_unknown_null_kind_is_a_clear_error(capsys):
    from skconn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["benchmark", "--null-kind", "shuffle"])
    assert exc.value.code == 2
    assert "--null-kind" in capsys.readouterr().err


def test_null_options_reach_the_config():
    from skconn.cli import _config, _parser

    args = _parser().parse_args(["benchmark", "--null-kind", "permute",
                                 "--null-selection", "published"])
    config = _config(args)
    assert (config.null_kind, config.null_selection) == ("permute", "published")

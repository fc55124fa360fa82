import subprocess
import sys

import pandas as pd

from skconn.cli import main


def test_benchmark_on_a_dataset_folder_writes_tables(shared_data, tmp_path, capsys):
    out = tmp_path / "run"
    status = main([
        "benchmark", "--data", str(shared_data / "ukbb_schaefer100"), "--repeats", "2",
        "--folds", "3", "--models", "exp_decay,connectome_model", "--split", "spatial",
        "--output", str(out), "--quiet",
    ])
    assert status == 0
    printed = capsys.readouterr().out
    assert "| connectome_model |" in printed and "±" in printed
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 2 * 3 * 2
    assert set(folds["model"]) == {"exp_decay", "connectome_model"}
    assert folds["pearson_r"].between(-1, 1).all()
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert summary.loc["connectome_model", "n_runs"] == 6
    assert (out / "summary.md").read_text().startswith("| model |")


def test_benchmark_on_the_embedded_default(capsys):
    status = main(["benchmark", "--repeats", "1", "--folds", "3", "--quiet",
                   "--models", "connectome_model"])
    assert status == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "connectome_model" in line)
    mean_r = float(row.split("|")[2].split("±")[0])
    assert 0.2 < mean_r < 1.0  # real single-subject FC is predictable from expression


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["benchmark", "--data", str(tmp_path / "missing")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["benchmark", "--data", str(tmp_path), "--models", "nope"]) == 2


def test_unknown_model_is_named(shared_data, capsys):
    status = main(["benchmark", "--data", str(shared_data / "ukbb_schaefer100"),
                   "--models", "exp_decay,magic", "--quiet"])
    assert status == 2
    assert "magic" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "skconn", "benchmark", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--split" in done.stdout and "--models" in done.stdout

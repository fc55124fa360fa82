import numpy as np
import pytest

from skconn.benchmark import make_model, run_benchmark, summarize
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
    assert (first["dataset"] == "ukbb_schaefer100").all()
    table = summarize(first)
    assert list(table.index) == ["exp_decay", "pls_bilinear"]
    assert (table["n_runs"] == 6).all()
    # expression beats distance alone on these data
    assert table.loc["pls_bilinear", "pearson_r_mean"] > table.loc["exp_decay", "pearson_r_mean"]


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

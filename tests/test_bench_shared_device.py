"""benchmarks/bench_shared_device.py: several fits in joblib workers, each with its share."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from joblib import Parallel, delayed
from joblib.externals.loky import get_reusable_executor

from .conftest import _dataset_path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_shared_device.py"


def test_quick_run_emits_one_record_per_worker_count(capsys, monkeypatch):
    data = _dataset_path("hcp_schaefer100").parent
    # a worker pool started before the script puts benchmarks/ on sys.path, as an
    # earlier test in the suite may leave one: the workers must still run the fits
    monkeypatch.setattr(sys, "path", [p for p in sys.path
                                      if Path(p).resolve() != BENCH.parent])
    get_reusable_executor().shutdown(wait=True)
    Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(2))
    spec = importlib.util.spec_from_file_location("bench_shared_device", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--device", "cpu", "--fits-per-worker", "1",
                       "--data-dir", str(data)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["workers"] for r in records] == [1, 2]
    assert [r["fits"] for r in records] == [1, 2]
    for r in records:
        assert r["benchmark"] == "shared_device" and r["device"] == "cpu"
        assert r["pairs_per_s"] > 0 and r["peak_mb_per_fit"] > 0
        assert r["memory_fraction"] is None  # off CUDA the share is not set
    assert records[0]["speedup"] == 1.0
    # speedup is rounded to 2 decimals, so it may be off the ratio by 0.005
    assert records[1]["speedup"] == pytest.approx(
        records[1]["pairs_per_s"] / records[0]["pairs_per_s"], abs=0.006)

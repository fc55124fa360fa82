"""benchmarks/bench_neural.py: the step-overhead record runs in ``--quick``."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_neural.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_neural", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_emits_the_step_overhead_records(bench, hcp100_small, monkeypatch, capsys):
    # the other benchmarks of --quick take minutes: replaced here; step_overhead runs
    for name in ("parameters", "smoke", "throughput"):
        monkeypatch.setattr(bench, name, lambda *a, **k: None)
    monkeypatch.setattr(bench, "hcp400_sampled", lambda data_dir: hcp100_small)
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: None)
    assert bench.main(["--quick", "--device", "cpu"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    overhead = [r for r in records if r["benchmark"] == "step_overhead"]
    assert [r["model"] for r in overhead] == ["smt", "mlp"]
    for r in overhead:
        assert {"device", "input", "skconn_ms", "bare_ms", "ratio"} <= set(r)
        assert r["device"] == "cpu" and r["skconn_ms"] > 0 and r["bare_ms"] > 0
        assert r["ratio"] == pytest.approx(r["skconn_ms"] / r["bare_ms"], rel=1e-2)

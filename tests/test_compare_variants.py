"""benchmarks/compare_variants.py: variants against their family on the same folds."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from skconn._config import BenchmarkConfig
from skconn.benchmark import run_job

_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_variants.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_variants", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_variant_folder_is_compared_fold_by_fold_with_the_main_one(ukbb100, tmp_path,
                                                                     compare):
    common = dict(splits=["spatial"], repeats=1, folds=3)
    main, other, shifted = tmp_path / "main", tmp_path / "variants", tmp_path / "shifted"
    variants = {"cm_ridge": {"model": "connectome_model", "penalty": "ridge"}}
    run_job(BenchmarkConfig(models=["connectome_model", "low_rank"], nulls=2, output=str(main),
                            **common), progress=False, connectome=ukbb100)
    for out, seed in ((other, 0), (shifted, 1)):
        run_job(BenchmarkConfig(models=["cm_ridge"], nulls=0, variants=variants, seed=seed,
                                output=str(out), **common),
                progress=False, connectome=ukbb100)
    assert compare.check_same_folds(main, other, ["cm_ridge"]) == 3
    with pytest.raises(AssertionError):  # another seed: other folds
        compare.check_same_folds(main, shifted, ["cm_ridge"])
    a, b = compare.load_runs(main), compare.load_runs(other)
    assert set(a["data"]) == {"observed"}
    row = compare.table(a, b, {"cm_ridge": "connectome_model"}).splitlines()[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["cm_ridge", "spatial", "3"]
    cm = a[a["model"] == "connectome_model"].sort_values("fold")["pearson_r"].to_numpy()
    ridge = b.sort_values("fold")["pearson_r"].to_numpy()
    assert cells[3] == cells[4] == f"{cm.mean():.3f} ± {cm.std(ddof=1):.3f}"
    assert cells[6] == f"{(ridge - cm).mean():+.3f}"
    assert cells[8] == f"{int((ridge > cm).sum())}/3"
    assert not np.allclose(ridge, cm)

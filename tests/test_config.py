import pytest

from skconn._config import BenchmarkConfig


def test_fingerprint_of_a_fixed_configuration_is_unchanged():
    # pinned with the code of 05ea0a0: existing output folders (e.g. a finished
    # hcp100_v2 run) must keep resuming, so the hash of a configuration may never change
    config = BenchmarkConfig(data="../shared/data/hcp_schaefer100", models=["smt"],
                             splits=["random", "spatial"], repeats=10, folds=4, nulls=10,
                             n_spins=1000, n_jobs=2, device="cpu", autocast=True,
                             output="/work/runs/hcp100_v2")
    assert config.fingerprint() == "3809872a99d227b3"
    assert BenchmarkConfig().fingerprint() == "692778819083c2d8"
    assert BenchmarkConfig.from_toml_text(config.to_toml()).fingerprint() == "3809872a99d227b3"


@pytest.mark.parametrize("n_jobs", [1, 2, -1])
def test_fingerprint_ignores_n_jobs(n_jobs):
    assert BenchmarkConfig(n_jobs=n_jobs).fingerprint() == "692778819083c2d8"

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


@pytest.mark.parametrize(("text", "error", "match"), [
    ('repeats = "1"', TypeError, "repeats must be an integer, got '1'"),
    ('folds = "3"', TypeError, "folds must be an integer"),
    ("repeats = 2.5", TypeError, "repeats must be an integer, got 2.5"),
    ("seed = 1.5", TypeError, "seed must be an integer"),
    ("nulls = true", TypeError, "nulls must be an integer, got True"),
    ('models = "exp_decay"', TypeError, "models must be a list of strings"),
    ('splits = "random"', TypeError, "splits must be a list of strings"),
    ("models = [1, 2]", TypeError, "models must be a list of strings"),
    ("data = 3", TypeError, "data must be a string"),
    ("search = 0", TypeError, "search must be a string"),
])
def test_hand_written_toml_with_wrong_types_is_refused_naming_the_key(text, error, match):
    with pytest.raises(error, match=match):
        BenchmarkConfig.from_toml_text(text + "\n")


def test_integer_likes_and_paths_are_normalised(tmp_path):
    import numpy as np

    config = BenchmarkConfig(repeats=np.int64(2), output=tmp_path, models=("exp_decay",))
    assert type(config.repeats) is int and config.output == str(tmp_path)
    assert config.models == ["exp_decay"]


@pytest.mark.parametrize("n_jobs", [-1, -2, -8, 1, 4])
def test_negative_n_jobs_are_accepted_as_joblib_does(n_jobs):
    assert BenchmarkConfig(n_jobs=n_jobs).n_jobs == n_jobs


def test_n_jobs_zero_is_refused():
    with pytest.raises(ValueError, match="n_jobs must not be 0"):
        BenchmarkConfig(n_jobs=0)


@pytest.mark.parametrize("text", [
    "runs/\U0001f9e0-brain", 'quote " and back\\slash', "tab\tnewline\nend", "del\x7fx",
    "ctrl\x01\x1f", "café ünï", "",
])
def test_toml_strings_round_trip(tmp_path, text):
    config = BenchmarkConfig(data=text, output=text)
    assert BenchmarkConfig.from_toml_text(config.to_toml({"note": text})) == config
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml(), encoding="utf-8")
    assert BenchmarkConfig.from_toml(path) == config

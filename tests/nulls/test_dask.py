"""The heavy loops run unchanged on a dask.distributed cluster through joblib.

The cluster has two single-threaded in-process workers: on a cluster with one
thread in all, joblib's dask backend reports one job and runs everything in
the calling thread, which would show nothing.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from skconn.nulls import cge_matched_spins, gen_spinsamples, null_test

pytest.importorskip("dask")
pytest.importorskip("distributed")




def test_spins_and_matching_under_dask(dask_cluster, cortex400, hcp400_full):
    sphere, hemi, _ = cortex400
    expected = gen_spinsamples(sphere, hemi, 30, method="vasa", seed=4)
    best0, diag0 = cge_matched_spins(hcp400_full, n_spins=40, k=3, random_state=1)
    before = dask_cluster.scheduler.transition_counter
    with joblib.parallel_backend("dask"):
        spins = gen_spinsamples(sphere, hemi, 30, method="vasa", seed=4, n_jobs=2)
        best, diag = cge_matched_spins(hcp400_full, n_spins=40, k=3, random_state=1, n_jobs=2)
    assert dask_cluster.scheduler.transition_counter > before  # tasks ran on the cluster
    np.testing.assert_array_equal(spins, expected)
    np.testing.assert_array_equal(best, best0)
    np.testing.assert_allclose(diag["standardized_error"], diag0["standardized_error"])


def test_null_test_under_dask(dask_cluster, hcp100_small):
    from skconn.model_selection import RandomRegionSplit
    from skconn.models import ConnectomeModelRegressor
    from skconn.nulls import whole_brain_spins
    from skconn.pairs import make_pairs

    perms, _, _ = whole_brain_spins(hcp100_small, 2, random_state=0)
    X, y = make_pairs(hcp100_small, nulls=perms)
    cvs = [RandomRegionSplit(2, random_state=s) for s in (0, 1)]
    expected = null_test(ConnectomeModelRegressor(alpha=1.0), X, y, cv=cvs)
    before = dask_cluster.scheduler.transition_counter
    with joblib.parallel_backend("dask"):
        res = null_test(ConnectomeModelRegressor(alpha=1.0), X, y, cv=cvs, n_jobs=2)
    assert dask_cluster.scheduler.transition_counter > before
    np.testing.assert_allclose(res.scores["null_score"], expected.scores["null_score"])

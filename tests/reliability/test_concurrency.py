"""Parallel and distributed runs give the serial results; clones share no mutable state.

For every estimator family: ``GridSearchCV`` over a two-point grid with a region splitter,
run serially, with ``n_jobs=2`` (loky processes) and under joblib's dask backend on a
``LocalCluster`` of two single-threaded workers, must give the same test scores and the
same refitted predictions, bit for bit. All families are exactly equal, no tolerance:
every fit runs on one BLAS/torch thread (here through ``threadpool_limits`` and
``torch.set_num_threads``; loky workers through ``inner_max_num_threads=1``, dask worker
processes through distributed's default ``OMP_NUM_THREADS=1``), so each floating-point
reduction runs in the same order whatever process or thread it lands on; and seeded
neural fits take turns on torch's process-wide generator (``PairNet._own_torch_rng``).

The cluster's workers are threads of this process (``processes=False``, as in
``tests/nulls/test_dask.py``): that is the harder case for shared state, since fits of
different candidates then run at the same time in one interpreter, sharing module globals
such as torch's default generator. A separate test runs the neural family on worker
processes too.
"""

from __future__ import annotations

import copy

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from skconn.metrics import pearson_scorer
from skconn.model_selection import RandomRegionSplit
from skconn.models import (
    ConnectomeModelRegressor,
    ExpDecayRegressor,
    LowRankBilinearRegressor,
    PairMLPRegressor,
    PLSBilinearRegressor,
    SMTRegressor,
)
from skconn.preprocessing import RegionPCA

from ._registry import MLP_PARAMS, SMT_PARAMS, pairs

distributed = pytest.importorskip("distributed")

torch.set_num_threads(1)

#: family -> (estimator, two-point grid)
FAMILIES = {
    "exp_decay": (ExpDecayRegressor(), {"mirror_x": [True, False]}),
    "connectome_model": (ConnectomeModelRegressor(), {"alpha": [0.1, 10.0]}),
    "low_rank": (LowRankBilinearRegressor(max_iter=50, random_state=0), {"rank": [1, 2]}),
    "pls_bilinear": (PLSBilinearRegressor(alpha=1.0), {"n_components": [2, 3]}),
    "pca_pipeline": (
        make_pipeline(RegionPCA(random_state=0), ConnectomeModelRegressor(alpha=1.0)),
        {"regionpca__n_components": [3, 5]},
    ),
    "pair_mlp": (PairMLPRegressor(**MLP_PARAMS, random_state=0), {"lr": [1e-3, 1e-2]}),
    # gene_order="expression": the default "tss" lookup costs ~1 s a fit, the same in each
    "smt": (SMTRegressor(**SMT_PARAMS, gene_order="expression", random_state=0),
            {"lr": [1e-3, 1e-2]}),
}


def _search(family, n_jobs=None):
    estimator, grid = FAMILIES[family]
    X, y, train, test = pairs()
    search = GridSearchCV(
        clone(estimator), grid, cv=RandomRegionSplit(3, random_state=0),
        scoring=pearson_scorer, n_jobs=n_jobs, error_score="raise",
    ).fit(X[train], y[train])
    split_scores = np.array([search.cv_results_[f"split{k}_test_score"] for k in range(3)])
    return split_scores, search.best_params_, search.best_estimator_.predict(X[test])


def _assert_same(result, expected):
    scores, best, pred = result
    np.testing.assert_array_equal(scores, expected[0])
    assert best == expected[1]
    np.testing.assert_array_equal(pred, expected[2])


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    # the serial runs use one BLAS thread, like every worker below, whatever OMP_NUM_THREADS
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def serial():
    return {family: _search(family) for family in FAMILIES}




def test_serial_search_is_informative(serial):
    # the comparisons below mean something: finite scores that differ between candidates
    for family, (scores, _, pred) in serial.items():
        assert np.isfinite(scores).all() and np.isfinite(pred).all(), family
        assert not np.array_equal(scores[:, 0], scores[:, 1]), family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_loky_n_jobs_2_equals_serial(serial, family):
    with joblib.parallel_backend("loky", inner_max_num_threads=1):
        _assert_same(_search(family, n_jobs=2), serial[family])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_dask_backend_equals_serial(serial, dask_cluster, family):
    before = dask_cluster.scheduler.transition_counter
    with joblib.parallel_backend("dask"):
        result = _search(family, n_jobs=2)
    assert dask_cluster.scheduler.transition_counter > before  # the fits ran on the cluster
    _assert_same(result, serial[family])


@pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")
def test_dask_worker_processes_equal_serial(serial):
    # neural fits pickled to separate worker processes (fresh torch state in each)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        result = _search("pair_mlp", n_jobs=2)
    _assert_same(result, serial["pair_mlp"])


# ----------------------------------------------------------------------------- threads
def _fit_predict(estimator):
    X, y, train, test = pairs()
    return estimator.fit(X[train], y[train]).predict(X[test])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_concurrent_clone_fits_in_threads_equal_serial(family):
    estimator, grid = FAMILIES[family]
    (name, values), = grid.items()
    # four clones: each grid value twice, so identical twins race each other too
    clones = [clone(estimator).set_params(**{name: v}) for v in values for _ in range(2)]
    expected = [_fit_predict(clone(c)) for c in clones]
    for _ in range(2):
        with joblib.parallel_backend("threading", n_jobs=4):
            got = joblib.Parallel()(joblib.delayed(_fit_predict)(c) for c in clones)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    assert not np.array_equal(expected[0], expected[2])


# ----------------------------------------------------------------------------- clones
def _params_hash(estimator):
    # a pipeline's steps are fitted in place: compare the parameters of each step instead
    if hasattr(estimator, "steps"):
        return joblib.hash([(name, _params_hash(step)) for name, step in estimator.steps])
    return joblib.hash(estimator.get_params(deep=False))


@pytest.mark.filterwarnings("ignore:.*(degenerate|exceeds what):UserWarning")
@pytest.mark.parametrize("family", list(FAMILIES))
def test_fitting_a_clone_touches_neither_original_nor_sibling(family):
    estimator, _ = FAMILIES[family]
    X, y, train, test = pairs()
    original = clone(estimator)
    before = _params_hash(original)
    first, second = clone(original), clone(original)
    pred = first.fit(X[train], y[train]).predict(X[test])
    assert _params_hash(original) == before  # fit mutates no parameter it was given
    assert _params_hash(first) == before
    # and adds none: the private state of a fit is not a parameter that clone() would copy
    assert first.get_params(deep=False).keys() == original.get_params(deep=False).keys()
    assert not hasattr(original, "n_features_in_") and not hasattr(second, "n_features_in_")
    # refitting the sibling on other data leaves the first clone's model as it was
    second.fit(X[test], y[test])
    np.testing.assert_array_equal(first.predict(X[test]), pred)
    # no mutable parameter value is shared between a clone and its original
    for key, value in original.get_params(deep=False).items():
        if isinstance(value, list | dict | set | np.ndarray):
            assert first.get_params(deep=False)[key] is not value, key


@pytest.mark.filterwarnings("ignore:.*(degenerate|exceeds what):UserWarning")
def test_default_parameters_are_not_shared_mutable_objects():
    for estimator, _ in FAMILIES.values():
        a, b = type(estimator)(**estimator.get_params(deep=False)), clone(estimator)
        for key, value in a.get_params(deep=False).items():
            if isinstance(value, list | dict | set | np.ndarray):
                assert b.get_params(deep=False)[key] is not value, (type(estimator), key)
    for cls in (ExpDecayRegressor, ConnectomeModelRegressor, LowRankBilinearRegressor,
                PLSBilinearRegressor, PairMLPRegressor, SMTRegressor):
        a, b = cls(), cls()
        for key, value in a.get_params(deep=False).items():
            if isinstance(value, list | dict | set | np.ndarray):
                assert b.get_params(deep=False)[key] is not value, (cls.__name__, key)
        frozen = copy.deepcopy(cls().get_params(deep=False))
        X, y, train, _ = pairs()
        model = cls(**({"max_epochs": 1, "device": "cpu"} if "max_epochs" in frozen else {}))
        model.fit(X[train], y[train])
        assert joblib.hash(cls().get_params(deep=False)) == joblib.hash(frozen), cls.__name__

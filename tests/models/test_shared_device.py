"""Several fits on one GPU: the SharedDevice callback and the main job's memory share.

No GPU is needed: CUDA's two calls (the per-process memory fraction and the cache
release) are recorded in place of being made, and the fits run on the CPU.
"""

import numpy as np
import pytest
import torch

from skconn.benchmark import BenchmarkConfig
from skconn.benchmark._tasks import make_tasks, run_fold
from skconn.models import SharedDevice
from skconn.models import _shared_device as shared
from skconn.models.mlp import PairMLPRegressor
from skconn.pairs import make_pairs


@pytest.fixture
def cuda_calls(monkeypatch):
    """Pretend every device is a CUDA device; record the two CUDA calls made."""
    calls = []
    monkeypatch.setattr(shared, "_cuda", lambda device: torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda fraction, device=None: calls.append(("fraction", fraction, device)))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(("empty_cache",)))
    return calls


def _tiny_mlp(**kwargs):
    return PairMLPRegressor(module__hidden_dims=(8,), max_epochs=2, batch_size=64,
                            random_state=0, **kwargs)


def test_callback_does_nothing_off_cuda(hcp100_small):
    X, y = make_pairs(hcp100_small)
    net = _tiny_mlp(device="cpu", callbacks=[("share", SharedDevice(n_workers=4))]).fit(X, y)
    assert dict(net.callbacks_)["share"].memory_fraction_ is None


def test_callback_gives_each_worker_its_share_and_releases_the_cache(hcp100_small, cuda_calls):
    X, y = make_pairs(hcp100_small)
    net = _tiny_mlp(device="cpu", callbacks=[("share", SharedDevice(4, headroom=0.8))])
    net.fit(X, y)
    assert dict(net.callbacks_)["share"].memory_fraction_ == pytest.approx(0.2)
    assert cuda_calls[0] == ("fraction", pytest.approx(0.2), torch.device("cuda", 0))
    assert cuda_calls[-1] == ("empty_cache",)


@pytest.mark.parametrize("params", [{"n_workers": 0}, {"headroom": 1.5}, {"n_workers": 2.5}])
def test_callback_refuses_bad_parameters_at_fit(hcp100_small, params):
    X, y = make_pairs(hcp100_small)
    net = _tiny_mlp(callbacks=[("share", SharedDevice(**params))])
    with pytest.raises(ValueError, match=next(iter(params))):
        net.fit(X, y)


def test_share_device_memory_leaves_cpu_and_cuda_untouched_off_cuda():
    # the real check: no CUDA is initialised for a CPU device
    assert shared.share_device_memory("cpu", 8) is None
    assert not torch.cuda.is_initialized()


def _tasks(connectome, model, n_jobs):
    config = BenchmarkConfig(models=[model], repeats=1, folds=3, nulls=0, n_jobs=n_jobs,
                             device="cpu", variants={"tiny_mlp": {
                                 "model": "mlp", "max_epochs": 1, "batch_size": 64,
                                 "module__hidden_dims": [8]}})
    return list(make_tasks(connectome, config, None))


def test_main_job_shares_the_device_between_its_workers(hcp100_small, cuda_calls):
    task = _tasks(hcp100_small, "tiny_mlp", n_jobs=3)[0]
    assert task.workers == 3
    row, _ = run_fold(task)
    assert np.isfinite(row["pearson_r"])
    assert cuda_calls[0] == ("fraction", pytest.approx(0.3), torch.device("cuda", 0))
    assert cuda_calls[-1] == ("empty_cache",)


def test_main_job_leaves_cuda_alone_for_one_worker_and_for_closed_form_models(
        hcp100_small, cuda_calls):
    run_fold(_tasks(hcp100_small, "tiny_mlp", n_jobs=1)[0])
    run_fold(_tasks(hcp100_small, "connectome_model", n_jobs=2)[0])
    assert cuda_calls == []


def test_a_fold_out_of_gpu_memory_names_the_fold_and_the_remedy(
        hcp100_small, cuda_calls, monkeypatch):
    def out_of_memory(self, X, y=None, **fit_params):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(PairMLPRegressor, "fit", out_of_memory)
    task = _tasks(hcp100_small, "tiny_mlp", n_jobs=4)[0]
    with pytest.raises(RuntimeError, match=r"ran out of GPU memory with 4 workers .*22%.*"
                                           r"--n-jobs.*resumes") as info:
        run_fold(task)
    assert task.key in str(info.value)
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)
    assert cuda_calls[-1] == ("empty_cache",)  # released even when the fold failed

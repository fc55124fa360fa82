"""Several fits on one GPU: a per-process memory share and a cache release.

joblib workers that fit neural models on one CUDA device (``GridSearchCV(...,
n_jobs=k)``, ``skconn benchmark --n-jobs k --device cuda``) are separate
processes. Each holds its own CUDA context and caching allocator, and memory one
worker has freed stays reserved for it. Without a limit the workers grow until
one of them runs out of memory, and which one depends on timing. Here each
worker takes a fixed share instead: ``headroom / n_workers`` of the device's
memory (:func:`torch.cuda.set_per_process_memory_fraction`). A fit that needs
more fails at once with PyTorch's ``OutOfMemoryError``, whatever the others do.
Each worker returns its cached blocks to the device when a fit ends.
"""

from __future__ import annotations

import numbers

import torch
from skorch.callbacks import Callback

from .._validation import Interval, validate_own_params
from ._net_state import resolve_device

__all__ = ["SharedDevice", "release_device_memory", "share_device_memory"]


def _cuda(device) -> torch.device | None:
    """``device`` as a CUDA device where one is in use, else None."""
    dev = torch.device(resolve_device(device))
    if dev.type != "cuda" or not torch.cuda.is_available():
        return None
    return dev


def share_device_memory(device, n_workers: int, headroom: float = 0.9) -> float | None:
    """Limit this process to ``headroom / n_workers`` of a CUDA device's memory.

    Parameters
    ----------
    device : str or torch.device
        The device the fits run on (``"auto"`` resolves as the estimators do).
    n_workers : int
        Processes sharing the device.
    headroom : float, default=0.9
        The part of the device's memory the workers share between them; the rest
        is left for their CUDA contexts and for other programs.

    Returns
    -------
    float or None
        The fraction set, or None where ``device`` is not a CUDA device (then
        nothing is done, and CUDA is not initialised).

    Examples
    --------
    >>> from skconn.models._shared_device import share_device_memory
    >>> share_device_memory("cpu", 4) is None
    True
    """
    dev = _cuda(device)
    if dev is None:
        return None
    fraction = headroom / n_workers
    torch.cuda.set_per_process_memory_fraction(fraction, dev)
    return fraction


def release_device_memory(device) -> None:
    """Return this process's cached, unused CUDA blocks to the device (other workers).

    Examples
    --------
    >>> from skconn.models._shared_device import release_device_memory
    >>> release_device_memory("cpu")  # nothing to do off CUDA
    """
    if _cuda(device) is not None:
        torch.cuda.empty_cache()


class SharedDevice(Callback):
    """Let several concurrent fits share one GPU: a memory share per worker.

    Add it to a neural pair estimator that runs in ``n_workers`` parallel
    processes on one CUDA device, e.g. in ``GridSearchCV(net, grid, n_jobs=4)``.
    When training begins, the callback limits its process to ``headroom /
    n_workers`` of the device's memory. When training ends, it returns the
    process's cached blocks to the device. A fit that needs more than its share
    then raises PyTorch's ``OutOfMemoryError`` at once, instead of a random
    worker failing when the others have filled the card. Lower ``n_jobs``, or
    use ``module__checkpoint=True`` or ``batching="region_blocks"``, which need
    much less memory. On the CPU it does nothing. The main job (``skconn
    benchmark --n-jobs k``) does the same for its neural folds without this
    callback.

    Parameters
    ----------
    n_workers : int, default=1
        Processes fitting on the device at once (the ``n_jobs`` of the search).
    headroom : float, default=0.9
        The part of the device's memory all workers together may use.

    Attributes
    ----------
    memory_fraction_ : float or None
        The share set by the last fit; None when it ran off CUDA.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.models import SharedDevice
    >>> from skconn.models.mlp import PairMLPRegressor
    >>> from skconn.model_selection import RandomRegionSplit
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(12, 4))
    >>> net = PairMLPRegressor(module__hidden_dims=(8,), max_epochs=2, batch_size=16,
    ...                        callbacks=[("share", SharedDevice(n_workers=2))],
    ...                        random_state=0)
    >>> search = GridSearchCV(net, {"lr": [1e-3, 1e-2]}, cv=RandomRegionSplit(2),
    ...                       n_jobs=2).fit(X, y)
    >>> dict(search.best_estimator_.callbacks_)["share"].memory_fraction_ is None  # CPU
    True
    """

    _parameter_constraints = {
        "n_workers": [Interval(numbers.Integral, 1, None, closed="left")],
        "headroom": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(self, n_workers: int = 1, headroom: float = 0.9):
        self.n_workers = n_workers
        self.headroom = headroom

    def initialize(self):
        validate_own_params(self)
        self.memory_fraction_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.memory_fraction_ = share_device_memory(net.device, self.n_workers, self.headroom)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        release_device_memory(net.device)

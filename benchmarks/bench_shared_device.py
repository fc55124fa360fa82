"""Throughput of several SMT fits sharing one device (joblib workers, issue 18 item 5).

For each worker count ``w`` in ``--workers``, ``w × --fits-per-worker`` identical
SMT fits (``max_epochs`` epochs, no validation split, each with its own seed) run in
``w`` joblib (loky) processes on one device, each worker limited to 0.9 / w of its
memory by :class:`skconn.models.SharedDevice`. Records, one JSON object per line on
stdout::

    {"benchmark": "shared_device", "device": ..., "input": ..., "workers": w,
     "fits": n, "wall_s": ..., "pairs_per_s": ..., "speedup": ...,
     "memory_fraction": ..., "peak_mb_per_fit": ...}

``pairs_per_s`` is all training pairs of all fits (pairs × epochs) over the wall time
of the batch; ``speedup`` is against the first entry of ``--workers`` (1 by default)
in the same run; the peak is CUDA's peak allocated memory of a fit (on the CPU: the
worker's peak resident set).
Notes go to stderr.

Usage::

    python benchmarks/bench_shared_device.py --device cuda --workers 1 2 4 8 16
    python benchmarks/bench_shared_device.py --quick   # CPU: 1 and 2 workers, small SMT

``--quick`` uses the 114-region hcp_schaefer100 and a small SMT (d_model 32, one
layer); the default is the hcp_schaefer400 regions with expression (365 × 282 genes)
and the default SMT.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed

from skconn.datasets import load_connectome
from skconn.models import SharedDevice
from skconn.models._net_state import resolve_device
from skconn.models.smt import SMTRegressor
from skconn.pairs import make_pairs

try:  # newer joblib depends on the cloudpickle package, older releases vendor a copy
    from cloudpickle import register_pickle_by_value
except ImportError:  # pragma: no cover
    from joblib.externals.cloudpickle import register_pickle_by_value

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import default_data_dir, peak_rss_mb

# workers of a reused loky pool may predate the sys.path entry above: send the
# helpers by value, not as a reference to a module they cannot import
register_pickle_by_value(_common)


def one_fit(X, y, seed: int, device: str, workers: int, params: dict,
            threads: int) -> tuple[int, float | None, float]:
    """Fit one SMT in this worker: (pairs trained, memory fraction set, peak MB)."""
    torch.set_num_threads(threads)
    cuda = torch.device(resolve_device(device)).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    net = SMTRegressor(device=device, random_state=seed, validation_fraction=None,
                       callbacks=[("share", SharedDevice(n_workers=workers))], **params)
    net.fit(X, y)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
    epochs = len(net.history)
    return len(X) * epochs, dict(net.callbacks_)["share"].memory_fraction_, peak


def warm_up(threads: int) -> int:
    """Start a worker (its imports, torch's thread pool) before the timed batch."""
    torch.set_num_threads(threads)
    return os.getpid()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small SMT on hcp_schaefer100, 1 and 2 workers (CPU minutes)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, nargs="+", default=None)
    parser.add_argument("--fits-per-worker", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args(argv)
    workers = args.workers or ([1, 2] if args.quick else [1, 2, 4, 8])
    if args.quick:
        c = load_connectome(args.data_dir / "hcp_schaefer100")
        name = "hcp_schaefer100 (114 x 810)"
        params = {"module__d_model": 32, "module__n_layers": 1, "max_epochs": args.epochs or 1}
    else:
        c = load_connectome(args.data_dir / "hcp_schaefer400")
        c = c.subset(np.flatnonzero(c.sampled))
        name = "hcp_schaefer400 (365 sampled x 282)"
        params = {"max_epochs": args.epochs or 2}
    X, y = make_pairs(c)
    device = resolve_device(args.device)
    cpu_threads = os.cpu_count() or 1
    print(f"torch {torch.__version__}, device {device}, {len(X)} pairs", file=sys.stderr)
    baseline = None
    for w in workers:
        n = w * args.fits_per_worker
        # CPU workers split the cores; CUDA workers need one thread each for the host side
        threads = 1 if device != "cpu" else max(1, cpu_threads // w)
        with Parallel(n_jobs=w) as parallel:  # one pool: started, then timed
            parallel(delayed(warm_up)(threads) for _ in range(w))
            start = time.perf_counter()
            results = parallel(
                delayed(one_fit)(X, y, seed, args.device, w, params, threads)
                for seed in range(n)
            )
            wall = time.perf_counter() - start
        rate = sum(r[0] for r in results) / wall
        baseline = baseline or rate
        print(json.dumps({
            "benchmark": "shared_device", "device": device, "input": name, "workers": w,
            "fits": n, "wall_s": round(wall, 2), "pairs_per_s": round(rate, 1),
            "speedup": round(rate / baseline, 2), "memory_fraction": results[0][1],
            "peak_mb_per_fit": round(max(r[2] for r in results), 1),
        }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

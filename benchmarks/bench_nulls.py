"""Spin nulls, CGE-matched spins and batched spin tests against the published code paths.

Cases (each in a fresh process, so that its peak memory is its own):

* ``vasa_spins``: ``skconn.nulls.gen_spinsamples(method="vasa")`` on the 400
  cortical Schaefer-400 centroids of ``hcp_schaefer400`` (unit sphere per
  hemisphere) against neuromaps 0.0.7 ``nulls.spins.gen_spinsamples`` for the
  same seed and number of spins; the permutations must be identical.
* ``cge_matched_spins``: the full Algorithm 1 on ``hcp_schaefer400`` (414
  regions; the 49 unsampled regions imputed). The reference is the published
  per-spin loop of REFERENCE §4.1 (``np.corrcoef`` of the spun expression,
  ``binned_statistic``, ``curve_fit``, ``Polynomial.fit``), timed on a subset
  of spins and scaled to the same number, plus neuromaps' Váša time per spin.
* ``spin_test_cm``: Connectome Model refits (fixed alpha, 95%-variance PCA
  features of ``hcp_schaefer400``) on spun inputs, batched, against a loop of
  ``clone(model).fit`` timed on a subset of nulls and scaled.

Prints one JSON object per line on stdout (``seconds`` ours, ``cpu_seconds``,
``seconds_reference``, ``ratio`` = reference / ours, ``peak_mb``: the peak of
memory allocated during our call, traced with ``tracemalloc`` in a second,
untimed call); notes go to stderr. BLAS runs single-threaded. ``--quick`` runs
reduced sizes (under 5 minutes on 2 cores); without it, the full sizes of the
issue (10,000 spins / refits).

Usage::

    python benchmarks/bench_nulls.py [--quick] [--data-dir DIR] [--cases NAME ...]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import default_data_dir

CASES = ("vasa_spins", "cge_matched_spins", "spin_test_cm")
SIZES = {
    # case: (quick, full) sizes; the reference subset is timed and scaled
    "vasa_spins": ((1000, 1000), (10_000, 10_000)),
    "cge_matched_spins": ((2000, 40), (10_000, 200)),
    "spin_test_cm": ((1000, 10), (10_000, 40)),
}


def _traced_peak_mb(fn) -> float:
    """Peak of the memory allocated while ``fn()`` runs (numpy arrays included), MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _load400(data_dir):
    from skconn.datasets import impute_missing_regions, load_connectome

    return impute_missing_regions(load_connectome(Path(data_dir) / "hcp_schaefer400"))


def _cortex(c):
    from skconn.nulls import hemisphere_ids, sphere_coords

    ctx = (c.regions["structure"] == "cortex").to_numpy()
    hemi = hemisphere_ids(c.regions)[ctx]
    return sphere_coords(c.coords[ctx], hemi), hemi


def _neuromaps():
    try:
        from neuromaps.nulls.spins import gen_spinsamples
    except ImportError:
        return None
    return gen_spinsamples


def case_vasa_spins(data_dir, n, n_ref):
    from skconn.nulls import gen_spinsamples

    sphere, hemi = _cortex(_load400(data_dir))
    t, cpu = time.perf_counter(), time.process_time()
    ours = gen_spinsamples(sphere, hemi, n, method="vasa", seed=0)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = _traced_peak_mb(lambda: gen_spinsamples(sphere, hemi, n, method="vasa", seed=0))
    t = time.perf_counter()
    ours2 = gen_spinsamples(sphere, hemi, n, method="vasa", seed=0, n_jobs=2)
    seconds2 = time.perf_counter() - t
    out = {"n_spins": n, "n_regions": len(hemi), "seconds": seconds, "cpu_seconds": cpu,
           "seconds_n_jobs_2": seconds2, "peak_mb": peak,
           "same_with_n_jobs_2": bool(np.array_equal(ours, ours2))}
    nm = _neuromaps()
    if nm is not None:
        t = time.perf_counter()
        theirs = nm(sphere, hemi, n_ref, method="vasa", seed=0)
        ref = (time.perf_counter() - t) * n / n_ref
        out.update(reference="neuromaps 0.0.7 gen_spinsamples(method='vasa')",
                   seconds_reference=ref, ratio=ref / seconds,
                   identical=bool(np.array_equal(ours[:, :n_ref], theirs)))
    return out


def _reference_curve_loop(c, perms):
    """The published per-spin statistics (REFERENCE §4.1), for timing."""
    from scipy.optimize import curve_fit
    from scipy.stats import binned_statistic

    X = c.expression.to_numpy()
    d_full = c.distances()
    iu = np.triu_indices(c.n_regions, k=1)
    d = d_full[iu]
    edges = np.arange(0, d.max() + 5, 5)

    def f(x, sa_lambda, sa_inf):
        return sa_inf + (1 - sa_inf) * np.exp(-x / sa_lambda)

    for p in perms:
        cge = np.corrcoef(X[p])[iu]
        means, e, _ = binned_statistic(d, cge, statistic="mean", bins=edges)
        centers = (e[:-1] + e[1:]) / 2
        ok = np.isfinite(means)
        curve_fit(f, centers[ok], means[ok], p0=[10, 0], bounds=([0, -1], [100, 1]),
                  maxfev=5000)
        np.polynomial.Polynomial.fit(centers[ok], means[ok], deg=3).convert()


def case_cge_matched_spins(data_dir, n, n_ref):
    from skconn.nulls import cge_matched_spins

    c = _load400(data_dir)
    t, cpu = time.perf_counter(), time.process_time()
    _, diag = cge_matched_spins(c, n_spins=n, k=10, random_state=0)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = _traced_peak_mb(lambda: cge_matched_spins(c, n_spins=n, k=10, random_state=0))
    peak_tenth = _traced_peak_mb(
        lambda: cge_matched_spins(c, n_spins=max(n // 10, 20), k=10, random_state=0)
    )
    perm_mb = n * c.n_regions * 8 / 2**20
    diag_mb = diag.memory_usage(deep=True).sum() / 2**20
    out = {"n_spins": n, "n_regions": c.n_regions, "seconds": seconds, "cpu_seconds": cpu,
           "peak_mb": peak, f"peak_mb_at_{max(n // 10, 20)}_spins": peak_tenth,
           "permutations_mb": perm_mb, "diagnostics_mb": diag_mb}
    rng = np.random.default_rng(0)
    perms = np.array([rng.permutation(c.n_regions) for _ in range(n_ref)])
    t = time.perf_counter()
    _reference_curve_loop(c, perms)
    loop = (time.perf_counter() - t) * n / n_ref
    ref = loop
    nm = _neuromaps()
    if nm is not None:
        sphere, hemi = _cortex(c)
        t = time.perf_counter()
        nm(sphere, hemi, n_ref, method="vasa", seed=0)
        ref += (time.perf_counter() - t) * n / n_ref
    out.update(reference=f"REFERENCE §4.1 curve loop + neuromaps Váša, {n_ref} spins scaled",
               seconds_reference_curve_loop=loop, seconds_reference=ref, ratio=ref / seconds)
    return out


def case_spin_test_cm(data_dir, n, n_ref):
    from sklearn.base import clone
    from sklearn.decomposition import PCA

    from skconn.metrics import get_scorer
    from skconn.models import ConnectomeModelRegressor
    from skconn.nulls import spin_test, whole_brain_spins
    from skconn.nulls._null_test import _null_pairs
    from skconn.pairs import make_pairs

    c = _load400(data_dir)
    X, y = make_pairs(c)
    X = X.with_features(PCA(0.95, random_state=0).fit_transform(X.region_features()))
    perms, _, _ = whole_brain_spins(c, n, random_state=0)
    model = ConnectomeModelRegressor(alpha=1e3)
    t, cpu = time.perf_counter(), time.process_time()
    res = spin_test(model, X, y, perms)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = _traced_peak_mb(lambda: spin_test(model, X, y, perms))
    scorer = get_scorer("pearson")
    t = time.perf_counter()
    loop_scores = []
    for p in perms[:n_ref]:
        Xn = _null_pairs(X, p)
        loop_scores.append(scorer(clone(model).fit(Xn, y), Xn, y))
    ref = (time.perf_counter() - t) * n / n_ref
    return {"n_refits": n, "n_features": X.n_features, "n_regions": c.n_regions,
            "batched": res.batched, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak,
            "reference": f"loop of clone(model).fit, {n_ref} nulls scaled",
            "seconds_reference": ref, "ratio": ref / seconds,
            "max_abs_diff_vs_loop": float(np.abs(res.null_scores[:n_ref] - loop_scores).max()),
            "true_r": res.score, "pvalue": res.pvalue}


def _run(case, data_dir, n, n_ref, queue):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            out = globals()[f"case_{case}"](data_dir, n, n_ref)
        queue.put(out)
        # joblib's worker pool would otherwise keep this process alive until it idles out
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception as exc:  # report, do not hang the parent
        queue.put({"error": repr(exc)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (< 5 minutes)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    for case in args.cases:
        (qn, qref), (fn, fref) = SIZES[case]
        n, n_ref = (qn, qref) if args.quick else (fn, fref)
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(case, str(args.data_dir), n, n_ref, queue))
        proc.start()
        out = queue.get()
        proc.join()
        record = {"case": case, "quick": args.quick, **out,
                  "load_average": round(os.getloadavg()[0], 2)}
        print(json.dumps(record, default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""skconn's linear models against the published reference formulas, on the published protocol.

For every dataset, split (random, spatial), seed and outer fold (REFERENCE §0-§2:
4 region folds, ordered pairs with both regions in train / both in test, cross
pairs dropped), each skconn model with its default parameters and the matching
reference formula(s) of ``_reference.py`` are fitted on exactly the same folds and
scored by Pearson r over the ordered test pairs.

Prints one JSON object per line per (dataset, split, model) on stdout; progress
and notes go to stderr.

Usage::

    python benchmarks/bench_linear.py [--quick] [--data-dir DIR]
        [--datasets NAME ...] [--models NAME ...] [--blas-threads N]

The data folder defaults to ``<repo>/../shared/data``; ``--data-dir`` or the
environment variable ``SKCONN_SHARED_DATA`` override it. BLAS and OpenMP run
single-threaded unless ``--blas-threads`` says otherwise: every matrix here is
small, and extra threads only slowed the runs down.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _reference as ref
from _common import default_data_dir

from skconn.datasets import load_connectome
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.models import (
    ConnectomeModelRegressor,
    ExpDecayRegressor,
    PLSBilinearRegressor,
)
from skconn.pairs import make_pairs

DATASETS = ("ukbb_schaefer100", "hcp_schaefer100")
SPLITS = ("random", "spatial")
MODELS = ("exp_decay", "connectome_model", "pls_bilinear", "low_rank")
SEEDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 42)
QUICK_SEEDS = (1, 42)
N_SPLITS = 4


def _low_rank_factory():
    """The low-rank model's constructor, or None (with a note) if it cannot be imported."""
    try:
        from skconn.models.low_rank import LowRankBilinearRegressor
    except Exception as exc:  # the module is still being written: skip, don't fail
        print(f"note: skipping low_rank ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
    return lambda seed: LowRankBilinearRegressor(random_state=seed)


def our_models(names) -> dict[str, Callable]:
    """skconn estimators with default parameters, as seed -> unfitted estimator."""
    factories = {
        "exp_decay": lambda seed: ExpDecayRegressor(),
        "connectome_model": lambda seed: ConnectomeModelRegressor(random_state=seed),
        "pls_bilinear": lambda seed: PLSBilinearRegressor(random_state=seed),
    }
    out = {}
    for name in names:
        if name == "low_rank":
            factory = _low_rank_factory()
            if factory is not None:
                out[name] = factory
        else:
            out[name] = factories[name]
    return out


def reference_variants(model: str) -> dict[str, Callable]:
    """Reference formulas for a model: variant -> f(data, train, test, folds, fold_idx).

    ``data`` holds the region-level ``features``, ``coords`` and ``fc``. The
    low-rank model has none: the published one is a mini-batch Adam fit (§3.3).
    """
    if model == "exp_decay":
        return {
            "mirror": lambda d, tr, te, folds, k: ref.ref_exp_decay(
                d["coords"], d["fc"], tr, te, mirror=True
            ),
            "no_mirror": lambda d, tr, te, folds, k: ref.ref_exp_decay(
                d["coords"], d["fc"], tr, te, mirror=False
            ),
        }
    if model == "connectome_model":

        def cm(lambdas, selection):
            return lambda d, tr, te, folds, k: ref.ref_cm(
                d["features"],
                d["fc"],
                tr,
                te,
                folds=folds,
                fold_idx=k,
                lambdas=lambdas,
                selection=selection,
            )

        return {
            "published": cm(ref.PUBLISHED_LAMBDAS, "published"),
            "best_parameters": cm((0.1,), "plain"),
            "wide": cm(ref.WIDE_LAMBDAS, "plain"),
        }
    if model == "pls_bilinear":

        def pls(lambdas):
            return lambda d, tr, te, folds, k: ref.ref_pls_bilinear(
                d["features"],
                d["fc"],
                tr,
                te,
                folds=folds,
                fold_idx=k,
                n_components=25,
                lam=0.01,
                lambdas=lambdas,
            )

        return {
            "best_parameters": pls(None),
            "published": pls(ref.PUBLISHED_LAMBDAS),
            "wide": pls(ref.WIDE_LAMBDAS),
        }
    return {}


def _pearson(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _splitter(split: str, seed: int):
    cls = RandomRegionSplit if split == "random" else SpatialRegionSplit
    return cls(N_SPLITS, random_state=seed)


def _published_folds(split: str, seed: int, data) -> list[np.ndarray]:
    if split == "random":
        return ref.random_folds(len(data["fc"]), seed, N_SPLITS)
    return ref.spatial_folds(data["coords"], seed, N_SPLITS)


def run_cell(name, data, X, y, split, seeds, models):
    """Score every model and reference variant on every fold of one (dataset, split)."""
    scores = {m: [] for m in models}
    seconds = {m: [] for m in models}
    refs = {m: reference_variants(m) for m in models}
    ref_scores = {m: {v: [] for v in refs[m]} for m in models}
    ref_lambdas = {m: {v: Counter() for v in refs[m]} for m in models}
    for seed in seeds:
        rows = list(_splitter(split, seed).split(X, y))
        folds = [np.unique(X.pairs[test]) for _, test in rows]
        published = _published_folds(split, seed, data)
        if not all(np.array_equal(a, b) for a, b in zip(folds, published, strict=True)):
            raise RuntimeError(
                f"{name} {split} seed {seed}: skconn's folds differ from the published ones"
            )
        all_regions = np.arange(len(data["fc"]))
        for k, (train_rows, test_rows) in enumerate(rows):
            test = folds[k]
            train = np.setdiff1d(all_regions, test)
            ti, tj = ref.ordered_pairs(test)
            y_ref = data["fc"][ti, tj]
            for m, factory in models.items():
                est = factory(seed)
                start = time.perf_counter()
                est.fit(X[train_rows], y[train_rows])
                seconds[m].append(time.perf_counter() - start)
                scores[m].append(_pearson(est.predict(X[test_rows]), y[test_rows]))
                for v, formula in refs[m].items():
                    fit = formula(data, train, test, folds, k)
                    ref_scores[m][v].append(_pearson(fit.pred, y_ref))
                    if fit.lam is not None:
                        ref_lambdas[m][v][fit.lam] += 1
        print(f"  {name} {split} seed {seed} done", file=sys.stderr, flush=True)
    for m in models:
        s = np.array(scores[m])
        variants = {v: float(np.mean(r)) for v, r in ref_scores[m].items()}
        best = max(variants, key=variants.get) if variants else None
        record = {
            "dataset": name,
            "split": split,
            "model": m,
            "n_runs": int(s.size),
            "mean_r": float(s.mean()),
            "sd_r": float(s.std(ddof=1)) if s.size > 1 else 0.0,
            "reference_mean_r": variants[best] if best else None,
            "reference_variants": variants,
            "fit_seconds": float(np.mean(seconds[m])),
            "reference_best": best,
            "paired_diff_mean": float(np.mean(s - ref_scores[m][best])) if best else None,
            "n_folds_above_reference": int(np.sum(s > np.array(ref_scores[m][best])))
            if best
            else None,
            "reference_sd_r": (
                {v: float(np.std(r, ddof=1)) for v, r in ref_scores[m].items()}
                if s.size > 1
                else {}
            ),
            "reference_lambdas": {
                v: {f"{lam:g}": c for lam, c in sorted(cnt.items())}
                for v, cnt in ref_lambdas[m].items()
                if cnt
            },
        }
        print(json.dumps(record), flush=True)


def load(data_dir: Path, name: str):
    """Region pairs of a dataset and its region-level arrays (for the reference)."""
    connectome = load_connectome(data_dir / name)
    if not connectome.sampled.all():
        # the reference drops regions without expression (§0), as make_pairs does
        connectome = connectome.subset(connectome.sampled)
    X, y = make_pairs(connectome)
    data = {
        "features": connectome.expression.to_numpy(dtype=float),
        "coords": connectome.coords,
        "fc": np.asarray(connectome.connectivity, dtype=float),
    }
    return X, y, data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"seeds {QUICK_SEEDS} only instead of all {len(SEEDS)}"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of dataset folders (default: $SKCONN_SHARED_DATA, else <repo>/../shared/data)",
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="NAME")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        metavar="N",
        help="BLAS/OpenMP threads (default 1: the matrices are small, and extra threads "
        "made the quick run 4x slower on a busy 2-core machine; 0 = library default)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        choices=MODELS,
        metavar="NAME",
        help=f"any of {', '.join(MODELS)}",
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    seeds = QUICK_SEEDS if args.quick else SEEDS
    models = our_models(args.models)
    start = time.perf_counter()
    limits = None if args.blas_threads == 0 else args.blas_threads
    with threadpool_limits(limits=limits), warnings.catch_warnings():
        # report each distinct warning once, not once per fold
        warnings.simplefilter("once")
        for name in args.datasets:
            X, y, data = load(data_dir, name)
            for split in SPLITS:
                run_cell(name, data, X, y, split, seeds, models)
    print(f"total {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

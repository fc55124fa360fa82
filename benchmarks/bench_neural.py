"""Efficiency of the neural estimators: distinct-region encoding, peak memory, size.

Measured side by side in one run (REFERENCE §3.6, §9.6):

* ``throughput``: SMTRegressor training steps (forward, backward, AdamW step) at
  batch 512 with each distinct region of a batch encoded once (skconn) vs. every
  pair slot encoded (the published formulation, ``module__encode_distinct=False``),
  in pairs/s, their ratio, and whether eval-mode predictions are identical.
  Inputs: the real ``hcp_schaefer400`` regions that have expression (365 x 282
  genes) and a 456-region x 7,380-gene table of the paper's shapes (random
  values in [0, 1]: only the shapes matter for timing).
* ``peak_memory``: peak resident memory (CPU) or peak allocated CUDA memory of
  ``SMTRegressor.fit`` on 456 regions x 7,380 genes (207,480 ordered pairs; the
  paper has 455 regions with expression, 206,570 pairs),
  stopped after a few steps, in a fresh process.
* ``parameters``: parameter count of the default SMT at 7,380 genes, t = 60
  (REFERENCE: 2,162,315).
* ``step_overhead``: the wall time of skconn's training step (the batch built from
  pair indices on the device, skorch's ``train_step``, the loss recorded) against a
  bare PyTorch loop over the same module copy, shapes and AdamW settings with its
  inputs already on the device, steps interleaved, medians; for the default SMT
  and the default MLP on the hcp_schaefer400 regions (target ratio <= 1.25).
* ``smoke_fit``: a short SMT-CLS fit on hcp_schaefer100 on the chosen device (bf16
  autocast on CUDA), its test r and a pickle round trip.
* ``--protocol``: test r of CM, MLP, MLP-coords, SMT and SMT-CLS on the region-fold
  protocol (``--seeds``, ``--epochs``), with learning-curve summaries.

Prints one JSON object per line on stdout; notes go to stderr.

Usage::

    python benchmarks/bench_neural.py [--quick] [--device cpu|cuda|auto]
        [--compile] [--steps N] [--data-dir DIR] [--threads N]

On a GPU: ``python benchmarks/bench_neural.py --device cuda`` (bf16 autocast is
on by default on CUDA; ``--compile`` adds ``torch.compile``).
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import default_data_dir, peak_rss_mb

from skconn.datasets import Connectome, load_connectome
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.models import ConnectomeModelRegressor
from skconn.models._pair_data import PairBatches
from skconn.models._torch import resolve_device
from skconn.models.mlp import PairMLPRegressor
from skconn.models.smt import SMTModule, SMTRegressor
from skconn.pairs import make_pairs

PAPER_REGIONS, PAPER_GENES = 456, 7380


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def paper_shaped(seed: int = 0) -> Connectome:
    """456 regions x 7,380 genes with random values (for timing only) and real-looking coords."""
    rng = np.random.default_rng(seed)
    n, g = PAPER_REGIONS, PAPER_GENES
    regions = pd.DataFrame(
        {
            "label": [f"r{k}" for k in range(n)],
            "hemisphere": np.where(np.arange(n) < n // 2, "L", "R"),
            "structure": "cortex",
            "x": rng.uniform(-70, 70, n),
            "y": rng.uniform(-100, 70, n),
            "z": rng.uniform(-40, 80, n),
        }
    )
    expression = pd.DataFrame(rng.uniform(size=(n, g)), columns=[f"g{k}" for k in range(g)])
    expression.index = regions["label"]
    fc = rng.uniform(-0.2, 0.8, (n, n))
    fc = (fc + fc.T) / 2
    np.fill_diagonal(fc, 0)
    return Connectome(regions, expression, fc, name="paper_shaped_random")


def hcp400_sampled(data_dir: Path) -> Connectome:
    c = load_connectome(data_dir / "hcp_schaefer400")
    return c.subset(np.flatnonzero(c.sampled))


def default_smt(device, compile_=False, **kwargs) -> SMTRegressor:
    params = dict(
        module__token_size=60,
        max_epochs=1,
        batch_size=512,
        random_state=0,
        device=device,
        validation_fraction=None,
        compile=compile_,
    )
    params.update(kwargs)
    return SMTRegressor(**params)


def _sync(device):
    if torch.device(resolve_device(device)).type == "cuda":
        torch.cuda.synchronize()


def _interleaved_steps(net, module, runs: dict, device) -> dict:
    """Median pairs/s of each run's training steps, the runs' steps interleaved.

    ``runs`` maps a name to ``(encode_distinct, batches)``. Interleaving and
    medians make the comparison fair on a machine whose load changes.
    """
    times = {name: [] for name in runs}
    n_steps = min(len(batches) for _, batches in runs.values())
    for step in range(n_steps):
        for name, (distinct, batches) in runs.items():
            module.encode_distinct = distinct
            _sync(device)
            start = time.perf_counter()
            net.train_step(batches[step])
            _sync(device)
            if step:  # the first step of each run warms up (and compiles)
                times[name].append((time.perf_counter() - start) / len(batches[step][0]))
    module.encode_distinct = True
    return {name: 1.0 / float(np.median(t)) for name, t in times.items()}


def throughput(name, connectome, device, steps, compile_=False):
    X, y = make_pairs(connectome)
    net = default_smt(device, compile_)
    net.fit(X[:2], y[:2])  # fit's data preparation; then a fresh initialisation
    net.initialize()
    dataset = net.get_dataset(X, y)
    rng = np.random.default_rng(0)
    random_batches = [
        dataset.batch(rng.choice(len(X), 512, replace=False)) for _ in range(steps + 1)
    ]
    plan = PairBatches(dataset, 512, shuffle=True, rng=rng, region_blocks=True)._plan()
    block_batches = [dataset.batch(idx) for idx in plan[: steps + 1]]
    module = net.module_._orig_mod if hasattr(net.module_, "_orig_mod") else net.module_
    result = _interleaved_steps(
        net,
        module,
        {
            "per_slot": (False, random_batches),
            "distinct": (True, random_batches),
            "distinct_blocks": (True, block_batches),
        },
        device,
    )
    module.eval()
    with torch.no_grad():
        b = random_batches[0][0]
        a = net.infer(b).cpu()
        module.encode_distinct = False
        p = net.infer(b).cpu()
        module.encode_distinct = True

    def regions(batches):
        return float(np.mean([len(b[0].inputs["features"]) for b in batches]))

    emit(
        {
            "benchmark": "throughput",
            "input": name,
            "regions": int(X.n_regions),
            "genes": int(X.n_features),
            "device": str(net.device),
            "threads": torch.get_num_threads(),
            "autocast_bf16": net._autocast_enabled(),
            "compile": compile_,
            "batch_size": 512,
            "steps": steps,
            "distinct_regions_per_batch_random": regions(random_batches),
            "distinct_regions_per_batch_blocks": regions(block_batches),
            "mean_pairs_per_block_batch": float(np.mean([len(b) for b in plan])),
            "pairs_per_s_per_slot": round(result["per_slot"], 1),
            "pairs_per_s_distinct": round(result["distinct"], 1),
            "pairs_per_s_distinct_region_blocks": round(result["distinct_blocks"], 1),
            "ratio": round(result["distinct"] / result["per_slot"], 2),
            "ratio_region_blocks": round(result["distinct_blocks"] / result["per_slot"], 2),
            "eval_max_abs_diff": float((a - p).abs().max()),
            "eval_identical": bool(torch.allclose(a, p, rtol=1e-4, atol=1e-5)),
        }
    )


class _StopAfter:
    """skorch callback: interrupt training after n batches (skorch ends the fit cleanly)."""

    def __new__(cls, n):
        from skorch.callbacks import Callback

        class Stop(Callback):
            def initialize(self):
                self.seen = 0
                return self

            def on_batch_end(self, net, training=False, **kwargs):
                self.seen += training
                if self.seen >= n:
                    raise KeyboardInterrupt

        return Stop()


def peak_memory_child(device, steps, compile_, mode):
    """Run in a fresh process: fit on the paper-shaped input, report peak memory."""
    connectome = paper_shaped()
    X, y = make_pairs(connectome)
    del connectome
    base_rss = peak_rss_mb()
    on_cuda = torch.device(resolve_device(device)).type == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    extra = {
        "random": {},
        "checkpoint": {"module__checkpoint": True},
        "region_blocks": {"batching": "region_blocks"},
        # the default's precision on CUDA (bf16 autocast), measured on any device
        "bf16": {"autocast": True},
    }[mode]
    net = default_smt(device, compile_, callbacks=[("stop", _StopAfter(steps))], **extra)
    start = time.perf_counter()
    net.fit(X, y)
    seconds = time.perf_counter() - start
    record = {
        "benchmark": "peak_memory",
        "input": f"{PAPER_REGIONS}x{PAPER_GENES}",
        "pairs": len(X),
        "device": str(net.device),
        "mode": mode,
        "fit_steps": steps,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_fit_mb": round(base_rss, 1),
        "dense_pair_matrix_mb": round(len(X) * 2 * PAPER_GENES * 4 / 2**20, 1),
    }
    if on_cuda:
        record["peak_cuda_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    emit(record)


def parameters():
    model = SMTModule(PAPER_GENES, token_size=60)
    cls = SMTModule(PAPER_GENES, token_size=20, use_cls=True)
    emit(
        {
            "benchmark": "parameters",
            "genes": PAPER_GENES,
            "smt_t60": sum(p.numel() for p in model.parameters()),
            "smt_t60_reference": 2162315,
            "smt_cls_t20": sum(p.numel() for p in cls.parameters()),
            "smt_cls_t20_reference": 4686987,
        }
    )


def _median_ms(times: list[float]) -> float:
    return round(1000 * float(np.median(times)), 3)


def step_overhead(name, connectome, device, steps, model="smt") -> dict:
    """skconn's training step vs a bare PyTorch loop on the same module; emits the record."""
    X, y = make_pairs(connectome)
    if model == "smt":
        net = default_smt(device)
    else:
        net = PairMLPRegressor(
            max_epochs=1, batch_size=512, random_state=0, device=device, validation_fraction=None
        )
    net.fit(X[:2], y[:2])  # fit's data preparation; then a fresh initialisation
    net.initialize()
    dataset = net.get_dataset(X, y)
    rng = np.random.default_rng(0)
    plan = [rng.choice(len(X), min(512, len(X)), replace=False) for _ in range(steps + 1)]
    # the bare loop: a copy of the module, AdamW with the same settings, inputs on the device
    bare = copy.deepcopy(net.module_)
    bare.train()
    defaults = net.optimizer_.defaults
    opt = torch.optim.AdamW(
        bare.parameters(),
        lr=net.lr,
        **{k: defaults[k] for k in ("fused", "foreach") if defaults.get(k) is not None},
    )
    ready = [dataset.batch(idx) for idx in plan]
    autocast = net._autocast_enabled()
    device_type = torch.device(net.device).type

    def bare_step(k):
        inputs, target = ready[k][0].inputs, ready[k][1]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=autocast):
            out = bare(**inputs)
        loss = torch.nn.functional.mse_loss(out.float(), target)
        loss.backward()
        opt.step()

    def skconn_step(k):
        # what one step of fit does: build the batch from the pair indices, train, record
        net.run_single_epoch(
            (dataset.batch(plan[k]) for _ in range(1)),
            training=True,
            prefix="train",
            step_fn=net.train_step,
        )

    net.history.new_epoch()
    times = {"skconn": [], "bare": []}
    for k in range(steps + 1):
        for which, step in (("skconn", skconn_step), ("bare", bare_step)):
            _sync(device)
            start = time.perf_counter()
            step(k)
            _sync(device)
            if k:  # the first step of each warms up
                times[which].append(time.perf_counter() - start)
    record = {
        "benchmark": "step_overhead",
        "model": model,
        "device": str(net.device),
        "input": name,
        "threads": torch.get_num_threads(),
        "autocast_bf16": autocast,
        "batch_size": len(plan[0]),
        "steps": steps,
        "skconn_ms": _median_ms(times["skconn"]),
        "bare_ms": _median_ms(times["bare"]),
    }
    record["ratio"] = round(record["skconn_ms"] / record["bare_ms"], 3)
    emit(record)
    return record


def smoke(data_dir: Path, device) -> None:
    """Fit SMT-CLS for a few epochs on hcp_schaefer100 on ``device``; pickle round trip."""
    import pickle

    X, y = make_pairs(load_connectome(data_dir / "hcp_schaefer100"))
    train, test = next(RandomRegionSplit(4, random_state=1).split(X))
    model = SMTRegressor(
        use_cls=True,
        module__token_size=30,
        module__d_model=32,
        module__n_heads=2,
        module__n_layers=1,
        module__hidden_dims=(64,),
        lr=1e-3,
        batch_size=128,
        max_epochs=6,
        random_state=0,
        device=device,
    )
    start = time.perf_counter()
    model.fit(X[train], y[train])
    pred = model.predict(X[test])
    again = pickle.loads(pickle.dumps(model)).predict(X[test])
    emit(
        {
            "benchmark": "smoke_fit",
            "device": str(model.device),
            "autocast_bf16": model._autocast_enabled(),
            "seconds": round(time.perf_counter() - start, 1),
            "test_r": round(float(np.corrcoef(pred, y[test])[0, 1]), 4),
            "finite": bool(np.isfinite(pred).all()),
            "pickle_identical": bool(np.array_equal(pred, again)),
        }
    )


def protocol_models(epochs: int) -> dict:
    """The compared models, configured for ~7k training pairs (hcp/ukbb Schaefer-100)."""
    common = dict(
        lr=1e-3, batch_size=128, max_epochs=epochs, patience=10, optimizer__weight_decay=1e-4
    )
    smt = dict(
        module__token_size=30,
        module__d_model=64,
        module__n_heads=4,
        module__n_layers=2,
        module__hidden_dims=(256, 128),
        **common,
    )
    mlp = dict(module__hidden_dims=(512, 256, 128), module__dropout=0.1, **common)
    return {
        "connectome_model": lambda seed: ConnectomeModelRegressor(random_state=seed),
        "mlp": lambda seed: PairMLPRegressor(random_state=seed, **mlp),
        "mlp_coords": lambda seed: PairMLPRegressor(
            random_state=seed, module__use_coords=True, **mlp
        ),
        "smt": lambda seed: SMTRegressor(random_state=seed, **smt),
        "smt_cls": lambda seed: SMTRegressor(use_cls=True, random_state=seed, **smt),
    }


def protocol(data_dir: Path, datasets, seeds, epochs: int, models=None) -> None:
    """The published protocol (4 region folds per seed), neural next to the linear CM."""
    makers = protocol_models(epochs)
    for name in datasets:
        X, y = make_pairs(load_connectome(data_dir / name))
        for split in ("random", "spatial"):
            for seed in seeds:
                cv = (RandomRegionSplit if split == "random" else SpatialRegionSplit)(
                    4, random_state=seed
                )
                for fold, (train, test) in enumerate(cv.split(X)):
                    for model_name, make in makers.items():
                        if models and model_name not in models:
                            continue
                        start = time.perf_counter()
                        model = make(seed).fit(X[train], y[train])
                        pred = model.predict(X[test])
                        record = {
                            "benchmark": "protocol",
                            "dataset": name,
                            "split": split,
                            "seed": seed,
                            "fold": fold,
                            "model": model_name,
                            "test_r": round(float(np.corrcoef(pred, y[test])[0, 1]), 4),
                            "test_mse": round(float(np.mean((pred - y[test]) ** 2)), 5),
                            "mean_baseline_mse": round(
                                float(np.mean((y[test] - y[train].mean()) ** 2)), 5
                            ),
                            "n_train_pairs": len(train),
                            "seconds": round(time.perf_counter() - start, 1),
                        }
                        if hasattr(model, "history_"):
                            valid = model.history[:, "valid_loss"]
                            record.update(
                                epochs_run=len(model.history),
                                best_epoch=int(np.argmin(valid)) + 1,
                                best_valid_loss=round(float(np.min(valid)), 5),
                                train_loss_at_best=round(
                                    float(model.history[int(np.argmin(valid)), "train_loss"]), 5
                                ),
                                valid_pairs=len(model.valid_pairs_),
                            )
                        emit(record)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps (< 5 min on 2 cores)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile the module")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per mode")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--protocol", action="store_true", help="test r of all models on the region-fold protocol"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--datasets", nargs="+", default=["hcp_schaefer100", "ukbb_schaefer100"])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (3 if args.quick else 10)
    # the paper-shaped per-slot step takes ~10 s per step on 2 CPU cores
    paper_steps = args.steps or (2 if args.quick else 10)
    if args.memory_child:
        peak_memory_child(args.device, steps, args.compile, args.memory_child)
        return 0
    note(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    if args.protocol:
        protocol(args.data_dir, args.datasets, args.seeds, args.epochs, args.models)
        return 0
    parameters()
    hcp400 = hcp400_sampled(args.data_dir)
    for model in ("smt", "mlp"):
        step_overhead(
            "hcp_schaefer400 (365 sampled x 282)", hcp400, args.device, max(steps, 10), model
        )
    smoke(args.data_dir, args.device)
    throughput(
        "hcp_schaefer400 (365 sampled x 282)",
        hcp400,
        args.device,
        steps,
        args.compile,
    )
    throughput(
        f"paper-shaped {PAPER_REGIONS}x{PAPER_GENES} (random values)",
        paper_shaped(),
        args.device,
        paper_steps,
        args.compile,
    )
    for mode in ("random", "checkpoint", "region_blocks", "bf16"):
        cmd = [
            sys.executable,
            __file__,
            "--memory-child",
            mode,
            "--device",
            args.device,
            "--steps",
            str(paper_steps),
        ]
        if args.compile:
            cmd.append("--compile")
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

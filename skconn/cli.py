"""Command line: ``skconn benchmark ...`` (also ``python -m skconn benchmark ...``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__

__all__ = ["main"]

_SHOWN = ("pearson_r", "short_r", "mid_r", "long_r", "r2", "mse", "fit_time")


def _parser() -> argparse.ArgumentParser:
    from .benchmark import MODELS

    parser = argparse.ArgumentParser(
        prog="skconn",
        description="Predict functional connectivity from regional gene expression and position.",
    )
    parser.add_argument("--version", action="version", version=f"skconn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "benchmark",
        help="cross-validate models on a dataset and print mean ± SD per metric",
        description="Repeated outer region folds of the chosen models on a dataset.",
    )
    bench.add_argument(
        "--data", default="default",
        help="'default' (the embedded dataset) or a dataset folder (regions.csv, "
             "expression.csv.gz, connectivity.csv.gz)",
    )
    bench.add_argument(
        "--models", default="exp_decay,connectome_model,pls_bilinear",
        help=f"comma-separated model names among {','.join(MODELS)}",
    )
    bench.add_argument("--split", choices=("random", "spatial"), default="random")
    bench.add_argument("--repeats", type=int, default=3, help="outer repeats (default 3)")
    bench.add_argument("--folds", type=int, default=4, help="outer folds (default 4)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the first repeat")
    bench.add_argument("--n-jobs", type=int, default=1, help="parallel folds (joblib)")
    bench.add_argument("--output", type=Path, default=None,
                       help="folder for folds.csv, summary.csv and summary.md")
    bench.add_argument("--quiet", action="store_true", help="print the table only")
    return parser


def _benchmark(args: argparse.Namespace) -> int:
    from .benchmark import format_summary, load_dataset, run_benchmark, summarize

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    start = time.perf_counter()
    connectome = load_dataset(args.data)
    if not args.quiet:
        print(f"# {connectome!r}; {args.split} split, {args.repeats} repeats x "
              f"{args.folds} folds; models: {', '.join(models)}", file=sys.stderr)
    results = run_benchmark(
        connectome, models, split=args.split, repeats=args.repeats, folds=args.folds,
        random_state=args.seed, n_jobs=args.n_jobs, verbose=0 if args.quiet else 5,
    )
    table = summarize(results)
    shown = [m for m in _SHOWN if f"{m}_mean" in table]
    text = format_summary(table, shown)
    print(text)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        results.to_csv(args.output / "folds.csv", index=False)
        table.to_csv(args.output / "summary.csv")
        (args.output / "summary.md").write_text(text + "\n")
    if not args.quiet:
        print(f"# done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skconn`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit status.

    Examples
    --------
    >>> from skconn.cli import main
    >>> main(["--version"])
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    args = _parser().parse_args(argv)
    try:
        return _benchmark(args)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"skconn: error: {exc}", file=sys.stderr)
        return 2

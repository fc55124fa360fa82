"""Command line: ``skconn benchmark ...`` (also ``python -m skconn benchmark ...``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__

__all__ = ["main"]


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _autocast(text: str) -> str | bool:
    choices = {"auto": "auto", "on": True, "off": False}
    if text not in choices:
        raise argparse.ArgumentTypeError(f"choose from auto, on, off (got {text!r})")
    return choices[text]


def _variant(text: str) -> dict:
    """``NAME = {model = "family", param = value, ...}`` (a TOML key and inline table)."""
    from ._config import tomllib

    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"expected NAME = {{model = \"family\", parameter = value, ...}} (TOML), "
            f"got {text!r}: {exc}"
        ) from None
    if len(value) != 1 or not isinstance(next(iter(value.values())), dict):
        raise argparse.ArgumentTypeError(
            f"expected one NAME = {{model = \"family\", ...}}, got {text!r}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    from ._config import BenchmarkConfig
    from .benchmark import MODELS

    defaults = BenchmarkConfig()
    parser = argparse.ArgumentParser(
        prog="skconn",
        description="Predict functional connectivity from regional gene expression and position.",
    )
    parser.add_argument("--version", action="version", version=f"skconn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "benchmark",
        help="nested region-level cross-validation of models, true data vs spatial nulls",
        description="Benchmark models with repeated outer region folds (and an inner "
                    "hyperparameter search) on a dataset, against CGE-matched spin nulls; "
                    "write per-fold results, a summary table and figures. Re-running the "
                    "same command resumes, skipping finished folds.",
    )
    bench.add_argument("--config", help="TOML file of options (flags given here override it)")
    bench.add_argument(
        "--data", help="'default' (the embedded dataset) or a dataset folder (regions.csv, "
                       f"expression.csv.gz, connectivity.csv.gz); default {defaults.data!r}",
    )
    bench.add_argument("--models", type=_csv,
                       help=f"comma-separated, among {','.join(MODELS)} and the names of "
                            "--variant; "
                            f"default {','.join(defaults.models)}")
    bench.add_argument(
        "--variant", dest="variants", type=_variant, action="append",
        help='a model variant to name in --models: NAME = {model = "family", parameter = '
             'value, ...} in TOML, e.g. \'smt_refit = {model = "smt", refit_all = true}\' '
             "(repeatable; adds to the [variants] of --config)",
    )
    bench.add_argument("--split", dest="splits", type=_csv,
                       help="random, spatial or random,spatial; "
                            f"default {','.join(defaults.splits)}")
    bench.add_argument("--repeats", type=int, help=f"outer repeats (default {defaults.repeats})")
    bench.add_argument("--folds", type=int, help=f"outer folds (default {defaults.folds})")
    bench.add_argument("--search", choices=("none", "grid", "random"),
                       help=f"inner hyperparameter search (default {defaults.search})")
    bench.add_argument("--n-iter", type=int,
                       help=f"candidates of the random search (default {defaults.n_iter})")
    bench.add_argument("--inner-folds", type=int,
                       help=f"inner region folds (default {defaults.inner_folds})")
    bench.add_argument("--nulls", type=int,
                       help="K CGE-matched spin nulls, one per repeat; 0: none "
                            f"(default {defaults.nulls})")
    bench.add_argument("--null-kind", choices=("cge_matched", "spin", "permute"),
                       help="kind of null: CGE-matched spins (default), plain spins, or "
                            "random permutations of the regions")
    bench.add_argument("--null-selection", choices=("moved", "published"),
                       help="CGE-matched spins: exclude near-identity spins (moved, default) "
                            "or rank all spins as published")
    bench.add_argument("--n-spins", type=int,
                       help=f"spins screened for the nulls (default {defaults.n_spins})")
    bench.add_argument("--unsampled", choices=("drop", "impute"),
                       help="regions without AHBA samples: drop them (default), or keep them, "
                            "imputed from the training regions of each fold")
    bench.add_argument("--spin-test", type=int,
                       help="plain spins of the classic spin test (p_spin) of the closed-form "
                            f"models on the full data; 0: none (default {defaults.spin_test})")
    bench.add_argument("--seed", type=int,
                       help=f"seed of the first repeat (default {defaults.seed})")
    bench.add_argument("--n-jobs", type=int,
                       help="parallel folds through joblib; negative as in joblib (-1: every "
                            f"core, -2: all but one), not 0 (default {defaults.n_jobs})")
    bench.add_argument("--device",
                       help=f"device of neural models: auto, cpu, cuda (default {defaults.device})")
    bench.add_argument("--autocast", type=_autocast,
                       help="bf16 autocast of neural models: auto (CUDA only, default), "
                            "on (any device: faster on CPUs with bf16 instructions), off")
    bench.add_argument("--output", help=f"output folder (default {defaults.output})")
    bench.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    return parser


def _config(args: argparse.Namespace):
    from ._config import BenchmarkConfig

    values = BenchmarkConfig.from_toml(args.config).to_dict() if args.config else {}
    for key in BenchmarkConfig().to_dict():
        given = getattr(args, key, None)
        if key == "variants" and given is not None:
            values[key] = {**values.get(key, {}), **{k: v for d in given for k, v in d.items()}}
        elif given is not None:
            values[key] = given
    return BenchmarkConfig(**values)


def _benchmark(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .benchmark import run_job

    start = time.perf_counter()
    try:
        config = _config(args)
    except TypeError as exc:  # a wrong type in a --config file: the key is named
        print(f"skconn: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"# skconn {__version__} benchmark -> {config.output}", file=sys.stderr)
    run_job(config, progress=not args.quiet)
    print((Path(config.output) / "summary.md").read_text(encoding="utf-8"), end="")
    if not args.quiet:
        print(f"# done in {time.perf_counter() - start:.1f} s; results in {config.output}",
              file=sys.stderr)
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
        Exit status: 0 on success, 2 on bad input (with a message on stderr).

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

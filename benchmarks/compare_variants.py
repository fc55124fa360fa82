"""Compare model variants with their families and the Connectome Model, fold by fold.

Reads two ``skconn benchmark`` output folders run with the same seed, repeats and
folds: ``MAIN`` holds the families (and ``connectome_model``), ``VARIANTS`` the
variants (e.g. run with ``--nulls 0`` into another folder). The outer folds depend
only on the seed, so both folders hold the same folds; this script checks that the
test pairs of every variant fold equal those of the Connectome Model's fold in
``MAIN`` and stops otherwise. Observed folds only. Prints a Markdown table.

Usage::

    python benchmarks/compare_variants.py MAIN VARIANTS VARIANT=FAMILY[,VARIANT=FAMILY...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["split", "repeat", "fold"]


def load_runs(folder: Path) -> pd.DataFrame:
    """The finished folds of a benchmark folder (works while it still runs)."""
    rows = [json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*.json"))]
    if not rows:
        raise SystemExit(f"no finished folds in {folder}/runs")
    folds = pd.DataFrame(rows)
    return folds[folds["data"] == "observed"]


def check_same_folds(main: Path, variants: Path, names) -> int:
    """Assert each variant fold tests the pairs of the same fold in ``main``."""
    n = 0
    for name in names:
        for path in sorted((variants / "runs").glob(f"{name}__*__observed.json")):
            stem = path.name[: -len(".json")]
            other = main / "runs" / ("connectome_model" + stem[len(name):] + ".npz")
            with np.load(path.with_suffix(".npz")) as a, np.load(other) as b:
                np.testing.assert_array_equal(a["pairs"], b["pairs"])
            n += 1
    return n


def table(main: pd.DataFrame, variants: pd.DataFrame, pairs: dict[str, str]) -> str:
    cm = main[main["model"] == "connectome_model"].set_index(KEY)
    lines = [
        "| variant | split | folds | CM | family | variant r | variant − family "
        "| variant − CM | folds above CM | fit s (family / variant) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(s):
        return f"{s.mean():.3f} ± {s.std():.3f}"

    for name, family in pairs.items():
        for split, rows in variants[variants["model"] == name].groupby("split", sort=False):
            v = rows.set_index(KEY)
            f = main[main["model"] == family].set_index(KEY).reindex(v.index)
            c = cm["pearson_r"].reindex(v.index)
            r = v["pearson_r"]
            lines.append(
                f"| {name} | {split} | {len(v)} | {cell(c)} | {cell(f['pearson_r'])} | "
                f"**{cell(r)}** | {(r - f['pearson_r']).mean():+.3f} | {(r - c).mean():+.3f} | "
                f"{int((r > c).sum())}/{len(v)} | {f['fit_time'].mean():.0f} / "
                f"{v['fit_time'].mean():.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("main", type=Path)
    parser.add_argument("variants", type=Path)
    parser.add_argument("pairs", help="VARIANT=FAMILY[,VARIANT=FAMILY...]")
    args = parser.parse_args()
    pairs = dict(item.split("=", 1) for item in args.pairs.split(","))
    n = check_same_folds(args.main, args.variants, pairs)
    print(f"test pairs identical to the main folder's in {n} folds\n")
    print(table(load_runs(args.main), load_runs(args.variants), pairs))


if __name__ == "__main__":
    main()

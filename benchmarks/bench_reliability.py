"""Tally of the bad-input suite: how many malformed cases each public entry point saw.

Runs the property-based tests of ``tests/reliability`` (``test_bad_input_*.py``) under a
hypothesis profile (``thorough`` by default: up to 300 generated examples per test,
derandomized, so the tally is reproducible) with ``SKCONN_RELIABILITY_OUT`` set, then prints
a markdown table: one row per target (public function or method), the number of generated
calls, and how they ended - accepted (the test then checked the answer), or rejected with
a ``ValueError``/``TypeError`` that names the offending argument. Any other outcome fails
the test run, and this script exits with pytest's status.

Usage::

    python benchmarks/bench_reliability.py [--profile ci|thorough] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ("ok", "ValueError", "TypeError")


def run_suite(profile: str, out: Path) -> int:
    """Run the bad-input tests; write the outcome tally to ``out``; return pytest's status."""
    env = dict(os.environ, SKCONN_HYPOTHESIS_PROFILE=profile, SKCONN_RELIABILITY_OUT=str(out),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    tests = sorted(str(p) for p in (ROOT / "tests" / "reliability").glob("test_bad_input_*.py"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov", *tests]
    return subprocess.call(cmd, cwd=ROOT, env=env, stdout=sys.stderr)  # stdout: the table


def table(rows: list[dict]) -> str:
    """Markdown table of the tally, targets sorted, with a total row.

    Outcomes other than the three usual ones (the suite's two documented exceptions,
    ``FileNotFoundError`` and ``IndexError``) get their own columns.
    """
    extra = sorted({r["outcome"] for r in rows} - set(OUTCOMES))
    kinds = (*OUTCOMES, *extra)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(kinds, 0))
    for row in rows:
        counts[row["target"]][row["outcome"]] += row["count"]
    head = ["target", "cases", "accepted", *kinds[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    total = dict.fromkeys(kinds, 0)
    for target in sorted(counts):
        c = counts[target]
        for k in kinds:
            total[k] += c[k]
        lines.append(f"| `{target}` | {sum(c.values())} | "
                     + " | ".join(str(c[k]) for k in kinds) + " |")
    lines.append(f"| **all {len(counts)} targets** | **{sum(total.values())}** | "
                 + " | ".join(f"**{total[k]}**" for k in kinds) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="thorough", choices=["ci", "thorough"])
    parser.add_argument("--json", type=Path, default=None,
                        help="also keep the raw tally here (default: a temporary file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.json or Path(tmp) / "outcomes.json"
        status = run_suite(args.profile, out)
        if not out.exists():
            print("the test session wrote no tally", file=sys.stderr)
            return status or 1
        print(table(json.loads(out.read_text())))
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Hypothesis profiles for the reliability suite and the outcome report hook.

Profiles: ``ci`` (default; derandomized so every CI run generates the same cases) and
``thorough`` (more examples, for ``benchmarks/bench_reliability.py``). Choose one with
``--hypothesis-profile`` or ``SKCONN_HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, settings

from ._outcomes import OUTCOMES

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
settings.register_profile("ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=300, derandomize=True, **_COMMON)
settings.load_profile(os.environ.get("SKCONN_HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("SKCONN_RELIABILITY_OUT")
    if not path:
        return
    rows = [{"target": t, "outcome": o, "count": n} for (t, o), n in sorted(OUTCOMES.items())]
    with open(path, "w") as fh:
        json.dump(rows, fh, indent=1)

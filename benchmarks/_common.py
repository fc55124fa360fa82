"""Helpers the benchmark scripts share: where the datasets are, the peak memory."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def default_data_dir() -> Path:
    """``$SKCONN_SHARED_DATA``, else ``<repo>/../shared/data`` next to this script's repo."""
    env = os.environ.get("SKCONN_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: reset by exec, unlike ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

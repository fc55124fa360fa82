"""Writing files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    The rename is atomic on POSIX and Windows file systems, so readers see either
    the old file or the complete new one.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skconn._atomic import atomic_write
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(path, lambda p: p.write_text("done"))
    >>> path.read_text()
    'done'
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()

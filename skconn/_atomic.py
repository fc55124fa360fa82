"""Writing files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "remove_stale_temp_files"]

#: Name of the temporary file of :func:`atomic_write`: ``.<name>.<pid>.tmp``.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.tmp$")


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
    tmp = path.with_name(_temp_name(path.name, os.getpid()))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _temp_name(name: str, pid: int) -> str:
    return f".{name}.{pid}.tmp"


def _alive(pid: int) -> bool:
    """Whether another process with this id runs (on this machine)."""
    if pid == os.getpid():
        return False  # this process calls the cleaning before it writes anything
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists, but another user's (or not ours to know): keep its files
    return True


def remove_stale_temp_files(folder: Path, *, max_age: float = 3600.0) -> list[Path]:
    """Delete the temporary files that an interrupted :func:`atomic_write` left in ``folder``.

    Only hidden files named like its temporary files (``.<name>.<pid>.tmp``) are
    considered, and only those of a process that no longer runs, of this process,
    or older than ``max_age`` seconds (a live writer renames its file within
    seconds), so a second job writing into the same folder is left alone.

    Parameters
    ----------
    folder : Path
        Not searched recursively; a missing folder holds nothing.
    max_age : float, default=3600.0
        Seconds after which a temporary file counts as stale whatever its process.

    Returns
    -------
    list of Path
        The files removed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skconn._atomic import remove_stale_temp_files
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".a.json.999999999.tmp").write_text("half")
    >>> _ = (folder / "notes.tmp").write_text("mine")
    >>> [p.name for p in remove_stale_temp_files(folder)]
    ['.a.json.999999999.tmp']
    >>> sorted(p.name for p in folder.iterdir())
    ['notes.tmp']
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    for path in sorted(folder.iterdir()):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file() or path.is_symlink():
            continue
        try:
            old = now - path.stat().st_mtime > max_age
            if old or not _alive(int(match["pid"])):
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # renamed or removed by its writer meanwhile
            continue
    return removed

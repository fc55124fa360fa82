"""Bookkeeping for the bad-input suite: call a public function, classify what happens.

Every malformed input must either work (the caller then checks the answer is right) or
raise ``ValueError``/``TypeError`` whose message names the offending argument. Anything
else escaping (``IndexError``, ``KeyError``, ``LinAlgError``, ...) fails the test.

Outcomes are tallied per target in :data:`OUTCOMES`; when ``SKCONN_RELIABILITY_OUT``
names a file, the session writes the tally there as JSON (``benchmarks/bench_reliability.py``
turns it into the table of ``benchmarks/RELIABILITY.md``).
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable, Iterable
from typing import Any

#: (target, outcome) -> number of generated calls; outcome is "ok", "ValueError" or "TypeError".
OUTCOMES: collections.Counter = collections.Counter()

_OK = "ok"


class Rejected(Exception):
    """Raised by :func:`attempt` when the call raised a clean ``ValueError``/``TypeError``."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def attempt(
    target: str,
    func: Callable[..., Any],
    *args: Any,
    names: Iterable[str],
    **kwargs: Any,
) -> Any:
    """Call ``func(*args, **kwargs)``; return its result or raise :class:`Rejected`.

    Parameters
    ----------
    target : str
        Row of the report, e.g. ``"Connectome"`` or ``"SMTRegressor.fit"``.
    func : callable
        The public function or method under test.
    names : iterable of str
        Words of which at least one must appear (case-insensitive) in the message of a
        ``ValueError``/``TypeError`` - the argument (or property of it) at fault.

    Raises
    ------
    Rejected
        The call raised a ``ValueError``/``TypeError`` naming one of ``names``.
    AssertionError
        The call raised anything else, or an error whose message names none of ``names``.
    """
    names = list(names)
    try:
        result = func(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if not any(re.search(re.escape(n), message, re.IGNORECASE) for n in names):
            raise AssertionError(
                f"{target}: {type(exc).__name__} does not name any of {names}: {message!r}"
            ) from exc
        kind = "ValueError" if isinstance(exc, ValueError) else "TypeError"
        OUTCOMES[(target, kind)] += 1
        raise Rejected(exc) from exc
    except Exception as exc:  # anything else escaping is a bug
        raise AssertionError(
            f"{target}: {type(exc).__name__} escaped instead of ValueError/TypeError: {exc!r}"
        ) from exc
    OUTCOMES[(target, _OK)] += 1
    return result


def accepted_or_rejected(target: str, func: Callable[..., Any], *args: Any,
                         names: Iterable[str], **kwargs: Any) -> tuple[bool, Any]:
    """Like :func:`attempt` but returns ``(True, result)`` or ``(False, error)``."""
    try:
        return True, attempt(target, func, *args, names=names, **kwargs)
    except Rejected as rejected:
        return False, rejected.error

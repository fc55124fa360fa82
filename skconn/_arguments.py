"""Error messages that name the argument at fault.

scikit-learn's array checks say what is wrong with an array ("Complex data not
supported", "Expected 2D array, got 1D array instead", "Found array with 0
sample(s)") but not always which argument it was. Estimators and transformers
wrap those checks in :func:`naming_argument` so that every rejection says whether
``X``, ``y`` or a parameter is to blame.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.utils import check_random_state as _sklearn_check_random_state

__all__ = ["check_random_state", "naming_argument"]


@contextmanager
def naming_argument(name: str) -> Iterator[None]:
    """Prefix ``name`` to a ``ValueError``/``TypeError`` whose message lacks it.

    Parameters
    ----------
    name : str
        The argument validated inside the block, e.g. ``"X"`` or ``"y"``.

    Raises
    ------
    ValueError or TypeError
        The error raised in the block, unchanged if its message already names
        ``name`` as a word, else re-raised as ``"{name}: {message}"`` (same
        builtin type, chained to the original).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import check_array
    >>> from skconn._arguments import naming_argument
    >>> try:
    ...     with naming_argument("X"):
    ...         check_array(np.ones(3, dtype=complex))
    ... except ValueError as exc:
    ...     print(str(exc).splitlines()[0])
    X: Complex data not supported
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        if re.search(rf"\b{re.escape(name)}\b", str(exc)):
            raise
        kind = ValueError if isinstance(exc, ValueError) else TypeError
        raise kind(f"{name}: {exc}") from exc


def check_random_state(seed) -> np.random.RandomState:
    """:func:`sklearn.utils.check_random_state`, with errors that name ``random_state``.

    Examples
    --------
    >>> from skconn._arguments import check_random_state
    >>> check_random_state(0).randint(10)
    5
    >>> check_random_state("seed")
    Traceback (most recent call last):
    ...
    ValueError: random_state: 'seed' cannot be used to seed a numpy.random.RandomState instance
    """
    with naming_argument("random_state"):
        return _sklearn_check_random_state(seed)

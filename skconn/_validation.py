"""One validation layer: scikit-learn's declarative parameter constraints.

Every public estimator, transformer, splitter and null generator of skconn states
what its parameters accept with scikit-learn's constraint objects (``Interval``,
``StrOptions``, ``Options``, ``HasMethods``, ``"boolean"``, ``"random_state"``,
...), so that a bad value is refused with one kind of message that names the
parameter and the value received:

* estimators and transformers declare ``_parameter_constraints`` and validate in
  ``fit`` (``sklearn.base._fit_context`` or :func:`validate_own_params`), never in
  ``__init__``;
* splitters call :func:`validate_own_params` in ``split`` / ``get_n_splits``;
* functions are wrapped in :func:`validate_params`.

Checks that constraints cannot express (shapes, NaN, symmetry, fold counts) stay
next to the data they check and raise ``ValueError`` / ``TypeError`` naming the
argument (:func:`skconn._arguments.naming_argument`).
"""

from __future__ import annotations

from typing import Any

from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "validate_own_params",
    "validate_params",
]


def validate_own_params(obj: Any, constraints: dict | None = None) -> None:
    """Check an object's ``get_params(deep=False)`` against its constraints.

    Parameters
    ----------
    obj : object
        An estimator, splitter or any object with ``get_params`` (or, failing
        that, with its constrained parameters as attributes).
    constraints : dict, default=None
        Parameter name -> list of constraints; ``obj._parameter_constraints`` by
        default. Parameters without an entry are not checked.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` (and ``TypeError``) subclass whose message names the
        parameter, the accepted values and the value received.

    Examples
    --------
    >>> import numbers
    >>> from skconn._validation import Interval, validate_own_params
    >>> class Split:
    ...     _parameter_constraints = {"n_splits": [Interval(numbers.Integral, 2, None,
    ...                                                     closed="left")]}
    ...     def __init__(self, n_splits=4):
    ...         self.n_splits = n_splits
    >>> validate_own_params(Split(1))
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n_splits' parameter of Split ...
    """
    if constraints is None:
        constraints = getattr(obj, "_parameter_constraints", {})
    if hasattr(obj, "get_params"):
        params = obj.get_params(deep=False)
    else:
        params = {name: getattr(obj, name) for name in constraints}
    validate_parameter_constraints(
        constraints, {k: v for k, v in params.items() if k in constraints},
        caller_name=type(obj).__name__,
    )

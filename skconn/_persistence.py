"""Version stamp for pickled estimators (mirrors scikit-learn's ``_sklearn_version``)."""

from __future__ import annotations

import warnings

from .exceptions import SkconnVersionWarning

__all__ = ["VersionedStateMixin"]

_KEY = "_skconn_version"


def _installed_version() -> str:
    import skconn  # read at call time (tests monkeypatch it)

    return skconn.__version__


class VersionedStateMixin:
    """Record the skconn version in an estimator's pickled state; warn on a mismatch.

    ``__getstate__`` adds ``_skconn_version`` to the state of the parent classes
    (``BaseEstimator`` adds ``_sklearn_version`` for scikit-learn's own classes,
    skorch's ``NeuralNet`` moves tensors aside); ``__setstate__`` removes it,
    warns :class:`~skconn.exceptions.SkconnVersionWarning` when it differs from
    the installed version, and hands the rest to the parent classes. Put it
    first among the bases.
    """

    def __getstate__(self):
        state = super().__getstate__()
        if state is None:  # Python >= 3.11, object without instance attributes
            state = {}
        return dict(state, **{_KEY: _installed_version()})

    def __setstate__(self, state):
        state = dict(state)
        original = state.pop(_KEY, "unknown")
        current = _installed_version()
        if original != current:
            warnings.warn(
                SkconnVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=current,
                    original_version=original,
                ),
                stacklevel=2,
            )
        super().__setstate__(state)

"""Warnings and errors that skconn raises and users may want to filter."""

from __future__ import annotations

__all__ = ["NearIdentityNullWarning", "SkconnVersionWarning"]


class SkconnVersionWarning(UserWarning):
    """An estimator is unpickled with a different skconn version than pickled it.

    Raised when a fitted (or unfitted) skconn estimator or transformer saved
    with :mod:`pickle` or :func:`joblib.dump` under one skconn version is loaded
    under another, as scikit-learn's
    :class:`~sklearn.exceptions.InconsistentVersionWarning` does for its own
    estimators. The loaded object may predict differently or break: refit it
    with the installed version, or install the version that saved it. Weights
    saved with skorch's ``save_params`` carry no version (they are plain
    tensors) and load without this check.

    Parameters
    ----------
    estimator_name : str
        Class of the unpickled object.
    current_version : str
        The installed skconn version.
    original_version : str
        The version that pickled the object (``"unknown"`` for pickles from
        before skconn recorded it).

    Attributes
    ----------
    estimator_name, current_version, original_version : str

    Examples
    --------
    >>> import pickle, warnings
    >>> from skconn.exceptions import SkconnVersionWarning
    >>> from skconn.models import ExpDecayRegressor
    >>> state = ExpDecayRegressor().__getstate__()
    >>> state["_skconn_version"] = "0.0.1"
    >>> model = ExpDecayRegressor.__new__(ExpDecayRegressor)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model.__setstate__(state)
    >>> caught[0].category is SkconnVersionWarning
    True
    >>> caught[0].message.original_version
    '0.0.1'

    To silence it (after checking the model still does what you expect):

    >>> warnings.filterwarnings("ignore", category=SkconnVersionWarning)
    """

    def __init__(self, *, estimator_name: str, current_version: str, original_version: str):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version
        super().__init__(
            f"Trying to unpickle {estimator_name} from skconn version {original_version} "
            f"when using version {current_version}. This might lead to breaking code or "
            "invalid results: refit the estimator with the installed version, or pin "
            f"skconn=={original_version} to use the saved one."
        )

    def __reduce__(self):
        kwargs = {
            "estimator_name": self.estimator_name,
            "current_version": self.current_version,
            "original_version": self.original_version,
        }
        return _make_version_warning, (kwargs,)


def _make_version_warning(kwargs: dict) -> SkconnVersionWarning:
    return SkconnVersionWarning(**kwargs)


class NearIdentityNullWarning(UserWarning):
    """A null permutation leaves too many regions showing their own data.

    A spatial null (a spin of the cortex, a region permutation) is meant to move
    every region's expression elsewhere while keeping its spatial structure. A
    spin by a very small rotation does not: at 400 parcels such a "null" can
    leave most regions showing their own expression, so a model scores on it as
    on the true data and the null test cannot tell them apart. This warning names
    the null and the fraction of regions it keeps in place; draw the nulls with
    :func:`skconn.nulls.make_nulls` or :func:`skconn.nulls.cge_matched_spins`
    (which exclude such spins) instead.

    Examples
    --------
    >>> import warnings
    >>> from skconn.exceptions import NearIdentityNullWarning
    >>> from skconn.nulls import warn_if_near_identity
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kept = warn_if_near_identity([[1, 0, 2, 3, 4, 5, 6, 7, 8, 9]])
    >>> caught[0].category is NearIdentityNullWarning
    True

    To silence it (after checking that the nulls are what you meant):

    >>> warnings.filterwarnings("ignore", category=NearIdentityNullWarning)
    """

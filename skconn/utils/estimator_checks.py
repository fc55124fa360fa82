"""A conformance suite for estimators that take :class:`~skconn.pairs.RegionPairs`.

scikit-learn's :func:`~sklearn.utils.estimator_checks.check_estimator` feeds
plain arrays; a pair estimator's usual input is a ``RegionPairs`` (P pairs over a
shared (R, F) region table, standing for the (P, 2F) matrix ``[f_i, f_j]``).
These checks build a small synthetic ``RegionPairs`` themselves (mechanics only,
from :func:`skconn.datasets.make_toy_connectome`) and test what a user relies on:
cloning, pickling, dtypes, refusal of NaN, subset invariance, idempotent and
seeded fits, ``n_features_in_``, ``NotFittedError`` before fit and, for
transformers, that ``transform`` returns the same pairs.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skconn.datasets import make_toy_connectome
from skconn.pairs import RegionPairs, make_pairs

__all__ = ["check_pair_estimator", "pair_estimator_checks"]

#: Tolerances for "the same predictions" (neural models compute in float32).
_RTOL, _ATOL = 1e-5, 1e-6


def _data(n_regions: int = 12, n_genes: int = 6) -> tuple[RegionPairs, np.ndarray]:
    X, y = make_pairs(make_toy_connectome(n_regions, n_genes, random_state=0))
    return X, np.asarray(y, dtype=float)


def _is_transformer(estimator) -> bool:
    return hasattr(estimator, "transform") and not hasattr(estimator, "predict")


def _output(model, X) -> np.ndarray:
    """Predictions, or the dense export of the transformed pairs."""
    if _is_transformer(model):
        return np.asarray(model.transform(X), dtype=float)
    return np.asarray(model.predict(X), dtype=float)


def _seeded(estimator):
    est = clone(estimator)
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    return est


def _assert_same(a, b, what: str) -> None:
    np.testing.assert_allclose(a, b, rtol=_RTOL, atol=_ATOL, err_msg=what)


def _accepts_dense(estimator, X, y) -> bool:
    try:
        _seeded(estimator).fit(np.asarray(X), y)
    except (TypeError, ValueError):
        return False  # it needs RegionPairs (coordinates or gene names), by design
    return True


def check_clone(name: str, estimator) -> None:
    """A clone has equal parameters and is not fitted."""
    X, y = _data()
    seeded = _seeded(estimator)
    twin = clone(clone(seeded).fit(X, y))
    assert twin.get_params(deep=False).keys() == seeded.get_params(deep=False).keys(), name
    assert repr(twin) == repr(seeded), f"{name}: clone of a fitted estimator differs"
    try:
        check_is_fitted(twin)
    except NotFittedError:
        return
    raise AssertionError(f"{name}: a clone of a fitted estimator counts as fitted")


def check_pickle(name: str, estimator) -> None:
    """A fitted estimator survives a pickle round trip with the same output."""
    X, y = _data()
    model = _seeded(estimator).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    _assert_same(_output(again, X), _output(model, X), f"{name}: output changed by pickling")


def check_dtypes(name: str, estimator) -> None:
    """float32 and float64 feature tables give the same output."""
    X, y = _data()
    table = X.region_features()
    X32 = X.with_features(table.astype(np.float32), X.feature_names)
    out64 = _output(_seeded(estimator).fit(X, y), X)
    out32 = _output(_seeded(estimator).fit(X32, y), X32)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5, err_msg=name)
    if _accepts_dense(estimator, X, y):
        dense = np.asarray(X)
        a = _output(_seeded(estimator).fit(dense, y), dense)
        b = _output(_seeded(estimator).fit(dense.astype(np.float32), y), dense.astype(np.float32))
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=f"{name}: dense float32")


def check_nan_features(name: str, estimator) -> None:
    """NaN features are refused with a ValueError naming X (or the features)."""
    X, y = _data()
    table = X.region_features()
    table[2, 1] = np.nan
    try:
        X.with_features(table)
    except ValueError as err:
        assert "finite" in str(err) or "NaN" in str(err), err
    else:  # pragma: no cover - RegionPairs itself refuses
        raise AssertionError("a RegionPairs with NaN features was built")
    if not _accepts_dense(estimator, X, y) or getattr(estimator, "_allows_nan", False):
        return
    dense = np.asarray(X).copy()
    dense[3, 1] = np.nan
    try:
        clone(estimator).fit(dense, y)
    except ValueError as err:
        assert "X" in str(err) or "NaN" in str(err), f"{name}: unclear error {err}"
    else:
        raise AssertionError(f"{name} fitted on a dense X with NaN")


def check_nan_target(name: str, estimator) -> None:
    """A y with NaN is refused with a ValueError."""
    if _is_transformer(estimator):
        return  # transformers here ignore y
    X, y = _data()
    y = y.copy()
    y[5] = np.nan
    try:
        clone(estimator).fit(X, y)
    except ValueError as err:
        assert "y" in str(err) or "NaN" in str(err), f"{name}: unclear error {err}"
    else:
        raise AssertionError(f"{name} fitted on a y with NaN")


def check_subset_invariance(name: str, estimator) -> None:
    """The output on a subset of pairs is that subset of the output."""
    X, y = _data()
    model = _seeded(estimator).fit(X, y)
    full = _output(model, X)
    rows = np.random.default_rng(1).permutation(len(X))[:17]
    _assert_same(_output(model, X[rows]), full[rows], f"{name}: subset output differs")


def check_fit_idempotent(name: str, estimator) -> None:
    """Fitting twice gives the same output as fitting once."""
    X, y = _data()
    model = _seeded(estimator)
    first = _output(model.fit(X, y), X)
    _assert_same(_output(model.fit(X, y), X), first, f"{name}: a second fit changed the output")


def check_random_state(name: str, estimator) -> None:
    """Two fits with the same seed give equal output."""
    X, y = _data()
    a = _output(_seeded(estimator).fit(X, y), X)
    b = _output(_seeded(estimator).fit(X, y), X)
    _assert_same(a, b, f"{name}: two fits with random_state=0 differ")


def check_n_features_in(name: str, estimator) -> None:
    """``n_features_in_`` is the width of the dense export, 2F."""
    X, y = _data()
    model = _seeded(estimator).fit(X, y)
    assert getattr(model, "n_features_in_", None) == X.shape[1], (
        f"{name}: n_features_in_={getattr(model, 'n_features_in_', None)}, want {X.shape[1]}"
    )


def check_not_fitted(name: str, estimator) -> None:
    """Predicting (or transforming) before fit raises NotFittedError."""
    X, _ = _data()
    try:
        _output(clone(estimator), X)
    except NotFittedError:
        return
    raise AssertionError(f"{name} did not raise NotFittedError before fit")


def check_transformer_pairs(name: str, estimator) -> None:
    """transform returns a RegionPairs of the same pairs; fit_transform == fit().transform."""
    X, y = _data()
    model = _seeded(estimator).fit(X, y)
    Xt = model.transform(X)
    assert isinstance(Xt, RegionPairs), f"{name}: transform returned {type(Xt).__name__}"
    assert len(Xt) == len(X), name
    np.testing.assert_array_equal(Xt.pairs, X.pairs)
    both = _seeded(estimator).fit_transform(X, y)
    _assert_same(np.asarray(both), np.asarray(Xt), f"{name}: fit_transform != fit().transform")


_COMMON = (
    check_clone,
    check_pickle,
    check_dtypes,
    check_nan_features,
    check_nan_target,
    check_subset_invariance,
    check_fit_idempotent,
    check_random_state,
    check_n_features_in,
    check_not_fitted,
)


def pair_estimator_checks(estimator) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(check_name, check)`` for each check that applies to ``estimator``.

    Each ``check`` is a no-argument callable that raises on failure; use this to
    give every check its own test id, e.g. with ``pytest.mark.parametrize``.

    Parameters
    ----------
    estimator : estimator instance
        A regressor or a transformer that accepts :class:`~skconn.pairs.RegionPairs`.

    Yields
    ------
    name : str
    check : callable

    Examples
    --------
    >>> from skconn.models import ExpDecayRegressor
    >>> from skconn.utils.estimator_checks import pair_estimator_checks
    >>> [name for name, _ in pair_estimator_checks(ExpDecayRegressor())][:3]
    ['check_clone', 'check_pickle', 'check_dtypes']
    """
    checks = list(_COMMON)
    if _is_transformer(estimator):
        checks.append(check_transformer_pairs)
    elif not is_regressor(estimator):
        raise TypeError(f"expected a regressor or a transformer, got {estimator!r}")
    name = type(estimator).__name__
    for check in checks:
        yield check.__name__, (lambda check=check: check(name, estimator))


def check_pair_estimator(estimator, *, expected_failed_checks: dict | None = None) -> None:
    """Run every pair-input check on ``estimator`` and raise on the first failure.

    Parameters
    ----------
    estimator : estimator instance
        A regressor or transformer taking :class:`~skconn.pairs.RegionPairs`.
    expected_failed_checks : dict of str to str, default=None
        Check names mapped to the reason they are known to fail; these are run
        and must fail (an unexpected pass raises, so stale reasons are noticed).

    Raises
    ------
    AssertionError
        When a check fails, or an expected failure passes.

    Examples
    --------
    >>> from skconn.models import ExpDecayRegressor
    >>> from skconn.utils import check_pair_estimator
    >>> check_pair_estimator(ExpDecayRegressor())
    """
    expected = expected_failed_checks or {}
    for name, check in pair_estimator_checks(estimator):
        if name not in expected:
            check()
            continue
        try:
            check()
        except Exception:  # any failure is the expected one
            continue
        raise AssertionError(f"{name} was expected to fail ({expected[name]}) but passed")

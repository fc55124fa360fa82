"""The one place for conformance helpers and the reasons behind every expected failure.

scikit-learn's checks feed 3- or 5-column arrays; a dense pair matrix is
``[features of region i, features of region j]`` and needs an even width, and no
estimator tag changes the widths the checks generate. :func:`even_width` returns a
subclass of the real estimator that appends a copy of the last column to an
odd-width 2-D X before calling the real ``fit``/``predict``/``transform`` (even
widths, 1-D input and everything else pass through untouched). It inherits
``__init__``, so ``get_params``, ``set_params`` and ``clone`` test the real
estimator, and it pickles (it is registered in this module).
"""

from __future__ import annotations

import functools

import numpy as np

#: Checks that feed only odd-width X (on the real estimator each failed with "a dense pair
#: matrix [x_i, x_j] needs an even width"); on the :func:`even_width` twin they pass.
ODD_WIDTH_CHECKS = (
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_predict1d",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_pipeline_consistency",
    "check_supervised_y_2d",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)

#: scikit-learn checks that fail for a stated reason, by estimator family.
_PAIR_MODEL = {
    "check_regressors_train": "asks for R2 > 0.5 on a target linear in one column; pair "
    "models have no linear term",
}
_NEURAL = {
    "check_regressors_train": "asks for R2 > 0.5 on tabular data after 2 epochs",
    "check_no_attributes_set_in_init": "skorch's NeuralNet sets history_/initialized_ in init",
    "check_regressors_no_decision_function": "skorch nets define predict_proba (raw output)",
}

#: check_pair_estimator checks that fail for a stated reason, by class name.
PAIR_EXPECTED_FAILED: dict[str, dict[str, str]] = {}


#: What every twin fails, because of the padding itself.
_TWIN = {
    "check_n_features_in_after_fitting": "the twin's n_features_in_ counts the padded "
    "column; test_n_features_in_after_fitting_on_the_real_estimator runs it unpadded",
    "check_estimators_partial_fit_n_features": "a narrower X is padded back to the fitted "
    "width; test_partial_fit_n_features_on_the_real_estimator runs it unpadded",
}


def _family(estimator) -> str:
    names = {c.__name__ for c in type(estimator).__mro__}
    if "NeuralNet" in names:
        return "neural"
    if "CoordinateRegressor" in names:
        return "booster"  # a booster learns check_regressors_train's linear target
    if "RegressorMixin" in names:
        return "pair_model"
    return "transformer"


def expected_failed_checks(estimator) -> dict[str, str]:
    """scikit-learn checks the :func:`even_width` twin of ``estimator`` fails, with reasons."""
    twin = {k: v for k, v in _TWIN.items()
            if "partial_fit" not in k or hasattr(estimator, "partial_fit")}
    return twin | {"neural": _NEURAL, "pair_model": _PAIR_MODEL}.get(_family(estimator), {})


def pair_expected_failed_checks(estimator) -> dict[str, str]:
    """check_pair_estimator checks ``estimator`` fails, with reasons."""
    return PAIR_EXPECTED_FAILED.get(type(estimator).__name__, {})


def _even(X):
    shape = getattr(X, "shape", None)
    if shape is None and not isinstance(X, list) and not hasattr(X, "__array__"):
        return X
    A = np.asarray(X)
    if A.ndim != 2 or A.shape[1] % 2 == 0 or A.dtype == object:
        return X
    out = np.concatenate([A, A[:, -1:]], axis=1)
    return np.asfortranarray(out) if A.flags.f_contiguous and not A.flags.c_contiguous else out


_X_METHODS = ("fit", "partial_fit", "predict", "predict_proba", "transform", "fit_transform",
              "score", "decision_function")


def _padding(cls, name):
    @functools.wraps(getattr(cls, name))  # keeps the real signature, which checks read
    def method(self, X, *args, **kwargs):
        return getattr(super(type(self), self), name)(_even(X), *args, **kwargs)

    return method


@functools.cache
def _twin_class(cls):
    name = f"EvenWidth{cls.__name__}"
    attrs = {m: _padding(cls, m) for m in _X_METHODS if hasattr(cls, m)}
    attrs.update(__module__=__name__, __qualname__=name, __doc__=cls.__doc__)
    twin = type(name, (cls,), attrs)
    globals()[name] = twin  # so pickle finds it
    return twin


def even_width(estimator):
    """The same estimator (same parameters) as its even-width twin class."""
    return _twin_class(type(estimator))(**estimator.get_params(deep=False))

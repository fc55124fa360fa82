"""Utilities for people writing their own pair estimators.

:func:`check_pair_estimator` runs a conformance suite on
:class:`~skconn.pairs.RegionPairs` input, the way scikit-learn's
:func:`~sklearn.utils.estimator_checks.check_estimator` does on arrays.
"""

from .estimator_checks import check_pair_estimator, pair_estimator_checks

__all__ = ["check_pair_estimator", "pair_estimator_checks"]

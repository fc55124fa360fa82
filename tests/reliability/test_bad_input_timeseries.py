"""Bad input for ``connectivity_from_timeseries`` (parcellated time series).

Corruptions of a valid (T, R) series and of its confounds and options. Every call
either gives a finite symmetric correlation matrix with a unit diagonal, or raises a
``ValueError``/``TypeError`` naming the argument at fault.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from skconn.datasets import connectivity_from_timeseries

from ._outcomes import Rejected, attempt

TARGET = "connectivity_from_timeseries"
_RNG = np.random.default_rng(0)
_BASE = _RNG.normal(size=(60, 5))

SERIES_CASES = {
    "valid": lambda: _BASE,
    "nan": lambda: np.where(np.arange(_BASE.size).reshape(_BASE.shape) == 7, np.nan, _BASE),
    "inf": lambda: np.where(np.arange(_BASE.size).reshape(_BASE.shape) == 3, np.inf, _BASE),
    "one_d": lambda: _BASE[:, 0],
    "three_d": lambda: _BASE[None],
    "strings": lambda: _BASE.astype(str).astype(object),
    "complex": lambda: _BASE + 1j,
    "two_timepoints": lambda: _BASE[:2],
    "empty": lambda: np.empty((0, 5)),
    "no_regions": lambda: np.empty((60, 0)),
    "one_region": lambda: _BASE[:, :1],
    "constant_region": lambda: np.column_stack([_BASE[:, :4], np.full(60, 2.0)]),
    "fewer_timepoints_than_regions": lambda: _BASE[:4],
    "int": lambda: (_BASE * 10).astype(int),
    "list_of_runs": lambda: [_BASE, _BASE[:40]],
    "runs_disagree": lambda: [_BASE, _BASE[:, :4]],
    "empty_list": lambda: [],
    "none": lambda: None,
}
CONFOUND_CASES = {
    "none": lambda: None,
    "valid": lambda: _RNG.normal(size=(60, 2)),
    "wrong_length": lambda: _RNG.normal(size=(59, 2)),
    "nan": lambda: np.full((60, 2), np.nan),
    "strings": lambda: np.full((60, 2), "a", dtype=object),
}
OPTION_CASES = {
    "defaults": {},
    "fisher_z": {"fisher_z": True},
    "band_pass": {"t_r": 2.0, "low_pass": 0.1, "high_pass": 0.01},
    "low_pass_without_t_r": {"low_pass": 0.1},
    "negative_t_r": {"t_r": -1.0, "high_pass": 0.01},
    "low_pass_above_nyquist": {"t_r": 2.0, "low_pass": 5.0},
    "bad_standardize": {"standardize": "banana"},
    "string_t_r": {"t_r": "2", "high_pass": 0.01},
    "high_pass_above_low_pass": {"t_r": 2.0, "low_pass": 0.01, "high_pass": 0.1},
    "bad_detrend": {"detrend": "x"},
}

NAMES = ["time_series", "confounds", "t_r", "low_pass", "high_pass", "standardize", "detrend",
         "region", "timepoint"]


def _check_fc(fc: np.ndarray, n_regions: int, fisher_z: bool) -> None:
    mats = fc if fc.ndim == 3 else fc[None]
    assert mats.shape[1:] == (n_regions, n_regions)
    assert np.all(np.isfinite(mats)), "accepted input gave a non-finite FC"
    np.testing.assert_allclose(mats, np.swapaxes(mats, 1, 2))
    diag = np.diagonal(mats, axis1=1, axis2=2)
    assert np.all(diag == (0.0 if fisher_z else 1.0))
    if not fisher_z:
        assert np.all(np.abs(mats) <= 1 + 1e-12)


@given(
    series=st.sampled_from(sorted(SERIES_CASES)),
    confounds=st.sampled_from(sorted(CONFOUND_CASES)),
    options=st.sampled_from(sorted(OPTION_CASES)),
)
def test_connectivity_from_timeseries_bad_input(series, confounds, options):
    ts = SERIES_CASES[series]()
    conf = CONFOUND_CASES[confounds]()
    if isinstance(ts, list) and conf is not None:
        conf = [conf] * len(ts)
    kwargs = OPTION_CASES[options]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fc = attempt(TARGET, connectivity_from_timeseries, ts, confounds=conf,
                         names=NAMES, **kwargs)
    except Rejected:
        return
    n_regions = (ts[0] if isinstance(ts, list) else ts).shape[1]
    _check_fc(fc, n_regions, kwargs.get("fisher_z", False))

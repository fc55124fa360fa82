"""Functional connectivity of an atlas from fMRI time series (nilearn)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = ["connectivity_from_timeseries"]


def _extract_time_series(img, atlas) -> np.ndarray:
    """(T, R) mean signal per atlas region, with a nilearn labels masker."""
    try:
        from nilearn.surface import SurfaceImage  # nilearn >= 0.11
    except ImportError:
        SurfaceImage = ()  # isinstance(x, ()) is always False

    if isinstance(img, SurfaceImage):
        from nilearn.maskers import SurfaceLabelsMasker

        masker = SurfaceLabelsMasker(labels_img=atlas)
    else:
        from nilearn.maskers import NiftiLabelsMasker

        masker = NiftiLabelsMasker(labels_img=atlas)
    with warnings.catch_warnings():
        # nilearn 0.14 announces changes of its own defaults; we clean afterwards.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return np.asarray(masker.fit_transform(img), dtype=float)


def _check_series(series, name: str = "time_series") -> np.ndarray:
    """One run as a finite float (T, R) array, or an error naming ``name``."""
    if series is None or isinstance(series, (str, bytes)) or np.iscomplexobj(series):
        raise TypeError(f"{name} must be a real numeric (T, R) array, got {type(series).__name__}")
    try:
        ts = np.asarray(series, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (T, R) array: {exc}") from None
    if ts.ndim != 2:
        raise ValueError(f"{name} must be 2-D (timepoints, regions), got shape {ts.shape}")
    n_time, n_regions = ts.shape
    if n_regions < 2 or n_time < 3:
        raise ValueError(
            f"{name} must have at least 3 timepoints and 2 regions, got shape {ts.shape}"
        )
    if not np.isfinite(ts).all():
        bad = np.flatnonzero(~np.isfinite(ts).all(axis=0))
        raise ValueError(
            f"{name} contains NaN or infinite values (in region column(s) "
            f"{bad[:10].tolist()}); fill or drop them first"
        )
    if n_time <= n_regions:
        warnings.warn(
            f"{n_time} timepoints for {n_regions} regions: the (R, R) connectivity is "
            "rank-deficient (at most T - 1 independent directions); interpret it with care",
            UserWarning,
            stacklevel=3,
        )
    return ts


def _check_confounds(confounds, n_time: int, run: int) -> np.ndarray | None:
    """Confounds of one run as a finite float (T, C) array (or None)."""
    if confounds is None:
        return None
    if isinstance(confounds, (str, bytes)) or np.iscomplexobj(confounds):
        raise TypeError(f"confounds of run {run} must be a real numeric (T, C) array")
    try:
        conf = np.asarray(confounds, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"confounds of run {run} must be a numeric (T, C) array: {exc}") from None
    conf = conf[:, None] if conf.ndim == 1 else conf
    if conf.ndim != 2 or conf.shape[0] != n_time:
        raise ValueError(
            f"confounds of run {run} must have shape ({n_time}, C) for its {n_time} "
            f"timepoints, got {np.shape(confounds)}"
        )
    if not np.isfinite(conf).all():
        raise ValueError(f"confounds of run {run} contain NaN or infinite values")
    return conf


def _check_frequencies(t_r, low_pass, high_pass) -> None:
    """``t_r``, ``low_pass`` and ``high_pass``: None or finite positive numbers."""
    for name, value in (("t_r", t_r), ("low_pass", low_pass), ("high_pass", high_pass)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number (or None), got {value!r}")
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if low_pass is not None and high_pass is not None and high_pass >= low_pass:
        raise ValueError(f"high_pass={high_pass} Hz must be below low_pass={low_pass} Hz")
    if t_r is not None:
        nyquist = 0.5 / t_r
        for name, value in (("low_pass", low_pass), ("high_pass", high_pass)):
            if value is not None and value >= nyquist:
                raise ValueError(
                    f"{name}={value} Hz is at or above the Nyquist frequency {nyquist:g} Hz "
                    f"of t_r={t_r} s"
                )


def connectivity_from_timeseries(
    time_series=None,
    *,
    img=None,
    atlas=None,
    confounds=None,
    t_r: float | None = None,
    detrend: bool = True,
    standardize="zscore_sample",
    low_pass: float | None = None,
    high_pass: float | None = None,
    fisher_z: bool = False,
    cov_estimator=None,
) -> np.ndarray:
    """Functional connectivity (Pearson correlation) of region time series.

    Each run is cleaned with :func:`nilearn.signal.clean` (confounds regressed
    out, detrending, optional band-pass filtering, standardisation), then
    correlated with :class:`nilearn.connectome.ConnectivityMeasure`
    (``kind="correlation"``).

    Parameters
    ----------
    time_series : array-like of shape (T, R), or list of them, default=None
        Parcellated time series: T timepoints by R regions, or one such array
        per subject/run (then T may differ but R may not).
    img : niimg-like or nilearn SurfaceImage, or list of them, default=None
        Instead of ``time_series``: 4-D fMRI image(s) (volume or surface) whose
        voxels/vertices are averaged within ``atlas`` regions by
        :class:`~nilearn.maskers.NiftiLabelsMasker` (or
        :class:`~nilearn.maskers.SurfaceLabelsMasker`). Columns follow the
        increasing atlas ids.
    atlas : niimg-like or SurfaceImage, default=None
        Label image for ``img``.
    confounds : array-like of shape (T, C), or list of them, default=None
        Confound regressors, one array per run.
    t_r : float, default=None
        Repetition time in seconds; needed for band-pass filtering.
    detrend : bool, default=True
    standardize : {"zscore_sample", "zscore", "psc", False}, default="zscore_sample"
        Passed to :func:`nilearn.signal.clean`.
    low_pass, high_pass : float, default=None
        Band-pass cut-offs in Hz (e.g. 0.1 and 0.01).
    fisher_z : bool, default=False
        Return ``arctanh(r)`` (the diagonal is then 0, as in the HCP group
        matrices); else r with a unit diagonal.
    cov_estimator : scikit-learn covariance estimator, default=None
        Covariance behind the correlation. None means
        :class:`~sklearn.covariance.EmpiricalCovariance`, i.e. plain Pearson
        correlation (nilearn's own default, Ledoit-Wolf shrinkage, shrinks the
        correlations; pass ``LedoitWolf()`` for short runs).

    Returns
    -------
    ndarray of shape (R, R), or (S, R, R) for a list of runs

    Raises
    ------
    ValueError
        If both or neither of ``time_series`` and ``img`` are given, a series
        holds NaN/inf, has fewer than 3 timepoints or the runs disagree on R.

    Warns
    -----
    UserWarning
        If a run has no more timepoints than regions: the correlation matrix is
        then rank-deficient.

    See Also
    --------
    connectome_from_atlas : Put the FC into a Connectome.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import connectivity_from_timeseries
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(200, 1))
    >>> ts = np.hstack([shared + 0.5 * rng.normal(size=(200, 1)) for _ in range(3)])
    >>> fc = connectivity_from_timeseries(ts, detrend=False)
    >>> fc.shape, bool(np.allclose(np.diag(fc), 1)), bool((fc[0, 1:] > 0.7).all())
    ((3, 3), True, True)
    >>> connectivity_from_timeseries([ts, ts[:100]]).shape  # one matrix per run
    (2, 3, 3)
    """
    from nilearn import signal
    from nilearn.connectome import ConnectivityMeasure
    from sklearn.covariance import EmpiricalCovariance

    if (time_series is None) == (img is None):
        raise ValueError("give either time_series or img (with atlas), not both or neither")
    single = True
    if img is not None:
        if atlas is None:
            raise ValueError("img needs an atlas (a label image) to average regions over")
        single = not isinstance(img, (list, tuple))
        runs = [_extract_time_series(i, atlas) for i in (img if not single else [img])]
    else:
        single = not isinstance(time_series, (list, tuple))
        runs = [time_series] if single else list(time_series)
        if not runs:
            raise ValueError("time_series is an empty list: give at least one run")
    runs = [_check_series(ts, "time_series" if img is None else "img") for ts in runs]
    _check_frequencies(t_r, low_pass, high_pass)
    if len({ts.shape[1] for ts in runs}) > 1:
        raise ValueError(
            f"every run must have the same regions; got {[ts.shape[1] for ts in runs]}"
        )
    if confounds is None:
        confounds = [None] * len(runs)
    elif single:
        confounds = [confounds]
    if len(confounds) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(confounds)} confounds arrays")
    confounds = [
        _check_confounds(c, ts.shape[0], k)
        for k, (ts, c) in enumerate(zip(runs, confounds, strict=True))
    ]
    cleaned = [
        signal.clean(
            ts,
            confounds=conf,
            detrend=detrend,
            standardize=standardize,
            t_r=t_r,
            low_pass=low_pass,
            high_pass=high_pass,
        )
        for ts, conf in zip(runs, confounds, strict=True)
    ]
    for k, ts in enumerate(cleaned):
        flat = np.flatnonzero(np.std(ts, axis=0) <= 1e-12 * (1 + np.abs(ts).max(initial=0)))
        if flat.size:
            raise ValueError(
                f"time_series of run {k} has constant region column(s) {flat[:10].tolist()} "
                "(after cleaning): their correlation is undefined; drop those regions"
            )
    if cov_estimator is None:
        cov_estimator = EmpiricalCovariance()
    measure = ConnectivityMeasure(
        cov_estimator=cov_estimator, kind="correlation", standardize=False
    )
    fc = measure.fit_transform(cleaned)
    fc = (fc + np.swapaxes(fc, 1, 2)) / 2
    diagonal = np.arange(fc.shape[1])
    if fisher_z:
        fc[:, diagonal, diagonal] = 0.0
        fc = np.arctanh(np.clip(fc, -1 + 1e-12, 1 - 1e-12))
    else:
        fc[:, diagonal, diagonal] = 1.0
    return fc[0] if single else fc

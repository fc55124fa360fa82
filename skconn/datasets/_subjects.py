"""Subject-level connectivity: a folder of per-subject matrices, and its compact form."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "load_subject_connectivity",
    "subject_connectivity_from_upper",
    "subject_upper_triangles",
]

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": r"\s+"}
_PATTERNS = ("*.npy", "*.csv", "*.csv.gz", "*.tsv", "*.tsv.gz", "*.txt", "*.txt.gz")


def _suffix(path: Path) -> str:
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _subject_name(path: Path) -> str:
    """The file name without its format suffix (and ``.gz``): ``sub-01.run1.csv.gz`` ->
    ``sub-01.run1``."""
    name = path.name.removesuffix(".gz")
    return name.removesuffix(".npy" if path.suffix == ".npy" else _suffix(path))


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _integers(values: list) -> list[int] | None:
    try:
        return [int(v) for v in values]
    except ValueError:
        return None


def _has_labels(table: pd.DataFrame) -> bool:
    """Whether a text matrix read cell by cell starts with a row and a column of labels.

    Labelled when a label cell is text, or when the top-left cell is empty and
    the first row repeats the first column with distinct integers
    (``pandas.DataFrame(fc).to_csv()`` writes 0..R-1 under an empty corner).
    A plain symmetric matrix with a missing (empty) diagonal may look alike,
    so then its diagonal decides: a labelled file has values on the diagonal
    after the labels, or the default labels 0..R-1 or 1..R.
    """
    row, column = table.iloc[0, 1:].tolist(), table.iloc[1:, 0].tolist()
    if not all(_is_number(v) for v in row + column if not pd.isna(v)):
        return True
    if not pd.isna(table.iloc[0, 0]) or row != column or any(pd.isna(v) for v in row):
        return False
    ids = _integers(row)
    if ids is None or len(set(ids)) != len(ids):
        return False
    default = ids in (list(range(len(ids))), list(range(1, len(ids) + 1)))
    return default or not pd.isna(np.diag(table.to_numpy())[1:]).all()


def _read_matrix(path: Path, header: bool | None = None):
    """(matrix, labels or None) of one subject file."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    table = pd.read_csv(
        path,
        header=None,
        sep=_SEPARATORS[_suffix(path)],
        engine="python" if _suffix(path) == ".txt" else "c",
        dtype=str,
    )
    labels = None
    detected = header is None
    if detected:
        header = _has_labels(table)
    if header:
        if table.shape[0] < 2 or table.shape[1] < 2:
            raise ValueError(f"{path.name}: no matrix after the labels")
        labels = table.iloc[0, 1:].astype(str).tolist()
        index = table.iloc[1:, 0].astype(str).tolist()
        if index != labels:
            raise ValueError(f"{path.name}: row labels differ from the column labels")
        table = table.iloc[1:, 1:]
    try:
        matrix = table.to_numpy(dtype=float)
    except ValueError as exc:
        raise ValueError(f"{path.name}: not a numeric matrix ({exc})") from None
    diagonal = np.diag(matrix)
    if (
        detected
        and labels is None
        and diagonal.size
        and np.isnan(diagonal[0])
        and not np.isnan(diagonal).all()
    ):
        # most likely labels under an empty corner that did not repeat exactly
        raise ValueError(
            f"{path.name}: the top-left cell is empty but the rest of the diagonal is not: "
            "a header row and column of labels? Pass header=True (or header=False)"
        )
    return matrix, labels


def load_subject_connectivity(
    path: str | os.PathLike,
    *,
    labels=None,
    pattern: str | None = None,
    header: bool | None = None,
    return_subjects: bool = False,
):
    """Read a folder of per-subject connectivity matrices into an (S, R, R) array.

    Each file holds one subject's square (R, R) matrix: ``.npy``, or text
    (``.csv``, ``.tsv``, whitespace-separated ``.txt``, optionally gzipped),
    with or without a header row and first column of region labels (as
    ``pandas.DataFrame.to_csv`` writes them, default integer labels included).
    Subjects are the files in name order. NaN marks a missing edge (kept).

    Parameters
    ----------
    path : str or path-like
        The folder.
    labels : array-like of str, default=None
        Region labels in the wanted order (e.g. ``connectome.labels``). Files
        with labels are reordered to it; files without must already be in it.
    pattern : str, default=None
        Glob pattern selecting the files (e.g. ``"sub-*_fc.csv"``); every
        supported file by default.
    header : bool, default=None
        Whether text files start with a header row and a first column of
        region labels. Detected per file by default: a label cell that is not
        a number, or an empty top-left cell with a first column of distinct
        integers that repeats the first row. A file read as unlabelled whose
        diagonal is empty only in its top-left cell is refused as ambiguous;
        pass ``header`` then.
    return_subjects : bool, default=False
        Also return the subject names (file names without their suffixes).

    Returns
    -------
    subject_connectivity : ndarray of shape (S, R, R)
    subjects : list of str
        Only with ``return_subjects``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no matching file.
    ValueError
        If a matrix is not square, not symmetric, infinite, of another size
        than the others, its labels differ from ``labels``, or whether a text
        file has labels is ambiguous.

    See Also
    --------
    subject_upper_triangles : The compact (S, P) form with a mask.
    skconn.datasets.Connectome : Pass the array as ``subject_connectivity``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skconn.datasets import load_subject_connectivity
    >>> folder = tempfile.mkdtemp()
    >>> for s in range(3):
    ...     np.save(f"{folder}/sub-{s}.npy", np.full((4, 4), s / 10) + np.eye(4))
    >>> fc, subjects = load_subject_connectivity(folder, return_subjects=True)
    >>> fc.shape, subjects
    ((3, 4, 4), ['sub-0', 'sub-1', 'sub-2'])
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"subject folder not found: {folder}")
    patterns = (pattern,) if pattern else _PATTERNS
    files = sorted({f for p in patterns for f in folder.glob(p) if f.is_file()})
    files = [f for f in files if f.suffix == ".npy" or _suffix(f) in _SEPARATORS]
    if not files:
        raise FileNotFoundError(f"no subject matrix in {folder} (looked for {', '.join(patterns)})")
    if header is not None and not isinstance(header, (bool, np.bool_)):
        raise TypeError(f"header must be True, False or None, got {header!r}")
    wanted = None if labels is None else [str(label) for label in labels]
    matrices = []
    for file in files:
        matrix, file_labels = _read_matrix(file, header)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"{file.name}: expected a square (R, R) matrix, got {matrix.shape}")
        if wanted is not None:
            if file_labels is not None:
                if set(file_labels) != set(wanted) or len(file_labels) != len(wanted):
                    extra = sorted(set(file_labels) - set(wanted))[:5]
                    lacking = sorted(set(wanted) - set(file_labels))[:5]
                    raise ValueError(
                        f"{file.name}: region labels differ from labels (not in labels "
                        f"{extra}, missing {lacking})"
                    )
                order = pd.Series(np.arange(len(file_labels)), index=file_labels)[wanted]
                matrix = matrix[np.ix_(order.to_numpy(), order.to_numpy())]
            elif matrix.shape[0] != len(wanted):
                raise ValueError(f"{file.name}: {matrix.shape[0]} regions but {len(wanted)} labels")
        if matrices and matrix.shape != matrices[0].shape:
            raise ValueError(
                f"{file.name}: shape {matrix.shape} differs from {files[0].name}'s "
                f"{matrices[0].shape}"
            )
        if np.isinf(matrix).any():
            raise ValueError(f"{file.name}: infinite values (use NaN for missing edges)")
        filled = np.nan_to_num(matrix)
        if not np.allclose(filled, filled.T, rtol=1e-6, atol=1e-8):
            raise ValueError(f"{file.name}: the matrix is not symmetric")
        matrices.append(matrix)
    stacked = np.stack(matrices)
    if return_subjects:
        subjects = [_subject_name(f) for f in files]
        return stacked, subjects
    return stacked


def _as_float_array(values, name: str) -> np.ndarray:
    """``values`` as a float array without infinite entries (NaN marks a missing edge)."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values (use NaN for missing edges)")
    return arr


def _symmetric_with_nan(stack: np.ndarray) -> bool:
    """Whether (..., R, R) matrices are symmetric, NaN (missing edges) included."""
    transposed = np.swapaxes(stack, -1, -2)
    nan = np.isnan(stack)
    if not np.array_equal(nan, np.isnan(transposed)):
        return False
    filled = np.where(nan, 0.0, stack)
    return bool(np.allclose(filled, np.swapaxes(filled, -1, -2), rtol=1e-6, atol=1e-8))


def subject_upper_triangles(subject_connectivity) -> tuple[np.ndarray, np.ndarray]:
    """The compact form of subject-level connectivity: upper triangles and a mask.

    Parameters
    ----------
    subject_connectivity : array-like of shape (S, R, R)
        Symmetric matrices, NaN where an edge is missing.

    Returns
    -------
    values : ndarray of shape (S, P)
        Entries (i, j), i < j, in ``numpy.triu_indices(R, k=1)`` order (the
        order of ``skconn.pairs.pair_indices(R, "upper")``); 0 where missing.
    mask : ndarray of bool of shape (S, P)
        True where the subject has the edge.

    Raises
    ------
    ValueError
        If the matrices are not (S, R, R), not symmetric, or hold infinite values.
    TypeError
        If they are not numeric.

    See Also
    --------
    subject_connectivity_from_upper : The inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import subject_upper_triangles
    >>> fc = np.array([[[1, .5, np.nan], [.5, 1, .2], [np.nan, .2, 1]]])
    >>> values, mask = subject_upper_triangles(fc)
    >>> values.tolist(), mask.tolist()
    ([[0.5, 0.0, 0.2]], [[True, False, True]])
    """
    sfc = _as_float_array(subject_connectivity, "subject_connectivity")
    if sfc.ndim != 3 or sfc.shape[1] != sfc.shape[2]:
        raise ValueError(f"subject_connectivity must have shape (S, R, R), got {sfc.shape}")
    if not _symmetric_with_nan(sfc):
        raise ValueError("subject_connectivity must be symmetric in its last two axes")
    i, j = np.triu_indices(sfc.shape[1], k=1)
    upper = sfc[:, i, j]
    mask = ~np.isnan(upper)
    return np.where(mask, upper, 0.0), mask


def subject_connectivity_from_upper(values, mask=None, *, diagonal: float = np.nan) -> np.ndarray:
    """Rebuild (S, R, R) subject-level connectivity from upper triangles.

    Parameters
    ----------
    values : array-like of shape (S, P)
        Upper-triangle entries in ``numpy.triu_indices(R, k=1)`` order, with
        P = R(R-1)/2.
    mask : array-like of bool of shape (S, P), default=None
        True where an edge is present; missing edges become NaN. All present
        (apart from NaN values) by default.
    diagonal : float, default=nan
        Value of the diagonal (never a target).

    Returns
    -------
    ndarray of shape (S, R, R)

    Raises
    ------
    ValueError
        If ``values`` is not (S, R(R-1)/2) for some R >= 2, holds infinite values,
        or ``mask`` has another shape.
    TypeError
        If ``values`` is not numeric or ``diagonal`` not a number.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import subject_connectivity_from_upper
    >>> subject_connectivity_from_upper([[0.5, 0.0, 0.2]], [[True, False, True]],
    ...                                 diagonal=1.0)[0]
    array([[1. , 0.5, nan],
           [0.5, 1. , 0.2],
           [nan, 0.2, 1. ]])
    """
    upper = _as_float_array(values, "values")
    try:
        diagonal = float(diagonal)
    except (TypeError, ValueError):
        raise TypeError(f"diagonal must be a number, got {diagonal!r}") from None
    if upper.ndim != 2:
        raise ValueError(f"values must have shape (S, P), got {upper.shape}")
    n_regions = round((1 + np.sqrt(1 + 8 * upper.shape[1])) / 2)
    if n_regions * (n_regions - 1) // 2 != upper.shape[1] or n_regions < 2:
        raise ValueError(
            f"values has {upper.shape[1]} columns, which is not R(R-1)/2 for any R >= 2"
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != upper.shape:
            raise ValueError(f"mask must have the shape of values {upper.shape}, got {mask.shape}")
        upper = np.where(mask, upper, np.nan)
    out = np.full((len(upper), n_regions, n_regions), diagonal)
    i, j = np.triu_indices(n_regions, k=1)
    out[:, i, j] = upper
    out[:, j, i] = upper
    return out

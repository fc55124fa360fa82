"""Matching original to rotated coordinates, for many rotations at once."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["METHODS", "assign_rotated"]

METHODS = ("original", "vasa", "hungarian")

# Bytes of one (chunk, n, n) float64 distance block; bounds memory per worker.
_BLOCK_BYTES = 48 * 2**20


def _sq_distances(coords: np.ndarray, rotated: np.ndarray, out=None) -> np.ndarray:
    """Squared distances from every point to every rotated point, (B, n, n).

    One batched product of the augmented rows ``[x, |x|², 1]`` and
    ``[-2y, 1, |y|²]``: a single pass over the output instead of one per
    coordinate. Only the *order* of these values is used; exact distances are
    recomputed for the pairs finally matched.
    """
    n = coords.shape[0]
    left = np.empty((n, 5))
    left[:, :3] = coords
    left[:, 3] = np.einsum("ij,ij->i", coords, coords)
    left[:, 4] = 1.0
    right = np.empty((rotated.shape[0], 5, n))
    right[:, :3] = -2.0 * rotated.transpose(0, 2, 1)
    right[:, 3] = 1.0
    right[:, 4] = np.einsum("bij,bij->bi", rotated, rotated)
    return np.matmul(left, right, out=out)


def _vasa(d2: np.ndarray) -> np.ndarray:
    """Váša et al. (2018) greedy matching for a stack of distance matrices.

    For each of B (n, n) matrices (rows: original points, columns: rotated
    points) this repeats n times: take the unmatched row whose nearest
    unmatched column is farthest, and match it to that column. Ties go to the
    lowest index, as with ``argmax``/``argmin`` on one matrix, so the result
    is the one-matrix loop's, matrix by matrix.

    Each unmatched row keeps its nearest free column and that distance; when
    a column is taken only the rows that pointed to it rescan their row (with
    taken columns masked), and matched rows are dropped from the per-row
    arrays whenever they make up a quarter of them. A step is a fixed handful
    of vectorised operations over the B matrices.

    Returns
    -------
    ndarray of shape (B, n)
        ``col[b, i]``: the rotated point matched to original point i.
    """
    B, n, _ = d2.shape
    flat = d2.reshape(B * n, n)
    nearest = d2.argmin(axis=2)  # nearest free column of each live row
    best = np.take_along_axis(d2, nearest[..., None], axis=2)[..., 0]
    row_of = np.broadcast_to(np.arange(n), (B, n)).copy()  # live position -> row
    blocked = np.zeros((B, n))  # +inf on taken columns
    picked_row = np.empty((n, B), dtype=np.intp)
    picked_col = np.empty((n, B), dtype=np.intp)
    base = np.arange(B) * n  # offset of matrix b's rows (and columns of blocked)
    width = n
    for step in range(n):
        pos = best.argmax(axis=1) + np.arange(B) * width  # flat live position
        c = nearest.take(pos)
        picked_row[step] = row_of.take(pos)
        picked_col[step] = c
        blocked.put(base + c, np.inf)
        best.put(pos, -np.inf)
        nearest.put(pos, -1)
        stale = np.flatnonzero(nearest == c[:, None])
        if stale.size:
            sb = stale // width
            rows = flat.take(base[sb] + row_of.take(stale), axis=0)
            rows += blocked.take(sb, axis=0)
            new = rows.argmin(axis=1)
            nearest.put(stale, new)
            best.put(stale, rows[np.arange(len(new)), new])
        left = n - step - 1
        if left and (width - left) * 4 >= width:
            keep = (nearest >= 0).ravel()
            best = best.ravel()[keep].reshape(B, left)
            nearest = nearest.ravel()[keep].reshape(B, left)
            row_of = row_of.ravel()[keep].reshape(B, left)
            width = left
    col = np.empty((B, n), dtype=np.intp)
    np.put_along_axis(col, picked_row.T, picked_col.T, axis=1)
    return col


def _chunk_size(n: int) -> int:
    return max(1, _BLOCK_BYTES // max(1, 8 * n * n))


def assign_rotated(coords, rotations, method: str):
    """Match each point to a rotated point, for every rotation.

    Several point sets of the same size (the two hemispheres) can be given
    at once; their distance matrices are then stacked into one batch, which
    halves the per-step overhead of the Váša loop.

    Parameters
    ----------
    coords : ndarray of shape (n, 3), or a list of them (same n)
    rotations : ndarray of shape (B, 3, 3), or a list of them (one per point set)
        Applied as ``coords @ R``.
    method : {"original", "vasa", "hungarian"}
        Nearest rotated point (not a permutation), Váša's greedy matching, or
        the assignment of least total distance.

    Returns
    -------
    col : ndarray of shape (B, n), or a list of them
        ``col[b, i]`` is the rotated point matched to point i, so point i takes
        the data of point ``col[b, i]``.
    cost : ndarray of shape (B, n), or a list of them
        Euclidean distance from point i to the rotated point matched to it.
    """
    single = not isinstance(coords, (list, tuple))
    if single:
        coords, rotations = [coords], [rotations]
    B, n = rotations[0].shape[0], coords[0].shape[0]
    parts = len(coords)
    cols = [np.empty((B, n), dtype=np.intp) for _ in range(parts)]
    costs = [np.empty((B, n)) for _ in range(parts)]
    step = max(1, _chunk_size(n) // parts)
    for start in range(0, B, step):
        sl = slice(start, min(B, start + step))
        b = sl.stop - sl.start
        # as coords @ R one rotation at a time
        rotated = [np.matmul(c, r[sl]) for c, r in zip(coords, rotations, strict=True)]
        if method == "hungarian":
            found = []
            for c, rot in zip(coords, rotated, strict=True):
                block = np.empty((b, n), dtype=np.intp)
                for k, y in enumerate(rot):
                    dist = np.sqrt(np.sum((c[:, None, :] - y[None, :, :]) ** 2, axis=-1))
                    block[k] = linear_sum_assignment(dist)[1]
                found.append(block)
        else:
            d2 = np.empty((parts * b, n, n))
            for p, (c, rot) in enumerate(zip(coords, rotated, strict=True)):
                _sq_distances(c, rot, out=d2[p * b : (p + 1) * b])
            both = d2.argmin(axis=2) if method == "original" else _vasa(d2)
            found = [both[p * b : (p + 1) * b] for p in range(parts)]
        for p in range(parts):
            cols[p][sl] = found[p]
            matched = np.take_along_axis(rotated[p], found[p][..., None], axis=1)
            costs[p][sl] = np.sqrt(np.sum((matched - coords[p][None]) ** 2, axis=-1))
    if single:
        return cols[0], costs[0]
    return cols, costs

"""Spin permutations: rotate each hemisphere, then match points to rotated points."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._arguments import check_random_state
from .._persistence import VersionedStateMixin
from .._validation import Interval, StrOptions, validate_own_params, validate_params
from ._assign import METHODS, assign_rotated
from ._rotations import _rotations_from_normals, mirror_rotations

__all__ = ["SpinPermutations", "gen_spinsamples", "sphere_coords"]

_MAX_TRIES = 500


def check_coords(coords, name: str = "coords") -> np.ndarray:
    """(N, 3) finite float coordinates, or a clear error."""
    try:
        arr = np.asarray(coords, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (N, 3) array: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be 3-D points, shape (N, 3); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_hemiid(hemiid, n: int) -> np.ndarray:
    """(N,) hemisphere ids in {0, 1} (0 = left); "L"/"R" labels are accepted too."""
    if hemiid is None:
        raise ValueError(
            "hemiid is required: one hemisphere label per point (0/'L' left, 1/'R' right)"
        )
    arr = np.asarray(hemiid)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"hemiid must have shape ({n},) to match coords, got {arr.shape}")
    if arr.dtype.kind in "USO":
        labels = arr.astype(str)
        bad = sorted(set(labels) - {"L", "R"})
        if bad:
            raise ValueError(
                f"hemiid labels must be 'L' or 'R' (assign midline 'B' regions a side "
                f"first), got {bad[:5]}"
            )
        return (labels == "R").astype(np.int8)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("hemiid contains missing (NaN) hemisphere labels")
    if arr.dtype.kind not in "iufb" or not np.isin(arr, (0, 1)).all():
        raise ValueError(
            f"hemiid must hold 0 (left) or 1 (right), got values {np.unique(arr)[:5].tolist()}"
        )
    return arr.astype(np.int8)


def sphere_coords(coords, hemiid) -> np.ndarray:
    """Project each hemisphere's points onto a unit sphere about its centroid.

    Parcel centroids in MNI space lie on a half-brain surface, not a sphere;
    spinning them about the origin would move a hemisphere's points away from
    itself. Centring each hemisphere on its own centroid and normalising every
    point to unit length gives the sphere that spins are drawn on (the role the
    fsaverage sphere plays for surface parcellations).

    Parameters
    ----------
    coords : array-like of shape (N, 3)
    hemiid : array-like of shape (N,)
        0 (or "L") for left, 1 (or "R") for right.

    Returns
    -------
    ndarray of shape (N, 3)
        Unit vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import sphere_coords
    >>> xyz = np.array([[-40., 0, 0], [-20, 10, 0], [-30, -10, 5], [40, 0, 0], [20, 10, 0]])
    >>> s = sphere_coords(xyz, [0, 0, 0, 1, 1])
    >>> np.allclose(np.linalg.norm(s, axis=1), 1)
    True
    """
    coords = check_coords(coords)
    hemiid = check_hemiid(hemiid, len(coords))
    out = np.empty_like(coords)
    for h in (0, 1):
        idx = np.flatnonzero(hemiid == h)
        if idx.size == 0:
            continue
        centred = coords[idx] - coords[idx].mean(axis=0)
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        if (norm == 0).any():
            raise ValueError(
                "coords: a point coincides with its hemisphere's centroid (e.g. a hemisphere "
                "of one point); cannot project it onto the sphere"
            )
        out[idx] = centred / norm
    return out


def _spin_block(coords, hemiid, rotations, method):
    """Permutations (B, N) and costs (B, N) of one block of left rotations."""
    B, N = rotations.shape[0], coords.shape[0]
    perms = np.empty((B, N), dtype=np.intp)
    cost = np.empty((B, N))
    sides = [
        (np.flatnonzero(hemiid == h), rots)
        for h, rots in ((0, rotations), (1, mirror_rotations(rotations)))
    ]
    sides = [(idx, rots) for idx, rots in sides if idx.size]
    if len(sides) == 2 and sides[0][0].size == sides[1][0].size:
        groups = [sides]  # same size: both hemispheres in one batch
    else:
        groups = [[side] for side in sides]
    for group in groups:
        cols, costs = assign_rotated(
            [coords[idx] for idx, _ in group], [rots for _, rots in group], method
        )
        for (idx, _), col, c in zip(group, cols, costs, strict=True):
            perms[:, idx] = idx[col]
            cost[:, idx] = c
    return perms, cost


def _spin_blocks(coords, hemiid, rotations, method, n_jobs, batch_size=512):
    """Yield (rotations, perms, cost) block by block, in order."""
    blocks = [rotations[s : s + batch_size] for s in range(0, len(rotations), batch_size)]
    # numpy releases the GIL in the work of a block, so threads scale without copies
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        delayed(_spin_block)(coords, hemiid, b, method) for b in blocks
    )
    for rots, (perms, cost) in zip(blocks, results, strict=True):
        yield rots, perms, cost


def _check_rotations(rotations):
    arr = np.asarray(rotations, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (3, 3):
        raise ValueError(f"rotations must have shape (n_rotate, 3, 3), got {arr.shape}")
    eye = np.broadcast_to(np.eye(3), arr.shape)
    if not np.allclose(arr @ arr.transpose(0, 2, 1), eye, atol=1e-8):
        raise ValueError("rotations must be orthogonal 3x3 matrices")
    return arr


def _local(row, index):
    """A stored spin of the regions ``index`` (sorted), back in their own numbering."""
    return np.searchsorted(index, row)


def spin_permutations(
    coords,
    hemiid,
    n_rotate,
    *,
    method="vasa",
    random_state=None,
    check_duplicates=True,
    rotations=None,
    n_jobs=None,
    out=None,
    index=None,
    sum_cost=False,
):
    """Region permutations from spins, row-major: (n_rotate, N) (see gen_spinsamples).

    ``out`` and ``index`` let a caller write the spins of a subset of regions
    straight into a larger permutation array (``out[k, index] = index[perm]``),
    and ``sum_cost`` keeps one summed cost per spin, so memory stays at the
    permutation array however many spins are drawn. ``n_rotate`` and ``method``
    are validated by the public callers (``validate_params`` / ``_parameter_constraints``).

    Returns
    -------
    perms : ndarray of shape (n_rotate, N), or ``out``
    cost : ndarray of shape (n_rotate, N), or (n_rotate,) with ``sum_cost``
    rotations : ndarray of shape (n_rotate, 3, 3)
        The left-hemisphere rotation of each spin kept.
    """
    coords = check_coords(coords)
    N = len(coords)
    hemiid = check_hemiid(hemiid, N)
    if rotations is not None:
        draws = _check_rotations(rotations)
        n_rotate = len(draws)
    index = np.arange(N) if index is None else np.asarray(index, dtype=np.intp)
    if out is None:
        out = np.empty((n_rotate, N), dtype=np.intp)
    cost_out = np.empty(n_rotate) if sum_cost else np.empty((n_rotate, N))
    rot_out = np.empty((n_rotate, 3, 3))
    rs = None if rotations is not None else check_random_state(random_state)
    identity = np.arange(N, dtype=np.intp)
    # Spins are drawn in order and a spin equal to an earlier one (or to no
    # spin at all) is redrawn, up to 500 tries per spin, the 500th kept as is:
    # the rule neuromaps follows, so the same seed gives the same spins.
    # Kept spins are looked up by hash, then compared in ``out``.
    seen = {hash(identity.tobytes()): [-1]}
    kept, tries, warned, duplicates = 0, 0, False, False
    while kept < n_rotate:
        if rs is not None:
            draws = _rotations_from_normals(rs.normal(size=(n_rotate - kept, 3, 3)))
        for rots, perms, cost in _spin_blocks(coords, hemiid, draws, method, n_jobs):
            for p, c, r in zip(perms, cost, rots, strict=True):
                if kept == n_rotate:
                    break
                key = hash(p.tobytes())
                same = check_duplicates and any(
                    np.array_equal(p, identity if k < 0 else _local(out[k, index], index))
                    for k in seen.get(key, ())
                )
                tries += 1
                if same and rs is not None and tries < _MAX_TRIES:
                    continue
                if same:
                    duplicates = True
                if same and rs is not None and not warned:
                    warnings.warn(
                        f"could not draw a spin distinct from the others in {_MAX_TRIES} "
                        "tries; duplicate spins are used",
                        UserWarning,
                        stacklevel=3,
                    )
                    warned = True
                seen.setdefault(key, []).append(kept)
                out[kept, index] = index[p]
                cost_out[kept] = c.sum() if sum_cost else c
                rot_out[kept] = r
                kept += 1
                tries = 0
        if rs is None:
            break
    if rs is None and duplicates:
        warnings.warn(
            "the given rotations produce duplicate or identity permutations",
            UserWarning,
            stacklevel=3,
        )
    return out, cost_out, rot_out


@validate_params(
    {
        "n_rotate": [Interval(numbers.Integral, 1, None, closed="left")],
        "check_duplicates": ["boolean"],
        "method": [StrOptions(set(METHODS))],
        "seed": ["random_state"],
        "return_cost": ["boolean"],
        "n_jobs": [numbers.Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def gen_spinsamples(
    coords,
    hemiid,
    n_rotate=1000,
    check_duplicates=True,
    method="original",
    seed=None,
    return_cost=False,
    *,
    rotations=None,
    n_jobs=None,
):
    """Resampling arrays from random rotations (spins) of each hemisphere (neuromaps layout).

    .. warning::
       This function keeps neuromaps' conventions for parity: it returns
       **(N, n_rotate)** (one spin per *column*) and defaults to
       ``method="original"`` (which may repeat points). The rest of skconn uses
       **(K, R)** region permutations (one null per *row*) drawn with
       ``method="vasa"``: use :class:`SpinPermutations` (``permutations_``),
       :func:`whole_brain_spins` or :func:`make_nulls` for those, or pass
       ``gen_spinsamples(..., method="vasa").T`` to
       ``make_pairs(connectome, nulls=...)``.

    Each spin draws a random rotation R for the left hemisphere and uses its
    mirror ``F R F`` (``F = diag(-1, 1, 1)``) for the right, rotates each
    hemisphere's points, and matches every point to a rotated point of its own
    hemisphere. Point i then takes the data of the point whose rotated position
    it was matched to. The signature, the random draws and the results are
    those of neuromaps 0.0.7 ``nulls.spins.gen_spinsamples``: the same
    ``seed`` gives the same rotations, hence (for ``"vasa"`` and
    ``"hungarian"``) the same arrays; the computation is vectorised across
    rotations.

    Parameters
    ----------
    coords : array-like of shape (N, 3)
        Points on a sphere, used as given (see :func:`sphere_coords` for
        parcel centroids in MNI space).
    hemiid : array-like of shape (N,)
        Hemisphere of each point: 0 (or "L") left, 1 (or "R") right.
    n_rotate : int, default=1000
        Number of spins.
    check_duplicates : bool, default=True
        Redraw a spin that repeats an earlier one or leaves every point in
        place, up to 500 times (then keep it, with a warning).
    method : {"original", "vasa", "hungarian"}, default="original"
        ``"original"``: nearest rotated point (Alexander-Bloch et al. 2018;
        may repeat points, so not always a permutation). ``"vasa"``: Váša et
        al. (2018) greedy matching: repeatedly the point whose nearest free
        rotated point is farthest takes it. ``"hungarian"``: the permutation of
        least total distance.
    seed : int, RandomState instance or None, default=None
        Seeds the rotations.
    return_cost : bool, default=False
        Also return the distance of each point to its match.
    rotations : array-like of shape (n_rotate, 3, 3), default=None
        Left-hemisphere rotations to use instead of drawing them (``n_rotate``,
        ``seed`` and the redraws are then unused).
    n_jobs : int, default=None
        Workers for blocks of rotations (joblib; any backend, including dask).

    Returns
    -------
    spinsamples : ndarray of shape (N, n_rotate)
        Column k: the point whose data each point takes in spin k, the
        neuromaps layout. Region permutations for
        :func:`skconn.pairs.make_pairs` are its transpose, (n_rotate, N).
    cost : ndarray of shape (N, n_rotate)
        Only with ``return_cost=True``: Euclidean distance of each match.

    Raises
    ------
    ValueError
        If coords are not (N, 3), hemisphere labels are missing or not 0/1,
        or the method is unknown.

    See Also
    --------
    SpinPermutations : The same as an estimator, with (n_rotate, N) permutations.
    whole_brain_spins : Cortical and subcortical spins of a Connectome.

    Notes
    -----
    Distances are ordered from one batched matrix product per block of
    rotations; the Váša matching is vectorised across rotations (each step
    refreshes only the points whose nearest free rotated point was taken).
    Ties are broken as in the one-rotation loop, by lowest index.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import gen_spinsamples
    >>> coords = [[0, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 0]]
    >>> hemi = [0, 0, 1, 1]
    >>> gen_spinsamples(coords, hemi, n_rotate=1, seed=1, method="vasa",
    ...                 check_duplicates=False)
    array([[1],
           [0],
           [2],
           [3]])
    """
    perms, cost, _ = spin_permutations(
        coords,
        hemiid,
        n_rotate,
        method=method,
        random_state=seed,
        check_duplicates=check_duplicates,
        rotations=rotations,
        n_jobs=n_jobs,
    )
    if return_cost:
        return perms.T.copy(), cost.T.copy()
    return perms.T.copy()


class SpinPermutations(VersionedStateMixin, BaseEstimator):
    """Spin permutations of points on a sphere, as an estimator.

    ``fit(coords, hemiid)`` draws ``n_rep`` spins (see
    :func:`gen_spinsamples`); ``randomize(x)`` applies them to data.

    Parameters
    ----------
    method : {"vasa", "hungarian", "original"}, default="vasa"
        How points are matched to rotated points.
    n_rep : int, default=100
        Number of spins.
    random_state : int, RandomState instance or None, default=None
        Seeds the rotations (``seed`` of :func:`gen_spinsamples`).
    check_duplicates : bool, default=True
        Redraw repeated spins.
    n_jobs : int, default=None
        joblib workers.

    Attributes
    ----------
    permutations_ : ndarray of shape (n_rep, N)
        Row k: the point whose data each point takes in spin k, the layout
        ``make_pairs(..., nulls=...)`` expects.
    cost_ : ndarray of shape (n_rep, N)
        Distance of each point to its match.
    rotations_ : ndarray of shape (n_rep, 3, 3)
        Left-hemisphere rotation of each spin.

    See Also
    --------
    gen_spinsamples : The functional form, (N, n_rotate) output.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import SpinPermutations
    >>> rng = np.random.default_rng(0)
    >>> xyz = rng.normal(size=(20, 3))
    >>> xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    >>> spins = SpinPermutations(n_rep=5, random_state=0).fit(xyz, np.repeat([0, 1], 10))
    >>> spins.permutations_.shape
    (5, 20)
    >>> spins.randomize(np.arange(20.0)).shape
    (5, 20)
    """

    _parameter_constraints: ClassVar[dict] = {
        "method": [StrOptions(set(METHODS))],
        "n_rep": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "check_duplicates": ["boolean"],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(self, method="vasa", n_rep=100, random_state=None, check_duplicates=True,
                 n_jobs=None):
        self.method = method
        self.n_rep = n_rep
        self.random_state = random_state
        self.check_duplicates = check_duplicates
        self.n_jobs = n_jobs

    def fit(self, coords, hemiid, rotations=None):
        """Draw the spins.

        Parameters
        ----------
        coords : array-like of shape (N, 3)
        hemiid : array-like of shape (N,)
        rotations : array-like of shape (n_rep, 3, 3), default=None
            Left rotations to use instead of random ones.

        Returns
        -------
        self : SpinPermutations
        """
        constraints = dict(self._parameter_constraints)
        if rotations is not None:  # n_rep is then the number of rotations given
            constraints.pop("n_rep")
        validate_own_params(self, constraints)
        self.permutations_, self.cost_, self.rotations_ = spin_permutations(
            coords,
            hemiid,
            self.n_rep,
            method=self.method,
            random_state=self.random_state,
            check_duplicates=self.check_duplicates,
            rotations=rotations,
            n_jobs=self.n_jobs,
        )
        return self

    def randomize(self, x):
        """Apply every spin to data.

        Parameters
        ----------
        x : array-like of shape (N,) or (N, F)

        Returns
        -------
        ndarray of shape (n_rep, N) or (n_rep, N, F)
        """
        check_is_fitted(self, "permutations_")
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] != self.permutations_.shape[1]:
            raise ValueError(
                f"x must have {self.permutations_.shape[1]} rows (one per point), "
                f"got shape {x.shape}"
            )
        return x[self.permutations_]

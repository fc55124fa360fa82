"""Random 3-D rotations and their hemisphere mirror."""

from __future__ import annotations

import numbers

import numpy as np

from .._arguments import check_random_state
from .._validation import Interval, validate_params

__all__ = ["mirror_rotations", "random_rotations"]

#: Reflection across the midsagittal (Y-Z) plane, x -> -x.
_REFLECT = np.diag([-1.0, 1.0, 1.0])


@validate_params(
    {"n_rotations": [Interval(numbers.Integral, 0, None, closed="left")],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def random_rotations(n_rotations, random_state=None) -> np.ndarray:
    """Draw uniformly distributed 3-D rotation matrices.

    Each rotation is the Q factor of the QR decomposition of a 3×3 matrix of
    standard normal draws, with its columns' signs fixed so that ``R`` has a
    positive diagonal (which makes Q Haar-distributed) and its first column
    negated if its determinant is negative. The draws are one
    ``random_state.normal(size=(3, 3))`` per rotation, in order, so the same
    seed gives the same rotations as neuromaps' and netneurotools'
    ``gen_spinsamples``.

    Parameters
    ----------
    n_rotations : int
        Number of rotations.
    random_state : int, RandomState instance or None, default=None
        Source of the normal draws (a ``numpy.random.RandomState``, as
        ``sklearn.utils.check_random_state`` returns).

    Returns
    -------
    ndarray of shape (n_rotations, 3, 3)
        Rotation matrices, applied to row-vector coordinates as ``coords @ R``.

    See Also
    --------
    mirror_rotations : The right-hemisphere rotation of each left one.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import random_rotations
    >>> R = random_rotations(4, random_state=0)
    >>> R.shape
    (4, 3, 3)
    >>> np.allclose(R @ R.transpose(0, 2, 1), np.eye(3)), np.allclose(np.linalg.det(R), 1)
    (True, True)
    """
    n = int(n_rotations)
    rs = check_random_state(random_state)
    draws = rs.normal(size=(n, 3, 3))
    return _rotations_from_normals(draws)


def _rotations_from_normals(draws: np.ndarray) -> np.ndarray:
    """Haar rotations from (n, 3, 3) standard normal draws (see :func:`random_rotations`)."""
    if len(draws) == 0:
        return np.empty((0, 3, 3))
    q, r = np.linalg.qr(draws)
    # Multiplying columns by ±1 is exact, so this equals q @ diag(sign(diag(r))).
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    flip = np.linalg.det(q) < 0
    q[flip, :, 0] = -q[flip, :, 0]
    return q


def mirror_rotations(rotations) -> np.ndarray:
    """Mirror left-hemisphere rotations for the right hemisphere.

    ``F R F`` with ``F = diag(-1, 1, 1)``: the right hemisphere turns as the
    mirror image of the left, so spins keep bilateral symmetry.

    Parameters
    ----------
    rotations : array-like of shape (n, 3, 3) or (3, 3)

    Returns
    -------
    ndarray of the same shape

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.nulls import mirror_rotations, random_rotations
    >>> R = random_rotations(1, random_state=0)[0]
    >>> M = mirror_rotations(R)
    >>> F = np.diag([-1, 1, 1])
    >>> np.allclose((F @ np.ones(3)) @ M, F @ (np.ones(3) @ R))
    True
    """
    rotations = np.asarray(rotations, dtype=float)
    if rotations.shape[-2:] != (3, 3):
        raise ValueError(f"rotations must have shape (n, 3, 3), got {rotations.shape}")
    # F R F only flips the signs of row 0 and column 0 (exactly).
    out = rotations.copy()
    out[..., 0, :] *= -1
    out[..., :, 0] *= -1
    return out

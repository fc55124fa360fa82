"""The published reference formulas, as REFERENCE.md specifies them, on region index sets.

Written from the specification in ``shared/REFERENCE.md`` (§2.2, §2.3, §2.5, §3.1,
§3.2, §3.4), never from the published (CC BY-NC-SA) code. Every function works on
region-level arrays and on index sets of regions:

* ``features`` (R, F): regional expression; ``coords`` (R, 3): MNI centroids in mm;
  ``fc`` (R, R): the connectivity matrix;
* ``train``, ``test``: region indices of one outer fold;
* ``folds``: the outer test-region folds of the split (a list of index arrays),
  and ``fold_idx`` the position of the current one in it, which the published
  inner CV needs (§2.5).

Predictions are for :func:`ordered_pairs` of the test regions: every (i, j),
i != j, with both regions in the test set, in both orders (§1, §2.1). Pearson r
does not depend on the order of the pairs, so these scores equal those over a
``RegionPairs`` test fold of the same regions.

The published code runs the closed form in float32 on a GPU with an explicit
inverse; here it runs in float64 through the thin SVD of the training features,
which is the same matrix (:func:`cm_closed_form` states it literally, for checking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold

__all__ = [
    "PUBLISHED_LAMBDAS",
    "WIDE_LAMBDAS",
    "RefFit",
    "cm_closed_form",
    "exp_decay_curve",
    "inner_split",
    "ordered_pairs",
    "random_folds",
    "ref_cm",
    "ref_exp_decay",
    "ref_pls_bilinear",
    "spatial_folds",
]

#: The Connectome Model's ``lambda_reg`` grid (§3.2) and the PLS decoder's
#: ``weight_decay`` grid (§3.4).
PUBLISHED_LAMBDAS = (0.001, 0.01, 0.1, 1.0)
#: The wider grid of REFERENCE §9.1: 10^-3 ... 10^6.
WIDE_LAMBDAS = tuple(float(10.0**k) for k in range(-3, 7))


@dataclass
class RefFit:
    """Predictions of a reference formula for the ordered test pairs.

    Attributes
    ----------
    pred : ndarray of shape (P,)
        Predictions for ``ordered_pairs(test)``.
    lam : float or None
        The penalty used (chosen by the inner fold when a grid was given).
    """

    pred: np.ndarray
    lam: float | None = None


# --------------------------------------------------------------------------- protocol
def ordered_pairs(regions) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, of some regions, as two (P,) index arrays."""
    regions = np.asarray(regions, dtype=np.intp)
    i, j = np.meshgrid(regions, regions, indexing="ij")
    off = ~np.eye(len(regions), dtype=bool)
    return i[off], j[off]


def _zero_diagonal_block(fc, regions) -> np.ndarray:
    """``fc[regions][:, regions]`` with its diagonal set to 0 (``diag=0``, §1)."""
    regions = np.asarray(regions, dtype=np.intp)
    block = np.array(fc[np.ix_(regions, regions)], dtype=float)
    np.fill_diagonal(block, 0.0)
    return block


def random_folds(n_regions: int, seed: int, n_splits: int = 4) -> list[np.ndarray]:
    """Test regions of the published random split (§2.2): shuffled KFold over regions."""
    kfold = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [np.sort(test) for _, test in kfold.split(np.arange(n_regions))]


def spatial_folds(coords, seed: int, n_splits: int = 4) -> list[np.ndarray]:
    """Test regions of the published spatial split (§2.3).

    A seed region is drawn from the remaining ones, it and its ``R // n_splits - 1``
    nearest remaining regions (3-D distance, stable sort) form a network, and the
    last network takes every region left.
    """
    coords = np.asarray(coords, dtype=float)
    rng = np.random.RandomState(seed)
    per = len(coords) // n_splits
    remaining = set(range(len(coords)))
    folds = []
    for k in range(n_splits):
        candidates = list(remaining)
        if k == n_splits - 1:
            block = candidates
        else:
            seed_region = rng.choice(candidates)
            dist = np.linalg.norm(coords[candidates] - coords[seed_region], axis=1)
            block = [candidates[p] for p in np.argsort(dist, kind="stable")[:per]]
        remaining.difference_update(block)
        folds.append(np.array(sorted(block), dtype=np.intp))
    return folds


def inner_split(folds, fold_idx: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner training and validation regions of the published inner CV (§2.5).

    The outer test fold is dropped; of the remaining networks, in order, only
    inner fold 0 is run: the first validates and the others train. So outer fold
    0 validates on fold 1 and trains on folds 2 and 3; every other outer fold
    validates on fold 0 and trains on the two folds left.
    """
    others = [k for k in range(len(folds)) if k != fold_idx]
    val = np.asarray(folds[others[0]], dtype=np.intp)
    train = np.sort(np.concatenate([folds[k] for k in others[1:]])).astype(np.intp)
    return train, val


# --------------------------------------------------------------------------- §3.1
def exp_decay_curve(d, sa_inf, sa_lambda):
    """``SA_inf + (1 - SA_inf) exp(-d / SA_lambda)`` (§3.1)."""
    return sa_inf + (1.0 - sa_inf) * np.exp(-d / sa_lambda)


def _pair_distance(coords, i, j, mirror: bool) -> np.ndarray:
    points = np.array(coords, dtype=float)
    if mirror:
        points[:, 0] = -np.abs(points[:, 0])
    return np.linalg.norm(points[i] - points[j], axis=1)


def ref_exp_decay(coords, fc, train, test, mirror: bool = True) -> RefFit:
    """Exponential decay with distance, fitted by ``curve_fit`` on every train pair (§3.1).

    Parameters
    ----------
    coords : ndarray of shape (R, 3)
    fc : ndarray of shape (R, R)
    train, test : array-like of int
        Region indices.
    mirror : bool, default=True
        Replace both regions' x by -|x| before measuring distance (the published
        baseline); False uses the true Euclidean distance.

    Returns
    -------
    RefFit
        ``lam`` is None; the fitted (SA_inf, SA_lambda) are not returned.
    """
    i, j = ordered_pairs(train)
    params, _ = curve_fit(
        exp_decay_curve,
        _pair_distance(coords, i, j, mirror),
        np.asarray(fc, dtype=float)[i, j],
        p0=[0.0, 10.0],
        bounds=([-1.0, 0.0], [1.0, 100.0]),
    )
    ti, tj = ordered_pairs(test)
    return RefFit(exp_decay_curve(_pair_distance(coords, ti, tj, mirror), *params))


# --------------------------------------------------------------------------- §3.2
def cm_closed_form(features, Y0, lam: float) -> tuple[np.ndarray, float]:
    """The published formula, literally: ``O = A⁻¹ Xᵀ Y0 X A⁻¹``, ``A = XᵀX + λI``.

    For checking :class:`_ClosedForm` only (it forms F x F matrices).

    Returns
    -------
    O : ndarray of shape (F, F)
    b : float
        ``mean(Y0 - X O Xᵀ)`` over the whole block, diagonal included.
    """
    X = np.asarray(features, dtype=float)
    A = X.T @ X + lam * np.eye(X.shape[1])
    R = np.linalg.solve(A, X.T)  # A⁻¹Xᵀ; A is symmetric, so X A⁻¹ = Rᵀ
    O = R @ Y0 @ R.T
    return O, float(np.mean(Y0 - X @ O @ X.T))


class _ClosedForm:
    """``O = (XᵀX + λI)⁻¹ XᵀY0X (XᵀX + λI)⁻¹`` and ``b = mean(Y0 − XOXᵀ)`` (§3.2).

    With the thin SVD ``X = U S Vᵀ``, ``(XᵀX + λI)⁻¹Xᵀ = V diag(s/(s²+λ)) Uᵀ``
    exactly, so ``O = V C Vᵀ`` with ``C = diag(g) UᵀY0U diag(g)``, ``g = s/(s²+λ)``.
    One SVD serves every λ; ``‖O‖_F = ‖C‖_F`` because V has orthonormal columns.
    """

    def __init__(self, features, Y0):
        U, s, Vt = np.linalg.svd(np.asarray(features, dtype=float), full_matrices=False)
        self.s, self.Vt, self.US = s, Vt, U * s
        self.Y0 = Y0
        self.M = U.T @ Y0 @ U

    def solve(self, lam: float) -> tuple[np.ndarray, float]:
        """The reduced interaction matrix C and the bias b for one λ."""
        g = self.s / (self.s**2 + lam)
        core = g[:, None] * self.M * g[None, :]
        b = float(np.mean(self.Y0 - self.US @ core @ self.US.T))
        return core, b

    def predict(self, core, b, features, i, j) -> np.ndarray:
        """Predictions ``x_iᵀ O x_j + b`` for pairs (i, j) of rows of ``features``."""
        q = np.asarray(features, dtype=float) @ self.Vt.T
        full = q @ core @ q.T
        return full[i, j] + b


def _select_lambda(features, fc, train, val, lambdas, selection: str) -> float:
    """λ with the lowest validation score (§3.2 step 5, §2.5).

    ``"published"``: MSE over the ordered validation pairs + λ‖[vec(O), b]‖₂
    (unsquared); ``"plain"``: the MSE alone. Ties go to the first λ of the grid.
    """
    if selection not in ("published", "plain"):
        raise ValueError(f"selection must be 'published' or 'plain', got {selection!r}")
    cf = _ClosedForm(np.asarray(features)[train], _zero_diagonal_block(fc, train))
    vi, vj = ordered_pairs(val)
    y_val = np.asarray(fc, dtype=float)[vi, vj]
    # predictions are needed for validation regions only: index their rows
    val_pos_i, val_pos_j = ordered_pairs(np.arange(len(val)))
    val_features = np.asarray(features)[np.asarray(val)]
    scores = []
    for lam in lambdas:
        core, b = cf.solve(lam)
        pred = cf.predict(core, b, val_features, val_pos_i, val_pos_j)
        score = float(np.mean((pred - y_val) ** 2))
        if selection == "published":
            score += lam * float(np.sqrt(np.sum(core**2) + b**2))
        scores.append(score)
    return float(lambdas[int(np.argmin(scores))])


def _closed_form_fit_predict(features, fc, train, test, lam) -> np.ndarray:
    features = np.asarray(features, dtype=float)
    test = np.asarray(test, dtype=np.intp)
    cf = _ClosedForm(features[train], _zero_diagonal_block(fc, train))
    core, b = cf.solve(lam)
    pi, pj = ordered_pairs(np.arange(len(test)))
    return cf.predict(core, b, features[test], pi, pj)


def ref_cm(
    X, fc, train, test, *, folds, fold_idx, lambdas=PUBLISHED_LAMBDAS, selection="published"
) -> RefFit:
    """The published bilinear Connectome Model (§3.2) with its inner-CV choice of λ (§2.5).

    Parameters
    ----------
    X : ndarray of shape (R, F)
        Regional features, used raw (uncentred, unscaled), as in "Bilinear CM".
    fc : ndarray of shape (R, R)
    train, test : array-like of int
        Outer training and test regions.
    folds : list of array-like of int
        The outer split's test-region folds.
    fold_idx : int
        Which of ``folds`` is ``test``.
    lambdas : sequence of float, default=PUBLISHED_LAMBDAS
        Candidate λ; with one value no inner CV is run.
    selection : {"published", "plain"}, default="published"
        Inner score: validation MSE + λ‖[vec(O), b]‖₂ (published), or the MSE.

    Returns
    -------
    RefFit
    """
    lambdas = tuple(float(v) for v in lambdas)
    lam = lambdas[0]
    if len(lambdas) > 1:
        in_train, in_val = inner_split(folds, fold_idx)
        lam = _select_lambda(X, fc, in_train, in_val, lambdas, selection)
    return RefFit(_closed_form_fit_predict(X, fc, train, test, lam), lam)


# --------------------------------------------------------------------------- §3.4
def _pls_embedding(X, fc, train, n_components: int) -> np.ndarray:
    """All regions embedded by a PLS fitted on the training regions: raw ``X @ x_rotations_``."""
    X = np.asarray(X, dtype=float)
    train = np.asarray(train, dtype=np.intp)
    pls = PLSRegression(n_components=n_components, scale=True, max_iter=1000)
    pls.fit(X[train], _zero_diagonal_block(fc, train))
    return X @ pls.x_rotations_


def ref_pls_bilinear(
    X, fc, train, test, *, folds=None, fold_idx=None, n_components=25, lam=0.01, lambdas=None
) -> RefFit:
    """PLS encoder + closed-form bilinear decoder, "CM (PLS)" (§3.4).

    ``PLSRegression(n_components, scale=True, max_iter=1000)`` is fitted on the
    training regions' features against their zero-diagonal FC block; all regions
    are embedded by ``X @ x_rotations_`` (raw, uncentred) and the §3.2 closed form
    is fitted on the training embeddings with λ.

    Parameters
    ----------
    X : ndarray of shape (R, F)
    fc : ndarray of shape (R, R)
    train, test : array-like of int
    folds, fold_idx : list of array-like of int, int, default=None
        The outer folds and the current one; needed with ``lambdas``.
    n_components : int, default=25
        The published best.
    lam : float, default=0.01
        The published best ``weight_decay``; used when ``lambdas`` is None.
    lambdas : sequence of float, default=None
        Choose λ from these on the published inner fold (§2.5) instead, by plain
        validation MSE (the PLS decoder's loss), refitting the PLS encoder on the
        inner training regions.

    Returns
    -------
    RefFit
    """
    if lambdas is not None:
        if folds is None or fold_idx is None:
            raise ValueError("choosing lambda needs the outer folds and the fold index")
        in_train, in_val = inner_split(folds, fold_idx)
        inner = _pls_embedding(X, fc, in_train, n_components)
        lam = _select_lambda(inner, fc, in_train, in_val, tuple(lambdas), "plain")
    embedding = _pls_embedding(X, fc, train, n_components)
    return RefFit(_closed_form_fit_predict(embedding, fc, train, test, lam), float(lam))

"""True-versus-null model evaluation: the null test and the batched spin test.

Long because the spin test's batched refits (raw genes through a Woodbury solve,
pipelines of region transformers, the Connectome Model's shared eigenbasis) share
their plan, checks and fallback loop with it; split them when a second fast path
family (e.g. PLS) arrives.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
import scipy.linalg
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from .._arguments import check_random_state
from .._permutations import warn_if_near_identity, warn_if_near_identity_variants
from .._validation import Interval, validate_params
from ..metrics import get_scorer
from ..model_selection._spin import rows_of_variant
from ..model_selection._split import check_region_splitter
from ..models import ConnectomeModelRegressor, PLSBilinearRegressor
from ..models._bilinear import (
    BilinearBasis,
    BilinearDecoder,
    PairGraph,
    check_pair_target,
    node_targets,
)
from ..pairs import RegionPairs
from ..preprocessing import RegionPCA, RegionTransformer

__all__ = ["null_test", "spin_test"]

# Largest reduced basis (r² coefficients) whose normal operator may be factorised explicitly.
_MAX_CORE = 4096


def _score(estimator, X, y, scorer):
    if scorer is None:
        return float(estimator.score(X, y))
    return float(scorer(estimator, X, y))


def _fit_score(estimator, X, y, train, test, scorer):
    est = clone(estimator).fit(X[train], y[train])
    return _score(est, X[test], y[test], scorer)


def _sign_flip_pvalue(diff, n_permutations, random_state):
    """One-sided paired sign-flip p-value of mean(diff) > 0 (exact for up to 16 pairs)."""
    diff = np.asarray(diff, dtype=float)
    observed = diff.mean()
    n = len(diff)
    if n <= 16:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        flipped = (signs * diff).mean(axis=1)
        return float(np.mean(flipped >= observed - 1e-12))
    rng = check_random_state(random_state)
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, n))
    flipped = (signs * diff).mean(axis=1)
    return float((1 + np.sum(flipped >= observed - 1e-12)) / (n_permutations + 1))


@validate_params(
    {"n_permutations": [Interval(numbers.Integral, 1, None, closed="left")],
     "progress": ["boolean"]},
    prefer_skip_nested_validation=False,
)
def null_test(
    estimator,
    X,
    y,
    *,
    cv,
    scoring=None,
    variants=None,
    n_permutations=9999,
    random_state=None,
    n_jobs=None,
    progress=False,
):
    """Score a model on the true data and on nulls, fold for fold.

    The published protocol (Ratzan et al., NeurIPS 2025): for each split seed the model is
    cross-validated on the true data and, on the same region folds, on one
    null variant (a different null per seed). With 10 seeds × 4 folds this
    gives 40 true and 40 null scores side by side.

    Parameters
    ----------
    estimator : estimator
        Cloned and fitted on each training fold.
    X : RegionPairs
        True data (variant 0) plus null variants, from
        ``make_pairs(connectome, nulls=perms)``.
    y : array-like of shape (P,)
    cv : region splitter or list of region splitters
        One splitter per repeat (e.g. ``SpatialRegionSplit(4, random_state=s)``
        for each seed s).
    scoring : str or callable, default=None
        A scorer (see :func:`skconn.metrics.get_scorer`); the estimator's
        ``score`` by default.
    variants : sequence of int, default=None
        The null variant of each repeat; ``1, 2, ...`` by default.
    n_permutations : int, default=9999
        Random sign flips for the p-value when there are more than 16 folds
        (all 2^n flips are used otherwise).
    random_state : int, RandomState instance or None, default=None
        Seeds the sign flips.
    n_jobs : int, default=None
        joblib workers over the fits.
    progress : bool, default=False
        Show a tqdm progress bar over the fits (two per fold: true data and null).
        Every fold is a refit: no batched path exists for a model refitted on
        region folds.

    Returns
    -------
    sklearn.utils.Bunch
        ``scores``: DataFrame, one row per fold (``repeat``, ``fold``,
        ``variant``, ``true_score``, ``null_score``); ``true_mean``,
        ``true_sd``, ``null_mean``, ``null_sd`` (SD with ddof=1 over every
        fold of every repeat); ``gap`` = true_mean - null_mean; ``pvalue``:
        one-sided paired sign-flip test that true scores exceed null scores
        (the two scores of a fold share its regions, so their difference is
        exchangeable in sign under the null).

    Warns
    -----
    UserWarning
        If a fold scores NaN or inf (e.g. a constant prediction under Pearson
        scoring); the summaries then use the folds where both scores are finite
        (NaN if there are none).

    See Also
    --------
    skconn.model_selection.SpinNullSplit : One null per fold instead of per repeat.
    spin_test : Many refits on the full data.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.model_selection import RandomRegionSplit
    >>> from skconn.models import ConnectomeModelRegressor
    >>> from skconn.nulls import null_test
    >>> from skconn.pairs import make_pairs
    >>> c = make_toy_connectome(24, 5)
    >>> rng = np.random.default_rng(0)
    >>> X, y = make_pairs(c, nulls=[rng.permutation(24) for _ in range(2)])
    >>> res = null_test(ConnectomeModelRegressor(alpha=1.0), X, y, scoring="pearson",
    ...                 cv=[RandomRegionSplit(2, random_state=s) for s in (0, 1)])
    >>> res.scores.shape, sorted(res.scores.variant.unique().tolist())
    ((4, 5), [1, 2])
    >>> bool(res.true_mean > res.null_mean), 0 < res.pvalue <= 1
    (True, True)
    """
    if not isinstance(X, RegionPairs):
        raise TypeError(f"X must be a RegionPairs with null variants, got {type(X).__name__}")
    y = check_pair_target(y, len(X))
    cvs = list(cv) if isinstance(cv, (list, tuple)) else [cv]
    if not cvs:
        raise ValueError("cv must be a region splitter or a non-empty list of them")
    for splitter in cvs:
        check_region_splitter(splitter, "cv")
    if variants is None:
        variants = list(range(1, len(cvs) + 1))
    chosen = None if isinstance(variants, (str, bytes)) else np.asarray(variants)
    if chosen is None or chosen.ndim != 1 or (chosen.size and chosen.dtype.kind not in "iu"):
        raise TypeError(f"variants must be a sequence of ints, got {variants!r}")
    variants = [int(v) for v in chosen]
    if len(variants) != len(cvs):
        raise ValueError(f"variants gives {len(variants)} nulls for {len(cvs)} repeats")
    present = set(np.unique(X.variant).tolist())
    if 0 not in present:
        raise ValueError("X must hold the true data (variant 0) besides the nulls")
    missing = sorted(set(variants) - present - {0})
    if missing or 0 in variants:
        raise ValueError(
            f"null variants {missing or [0]} are not nulls of X (X holds {sorted(present)[:8]}); "
            f"make X with make_pairs(connectome, nulls=perms) and >= {max(variants)} nulls"
        )
    warn_if_near_identity_variants(X.variants, variants, where="null_test")
    scorer = None if scoring is None else get_scorer(scoring)
    jobs, index = [], []
    for r, (splitter, variant) in enumerate(zip(cvs, variants, strict=True)):
        for f, (train, test) in enumerate(splitter.split(X, y)):
            jobs.append((train, test))
            jobs.append((rows_of_variant(X, train, variant), rows_of_variant(X, test, variant)))
            index.append((r, f, variant))
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_fit_score)(estimator, X, y, tr, te, scorer) for tr, te in jobs
    )
    scores = list(tqdm(results, total=len(jobs), desc="null_test", disable=not progress))
    table = pd.DataFrame(index, columns=["repeat", "fold", "variant"])
    table["true_score"] = scores[0::2]
    table["null_score"] = scores[1::2]
    true, null = table["true_score"].to_numpy(), table["null_score"].to_numpy()
    finite = np.isfinite(true) & np.isfinite(null)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} of {len(finite)} folds scored NaN or inf (e.g. a "
            "constant prediction); the means, SDs and the p-value use the other folds",
            UserWarning,
            stacklevel=2,
        )
        if not finite.any():
            nan = float("nan")
            return Bunch(scores=table, true_mean=nan, true_sd=nan, null_mean=nan, null_sd=nan,
                         gap=nan, pvalue=nan)
        true, null = true[finite], null[finite]
    ddof = 1 if len(true) > 1 else 0
    return Bunch(
        scores=table,
        true_mean=float(true.mean()),
        true_sd=float(true.std(ddof=ddof)),
        null_mean=float(null.mean()),
        null_sd=float(null.std(ddof=ddof)),
        gap=float(true.mean() - null.mean()),
        pvalue=_sign_flip_pvalue(true - null, n_permutations, random_state),
    )


# --------------------------------------------------------------------------- spin test
def _check_perms(nulls, n_regions):
    try:
        perms = np.asarray(nulls)
    except ValueError as exc:  # ragged rows
        raise ValueError(f"nulls must be a (K, {n_regions}) array: {exc}") from None
    if perms.ndim == 1:
        perms = perms[None]
    if perms.ndim != 2 or perms.shape[1] != n_regions or perms.dtype.kind not in "iu":
        raise ValueError(
            f"nulls must be integer region permutations of shape (K, {n_regions}), "
            f"got {perms.shape}"
        )
    if not (np.sort(perms, axis=1) == np.arange(n_regions)).all():
        raise ValueError("every row of nulls must be a permutation of the regions")
    return perms.astype(np.intp)


def _null_pairs(X: RegionPairs, perm: np.ndarray) -> RegionPairs:
    """X's pairs with region r showing the features of region ``perm[r]``."""
    variants = np.vstack([np.arange(X.n_regions), perm])
    return RegionPairs(
        X.feature_table,
        X.regions,
        X.pairs,
        variant=np.ones(len(X), dtype=np.intp),
        variants=variants,
        feature_names=X.feature_names,
    )


def _refit_score(estimator, X, y, perm, scorer):
    Xn = _null_pairs(X, perm)
    return _score(clone(estimator).fit(Xn, y), Xn, y, scorer)


class _BatchedCM:
    """Closed-form Connectome Model refits for many row permutations of the features.

    Permuting the rows of the node features X leaves XᵀX, hence the reduced
    basis and the penalty, unchanged (Ratzan et al., NeurIPS 2025, use this for
    their null refits): a null is the same problem with the basis coordinates Q
    permuted. When every pair of nodes is given equally often (``uniform``),
    the normal operator is the same for every null, so it is factorised once,
    and the Pearson r of a refit follows from a few r×r moments of its core (no
    (n, n) prediction is formed): a null costs one right-hand side
    ``Q_pᵀ Y Q_p`` and one solve.

    The operator is ``w(Λ Õ Λ − Σ_i q_i q_iᵀ Õ q_i q_iᵀ) + pen∘Õ`` (the diagonal
    pairs are not given), with Λ = QᵀQ diagonal. Up to r² ≤ min(``_MAX_CORE``, n)
    coefficients it is formed and LU-factorised; beyond (many features, r up to
    n regions) the Woodbury identity inverts it through the (n, n) matrix
    ``I/w − Z D⁻¹ Zᵀ`` (``D = wλλᵀ + pen``, ``Z vec(Õ) = (q_iᵀ Õ q_i)_i``), and
    the intercept is eliminated by a Schur complement: the same solution,
    exact up to round-off, for O(n r²) per null.
    """

    def __init__(self, estimator, graph: PairGraph, y):
        self.y = y
        self.graph = graph
        basis = BilinearBasis.from_features(graph.features)
        Q = self.Q = basis.Q
        Y, W = node_targets(graph, y)
        n, r = Q.shape
        off = W[~np.eye(n, dtype=bool)]
        self.uniform = bool(off.size and off.min() == off.max() > 0 and not np.diag(W).any())
        decoder = BilinearDecoder.from_estimator(estimator)
        penalty, alpha = decoder.fixed_choice()
        # the same vanishing-ridge floor as the estimator
        alpha = decoder.effective_alpha(basis, penalty, alpha)
        self.penalty = penalty
        self.fi = bool(decoder.fit_intercept)
        self.usable = self.uniform
        if not self.usable:
            return
        self.w = w = off[0]
        self.Y = Y  # zero on the diagonal, like W
        self.s = Q.sum(axis=0)  # Q_pᵀ1 = Qᵀ1 for every permutation
        self.G = Q.T @ Q  # likewise
        self.factor = self.woodbury = None
        if penalty == "reference":
            self.den = np.outer(basis.eigvals + alpha, basis.eigvals + alpha)
            return
        pen = basis.penalty(penalty, alpha)
        if r * r <= min(_MAX_CORE, n):  # else Woodbury is cheaper: (n, n) not (r², r²)
            # normal operator on (vec Õ, b): Σ_ij W_ij (q_i ⊗ q_j)(q_i ⊗ q_j)ᵀ + diag(pen)
            Z = (Q[:, :, None] * Q[:, None, :]).reshape(n, r * r)
            T = Z.T @ (W @ Z)
            H = T.reshape(r, r, r, r).transpose(0, 2, 1, 3).reshape(r * r, r * r)
            H[np.diag_indices(r * r)] += pen.ravel()
            if self.fi:
                g = (Q.T @ W @ Q).ravel()
                H = np.block([[H, g[:, None]], [g[None, :], np.array([[W.sum()]])]])
            self.factor = scipy.linalg.lu_factor(H)
            return
        self.D = w * np.outer(basis.eigvals, basis.eigvals) + pen
        E = (Q[:, None, :] * Q[None, :, :]).reshape(n * n, r)  # rows q_i ∘ q_j
        M = np.sum((E @ (1.0 / self.D)) * E, axis=1).reshape(n, n)
        self.woodbury = scipy.linalg.lu_factor(np.eye(n) / w - M)
        if self.fi:
            self.g = w * (np.outer(self.s, self.s) - self.G)  # the intercept's column
            self.Ag = self._solve_core(self.g[None])[0]
            self.c = w * n * (n - 1) - np.sum(self.g * self.Ag)

    def _solve_core(self, R):
        """The core operator's inverse on (S, r, r) right-hand sides (Woodbury)."""
        Q = self.Q
        X0 = R / self.D
        u = np.einsum("ia,sab,ib->is", Q, X0, Q)
        v = scipy.linalg.lu_solve(self.woodbury, u)
        return X0 + np.einsum("ia,is,ib->sab", Q, v, Q) / self.D

    def _solve(self, QYQ):
        """Core and intercept of S refits from their ``Q_pᵀ Y Q_p`` (S, r, r)."""
        S, r = len(QYQ), QYQ.shape[1]
        rhs = self.w * QYQ
        rhs_b = np.full(S, self.w * self.Y.sum())
        if self.factor is not None:
            flat = rhs.reshape(S, r * r)
            if self.fi:
                flat = np.column_stack([flat, rhs_b])
            sol = scipy.linalg.lu_solve(self.factor, flat.T).T
            return sol[:, : r * r].reshape(S, r, r), (sol[:, -1] if self.fi else np.zeros(S))
        X1 = self._solve_core(rhs)
        if not self.fi:
            return X1, np.zeros(S)
        b = (rhs_b - np.einsum("ab,sab->s", self.g, X1)) / self.c
        return X1 - b[:, None, None] * self.Ag, b

    def scores(self, sigma):
        """Pearson r of the refit on each permutation (S, n) of the nodes, over X's pairs."""
        Q, S = self.Q, len(sigma)
        n, r = Q.shape
        # Q_p: node a shows the features of node sigma[a]; Q_pᵀ Y Q_p for all S nulls,
        # with Y applied as one (n, n) x (n, S r) product
        Qt = Q[sigma.T]  # (n, S, r)
        YQ = (self.Y @ Qt.reshape(n, S * r)).reshape(n, S, r).transpose(1, 0, 2)
        QYQ = np.matmul(Qt.transpose(1, 2, 0), YQ)  # (S, r, r)
        if self.penalty == "reference":
            core = QYQ / self.den
            b = np.zeros(S)
            if self.fi:
                b = self.Y.mean() - np.einsum("a,sab,b->s", self.s, core, self.s) / n**2
        else:
            core, b = self._solve(QYQ)
        core = (core + np.swapaxes(core, 1, 2)) / 2
        # moments of f = Q_p Õ Q_pᵀ over the off-diagonal grid, from permutation-free terms
        diag = np.einsum("ar,srt,at->sa", Q, core, Q)  # the diagonal of f, permuted
        CG = core @ self.G
        s1 = np.einsum("a,sab,b->s", self.s, core, self.s) - np.trace(CG, axis1=1, axis2=2)
        s2 = np.einsum("sab,sba->s", CG, CG) - (diag**2).sum(axis=1)
        sfy = np.einsum("sab,sab->s", core, QYQ)
        N = n * (n - 1)
        w, y = self.w, self.y
        P = len(y)
        sum_p = w * (s1 + N * b)
        sum_pp = w * (s2 + 2 * b * s1 + N * b * b)
        sum_py = w * sfy + b * y.sum()
        cov = sum_py - sum_p * y.sum() / P
        var_p = sum_pp - sum_p**2 / P
        var_y = (y * y).sum() - y.sum() ** 2 / P
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(var_p > 1e-12 * np.abs(sum_pp), cov / np.sqrt(var_p * var_y), np.nan)


def _spin_graph(X):
    regions = X.unique_regions()
    pos = np.searchsorted(regions, X.pairs)
    feats = X.region_features(regions, X.primary_variant())
    return regions, PairGraph(feats, X.coords[regions], pos[:, 0], pos[:, 1])


#: Region transformers fitted once for every null: they fit on the set of feature rows
#: X's pairs read, which a spin within X's regions leaves unchanged (same rows, same
#: order), and transform the whole region table.
_REGION_TRANSFORMERS = (RegionPCA, RegionTransformer)


def _batch_plan(estimator, scoring):
    """``(transformers, model)`` whose refits batch exactly, or the reason they do not.

    ``transformers`` is the fitted-once front of a pipeline (None for a bare
    model) and ``model`` the Connectome Model at its end.
    """
    if scoring != "pearson":
        return f"scoring={scoring!r}: only scoring='pearson' is computed in closed form"
    front, model = None, estimator
    if isinstance(estimator, Pipeline):
        *steps, (_, model) = estimator.steps
        for name, step in steps:
            if step is not None and step != "passthrough" and not isinstance(
                step, _REGION_TRANSFORMERS
            ):
                return (
                    f"pipeline step {name!r} ({type(step).__name__}) is not a region "
                    "transformer (RegionPCA, RegionTransformer) whose fit a spin leaves "
                    "unchanged"
                )
        front = estimator[:-1] if steps else None
    if isinstance(model, PLSBilinearRegressor):
        return (
            "the PLS encoder is fitted to the connectivity, which a spin re-pairs with "
            "other features: every null needs its own encoder"
        )
    if not isinstance(model, ConnectomeModelRegressor):
        return f"{type(model).__name__} has no closed form shared by the nulls"
    if isinstance(model.alpha, str):
        return (
            "alpha='auto' chooses alpha on inner region folds of each null's features; "
            "give a fixed alpha (e.g. the alpha_ of the model fitted on the true data) to "
            "batch the refits"
        )
    return front, model


def _refit_loop(estimator, X, y, perms, scorer, n_jobs, progress, what):
    """The true score and each null's, one refit per null, with a progress bar."""
    true = _score(clone(estimator).fit(X, y), X, y, scorer)
    tasks = (delayed(_refit_score)(estimator, X, y, p, scorer) for p in perms)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    null = np.fromiter(tqdm(results, total=len(perms), desc=what, disable=not progress),
                       dtype=float, count=len(perms))
    return true, null


@validate_params(
    {
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "progress": ["boolean"],
    },
    prefer_skip_nested_validation=False,
)
def spin_test(
    estimator,
    X,
    y,
    nulls,
    *,
    scoring="pearson",
    n_jobs=None,
    batch_size=64,
    progress=True,
):
    """Classic spin test: refit on the full data under each null, empirical p-value.

    The model is fitted on all pairs of X and scored on them (how well it
    can fit the data); then the same on each null, i.e. with region r showing
    the features of region ``nulls[k, r]``.

    **Batched refits.** For a :class:`~skconn.models.ConnectomeModelRegressor`
    with a fixed ``alpha``, alone or at the end of a
    :class:`~sklearn.pipeline.Pipeline` of region transformers
    (:class:`~skconn.preprocessing.RegionPCA`,
    :class:`~skconn.preprocessing.RegionTransformer`), with Pearson scoring
    and X holding every pair of its regions, the refits are batched: one SVD
    and one factorised normal operator serve every null (permuting feature
    rows leaves XᵀX unchanged), so 10,000 refits cost about as much as 10,000
    predictions, for any number of features (raw genes included). This is
    exact, not an approximation: the region transformers fit on the same set
    of region rows under every spin within X's regions, so they are fitted
    once (a transformer with an unseeded random solver is then fitted once
    rather than once per null).

    **Refit loop.** Otherwise each null is refitted in a joblib loop with a
    progress bar, and a ``UserWarning`` says why: ``alpha="auto"`` (its inner
    folds pick another alpha for each null's features: fix alpha to batch),
    a :class:`~skconn.models.PLSBilinearRegressor` (its encoder is fitted to
    the connectivity, so it differs for every null), any other estimator or
    pipeline step, another scoring, or an X missing pairs.

    Parameters
    ----------
    estimator : estimator
    X : RegionPairs
        The true data (one variant), e.g. ``make_pairs(connectome)[0]``.
    y : array-like of shape (P,)
    nulls : array-like of shape (K, R)
        Region permutations (R = ``X.n_regions``), e.g. from
        :func:`cge_matched_spins` (``return_all=True``) or :func:`whole_brain_spins`.
    scoring : str, callable or None, default="pearson"
        See :func:`skconn.metrics.get_scorer`; None uses the estimator's
        ``score``. Only ``"pearson"`` (over X's pairs) is batched.
    n_jobs : int, default=None
        joblib workers (threads over blocks of nulls in the batched path,
        fits otherwise).
    batch_size : int, default=64
        Nulls per block in the batched path.
    progress : bool, default=True
        Show a tqdm progress bar over the nulls when they are refitted one by one.

    Returns
    -------
    sklearn.utils.Bunch
        ``score`` (true data), ``null_scores`` (K,), ``pvalue`` =
        (1 + #{null >= score}) / (K + 1), ``batched`` (whether the closed form
        was batched).

    Warns
    -----
    UserWarning
        When the nulls are refitted one by one, with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.models import ConnectomeModelRegressor
    >>> from skconn.nulls import spin_test
    >>> from skconn.pairs import make_pairs
    >>> X, y = make_pairs(make_toy_connectome(20, 4))
    >>> rng = np.random.default_rng(0)
    >>> res = spin_test(ConnectomeModelRegressor(alpha=1.0), X, y,
    ...                 [rng.permutation(20) for _ in range(50)])
    >>> res.null_scores.shape, res.batched, bool(res.score > np.median(res.null_scores))
    ((50,), True, True)
    """
    if not isinstance(X, RegionPairs):
        raise TypeError(f"X must be a RegionPairs, got {type(X).__name__}")
    y = check_pair_target(y, len(X))
    if np.unique(X.variant).tolist() != [0]:
        raise ValueError(
            "X must hold the true data only (variant 0); give the nulls as `nulls`"
        )
    perms = _check_perms(nulls, X.n_regions)
    warn_if_near_identity(perms, where="spin_test", stacklevel=3)
    regions = X.unique_regions()
    # node a of a null shows the features of region perms[k, regions[a]]
    sigma = np.searchsorted(regions, perms[:, regions])
    closed = np.array_equal(np.sort(perms[:, regions], axis=1),
                            np.broadcast_to(regions, (len(perms), len(regions))))
    plan = _batch_plan(estimator, scoring)
    if not closed and not isinstance(plan, str):
        plan = "the nulls move regions of X onto regions that X does not hold"
    if not isinstance(plan, str):
        front, cm = plan
        Xt = X if front is None else clone(front).fit(X, y).transform(X)
        model = _BatchedCM(cm, _spin_graph(Xt)[1], y)
        if not model.usable:
            plan = "X does not hold every pair of its regions equally often"
    if isinstance(plan, str):
        warnings.warn(
            f"spin_test refits {type(estimator).__name__} on each of the {len(perms)} nulls "
            f"one by one (no batched closed form): {plan}",
            UserWarning,
            stacklevel=2,
        )
        scorer = get_scorer(scoring) if scoring is not None else None
        true, null = _refit_loop(estimator, X, y, perms, scorer, n_jobs, progress,
                                 "spin_test refits")
        return Bunch(score=true, null_scores=null, pvalue=_spin_pvalue(true, null),
                     batched=False)
    true = float(model.scores(np.arange(len(regions))[None])[0])
    blocks = [sigma[s : s + batch_size] for s in range(0, len(sigma), batch_size)]
    null = np.concatenate(
        Parallel(n_jobs=n_jobs, prefer="threads")(delayed(model.scores)(b) for b in blocks)
    )
    return Bunch(score=true, null_scores=null, pvalue=_spin_pvalue(true, null), batched=True)


def _spin_pvalue(true: float, null: np.ndarray) -> float:
    """(1 + #{null >= true}) / (K + 1) over the finite nulls; NaN if the true score is not.

    Nulls equal to the true score up to round-off (1e-12, e.g. an identity spin scored in
    another batch) count as reaching it.
    """
    if not np.isfinite(true):
        warnings.warn("the true data scored NaN or inf (e.g. a constant prediction); "
                      "the p-value is NaN", UserWarning, stacklevel=3)
        return float("nan")
    finite = np.isfinite(null)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} of {len(null)} nulls scored NaN or inf; the p-value "
            "uses the other nulls",
            UserWarning,
            stacklevel=3,
        )
    null = null[finite]
    if null.size == 0:
        return float("nan")
    tol = 1e-12 * max(1.0, abs(true))
    return float((1 + np.sum(null >= true - tol)) / (null.size + 1))

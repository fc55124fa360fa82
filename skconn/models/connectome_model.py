"""The bilinear Connectome Model: ``y_ij = x_iᵀ O x_j + b``, solved in closed form."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._persistence import VersionedStateMixin
from ..metrics import pearson_r
from ._bilinear_solver import BilinearBasis, BilinearSolution, solve_exact, solve_reference
from ._graph_cv import inner_splits, subgraph
from ._input import PairGraph, check_pair_input, node_targets

__all__ = ["ConnectomeModelRegressor"]

_PENALTIES = ("ridge", "kronecker")


def _default_alphas(eigvals: np.ndarray, penalty: str, n_alphas: int) -> np.ndarray:
    """A path wide enough to go from no shrinkage to the similarity-smoothing limit."""
    top = float(eigvals.max()) if eigvals.size else 1.0
    if penalty == "ridge":
        return top**2 * np.logspace(-10, 2, n_alphas)
    return top * np.logspace(-6, 3, n_alphas)


def _alpha_floor(basis: BilinearBasis, penalty: str) -> float:
    """Smallest penalty strength the exact solver resolves; smaller ones are solved as it.

    λ are the eigenvalues of XᵀX. ``"ridge"`` (entries ``alpha``): ``1e-12·λ_max²``,
    ``λ_max²`` being the largest curvature of the data term. ``"kronecker"`` (entries
    ``alpha(λ_a + λ_b) + alpha²``): ``1e-9·λ_max``. Its entries are much larger than
    alpha on the top eigenvalues and much smaller on the bottom ones, so the ridge
    floor would discard alphas the solver resolves (every alpha up to
    ``1e-12·λ_max²``). Measured against a QR least-squares solve on real data (20
    and 30 hcp_schaefer100 regions with 800 and 100 genes, the latter scaled ×100):
    within 0.2% of the prediction range at ``1e-9·λ_max`` and above, 1-5% off 10 to
    100 times below it, where conjugate gradients stop resolving the directions the
    pairs leave free.
    """
    top = float(basis.eigvals.max() if basis.eigvals.size else 1.0)
    if penalty == "kronecker":
        return 1e-9 * top
    return 1e-12 * top**2


def bilinear_predict(basis_components, core, intercept, graph: PairGraph) -> np.ndarray:
    """Predictions ``q_iᵀ Õ q_j + b`` for the pairs of a graph."""
    q = graph.features @ basis_components.T
    n, P = graph.n_nodes, graph.n_pairs
    if n * n <= 4 * P + 4096:
        full = q @ core @ q.T
        return full[graph.left, graph.right] + intercept
    t = q @ core
    out = np.empty(P)
    for start in range(0, P, 65536):
        sl = slice(start, start + 65536)
        out[sl] = np.einsum("pr,pr->p", t[graph.left[sl]], q[graph.right[sl]])
    return out + intercept


def _score(y_true, y_pred, scoring):
    """Greater is better; a constant prediction (NaN r) ranks last."""
    if scoring == "mse":
        return -float(np.mean((y_true - y_pred) ** 2))
    r = pearson_r(y_true, y_pred)
    return -np.inf if np.isnan(r) else r


class ConnectomeModelRegressor(VersionedStateMixin, RegressorMixin, BaseEstimator):
    """Bilinear Connectome Model with a closed-form solution and automatic penalty.

    Predicts the connectivity of regions i and j as ``x_iᵀ O x_j + b`` where x are
    region features (e.g. gene expression). ``O`` minimises the squared error over
    the given region pairs plus a penalty; with ``alpha="auto"`` the penalty
    strength (and kind) is chosen on an inner region-level split of the training
    regions, all from one SVD per split.

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        Penalty strength. ``"auto"`` scores a path of ``n_alphas`` values, scaled to
        the eigenvalues of XᵀX, on ``cv`` inner region folds and keeps the best.
        ``0`` is allowed (the published null experiment uses it, REFERENCE §3.2): the
        exact solver then returns the limit of a vanishing penalty, the
        minimum-norm fit, which interpolates the training pairs when features
        outnumber regions. Strengths below a floor, where this limit is reached
        to solver precision, are solved as that floor, so every alpha from 0 to
        it gives the same model: ``1e-12·λ_max²`` for ``"ridge"`` and
        ``1e-9·λ_max`` for ``"kronecker"`` (λ_max the largest eigenvalue of XᵀX).
        ``alpha_`` reports alpha as given.
    penalty : {"auto", "ridge", "kronecker"}, default="auto"
        ``"ridge"``: ``alpha·‖O‖_F²``, the exact ridge objective.
        ``"kronecker"``: ``vec(O)ᵀ[alpha(A⊗I + I⊗A) + alpha²I]vec(O)`` with A = XᵀX,
        the regulariser implied by the published formula (REFERENCE §3.2, §9.1).
        ``"auto"``: chosen with alpha on the inner split (needs ``alpha="auto"``;
        with a fixed alpha it means "ridge").
    solver : {"exact", "reference"}, default="exact"
        ``"exact"`` minimises the objective over exactly the given pairs (never a
        zero diagonal) with an unpenalised intercept. ``"reference"`` computes the
        published approximation ``(XᵀX + αI)⁻¹ XᵀYX (XᵀX + αI)⁻¹`` on the block of
        training regions with the diagonal set to 0 and a mean-residual bias, for
        comparison with the paper; ``penalty`` does not apply to it.
    alphas : array-like of float, default=None
        Candidate strengths for ``alpha="auto"`` (used for every penalty); a
        data-scaled path by default.
    n_alphas : int, default=13
        Length of the default path per penalty.
    cv : int, region splitter or iterable of splits, default=3
        Inner split for ``alpha="auto"``: an int makes that many shuffled folds of
        the training *regions*; a splitter (e.g.
        :class:`~skconn.model_selection.SpatialRegionSplit`) is applied to X; an
        iterable of ``(train, validation)`` arrays of pair indices into X is used
        as given.
    scoring : {"pearson", "mse"}, default="pearson"
        What the inner split maximises: Pearson r or minus the mean squared error
        of the validation pairs.
    fit_intercept : bool, default=True
    tol : float, default=1e-10
        Relative residual at which the exact solver's conjugate gradients stop.
    max_iter : int, default=200
        Conjugate-gradient iterations allowed to the exact solver.
    random_state : int, RandomState instance or None, default=None
        Shuffles the inner folds.

    Attributes
    ----------
    alpha_ : float
        The penalty strength used for the final fit.
    penalty_ : str
        The penalty used (``"reference"`` for the published formula).
    components_ : ndarray of shape (r, F)
        Orthonormal basis of the training regions' features (r ≤ min(n, F)).
    core_ : ndarray of shape (r, r)
        The interaction matrix in that basis: ``O = components_ᵀ core_ components_``.
    coef_ : ndarray of shape (F, F)
        The full interaction matrix O (computed on access).
    intercept_ : float
    n_iter_ : int
        Conjugate-gradient iterations of the final fit.
    cv_results_ : dict or None
        For ``alpha="auto"``: ``penalty``, ``alpha``, ``mean_score`` and
        ``split{k}_score`` arrays over the candidates.
    n_features_in_ : int
        Twice the number of features per region.

    See Also
    --------
    PLSBilinearRegressor : The same decoder on a supervised low-dimensional encoding.
    LowRankBilinearRegressor : A rank-constrained, gradient-fitted variant.

    Notes
    -----
    With the thin SVD ``X = U S Vᵀ`` of the training regions' features, both
    penalties are diagonal in the basis V, and the exact minimiser over a complete
    grid of pairs is ``Õ_ab = (Vᵀ XᵀYX V)_ab / (λ_a λ_b + pen_ab)`` (REFERENCE §9.1).
    Pairs that are not given (the diagonal, cross pairs, missing regions) make the
    problem weighted; it is then solved by conjugate gradients preconditioned with
    that closed form, which converges in a few iterations.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.models import ConnectomeModelRegressor
    >>> X, y = make_pairs(make_toy_connectome(30, 8))
    >>> model = ConnectomeModelRegressor(random_state=0).fit(X, y)
    >>> model.core_.shape
    (8, 8)
    >>> round(float(model.score(X, y)), 2) > 0
    True
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "penalty": [StrOptions({"auto", "ridge", "kronecker"})],
        "solver": [StrOptions({"exact", "reference"})],
        "alphas": ["array-like", None],
        "n_alphas": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), "cv_object"],
        "scoring": [StrOptions({"pearson", "mse"})],
        "fit_intercept": ["boolean"],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        alpha="auto",
        *,
        penalty="auto",
        solver="exact",
        alphas=None,
        n_alphas=13,
        cv=3,
        scoring="pearson",
        fit_intercept=True,
        tol=1e-10,
        max_iter=200,
        random_state=None,
    ):
        self.alpha = alpha
        self.penalty = penalty
        self.solver = solver
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # ----------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model on region pairs.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)
            Region pairs (see :func:`skconn.pairs.make_pairs`), or a dense matrix
            whose rows are ``[x_i, x_j]``.
        y : array-like of shape (P,)
            Connectivity of each pair.

        Returns
        -------
        self : ConnectomeModelRegressor
        """
        graph, y = check_pair_input(self, X, y, reset=True)
        self._fit_graph(graph, y, X)
        return self

    def _candidates(self, basis: BilinearBasis) -> list[tuple[str, float]]:
        if self.solver == "reference":
            penalties = ["reference"]
        elif self.penalty == "auto":
            penalties = list(_PENALTIES)
        else:
            penalties = [self.penalty]
        out = []
        for pen in penalties:
            if self.alphas is not None:
                try:
                    alphas = np.asarray(self.alphas, dtype=float).ravel()
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"alphas must be an array of numbers, got {self.alphas!r}"
                    ) from exc
                if alphas.size == 0 or (alphas < 0).any() or not np.isfinite(alphas).all():
                    raise ValueError("alphas must be a non-empty array of finite values >= 0")
            else:
                alphas = _default_alphas(
                    basis.eigvals, "kronecker" if pen == "reference" else pen, self.n_alphas
                )
            out.extend((pen, float(a)) for a in np.sort(alphas)[::-1])
        return out

    def _solve(self, basis, Y, W, penalty, alpha, *, tol, init=None) -> BilinearSolution:
        if penalty == "reference":
            return solve_reference(basis, Y, W, alpha=alpha, fit_intercept=self.fit_intercept)
        # the minimum-norm limit: below this vanishing ridge, conjugate gradients no
        # longer see the directions the pairs leave free (e.g. O's action on the
        # diagonal when features outnumber regions), which would then keep whatever
        # the starting point had instead of converging as alpha -> 0
        alpha = max(alpha, _alpha_floor(basis, penalty))
        return solve_exact(
            basis,
            Y,
            W,
            penalty=penalty,
            alpha=alpha,
            fit_intercept=self.fit_intercept,
            tol=tol,
            max_iter=self.max_iter,
            init=init,
        )

    def _path_scores(self, train: PairGraph, y_train, val: PairGraph, y_val, candidates):
        """Validation score of every (penalty, alpha) candidate, warm-started down the path."""
        basis = BilinearBasis.from_features(train.features)
        Y, W = node_targets(train, y_train)
        scores = np.empty(len(candidates))
        prev, prev_pen = None, None
        for k, (pen, alpha) in enumerate(candidates):
            init = prev if pen == prev_pen else None
            sol = self._solve(basis, Y, W, pen, alpha, tol=max(self.tol, 1e-6), init=init)
            pred = bilinear_predict(basis.components, sol.core, sol.intercept, val)
            scores[k] = _score(y_val, pred, self.scoring)
            prev, prev_pen = sol, pen
        return scores

    def _select(self, graph: PairGraph, y, X, encode=None):
        """Pick (penalty, alpha) on inner region folds.

        ``encode(train_graph, y_train)``, if given, fits a feature map on each inner
        training fold only and returns it, so that supervised encoders (PLS) never
        see the validation regions.
        """
        folds = inner_splits(graph, self.cv, self.random_state, X)
        all_scores = []
        candidates = None
        for tr, va in folds:
            train, val = subgraph(graph, tr), subgraph(graph, va)
            if encode is not None:
                transform = encode(train, y[tr])
                train.features = transform(train.features)
                val.features = transform(val.features)
            if candidates is None:
                candidates = self._candidates(BilinearBasis.from_features(train.features))
            all_scores.append(self._path_scores(train, y[tr], val, y[va], candidates))
        scores = np.array(all_scores)
        mean = scores.mean(axis=0)
        best = int(np.nanargmax(np.where(np.isfinite(mean), mean, -np.inf)))
        results = {
            "penalty": np.array([c[0] for c in candidates]),
            "alpha": np.array([c[1] for c in candidates]),
            "mean_score": mean,
        }
        for k, s in enumerate(scores):
            results[f"split{k}_score"] = s
        return candidates[best], results

    def _choose(self, graph: PairGraph, y: np.ndarray, X=None, encode=None):
        """(penalty, alpha) to use: selected on inner folds, or from the parameters."""
        if self.alpha == "auto":
            (penalty, alpha), self.cv_results_ = self._select(graph, y, X, encode)
            return penalty, alpha
        if self.solver == "reference":
            penalty = "reference"
        else:
            penalty = "ridge" if self.penalty == "auto" else self.penalty
        self.cv_results_ = None
        return penalty, float(self.alpha)

    def _fit_graph(self, graph: PairGraph, y: np.ndarray, X=None, choice=None) -> None:
        """Fit on a PairGraph (shared with estimators that transform features first)."""
        basis = BilinearBasis.from_features(graph.features)
        Y, W = node_targets(graph, y)
        penalty, alpha = self._choose(graph, y, X) if choice is None else choice
        sol = self._solve(basis, Y, W, penalty, alpha, tol=self.tol)
        if not sol.converged and penalty != "reference":
            warnings.warn(
                f"the exact solver stopped after {sol.n_iter} iterations without reaching "
                f"tol={self.tol}; increase max_iter or alpha",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.alpha_, self.penalty_ = alpha, penalty
        self.components_, self.core_ = basis.components, sol.core
        self.intercept_, self.n_iter_ = sol.intercept, sol.n_iter

    # ----------------------------------------------------------------- prediction
    @property
    def coef_(self) -> np.ndarray:
        check_is_fitted(self, "core_")
        return self.components_.T @ self.core_ @ self.components_

    def _predict_graph(self, graph: PairGraph) -> np.ndarray:
        return bilinear_predict(self.components_, self.core_, self.intercept_, graph)

    def predict(self, X):
        """Predict the connectivity of region pairs.

        Parameters
        ----------
        X : RegionPairs or array-like of shape (P, 2F)

        Returns
        -------
        ndarray of shape (P,)
        """
        graph = check_pair_input(self, X, reset=False)
        return self._predict_graph(graph)

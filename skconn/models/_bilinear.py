"""The bilinear decoder ``y_ij = x_iᵀ O x_j + b``: one implementation for every user.

:class:`BilinearDecoder` holds what decides a bilinear fit (penalty, strength,
solver, intercept, the inner split that picks ``alpha="auto"``) and turns a
:class:`~skconn.models._input.PairGraph` and its targets into a
:class:`BilinearFit` (basis, core, intercept), which predicts pairs. The
Connectome Model fits it on raw region features, the PLS model on its
encoder's scores, and the batched null refits of :func:`skconn.nulls.spin_test`
take their penalty and strength from :meth:`BilinearDecoder.fixed_choice` and
:meth:`BilinearDecoder.effective_alpha`, so the three agree by construction.

The solvers themselves (one SVD per graph, exact conjugate gradients or the
published approximation) are in :mod:`skconn.models._bilinear_solver`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..metrics import pearson_r
from ._bilinear_solver import BilinearBasis, BilinearSolution, solve_exact, solve_reference
from ._graph_cv import inner_splits, subgraph
from ._input import PairGraph, check_pair_target, node_targets

__all__ = [
    "PENALTIES",
    "BilinearBasis",
    "BilinearDecoder",
    "BilinearFit",
    "PairGraph",
    "alpha_floor",
    "bilinear_predict",
    "check_pair_target",
    "default_alphas",
    "node_targets",
]

#: The penalties that ``penalty="auto"`` chooses between.
PENALTIES = ("ridge", "kronecker")


def default_alphas(eigvals: np.ndarray, penalty: str, n_alphas: int) -> np.ndarray:
    """A path wide enough to go from no shrinkage to the similarity-smoothing limit."""
    top = float(eigvals.max()) if eigvals.size else 1.0
    if penalty == "ridge":
        return top**2 * np.logspace(-10, 2, n_alphas)
    return top * np.logspace(-6, 3, n_alphas)


def alpha_floor(basis: BilinearBasis, penalty: str) -> float:
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


@dataclass
class BilinearFit:
    """A fitted decoder: ``O = components_ᵀ core components_`` and an intercept."""

    components: np.ndarray  # (r, F)
    core: np.ndarray  # (r, r)
    intercept: float
    penalty: str
    alpha: float
    n_iter: int = 0
    converged: bool = True
    cv_results: dict | None = None

    def predict(self, graph: PairGraph) -> np.ndarray:
        """Predictions for the pairs of ``graph`` (features in the fitted space)."""
        return bilinear_predict(self.components, self.core, self.intercept, graph)

    def set_attributes(self, estimator) -> None:
        """Write the fitted attributes of a bilinear estimator (``alpha_``, ``core_``, ...)."""
        estimator.alpha_, estimator.penalty_ = self.alpha, self.penalty
        estimator.components_, estimator.core_ = self.components, self.core
        estimator.intercept_, estimator.n_iter_ = self.intercept, self.n_iter
        estimator.cv_results_ = self.cv_results


#: ``encode(train_graph, y_train)`` returns a feature map fitted on that inner fold only.
Encoder = Callable[[PairGraph, np.ndarray], Callable[[np.ndarray], np.ndarray]]


@dataclass
class BilinearDecoder:
    """The settings of a bilinear fit (the Connectome Model's parameters, validated).

    See :class:`~skconn.models.ConnectomeModelRegressor` for the meaning of each.
    """

    alpha: float | str = "auto"
    penalty: str = "auto"
    solver: str = "exact"
    alphas: object = None
    n_alphas: int = 13
    cv: object = 3
    scoring: str = "pearson"
    fit_intercept: bool = True
    tol: float = 1e-10
    max_iter: int = 200
    random_state: object = field(default=None)

    @classmethod
    def from_estimator(cls, estimator) -> BilinearDecoder:
        """The decoder an estimator's parameters describe (missing ones take the defaults)."""
        params = estimator.get_params(deep=False)
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in params.items() if k in names})

    # ------------------------------------------------------------ penalty and strength
    def fixed_choice(self) -> tuple[str, float]:
        """(penalty, alpha) for a fixed ``alpha``: ``penalty="auto"`` means ridge."""
        if self.solver == "reference":
            penalty = "reference"
        else:
            penalty = "ridge" if self.penalty == "auto" else self.penalty
        return penalty, float(self.alpha)

    @staticmethod
    def effective_alpha(basis: BilinearBasis, penalty: str, alpha: float) -> float:
        """The strength the solver uses: ``alpha`` raised to :func:`alpha_floor`.

        Below this vanishing ridge, conjugate gradients no longer see the directions
        the pairs leave free (e.g. O's action on the diagonal when features outnumber
        regions), which would keep whatever the starting point had instead of
        converging as alpha -> 0. The published approximation takes alpha as given.
        """
        if penalty == "reference":
            return float(alpha)
        return max(float(alpha), alpha_floor(basis, penalty))

    def candidates(self, basis: BilinearBasis) -> list[tuple[str, float]]:
        """(penalty, alpha) candidates of ``alpha="auto"``, strongest first per penalty."""
        if self.solver == "reference":
            penalties = ["reference"]
        elif self.penalty == "auto":
            penalties = list(PENALTIES)
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
                alphas = default_alphas(
                    basis.eigvals, "kronecker" if pen == "reference" else pen, self.n_alphas
                )
            out.extend((pen, float(a)) for a in np.sort(alphas)[::-1])
        return out

    # ------------------------------------------------------------ solving
    def solve(self, basis, Y, W, penalty, alpha, *, tol, init=None) -> BilinearSolution:
        """One solve on node targets ``Y`` and weights ``W`` (see :func:`node_targets`)."""
        if penalty == "reference":
            return solve_reference(basis, Y, W, alpha=alpha, fit_intercept=self.fit_intercept)
        return solve_exact(
            basis,
            Y,
            W,
            penalty=penalty,
            alpha=self.effective_alpha(basis, penalty, alpha),
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
            sol = self.solve(basis, Y, W, pen, alpha, tol=max(self.tol, 1e-6), init=init)
            pred = bilinear_predict(basis.components, sol.core, sol.intercept, val)
            scores[k] = _score(y_val, pred, self.scoring)
            prev, prev_pen = sol, pen
        return scores

    def select(self, graph: PairGraph, y, X=None, encode: Encoder | None = None):
        """Pick (penalty, alpha) on inner region folds; returns it and ``cv_results_``.

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
                candidates = self.candidates(BilinearBasis.from_features(train.features))
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

    def choose(self, graph: PairGraph, y, X=None, encode: Encoder | None = None):
        """(penalty, alpha) and ``cv_results_``: selected on inner folds or from the settings."""
        if self.alpha == "auto":
            return self.select(graph, y, X, encode)
        return self.fixed_choice(), None

    def fit(self, graph: PairGraph, y, X=None, *, choice=None, encode: Encoder | None = None,
            stacklevel: int = 2) -> BilinearFit:
        """Fit on a graph; ``choice=((penalty, alpha), cv_results)`` skips the selection.

        ``X`` (the estimator's input) is what a splitter given as ``cv`` splits;
        ``encode`` is passed to :meth:`select` (the graph's features must already be
        the encoded ones).
        """
        if choice is None:
            choice = self.choose(graph, y, X, encode)
        (penalty, alpha), cv_results = choice
        basis = BilinearBasis.from_features(graph.features)
        Y, W = node_targets(graph, y)
        sol = self.solve(basis, Y, W, penalty, alpha, tol=self.tol)
        if not sol.converged and penalty != "reference":
            warnings.warn(
                f"the exact solver stopped after {sol.n_iter} iterations without reaching "
                f"tol={self.tol}; increase max_iter or alpha",
                ConvergenceWarning,
                stacklevel=stacklevel + 1,
            )
        return BilinearFit(
            components=basis.components,
            core=sol.core,
            intercept=sol.intercept,
            penalty=penalty,
            alpha=alpha,
            n_iter=sol.n_iter,
            converged=sol.converged,
            cv_results=cv_results,
        )

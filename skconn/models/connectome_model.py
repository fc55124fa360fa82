"""The bilinear Connectome Model: ``y_ij = x_iᵀ O x_j + b``, solved in closed form."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._persistence import VersionedStateMixin
from ._bilinear import BilinearDecoder, BilinearFit
from ._input import PairGraph, check_pair_input

__all__ = ["ConnectomeModelRegressor"]


class _BilinearPredictMixin:
    """``predict`` of estimators whose last step is a bilinear decoder.

    ``_decoder_graph(graph)`` maps the input graph to the decoder's features
    (identity by default) and ``_decoder_fit()`` returns the fitted decoder.
    """

    def _decoder_graph(self, graph: PairGraph) -> PairGraph:
        return graph

    def _decoder_fit(self) -> BilinearFit:
        return BilinearFit(self.components_, self.core_, self.intercept_, self.penalty_,
                           self.alpha_)

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
        return self._decoder_fit().predict(self._decoder_graph(graph))


class ConnectomeModelRegressor(
    _BilinearPredictMixin, VersionedStateMixin, RegressorMixin, BaseEstimator
):
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
        ``0`` is allowed (the published null experiment uses it): the
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
        the regulariser implied by the published formula (Ratzan et al., NeurIPS 2025).
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
    grid of pairs is ``Õ_ab = (Vᵀ XᵀYX V)_ab / (λ_a λ_b + pen_ab)``.
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
        BilinearDecoder.from_estimator(self).fit(graph, y, X).set_attributes(self)
        return self

    # ----------------------------------------------------------------- prediction
    @property
    def coef_(self) -> np.ndarray:
        check_is_fitted(self, "core_")
        return self.components_.T @ self.core_ @ self.components_

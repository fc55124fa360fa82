"""A multilayer perceptron on concatenated region features (the published MLP baseline)."""

from __future__ import annotations

import torch
from torch import nn

from ._torch import PairNet, mlp_head, with_shared_docs

__all__ = ["PairMLP", "PairMLPRegressor"]


class PairMLP(nn.Module):
    """MLP on ``[x_i, x_j]`` or, with coordinates, ``[x_i, xyz_i, x_j, xyz_j]``.

    Parameters
    ----------
    n_features : int
        Features per region, F.
    hidden_dims : sequence of int, default=(512, 256, 128)
        Widths of the hidden blocks Linear → ReLU → BatchNorm1d → Dropout.
    dropout : float, default=0.1
    use_coords : bool, default=False
        Append each region's standardised MNI centroid to its features.
    use_expression : bool, default=True
        Use the region features; False (with ``use_coords``) sees only the
        coordinates, ``[xyz_i, xyz_j]``.
    """

    def __init__(
        self,
        n_features,
        hidden_dims=(512, 256, 128),
        dropout=0.1,
        use_coords=False,
        use_expression=True,
    ):
        super().__init__()
        if not (use_coords or use_expression):
            raise ValueError(
                "use_expression=False needs use_coords=True: the network would see no input"
            )
        self.use_coords = use_coords
        self.use_expression = use_expression
        per_region = (n_features if use_expression else 0) + (3 if use_coords else 0)
        self.head = mlp_head(2 * per_region, hidden_dims, dropout)
        self.register_buffer("coord_mean", torch.zeros(3))
        self.register_buffer("coord_scale", torch.ones(3))

    def set_coord_stats(self, mean, scale):
        """Standardise coordinates with these (3,) training statistics."""
        self.coord_mean.copy_(torch.as_tensor(mean))
        self.coord_scale.copy_(torch.as_tensor(scale))

    def forward(self, features, left, right, coords=None):
        """Predict the pairs ``(left[b], right[b])`` of u nodes: features (u, F) → (B,)."""
        if self.use_coords:
            if coords is None:
                raise ValueError("use_coords=True needs region coordinates (RegionPairs input)")
            z = ((coords - self.coord_mean) / self.coord_scale).to(features.dtype)
            features = torch.cat([features, z], dim=1) if self.use_expression else z
        x = torch.cat([features[left], features[right]], dim=1)
        return self.head(x).squeeze(-1)


@with_shared_docs
class PairMLPRegressor(PairNet):
    """Region-pair MLP regressor trained with skorch (the published "MLP" baseline).

    Each pair's input is ``[x_i, x_j]`` (``use_coords=True``:
    ``[x_i, xyz_i, x_j, xyz_j]``, coordinates standardised with the training
    regions' mean and SD; ``use_expression=False`` too: ``[xyz_i, xyz_j]``, the
    "MLP on coordinates alone" baseline) and passes through hidden blocks Linear →
    ReLU → BatchNorm1d → Dropout and a final Linear (Ratzan et al., NeurIPS
    2025). Trained with AdamW on the mean squared error; ReduceLROnPlateau and
    early stopping (best weights restored from a copy) watch the loss on a
    validation split of the training *regions*.

    Parameters
    ----------
    module : type, default=PairMLP
        Module class; its arguments are set with ``module__<name>``:
        ``hidden_dims`` (default (512, 256, 128)) and ``dropout`` (0.1).
    lr : float, default=9e-5
        AdamW learning rate (``optimizer__weight_decay`` sets the decay).
    max_epochs : int, default=125
    use_coords : bool, default=False
        Append each region's standardised MNI centroid to its features (needs
        ``RegionPairs`` input). ``module__use_coords=True`` is the same switch.
    use_expression : bool, default=True
        Feed the region features (gene expression). False needs
        ``use_coords=True``: the network then sees only the two regions'
        coordinates, which null variants never permute, so it predicts the same
        on observed and spun input.
    {shared_parameters}

    Attributes
    ----------
    module_ : PairMLP
    {shared_attributes}

    See Also
    --------
    skconn.models.smt.SMTRegressor : The transformer on tokenised genes.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.models.mlp import PairMLPRegressor
    >>> X, y = make_pairs(make_toy_connectome(20, 6))
    >>> mlp = PairMLPRegressor(module__hidden_dims=(16,), max_epochs=2, random_state=0)
    >>> mlp.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> coords_only = PairMLPRegressor(use_coords=True, use_expression=False,
    ...                                module__hidden_dims=(16,), max_epochs=2)
    >>> coords_only.fit(X, y).module_.head[0].in_features  # two regions' x, y, z
    6
    """

    _lr_defaults = {"factor": 0.3, "patience": 20, "threshold": 0.05}

    _parameter_constraints = {
        **PairNet._parameter_constraints,
        "use_coords": ["boolean"],
        "use_expression": ["boolean"],
    }

    def __init__(
        self,
        module=PairMLP,
        *,
        lr=9e-5,
        max_epochs=125,
        use_coords=False,
        use_expression=True,
        **kwargs,
    ):
        super().__init__(module, lr=lr, max_epochs=max_epochs, **kwargs)
        self.use_coords = use_coords
        self.use_expression = use_expression

    def _check_params(self) -> None:
        super()._check_params()  # the declared constraints, these included
        module_coords = self.get_params_for("module").get("use_coords")
        if self.use_coords and module_coords is not None and not module_coords:
            raise ValueError(
                "use_coords=True contradicts module__use_coords=False; set only use_coords"
            )
        if not (self.use_expression or self._uses_coords()):
            raise ValueError(
                "use_expression=False needs use_coords=True: the network would see no input"
            )

    def _uses_coords(self) -> bool:
        return bool(self.use_coords or self.get_params_for("module").get("use_coords", False))

    def _module_data_kwargs(self) -> dict:
        return {
            "n_features": self.n_features_in_ // 2,
            "use_coords": self._uses_coords(),
            "use_expression": bool(self.use_expression),
        }

"""A multilayer perceptron on concatenated region features (REFERENCE §3.5)."""

from __future__ import annotations

import torch
from torch import nn

from ._torch import PairNet, mlp_head

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
    """

    def __init__(self, n_features, hidden_dims=(512, 256, 128), dropout=0.1, use_coords=False):
        super().__init__()
        self.use_coords = use_coords
        per_region = n_features + (3 if use_coords else 0)
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
            z = (coords - self.coord_mean) / self.coord_scale
            features = torch.cat([features, z.to(features.dtype)], dim=1)
        x = torch.cat([features[left], features[right]], dim=1)
        return self.head(x).squeeze(-1)


class PairMLPRegressor(PairNet):
    """Region-pair MLP regressor trained with skorch (the published "MLP" baseline).

    Each pair's input is ``[x_i, x_j]`` (``module__use_coords=True``:
    ``[x_i, xyz_i, x_j, xyz_j]``, coordinates standardised with the training
    regions' mean and SD) and passes through hidden blocks Linear → ReLU →
    BatchNorm1d → Dropout and a final Linear (REFERENCE §3.5). Trained with
    AdamW on the mean squared error; ReduceLROnPlateau and early stopping (best
    weights restored from a copy) watch the loss on a validation split of the
    training *regions*.

    Parameters
    ----------
    module : type, default=PairMLP
        Module class; its arguments are set with ``module__<name>``:
        ``hidden_dims`` (default (512, 256, 128)), ``dropout`` (0.1) and
        ``use_coords`` (False).
    lr : float, default=9e-5
        AdamW learning rate (``optimizer__weight_decay`` sets the decay).
    max_epochs : int, default=125
    batch_size : int, default=512
        Pairs per batch, at least 2 (BatchNorm), or -1 for all pairs. A batch of a
        single pair is merged into the previous one.
    validation_fraction : float or None, default=0.2
        Fraction of the training regions held out to monitor; pairs with both
        regions held out form the validation set, cross pairs are unused.
        ``None`` trains on everything and monitors the training loss.
    patience : int or None, default=50
        Early-stopping patience in epochs (None: no early stopping).
    lr_patience : int, default=None
        ReduceLROnPlateau patience (None: 20, the published value). Factor 0.3,
        threshold 0.05 relative, cooldown 1, min_lr 1e-6; change them with
        ``callbacks__lr_scheduler__<name>``.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (weights, dropout), the validation split and the shuffling. An int
        gives bit-identical fits on CPU, also across processes and when several fits run
        in threads at once (neural fits in one process take turns on torch's generator);
        a seeded fit leaves the caller's torch random stream as it found it.
    progress_bar : bool, default=False
        Show a tqdm progress bar per epoch.
    autocast : {"auto", True, False}, default="auto"
        bf16 autocast of the forward pass: "auto" on CUDA only, True on any device
        (on CPU it runs, but is only faster on CPUs with bf16 instructions).
    device : str, default="auto"
        Torch device; "auto" picks CUDA when available.
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    train_split : callable or None, default=None
        A skorch-style ``(dataset, y) -> (train, valid)`` replacing the region
        validation split. It must return subsets of the dataset it is given:
        ``dataset.subset(positions)`` or ``torch.utils.data.Subset`` (as skorch's
        ``ValidSplit`` does); ``valid`` may be None.
    batching : {"random", "region_blocks"}, default="random"
        How training batches are drawn: uniformly shuffled pairs, or all pairs
        between two random blocks of regions per batch (fewer distinct regions
        per batch: cheaper for region encoders such as SMT; see
        :class:`~skconn.models._torch.PairBatches`).
    refit_all : bool, default=False
        After training with the validation split, retrain from the same
        initial weights (saved, so for any ``random_state``; only the output
        bias moves to the mean of all pairs with ``output_init="mean"``) on
        *all* training pairs (the held-out regions and the cross pairs
        included) for the epoch count of the lowest validation loss
        (``best_epoch_``). The validation split keeps only (1 - f)² + f² of
        the pairs (68% at f = 0.2), which matters on small atlases. Not
        supported with ``warm_start=True`` (a ``ValueError`` at ``fit``): the
        refit would discard the warm-started weights.
    output_init : {"mean", "torch"}, default="mean"
        "mean": the network starts as the constant predictor of the training
        targets' mean (last Linear layer: zero weights, the mean as bias). "torch":
        PyTorch's default initialisation, as published. On small atlases, "torch"
        starts with an output variance ~10x that of FC, and early stopping can end
        before training undoes it (then the restored net is near its random
        initialisation); see ``benchmarks/RESULTS.md``.
    **kwargs
        Any other skorch ``NeuralNet`` parameter (``optimizer__weight_decay``,
        ``callbacks``, ``compile``, ``iterator_valid__batch_size``...). Batches
        are built by :class:`~skconn.models._torch.PairBatches`, not a
        DataLoader: of the ``iterator_train__``/``iterator_valid__`` parameters
        only ``batch_size`` and ``shuffle`` are used (training batches are
        shuffled unless ``iterator_train__shuffle=False``). ``warm_start=True``
        makes a later ``fit`` continue from the fitted weights, keeping the
        fitted input checks and preprocessing (the same genes are required).

    Attributes
    ----------
    module_ : PairMLP
    history_ : skorch.History
    n_features_in_ : int
        Width of the dense pair matrix, 2F.
    train_pairs_, valid_pairs_ : ndarray of int
        Positions (in the fitted X) of the pairs trained on and validated on.
    coord_mean_, coord_scale_ : ndarray of shape (3,)
    best_epoch_ : int or None
        Epoch (1-based, numbered as in ``history_``) whose weights the net holds:
        the lowest validation loss of the last ``fit``/``partial_fit`` call,
        which early stopping restores (without early stopping,
        ``patience=None``: that call's last epoch). With ``refit_all``, the
        number of epochs retrained (the selection run's lowest validation
        loss). None when no validation split was drawn.
    selection_history_ : skorch.History
        With ``refit_all``: the history of the run that chose ``best_epoch_``.

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
    """

    _lr_defaults = {"factor": 0.3, "patience": 20, "threshold": 0.05}

    def __init__(
        self,
        module=PairMLP,
        *,
        lr=9e-5,
        max_epochs=125,
        batch_size=512,
        validation_fraction=0.2,
        patience=50,
        lr_patience=None,
        random_state=None,
        progress_bar=False,
        autocast="auto",
        device="auto",
        verbose=0,
        train_split=None,
        batching="random",
        refit_all=False,
        output_init="mean",
        **kwargs,
    ):
        super().__init__(
            module,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            validation_fraction=validation_fraction,
            patience=patience,
            lr_patience=lr_patience,
            random_state=random_state,
            progress_bar=progress_bar,
            autocast=autocast,
            device=device,
            verbose=verbose,
            train_split=train_split,
            batching=batching,
            refit_all=refit_all,
            output_init=output_init,
            **kwargs,
        )

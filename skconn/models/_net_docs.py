"""Parameter and attribute docs shared by the neural pair estimators (written once)."""

from __future__ import annotations

from ._pair_data import PREDICT_BATCH_SIZE

__all__ = ["SHARED_ATTRIBUTES_DOC", "shared_parameters_doc", "with_shared_docs"]


def shared_parameters_doc(cls) -> str:
    """The Parameters entries every neural pair estimator shares (numpydoc text)."""
    lr = dict(cls._lr_defaults)
    return f"""\
    batch_size : int, default=512
        Pairs per training batch, at least 2 (BatchNorm), or -1 for all pairs. A
        batch of a single pair is merged into the previous one. Prediction and
        validation use batches of max(batch_size, {PREDICT_BATCH_SIZE}) pairs
        (``iterator_valid__batch_size`` sets it).
    validation_fraction : float or None, default=0.2
        Fraction of the training regions held out to monitor; pairs with both
        regions held out form the validation set, cross pairs are unused.
        ``None`` trains on everything and monitors the training loss.
    patience : int or None, default=50
        Early-stopping patience in epochs (None: no early stopping).
    lr_patience : int, default=None
        ReduceLROnPlateau patience (None: {lr["patience"]}, the published value). Factor
        {lr["factor"]}, threshold {lr["threshold"]} relative, cooldown 1, min_lr 1e-6;
        change them with ``callbacks__lr_scheduler__<name>``.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (weights, dropout), the validation split and the shuffling. An int
        gives bit-identical fits on CPU, also across processes and when several fits run
        in threads at once (neural fits in one process take turns on torch's generator);
        a seeded fit leaves the caller's torch random stream as it found it.
    progress_bar : bool, default=False
        Show a tqdm progress bar per epoch.
    autocast : {{"auto", True, False}}, default="auto"
        bf16 autocast of the forward pass: "auto" on CUDA only, True on any device
        (on CPU it runs, but is only faster on CPUs with bf16 instructions). The
        output layer and the loss are computed in float32 either way, so
        predictions are not quantised.
    device : str, default="auto"
        Torch device; "auto" picks CUDA when available. ``set_params(device=...)``
        moves a fitted net; a net fitted on CUDA unpickles on a CPU-only machine
        (mapped to the CPU with skorch's ``DeviceWarning``).
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    train_split : callable or None, default=None
        A skorch-style ``(dataset, y) -> (train, valid)`` replacing the region
        validation split. It must return subsets of the dataset it is given:
        ``dataset.subset(positions)`` or ``torch.utils.data.Subset`` (as skorch's
        ``ValidSplit`` does); ``valid`` may be None.
    batching : {{"random", "region_blocks"}}, default="random"
        How training batches are drawn: uniformly shuffled pairs, or all pairs
        between two random blocks of regions per batch (fewer distinct regions
        per batch: cheaper for region encoders such as SMT, each batch touching
        ~2√(batch_size/2) regions). It pays on large atlases only: at ~100
        parcels a random batch already encodes each training region once, and
        blocks cut an epoch into more, smaller steps (1.1–2.1× slower fits on
        the CPU, accuracy within the fold noise; benchmarks/RESULTS.md).
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
    output_init : {{"mean", "torch"}}, default="mean"
        "mean": the network starts as the constant predictor of the training
        targets' mean (last Linear layer: zero weights, the mean as bias). "torch":
        PyTorch's default initialisation, as published. On small atlases, "torch"
        starts with an output variance ~10x that of FC, and early stopping can end
        before training undoes it (then the restored net is near its random
        initialisation); see ``benchmarks/RESULTS.md``.
    **kwargs
        Any other skorch ``NeuralNet`` parameter (``optimizer__weight_decay``,
        ``callbacks``, ``compile``, ``iterator_valid__batch_size``...). AdamW runs
        with ``fused=True`` on CUDA unless ``optimizer__fused`` or
        ``optimizer__foreach`` is given. Batches are built by skconn's own pair
        batcher, not a DataLoader: of the
        ``iterator_train__``/``iterator_valid__`` parameters only ``batch_size`` and
        ``shuffle`` are used (training batches are shuffled unless
        ``iterator_train__shuffle=False``). ``warm_start=True`` makes a later
        ``fit`` continue from the fitted weights, keeping the fitted input checks
        and preprocessing (the same genes are required)."""


SHARED_ATTRIBUTES_DOC = """\
    history_ : skorch.History
    n_features_in_ : int
        Width of the dense pair matrix, 2F.
    feature_names_in_ : ndarray of shape (2F,)
        The pair-matrix column names of a ``RegionPairs`` fit (``<gene>_i`` then
        ``<gene>_j``), or the column names of a dense DataFrame fit.
    monitor_ : str
        The loss the learning-rate schedule and early stopping watched in the last
        fit: "valid_loss", or "train_loss" without a validation split.
    train_pairs_, valid_pairs_ : ndarray of int
        Positions (in the fitted X) of the pairs trained on and validated on.
    coord_mean_, coord_scale_ : ndarray of shape (3,)
        Coordinate standardisation (training regions' mean and SD).
    best_epoch_ : int or None
        Epoch (1-based, numbered as in ``history_``) whose weights the net holds:
        the lowest validation loss of the last ``fit``/``partial_fit`` call,
        which early stopping restores (without early stopping,
        ``patience=None``: that call's last epoch). With ``refit_all``, the
        number of epochs retrained (the selection run's lowest validation
        loss). None when no validation split was drawn.
    selection_history_ : skorch.History
        With ``refit_all``: the history of the run that chose ``best_epoch_``."""


def with_shared_docs(cls):
    """Fill ``{shared_parameters}`` and ``{shared_attributes}`` in a class docstring."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace(
            "    {shared_parameters}", shared_parameters_doc(cls)
        ).replace("    {shared_attributes}", SHARED_ATTRIBUTES_DOC)
    return cls

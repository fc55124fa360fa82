"""Target-side augmentation with subject-level connectivity (the published Algorithm 2)."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = ["STYLES", "TargetAugmentation", "augmentation_probability"]

STYLES = (
    "constant",
    "linear_decay",
    "linear_increase",
    "linear_peak",
    "curriculum_swap_constant",
    "curriculum_swap_linear_decay",
)


def augmentation_probability(style: str, p: float, epoch: int, max_epochs: int) -> float:
    """p(e): the chance that the batches of epoch ``epoch`` (0-based) are augmented.

    ``linear_decay`` (and ``curriculum_swap_linear_decay``): p·(1 − e/E);
    ``linear_increase``: p·e/E; ``linear_peak``: rises linearly to p at E/2 and
    falls back to 0 at E; ``constant`` (and ``curriculum_swap_constant``): p.
    E is the configured number of epochs (``max_epochs``).

    Examples
    --------
    >>> [augmentation_probability("linear_peak", 0.3, e, 10) for e in (0, 5, 10)]
    [0.0, 0.3, 0.0]
    """
    E = float(max_epochs)
    if style.endswith("linear_decay"):
        return p * (1 - epoch / E)
    if style == "linear_increase":
        return p * epoch / E
    if style == "linear_peak":
        half = E / 2
        return p * epoch / half if epoch <= half else p * (1 - (epoch - half) / half)
    if style.endswith("constant"):
        return p
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")


class TargetAugmentation(Callback):
    """Replace training targets by single subjects' connectivity, on a schedule.

    Once per training batch, with probability p(e) (see
    :func:`augmentation_probability`), the whole batch is augmented: each
    pair's target becomes the value of that edge in one subject drawn uniformly
    among the subjects that have it (NaN = missing). The ``curriculum_swap_*``
    styles first discard the batch and draw a new one of the same size, without
    replacement, from the training pairs whose population target satisfies
    ``|y| > threshold``, as published. Validation batches are never touched.

    Add it to a neural pair estimator with
    ``callbacks=[("augment", TargetAugmentation(...))]``; its parameters then
    tune as ``callbacks__augment__p`` etc.

    Parameters
    ----------
    subject_connectivity : array-like of shape (S, R, R)
        Subject-level connectivity over the R regions of the full region table the
        pairs index (e.g. ``Connectome.subject_connectivity`` of the connectome
        ``make_pairs`` was given). See :meth:`from_connectome`.
    p : float, default=0.3
        Peak augmentation probability.
    style : str, default="curriculum_swap_linear_decay"
        One of ``constant``, ``linear_decay``, ``linear_increase``,
        ``linear_peak``, ``curriculum_swap_constant``,
        ``curriculum_swap_linear_decay``.
    threshold : float, default=0.3
        Population ``|FC|`` above which a pair counts as strong (curriculum styles).
    random_state : int, RandomState instance or None, default=None
        None uses a stream seeded by the estimator's ``random_state``.

    Attributes
    ----------
    n_augmented_ : int
        Batches augmented during the last fit.
    probability_ : float
        p(e) of the current (last) epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.models.mlp import PairMLPRegressor
    >>> from skconn.models import TargetAugmentation
    >>> c = make_toy_connectome(10, 4)
    >>> subjects = c.connectivity + np.random.default_rng(0).normal(0, .1, (5, 10, 10))
    >>> subjects = (subjects + subjects.transpose(0, 2, 1)) / 2
    >>> aug = TargetAugmentation(subjects, p=1.0, style="constant", random_state=0)
    >>> X, y = make_pairs(c)
    >>> net = PairMLPRegressor(module__hidden_dims=(8,), max_epochs=2, batch_size=16,
    ...                        callbacks=[("augment", aug)], random_state=0).fit(X, y)
    >>> dict(net.callbacks_)["augment"].n_augmented_ > 0
    True
    """

    def __init__(
        self,
        subject_connectivity,
        p=0.3,
        style="curriculum_swap_linear_decay",
        threshold=0.3,
        random_state=None,
    ):
        self.subject_connectivity = subject_connectivity
        self.p = p
        self.style = style
        self.threshold = threshold
        self.random_state = random_state

    @classmethod
    def from_connectome(cls, connectome, **kwargs) -> TargetAugmentation:
        """Use a :class:`~skconn.datasets.Connectome`'s subject-level connectivity."""
        if connectome.subject_connectivity is None:
            raise ValueError(f"{connectome!r} has no subject_connectivity")
        return cls(connectome.subject_connectivity, **kwargs)

    def initialize(self):
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        if not (isinstance(self.p, numbers.Real) and 0 <= self.p <= 1):
            raise ValueError(f"p must be a probability in [0, 1], got {self.p!r}")
        sfc = np.asarray(self.subject_connectivity, dtype=np.float32)
        if sfc.ndim != 3 or sfc.shape[1] != sfc.shape[2] or sfc.shape[0] == 0:
            raise ValueError(f"subject_connectivity must have shape (S, R, R), got {sfc.shape}")
        self._subjects = sfc
        self._valid = ~np.isnan(sfc)
        self._rng = None
        if self.random_state is not None:
            from .._arguments import check_random_state

            seed = check_random_state(self.random_state).randint(0, 2**31 - 1)
            self._rng = np.random.default_rng(seed)
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if getattr(X, "pair_regions", None) is None:
            raise ValueError(
                "target augmentation needs RegionPairs input (pairs must name their regions)"
            )
        n = self._subjects.shape[1]
        if X.pair_regions.size and X.pair_regions.max() >= n:
            raise ValueError(
                f"subject_connectivity covers {n} regions but the pairs index region "
                f"{int(X.pair_regions.max())}: give it over the full region table of X"
            )
        if self._rng is None:
            self._rng = net._state.augment_rng or np.random.default_rng()
        self.n_augmented_ = 0

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self._train = dataset_train
        epoch = len(net.history) - 1
        self.probability_ = augmentation_probability(self.style, self.p, epoch, net.max_epochs)
        if self.style.startswith("curriculum"):
            self._strong = np.flatnonzero(np.abs(dataset_train.y) > self.threshold)

    def _subject_targets(self, regions: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        i, j = regions[:, 0], regions[:, 1]
        values = self._subjects[:, i, j]  # (S, B)
        score = self._rng.random(values.shape)
        score[~self._valid[:, i, j]] = -1.0
        pick = score.argmax(axis=0)
        out = values[pick, np.arange(len(i))]
        return np.where(score.max(axis=0) >= 0, out, fallback).astype(np.float32)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training or self.probability_ <= 0 or self._rng.random() >= self.probability_:
            return
        Xi, yi = batch
        if self.style.startswith("curriculum"):
            B = len(Xi)
            if len(self._strong) < B:
                raise ValueError(
                    f"curriculum augmentation needs at least batch_size={B} training pairs "
                    f"with |y| > {self.threshold}; there are {len(self._strong)}"
                )
            new_x, new_y = self._train.batch(self._rng.choice(self._strong, B, replace=False))
            Xi.inputs, Xi.pair_index = new_x.inputs, new_x.pair_index
            yi.copy_(new_y)
        regions = self._train.pair_regions[Xi.pair_index]
        targets = self._subject_targets(regions, yi.detach().cpu().numpy())
        yi.copy_(torch.from_numpy(targets).to(yi.device))
        self.n_augmented_ += 1

    def on_train_end(self, net, **kwargs):
        # the training set holds the node table on the device: not kept with the net
        self._train = self._strong = None

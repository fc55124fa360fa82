"""skorch hooks of a ``PairNet``: default callbacks, optimiser, steps, prediction.

``run_single_epoch`` keeps each epoch's batch losses on the device and reads them
back once per epoch (skorch calls ``.item()`` after every step); AdamW runs fused
on CUDA; under bf16 autocast the output layer
(:class:`~skconn.models._heads.OutputLinear`) and the loss are float32.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import get_len

from ._pair_data import PairBatch

__all__ = ["TrainingStepsMixin"]


class TrainingStepsMixin:
    """Callbacks, optimiser and step hooks of a skorch net (put before ``NeuralNet``)."""

    # ---------------------------------------------------------------- callbacks
    def get_default_callbacks(self):
        callbacks = list(super().get_default_callbacks())
        state = self._state
        lr = dict(self._lr_defaults)
        if self.lr_patience is not None:
            lr["patience"] = self.lr_patience
        callbacks.append(
            (
                "lr_scheduler",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                    monitor=state.monitor,
                    mode="min",
                    threshold_mode="rel",
                    cooldown=1,
                    min_lr=1e-6,
                    **lr,
                ),
            )
        )
        if self.patience is not None and not state.refitting:
            callbacks.append(
                (
                    "early_stopping",
                    # load_best deep-copies the best state and restores it at the end
                    EarlyStopping(
                        monitor=state.monitor,
                        patience=self.patience,
                        threshold=0.0,
                        load_best=True,
                    ),
                )
            )
        if self.progress_bar:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _callbacks_key(self) -> tuple:
        return self._state.monitor, self._state.refitting

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._state.callbacks_key = self._callbacks_key()
        return self

    def _sync_callbacks(self) -> None:
        """Rebuild the callbacks if the monitored loss or the refit state changed.

        The default callbacks (learning-rate schedule, early stopping) depend on
        the monitored loss and on whether the net is refitting; a fitted net that
        trains again (``partial_fit``, a warm-started ``fit``) gets callbacks
        matching them.
        """
        if self._state.callbacks_key != self._callbacks_key():
            self._initialize_callbacks()

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimiser arguments; AdamW/Adam get ``fused=True`` on CUDA.

        Left alone when ``optimizer__fused`` or ``optimizer__foreach`` is given. On
        the CPU torch's default (the per-parameter loop) is kept: ``foreach`` gave
        no measurable gain there (``benchmarks/RESULTS.md``).
        """
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if (
            self.optimizer in (torch.optim.AdamW, torch.optim.Adam)
            and not {"fused", "foreach"} & set(kwargs)
            and torch.device(self.device).type == "cuda"
        ):
            kwargs["fused"] = True
        return args, kwargs

    # ---------------------------------------------------------------- steps
    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, with the batch losses read from the device once per epoch.

        skorch records ``loss.item()`` after every step, a device→host
        synchronisation per batch on CUDA. Here each batch row holds the loss as a
        0-d device tensor while the epoch runs (a callback may still read it:
        ``float(loss)``); at the end of the epoch (also when interrupted) all of
        them are copied to the host at once and the rows get Python floats.
        """
        if iterator is None:
            return
        key = prefix + "_loss"
        rows, losses = [], []
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                loss = step["loss"].detach()
                self.history.record_batch(key, loss)
                rows.append(self.history[-1]["batches"][-1])
                losses.append(loss)
                self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:
            if losses:
                values = torch.stack(losses).float().cpu().tolist()
                for row, value in zip(rows, values, strict=True):
                    row[key] = value
        self.history.record(prefix + "_batch_count", len(rows))

    def _autocast_enabled(self) -> bool:
        # "auto": on CUDA only; True: on any device (CPU bf16 autocast is slow on CPUs
        # without bf16 instructions, but runs, which lets the CUDA code path be tested)
        on_cuda = torch.device(self.device).type == "cuda"
        return self.autocast is True or (on_cuda and self.autocast == "auto")

    def infer(self, x, **fit_params):
        if isinstance(x, PairBatch):
            x = x.inputs
        if self._autocast_enabled():
            with torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16):
                out = super().infer(x, **fit_params)
        else:
            out = super().infer(x, **fit_params)
        return out.float()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion on float32 predictions and targets (also under autocast)."""
        return super().get_loss(y_pred.float(), y_true.float(), X=X, training=training)

    def predict(self, X):
        """Predicted connectivity of each region pair, (P,) float64."""
        return np.asarray(super().predict(X), dtype=np.float64).reshape(-1)

    def score(self, X, y, sample_weight=None):
        from sklearn.metrics import r2_score

        return r2_score(y, self.predict(X), sample_weight=sample_weight)

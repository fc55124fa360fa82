"""Output pieces shared by the neural pair modules: the MLP head and its float32 output."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["OutputLinear", "mlp_head"]


class OutputLinear(nn.Linear):
    """The output layer, computed in float32 even under autocast.

    Under bf16 autocast a Linear layer returns bf16 (8 significant bits), which
    would quantise every prediction, and the loss, to steps of ~2⁻¹⁰ around FC
    values; this layer disables autocast and computes in float32. Its parameters
    are those of :class:`torch.nn.Linear` (same state-dict keys).
    """

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return super().forward(x.float())


def mlp_head(in_dim: int, hidden_dims, dropout: float) -> nn.Sequential:
    """Blocks Linear → ReLU → BatchNorm1d → Dropout, then a float32 ``OutputLinear(·, 1)``."""
    if isinstance(hidden_dims, (str, bytes)) or not isinstance(hidden_dims, Iterable):
        raise TypeError(
            f"hidden_dims must be a sequence of positive ints (e.g. (16,)), got {hidden_dims!r}"
        )
    widths = list(hidden_dims)
    if not all(isinstance(w, numbers.Integral) and w >= 1 for w in widths):
        raise ValueError(f"hidden_dims must be positive ints, got {hidden_dims!r}")
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_dim, width), nn.ReLU(), nn.BatchNorm1d(width), nn.Dropout(dropout)]
        in_dim = width
    layers.append(OutputLinear(in_dim, 1))
    return nn.Sequential(*layers)

"""The Spatiomolecular Transformer (SMT): gene-chunk tokens, ALiBi, shared encoder.

Ratzan et al. (NeurIPS 2025) describe the published model; skconn changes: both
ALiBi slope schemes, a configurable clamp, attention maps taken from the same
computation the model runs, ``scaled_dot_product_attention`` on any device,
bf16 autocast on CUDA by default (``autocast=True``: on any device), and each
distinct region of a batch encoded once.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from .._arguments import naming_argument
from ..datasets._tss import gene_order as _gene_order
from ..datasets._tss import load_gene_tss
from ..pairs import RegionPairs
from ._torch import PairNet, mlp_head, with_shared_docs

__all__ = [
    "ALiBiEncoderBlock",
    "SMTEncoder",
    "SMTModule",
    "SMTRegressor",
    "alibi_slopes",
]


def alibi_slopes(n_heads: int, scheme: str = "neurips") -> torch.Tensor:
    """ALiBi slope of each head, (n_heads,).

    ``"neurips"``: m_h = 1 / 2^⌊h / (n/2)⌋ for h = 0..n-1 ([1, 1, .5, .5] for 4
    heads), the slopes of the paper's runs. ``"press"``: Press et al.'s geometric
    2^(-8k/n), k = 1..n ([.25, .0625, ...] for 4 heads), the reference code's HEAD.

    Examples
    --------
    >>> alibi_slopes(4).tolist(), alibi_slopes(2, "press").tolist()
    ([1.0, 1.0, 0.5, 0.5], [0.0625, 0.00390625])
    """
    h = torch.arange(n_heads, dtype=torch.float64)
    if scheme == "neurips":
        slopes = 1.0 / 2.0 ** torch.floor(h / (n_heads / 2))
    elif scheme == "press":
        slopes = 2.0 ** (-8.0 * (h + 1) / n_heads)
    else:
        raise ValueError(f"alibi must be 'neurips', 'press' or None, got {scheme!r}")
    return slopes.float()


class ALiBiEncoderBlock(nn.Module):
    """Post-LN transformer block with an ALiBi bias and no attention output projection.

    ``x = LN(x + Dropout(Attn(x)))``, ``x = LN(x + Dropout(W2 ReLU(W1 x)))``
    with ``Attn = softmax(QKᵀ/√d_h + B) V`` and ``B[h, i, j] = -m_h |i - j|``
    (the published model's flash-attn convention). 181,760 parameters at d = 128.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        if not (isinstance(n_heads, numbers.Integral) and n_heads >= 1):
            raise ValueError(f"n_heads must be a positive int, got {n_heads!r}")
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, 4 * d_model)
        self.ff2 = nn.Linear(4 * d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, bias=None, need_weights: bool = False):
        """x (N, L, d), bias (h, L, L) or None → (x, weights (N, h, L, L) or None)."""
        N, L, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(x).view(N, L, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        mask = None if bias is None else bias.to(q.dtype)
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(dim=-1)
            attn = weights @ v
        else:
            weights = None
            attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        attn = attn.transpose(1, 2).reshape(N, L, d)
        x = self.norm1(x + self.dropout(attn))
        x = self.norm2(x + self.dropout(self.ff2(F.relu(self.ff1(x)))))
        return x, weights


class SMTEncoder(nn.Module):
    """Region encoder: genes (N, G) → flattened token outputs (N, L·o).

    Genes (already in tokenisation order) are zero-padded to a multiple of
    ``token_size`` and cut into L = ⌈G/t⌉ contiguous chunks; each chunk is
    projected to ``d_model``. With ``use_cls`` a token projected from the
    region's (standardised) MNI centroid is put at position 0. ALiBi is the only
    position signal.
    """

    def __init__(
        self,
        n_genes,
        token_size=60,
        d_model=128,
        n_heads=4,
        n_layers=4,
        output_dim=10,
        dropout=0.2,
        alibi="neurips",
        use_cls=False,
        checkpoint=False,
    ):
        super().__init__()
        if not (isinstance(token_size, numbers.Integral) and token_size >= 1):
            raise ValueError(f"token_size must be a positive int, got {token_size!r}")
        self.checkpoint = checkpoint
        self.n_genes = n_genes
        self.token_size = token_size
        self.n_tokens = -(-n_genes // token_size) + (1 if use_cls else 0)
        self.use_cls = use_cls
        self.input_projection = nn.Linear(token_size, d_model)
        self.cls_projection = nn.Linear(3, d_model) if use_cls else None
        self.layers = nn.ModuleList(
            ALiBiEncoderBlock(d_model, n_heads, dropout) for _ in range(n_layers)
        )
        self.output_projection = nn.Linear(d_model, output_dim)
        if alibi is None:
            self.register_buffer("alibi_bias", None, persistent=False)
        else:
            pos = torch.arange(self.n_tokens, dtype=torch.float32)
            distance = (pos[None, :] - pos[:, None]).abs()
            bias = -alibi_slopes(n_heads, alibi)[:, None, None] * distance
            self.register_buffer("alibi_bias", bias, persistent=False)
        self.register_buffer("coord_mean", torch.zeros(3))
        self.register_buffer("coord_scale", torch.ones(3))

    @property
    def out_dim(self) -> int:
        return self.n_tokens * self.output_projection.out_features

    def tokens(self, genes, coords=None):
        """Input tokens (N, L, d_model)."""
        pad = -genes.shape[1] % self.token_size
        if pad:
            genes = F.pad(genes, (0, pad))
        x = self.input_projection(genes.view(genes.shape[0], -1, self.token_size))
        if self.use_cls:
            if coords is None:
                raise ValueError("use_cls=True needs region coordinates (RegionPairs input)")
            z = ((coords - self.coord_mean) / self.coord_scale).to(x.dtype)
            x = torch.cat([self.cls_projection(z)[:, None, :], x], dim=1)
        return x

    def forward(self, genes, coords=None, need_weights: bool = False):
        x = self.tokens(genes, coords)
        weights = []
        for layer in self.layers:
            if self.checkpoint and torch.is_grad_enabled() and not need_weights:
                # keep only each block's input; recompute the rest in backward
                x, w = torch.utils.checkpoint.checkpoint(
                    layer, x, self.alibi_bias, use_reentrant=False
                )
            else:
                x, w = layer(x, self.alibi_bias, need_weights=need_weights)
            weights.append(w)
        out = self.output_projection(x).flatten(1)
        return (out, weights) if need_weights else out


def _check_clamp(clamp) -> tuple[float, float]:
    """``clamp`` as (low, high) floats with low <= high, or a ``ValueError`` naming it."""
    try:
        low, high = (float(v) for v in clamp)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"clamp must be None or (low, high), got {clamp!r}") from exc
    if not low <= high:
        raise ValueError(f"clamp must be None or (low, high) with low <= high, got {clamp!r}")
    return low, high


class SMTModule(nn.Module):
    """SMT on a batch of pairs: a shared encoder for both regions and an MLP head.

    Parameters
    ----------
    n_genes : int
    token_size : int, default=60
        Genes per token t.
    d_model : int, default=128
    n_heads : int, default=4
    n_layers : int, default=4
    output_dim : int, default=10
        Per-token output projection o; the head sees 2·L·o inputs.
    hidden_dims : sequence of int, default=(512, 256, 128)
    transformer_dropout : float, default=0.2
        Dropout on attention and feed-forward outputs.
    dropout : float, default=0.2
        Dropout in the head.
    alibi : {"neurips", "press"} or None, default="neurips"
        Slope scheme (:func:`alibi_slopes`); None: no position bias.
    clamp : tuple of float or None, default=None
        Clamp predictions to (low, high); the published base model used (-1, 1).
    use_cls : bool, default=False
        Prepend a [CLS] token projected from the region's centroid.
    encode_distinct : bool, default=True
        Encode each distinct region of a batch once and gather. False encodes
        every pair slot, as the published code does (same results, for
        benchmarking).
    checkpoint : bool, default=False
        Activation checkpointing of the encoder blocks in training: less memory
        for ~30% more compute.
    """

    def __init__(
        self,
        n_genes,
        token_size=60,
        d_model=128,
        n_heads=4,
        n_layers=4,
        output_dim=10,
        hidden_dims=(512, 256, 128),
        transformer_dropout=0.2,
        dropout=0.2,
        alibi="neurips",
        clamp=None,
        use_cls=False,
        encode_distinct=True,
        checkpoint=False,
    ):
        super().__init__()
        self.encoder = SMTEncoder(
            n_genes,
            token_size=token_size,
            d_model=d_model,
            n_heads=n_heads,
            n_layers=n_layers,
            output_dim=output_dim,
            dropout=transformer_dropout,
            alibi=alibi,
            use_cls=use_cls,
            checkpoint=checkpoint,
        )
        self.head = mlp_head(2 * self.encoder.out_dim, hidden_dims, dropout)
        self.clamp = None if clamp is None else _check_clamp(clamp)
        self.encode_distinct = encode_distinct

    def set_coord_stats(self, mean, scale):
        """Standardise [CLS] coordinates with these (3,) training statistics."""
        self.encoder.coord_mean.copy_(torch.as_tensor(mean))
        self.encoder.coord_scale.copy_(torch.as_tensor(scale))

    def forward(self, features, left, right, coords=None):
        """Predict the pairs ``(left[b], right[b])`` of u regions: features (u, G) → (B,)."""
        if self.encode_distinct:
            z = self.encoder(features, coords)
            zl, zr = z[left], z[right]
        else:
            zl = self.encoder(features[left], None if coords is None else coords[left])
            zr = self.encoder(features[right], None if coords is None else coords[right])
        out = self.head(torch.cat([zl, zr], dim=1)).squeeze(-1)
        if self.clamp is not None:
            out = out.clamp(*self.clamp)
        return out


@with_shared_docs
class SMTRegressor(PairNet):
    """Spatiomolecular Transformer regressor of region-pair connectivity (skorch).

    Each region's expression vector is put in ``gene_order`` (by transcription
    start site by default), cut into tokens of ``module__token_size`` genes
    (zero-padded at the end, never dropped), encoded by a post-LN transformer
    with ALiBi position bias shared by both regions of a pair, projected per
    token and flattened; an MLP head maps the concatenated pair encoding to the
    connectivity (Ratzan et al., NeurIPS 2025). ``use_cls=True`` adds a [CLS] token made from
    the region's MNI centroid (standardised on the training regions). Each
    distinct region of a batch is encoded once.

    Parameters
    ----------
    use_cls : bool, default=False
        The SMT w/ [CLS] variant.
    gene_order : {"tss", "expression", "random"} or array-like, default="tss"
        How genes become a sequence (:func:`skconn.datasets.gene_order`):
        ``"tss"`` needs gene symbols (``RegionPairs`` feature names), sorts
        by chromosome then transcription start site (the 5' end: the higher
        coordinate of a minus-strand gene, which may differ locally from the
        published ``human_refgenome_ordered.csv``, not verified; see the Notes
        of :func:`skconn.datasets.gene_order`) and puts genes missing from the
        TSS table last; ``"expression"`` sorts by mean
        expression over the training regions; ``"random"`` draws from
        ``random_state``; or an explicit order (symbols or positions).
    module : type, default=SMTModule
        Architecture parameters are set with ``module__<name>`` (see
        :class:`SMTModule`): ``token_size`` (60), ``d_model`` (128), ``n_heads``
        (4), ``n_layers`` (4), ``output_dim`` (10), ``hidden_dims``
        ((512, 256, 128)), ``transformer_dropout`` (0.2), ``dropout`` (0.2),
        ``alibi`` ("neurips"), ``clamp`` (None), ``checkpoint`` (False).
    lr : float, default=1e-4
        AdamW learning rate (``optimizer__weight_decay``, default 0.01 in torch;
        the paper used 1e-4).
    max_epochs : int, default=110
    {shared_parameters}

    Attributes
    ----------
    module_ : SMTModule
    gene_order_ : ndarray of shape (G,)
        Positions of the input genes in token order.
    n_genes_without_tss_ : int
        Genes the TSS table does not know (placed last) when ``gene_order="tss"``.
    {shared_attributes}

    See Also
    --------
    skconn.models.mlp.PairMLPRegressor : MLP on concatenated features.
    skconn.models.TargetAugmentation : Subject-level target augmentation.

    Examples
    --------
    >>> from skconn.datasets import make_toy_connectome
    >>> from skconn.pairs import make_pairs
    >>> from skconn.models.smt import SMTRegressor
    >>> X, y = make_pairs(make_toy_connectome(12, 10))
    >>> smt = SMTRegressor(module__token_size=4, module__d_model=8, module__n_heads=2,
    ...                    module__n_layers=1, module__hidden_dims=(8,), max_epochs=1,
    ...                    random_state=0)
    >>> smt.fit(X, y).predict(X[:2]).shape
    (2,)
    >>> smt.module_.encoder.n_tokens  # 10 genes in tokens of 4: the last one padded
    3
    """

    _parameter_constraints = {**PairNet._parameter_constraints, "use_cls": ["boolean"]}

    def __init__(
        self,
        use_cls=False,
        gene_order="tss",
        *,
        module=SMTModule,
        lr=1e-4,
        max_epochs=110,
        **kwargs,
    ):
        super().__init__(module, lr=lr, max_epochs=max_epochs, **kwargs)
        self.use_cls = use_cls
        self.gene_order = gene_order

    def _module_data_kwargs(self) -> dict:
        return {"n_genes": self.n_features_in_ // 2, "use_cls": bool(self.use_cls)}

    def _fit_node_transform(self, X, graph) -> None:
        if isinstance(X, RegionPairs):
            genes = X.feature_names
        else:
            genes = getattr(X, "columns", None)
            n_genes = graph.features.shape[1]
            if genes is None or len(genes) != 2 * n_genes:
                genes = [f"f{k}" for k in range(n_genes)]
            else:
                genes = list(genes[:n_genes])
        method = self.gene_order
        with naming_argument("gene_order"):
            self.gene_order_ = _gene_order(
                genes, method, expression=graph.features, random_state=self._state.gene_order_seed
            )
        if isinstance(method, str) and method == "tss":
            known = load_gene_tss().index
            self.n_genes_without_tss_ = int((~pd.Index(genes).isin(known)).sum())

    def _node_features(self, features: np.ndarray) -> np.ndarray:
        return features[:, self.gene_order_]

    # ---------------------------------------------------------------- attention
    def attention_maps(self, X, layer=-1, *, batch_size=64, per_region=False):
        """Token × token attention weights of the regions of X, as the model computes them.

        The weights come from the forward pass the model runs (same blocks, ALiBi
        bias included; the published maps were computed without it).

        Parameters
        ----------
        X : RegionPairs
            Its distinct regions (e.g. the pairs within one functional network)
            are encoded, each once.
        layer : int, default=-1
            Encoder layer, in [-n_layers, n_layers) (negative: from the last).
        batch_size : int, default=64
            Regions encoded at a time.
        per_region : bool, default=False
            Also return every region's maps.

        Returns
        -------
        dict
            ``"heads"``: (h, L, L) weights averaged over regions; ``"mean"``: (L, L)
            averaged over heads too; ``"regions"``: (n,) region indices;
            ``"per_region"``: (n, h, L, L) when asked. Rows are queries and sum to
            1. With ``use_cls`` token 0 is [CLS].
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        if not isinstance(X, RegionPairs):
            raise TypeError("attention_maps needs a RegionPairs X (its regions are encoded)")
        encoder = self.module_.encoder
        n_layers = len(encoder.layers)
        if not (
            isinstance(layer, numbers.Integral)
            and not isinstance(layer, bool)
            and -n_layers <= layer < n_layers
        ):
            raise ValueError(
                f"layer must be an int in [-{n_layers}, {n_layers}) (the encoder has "
                f"{n_layers} layer(s)), got {layer!r}"
            )
        if not (
            isinstance(batch_size, numbers.Integral)
            and not isinstance(batch_size, bool)
            and batch_size >= 1
        ):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        dataset = self.get_dataset(X)
        nodes = np.arange(len(dataset.features))
        encoder.eval()
        maps = []
        with torch.no_grad():
            for start in range(0, len(nodes), batch_size):
                sl = nodes[start : start + batch_size]
                genes = torch.from_numpy(dataset.features[sl]).to(self.device)
                coords = None
                if dataset.coords is not None:
                    coords = torch.from_numpy(dataset.coords[sl]).to(self.device)
                _, weights = encoder(genes, coords, need_weights=True)
                maps.append(weights[layer].float().cpu().numpy())
        maps = np.concatenate(maps)
        region = dataset.node_region
        out = {"heads": maps.mean(axis=0), "mean": maps.mean(axis=(0, 1)), "regions": region}
        if per_region:
            out["per_region"] = maps
        return out


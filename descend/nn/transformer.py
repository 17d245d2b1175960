"""Multi-head attention and the Transformer (encoder, decoder, both), with PyTorch's arguments, defaults and
state_dict keys."""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from descend import backend
from descend import functional as F
from descend.backend import get_array_module
from descend.nn import init
from descend.nn.layers import Dropout, Linear
from descend.nn.module import Module, ModuleList, Parameter
from descend.nn.normalization import LayerNorm
from descend._tensor import Tensor


def _param(*shape: int, dtype: Any = None) -> Parameter:
    dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
    return Parameter(backend.xp.zeros(shape, dtype=dt))


def _additive(mask: Tensor | None, dtype: Any, what: str) -> Tensor | None:
    """A bool mask (True = leave out, MultiheadAttention's convention) as 0 / -inf; a float mask as is."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = Tensor(backend.xp.asarray(mask))
    if mask.dtype == np.bool_:
        xp = get_array_module(mask._data)
        return Tensor(xp.where(mask._data, -np.inf, 0.0).astype(dtype))
    if mask.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {what} must be bool or float, got {mask.dtype}")
    return mask if mask.dtype == dtype else mask.to(dtype)


class MultiheadAttention(Module):
    """Attention over `num_heads` heads of width embed_dim / num_heads, as PyTorch's nn.MultiheadAttention.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) returns (output, weights or None). Inputs are (L, N, E), or
    (N, L, E) with batch_first, or unbatched (L, E). Bool masks mark what to leave out (True); float masks are
    added to the scores. attn_mask is (L, S) or (N·num_heads, L, S); key_padding_mask is (N, S).

    >>> import descend
    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> x = descend.ones(3, 5, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (descend.Size([3, 5, 8]), descend.Size([3, 5, 5]))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), batch_first
        # Registration order is PyTorch's, so state_dict() lists the keys in the same order.
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _param(3 * embed_dim, embed_dim, dtype=dtype)
        else:
            self.q_proj_weight = _param(embed_dim, embed_dim, dtype=dtype)
            self.k_proj_weight = _param(embed_dim, self.kdim, dtype=dtype)
            self.v_proj_weight = _param(embed_dim, self.vdim, dtype=dtype)
        self.in_proj_bias = _param(3 * embed_dim, dtype=dtype) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections (the packed (3E, E) matrix as one), zero biases."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v each (N, H, len, head_dim)."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        out = []
        for x, w_, b_ in zip((query, key, value), ws, bs):
            n, length = x.shape[0], x.shape[1]
            y = F.linear(x, w_, b_).reshape(n, length, self.num_heads, self.head_dim)
            out.append(y.transpose(1, 2))
        return out[0], out[1], out[2]

    def _check(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Whether the inputs are unbatched; a ValueError naming the shapes when they do not fit."""
        shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        if not (query.ndim == key.ndim == value.ndim) or query.ndim not in (2, 3):
            raise ValueError(f"MultiheadAttention: expected 3-D (batched) or 2-D (unbatched) inputs, got {shapes}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"MultiheadAttention: feature dims must be embed_dim={self.embed_dim}, "
                             f"kdim={self.kdim}, vdim={self.vdim}; got {shapes}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"MultiheadAttention: key and value must have the same length and batch; got {shapes}")
        return query.ndim == 2

    def _bias(self, attn_mask: Any, key_padding_mask: Any, n: int, q_len: int, k_len: int,
              dtype: Any) -> Tensor | None:
        """attn_mask and key_padding_mask as one additive bias broadcastable to (N, H, L, S)."""
        bias = None
        am = _additive(attn_mask, dtype, "attn_mask")
        if am is not None:
            if tuple(am.shape) == (q_len, k_len):
                bias = am
            elif tuple(am.shape) == (n * self.num_heads, q_len, k_len):
                bias = am.reshape(n, self.num_heads, q_len, k_len)
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must be ({q_len}, {k_len}) or "
                                 f"({n * self.num_heads}, {q_len}, {k_len}), got {tuple(am.shape)}")
        kp = _additive(key_padding_mask, dtype, "key_padding_mask")
        if kp is not None:
            if tuple(kp.shape) != (n, k_len):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be ({n}, {k_len}), got "
                                 f"{tuple(kp.shape)}")
            kp = kp.reshape(n, 1, 1, k_len)
            bias = kp if bias is None else bias + kp
        return bias

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        unbatched = self._check(query, key, value)
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = _additive(key_padding_mask, query.dtype, "key_padding_mask").unsqueeze(0)
        if not self.batch_first or unbatched:  # work in (N, L, E)
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint that attn_mask is the causal mask; "
                               "pass attn_mask too (PyTorch requires it as well)")
        n, q_len, k_len = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = self._projections(query, key, value)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            bias = self._bias(attn_mask, key_padding_mask, n, q_len, k_len, q.dtype)
            scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(-2, -1)
            if bias is not None:
                scores = scores + bias
            weights = F.softmax(scores, dim=-1)
            dropped = F.dropout(weights, p, True) if p > 0 else weights
            out = dropped @ v
            weights = dropped.mean(dim=1) if average_attn_weights else dropped
        elif is_causal and key_padding_mask is None:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            bias = self._bias(attn_mask, key_padding_mask, n, q_len, k_len, q.dtype)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        out = self.out_proj(out.transpose(1, 2).reshape(n, q_len, self.embed_dim))
        if unbatched:
            return out.squeeze(0), (None if weights is None else weights.squeeze(0))
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _activation(activation: str | Callable) -> Callable:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"TransformerEncoderLayer: activation should be relu/gelu, not {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and LayerNorm (PyTorch's).

    Post-norm by default: x = norm1(x + SA(x)); x = norm2(x + FF(x)). With norm_first=True:
    x = x + SA(norm1(x)); x = x + FF(norm2(x)). FF(x) = linear2(dropout(activation(linear1(x)))).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = F.relu, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        if device is not None:
            self.to(device)

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """`num_layers` deep copies of encoder_layer (keys layers.0…), then an optional final norm."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        # enable_nested_tensor and mask_check select PyTorch fast paths; accepted, with no effect here.
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        if is_causal is None:
            is_causal = _is_causal_mask(mask, src.shape[1 if self._batch_first() else 0] if src.ndim == 3
                                        else src.shape[0])
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)

    def _batch_first(self) -> bool:
        first = next(iter(self.layers), None)
        return bool(first is not None and first.self_attn.batch_first)



class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's memory, then feed-forward; each with dropout, a residual
    and LayerNorm, post-norm by default or pre-norm with norm_first=True (PyTorch's layer and keys)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = F.relu, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation)
        if device is not None:
            self.to(device)

    def _sa_block(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding,
                                            need_weights=False, is_causal=is_causal)[0])

    def _mha_block(self, x: Tensor, mem: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        return self.dropout2(self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=padding,
                                                 need_weights=False, is_causal=is_causal)[0])

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerDecoder(Module):
    """`num_layers` deep copies of decoder_layer (keys layers.0…), then an optional final norm."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        if tgt_is_causal is None:
            first = next(iter(self.layers), None)
            seq_dim = 1 if first is not None and first.self_attn.batch_first and tgt.ndim == 3 else 0
            tgt_is_causal = _is_causal_mask(tgt_mask, tgt.shape[seq_dim])
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder model of "Attention Is All You Need", with PyTorch's arguments and keys; every
    weight matrix starts Xavier-uniform. forward(src, tgt, ...) returns the decoder's output."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = F.relu, custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        common = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                      layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                      dtype=dtype)
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **common), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **common), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        if device is not None:
            self.to(device)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src and tgt must be d_model={self.d_model}, "
                             f"got src {tuple(src.shape)}, tgt {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above."""
        return generate_square_subsequent_mask(sz, device, dtype)

def _is_causal_mask(mask: Any, size: int) -> bool:
    """Whether mask is the square causal mask (PyTorch detects it to take the causal fast path)."""
    if mask is None or tuple(mask.shape) != (size, size):
        return False
    data = backend.to_numpy(mask._data if isinstance(mask, Tensor) else mask)
    above = np.triu(np.ones((size, size), dtype=bool), 1)
    if data.dtype == np.bool_:
        return bool(np.array_equal(data, above))
    return bool(np.all(np.isneginf(data[above])) and np.all(data[~above] == 0))


def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above (PyTorch's Transformer helper)."""
    dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
    xp = backend.xp
    return Tensor(xp.triu(xp.full((sz, sz), -np.inf, dtype=dt), 1))

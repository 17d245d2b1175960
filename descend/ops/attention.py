"""Scaled dot-product attention as one fused op: forward and backward side by side."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.backend import get_array_module
from descend.ops.constants import _constant
from descend.ops.errors import OpError
from descend.ops.linear import dropout_mask
from descend._tensor import Function, Tensor


def causal_bias(xp: Any, n_query: int, n_key: int, dtype: Any) -> Any:
    """(L, S) additive mask: 0 where key j <= query i (PyTorch's top-left aligned tril), -inf above."""
    def make() -> Any:
        keep = xp.tril(xp.ones((n_query, n_key), dtype=bool))
        return xp.where(keep, 0.0, -np.inf).astype(dtype)
    return _constant(("causal", xp.__name__, n_query, n_key, np.dtype(dtype)), make)


class Attention(Function):
    """softmax(q kᵀ · scale + bias) ⊙ keep @ v over any leading (batch, head) dims.

    q (..., L, E), k (..., S, E), v (..., S, Ev); bias broadcastable to (..., L, S) or None (it is an input, so
    a float mask gets a gradient); `keep` is a dropout mask already holding 0 or 1/(1-p), or None. Rows whose
    keys are all masked give zeros (PyTorch's SDPA does the same) instead of NaN.
    """

    def forward(self, q, k, v, bias=None, scale=1.0, causal=False, keep=None):
        xp = get_array_module(q, k, v)
        qs = q * q.dtype.type(scale)
        s = qs @ k.swapaxes(-1, -2)
        if bias is not None:
            s += bias
        if causal:
            s += causal_bias(xp, s.shape[-2], s.shape[-1], s.dtype)
        top = s.max(axis=-1, keepdims=True)
        dead = ~xp.isfinite(top)  # a row with every key masked
        any_dead = bool(dead.any())
        if any_dead:
            top[dead] = 0
        s -= top
        p = xp.exp(s, out=s)
        total = p.sum(axis=-1, keepdims=True)
        if any_dead:
            total[dead] = 1
        p /= total
        pd = p if keep is None else p * keep
        self.qs, self.k, self.v, self.p, self.keep, self.scale = qs, k, v, p, keep, scale
        return pd @ v

    def backward(self, g):
        p, keep, v = self.p, self.keep, self.v
        need_q, need_k, need_v = self.needs_input_grad[:3]
        need_bias = len(self.needs_input_grad) > 3 and self.needs_input_grad[3]
        dv = None
        if need_v:
            pd = p if keep is None else p * keep
            dv = pd.swapaxes(-1, -2) @ g
        if not (need_q or need_k or need_bias):
            return None, None, dv, None
        dp = g @ v.swapaxes(-1, -2)
        if keep is not None:
            dp *= keep
        # softmax backward: ds = p ⊙ (dp − Σ_j dp·p)
        dot = (dp * p).sum(axis=-1, keepdims=True)
        dp -= dot
        dp *= p
        ds = dp
        dq = (ds @ self.k) * ds.dtype.type(self.scale) if need_q else None
        dk = ds.swapaxes(-1, -2) @ self.qs if need_k else None
        return dq, dk, dv, (ds if need_bias else None)



def _shape_error(msg: str, query: Tensor, key: Tensor, value: Tensor) -> ValueError:
    return ValueError(f"scaled_dot_product_attention: {msg} (query {tuple(query.shape)}, key "
                      f"{tuple(key.shape)}, value {tuple(value.shape)})")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V with PyTorch's arguments; one fused op forward and backward.

    query (..., L, E), key (..., S, E), value (..., S, Ev) → (..., L, Ev). A bool attn_mask marks the pairs
    that take part (True) and a float one is added to the scores; is_causal masks keys after each query
    (top-left aligned); scale defaults to 1/√E; dropout applies to the attention weights whenever
    dropout_p > 0 (as in PyTorch, there is no training flag here). enable_gqa repeats key/value heads.

    >>> import descend
    >>> q = descend.ones(1, 2, 4)
    >>> scaled_dot_product_attention(q, q, descend.tensor([[[1.0], [3.0]]])).shape
    descend.Size([1, 2, 1])
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise _shape_error(f"{name} needs at least 2 dims (..., length, features)", query, key, value)
    if query.shape[-1] != key.shape[-1]:
        raise _shape_error("query and key must have the same last dim", query, key, value)
    if key.shape[-2] != value.shape[-2]:
        raise _shape_error("key and value must have the same length (dim -2)", query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _repeat_heads(key, query.shape[-3]), _repeat_heads(value, query.shape[-3])
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise _shape_error("batch dims do not broadcast", query, key, value) from None
    scores = tuple(batch) + (query.shape[-2], key.shape[-2])
    bias = None
    if attn_mask is not None and is_causal:
        raise OpError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both (PyTorch "
                      "refuses the pair too)")
    if attn_mask is not None:
        bias = _mask_bias(attn_mask, query, scores)
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    keep = None
    if dropout_p > 0:
        xp = get_array_module(query._data)
        keep = dropout_mask(backend.rng(), scores, dropout_p, np.dtype(query.dtype), xp)
    return Attention.apply(query, key, value, bias, scale=float(scale), causal=bool(is_causal), keep=keep)


def _mask_bias(attn_mask: Any, query: Tensor, scores: tuple) -> Any:
    """A float mask as is (a Tensor keeps its gradient); a bool one as 0 / -inf in query's dtype."""
    mask = attn_mask if isinstance(attn_mask, Tensor) else Tensor(get_array_module(query._data).asarray(attn_mask))
    try:
        fits = np.broadcast_shapes(tuple(mask.shape), scores) == scores
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"scaled_dot_product_attention: attn_mask {tuple(mask.shape)} does not broadcast to "
                         f"the attention scores {scores}")
    if mask.dtype == np.bool_:
        xp = get_array_module(mask._data)
        return Tensor(xp.where(mask._data, 0.0, -np.inf).astype(query.dtype))
    if mask.dtype != query.dtype:
        raise TypeError(f"scaled_dot_product_attention: a float attn_mask must have query's dtype "
                        f"{query.dtype}, got {mask.dtype}")
    return mask


def _repeat_heads(t: Tensor, heads: int) -> Tensor:
    """Key/value heads repeated to `heads` (grouped-query attention), each kept together as PyTorch does."""
    groups = t.shape[-3]
    if heads % groups:
        raise ValueError(f"scaled_dot_product_attention: enable_gqa needs query heads ({heads}) to be a "
                         f"multiple of key/value heads ({groups})")
    idx = np.repeat(np.arange(groups), heads // groups)
    return t[(Ellipsis, idx, slice(None), slice(None))]

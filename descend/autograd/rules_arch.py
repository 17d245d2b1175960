"""Differentiable backward of the architecture ops (attention, the fused GRU/LSTM recurrences, transposed
convolution): each recomputed from primitive ops, step by step where the fused op loops in place."""

from __future__ import annotations

import numpy as np

import descend
from descend.autograd.higher import const, rule, vjp_of
from descend.ops import attention as _att
from descend.ops import conv_transpose as _ct
from descend.ops import recurrent as _rec
from descend.ops.adjoint import IndexAdd


def composite(*classes: type):
    def register(fn):
        rule(*classes)(vjp_of(fn))
        return fn

    return register


@composite(_att.Attention)
def _attention(ctx, q, k, v, bias=None):
    kw = ctx.kwargs
    s = (q * kw.get("scale", 1.0)) @ k.transpose(-1, -2)
    if bias is not None:
        s = s + bias
    if kw.get("causal", False):
        s = s + const(_att.causal_bias(np, s.shape[-2], s.shape[-1], s._data.dtype))
    dead = ~np.isfinite(s._data.max(axis=-1, keepdims=True))  # every key masked: PyTorch gives zeros
    if dead.any():
        s = descend.where(const(dead), 0.0, s)
    p = s.softmax(-1)
    if dead.any():
        p = p * const((~dead).astype(p._data.dtype))
    keep = kw.get("keep")
    if keep is not None:
        p = p * const(keep)
    return p @ v


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


@composite(_rec.GRURecurrence)
def _gru(ctx, gi, h0, w_hh, b_hh=None):
    hid = w_hh.shape[1]
    outs: list = [None] * gi.shape[0]
    h = h0
    for t in _order(gi.shape[0], ctx.kwargs.get("reverse", False)):
        gh = h @ w_hh.t()
        if b_hh is not None:
            gh = gh + b_hh
        x = gi[t]
        r = (x[:, :hid] + gh[:, :hid]).sigmoid()
        z = (x[:, hid:2 * hid] + gh[:, hid:2 * hid]).sigmoid()
        n = (x[:, 2 * hid:] + r * gh[:, 2 * hid:]).tanh()
        h = n + z * (h - n)
        outs[t] = h
    return descend.stack(outs, 0)


@composite(_rec.LSTMRecurrence)
def _lstm(ctx, gi, h0, c0, w_hh, b_hh=None):
    hid = w_hh.shape[1]
    outs: list = [None] * gi.shape[0]
    h, c = h0, c0
    for t in _order(gi.shape[0], ctx.kwargs.get("reverse", False)):
        gates = gi[t] + h @ w_hh.t()
        if b_hh is not None:
            gates = gates + b_hh
        i, f = gates[:, :hid].sigmoid(), gates[:, hid:2 * hid].sigmoid()
        g, o = gates[:, 2 * hid:3 * hid].tanh(), gates[:, 3 * hid:].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        outs[t] = h
    return descend.stack(outs + [c], 0)


@composite(_ct.ConvTransposeNd)
def _conv_transpose(ctx, x, w, b=None):
    """Each input position's kernel-sized contribution, added into the output by index (col2im)."""
    kw = ctx.kwargs
    d = w.ndim - 2
    stride, padding = kw.get("stride", (1,) * d), kw.get("padding", ((0, 0),) * d)
    output_padding, dilation, groups = kw.get("output_padding", (0,) * d), kw.get("dilation", (1,) * d), \
        kw.get("groups", 1)
    n, c_in, spatial = x.shape[0], x.shape[1], tuple(x.shape[2:])
    cg, og, kernel = c_in // groups, w.shape[1], tuple(w.shape[2:])
    # (N, *spatial, G, C_in/G) @ (G, C_in/G, C_out/G * prod(kernel)) -> (N, *spatial, G, C_out/G, *kernel)
    xr = x.permute(0, *range(2, 2 + d), 1).reshape(n, *spatial, groups, 1, cg)
    wm = w.reshape(groups, cg, -1)
    cols = (xr @ wm).reshape(n, *spatial, groups, og, *kernel)
    full = [(spatial[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 for i in range(d)]
    out = [full[i] - padding[i][0] - padding[i][1] + output_padding[i] for i in range(d)]
    size = [max(full[i], padding[i][0] + out[i]) for i in range(d)]
    rank = 2 * d + 3  # index arrays broadcast over cols' dims (N, *spatial, G, C_out/G, *kernel)

    def axis(values, dim):
        shape = [1] * rank
        shape[dim] = len(values)
        return values.reshape(shape)

    index = [axis(np.arange(n), 0), axis(np.arange(groups), 1 + d), axis(np.arange(og), 2 + d)]
    for i in range(d):
        pos = axis(np.arange(spatial[i]) * stride[i], 1 + i) + axis(np.arange(kernel[i]) * dilation[i], 3 + d + i)
        index.append(pos)
    y = IndexAdd.apply(cols, shape=(n, groups, og, *size), index=tuple(index))
    y = y.reshape(n, groups * og, *size)
    y = y[(slice(None), slice(None)) + tuple(slice(padding[i][0], padding[i][0] + out[i]) for i in range(d))]
    return y if b is None else y + b.reshape((1, -1) + (1,) * d)

"""Differentiable backward of the fused layer ops (linear, losses, normalisations, convolution, pooling): each
recomputes the op's forward from primitive ops (`composite(ctx, *inputs)`), and its gradient is that
composite's, recorded. Slower than the fused first-order backward, and only used with create_graph=True.
"""

from __future__ import annotations

import numpy as np

from descend.autograd.higher import const, rule, to_np, vjp_of
from descend.ops import adaptive_max as _am
from descend.ops import conv as _conv
from descend.ops import elementwise as _ew
from descend.ops import indexing as _ix
from descend.ops import linear as _lin
from descend.ops import loss as _loss
from descend.ops import movement as _mv
from descend.ops import norm as _norm
from descend.ops import pool as _pool
from descend.ops import reduce as _rd


def composite(*classes: type):
    """Register `fn(ctx, *inputs) -> output` as the differentiable form of these ops."""
    def register(fn):
        rule(*classes)(vjp_of(fn))
        return fn

    return register


def _reduce(loss, reduction: str, denom=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (denom if denom is not None else loss.numel())


# ---- linear family -------------------------------------------------------------------------------------

@composite(_lin.Linear)
def _linear(ctx, x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


@composite(_lin.Embedding)
def _embedding(ctx, w):
    idx = ctx.kwargs["indices"]
    rows = w[const(idx)]
    pad = ctx.kwargs.get("padding_idx")
    if pad is None:
        return rows
    keep = const(np.expand_dims(np.asarray(idx) != pad, -1))
    return _ew.Where.apply(keep, rows, rows.detach())  # padding rows keep their value but get no gradient


@rule(_lin.Dropout)
def _dropout(ctx, g, out):
    return (g * const(ctx.kwargs["mask"]),)


# ---- losses --------------------------------------------------------------------------------------------

def _class_layout(w, ndim: int):
    return w.reshape((1, -1) + (1,) * (ndim - 2))


@composite(_loss.CrossEntropy)
def _cross_entropy(ctx, x, target, *rest):
    kw = ctx.kwargs
    weight, red = kw.get("weight"), kw.get("reduction", "mean")
    eps, ignore = float(kw.get("label_smoothing", 0.0)), kw.get("ignore_index", -100)
    logp = _rd.LogSoftmax.apply(x, dim=1)
    n_classes = x.shape[1]
    w = None if weight is None else _class_layout(to_np(weight).astype(x._data.dtype), x.ndim)
    t = to_np(target)
    if t.dtype.kind == "f" and t.shape == x.shape:  # probabilities: a differentiable input like the logits
        coef = target * (1 - eps) + eps / n_classes
        coef = coef if w is None else coef * const(w)
        return _reduce(-(logp * coef).sum(1), red)
    valid = t != ignore
    safe = np.where(valid, t, 0)
    onehot = np.zeros(x.shape, x._data.dtype)
    np.put_along_axis(onehot, np.expand_dims(safe, 1), 1, axis=1)
    wy = np.ones(t.shape, x._data.dtype) if w is None else to_np(weight).astype(x._data.dtype)[safe]
    wy = wy * valid
    wc = np.ones((1, n_classes) + (1,) * (x.ndim - 2), x._data.dtype) if w is None else w
    coef = (1 - eps) * np.expand_dims(wy, 1) * onehot + (eps / n_classes) * wc * np.expand_dims(valid, 1)
    loss = -(logp * const(coef.astype(x._data.dtype))).sum(1)
    return _reduce(loss, red, float(wy.sum()))


@composite(_loss.NLLLoss)
def _nll(ctx, x, target, *rest):
    kw = ctx.kwargs
    weight, red, ignore = kw.get("weight"), kw.get("reduction", "mean"), kw.get("ignore_index", -100)
    t = to_np(target)
    valid = t != ignore
    safe = np.where(valid, t, 0)
    onehot = np.zeros(x.shape, x._data.dtype)
    np.put_along_axis(onehot, np.expand_dims(safe, 1), 1, axis=1)
    wy = (np.ones(t.shape, x._data.dtype) if weight is None else to_np(weight).astype(x._data.dtype)[safe]) * valid
    loss = -(x * const(np.expand_dims(wy, 1) * onehot)).sum(1)
    return _reduce(loss, red, float(wy.sum()))


@composite(_loss.BinaryCrossEntropyWithLogits)
def _bce_logits(ctx, x, y, *rest):
    kw = ctx.kwargs
    weight, pos_weight, red = kw.get("weight"), kw.get("pos_weight"), kw.get("reduction", "mean")
    sp_neg = _ew.Softplus.apply(-x)  # -log sigmoid(x)
    lw = 1.0 if pos_weight is None else 1 + (const(to_np(pos_weight)) - 1) * y
    loss = (1 - y) * x + lw * sp_neg
    if weight is not None:
        loss = loss * const(to_np(weight))
    return _reduce(loss, red)


@composite(_loss.BinaryCrossEntropy)
def _bce(ctx, p, y, *rest):
    kw = ctx.kwargs
    weight, red = kw.get("weight"), kw.get("reduction", "mean")
    log_p = p.log().clamp(min=-100.0)
    log_q = (1 - p).log().clamp(min=-100.0)
    loss = -(y * log_p + (1 - y) * log_q)
    if weight is not None:
        loss = loss * const(to_np(weight))
    return _reduce(loss, red)


@composite(_loss.MSELoss)
def _mse(ctx, x, y):
    d = x - y
    return _reduce(d * d, ctx.kwargs.get("reduction", "mean"))


@composite(_loss.L1Loss)
def _l1(ctx, x, y):
    return _reduce((x - y).abs(), ctx.kwargs.get("reduction", "mean"))


# ---- normalisation -------------------------------------------------------------------------------------

def _normalise(x, axes, eps):
    mean = x.mean(dim=axes, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dim=axes, keepdim=True)
    return centered / (var + eps).sqrt()


@composite(_norm.BatchNorm)
def _batch_norm(ctx, x, w=None, b=None):
    kw = ctx.kwargs
    eps, c = kw.get("eps", 1e-5), x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    if kw.get("training", False):
        y = _normalise(x, (0,) + tuple(range(2, x.ndim)), eps)
    else:  # running statistics are constants
        mean = const(to_np(kw["running_mean"]).reshape(shape))
        invstd = const((1 / np.sqrt(to_np(kw["running_var"]) + eps)).reshape(shape).astype(x._data.dtype))
        y = (x - mean) * invstd
    if w is not None:
        y = y * w.reshape(shape)
    return y if b is None else y + b.reshape(shape)


@composite(_norm.LayerNorm)
def _layer_norm(ctx, x, w=None, b=None):
    n_dims, eps = ctx.kwargs.get("n_dims", 1), ctx.kwargs.get("eps", 1e-5)
    y = _normalise(x, tuple(range(x.ndim - n_dims, x.ndim)), eps)
    if w is not None:
        y = y * w
    return y if b is None else y + b


@composite(_norm.GroupNorm)
def _group_norm(ctx, x, w=None, b=None):
    groups, eps = ctx.kwargs.get("num_groups", 1), ctx.kwargs.get("eps", 1e-5)
    n, c = x.shape[:2]
    cshape = (1, c) + (1,) * (x.ndim - 2)
    y = _normalise(x.reshape(n, groups, -1), (2,), eps).reshape(tuple(x.shape))
    if w is not None:
        y = y * w.reshape(cshape)
    return y if b is None else y + b.reshape(cshape)


# ---- convolution and pooling ---------------------------------------------------------------------------

def _patches(xpad, kernel, stride, dilation, out):
    """(N, C, o1, k1, o2, k2, ...) windows of a padded (N, C, *spatial) tensor, by index arrays."""
    d = len(kernel)
    index = [slice(None), slice(None)]
    for i in range(d):
        pos = np.arange(out[i])[:, None] * stride[i] + np.arange(kernel[i])[None, :] * dilation[i]
        shape = [1] * (2 * d)
        shape[2 * i], shape[2 * i + 1] = out[i], kernel[i]
        index.append(pos.reshape(shape))
    return xpad[tuple(index)]


def _pad_spatial(x, pads, value=0.0):
    flat = []
    for lo, hi in reversed(pads):  # PyTorch's order: last dim first
        flat += [int(lo), int(hi)]
    if not any(flat):
        return x
    return _mv.Pad.apply(x, pad=tuple(flat), value=value, mode="constant")


def _to_window_last(p, d):
    """(N, C, o1, k1, o2, k2, ...) -> (N, C, o1, o2, ..., k1 * k2 * ...)."""
    n, c = p.shape[:2]
    outs = [p.shape[2 + 2 * i] for i in range(d)]
    perm = [0, 1] + [2 + 2 * i for i in range(d)] + [3 + 2 * i for i in range(d)]
    return p.permute(*perm).reshape(n, c, *outs, -1)


@composite(_conv.ConvNd)
def _convolution(ctx, x, w, b=None):
    kw = ctx.kwargs
    stride, padding = kw.get("stride", (1, 1)), kw.get("padding", ((0, 0), (0, 0)))
    dilation, groups = kw.get("dilation", (1, 1)), kw.get("groups", 1)
    kernel = tuple(w.shape[2:])
    d = len(kernel)
    out = tuple(ctx.out)
    p = _patches(_pad_spatial(x, padding[:d]), kernel, stride[:d], dilation[:d], out)
    n, c = x.shape[:2]
    o, cg = w.shape[0], c // groups
    # (N, C, o..., k...) -> (G, N * prod(out), cg * prod(kernel))
    perm = [0] + [2 + 2 * i for i in range(d)] + [1] + [3 + 2 * i for i in range(d)]
    cols = p.permute(*perm).reshape(n * int(np.prod(out)), groups, -1).permute(1, 0, 2)
    wmat = w.reshape(groups, o // groups, -1)
    y = (cols @ wmat.transpose(-1, -2)).permute(1, 0, 2).reshape(n, *out, o)
    y = y.permute(0, d + 1, *range(1, d + 1))
    return y if b is None else y + b.reshape((1, o) + (1,) * d)


@composite(_pool.MaxPool)
def _max_pool(ctx, x):
    kw = ctx.kwargs
    d = len(ctx.kernel)
    p = _to_window_last(_patches(_pad_spatial(x, ctx.pads, -np.inf), ctx.kernel, ctx.stride, ctx.dilation,
                                 ctx.out), d)
    first = np.argmax(p._data, axis=-1)  # the gradient goes to each window's first maximum, as PyTorch's
    grids = np.indices(first.shape, sparse=True)
    return p[tuple(grids) + (first,)] if kw is not None else p


@composite(_am.AdaptiveMaxPool)
def _adaptive_max_pool(ctx, x):
    shape = ctx.shape  # the input's; the output's is the indices'
    idx = ctx.indices
    plane = x.reshape(tuple(shape[:-2]) + (shape[-2] * shape[-1],))
    picked = _ix.Gather.apply(plane, const(idx.reshape(idx.shape[:-2] + (-1,))), dim=plane.ndim - 1)
    return picked.reshape(idx.shape)


@composite(_pool.AvgPool)
def _avg_pool(ctx, x):
    d = len(ctx.kernel)
    p = _to_window_last(_patches(_pad_spatial(x, ctx.pads), ctx.kernel, ctx.stride, (1,) * d, ctx.out), d)
    inv = to_np(ctx.inv)
    if inv.ndim:  # (1, *out, 1) channels-last -> (1, 1, *out)
        inv = np.moveaxis(inv, -1, 1)
    return p.sum(dim=-1) * const(np.asarray(inv, x._data.dtype))

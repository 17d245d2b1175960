"""Differentiable backward rules of the primitive ops: elementwise, reductions, movement, matmul, in-place.

Each rule is the op's first-order backward written with Tensors, so that it records a graph. Anything that is a
function of the inputs is computed from `ctx.parents` (Tensors) or `out` (the op's output tensor), never from
the arrays the op saved, which would be constants; masks and indices are constants and stay arrays.
"""

from __future__ import annotations

import math

import numpy as np

import descend
from descend.autograd.higher import const, rule, to_np, vjp_of
from descend.ops import adjoint as _adj
from descend.ops import convert as _cv
from descend.ops import elementwise as _ew
from descend.ops import inplace as _ip
from descend.ops import matmul as _mm
from descend.ops import movement as _mv
from descend.ops import reduce as _rd


# ---- elementwise ---------------------------------------------------------------------------------------

@rule(_ew.Add)
def _add(ctx, g, out):
    return g, g


@rule(_ew.Sub)
def _sub(ctx, g, out):
    return g, -g


@rule(_ew.Neg)
def _neg(ctx, g, out):
    return (-g,)


@rule(_ew.Mul)
def _mul(ctx, g, out):
    a, b = ctx.parents
    return g * b, g * a


@rule(_ew.Div)
def _div(ctx, g, out):
    a, b = ctx.parents
    return g / b, -g * a / (b * b)


@rule(_ew.Pow)
def _pow(ctx, g, out):
    a, b = ctx.parents
    da, db = ctx.needs_input_grad
    ga = gb = None
    if da:
        ga = g * 0.0 if isinstance(b, (int, float)) and b == 0 else g * b * a ** (b - 1)
    if db:
        # d(a^b)/db = a^b ln a, defined as 0 where a == 0 and b >= 0; log of a safe stand-in keeps the
        # unselected branch finite, so its (zero) gradient stays zero instead of 0 * inf.
        zero = (to_np(a) == 0) & (to_np(b) >= 0)
        safe_a = descend.where(const(zero), 1.0, a)
        gb = descend.where(const(zero), 0.0, g * out * safe_a.log())
    return ga, gb


@rule(_ew.Exp)
def _exp(ctx, g, out):
    return (g * out,)


@rule(_ew.Log)
def _log(ctx, g, out):
    return (g / ctx.parents[0],)


@rule(_ew.Sqrt)
def _sqrt(ctx, g, out):
    return (g / (2 * out),)


@rule(_ew.Abs)
def _abs(ctx, g, out):
    return (g * const(np.sign(to_np(ctx.parents[0]))),)


@rule(_ew.Clamp)
def _clamp(ctx, g, out):
    a = to_np(ctx.parents[0])
    lo, hi = ctx.kwargs.get("lo"), ctx.kwargs.get("hi")
    mask = np.ones(a.shape, bool)
    if lo is not None:
        mask &= a >= lo
    if hi is not None:
        mask &= a <= hi
    return (descend.where(const(mask), g, 0.0),)  # a where, not a product: an inf g outside gives 0


@rule(_ew.Maximum, _ew.Minimum)
def _max_min(ctx, g, out):
    a, b = np.broadcast_arrays(*(to_np(p) for p in ctx.parents))
    # PyTorch's rule: ties split the gradient, the losing side gets 0, and a NaN passes it to both.
    base = descend.where(const(a == b), g * 0.5, g)
    a_loses, b_loses = ((a < b), (a > b)) if isinstance(ctx, _ew.Maximum) else ((a > b), (a < b))
    return descend.where(const(a_loses), 0.0, base), descend.where(const(b_loses), 0.0, base)


@rule(_ew.Where)
def _where(ctx, g, out):
    cond = const(np.asarray(to_np(ctx.parents[0]), bool))
    return None, descend.where(cond, g, 0.0), descend.where(cond, 0.0, g)


@rule(_ew.Cast)
def _cast(ctx, g, out):
    return (g.to(ctx.parents[0].dtype),)


@rule(_ew.ReLU)
def _relu(ctx, g, out):
    return (descend.where(const(~(to_np(out) <= 0)), g, 0.0),)  # NaN outputs pass g, as PyTorch's


@rule(_ew.LeakyReLU)
def _leaky_relu(ctx, g, out):
    a = to_np(ctx.parents[0])
    return (g * const(np.where(a > 0, 1.0, ctx.kwargs.get("negative_slope", 0.01)).astype(a.dtype)),)


@rule(_ew.Sigmoid)
def _sigmoid(ctx, g, out):
    return (g * out * (1 - out),)


@rule(_ew.Tanh)
def _tanh(ctx, g, out):
    return (g * (1 - out * out),)


@rule(_ew.Softplus)
def _softplus(ctx, g, out):
    a = ctx.parents[0]
    beta, threshold = ctx.kwargs.get("beta", 1.0), ctx.kwargs.get("threshold", 20.0)
    linear = const(to_np(a) * beta > threshold)
    return (descend.where(linear, g, g * (a * beta).sigmoid()),)


@rule(_ew.Erf)
def _erf(ctx, g, out):
    a = ctx.parents[0]
    return (g * (2 / math.sqrt(math.pi)) * (-(a * a)).exp(),)


def _gelu(ctx, a):
    if ctx.kwargs.get("approximate", "none") == "tanh":
        inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)
        return 0.5 * a * (1 + inner.tanh())
    return 0.5 * a * (1 + (a * (1 / math.sqrt(2))).erf())


rule(_ew.GELU)(vjp_of(_gelu))
rule(_ew.SiLU)(vjp_of(lambda ctx, a: a * a.sigmoid()))


@rule(_mv.Clone)
def _clone(ctx, g, out):
    return (g,)


# ---- reductions ----------------------------------------------------------------------------------------

def _unreduce(g, shape, axes, keepdim):
    """g with the reduced axes put back (size 1), so it broadcasts against the input."""
    if axes is None:
        return g.reshape((1,) * len(shape))
    if not keepdim:
        for ax in sorted(axes):
            g = g.unsqueeze(ax)
    return g


@rule(_rd.Sum)
def _sum(ctx, g, out):
    return (_unreduce(g, ctx.shape, ctx.axes, ctx.keepdim).expand(*ctx.shape),)


@rule(_rd.Mean)
def _mean(ctx, g, out):
    return (_unreduce(g, ctx.shape, ctx.axes, ctx.keepdim).expand(*ctx.shape) / ctx.count,)


def _var(ctx, a):
    centered = a - a.mean(dim=ctx.axes, keepdim=True)
    return (centered * centered).sum(dim=ctx.axes, keepdim=ctx.keepdim) / ctx.denom


rule(_rd.Var)(vjp_of(_var))


@rule(_rd.AMax)
def _amax(ctx, g, out):
    mask = ctx.mask.astype(out._data.dtype)
    share = mask / mask.sum(axis=ctx.axes, keepdims=True)  # tied extrema share the gradient evenly
    return (_unreduce(g, ctx.shape, ctx.axes, ctx.keepdim) * const(share),)


@rule(_rd.MaxDim)
def _max_dim(ctx, g, out):
    onehot = np.zeros(ctx.shape, out._data.dtype)
    np.put_along_axis(onehot, ctx.idx, 1, axis=ctx.dim)
    g = g if ctx.keepdim else g.unsqueeze(ctx.dim)
    return (g * const(onehot),)


@rule(_rd.LogSumExp)
def _logsumexp(ctx, g, out):
    a = ctx.parents[0]
    return (_unreduce(g, ctx.shape, ctx.axes, ctx.keepdim) *
            (a - _unreduce(out, ctx.shape, ctx.axes, ctx.keepdim)).exp(),)


@rule(_rd.Softmax)
def _softmax(ctx, g, out):
    return (out * (g - (g * out).sum(dim=ctx.dim, keepdim=True)),)


@rule(_rd.LogSoftmax)
def _log_softmax(ctx, g, out):
    return (g - out.exp() * g.sum(dim=ctx.dim, keepdim=True),)


# ---- movement ------------------------------------------------------------------------------------------

@rule(_mv.Reshape)
def _reshape(ctx, g, out):
    return (g.reshape(ctx.in_shape),)


@rule(_mv.Permute)
def _permute(ctx, g, out):
    return (g.permute(*np.argsort([d % max(g.ndim, 1) for d in ctx.dims]).tolist()),)


@rule(_mv.Expand)
def _expand(ctx, g, out):
    return (g,)  # the engine sums it back to the input's shape


@rule(_mv.GetItem)
def _getitem(ctx, g, out):
    return (_adj.IndexAdd.apply(g, shape=ctx.shape, index=ctx.index),)


@rule(_adj.IndexAdd)
def _index_add(ctx, g, out):
    return (_mv.GetItem.apply(g, index=ctx.index),)


@rule(_mv.Cat)
def _cat(ctx, g, out):
    pre = (slice(None),) * ctx.dim
    bounds = np.concatenate([[0], np.cumsum(ctx.sizes)]).tolist()
    return tuple(g[pre + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:]))


@rule(_mv.Stack)
def _stack(ctx, g, out):
    pre = (slice(None),) * ctx.dim
    return tuple(g[pre + (i,)] for i in range(ctx.n))


def _pad(ctx, a):
    if ctx.mode == "constant":
        return _mv.Pad.apply(a, **ctx.kwargs)
    return a.reshape(-1)[const(ctx.source)]  # each output element reads one input element


@rule(_mv.Pad)
def _pad_rule(ctx, g, out):
    if ctx.mode == "constant":
        return (g[ctx.slices],)
    return vjp_of(_pad)(ctx, g, out)


# ---- matmul --------------------------------------------------------------------------------------------

@rule(_mm.MatMul)
def _matmul(ctx, g, out):
    a, b = ctx.parents
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    g2 = g.unsqueeze(-2) if a.ndim == 1 else g
    g2 = g2.unsqueeze(-1) if b.ndim == 1 else g2
    ga = g2 @ b2.transpose(-1, -2)
    gb = a2.transpose(-1, -2) @ g2
    if a.ndim == 1:
        ga = ga.squeeze(-2)
    if b.ndim == 1:
        gb = gb.squeeze(-1)
    return ga, gb


# ---- conversions and in-place writes ---------------------------------------------------------------------

@rule(_cv.ToDevice)
def _to_device(ctx, g, out):
    return (g.to(ctx.src),)


@rule(_ip.CopyFrom)
def _copy_from(ctx, g, out):
    return None, g


@rule(_ip.IndexPut)
def _index_put(ctx, g, out):
    keep = np.ones(out.shape, out._data.dtype)
    keep[ctx.index] = 0
    return g * const(keep), _mv.GetItem.apply(g, index=ctx.index)

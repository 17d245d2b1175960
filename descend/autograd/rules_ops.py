"""Differentiable backward of the wider op surface (pointwise maths, indexing, shape, scans, norms).

Two generic forms cover most of it:
- smooth unary functions name their derivative `df(xp, a, out)` with xp-style calls; given a namespace whose
  functions are descend's own, the same `df` builds the derivative as a graph;
- ops that are linear in their floating inputs (gather, flip, cumsum, interpolation, ...) have a backward that
  is linear in the gradient and independent of the inputs: `LinearAdjoint` runs that backward as an op whose
  own derivative is the forward again.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import descend
from descend.autograd.higher import const, rule, to_np, vjp_of
from descend.ops import pointwise as _pw
from descend._tensor import Function, Tensor


class _TensorNamespace:
    """An `xp` whose functions are descend's differentiable ones (`xp.cos(t)` is `descend.cos(t)`)."""

    _NAMES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
              "arctanh": "atanh"}

    def __getattr__(self, name: str) -> Any:
        return getattr(descend, self._NAMES.get(name, name))


TX = _TensorNamespace()


def _unary(ctx, g, out):
    a = ctx.parents[0]
    return (g * ctx.df(TX, a, out),)


for _cls in _pw._Unary.__subclasses__():
    rule(_cls)(_unary)


@rule(_pw.Step)
def _step(ctx, g, out):
    return (g * 0.0,)


@rule(_pw.RoundedDiv)
def _rounded_div(ctx, g, out):
    return g * 0.0, None


@rule(_pw.Atan2)
def _atan2(ctx, g, out):
    a, b = ctx.parents
    denom = a * a + b * b
    return g * b / denom, -g * a / denom


@rule(_pw.Hypot)
def _hypot(ctx, g, out):
    a, b = ctx.parents
    return g * a / out, g * b / out


@rule(_pw.Remainder)
def _remainder(ctx, g, out):
    a, b = (to_np(p) for p in ctx.parents)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.trunc(a / b) if ctx.kwargs.get("fmod", False) else np.floor(a / b)
    return g, -g * const(q)


@rule(_pw.ClampTensor)
def _clamp_tensor(ctx, g, out):
    a, lo, hi = (None if p is None else to_np(p) for p in ctx.parents)
    inside = np.ones(np.shape(a), bool)
    if lo is not None:
        inside = inside & (a >= lo)
    if hi is not None:
        inside = inside & (a <= hi)
    g_lo = g_hi = None
    shape = tuple(g.shape)
    if lo is not None:
        take = a < lo
        g_lo = descend.where(const(np.broadcast_to(take & (lo < hi) if hi is not None else take, shape)), g, 0.0)
    if hi is not None:
        take = a > hi
        g_hi = descend.where(const(np.broadcast_to(take | (hi < lo) if lo is not None else take, shape)), g, 0.0)
    return descend.where(const(np.broadcast_to(inside, shape)), g, 0.0), g_lo, g_hi


@rule(_pw.NanToNum)
def _nan_to_num(ctx, g, out):
    return (g * const(np.isfinite(to_np(ctx.parents[0]))),)


@rule(_pw.CopySign)
def _copysign(ctx, g, out):
    a = ctx.parents[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(to_np(a) == 0, 0.0, to_np(out) / to_np(a))  # +-1: a constant
    return g * const(ratio.astype(out._data.dtype)), None


@rule(_pw.LogAddExp)
def _logaddexp(ctx, g, out):
    a, b = ctx.parents
    scale = np.log(2.0) if ctx.kwargs.get("base2", False) else 1.0
    wa = ((a - b) * scale).sigmoid()
    return g * wa, g * (1 - wa)


@rule(_pw.FMax)
def _fmax(ctx, g, out):
    a, b = (to_np(p) for p in ctx.parents)
    take_a = ((a >= b) if ctx.kwargs.get("sign", 1) > 0 else (a <= b)) | np.isnan(b)
    return g * const(take_a), g * const(~take_a)


# ---- ops linear in their floating inputs -----------------------------------------------------------------

class LinearAdjoint(Function):
    """Input `index`'s gradient of a linear op, as an op: forward is the op's backward, backward its forward."""

    def forward(self, g, op=None, index=0):
        # What backward needs of the op is copied now: the op's own context may be released (a first-order
        # backward through the same graph clears it) before this op's backward runs.
        self.cls, self.index, self.op_kwargs = type(op), index, dict(op.kwargs)
        self.args = [p._data if isinstance(p, Tensor) else p for p in op.parents]
        self.linear = op.needs_input_grad
        grads = op.backward(g)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return grads[index]

    def backward(self, h):
        args = []
        for j, raw in enumerate(self.args):
            if j == self.index:
                raw = h
            elif self.linear[j]:  # the other linear inputs contribute nothing to input i's part
                raw = raw * 0
            args.append(raw)
        return self.cls.__new__(self.cls).forward(*args, **self.op_kwargs)


def _linear(ctx, g, out):
    return tuple(LinearAdjoint.apply(g, op=ctx, index=i) if need else None
                 for i, need in enumerate(ctx.needs_input_grad))


_LINEAR = {"Repeat", "Flip", "Roll", "Triangle", "Diagonal", "DiagEmbed", "Gather", "IndexSelect", "Scatter",
           "IndexWrite", "CumSum", "Resample", "TakeAlongDim", "Take", "MaskedSelect", "Narrow", "Unfold",
           "PackedIdentity"}


def _register_linear() -> None:
    """Find the linear op classes by name in descend.ops (wherever their family file keeps them)."""
    for name, mod in list(sys.modules.items()):
        if not name.startswith("descend.ops.") or mod is None:
            continue
        for attr, obj in vars(mod).items():
            if attr in _LINEAR and isinstance(obj, type) and issubclass(obj, Function):
                rule(obj)(_linear)


_register_linear()


def _scatter_reduce(ctx, g, out):
    if ctx.kwargs.get("reduce", "sum") in ("sum", "mean"):
        return _linear(ctx, g, out)
    raise NotImplementedError(f"create_graph: scatter_reduce(reduce={ctx.kwargs.get('reduce')!r}) has no "
                              f"differentiable backward (only 'sum' and 'mean')")


def _register_by_name(name: str, fn: Any) -> None:
    for modname, mod in list(sys.modules.items()):
        if modname.startswith("descend.ops.") and mod is not None and isinstance(getattr(mod, name, None), type):
            rule(getattr(mod, name))(fn)


_register_by_name("ScatterReduce", _scatter_reduce)


# ---- products and norms, recomputed from multiplications -------------------------------------------------

def _slices(a, dim):
    pre = (slice(None),) * dim
    return [a[pre + (i,)] for i in range(a.shape[dim])]


def _prod(ctx, a):
    dim, keepdim = ctx.kwargs.get("dim"), ctx.kwargs.get("keepdim", False)
    x = a.reshape(-1) if dim is None else a
    d = 0 if dim is None else dim % max(a.ndim, 1)
    parts = _slices(x, d) if x.ndim else [x]
    out = parts[0]
    for p in parts[1:]:
        out = out * p
    if dim is not None and keepdim:
        out = out.unsqueeze(d)
    return out


def _cumprod(ctx, a):
    d = ctx.kwargs.get("dim", 0) % max(a.ndim, 1)
    parts = _slices(a, d)
    acc, outs = None, []
    for p in parts:
        acc = p if acc is None else acc * p
        outs.append(acc)
    return descend.stack(outs, dim=d)


def _vector_norm(ctx, a):
    ord_, dim, keepdim = ctx.kwargs.get("ord", 2.0), ctx.kwargs.get("dim"), ctx.kwargs.get("keepdim", False)
    if ord_ == float("inf"):
        return a.abs().amax(dim=dim, keepdim=keepdim) if dim is not None else a.abs().amax()
    if ord_ == float("-inf"):
        return a.abs().amin(dim=dim, keepdim=keepdim) if dim is not None else a.abs().amin()
    if ord_ == 0:
        return (a * 0).sum(dim=dim, keepdim=keepdim) + const(np.asarray(
            (to_np(a) != 0).sum(axis=dim, keepdims=keepdim), a._data.dtype))
    if ord_ == 2:
        return (a * a).sum(dim=dim, keepdim=keepdim).sqrt()
    return (a.abs() ** ord_).sum(dim=dim, keepdim=keepdim) ** (1.0 / ord_)


_register_by_name("Prod", vjp_of(_prod))
_register_by_name("CumProd", vjp_of(_cumprod))
_register_by_name("VectorNorm", vjp_of(_vector_norm))

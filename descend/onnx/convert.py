"""One conversion per descend op: `CONVERTERS[OpClass](g, ctx, out) -> name of the ONNX value for out`.

ctx is the traced op (its `parents` are the inputs, `kwargs` its arguments); `g` builds nodes and constants
(export.Graph). Opset 17 throughout.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from descend.ops import attention as _att
from descend.ops import conv as _conv
from descend.ops import conv_transpose as _ct
from descend.ops import elementwise as _ew
from descend.ops import linear as _lin
from descend.ops import matmul as _mm
from descend.ops import movement as _mv
from descend.ops import norm as _norm
from descend.ops import pool as _pool
from descend.ops import recurrent as _rec
from descend.ops import reduce as _rd
from descend.ops import resample as _rs
from descend.ops import adaptive_max as _am
from descend.onnx import convert_norm_pool as _norm_pool
from descend.onnx.export import ExportError

CONVERTERS: dict[type, Callable] = {_am.AdaptiveMaxPool: _norm_pool.adaptive_max_pool}


def converts(*classes: type) -> Callable:
    def register(fn: Callable) -> Callable:
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn

    return register


def convert(g: Any, ctx: Any, out: Any) -> str:
    fn = CONVERTERS.get(type(ctx))
    if fn is None:
        raise ExportError(f"export: the op {type(ctx).__name__} has no ONNX form in descend yet "
                          f"(descend/onnx/convert.py)")
    return fn(g, ctx, out)


def _ins(g: Any, ctx: Any, out: Any) -> list:
    return [None if p is None else g.value(p, like=out) for p in ctx.parents]


def _axes(dim: Any, ndim: int) -> list | None:
    if dim is None:
        return None
    dims = [dim] if isinstance(dim, int) else list(dim)
    return sorted(d % max(ndim, 1) for d in dims)


# ---- elementwise ---------------------------------------------------------------------------------------

_BINARY = {_ew.Add: "Add", _ew.Sub: "Sub", _ew.Mul: "Mul", _ew.Div: "Div", _ew.Pow: "Pow", _ew.Maximum: "Max",
           _ew.Minimum: "Min"}
_UNARY = {_ew.Neg: "Neg", _ew.Exp: "Exp", _ew.Log: "Log", _ew.Sqrt: "Sqrt", _ew.Abs: "Abs", _ew.Tanh: "Tanh",
          _ew.Sigmoid: "Sigmoid", _ew.ReLU: "Relu", _ew.Erf: "Erf", _mv.Clone: "Identity"}


@converts(*_BINARY)
def _binary(g, ctx, out):
    return g.node(_BINARY[type(ctx)], _ins(g, ctx, out))


@converts(*_UNARY)
def _unary(g, ctx, out):
    return g.node(_UNARY[type(ctx)], _ins(g, ctx, out))


@converts(_ew.LeakyReLU)
def _leaky_relu(g, ctx, out):
    return g.node("LeakyRelu", _ins(g, ctx, out), {"alpha": float(ctx.kwargs.get("negative_slope", 0.01))})


@converts(_ew.Softplus)
def _softplus(g, ctx, out):
    x = _ins(g, ctx, out)[0]
    beta = float(ctx.kwargs.get("beta", 1.0))
    if beta == 1.0:
        return g.node("Softplus", [x])
    scaled = g.node("Mul", [x, g.const(beta, out._data.dtype)])
    return g.node("Div", [g.node("Softplus", [scaled]), g.const(beta, out._data.dtype)])


@converts(_ew.GELU)
def _gelu(g, ctx, out):
    x = _ins(g, ctx, out)[0]
    dt = out._data.dtype
    if ctx.kwargs.get("approximate", "none") == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [cube, g.const(0.044715, dt)])]),
                               g.const(math.sqrt(2 / math.pi), dt)])
        gate = g.node("Add", [g.const(1.0, dt), g.node("Tanh", [inner])])
    else:
        gate = g.node("Add", [g.const(1.0, dt), g.node("Erf", [g.node("Div", [x, g.const(math.sqrt(2), dt)])])])
    return g.node("Mul", [g.node("Mul", [x, gate]), g.const(0.5, dt)])


@converts(_ew.SiLU)
def _silu(g, ctx, out):
    x = _ins(g, ctx, out)[0]
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@converts(_ew.Clamp)
def _clamp(g, ctx, out):
    x = _ins(g, ctx, out)[0]
    lo, hi = ctx.kwargs.get("lo"), ctx.kwargs.get("hi")
    dt = out._data.dtype
    return g.node("Clip", [x, None if lo is None else g.const(lo, dt), None if hi is None else g.const(hi, dt)])


@converts(_ew.Cast)
def _cast(g, ctx, out):
    return g.node("Cast", _ins(g, ctx, out), {"to": g.onnx.helper.np_dtype_to_tensor_dtype(out._data.dtype)})


@converts(_ew.Where)
def _where(g, ctx, out):
    cond, a, b = ctx.parents
    return g.node("Where", [g.value(cond), g.value(a, like=out), g.value(b, like=out)])


# ---- reductions ----------------------------------------------------------------------------------------

def _reduce_attr(g, op, x, axes, keepdim):
    attrs = {"keepdims": int(bool(keepdim))}
    if op == "ReduceSum":  # axes became an input of ReduceSum in opset 13
        return g.node(op, [x, None if axes is None else g.const(np.array(axes, np.int64))], attrs)
    if axes is not None:
        attrs["axes"] = axes
    return g.node(op, [x], attrs)


@converts(_rd.Sum, _rd.Mean)
def _sum_mean(g, ctx, out):
    x = g.value(ctx.parents[0])
    op = "ReduceSum" if isinstance(ctx, _rd.Sum) else "ReduceMean"
    return _reduce_attr(g, op, x, ctx.axes and list(ctx.axes), ctx.keepdim)


@converts(_rd.AMax)
def _amax(g, ctx, out):
    op = "ReduceMax" if ctx.kwargs.get("sign", 1) > 0 else "ReduceMin"
    return _reduce_attr(g, op, g.value(ctx.parents[0]), ctx.axes and list(ctx.axes), ctx.keepdim)


@converts(_rd.MaxDim)
def _max_dim(g, ctx, out):
    op = "ReduceMax" if ctx.kwargs.get("sign", 1) > 0 else "ReduceMin"
    return _reduce_attr(g, op, g.value(ctx.parents[0]), [ctx.dim], ctx.keepdim)


@converts(_rd.LogSumExp)
def _logsumexp(g, ctx, out):
    return _reduce_attr(g, "ReduceLogSumExp", g.value(ctx.parents[0]), ctx.axes and list(ctx.axes), ctx.keepdim)


@converts(_rd.Softmax, _rd.LogSoftmax)
def _softmax(g, ctx, out):
    op = "Softmax" if isinstance(ctx, _rd.Softmax) else "LogSoftmax"
    dim = ctx.dim[0] if isinstance(ctx.dim, tuple) else ctx.dim
    return g.node(op, [g.value(ctx.parents[0])], {"axis": int(dim)})


# ---- movement ------------------------------------------------------------------------------------------

@converts(_mv.Reshape)
def _reshape(g, ctx, out):
    x = ctx.parents[0]
    shape = list(out.shape)
    if g.batch is not None and x.ndim and x.shape[0] == g.batch and shape and shape[0] == g.batch:
        shape[0] = 0  # copy the (dynamic) batch size from the input
        if shape.count(-1) == 0 and len(shape) > 1:
            shape[-1] = -1
    return g.node("Reshape", [g.value(x), g.const(np.array(shape, np.int64))])


@converts(_mv.Permute)
def _permute(g, ctx, out):
    x = ctx.parents[0]
    perm = [d % max(x.ndim, 1) for d in ctx.dims]
    return g.node("Transpose", [g.value(x)], {"perm": perm})


@converts(_mv.Expand)
def _expand(g, ctx, out):
    return g.node("Expand", [g.value(ctx.parents[0]), g.const(np.array(out.shape, np.int64))])


@converts(_mv.Cat)
def _cat(g, ctx, out):
    return g.node("Concat", [g.value(p, like=out) for p in ctx.parents], {"axis": int(ctx.dim)})


@converts(_mv.Stack)
def _stack(g, ctx, out):
    axes = g.const(np.array([ctx.dim], np.int64))
    parts = [g.node("Unsqueeze", [g.value(p, like=out), axes]) for p in ctx.parents]
    return g.node("Concat", parts, {"axis": int(ctx.dim)})


@converts(_mv.Pad)
def _pad(g, ctx, out):
    x = ctx.parents[0]
    pad = list(ctx.kwargs.get("pad", ()))
    widths = [[0, 0] for _ in range(x.ndim)]
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = [pad[2 * i], pad[2 * i + 1]]
    pads = g.const(np.array([w[0] for w in widths] + [w[1] for w in widths], np.int64))
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(ctx.mode)
    if mode is None:
        raise ExportError(f"export: pad mode {ctx.mode!r} has no ONNX form in opset {g.opset}")
    value = g.const(ctx.kwargs.get("value", 0.0) or 0.0, out._data.dtype)
    return g.node("Pad", [g.value(x), pads, value], {"mode": mode})


@converts(_mv.GetItem)
def _getitem(g, ctx, out):
    x = ctx.parents[0]
    index = ctx.index if isinstance(ctx.index, tuple) else (ctx.index,)
    if any(isinstance(i, np.ndarray) and i.dtype != bool for i in index):
        arrays = [(d, i) for d, i in enumerate(index) if isinstance(i, np.ndarray)]
        if len(arrays) == 1 and all(i == slice(None) for d, i in enumerate(index) if d != arrays[0][0]):
            d, idx = arrays[0]
            return g.node("Gather", [g.value(x), g.value(idx.astype(np.int64))], {"axis": d})
        raise ExportError("export: indexing with several index arrays has no ONNX form in descend yet")
    if Ellipsis in index:
        at = index.index(Ellipsis)
        fill = x.ndim - (len(index) - 1 - sum(i is None for i in index))
        index = index[:at] + (slice(None),) * fill + index[at + 1:]
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    dim = 0
    for i in index:
        if i is None:
            unsqueeze.append(len(axes) + len(unsqueeze))
            continue
        n = x.shape[dim]
        if isinstance(i, (int, np.integer)):
            i = int(i) % n
            starts.append(i), ends.append(i + 1), axes.append(dim), steps.append(1)
            squeeze.append(dim)
        elif isinstance(i, slice):
            s, e, st = i.indices(n)
            if (s, e, st) != (0, n, 1):
                starts.append(s), ends.append(e if e >= 0 else -(2 ** 62)), axes.append(dim), steps.append(st)
        else:
            raise ExportError(f"export: index {i!r} has no ONNX form in descend yet")
        dim += 1
    y = g.value(x)
    if axes:
        y = g.node("Slice", [y] + [g.const(np.array(v, np.int64)) for v in (starts, ends, axes, steps)])
    if squeeze:
        y = g.node("Squeeze", [y, g.const(np.array(squeeze, np.int64))])
    if unsqueeze:
        y = g.node("Unsqueeze", [y, g.const(np.array(unsqueeze, np.int64))])
    return y


# ---- linear algebra and layers -------------------------------------------------------------------------

@converts(_mm.MatMul)
def _matmul(g, ctx, out):
    return g.node("MatMul", _ins(g, ctx, out))


@converts(_lin.Linear)
def _linear(g, ctx, out):
    x, w = ctx.parents[0], ctx.parents[1]
    b = ctx.parents[2] if len(ctx.parents) > 2 else None
    wt = g.node("Transpose", [g.value(w)], {"perm": [1, 0]})
    y = g.node("MatMul", [g.value(x), wt])
    return y if b is None else g.node("Add", [y, g.value(b)])


@converts(_lin.Embedding)
def _embedding(g, ctx, out):
    idx = np.asarray(ctx.kwargs["indices"])
    name = g.arrays.get(id(ctx.kwargs["indices"]))
    ids = name if name is not None else g.const(idx.astype(np.int64))
    if idx.dtype != np.int64 and name is not None:
        ids = g.node("Cast", [ids], {"to": g.onnx.TensorProto.INT64})
    return g.node("Gather", [g.value(ctx.parents[0]), ids], {"axis": 0})


def _pads(padding: Any) -> list:
    pairs = [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding]
    return [lo for lo, _ in pairs] + [hi for _, hi in pairs]


@converts(_conv.ConvNd)
def _conv_nd(g, ctx, out):
    kw = ctx.kwargs
    w = ctx.parents[1]
    d = w.ndim - 2
    attrs = {"kernel_shape": list(w.shape[2:]), "strides": list(kw.get("stride", (1,) * d))[:d],
             "pads": _pads(list(kw.get("padding", ((0, 0),) * d))[:d]),
             "dilations": list(kw.get("dilation", (1,) * d))[:d], "group": int(kw.get("groups", 1))}
    return g.node("Conv", [x for x in _ins(g, ctx, out) if x is not None], attrs)


@converts(_ct.ConvTransposeNd)
def _conv_transpose(g, ctx, out):
    kw = ctx.kwargs
    w = ctx.parents[1]
    d = w.ndim - 2
    attrs = {"kernel_shape": list(w.shape[2:]), "strides": list(kw.get("stride", (1,) * d))[:d],
             "pads": _pads(list(kw.get("padding", ((0, 0),) * d))[:d]),
             "dilations": list(kw.get("dilation", (1,) * d))[:d], "group": int(kw.get("groups", 1)),
             "output_padding": list(kw.get("output_padding", (0,) * d))[:d]}
    return g.node("ConvTranspose", [x for x in _ins(g, ctx, out) if x is not None], attrs)


@converts(_pool.MaxPool)
def _max_pool(g, ctx, out):
    kw = ctx.kwargs
    d = len(ctx.kernel)
    pad = list(kw.get("padding", (0,) * d))
    attrs = {"kernel_shape": list(ctx.kernel), "strides": list(ctx.stride), "pads": pad + pad,
             "dilations": list(ctx.dilation), "ceil_mode": int(bool(kw.get("ceil_mode", False)))}
    return g.node("MaxPool", [g.value(ctx.parents[0])], attrs)


@converts(_pool.AvgPool)
def _avg_pool(g, ctx, out):
    kw = ctx.kwargs
    if kw.get("divisor_override"):
        raise ExportError("export: avg_pool with divisor_override has no ONNX form")
    d = len(ctx.kernel)
    pad = list(kw.get("padding", (0,) * d))
    attrs = {"kernel_shape": list(ctx.kernel), "strides": list(ctx.stride), "pads": pad + pad,
             "ceil_mode": int(bool(kw.get("ceil_mode", False))),
             "count_include_pad": int(bool(kw.get("count_include_pad", True)))}
    return g.node("AveragePool", [g.value(ctx.parents[0])], attrs)


def _affine(g, ctx, out, c):
    w = ctx.parents[1] if len(ctx.parents) > 1 else None
    b = ctx.parents[2] if len(ctx.parents) > 2 else None
    dt = out._data.dtype
    return (g.value(w) if w is not None else g.const(np.ones(c, dt)),
            g.value(b) if b is not None else g.const(np.zeros(c, dt)))


@converts(_norm.BatchNorm)
def _batch_norm(g, ctx, out):
    kw = ctx.kwargs
    x = ctx.parents[0]
    c = x.shape[1]
    scale, bias = _affine(g, ctx, out, c)
    if kw.get("training", False):  # batch statistics (instance norm): export runs the model in eval()
        return _norm_pool.batch_stats_norm(g, ctx, out, scale, bias)
    mean = g.const(np.asarray(kw["running_mean"], out._data.dtype))
    var = g.const(np.asarray(kw["running_var"], out._data.dtype))
    return g.node("BatchNormalization", [g.value(x), scale, bias, mean, var],
                  {"epsilon": float(kw.get("eps", 1e-5))})


@converts(_norm.LayerNorm)
def _layer_norm(g, ctx, out):
    n_dims = int(ctx.kwargs.get("n_dims", 1))
    x = ctx.parents[0]
    scale, bias = _affine(g, ctx, out, tuple(x.shape[-n_dims:]))
    return g.node("LayerNormalization", [g.value(x), scale, bias],
                  {"axis": -n_dims, "epsilon": float(ctx.kwargs.get("eps", 1e-5))})


@converts(_norm.GroupNorm)
def _group_norm(g, ctx, out):
    kw = ctx.kwargs
    x = ctx.parents[0]
    n_groups, eps = int(kw.get("num_groups", 1)), float(kw.get("eps", 1e-5))
    dt = out._data.dtype
    grouped = g.node("Reshape", [g.value(x), g.const(np.array([0, n_groups, -1], np.int64))])
    mean = g.node("ReduceMean", [grouped], {"axes": [2], "keepdims": 1})
    centered = g.node("Sub", [grouped, mean])
    var = g.node("ReduceMean", [g.node("Mul", [centered, centered])], {"axes": [2], "keepdims": 1})
    normed = g.node("Div", [centered, g.node("Sqrt", [g.node("Add", [var, g.const(eps, dt)])])])
    y = g.node("Reshape", [normed, g.node("Shape", [g.value(x)])])
    shape = g.const(np.array([1, x.shape[1]] + [1] * (x.ndim - 2), np.int64))
    w = ctx.parents[1] if len(ctx.parents) > 1 else None
    b = ctx.parents[2] if len(ctx.parents) > 2 else None
    if w is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(w), shape])])
    if b is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(b), shape])])
    return y


@converts(_rs.Resample)
def _resample(g, ctx, out):
    maps = [np.asarray(a, out._data.dtype) for a in ctx.maps]
    x = g.value(ctx.parents[0])
    if len(maps) == 1:
        return g.node("MatMul", [x, g.const(maps[0].T)])
    return g.node("MatMul", [g.node("MatMul", [g.const(maps[0]), x]), g.const(maps[1].T)])


@converts(_att.Attention)
def _attention(g, ctx, out):
    kw = ctx.kwargs
    q, k, v = (g.value(p, like=out) for p in ctx.parents[:3])
    bias = ctx.parents[3] if len(ctx.parents) > 3 else None
    dt = out._data.dtype
    rank = ctx.parents[1].ndim
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    s = g.node("MatMul", [g.node("Mul", [q, g.const(kw.get("scale", 1.0), dt)]), g.node("Transpose", [k],
                                                                                       {"perm": perm})])
    if bias is not None:
        s = g.node("Add", [s, g.value(bias, like=out)])
    if kw.get("causal", False):
        lq, lk = ctx.parents[0].shape[-2], ctx.parents[1].shape[-2]
        s = g.node("Add", [s, g.const(_att.causal_bias(np, lq, lk, dt))])
    return g.node("MatMul", [g.node("Softmax", [s], {"axis": -1}), v])


def _gate_rows(w: np.ndarray, order: list, hid: int) -> np.ndarray:
    return np.concatenate([w[i * hid:(i + 1) * hid] for i in order], axis=0)


@converts(_rec.GRURecurrence, _rec.LSTMRecurrence)
def _recurrence(g, ctx, out):
    """ONNX GRU/LSTM fed with descend's precomputed input projections: W selects (and reorders) them."""
    lstm = isinstance(ctx, _rec.LSTMRecurrence)
    parents = list(ctx.parents)
    gi, h0 = parents[0], parents[1]
    c0 = parents[2] if lstm else None
    w_hh = parents[3] if lstm else parents[2]
    b_hh = parents[4] if lstm else parents[3]
    hid = w_hh.shape[1]
    gates = 4 if lstm else 3
    order = [0, 3, 1, 2] if lstm else [1, 0, 2]  # ONNX's i,o,f,c from PyTorch's i,f,g,o; z,r,h from r,z,n
    dt = out._data.dtype
    eye = _gate_rows(np.eye(gates * hid, dtype=dt), order, hid)[None]
    r = _gate_rows(np.asarray(w_hh._data), order, hid)[None]
    rb = np.zeros(gates * hid, dt) if b_hh is None else _gate_rows(np.asarray(b_hh._data), order, hid)
    bias = g.const(np.concatenate([np.zeros(gates * hid, dt), rb])[None])
    w_name, r_name = g.const(eye), g.const(r)  # the export holds the weights as constants anyway
    direction = "reverse" if ctx.kwargs.get("reverse", False) else "forward"
    init_h = None if _zeros(h0) else g.node("Unsqueeze", [g.value(h0), g.const(np.array([0], np.int64))])
    inputs = [g.value(gi), w_name, r_name, bias, None, init_h]
    attrs = {"hidden_size": hid, "direction": direction}
    if lstm:
        init_c = None if _zeros(c0) else g.node("Unsqueeze", [g.value(c0), g.const(np.array([0], np.int64))])
        y, _, yc = g.node("LSTM", inputs + [init_c], attrs, outputs=3)
        seq = g.node("Squeeze", [y, g.const(np.array([1], np.int64))])
        return g.node("Concat", [seq, yc], {"axis": 0})
    attrs["linear_before_reset"] = 1
    y, _ = g.node("GRU", inputs, attrs, outputs=2)
    return g.node("Squeeze", [y, g.const(np.array([1], np.int64))])


def _zeros(t: Any) -> bool:
    """An initial state that is a constant zero (not traced) can be left to ONNX's default."""
    return t is None or (not t.requires_grad and not np.any(np.asarray(t._data)))

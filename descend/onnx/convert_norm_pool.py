"""ONNX forms of batch-statistics normalisation and adaptive max pooling, registered in convert.py.

Both are built from elementary ONNX nodes, so they hold for every input size the model was traced at:
- BatchNorm with batch statistics (what instance norm runs on its (1, N * C, ...) view, and any
  F.batch_norm(training=True) left in an eval-mode forward): mean and biased variance over every axis but the
  channel's, as the forward computes them; the running statistics it also updates play no part at inference.
- Adaptive max pooling: the input plane flattened, every window's positions gathered (PyTorch's window
  bounds, from ops/adaptive_max.window_index), and the maximum taken over each window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.ops.adaptive_max import window_index


def batch_stats_norm(g: Any, ctx: Any, out: Any, scale: str, bias: str) -> str:
    """(x - mean) / sqrt(var + eps) * scale + bias, the statistics over every axis but axis 1."""
    x = ctx.parents[0]
    dt = out._data.dtype
    axes = [0] + list(range(2, x.ndim))
    xv = g.value(x)
    mean = g.node("ReduceMean", [xv], {"axes": axes, "keepdims": 1})
    centered = g.node("Sub", [xv, mean])
    var = g.node("ReduceMean", [g.node("Mul", [centered, centered])], {"axes": axes, "keepdims": 1})
    eps = g.const(np.asarray(float(ctx.kwargs.get("eps", 1e-5)), dt))
    normed = g.node("Div", [centered, g.node("Sqrt", [g.node("Add", [var, eps])])])
    shape = g.const(np.array([1, x.shape[1]] + [1] * (x.ndim - 2), np.int64))
    y = g.node("Mul", [normed, g.node("Reshape", [scale, shape])])
    return g.node("Add", [y, g.node("Reshape", [bias, shape])])


def adaptive_max_pool(g: Any, ctx: Any, out: Any) -> str:
    """Max over PyTorch's adaptive windows of the last two dims, as Reshape, Gather and ReduceMax."""
    x = ctx.parents[0]
    (h, w), (oh, ow) = x.shape[-2:], tuple(out.shape[-2:])
    rows, cols = window_index(h, oh), window_index(w, ow)
    # Flat positions (oh, ow, kh * kw) in the (h, w) plane; a narrow window repeats its last position.
    flat = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(oh, ow, -1).astype(np.int64)
    lead = x.ndim - 2
    plane = g.node("Reshape", [g.value(x), g.const(np.array([0] * lead + [-1], np.int64))])
    windows = g.node("Gather", [plane, g.const(flat)], {"axis": lead})
    return g.node("ReduceMax", [windows], {"axes": [lead + 2], "keepdims": 0})

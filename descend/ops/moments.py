"""Statistics over samples and integrals of samples: cov, corrcoef, mode, nanquantile, trapezoid."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops import return_types
from descend.ops.errors import OpError
from descend.ops.indexing import Gather, dim_index
from descend.ops.logic import raw
from descend.ops.shape import narrow
from descend.ops.movement import stack
from descend.ops.stats import cumsum, quantile
from descend._tensor import Tensor


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of input (observations in columns)."""
    if input.ndim > 2:
        raise OpError(f"cov: expected a 1-D or 2-D tensor, got shape {input.shape}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if x._data.dtype.kind not in "fc":
        x = x.float()
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        n = x.shape[1]
        centered = x - x.mean(1, keepdim=True)
        out = centered @ centered.mT / max(n - correction, 0)
    else:
        total = w.sum()
        mean = (x * w).sum(1, keepdim=True) / total
        centered = x - mean
        if aweights is None:
            norm = total - correction
        else:
            norm = total - correction * (w * aweights.to(x.dtype)).sum() / total
        out = (centered * w) @ centered.mT / norm
    return out.reshape(()) if input.ndim < 2 else out


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of input, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal().sqrt()
    return (c / d.reshape(-1, 1) / d.reshape(1, -1)).clamp(-1, 1)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """The most frequent value along dim (the smallest among ties) and an index where it occurs."""
    a = raw(input)
    xp = get_array_module(a)
    d = dim_index(dim, a.ndim, "mode") if a.ndim else 0
    src = a if a.ndim else a.reshape(1)
    moved = xp.moveaxis(src, d, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    values = xp.empty(flat.shape[0], dtype=a.dtype)
    index = xp.empty(flat.shape[0], dtype=np.int64)
    for i, row in enumerate(flat):
        uniq, counts = xp.unique(row, return_counts=True)
        v = uniq[int(counts.argmax())]
        values[i] = v
        index[i] = int(xp.flatnonzero(row == v)[-1])  # PyTorch reports the last occurrence
    idx = index.reshape(moved.shape[:-1])
    idx_t = Tensor(xp.expand_dims(idx, d) if a.ndim else idx.reshape(1))
    vals = Gather.apply(input if a.ndim else input.reshape(1), idx_t, dim=d)
    if not keepdim or not a.ndim:
        vals, idx_t = vals.squeeze(d), Tensor(idx)
    return return_types.mode(vals, idx_t)


def nanquantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile ignoring NaN (computed slice by slice over the non-NaN values)."""
    a = raw(input)
    xp = get_array_module(a)
    if not bool(xp.isnan(a).any()):
        return quantile(input, q, dim, keepdim, interpolation=interpolation)
    if dim is None:
        flat = input.reshape(-1)
        keep = Tensor(xp.flatnonzero(~xp.isnan(flat._data)))
        out = quantile(flat[keep], q, None, False, interpolation=interpolation)
        return out.reshape(out.shape + (1,) * input.ndim) if keepdim else out
    d = dim_index(dim, input.ndim, "nanquantile")
    moved = input.movedim(d, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    outs = []
    for i in range(rows.shape[0]):
        row = rows[i]
        keep = Tensor(xp.flatnonzero(~xp.isnan(row._data)))
        outs.append(quantile(row[keep], q, None, False, interpolation=interpolation))
    out = stack(outs, -1).reshape(*outs[0].shape, *moved.shape[:-1])
    return out.unsqueeze(d + (1 if outs[0].ndim else 0)) if keepdim else out


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The trapezoid rule integral of y along dim (samples at x, or spaced dx = 1 apart)."""
    d = dim_index(dim, y.ndim, "trapezoid")
    n = y.shape[d]
    if n == 0:
        return y.sum(d)
    mids = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) * 0.5
    if x is None:
        return mids.sum(d) * (1.0 if dx is None else dx)
    steps = narrow(x, -1 if x.ndim == 1 else d, 1, n - 1) - narrow(x, -1 if x.ndim == 1 else d, 0, n - 1)
    if x.ndim == 1 and y.ndim > 1:
        shape = [1] * y.ndim
        shape[d] = n - 1
        steps = steps.reshape(shape)
    return (mids * steps).sum(d)


trapz = trapezoid


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """Running trapezoid-rule integrals of y along dim (one fewer than the samples)."""
    d = dim_index(dim, y.ndim, "cumulative_trapezoid")
    n = y.shape[d]
    mids = (narrow(y, d, 1, max(n - 1, 0)) + narrow(y, d, 0, max(n - 1, 0))) * 0.5
    if x is None:
        return cumsum(mids * (1.0 if dx is None else dx), d)
    steps = narrow(x, -1 if x.ndim == 1 else d, 1, n - 1) - narrow(x, -1 if x.ndim == 1 else d, 0, n - 1)
    if x.ndim == 1 and y.ndim > 1:
        shape = [1] * y.ndim
        shape[d] = n - 1
        steps = steps.reshape(shape)
    return cumsum(mids * steps, d)

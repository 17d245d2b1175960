"""Reductions and the numerically stable softmax family."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops import kernels, return_types
from descend.ops.elementwise import Maximum, Minimum
from descend.ops.errors import OpError
from descend._tensor import Function, Tensor


def _axes(dim: Any, ndim: int, op: str) -> tuple | None:
    """Normalise a dim argument (None, int or sequence; negatives allowed) to a sorted tuple."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor of {ndim} dimensions")
        out.append(d % max(ndim, 1))
    # A 0-d tensor's dim 0 (or -1) is its one element, as in PyTorch: reduce over everything.
    return None if ndim == 0 else tuple(sorted(out))


def _expand(g: Any, shape: tuple, axes: tuple | None, keepdim: bool) -> Any:
    """Put reduced axes back into a gradient so it broadcasts against the input."""
    if not keepdim and axes is not None and g.ndim != len(shape):
        g = get_array_module(g).expand_dims(g, axes)
    return g


def _broadcast(g: Any, shape: tuple) -> Any:
    """g broadcast to shape: a copy when small (np.broadcast_to costs ~2 µs in Python), else a free view."""
    xp = get_array_module(g)
    if math.prod(shape) <= 4096:
        out = xp.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    return xp.broadcast_to(g, shape)


class Sum(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, self.keepdim = a.shape, keepdim
        self.axes = _axes(dim, a.ndim, "sum")
        if a.dtype.kind in "biu":  # integers and bools sum in int64, as in PyTorch (NumPy gives uint64 for uint8)
            a = a.astype(np.int64)
        return get_array_module(a).asarray(a.sum(axis=self.axes, keepdims=keepdim))

    def backward(self, g):
        return _broadcast(_expand(g, self.shape, self.axes, self.keepdim), self.shape)


class Mean(Function):
    def forward(self, a, dim=None, keepdim=False):
        if a.dtype.kind not in "fc":
            raise OpError(f"mean: expected a floating tensor, got dtype {a.dtype}; convert with .float() first")
        self.shape, self.keepdim = a.shape, keepdim
        self.axes = _axes(dim, a.ndim, "mean")
        self.count = a.size if self.axes is None else int(np.prod([a.shape[i] for i in self.axes]))
        return get_array_module(a).asarray(a.mean(axis=self.axes, keepdims=keepdim))

    def backward(self, g):
        return _broadcast(_expand(g, self.shape, self.axes, self.keepdim) / self.count, self.shape)


class Var(Function):
    def forward(self, a, dim=None, correction=1, keepdim=False):
        xp = get_array_module(a)
        if a.dtype.kind not in "fc":
            raise OpError(f"var/std: expected a floating tensor, got dtype {a.dtype}; convert with .float() first")
        self.axes = _axes(dim, a.ndim, "var")
        self.shape, self.keepdim = a.shape, keepdim
        n = a.size if self.axes is None else int(np.prod([a.shape[i] for i in self.axes]))
        self.denom = max(n - correction, 0)
        self.centered = a - a.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.asarray((self.centered ** 2).sum(axis=self.axes, keepdims=keepdim) / self.denom)

    def backward(self, g):
        g = _expand(g, self.shape, self.axes, self.keepdim)
        # No degrees of freedom left: 2 / 0 is inf, as PyTorch's (the gradient is then NaN, as the value is).
        with np.errstate(invalid="ignore"):
            return g * (2 / self.denom if self.denom else math.inf) * self.centered


class AMax(Function):
    """max/min over dims; tied maxima share the gradient evenly (PyTorch's amax/amin)."""

    def forward(self, a, dim=None, keepdim=False, sign=1, nan_gets_grad=False):
        xp = get_array_module(a)
        self.axes = _axes(dim, a.ndim, "amax" if sign > 0 else "amin")
        self.shape, self.keepdim = a.shape, keepdim
        if a.size == 0 and (self.axes is None or any(a.shape[i] == 0 for i in self.axes)):
            raise OpError(f"{'max' if sign > 0 else 'min'}: cannot reduce an empty tensor {a.shape} over "
                          f"{'all dims' if self.axes is None else f'dims {self.axes}'}")
        self.small = (a.ndim > 1 and self.axes is not None and len(self.axes) == 1
                      and a.shape[self.axes[0]] <= _SMALL_AXIS)
        self.rows = self._mask = None
        if (self.small and self.axes[0] == a.ndim - 1 and a.flags.c_contiguous
                and kernels.get("amax_rows", a) is not None):
            # Maxout's pieces: the reduction and the tie counts in one compiled pass, no full-size mask.
            rows = a.reshape(-1, a.shape[-1])
            out, count = np.empty(rows.shape[0], a.dtype), np.empty(rows.shape[0], a.dtype)
            kernels.loop("amax_rows")(rows, sign, out, count)
            # Backward reads its own copy of the maxima (1/k of the input): an in-place edit of the output
            # must not move the ties.
            self.rows, self.out, self.count = rows, out.copy(), count
            return out.reshape(a.shape[:-1] + ((1,) if keepdim else ()))
        if self.small:
            # NumPy reduces a short axis element by element; k - 1 elementwise passes over its slices are
            # several times faster (Maxout's pieces). np.maximum propagates NaN as max does.
            pick = xp.maximum if sign > 0 else xp.minimum
            parts = _slices(a, self.axes[0])
            out = pick(parts[0], parts[1]) if len(parts) > 1 else parts[0].copy()
            for part in parts[2:]:
                pick(out, part, out=out)
            out = xp.expand_dims(out, self.axes)
        else:
            out = a.max(axis=self.axes, keepdims=True) if sign > 0 else a.min(axis=self.axes, keepdims=True)
        self.mask = a == out
        if nan_gets_grad and a.dtype.kind in "fc" and out.size == 1 and out.reshape(()) != out.reshape(()):
            self.mask = xp.isnan(a)  # max()/min() of a tensor with NaN: PyTorch's gradient goes to the NaNs
        if not keepdim:
            out = out.reshape(()) if self.axes is None else xp.squeeze(out, axis=self.axes)
        return xp.asarray(out)

    @property
    def mask(self) -> Any:
        """Where the input equals its extremum (ties included): kept by the NumPy path, derived on demand
        after the compiled one (an upstream gradient of another dtype, the create_graph rule)."""
        if self._mask is None and self.rows is not None:
            self._mask = self.rows.reshape(self.shape) == np.expand_dims(self.out.reshape(self.shape[:-1]), -1)
        return self._mask

    @mask.setter
    def mask(self, value: Any) -> None:
        self._mask = value

    def backward(self, g):
        if self.rows is not None and g.dtype == self.rows.dtype and type(g) is np.ndarray:
            gx = np.empty_like(self.rows)
            kernels.loop("amax_rows_backward")(self.rows, self.out, np.ascontiguousarray(g).reshape(-1),
                                               self.count, gx)
            return gx.reshape(self.shape)
        g = _expand(g, self.shape, self.axes, self.keepdim)
        mask = self.mask
        if self.small:
            parts = _slices(mask, self.axes[0])
            count = parts[0].astype(g.dtype)
            for part in parts[1:]:
                count += part
            # Divide the small reduced array first, then one pass over the full-size mask.
            return mask * (g / get_array_module(g).expand_dims(count, self.axes))
        return g * mask / mask.sum(axis=self.axes, keepdims=True)


_SMALL_AXIS = 16


def _slices(a: Any, axis: int) -> list:
    """The views a[..., i, ...] along one axis."""
    lead = (slice(None),) * axis
    return [a[lead + (i,)] for i in range(a.shape[axis])]


class MaxDim(Function):
    """max/min along one dim with indices; the gradient goes to the selected index (PyTorch's max(dim))."""

    def forward(self, a, dim=0, keepdim=False, sign=1):
        xp = get_array_module(a)
        self.dim = _axes(dim, a.ndim, "max")[0]
        self.shape, self.keepdim = a.shape, keepdim
        idx = a.argmax(axis=self.dim) if sign > 0 else a.argmin(axis=self.dim)
        self.idx = xp.expand_dims(idx, self.dim)
        out = xp.take_along_axis(a, self.idx, axis=self.dim)
        return out if keepdim else xp.squeeze(out, axis=self.dim)

    def backward(self, g):
        xp = get_array_module(g)
        if not self.keepdim:
            g = xp.expand_dims(g, self.dim)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.put_along_axis(out, self.idx, g, axis=self.dim)
        return out


def max_(t: Tensor, dim: int | None, keepdim: bool) -> Any:
    """`t.max()` reduces everything; `t.max(dim)` returns (values, indices) like PyTorch."""
    if isinstance(dim, Tensor):  # t.max(other): the elementwise maximum
        return Maximum.apply(t, dim)
    if dim is None:
        return AMax.apply(t, nan_gets_grad=True)
    if t.ndim == 0:  # dim 0 of a 0-d tensor is its one element (PyTorch)
        return on_one_element(max_, t, dim, keepdim)
    values = MaxDim.apply(t, dim=dim, keepdim=keepdim)
    return return_types.max(values, argmax(t, dim, keepdim))


def min_(t: Tensor, dim: int | None, keepdim: bool) -> Any:
    """`t.min()` reduces everything; `t.min(dim)` returns (values, indices) like PyTorch."""
    if isinstance(dim, Tensor):  # t.min(other): the elementwise minimum
        return Minimum.apply(t, dim)
    if dim is None:
        return AMax.apply(t, sign=-1, nan_gets_grad=True)
    if t.ndim == 0:
        return on_one_element(min_, t, dim, keepdim)
    values = MaxDim.apply(t, dim=dim, keepdim=keepdim, sign=-1)
    idx = get_array_module(t._data).argmin(t._data, axis=dim)
    if keepdim:
        idx = get_array_module(idx).expand_dims(idx, dim)
    return return_types.min(values, Tensor(idx.astype(np.int64)))


def on_one_element(fn: Any, t: Tensor, dim: Any, *args: Any, **kwargs: Any) -> Any:
    """fn along dim 0 (or -1) of a 0-d tensor, which PyTorch treats as a 1-element dim: fn over the tensor as
    shape (1,), each result back to 0-d (a (values, indices) pair keeps its type)."""
    if dim not in (0, -1):
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got {dim})")
    out = fn(t.reshape(1), 0, *args, **kwargs)
    return type(out)(*(o.reshape(()) for o in out)) if isinstance(out, tuple) else out.reshape(())


def argmax(t: Tensor, dim: int | None, keepdim: bool, sign: int = 1) -> Tensor:
    """Indices of the maxima (sign=-1: minima), the first of ties (int64, no gradient)."""
    a = t._data
    xp = get_array_module(a)
    if dim is None:
        idx = xp.asarray(a.argmax() if sign > 0 else a.argmin())
        return Tensor((idx.reshape((1,) * a.ndim) if keepdim else idx).astype(np.int64))
    d = _axes(dim, a.ndim, "argmax" if sign > 0 else "argmin")[0] if a.ndim else 0
    idx = a.argmax(axis=d) if sign > 0 else a.argmin(axis=d)
    if keepdim and a.ndim:
        idx = xp.expand_dims(idx, d)
    return Tensor(xp.asarray(idx).astype(np.int64))


def argmin(t: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Indices of the minima, the first of ties (int64, no gradient)."""
    return argmax(t, dim, keepdim, sign=-1)


def _stable_max(a: Any, axes: tuple | None) -> Any:
    """Row maxima used as the shift for exp; infinite maxima are replaced by 0 so inf - inf never appears."""
    xp = get_array_module(a)
    m = a.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0)


class LogSumExp(Function):
    def forward(self, a, dim=None, keepdim=False):
        xp = get_array_module(a)
        self.axes = _axes(dim, a.ndim, "logsumexp")
        self.shape, self.keepdim, self.a = a.shape, keepdim, a
        m = _stable_max(a, self.axes)
        with np.errstate(divide="ignore"):
            out = xp.log(xp.exp(a - m).sum(axis=self.axes, keepdims=True)) + m
        self.out = out
        if not keepdim:
            out = out.reshape(()) if self.axes is None else xp.squeeze(out, axis=self.axes)
        return xp.asarray(out)

    def backward(self, g):
        g = _expand(g, self.shape, self.axes, self.keepdim)
        return g * get_array_module(g).exp(self.a - self.out)


class Softmax(Function):
    def forward(self, a, dim=-1):
        xp = get_array_module(a)
        self.dim = _axes(dim, a.ndim, "softmax")
        e = xp.exp(a - _stable_max(a, self.dim))
        self.out = e / e.sum(axis=self.dim, keepdims=True)
        return self.out

    def backward(self, g):
        out = self.out
        return out * (g - (g * out).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, dim=-1):
        xp = get_array_module(a)
        self.dim = _axes(dim, a.ndim, "log_softmax")
        shifted = a - _stable_max(a, self.dim)
        # Subtracting the max first means the sum is >= 1, so the log is finite for finite input.
        self.out = shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))
        return self.out

    def backward(self, g):
        xp = get_array_module(g)
        return g - xp.exp(self.out) * g.sum(axis=self.dim, keepdims=True)

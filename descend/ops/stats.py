"""Reductions beyond sum and mean: products, cumulative ops, sorting and order statistics, norms."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops import return_types
from descend.ops.elementwise import Exp, Log, Where
from descend.ops.errors import OpError
from descend.ops.indexing import Gather, IndexSelect, dim_index
from descend.ops.logic import raw
from descend.ops.reduce import _axes, _expand, on_one_element
from descend.ops.joining import concat
from descend.ops.shape import narrow
from descend._tensor import Function, Tensor


def _int64(a: Any) -> Any:
    """Integer and bool inputs accumulate in int64, as PyTorch's sum/prod/cumsum do."""
    return a.astype(np.int64) if a.dtype.kind in "biu" else a


def _exclusive_products(a: Any, axis: int) -> Any:
    """For each element, the product of all the others along axis (exact where some are zero)."""
    xp = get_array_module(a)
    ones = xp.ones_like(xp.take(a, [0], axis=axis))
    left = xp.concatenate([ones, xp.cumprod(a, axis=axis)], axis=axis)
    flipped = xp.flip(a, axis=axis)
    right = xp.flip(xp.concatenate([ones, xp.cumprod(flipped, axis=axis)], axis=axis), axis=axis)
    n = a.shape[axis]
    return xp.take(left, range(n), axis=axis) * xp.take(right, range(1, n + 1), axis=axis)


class Prod(Function):
    def forward(self, a, dim=None, keepdim=False):
        xp = get_array_module(a)
        a = _int64(a)
        self.a, self.keepdim, self.shape = a, keepdim, a.shape
        self.axes = None if dim is None else _axes(dim, a.ndim, "prod")
        return xp.asarray(a.prod(axis=self.axes, keepdims=keepdim))

    def backward(self, g):
        if self.axes is None or self.a.ndim == 0:
            flat = self.a.reshape(-1)
            return (g * _exclusive_products(flat, 0)).reshape(self.shape) if flat.size else g.reshape(self.shape)
        g = _expand(g, self.shape, self.axes, self.keepdim)
        return g * _exclusive_products(self.a, self.axes[0])


class CumSum(Function):
    def forward(self, a, dim=0):
        self.dim = dim_index(dim, a.ndim, "cumsum")
        return get_array_module(a).cumsum(_int64(a), axis=self.dim) if a.ndim else _int64(a).copy()

    def backward(self, g):
        if g.ndim == 0:
            return g
        xp = get_array_module(g)
        return xp.flip(xp.cumsum(xp.flip(g, self.dim), axis=self.dim), self.dim)


class CumProd(Function):
    def forward(self, a, dim=0):
        self.dim = dim_index(dim, a.ndim, "cumprod")
        self.a = _int64(a)
        self.out = get_array_module(a).cumprod(self.a, axis=self.dim) if a.ndim else self.a.copy()
        return self.out

    def backward(self, g):
        xp = get_array_module(g)
        a, d = self.a, self.dim
        if g.ndim == 0:
            return g
        if bool((a != 0).all()):
            # d out_j / d a_i = out_j / a_i for j >= i: a reversed cumulative sum.
            return xp.flip(xp.cumsum(xp.flip(g * self.out, d), axis=d), d) / a
        # With zeros, recompute each position's products with that element set to one (exact, O(n^2)).
        out = xp.zeros_like(g)
        n = a.shape[d]
        for i in range(n):
            tail = [slice(None)] * a.ndim
            tail[d] = slice(i, n)
            b = a[tuple(tail)].copy()
            first = [slice(None)] * a.ndim
            first[d] = slice(0, 1)
            b[tuple(first)] = 1
            head = [slice(None)] * a.ndim
            head[d] = slice(0, i)
            before = a[tuple(head)].prod(axis=d, keepdims=True)
            contrib = (g[tuple(tail)] * xp.cumprod(b, axis=d) * before).sum(axis=d)
            pos = [slice(None)] * a.ndim
            pos[d] = i
            out[tuple(pos)] = contrib
        return out


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along dim (integer inputs give int64)."""
    return CumSum.apply(input if dtype is None else input.to(dtype), dim=dim)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products along dim (integer inputs give int64)."""
    return CumProd.apply(input if dtype is None else input.to(dtype), dim=dim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product of all elements, or along one dim (integer inputs give int64)."""
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise OpError(f"prod: dim must be an int, got {dim!r}")
    return Prod.apply(input if dtype is None else input.to(dtype), dim=dim, keepdim=keepdim)


# ---- sorting and order statistics ------------------------------------------------------------------------

def _argsort(a: Any, dim: int, descending: bool) -> Any:
    xp = get_array_module(a)
    if a.ndim == 0:
        return xp.zeros((), dtype=np.int64)
    if descending:
        key = -a.astype(np.int64) if a.dtype.kind in "bu" else -a
        # NaN sorts as the largest value, as in PyTorch.
        if a.dtype.kind == "f":
            key = xp.where(xp.isnan(a), -np.inf, key)
    else:
        key = a
    return xp.argsort(key, axis=dim, kind="stable").astype(np.int64)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort input along dim (stable, so ties keep their order)."""
    a = raw(input)
    return Tensor(_argsort(a, dim_index(dim, a.ndim, "argsort"), descending))


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along dim; values carry the gradient back to where each came from."""
    a = raw(input)
    d = dim_index(dim, a.ndim, "sort")
    idx = Tensor(_argsort(a, d, descending))
    if a.ndim == 0:
        return return_types.sort(input.clone(), idx)
    return return_types.sort(Gather.apply(input, idx, dim=d), idx)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The k largest (or smallest) elements along dim as (values, indices)."""
    a = raw(input)
    d = dim_index(dim, a.ndim, "topk")
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise OpError(f"topk: k={k} is out of range for dim {dim} of size {n}")
    order = _argsort(a, d, largest)
    if a.ndim == 0:
        return return_types.topk(input.clone(), Tensor(order))
    idx = Tensor(get_array_module(a).take(order, range(k), axis=d))
    return return_types.topk(Gather.apply(input, idx, dim=d), idx)


def _pick(input: Tensor, d: int, pos: int, keepdim: bool, kind: Any) -> Any:
    """The element at sorted position pos along d, as (values, indices)."""
    a = raw(input)
    xp = get_array_module(a)
    if a.ndim == 0:
        return kind(Gather.apply(input, Tensor(xp.zeros((), np.int64)), dim=0), Tensor(xp.zeros((), np.int64)))
    order = _argsort(a, d, False)
    idx = xp.take(order, [pos], axis=d)
    values = Gather.apply(input, Tensor(idx), dim=d)
    if not keepdim:
        values = values.squeeze(d)
        idx = xp.squeeze(idx, axis=d)
    return kind(values, Tensor(idx))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The k-th smallest element (1-based) along dim as (values, indices)."""
    if input.ndim == 0:
        return on_one_element(lambda t, d, *a: kthvalue(t, k, d, *a), input, dim, keepdim)
    a = raw(input)
    d = dim_index(dim, a.ndim, "kthvalue")
    n = a.shape[d] if a.ndim else 1
    if not 1 <= k <= n:
        raise OpError(f"kthvalue: k={k} is out of range for dim {dim} of size {n}")
    return _pick(input, d, k - 1, keepdim, return_types.kthvalue)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median of all elements, or (values, indices) along dim (PyTorch's, not the mean of two)."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.shape[0] == 0:
            raise OpError("median: cannot take the median of an empty tensor")
        return _pick(flat, 0, (flat.shape[0] - 1) // 2, False, return_types.median).values
    if input.ndim == 0:
        return on_one_element(median, input, dim, keepdim)
    a = raw(input)
    d = dim_index(dim, a.ndim, "median")
    n = a.shape[d] if a.ndim else 1
    return _pick(input, d, (n - 1) // 2, keepdim, return_types.median)


def quantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles along dim (all elements if None), interpolating between order statistics."""
    modes = ("linear", "lower", "higher", "midpoint", "nearest")
    if interpolation not in modes:
        raise OpError(f"quantile: interpolation must be one of {modes}, got {interpolation!r}")
    if dim is None:
        src, d = input.reshape(-1), 0
    else:
        src, d = input, dim_index(dim, input.ndim, "quantile")
    qs = np.asarray(raw(q), dtype=np.float64)
    if qs.ndim > 1 or ((qs < 0) | (qs > 1)).any():
        raise OpError(f"quantile: q must be a scalar or 1-D with values in [0, 1], got {qs}")
    if src.dtype.kind != "f":
        raise OpError(f"quantile: input must be float32 or float64, got dtype {src.dtype}")
    n = src.shape[d]
    values = sort(src, dim=d).values
    pos = qs.reshape(-1) * (n - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    frac = pos - lo
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        # Round half to even, as PyTorch (and NumPy) do for the nearest rank.
        lo = hi = np.round(pos).astype(np.int64)
    elif interpolation == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    v_lo = IndexSelect.apply(values, Tensor(lo), dim=d)
    v_hi = IndexSelect.apply(values, Tensor(hi), dim=d)
    shape = [1] * values.ndim
    shape[d] = len(pos)
    w = Tensor(frac.reshape(shape).astype(src.dtype))
    out = v_lo + (v_hi - v_lo) * w
    # The quantile axis goes first (dropped for scalar q), as in PyTorch.
    out = out.movedim(d, 0)
    if keepdim:
        out = out.unsqueeze(d + 1)
        if dim is None:
            out = out.reshape((len(pos),) + (1,) * input.ndim)
    if qs.ndim == 0:
        out = out.squeeze(0)
    return out


# ---- norms ---------------------------------------------------------------------------------------------

class VectorNorm(Function):
    """(sum |x|^p)^(1/p) over dims; p = inf/-inf is max/min |x|, p = 0 counts non-zeros.

    The gradient at x = 0 is 0 (p = 2 included), and tied extremes share it, as in PyTorch.
    """

    def forward(self, a, ord=2.0, dim=None, keepdim=False):
        xp = get_array_module(a)
        self.a, self.ord, self.keepdim, self.shape = a, float(ord), keepdim, a.shape
        self.axes = _axes(dim, a.ndim, "vector_norm") if a.ndim else None
        absa = xp.abs(a)
        p = self.ord
        if p == np.inf:
            out = absa.max(axis=self.axes, keepdims=True)
        elif p == -np.inf:
            out = absa.min(axis=self.axes, keepdims=True)
        elif p == 0:
            out = (a != 0).sum(axis=self.axes, keepdims=True).astype(a.dtype)
        elif p == 1:
            out = absa.sum(axis=self.axes, keepdims=True)
        elif p == 2:
            out = xp.sqrt((a * a).sum(axis=self.axes, keepdims=True))
        else:
            out = (absa ** p).sum(axis=self.axes, keepdims=True) ** (1 / p)
        self.out = out
        if not keepdim:
            out = out.reshape(()) if self.axes is None else xp.squeeze(out, axis=self.axes)
        return xp.asarray(out)

    def backward(self, g):
        xp = get_array_module(g)
        g = _expand(g, self.shape, self.axes, self.keepdim)
        a, out, p = self.a, self.out, self.ord
        if p == 0:
            return xp.zeros_like(a)
        if p in (np.inf, -np.inf):
            mask = xp.abs(a) == out
            return g * xp.sign(a) * mask / mask.sum(axis=self.axes, keepdims=True)
        if p == 1:
            return g * xp.sign(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                grad = g * a / out
            else:
                grad = g * xp.sign(a) * xp.abs(a) ** (p - 1) / out ** (p - 1)
        return xp.where(out == 0, 0, grad).astype(grad.dtype)


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """The vector p-norm of x over dim (all elements if None)."""
    if x.dtype.kind not in "fc":
        raise OpError(f"linalg.vector_norm: expected a floating tensor, got dtype {x.dtype}")
    return VectorNorm.apply(x if dtype is None else x.to(dtype), ord=float(ord), dim=dim, keepdim=keepdim)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """torch.norm: the 2-norm by default ('fro'), or a vector p-norm over dim."""
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise OpError(f"norm: p={p!r} is not supported; use descend.linalg.matrix_norm")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# ---- the simple reductions -----------------------------------------------------------------------------

def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element (along dim) is non-zero (bool)."""
    a = raw(input)
    axes = _axes(dim, a.ndim, "all") if a.ndim else None
    return Tensor(get_array_module(a).asarray(a.astype(bool).all(axis=axes, keepdims=keepdim)))


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether some element (along dim) is non-zero (bool)."""
    a = raw(input)
    axes = _axes(dim, a.ndim, "any") if a.ndim else None
    return Tensor(get_array_module(a).asarray(a.astype(bool).any(axis=axes, keepdims=keepdim)))


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """How many elements (along dim) are non-zero (int64)."""
    a = raw(input)
    axes = _axes(dim, a.ndim, "count_nonzero") if a.ndim else None
    return Tensor(get_array_module(a).asarray((a != 0).sum(axis=axes)).astype(np.int64))


def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """sum with NaNs counted as zero (their gradient is zero)."""
    nan = get_array_module(raw(input)).isnan(raw(input))
    clean = Where.apply(nan, 0.0, input) if bool(nan.any()) else input
    return clean.sum(dim, keepdim) if dtype is None else clean.to(dtype).sum(dim, keepdim)


def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """mean over the non-NaN elements."""
    a = raw(input)
    if a.dtype.kind != "f":
        raise OpError(f"nanmean: expected a floating tensor, got dtype {input.dtype}")
    xp = get_array_module(a)
    axes = _axes(dim, a.ndim, "nanmean") if a.ndim else None
    count = (~xp.isnan(a)).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
    return nansum(input, dim, keepdim, dtype=dtype) / Tensor(count)


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple:
    """(var, mean) over dim."""
    return input.var(dim, unbiased, keepdim, correction), input.mean(dim, keepdim)


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple:
    """(std, mean) over dim."""
    return input.std(dim, unbiased, keepdim, correction), input.mean(dim, keepdim)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """(min, max) over everything or along dim."""
    return return_types.aminmax(input.amin(dim, keepdim), input.amax(dim, keepdim))


# ---- cumulative extremes, log-cumsum-exp, NaN-aware median, differences ---------------------------------

def _cum_extreme(a: Any, d: int, sign: int) -> Any:
    """Indices of the running max (sign=1) or min along d; ties take the later index, NaN sticks (PyTorch)."""
    xp = get_array_module(a)
    if a.ndim == 0:
        return xp.zeros((), np.int64)
    moved = xp.moveaxis(a, d, -1)
    best = moved[..., 0].copy()
    idx = xp.zeros(moved.shape, np.int64)
    for i in range(1, moved.shape[-1]):
        cur = moved[..., i]
        keep = (best > cur) if sign > 0 else (best < cur)
        keep = keep | (xp.isnan(best) & ~xp.isnan(cur))
        best = xp.where(keep, best, cur)
        idx[..., i] = xp.where(keep, idx[..., i - 1], i)
    return xp.moveaxis(idx, -1, d)


def cummax(input: Tensor, dim: int) -> Any:
    """Running maxima along dim as (values, indices); the gradient goes to the index each value came from."""
    if input.ndim == 0:
        return on_one_element(cummax, input, dim)
    d = dim_index(dim, input.ndim, "cummax")
    idx = Tensor(_cum_extreme(raw(input), d, 1))
    return return_types.cummax(Gather.apply(input, idx, dim=d), idx)


def cummin(input: Tensor, dim: int) -> Any:
    """Running minima along dim as (values, indices)."""
    if input.ndim == 0:
        return on_one_element(cummin, input, dim)
    d = dim_index(dim, input.ndim, "cummin")
    idx = Tensor(_cum_extreme(raw(input), d, -1))
    return return_types.cummin(Gather.apply(input, idx, dim=d), idx)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(x))) along dim, shifted by the maximum so it neither overflows nor underflows."""
    a = raw(input)
    xp = get_array_module(a)
    d = dim_index(dim, a.ndim, "logcumsumexp")
    m = a.max(axis=d, keepdims=True) if a.size else xp.zeros(())
    shift = Tensor(xp.where(xp.isfinite(m), m, 0).astype(a.dtype))
    return Log.apply(CumSum.apply(Exp.apply(input - shift), dim=d)) + shift


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """median ignoring NaN (NaN only where every element is NaN)."""
    a = raw(input)
    xp = get_array_module(a)
    if dim is None:
        flat = input.reshape(-1)
        ok = ~xp.isnan(flat._data)
        if not ok.any():
            return flat[0] if flat.shape[0] else median(flat)
        return median(flat[Tensor(ok)])
    if input.ndim == 0:
        return on_one_element(nanmedian, input, dim, keepdim)
    d = dim_index(dim, a.ndim, "nanmedian")
    # NaN sorts last, so the lower median of the non-NaN values sits at (count - 1) // 2.
    order = _argsort(a, d, False)
    count = (~xp.isnan(a)).sum(axis=d, keepdims=True)
    pos = xp.maximum((count - 1) // 2, 0)
    idx = xp.take_along_axis(order, pos, axis=d)
    values = Gather.apply(input, Tensor(idx), dim=d)
    if not keepdim:
        values, idx = values.squeeze(d), xp.squeeze(idx, axis=d)
    return return_types.nanmedian(values, Tensor(idx))


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along dim (after joining prepend and append)."""
    d = dim_index(dim, input.ndim, "diff")
    x = concat([t for t in (prepend, input, append) if t is not None], d) if prepend is not None or \
        append is not None else input
    for _ in range(n):
        size = x.shape[d]
        x = narrow(x, d, 1, max(size - 1, 0)) - narrow(x, d, 0, max(size - 1, 0))
    return x

"""Index-driven ops: gather, scatter, index_select and the selections built on them.

Gradients flowing back to a gathered input add up at repeated indices (`add.at`), as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops.elementwise import Where
from descend.ops.errors import OpError, OpIndexError
from descend.ops.logic import raw
from descend.ops.movement import GetItem
from descend._tensor import Function, Tensor


def dim_index(dim: int, ndim: int, op: str) -> int:
    """A dim argument made non-negative, or an IndexError naming the op."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise OpIndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % n


def grid(index: Any, dim: int) -> tuple:
    """The full index tuple that addresses `index[i, j, ...]` along `dim` and i, j, ... elsewhere."""
    xp = get_array_module(index)
    out = []
    for d, n in enumerate(index.shape):
        if d == dim:
            out.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            out.append(xp.arange(n).reshape(shape))
    return tuple(out)


def _check_index(op: str, a: Any, dim: int, index: Any, src: Any = None) -> None:
    if index.dtype.kind not in "iu":
        raise OpError(f"{op}: index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != a.ndim and not (index.ndim <= 1 and a.ndim <= 1):
        raise OpError(f"{op}: index has {index.ndim} dims but input has {a.ndim} (shapes {index.shape} "
                      f"and {a.shape})")
    for d in range(index.ndim):
        if d != dim and index.shape[d] > a.shape[d]:
            raise OpError(f"{op}: index shape {index.shape} exceeds input shape {a.shape} in dim {d}")
        if src is not None and index.shape[d] > src.shape[d]:
            raise OpError(f"{op}: index shape {index.shape} exceeds src shape {src.shape} in dim {d}")
    if index.size and (index.min() < -a.shape[dim] or index.max() >= a.shape[dim]):
        raise OpIndexError(f"{op}: index out of range for dim {dim} of size {a.shape[dim]}")


class Gather(Function):
    def forward(self, a, index, dim=0):
        self.dim = dim_index(dim, a.ndim, "gather")
        _check_index("gather", a, self.dim, index)
        self.shape, self.grid = a.shape, grid(index, self.dim)
        if a.ndim == 0:
            return a.reshape(1)[index.reshape(-1)].reshape(index.shape)
        return a[self.grid]

    def backward(self, g):
        if len(self.shape) == 0:
            return g.sum().reshape(()), None
        xp = get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(out, self.grid, g)
        return out, None


def _src_part(src: Any, index: Any) -> Any:
    """The leading block of src shaped like index (scatter reads only that much of src)."""
    if np.isscalar(src) or getattr(src, "ndim", 0) == 0:
        return src
    return src[tuple(slice(0, n) for n in index.shape)]


class Scatter(Function):
    """input with src written at index along dim (the last write wins where indices repeat)."""

    def forward(self, a, index, src, dim=0):
        self.dim = dim_index(dim, a.ndim, "scatter")
        _check_index("scatter", a, self.dim, index, src if getattr(src, "ndim", 0) else None)
        self.grid, self.src_shape = grid(index, self.dim), getattr(src, "shape", ())
        out = a.copy()
        out[self.grid] = _src_part(src, index)
        return out

    def backward(self, g):
        d_a, _, d_src = self.needs_input_grad
        ga = gs = None
        if d_a:
            ga = g.copy()
            ga[self.grid] = 0
        if d_src:
            gs = get_array_module(g).zeros(self.src_shape, dtype=g.dtype)
            gs[tuple(slice(0, n) for n in self.grid[self.dim].shape)] = g[self.grid]
        return ga, None, gs


_REDUCERS = {"sum": "add", "prod": "multiply", "mean": "add", "amax": "maximum", "amin": "minimum"}


class ScatterReduce(Function):
    """input with src reduced into it at index along dim: sum, prod, mean, amax or amin (PyTorch's rules)."""

    def forward(self, a, index, src, dim=0, reduce="sum", include_self=True):
        if reduce not in _REDUCERS:
            raise OpError(f"scatter_reduce: reduce must be one of {sorted(_REDUCERS)}, got {reduce!r}")
        xp = get_array_module(a)
        self.dim = dim_index(dim, a.ndim, "scatter_reduce")
        _check_index("scatter_reduce", a, self.dim, index, src)
        self.grid, self.src_shape, self.reduce = grid(index, self.dim), src.shape, reduce
        part = _src_part(src, index)
        out = a.copy()
        if not include_self:
            # Positions that receive a value start from it alone; the others keep the input.
            hit = xp.zeros(a.shape, dtype=bool)
            hit[self.grid] = True
            first = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
            if first is None:
                info = np.iinfo(a.dtype) if a.dtype.kind in "iu" else np.finfo(a.dtype)
                first = info.min if reduce == "amax" else info.max
            out[hit] = first
        getattr(xp, _REDUCERS[reduce]).at(out, self.grid, part)
        self.count = xp.zeros(a.shape, dtype=a.dtype) + (1 if include_self else 0)
        xp.add.at(self.count, self.grid, 1)
        if reduce == "mean":
            out = out / xp.maximum(self.count, 1)
            if a.dtype.kind in "iu":
                out = xp.floor(out).astype(a.dtype)
        if not include_self:
            out = xp.where(self.count > 0, out, a)
        self.a, self.part, self.out, self.include_self = a, part, out, include_self
        return out

    def backward(self, g):
        d_a, _, d_src = self.needs_input_grad
        xp = get_array_module(g)
        take_self = 1.0 if self.include_self else 0.0
        if self.reduce == "sum":
            touched = self.count > take_self
            ga = g if self.include_self else xp.where(touched, 0, g).astype(g.dtype)
            gs = g[self.grid]
        elif self.reduce == "mean":
            ga = xp.where(self.count > 0, g * take_self / xp.maximum(self.count, 1), g).astype(g.dtype)
            gs = (g / xp.maximum(self.count, 1))[self.grid]
        elif self.reduce in ("amax", "amin"):
            hit_self = (self.a == self.out) * take_self
            hit_src = (self.part == self.out[self.grid]).astype(g.dtype)
            ties = hit_self.astype(g.dtype)
            xp.add.at(ties, self.grid, hit_src)
            share = g / xp.maximum(ties, 1)
            untouched = self.count == take_self
            ga = xp.where(untouched, g, share * hit_self)
            gs = share[self.grid] * hit_src
        else:
            raise OpError("scatter_reduce: the gradient of reduce='prod' is not implemented")
        full = xp.zeros(self.src_shape, dtype=g.dtype)
        full[tuple(slice(0, n) for n in self.grid[self.dim].shape)] = gs
        return (ga if d_a else None), None, (full if d_src else None)


class IndexSelect(Function):
    def forward(self, a, index, dim=0):
        if index.ndim > 1 or index.dtype.kind not in "iu":
            raise OpError(f"index_select: index must be a 1-D integer tensor, got shape {index.shape} "
                          f"dtype {index.dtype}")
        self.dim = dim_index(dim, a.ndim, "index_select")
        self.shape, self.index = a.shape, index
        if a.ndim == 0:
            return a.reshape(1)[index.reshape(-1)].reshape(index.shape)
        try:
            return get_array_module(a).take(a, index, axis=self.dim)
        except IndexError:
            raise IndexError(f"index_select: index out of range for dim {dim} of size "
                             f"{a.shape[self.dim]}") from None

    def backward(self, g):
        xp = get_array_module(g)
        if len(self.shape) == 0:
            return g.sum().reshape(()), None
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(xp.moveaxis(out, self.dim, 0), self.index.reshape(-1), xp.moveaxis(g, self.dim, 0))
        return out, None


# ---- selections that return positions (no gradient) ----------------------------------------------------

def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    a = raw(input)
    xp = get_array_module(a)
    if a.ndim == 0:  # one row (of no coordinates) if the value is non-zero, as in PyTorch
        hit = int(bool(a))
        return (Tensor(xp.zeros(hit, np.int64)),) if as_tuple else Tensor(xp.zeros((hit, 0), np.int64))
    idx = xp.nonzero(a)
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in idx)
    return Tensor(xp.stack(idx, axis=1).astype(np.int64).reshape(-1, a.ndim))


def argwhere(input: Tensor) -> Tensor:
    """nonzero(input) as an (n, ndim) tensor."""
    return nonzero(input)


def as_index(index: Any, op: str) -> Tensor:
    """An integer index as a Tensor (lists and arrays are accepted)."""
    t = index if isinstance(index, Tensor) else Tensor(np.asarray(index, dtype=np.int64))
    if t.dtype.kind not in "iu":
        raise OpError(f"{op}: index must be an integer tensor, got dtype {t.dtype}")
    return t


# ---- the public functions --------------------------------------------------------------------------------

def gather(input: Tensor, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j] = input[index[i][j]][j] for dim 0 (and likewise for other dims)."""
    index = as_index(index, "gather")
    if input.ndim == 0 and index.ndim == 0:  # PyTorch: a 0-d input's dim 0 is its one element
        return Gather.apply(input.reshape(1), index.reshape(1), dim=0).reshape(())
    return Gather.apply(input, index, dim=dim)


def scatter(input: Tensor, dim: int, index: Any, src: Any = None, value: Any = None, *,
            reduce: str | None = None) -> Tensor:
    """A copy of input with src (or value) written at index along dim."""
    if src is None:
        src = value
    if src is None:
        raise OpError("scatter: give src (a tensor) or value (a number)")
    if reduce is not None:
        mode = {"add": "sum", "multiply": "prod"}.get(reduce)
        if mode is None:
            raise OpError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        full = src if isinstance(src, Tensor) else Tensor(np.full(raw(index).shape, src, dtype=raw(input).dtype))
        return ScatterReduce.apply(input, as_index(index, "scatter"), full, dim=dim, reduce=mode)
    index = as_index(index, "scatter")
    if input.ndim == 0 and index.ndim == 0:
        src = src.reshape(1) if isinstance(src, Tensor) and src.ndim == 0 else src
        return Scatter.apply(input.reshape(1), index.reshape(1), src, dim=0).reshape(())
    return Scatter.apply(input, index, src, dim=dim)


def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of input with src added at index along dim (repeated indices add up)."""
    return ScatterReduce.apply(input, as_index(index, "scatter_add"), src, dim=dim, reduce="sum")


def scatter_reduce(input: Tensor, dim: int, index: Any, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of input with src reduced in at index along dim ('sum', 'prod', 'mean', 'amax', 'amin')."""
    return ScatterReduce.apply(input, as_index(index, "scatter_reduce"), src, dim=dim, reduce=reduce,
                               include_self=include_self)


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    """The entries of input at the 1-D index along dim."""
    out = IndexSelect.apply(input, as_index(index, "index_select"), dim=dim)
    return out.reshape(()) if input.ndim == 0 else out  # PyTorch keeps a 0-d input 0-d


def take(input: Tensor, index: Any) -> Tensor:
    """input flattened, read at index (the result has index's shape)."""
    idx = as_index(index, "take")
    n = input.numel()
    if idx.numel() and (int(idx._data.min()) < -n or int(idx._data.max()) >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    flat = IndexSelect.apply(input.reshape(-1), idx.reshape(-1), dim=0)
    return flat.reshape(idx.shape)


def take_along_dim(input: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """gather with indices broadcast against input (flattened input when dim is None)."""
    idx = as_index(indices, "take_along_dim")
    if dim is None:
        return Gather.apply(input.reshape(-1), idx.reshape(-1), dim=0)
    d = dim_index(dim, input.ndim, "take_along_dim")
    shape_in, shape_ix = list(input.shape), list(idx.shape)
    if len(shape_in) != len(shape_ix):
        raise OpError(f"take_along_dim: input {input.shape} and indices {idx.shape} differ in dims")
    try:
        common = list(np.broadcast_shapes(tuple(shape_in[:d] + [1] + shape_in[d + 1:]),
                                          tuple(shape_ix[:d] + [1] + shape_ix[d + 1:])))
    except ValueError:
        raise OpError(f"take_along_dim: input {input.shape} and indices {idx.shape} do not broadcast") from None
    src = input.expand(*(common[:d] + [input.shape[d]] + common[d + 1:]))
    idx = Tensor(np.broadcast_to(idx._data, tuple(common[:d] + [idx.shape[d]] + common[d + 1:])))
    return Gather.apply(src, idx, dim=d)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of input where mask (broadcast) is True, as a 1-D tensor."""
    m = raw(mask)
    if getattr(m, "dtype", None) != np.bool_:
        raise OpError(f"masked_select: mask must be a bool tensor, got dtype {getattr(m, 'dtype', type(m))}")
    try:
        shape = np.broadcast_shapes(input.shape, m.shape)
    except ValueError:
        raise OpError(f"masked_select: shapes {input.shape} and {m.shape} cannot be broadcast together") from None
    src = input if input.shape == shape else input.expand(*shape)
    return GetItem.apply(src, index=get_array_module(m).broadcast_to(m, shape))


# ---- writes at indices, out of place -------------------------------------------------------------------

class IndexWrite(Function):
    """input with source added (accumulate=True) or copied at the 1-D index along dim."""

    def forward(self, a, index, source, dim=0, accumulate=True, alpha=1):
        xp = get_array_module(a, source)
        if index.ndim > 1 or index.dtype.kind not in "iu":
            raise OpError(f"index_add/index_copy: index must be a 1-D integer tensor, got shape {index.shape}")
        self.dim = dim_index(dim, a.ndim, "index_add")
        self.index, self.accumulate, self.alpha = index.reshape(-1), accumulate, alpha
        src = source
        expected = a.shape[:self.dim] + (len(self.index),) + a.shape[self.dim + 1:]
        if tuple(src.shape) != expected and a.ndim:
            raise OpError(f"index_add/index_copy: source shape {src.shape} should be {expected}")
        out = a.copy()
        view_out = xp.moveaxis(out, self.dim, 0) if a.ndim else out.reshape(1)
        view_src = xp.moveaxis(src, self.dim, 0) if a.ndim else src.reshape(1)
        if accumulate:
            xp.add.at(view_out, self.index, view_src * alpha if alpha != 1 else view_src)
        else:
            view_out[self.index] = view_src
        return out

    def backward(self, g):
        xp = get_array_module(g)
        d_a, _, d_src = self.needs_input_grad
        ga = gs = None
        if d_a:
            ga = g
            if not self.accumulate:
                ga = g.copy()
                xp.moveaxis(ga, self.dim, 0)[self.index] = 0
        if d_src:
            gs = xp.take(g, self.index, axis=self.dim) if g.ndim else g.reshape(1)[self.index].reshape(())
            if self.alpha != 1:
                gs = gs * self.alpha
        return ga, None, gs


class IndexPut(Function):
    """input with values written (or added, accumulate=True) at a tuple of index tensors."""

    def forward(self, a, values, index=(), accumulate=False):
        self.index, self.accumulate, self.vshape = index, accumulate, getattr(values, "shape", ())
        out = a.copy()
        try:
            if accumulate:
                get_array_module(a).add.at(out, index, values)
            else:
                out[index] = values
        except (ValueError, IndexError) as e:
            raise OpError(f"index_put: values of shape {self.vshape} do not fit the indexed shape of {a.shape}: "
                          f"{e}") from None
        return out

    def backward(self, g):
        d_a, d_v = self.needs_input_grad
        ga = gv = None
        if d_a:
            ga = g
            if not self.accumulate:
                ga = g.copy()
                ga[self.index] = 0
        if d_v:
            gv = g[self.index]
        return ga, gv


def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: float = 1) -> Tensor:
    """A copy of input with alpha * source added at index along dim (repeated indices add up)."""
    return IndexWrite.apply(input, as_index(index, "index_add"), source, dim=dim, accumulate=True, alpha=alpha)


def index_copy(input: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:
    """A copy of input with source's slices written at index along dim."""
    return IndexWrite.apply(input, as_index(index, "index_copy"), source, dim=dim, accumulate=False)


def index_fill(input: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """A copy of input with value at index along dim."""
    idx = as_index(index, "index_fill")._data.reshape(-1)
    d = dim_index(dim, input.ndim, "index_fill")
    mask = np.zeros(input.shape[d] if input.ndim else 1, dtype=bool)
    mask[idx] = True
    shape = [1] * input.ndim
    if input.ndim:
        shape[d] = input.shape[d]
    return Where.apply(mask.reshape(shape), value, input)


def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """A copy of input with values at input[indices] (a tuple of index tensors), or added there."""
    index = tuple(raw(i) for i in indices)
    return IndexPut.apply(input, values, index=index, accumulate=accumulate)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """A copy of input with source's leading elements written, in order, where mask (broadcast) is True."""
    m = raw(mask)
    if getattr(m, "dtype", None) != np.bool_:
        raise OpError(f"masked_scatter: mask must be a bool tensor, got dtype {getattr(m, 'dtype', type(m))}")
    shape = np.broadcast_shapes(input.shape, m.shape)
    full = get_array_module(m).broadcast_to(m, shape)
    where = get_array_module(m).nonzero(full)
    count = len(where[0]) if where else 0
    if count > source.numel():
        raise OpError(f"masked_scatter: mask selects {count} elements but source has only {source.numel()}")
    src = input if input.shape == shape else input.expand(*shape)
    values = GetItem.apply(source.reshape(-1), index=slice(0, count))
    return IndexPut.apply(src, values, index=where)


# ---- embedding a source into a slice, a selected index or a diagonal ------------------------------------

class SliceWrite(Function):
    """input with src written at a basic index (slices and ints); the gradient splits between the two."""

    def forward(self, a, src, index=()):
        out = a.copy()
        try:
            out[index] = src
        except ValueError:
            raise OpError(f"scatter: src of shape {getattr(src, 'shape', ())} does not fit the selected part "
                          f"of shape {a[index].shape}") from None
        self.index = index
        return out

    def backward(self, g):
        d_a, d_src = self.needs_input_grad
        ga = gs = None
        if d_a:
            ga = g.copy()
            ga[self.index] = 0
        if d_src:
            gs = g[self.index]
        return ga, gs


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """A copy of input with src written into input[..., start:end:step, ...] along dim."""
    d = dim_index(dim, input.ndim, "slice_scatter")
    return SliceWrite.apply(input, src, index=(slice(None),) * d + (slice(start, end, step),))


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of input with src written at position index of dim."""
    d = dim_index(dim, input.ndim, "select_scatter")
    return SliceWrite.apply(input, src, index=(slice(None),) * d + (int(index),))


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of input with src written on the diagonal `offset` of the (dim1, dim2) plane."""
    from descend.ops.shape import _diag_index  # here: shape.py imports this module
    d1, d2 = dim_index(dim1, input.ndim, "diagonal_scatter"), dim_index(dim2, input.ndim, "diagonal_scatter")
    rows, cols = _diag_index(input.shape, offset, d1, d2)
    index: list = [slice(None)] * input.ndim
    index[d1], index[d2] = rows, cols
    # Advanced indices on two dims put the diagonal first (NumPy) or in place (adjacent dims); diagonal()
    # puts it last, so src is moved to match.
    adjacent = abs(d1 - d2) == 1
    first = min(d1, d2)
    src_moved = src.movedim(-1, first) if adjacent else src.movedim(-1, 0)
    return IndexPut.apply(input, src_moved, index=tuple(index))


def unravel_index(indices: Any, shape: Any) -> tuple:
    """The coordinates in `shape` of flat indices, one int64 tensor per dim."""
    idx = raw(indices) if isinstance(indices, Tensor) else np.asarray(indices)
    xp = get_array_module(idx)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = int(np.prod(shape))
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise OpError(f"unravel_index: index out of range for shape {shape}")
    return tuple(Tensor(c.astype(np.int64)) for c in xp.unravel_index(idx % max(n, 1), shape))

"""Shape ops: splitting, repeating, flipping, rolling, triangles and diagonals, and the compositions
(movedim, unflatten, narrow, split, ...) PyTorch offers on top of reshape, permute and indexing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend.ops.size import Size  # noqa: F401  (re-exported: descend.Size)
from descend.backend import get_array_module
from descend.ops.errors import OpError
from descend.ops.indexing import IndexSelect, dim_index
from descend.ops.movement import Clone, GetItem, Permute, Reshape
from descend._tensor import Function, Tensor, ViewFunction, _shape_arg


class Repeat(Function):
    """np.tile: the input laid out reps[i] times along each dim; backward sums the copies."""

    def forward(self, a, reps=()):
        if len(reps) < a.ndim:
            raise OpError(f"repeat: {len(reps)} repeat counts for a tensor of {a.ndim} dims (shape {a.shape}); "
                          "give at least one per dim")
        self.reps = tuple(reps)
        self.shape = (1,) * (len(reps) - a.ndim) + tuple(a.shape)
        return get_array_module(a).tile(a.reshape(self.shape), self.reps)

    def backward(self, g):
        split = []
        for r, n in zip(self.reps, self.shape):
            split += [r, n]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g


class Flip(Function):
    def forward(self, a, dims=()):
        self.dims = dims
        return get_array_module(a).flip(a, axis=dims).copy()

    def backward(self, g):
        return get_array_module(g).flip(g, axis=self.dims)


class Roll(Function):
    def forward(self, a, shifts=(), dims=None):
        self.shifts, self.dims = shifts, dims
        return get_array_module(a).roll(a, shifts, axis=dims)

    def backward(self, g):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return get_array_module(g).roll(g, back, axis=self.dims)


class Triangle(Function):
    """tril (upper=False) or triu of the last two dims, keeping the diagonal offset by `diagonal`."""

    def forward(self, a, diagonal=0, upper=False):
        if a.ndim < 2:
            raise OpError(f"{'triu' if upper else 'tril'}: expected a tensor with >= 2 dims, got shape {a.shape}")
        self.diagonal, self.upper = diagonal, upper
        return self._mask(a)

    def _mask(self, x):
        xp = get_array_module(x)
        return xp.triu(x, self.diagonal) if self.upper else xp.tril(x, self.diagonal)

    def backward(self, g):
        return self._mask(g)


def _diag_index(shape: tuple, offset: int, dim1: int, dim2: int) -> tuple:
    """Rows and columns of the diagonal `offset` in the (dim1, dim2) plane of `shape`."""
    n1, n2 = shape[dim1], shape[dim2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rows = np.arange(length) + max(-offset, 0)
    return rows, rows + offset


class Diagonal(ViewFunction):
    def forward(self, a, offset=0, dim1=0, dim2=1):
        self.dim1, self.dim2 = dim_index(dim1, a.ndim, "diagonal"), dim_index(dim2, a.ndim, "diagonal")
        if self.dim1 == self.dim2:
            raise OpError(f"diagonal: dim1 and dim2 must differ, both are {dim1}")
        self.shape, self.offset = a.shape, offset
        out = get_array_module(a).diagonal(a, offset, self.dim1, self.dim2)
        if isinstance(out, np.ndarray) and a.flags.writeable:
            out.flags.writeable = True  # a view, as PyTorch's: x.diagonal().add_(1) writes x
        return out

    def backward(self, g):
        xp = get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        rows, cols = _diag_index(self.shape, self.offset, self.dim1, self.dim2)
        view = xp.moveaxis(out, (self.dim1, self.dim2), (-2, -1))
        view[..., rows, cols] = g
        return out


class DiagEmbed(Function):
    """A 1-D tensor placed on diagonal `offset` of a square matrix (torch.diag of a vector)."""

    def forward(self, a, offset=0):
        xp = get_array_module(a)
        n = a.shape[0] + abs(offset)
        self.rows, self.cols = _diag_index((n, n), offset, 0, 1)
        out = xp.zeros((n, n), dtype=a.dtype)
        out[self.rows, self.cols] = a
        return out

    def backward(self, g):
        return g[self.rows, self.cols]


# ---- compositions --------------------------------------------------------------------------------------

def _slice(t: Tensor, dim: int, start: int, stop: int) -> Tensor:
    index = (slice(None),) * dim + (slice(start, stop),)
    return GetItem.apply(t, index=index)


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """The slice [start, start + length) of dim."""
    d = dim_index(dim, input.ndim, "narrow")
    n = input.shape[d]
    start = int(start)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise OpError(f"narrow: start {start} + length {length} exceeds dim {dim} of size {n}")
    return _slice(input, d, start, start + length)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at `index` of dim, with that dim removed."""
    d = dim_index(dim, input.ndim, "select")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n}")
    return GetItem.apply(input, index=(slice(None),) * d + (int(index),))


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Pieces of size split_size (the last may be smaller), or of the given sizes, along dim."""
    d = dim_index(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise OpError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise OpError(f"split: sizes {sizes} sum to {sum(sizes)} but dim {dim} has size {n}")
    out, start = [], 0
    for s in sizes:
        out.append(_slice(tensor, d, start, start + s))
        start += s
    return _multi_view(out, "split")


def _multi_view(views: list, op: str) -> tuple:
    """Mark the recorded views one call returned: PyTorch refuses in-place ops on them (ops/inplace.py)."""
    for i, v in enumerate(views):
        if v._ctx is not None:
            v._ctx.multi_view = f"Output {i} of {op}"
    return tuple(views)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Up to `chunks` pieces of ceil(n / chunks) along dim."""
    if chunks <= 0:
        raise OpError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[dim_index(dim, input.ndim, "chunk")]
    return split(input, max(math.ceil(n / chunks), 1), dim)


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple:
    """n nearly equal pieces (the first n % sections one larger), or pieces cut before the given indices."""
    d = dim_index(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    sec = indices_or_sections
    if isinstance(sec, Tensor):
        sec = sec.tolist()
    if isinstance(sec, (int, np.integer)):
        if sec <= 0:
            raise OpError(f"tensor_split: sections must be positive, got {sec}")
        base, extra = divmod(n, int(sec))
        bounds, at = [], 0
        for i in range(int(sec)):
            at += base + (1 if i < extra else 0)
            bounds.append(at)
        bounds = bounds[:-1]
    else:
        bounds = [int(i) for i in sec]
    out, start = [], 0
    for b in bounds + [n]:
        stop = max(min(b if b >= 0 else b + n, n), start)
        out.append(_slice(input, d, start, stop))
        start = stop
    return _multi_view(out, "tensor_split")


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along dim, each with that dim removed."""
    d = dim_index(dim, input.ndim, "unbind")
    return _multi_view([select(input, d, i) for i in range(input.shape[d])], "unbind")


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dims from source positions to destination positions, keeping the others in order."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise OpError(f"movedim: source {source} and destination {destination} differ in length")
    src = [dim_index(s, input.ndim, "movedim") for s in src]
    dst = [dim_index(s, input.ndim, "movedim") for s in dst]
    if input.ndim == 0:  # dim 0 of a 0-d tensor: nothing to move
        return Permute.apply(input, dims=())
    order = [-1] * input.ndim
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(input.ndim) if d not in src)
    order = [next(rest) if o == -1 else o for o in order]
    return Permute.apply(input, dims=tuple(order))


moveaxis = movedim


def unflatten(input: Tensor, dim: int, sizes: Any) -> Tensor:
    """Split dim into the given sizes (one may be -1)."""
    d = dim_index(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes = tuple(input.shape[d] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != input.shape[d]:
        raise OpError(f"unflatten: sizes {sizes} do not multiply to dim {dim} of size {input.shape[d]}")
    return Reshape.apply(input, shape=input.shape[:d] + sizes + input.shape[d + 1:])


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor sizes[i] times along each dim (leading new dims allowed)."""
    return Repeat.apply(input, reps=_shape_arg(sizes))


def tile(input: Tensor, dims: Any) -> Tensor:
    """repeat, with ones prepended when fewer counts than dims are given."""
    dims = tuple(dims)
    return Repeat.apply(input, reps=(1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element repeated `repeats` times (an int, or one count per element) along dim."""
    if repeats is None:  # repeat_interleave(counts): 0 repeated counts[0] times, 1 counts[1] times, ...
        counts = np.asarray(input.tolist(), dtype=np.int64).reshape(-1)
        return Tensor(np.repeat(np.arange(len(counts)), counts).astype(np.int64))
    src = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else dim_index(dim, input.ndim, "repeat_interleave")
    counts = repeats.tolist() if isinstance(repeats, Tensor) else repeats
    n = src.shape[d] if src.ndim else 1
    if not isinstance(counts, (int, np.integer)) and len(np.reshape(counts, -1)) not in (1, n):
        raise OpError(f"repeat_interleave: {len(counts)} repeats for dim {d} of size {n}")
    index = np.repeat(np.arange(n), np.reshape(counts, -1) if not isinstance(counts, (int, np.integer))
                      else counts)
    return IndexSelect.apply(src if src.ndim else src.reshape(1), Tensor(index.astype(np.int64)), dim=d)


def flip(input: Tensor, *dims_args: Any, dims: Any = None) -> Tensor:
    """Reverse the order of elements along the given dims (a tuple, several ints, or dims=)."""
    dims = _shape_arg(dims_args) if dims is None else ((dims,) if isinstance(dims, int) else tuple(dims))
    dims = tuple(dim_index(d, input.ndim, "flip") for d in dims)
    return Flip.apply(input, dims=dims if input.ndim else ())  # a 0-d tensor's dim 0 is its one element


def fliplr(input: Tensor) -> Tensor:
    """Flip dim 1 (left/right)."""
    if input.ndim < 2:
        raise OpError(f"fliplr: expected a tensor with >= 2 dims, got shape {input.shape}")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Flip dim 0 (up/down)."""
    if input.ndim < 1:
        raise OpError("flipud: expected a tensor with >= 1 dim")
    return flip(input, (0,))


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements circularly along dims (over the flattened tensor if dims is None)."""
    if dims is None:
        return Roll.apply(input, shifts=int(shifts) if not isinstance(shifts, (tuple, list)) else
                          int(shifts[0]), dims=None)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise OpError(f"roll: shifts {shifts} and dims {dims} differ in length")
    return Roll.apply(input, shifts=shifts, dims=tuple(dim_index(d, input.ndim, "roll") for d in dims))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (elements above diagonal `diagonal` set to zero)."""
    return Triangle.apply(input, diagonal=diagonal, upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims."""
    return Triangle.apply(input, diagonal=diagonal, upper=True)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal `offset` of the (dim1, dim2) plane, as a new last dim."""
    return Diagonal.apply(input, offset=offset, dim1=dim1, dim2=dim2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A vector's diagonal matrix, or a matrix's diagonal as a vector."""
    if input.ndim == 1:
        return DiagEmbed.apply(input, offset=diagonal)
    if input.ndim == 2:
        return Diagonal.apply(input, offset=diagonal, dim1=0, dim2=1)
    raise OpError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices whose diagonal `offset` holds the last dim of input (only dim1=-2, dim2=-1)."""
    if (dim1, dim2) not in ((-2, -1), (input.ndim - 1, input.ndim)):
        raise OpError("diag_embed: only dim1=-2, dim2=-1 are supported")
    n = input.shape[-1] + abs(offset)
    rows, cols = _diag_index((n, n), offset, 0, 1)
    flat = input.reshape(-1, input.shape[-1])
    eye = np.zeros((input.shape[-1], n * n), dtype=input._data.dtype)
    eye[np.arange(len(rows)), rows * n + cols] = 1
    out = flat @ Tensor(eye)
    return out.reshape(*input.shape[:-1], n, n)


def mT(input: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    """The last two dims swapped."""
    if input.ndim < 2:
        raise OpError(f"mT: expected a tensor with >= 2 dims, got shape {input.shape}")
    dims = list(range(input.ndim))
    dims[-1], dims[-2] = dims[-2], dims[-1]
    return Permute.apply(input, dims=tuple(dims))




def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor."""
    return Reshape.apply(input, shape=(-1,))


def rot90(input: Tensor, k: int = 1, dims: Any = (0, 1)) -> Tensor:
    """Rotate by 90 degrees k times in the plane of dims, from the first dim towards the second."""
    d0, d1 = (dim_index(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise OpError(f"rot90: dims must differ, got {tuple(dims)}")
    k %= 4
    if k == 0:
        return Clone.apply(input)
    if k == 2:
        return Flip.apply(input, dims=(d0, d1))
    order = list(range(input.ndim))
    order[d0], order[d1] = order[d1], order[d0]
    if k == 1:
        return Permute.apply(Flip.apply(input, dims=(d1,)), dims=tuple(order))
    return Flip.apply(Permute.apply(input, dims=tuple(order)), dims=(d1,))


def _split_at(input: Tensor, sections: Any, dim: int, op: str, min_dims: int) -> tuple:
    if input.ndim < min_dims:
        raise OpError(f"{op}: expected a tensor with >= {min_dims} dims, got shape {input.shape}")
    if isinstance(sections, int) and input.shape[dim] % sections:
        raise OpError(f"{op}: dim {dim} of size {input.shape[dim]} is not divisible by {sections}")
    return tensor_split(input, sections, dim)


def hsplit(input: Tensor, sections: Any) -> tuple:
    """tensor_split along dim 1 (dim 0 for 1-D tensors); an int must divide the size."""
    return _split_at(input, sections, 1 if input.ndim > 1 else 0, "hsplit", 1)


def vsplit(input: Tensor, sections: Any) -> tuple:
    """tensor_split along dim 0 of a tensor with >= 2 dims."""
    return _split_at(input, sections, 0, "vsplit", 2)


def dsplit(input: Tensor, sections: Any) -> tuple:
    """tensor_split along dim 2 of a tensor with >= 3 dims."""
    return _split_at(input, sections, 2, "dsplit", 3)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Sliding windows of `size` every `step` along dimension, as a new last dim (Tensor.unfold)."""
    d = dim_index(dimension, input.ndim, "unfold") if input.ndim else 0
    n = input.shape[d] if input.ndim else 1
    if size > n or step <= 0:
        raise OpError(f"unfold: size {size} (with step {step}) does not fit dim {dimension} of size {n}")
    count = (n - size) // step + 1
    index = (np.arange(count)[:, None] * step + np.arange(size)[None, :]).reshape(-1)
    src = input if input.ndim else input.reshape(1)
    windows = IndexSelect.apply(src, Tensor(index.astype(np.int64)), dim=d)
    shape = tuple(src.shape[:d]) + (count, size) + tuple(src.shape[d + 1:])
    return movedim(Reshape.apply(windows, shape=shape), d + 1, -1)


def sum_to_size(input: Tensor, *size: Any) -> Tensor:
    """input summed down to a shape it broadcasts from."""
    shape = tuple(_shape_arg(size))
    lead = input.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != n for s, n in zip(shape, input.shape[lead:])):
        raise OpError(f"sum_to_size: size {shape} is not expandable to the tensor's shape {input.shape}")
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and input.shape[lead + i] != 1)
    out = input.sum(dims, keepdim=True) if dims else input
    return Reshape.apply(out, shape=shape)

"""Movement ops: reshape, permute, expand, indexing, concatenation and padding."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from descend.backend import get_array_module
from descend import dtypes as _dt
from descend.backend import default_dtype
from descend.ops.errors import OpError, OpIndexError, OpTypeError
from descend._tensor import Function, Tensor, ViewFunction


class Reshape(ViewFunction):
    def forward(self, a, shape=()):
        self.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise OpError(f"reshape: cannot view shape {a.shape} ({a.size} elements) as "
                             f"{tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(ViewFunction):
    def forward(self, a, dims=()):
        if sorted(d % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
            raise OpError(f"permute: dims {tuple(dims)} are not a permutation of the {a.ndim} dims of "
                             f"shape {a.shape}")
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(np.argsort([d % g.ndim for d in self.dims]))


class Expand(ViewFunction):
    # Backward is the identity: the engine sums the expanded gradient back to the input's shape.
    def forward(self, a, shape=()):
        lead = len(shape) - a.ndim
        if lead < 0:
            raise OpError(f"expand: target {tuple(shape)} has fewer dims than the input {a.shape}")
        target = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        if target == a.shape:
            return a[...]  # a writable view: nothing is repeated, so in-place writes stay allowed (PyTorch)
        try:
            return get_array_module(a).broadcast_to(a, target)
        except ValueError:
            raise OpError(f"expand: cannot expand shape {a.shape} to {tuple(shape)}") from None

    def backward(self, g):
        return g


class Clone(Function):
    """A copy; 'preserve' keeps the strides of a dense input (a transposed tensor stays transposed)."""

    def forward(self, a, memory_format="preserve"):
        if memory_format == "channels_last":
            return channels_last_copy(a)
        if memory_format == "contiguous" or not _is_dense(a):
            return a.copy(order="C")
        return a.copy(order="K")

    def backward(self, g):
        return g


def channels_last_copy(a: Any) -> Any:
    """A copy of (N, C, H, W) `a` in NHWC memory, indexed as (N, C, H, W) (PyTorch's channels_last)."""
    return get_array_module(a).ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _is_dense(a: Any) -> bool:
    """Whether the elements fill a block of memory without gaps or overlaps, in some order of dims."""
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return True
    dims = sorted((abs(st), n) for st, n in zip(a.strides, a.shape) if n != 1)
    expected = a.itemsize
    for stride, n in dims:
        if stride != expected:
            return False
        expected *= n
    return True


def _channels_last(memory_format: Any, t: Tensor) -> bool:
    """Whether `memory_format` asks for channels_last; PyTorch's error for a tensor not of rank 4."""
    if memory_format is not channels_last:
        return False
    if t.ndim != 4:
        raise RuntimeError(f"required rank 4 tensor to use channels_last format, got rank {t.ndim}")
    return True


def _dense_channels_last(a: Any) -> bool:
    """(N, C, H, W) strides of dense NHWC memory (dims of size 1 may have any stride, as in PyTorch)."""
    expected = 1
    for d in (1, 3, 2, 0):
        if a.shape[d] != 1 and a.strides[d] != expected * a.itemsize:
            return False
        expected *= a.shape[d]
    return True


def is_contiguous(t: Tensor, memory_format: Any = None) -> bool:
    """Whether the tensor is laid out in row-major order without gaps (in NHWC order for channels_last)."""
    if memory_format is channels_last:
        return t.ndim == 4 and _dense_channels_last(t._data)
    return bool(t._data.flags.c_contiguous)


def contiguous(t: Tensor, memory_format: Any = None) -> Tensor:
    """The tensor itself if laid out as asked (row-major, or NHWC for descend.channels_last), else a copy
    that is (gradient flows through). descend's convolutions read and write NHWC memory, so channels_last
    input spares the first one a transposing copy."""
    if _channels_last(memory_format, t):
        return t if _dense_channels_last(t._data) else Clone.apply(t, memory_format="channels_last")
    if t._data.flags.c_contiguous:
        return t
    if memory_format is preserve_format:  # PyTorch's error, raised only where a copy is needed
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    return Clone.apply(t, memory_format="contiguous")


class memory_format:
    """A memory layout request (PyTorch's torch.memory_format): descend.contiguous_format, preserve_format."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"descend.{self.name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")  # (N, C, H, W) indexing over NHWC memory


def clone(t: Tensor, *, memory_format: Any = None) -> Tensor:
    """A copy in the graph; contiguous_format forces row-major, preserve_format (the default) keeps strides."""
    if _channels_last(memory_format, t):
        return Clone.apply(t, memory_format="channels_last")
    fmt = "contiguous" if memory_format is not None and "contiguous" in str(memory_format) else "preserve"
    return Clone.apply(t, memory_format=fmt)


def view(t: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape without copying; raises where the strides do not allow it."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        if not isinstance(shape[0], (tuple, list)):
            return _view_as_dtype(t, shape[0])
        shape = tuple(shape[0])
    a = t._data
    if isinstance(a, np.ndarray) and not a.flags.c_contiguous and a.size:
        try:
            np.reshape(a, shape, copy=False)
        except ValueError as e:
            if "copy" not in str(e):
                raise OpError(f"view: cannot view shape {a.shape} ({a.size} elements) as {tuple(shape)}") from None
            raise OpError(f"view: shape {tuple(shape)} is not compatible with the strides of the input (shape "
                          f"{a.shape}, not contiguous); use .reshape(...) instead") from None
    return Reshape.apply(t, shape=tuple(shape))


def _view_as_dtype(t: Tensor, dtype: Any) -> Tensor:
    """view(dtype): the same bytes read as another dtype (PyTorch's reinterpretation; no gradient flows). With
    another element size the last dim is rescaled, which must be contiguous and of a divisible size."""
    from descend import dtypes as _dt  # the dtype objects (lazily: dtypes imports nothing of the ops)

    a, want = t._data, _dt.as_dtype(dtype).dtype
    if want.itemsize != a.itemsize:
        if a.ndim == 0 or a.strides[-1] != a.itemsize:
            raise OpError(f"view: the last dim must be contiguous to view {a.dtype} as {want} (different element "
                          f"sizes)")
        ratio = want.itemsize // a.itemsize
        if want.itemsize > a.itemsize and (a.shape[-1] * a.itemsize) % want.itemsize:
            raise OpError(f"self.size(-1) must be divisible by {ratio} to view {a.dtype} as "
                          f"{want} (different element sizes), but got {a.shape[-1]}")
        if want.itemsize > a.itemsize:
            root = a
            while getattr(root, "base", None) is not None:
                root = root.base
            start = a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr
            origin = root.__array_interface__["data"][0] if isinstance(root, np.ndarray) else root.data.ptr
            if ((start - origin) // a.itemsize) % ratio or any((st // a.itemsize) % ratio for st in a.strides[:-1]):
                raise OpError(f"storage_offset() and strides must be divisible by {ratio} to view {a.dtype} as "
                              f"{want} (different element sizes)")
    out = Tensor(a.view(want))
    out._vc = t  # the same memory: one version counter, as a view's
    return out


def _is_advanced(index: Any) -> bool:
    """Whether an index holds integer arrays (which may repeat positions, so gradients must add up)."""
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if hasattr(i, "dtype") and getattr(i, "ndim", 0) > 0 and i.dtype != np.bool_:
            return True
        if isinstance(i, (list, tuple)):
            return True
    return False


class GetItem(ViewFunction):
    def forward(self, a, index=None):
        self.shape, self.index = a.shape, index
        try:
            out = a[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {_describe(index)} is invalid for shape {a.shape}: {e}") from None
        if isinstance(out, np.generic):  # integers in every dim: a 0-d view, as in PyTorch (x[0, 1] += 1 writes x)
            out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out

    def backward(self, g):
        xp = get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if _is_advanced(self.index):
            xp.add.at(out, self.index, g)  # repeated indices accumulate
        else:
            out[self.index] = g
        return out


def _describe(index: Any) -> str:
    items = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(f"array{tuple(i.shape)}" if hasattr(i, "shape") else repr(i) for i in items) + "]"


def _promoted(arrays: tuple) -> tuple:
    """The arrays in one dtype by PyTorch's promotion (float32 with int64 is float32; NumPy says float64)."""
    first = arrays[0].dtype
    for a in arrays:
        if a.dtype != first:
            out = _dt.result_type_of(arrays, _dt.of(default_dtype())).dtype
            return tuple(a.astype(out, copy=False) for a in arrays)
    return arrays


class Cat(Function):
    def forward(self, *arrays, dim=0):
        xp = get_array_module(*arrays)
        if not arrays:
            raise OpError("cat: expected a non-empty sequence of tensors")
        ndim = arrays[0].ndim
        if ndim == 0:
            raise OpError("cat: zero-dimensional tensors cannot be concatenated; use stack")
        if not -ndim <= dim < ndim:
            raise OpIndexError(f"cat: dim {dim} is out of range for tensors of {ndim} dimensions")
        self.dim = dim % ndim
        self.sizes = [a.shape[self.dim] for a in arrays]
        arrays = _promoted(arrays)
        last = (0,) + tuple(range(2, ndim)) + (1,)
        if self.dim == 1 and ndim > 2 and all(a.transpose(last).flags.c_contiguous and not a.flags.c_contiguous
                                              for a in arrays):
            # Channels along channels-last memory (our convolutions' outputs, a U-Net's skip joins): keep
            # that layout, as PyTorch's cat keeps channels_last, so the next convolution reads it as it is.
            out = xp.concatenate([a.transpose(last) for a in arrays], axis=-1)
            return out.transpose((0, ndim - 1) + tuple(range(1, ndim - 1)))
        try:
            return xp.concatenate(arrays, axis=self.dim)
        except ValueError:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise OpError(f"cat: shapes {shapes} must match except in dim {dim}") from None

    def backward(self, g):
        bounds = np.cumsum(self.sizes)[:-1]
        return tuple(get_array_module(g).split(g, bounds, axis=self.dim))


class Stack(Function):
    def forward(self, *arrays, dim=0):
        xp = get_array_module(*arrays)
        if not arrays:
            raise OpError("stack: expected a non-empty sequence of tensors")
        arrays = _promoted(arrays)
        if len({a.shape for a in arrays}) > 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise OpError(f"stack: all tensors must have the same shape, got {shapes}")
        nd = arrays[0].ndim + 1
        if not -nd <= dim < nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
        self.dim = dim % nd
        self.n = len(arrays)
        return xp.stack(arrays, axis=self.dim)

    def backward(self, g):
        pre = (slice(None),) * self.dim
        return tuple(g[pre + (i,)] for i in range(self.n))


class Pad(Function):
    """Padding with PyTorch's argument order: (left, right) of the last dim first.

    Non-constant modes read each output element from some input element; backward sums the gradient back
    through that index map, so repeated reads (reflect, replicate, circular) accumulate.
    """

    _NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def forward(self, a, pad=(), value=0.0, mode="constant"):
        if len(pad) % 2 or len(pad) // 2 > a.ndim:
            raise OpError(f"pad: padding {tuple(pad)} must have an even length of at most "
                             f"2 * ndim = {2 * a.ndim} for shape {a.shape}")
        if any(p < 0 for p in pad):
            raise OpError(f"pad: negative padding {tuple(pad)} is not supported")
        xp = get_array_module(a)
        widths = [(0, 0)] * a.ndim
        for i in range(len(pad) // 2):
            widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        self.mode, self.shape = mode, a.shape
        if mode == "constant":
            self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
            return xp.pad(a, widths, mode="constant", constant_values=value)
        for (lo, hi), n in zip(widths, a.shape):
            if mode == "reflect" and max(lo, hi) >= n or mode == "circular" and max(lo, hi) > n:
                raise OpError(f"pad: {mode} padding {tuple(pad)} is too large for shape {a.shape}")
        self.source = xp.pad(xp.arange(a.size).reshape(a.shape), widths, mode=self._NUMPY_MODES[mode])
        return xp.pad(a, widths, mode=self._NUMPY_MODES[mode])

    def backward(self, g):
        if self.mode == "constant":
            return g[self.slices]
        xp = get_array_module(g)
        flat = xp.bincount(self.source.reshape(-1), weights=g.reshape(-1), minlength=int(np.prod(self.shape)))
        return flat.astype(g.dtype).reshape(self.shape)


# ---- helpers expressed with the primitives above ----------------------------------------------------

def flatten(t: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one."""
    if t.ndim == 0:
        return Reshape.apply(t, shape=(1,))
    s, e = start_dim % t.ndim, end_dim % t.ndim
    shape = t.shape[:s] + (-1,) + t.shape[e + 1:] if t._data.size else \
        t.shape[:s] + (int(np.prod(t.shape[s:e + 1])),) + t.shape[e + 1:]
    return Reshape.apply(t, shape=shape)


def squeeze(t: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all of them, or those among `dim`, an int or a tuple of ints)."""
    if dim is None:
        shape = tuple(n for n in t.shape if n != 1)
    else:
        n = max(t.ndim, 1)
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        for d in dims:
            if not -n <= d < n:
                raise IndexError(f"squeeze: dim {d} is out of range for a tensor of {t.ndim} dimensions")
        drop = {d % n for d in dims}
        shape = tuple(s for i, s in enumerate(t.shape) if not (i in drop and s == 1))
    return Reshape.apply(t, shape=shape)


def unsqueeze(t: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at `dim`."""
    if not -(t.ndim + 1) <= dim <= t.ndim:
        raise OpIndexError(f"unsqueeze: dim {dim} is out of range for a tensor of {t.ndim} dimensions")
    d = dim % (t.ndim + 1)
    return Reshape.apply(t, shape=t.shape[:d] + (1,) + t.shape[d:])


def transpose(t: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    n = max(t.ndim, 1)
    if not (-n <= dim0 < n and -n <= dim1 < n):
        raise OpIndexError(f"transpose: dims ({dim0}, {dim1}) are out of range for a tensor of {t.ndim} dimensions")
    if t.ndim == 0:
        return Reshape.apply(t, shape=())
    dims = list(range(t.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return Permute.apply(t, dims=tuple(dims))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along an existing dim. As PyTorch's (a legacy rule that `acc = cat([acc, batch])` loops
    starting from `tensor([])` rely on), 1-D empty tensors are skipped when other tensors have more dims."""
    if isinstance(tensors, Tensor):
        raise OpTypeError("cat(): argument 'tensors' must be a tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if len(tensors) > 1 and any(getattr(t, "shape", None) == (0,) for t in tensors):
        like = next((t for t in tensors if getattr(t, "ndim", 1) != 1), None)
        if like is not None:  # each empty one as an empty slab of the others' shape: still promotes dtypes
            d = dim % like.ndim
            empty = tuple(0 if i == d else n for i, n in enumerate(like.shape))
            tensors = [t.reshape(empty) if getattr(t, "shape", None) == (0,) else t for t in tensors]
    return Cat.apply(*tensors, dim=dim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack along a new dim."""
    return Stack.apply(*tensors, dim=dim)

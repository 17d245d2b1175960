"""In-place ops (`x.add_(y)`, `x += y`, `x[i] = v`, `w.normal_()`): they write into the tensor's own memory, so
every alias (`.data`, `.detach()`, NumPy views) sees the change, and they follow PyTorch's autograd rules.

- Under `no_grad`, or when nothing involved requires grad, the op is computed and written back; no graph.
- On a leaf that requires grad, outside `no_grad`, an in-place op is a RuntimeError (as in PyTorch).
- On a tensor in the graph, the op is recorded: the tensor's earlier value becomes a node of its own (a copy, so
  what later ops saved of it stays intact) and the tensor becomes the op's output.
- Every write bumps the tensor's version; backward raises when an op saved a tensor that was written after the
  op was recorded (see tensor._check_unmodified).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import numpy as np

from descend import backend
from descend import dtypes as _dt

import descend._tensor as _t  # the module: its _epoch and hooks change at run time

from descend.ops.errors import OpError
from descend._tensor import Function, Tensor, _index_arrays

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _bump(t: Tensor) -> None:
    _bump_cell(t, getattr(t, "_vc", None))


def _bump_cell(t: Tensor, v: Any) -> None:
    """Count a write to t, whose `_vc` the caller read as v (None: unset)."""
    if v is not None and type(v) is not list and _t._grad_enabled and v.requires_grad and not t.requires_grad:
        _refuse_no_grad_view()
    _t._epoch += 1
    while v is not None and type(v) is not list:  # a view shares the cell of the tensor it views
        t, v = v, getattr(v, "_vc", None)
    if v is None:
        t._vc = [_t._epoch, 1]
    else:
        v[0] = _t._epoch
        v[1] += 1


def _refuse_no_grad_view() -> None:
    raise RuntimeError("A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
                       "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
                       "your code by moving both the view and the inplace either both inside the no_grad block "
                       "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
                       "to be tracked).")


def _leaf_check(t: Tensor) -> None:
    if _t._grad_enabled and t.requires_grad and t._ctx is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def _write(self: Tensor, out: Tensor) -> None:
    src = out._data
    if src.shape != self._data.shape:
        if self._data.ndim == 0 and src.size == 1 or _broadcasts_to(src.shape, self._data.shape):
            src = src.reshape(self._data.shape) if src.size == 1 else src
        else:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(src.shape)}")
    mine, theirs = _dt.of(self._data.dtype), _dt.of(src.dtype)
    if _CATEGORY[theirs.kind] > _CATEGORY[mine.kind]:
        raise RuntimeError(f"result type {theirs.name} can't be cast to the desired output type {mine.name}")
    if src is not self._data:
        try:
            self._data[...] = src
        except ValueError as e:  # a read-only broadcast view (expand): PyTorch refuses too
            raise RuntimeError(f"unsupported operation: more than one element of the written-to tensor refers "
                               f"to a single memory location ({e})") from None


def _broadcasts_to(src: tuple, dst: tuple) -> bool:
    if len(src) > len(dst):
        return False
    return all(s in (1, d) for s, d in zip(src[::-1], dst[::-1]))


def apply_inplace(self: Tensor, fn: Callable[..., Tensor], *args: Any, **kwargs: Any) -> Tensor:
    """Compute fn(self, *args) and write it into self, recording the op when gradients flow through it."""
    graph = _t._grad_enabled and (self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad
                                                             for a in args))
    cell = getattr(self, "_vc", None)
    if graph:
        _leaf_check(self)
        if cell is not None and type(cell) is not list and _inplace_on_view(self, _t._root_of(self), fn, args,
                                                                          kwargs):
            return self
    _bump_cell(self, cell)
    if not graph:
        with _t.no_grad():
            out = fn(self, *args, **kwargs)
        _write(self, out)
        return self
    old = _snapshot(self)
    if args:
        args = _read_before(args, self, old)
    if kwargs:
        kwargs = dict(zip(kwargs, _read_before(tuple(kwargs.values()), self, old)))
    out = fn(old, *args, **kwargs)
    if out is old:  # fn returned its input (dropout in eval): nothing is written, the history stays
        return self
    _write(self, out)
    if out.requires_grad:
        self._ctx, self.requires_grad = out._ctx, True
        _keep_earlier(out._ctx, old)
    return self


def _keep_earlier(ctx: Function, old: Tensor) -> None:
    """Record, on the op that gave a tensor its new history, the tensor's earlier self, for the ops recorded
    before this write (autograd.engine._reroute points them back at it)."""
    ctx._before = (old, _t._epoch)
    _t._rewritten = _t._epoch


def inplace_option(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Give a functional form's `inplace=True` PyTorch's meaning: the result is written into the input, through
    apply_inplace (so the version counter and the graph follow, and a leaf that requires grad is refused, as in
    PyTorch). The result is computed out of place first: it saves no memory here. The modules (nn.ReLU(inplace=
    True), ...) keep computing out of place, which is faster in descend and gives the same outputs."""
    names = list(inspect.signature(fn).parameters)
    at = names.index("inplace")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Tensor:
        if not (kwargs.get("inplace") or len(args) > at and args[at]):
            return fn(*args, **kwargs)
        kwargs.pop("inplace", None)
        args = args[:at] + (False,) + args[at + 1:] if len(args) > at else args
        if not args:
            args = (kwargs.pop(names[0]),)
        return apply_inplace(args[0], lambda t: fn(t, *args[1:], **kwargs))

    return wrapper


def _read_before(args: tuple, base: Tensor, old: Tensor) -> tuple:
    """args with each tensor in the graph that shares base's memory (base, or a view of it) replaced by the
    same values read from `old`, base before the write: its gradient must reach that history, and through
    base's new one it would loop back to itself (y.mul_(y), y[1:] = y[:-1])."""
    out, mine = None, base._data
    for i, a in enumerate(args):
        if type(a) is not Tensor and not isinstance(a, Tensor) or not a.requires_grad:
            continue
        owner = a._data.base  # a cheap test first: most arguments share no memory with base
        if a is base:
            read = old
        elif owner is not None and (owner is mine or owner is mine.base) and _t._root_of(a) is base:
            where = _view_index(mine, a._data)
            if where is None:
                continue
            read = old.reshape(-1)[Tensor(where)]
        else:
            continue
        if out is None:
            out = list(args)
        out[i] = read
    return args if out is None else tuple(out)


def _snapshot(t: Tensor) -> Tensor:
    """t's current value and history as a node of its own (a copy, so what later ops saved of it stays intact),
    before t is written in place; t's previous op is told when the write destroys an output it saved."""
    prev = t._ctx
    if prev is not None and _saves(prev, t._data):
        prev.output_overwritten = True  # its backward would read the values this write destroys
    old = Tensor.__new__(Tensor)
    old._data = t._data.copy()
    old.grad, old._retain = None, False
    old._ctx, old.requires_grad = t._ctx, t.requires_grad
    return old


def _inplace_on_view(view: Tensor, base: Tensor, fn: Callable[..., Tensor], args: tuple, kwargs: dict) -> bool:
    """fn written into a view, recorded on its base (PyTorch's CopySlices): the base becomes "old base with the
    view's elements replaced by fn(those elements)", and the view is re-taken from the new base.

    False when the view no longer lies in its base's memory (the base's array was replaced): then it is written
    as a tensor of its own.
    """
    if base.requires_grad and base._ctx is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if base.requires_grad and not view.requires_grad:
        _refuse_no_grad_view()
    link = view
    while link is not base:
        made_by = link._ctx.__dict__.get("multi_view") if link._ctx is not None else None
        if made_by:
            raise RuntimeError(f"{made_by} is a view and is being modified inplace. This view is the output of a "
                               f"function that returns multiple views. Such functions do not allow the output "
                               f"views to be modified inplace. You should replace the inplace operation by an "
                               f"out-of-place one.")
        link = link._vc
    if not view._data.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location (an expanded view). Please clone() the tensor before "
                           "performing the operation.")
    where = _view_index(base._data, view._data)
    if where is None:
        return False
    old = _snapshot(base)
    flat = old.reshape(-1)
    if args:
        args = _read_before(args, base, old)
    if kwargs:
        kwargs = dict(zip(kwargs, _read_before(tuple(kwargs.values()), base, old)))
    out = fn(flat[Tensor(where)], *args, **kwargs)
    _write(view, out)
    # Bumped after fn is recorded: an argument read through another view of this base (y[0].add_(y[1])) then
    # counts as used before the write, so backward refuses it rather than route it through the new history.
    _bump(view)
    if out.shape != view.shape:  # what _write broadcast into the view
        out = (out.reshape(()) if out.numel() == 1 else out).expand(view.shape)
    new = IndexPut.apply(flat, out, index=(where,)).reshape(base.shape)
    base._ctx, base.requires_grad = new._ctx, new.requires_grad
    if new._ctx is not None:
        _keep_earlier(new._ctx, old)
    again = base.reshape(-1)[Tensor(where)]
    view._ctx, view.requires_grad = again._ctx, again.requires_grad
    return True


def _address(a: Any) -> int:
    return a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr


def _extent(a: Any) -> tuple:
    """The lowest and highest byte addresses of a's elements."""
    lo = hi = _address(a)
    for stride, n in zip(a.strides, a.shape):
        lo, hi = (lo + stride * (n - 1), hi) if stride < 0 else (lo, hi + stride * (n - 1))
    return lo, hi


def _view_index(base: Any, view: Any) -> Any:
    """Where the view's elements sit in base, as base's flat (row-major) positions shaped like the view; None
    when the view's memory is not inside base's.

    The positions are read off memory, so any chain of views (slices, transposes, reshapes) is handled alike:
    base's flat positions are written into a scratch buffer laid out as base's memory, then read back through
    the view's strides (PyTorch re-takes such a view with as_strided).
    """
    xp = backend.get_array_module(base)
    size = base.itemsize
    if view.size == 0:
        return xp.zeros(view.shape, dtype=np.int64)
    if base.size == 0 or view.itemsize != size or any(s % size for s in base.strides + view.strides):
        return None
    lo, hi = _extent(base)
    vlo, vhi = _extent(view)
    if vlo < lo or vhi > hi or (vlo - lo) % size:
        return None
    if base.flags.c_contiguous:  # memory order is the flat order: read the positions straight off an arange
        flat = xp.arange(base.size, dtype=np.int64)[(_address(view) - lo) // size:]
        return xp.lib.stride_tricks.as_strided(flat, view.shape, tuple(s // size * 8 for s in view.strides)).copy()
    scratch = xp.full((hi - lo) // size + 1, -1, dtype=np.int64)

    def laid_out_as(a: Any) -> Any:
        strides = tuple(s // size * scratch.itemsize for s in a.strides)
        return xp.lib.stride_tricks.as_strided(scratch[(_address(a) - lo) // size:], a.shape, strides)

    laid_out_as(base)[...] = xp.arange(base.size).reshape(base.shape)
    where = laid_out_as(view).copy()
    return None if bool((where < 0).any()) else where


def _saves(ctx: Function, arr: Any) -> bool:
    xp = backend.get_array_module(arr)
    return any(isinstance(v, xp.ndarray) and xp.may_share_memory(v, arr) for v in ctx.__dict__.values())


def _method(base: str) -> Callable[..., Tensor]:
    def inplace(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply_inplace(self, getattr(Tensor, base), *args, **kwargs)

    inplace.__name__ = base + "_"
    inplace.__doc__ = f"In-place `{base}`: writes the result into this tensor and returns it."
    return inplace


# Out-of-place methods whose in-place twin PyTorch has; each is bound when its base method exists.
BASES = """abs absolute acos acosh add addcdiv addcmul asin asinh atan atan2 atanh bitwise_and bitwise_not bitwise_or
bitwise_xor ceil clamp clamp_max clamp_min clip copysign cos cosh cumprod cumsum deg2rad digamma div divide eq erf
erfc erfinv exp exp2 expm1 fix float_power floor floor_divide fmod frac ge gt hypot i0 index_add index_copy
index_fill index_put le lerp lgamma log log10 log1p log2 logical_and logical_not logical_or logical_xor logit lt masked_fill
masked_scatter mul multiply mvlgamma nan_to_num ne neg negative pow rad2deg reciprocal relu remainder renorm round
rsqrt scatter scatter_add scatter_reduce sigmoid sign sin sinc sinh sqrt square sub subtract tan tanh tril triu true_divide trunc unsqueeze xlogy hardtanh leaky_relu elu silu""".split()


def zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def fill_(self: Tensor, value: Any) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        return copy_(self, value)
    if _t._grad_enabled and self.requires_grad:
        return apply_inplace(self, lambda old: CopyFrom.apply(old, value))  # (old * 0 would keep inf as nan)
    _bump(self)
    self._data[...] = value
    return self


class CopyFrom(Function):
    """The values of `src` broadcast to `a`'s shape and dtype; `a`'s old values get no gradient."""

    def forward(self, a, src):
        xp = backend.get_array_module(a, src)
        return xp.array(xp.broadcast_to(xp.asarray(src), a.shape), dtype=a.dtype)

    def backward(self, g):
        return None, g


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy src's values (broadcast, cast, moved to this tensor's device) into this tensor."""
    if isinstance(src, Tensor) and src.device != self.device:
        src = src.to(self.device)
    if not _broadcasts_to(tuple(np.shape(src._data if isinstance(src, Tensor) else src)), self.shape):
        raise RuntimeError(f"The size of tensor a {list(self.shape)} must match the size of tensor b "
                           f"{list(np.shape(src._data if isinstance(src, Tensor) else src))}")
    return apply_inplace(self, lambda old, s: CopyFrom.apply(old, s), src)


class IndexPut(Function):
    """`a` with `v` written at `index` (Python's `a[index] = v` as an op)."""

    def forward(self, a, v, index=None):
        self.index = index
        out = a.copy()
        out[index] = v
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = backend.get_array_module(g).array(g)  # a copy, and an array even when g is a 0-d scalar
            ga[self.index] = 0
        if self.needs_input_grad[1]:
            gv = g[self.index]
        return ga, gv


def __setitem__(self: Tensor, index: Any, value: Any) -> None:
    idx = _index_arrays(index)
    if _t._grad_enabled and (self.requires_grad or isinstance(value, Tensor) and value.requires_grad):
        _leaf_check(self)
        if isinstance(value, Tensor) and value.device != self.device:
            value = value.to(self.device)
        apply_inplace(self, lambda old, v: IndexPut.apply(old, v, index=idx), value)
        return
    _bump(self)
    try:
        self._data[idx] = value._data if isinstance(value, Tensor) else value
    except ValueError as e:  # a value that does not broadcast to the indexed shape
        raise OpError(f"setitem: {e}") from None


def _rng(generator: Any) -> np.random.Generator:
    if generator is None:
        return backend.rng()
    rng = getattr(generator, "_rng", None) or getattr(generator, "rng", None)
    if callable(rng):
        rng = rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"generator must be a descend.Generator, got {type(generator).__name__}")
    return rng


def _fill_random(self: Tensor, draw: Callable[[np.random.Generator, tuple], np.ndarray], generator: Any) -> Tensor:
    values = backend.get_array_module(self._data).asarray(draw(_rng(generator), self.shape))
    if _t._grad_enabled and self.requires_grad:  # recorded, so backward sees the old values replaced
        return apply_inplace(self, lambda old: CopyFrom.apply(old, values))
    _bump(self)
    self._data[...] = values.astype(self._data.dtype, copy=False)
    return self


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    return _fill_random(self, lambda r, s: r.normal(mean, std, s), generator)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    return _fill_random(self, lambda r, s: r.uniform(a, b, s), generator)


def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    prob = p._data if isinstance(p, Tensor) else p
    return _fill_random(self, lambda r, s: r.random(s) < prob, generator)


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    return _fill_random(self, lambda r, s: r.exponential(1.0 / lambd, s), generator)


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None) -> Tensor:
    return _fill_random(self, lambda r, s: r.lognormal(mean, std, s), generator)


def geometric_(self: Tensor, p: float, *, generator: Any = None) -> Tensor:
    return _fill_random(self, lambda r, s: r.geometric(p, s), generator)


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Any = None) -> Tensor:
    return _fill_random(self, lambda r, s: median + sigma * r.standard_cauchy(s), generator)


def random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator: Any = None) -> Tensor:
    """Integers uniform in [from_, to) (one argument: [0, from_)); without bounds, [0, 2**mantissa]."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        d = self.dtype
        to = 2 ** (np.finfo(d.dtype).nmant + 1) + 1 if d.is_floating_point else \
            (2 if d is _dt.bool_ else int(np.iinfo(d.dtype).max) + 1)
    return _fill_random(self, lambda r, s: r.integers(from_, to, s), generator)


def _view_method(base: str) -> Callable[..., Tensor]:
    """In-place shape changes (`t_`, `squeeze_`, ...): the tensor takes the new view's shape."""

    def inplace(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if _t._grad_enabled and self.requires_grad:
            _leaf_check(self)
            old = self._alias()
            old._ctx, old.requires_grad = self._ctx, True
            out = getattr(Tensor, base)(old, *args, **kwargs)
            self._ctx = out._ctx
        else:
            out = getattr(Tensor, base)(self.detach(), *args, **kwargs)
        self._data = out._data
        return self

    inplace.__name__ = base + "_"
    return inplace


def _operator(base: str) -> Callable[[Tensor, Any], Tensor]:
    def op(self: Tensor, other: Any) -> Tensor:
        return getattr(self, base + "_")(other)

    op.__name__ = f"__i{base}__"
    return op


def _bind() -> None:
    for base in BASES:
        if hasattr(Tensor, base) and base + "_" not in Tensor.__dict__:
            setattr(Tensor, base + "_", _method(base))
    for base in ("t", "transpose", "squeeze", "unsqueeze", "swapaxes", "swapdims"):
        if hasattr(Tensor, base):
            setattr(Tensor, base + "_", _view_method(base))
    for name, fn in [("zero_", zero_), ("fill_", fill_), ("copy_", copy_), ("normal_", normal_),
                     ("uniform_", uniform_), ("bernoulli_", bernoulli_), ("exponential_", exponential_),
                     ("log_normal_", log_normal_), ("geometric_", geometric_), ("cauchy_", cauchy_),
                     ("random_", random_), ("__setitem__", __setitem__)]:
        setattr(Tensor, name, fn)
    for dunder, base in [("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"),
                         ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "pow"), ("and", "bitwise_and"),
                         ("or", "bitwise_or"), ("xor", "bitwise_xor")]:
        if hasattr(Tensor, base + "_"):
            setattr(Tensor, f"__i{dunder}__", _operator(base))


_bind()

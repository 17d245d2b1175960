"""Tensor, Function and reverse-mode autodiff: a topological sort and a reverse loop."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend import backend
from descend import dtypes as _dt
from descend.ops.errors import OpError

_ND = np.ndarray
_grad_enabled = True
# The per-op callback Function.apply calls after every forward as (op class, output array, inputs): None, the
# one registered hook, or a dispatcher over several. Set only through descend.autograd.register_op_hook.
_anomaly_check = None
# In-place writes bump a global counter and stamp the tensor's version with it; an op records the counter when
# it is recorded, so backward can tell whether a tensor it saved was modified afterwards (PyTorch's check).
_epoch = 0
# Hooks registered with Tensor.register_hook, by id(tensor) (most tensors have none; see _hooks_of).
_tensor_hooks: dict = {}


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _grad_enabled


class Function:
    """An op: `forward` on raw arrays, `backward` from the output gradient to one gradient per input.

    The instance is the autograd context: whatever backward needs is kept on `self`.
    """

    parents: tuple | None = None
    needs_input_grad: tuple = ()
    _epoch = 0  # the in-place counter when the op was recorded (see _check_unmodified)
    kwargs: dict = {}  # the keyword arguments of the call, kept when the graph is recorded

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> "Tensor":
        """Run forward on the inputs' arrays and, if any input needs a gradient, link the output to this op."""
        ctx = cls.__new__(cls)
        out = ctx.forward(*[a._data if isinstance(a, Tensor) else a for a in args], **kwargs)
        if type(out) is not _ND and isinstance(out, np.generic):  # ufuncs give scalars for 0-d results
            out = np.asarray(out)
        if _anomaly_check is not None:
            _anomaly_check(cls, out, args)
        t = Tensor.__new__(Tensor)
        t._data = out
        t.grad = None
        t._retain = False
        if _grad_enabled:
            needs = [isinstance(a, Tensor) and a.requires_grad for a in args]  # a list comp beats a genexpr
            if True in needs:
                ctx.parents = args
                if kwargs:
                    ctx.kwargs = kwargs  # for higher-order rules that recompute the op (autograd/higher.py)
                ctx.needs_input_grad = tuple(needs)
                if _epoch:
                    ctx._epoch = _epoch
                t.requires_grad = True
                t._ctx = ctx
                return t
        t.requires_grad = False
        t._ctx = None
        return t

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum a gradient shaped like a broadcast result back to the shape of the input it flowed to."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _as_array(data: Any, dtype: Any = None) -> Any:
    """An array from Python data, NumPy/CuPy arrays or a Tensor, with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dtype = np.dtype(dtype)
    xp = backend.get_array_module(data)
    if xp is np and not isinstance(data, np.ndarray) and not isinstance(data, np.generic):
        xp = backend.xp
        arr = xp.asarray(data, dtype=dtype)
        # Python floats become the default dtype, as torch.tensor([1.0]) is float32.
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(backend.default_dtype())
        return arr
    return xp.array(data, dtype=dtype, copy=True)


class _HookHandle:
    """Returned by `Tensor.register_hook`; `remove()` unregisters the hook."""

    _next = 0

    def __init__(self, hooks: dict) -> None:
        _HookHandle._next += 1
        self.id, self._hooks = _HookHandle._next, hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> "_HookHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class Tensor:
    """An n-dimensional array that records the ops producing it, so gradients can flow back."""

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_retain", "_version", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _as_array(data, dtype) if not _is_array(data) or dtype is not None else data
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._retain = False
        # _version stays unset (read with _version_of) until an in-place write or an alias needs it: then a
        # one-element list [stamp] shared by every alias of this memory.
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- basic properties -------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """This tensor's values as a tensor outside the graph, sharing memory (PyTorch's `.data`)."""
        return self._alias()

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else value
        if not _is_array(arr):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = arr

    def _alias(self) -> "Tensor":
        """A new leaf over the same array, sharing the version counter (so in-place writes are seen)."""
        t = Tensor.__new__(Tensor)
        t._data = self._data
        t.grad = None
        t._ctx = None
        t._retain = False
        t.requires_grad = False
        v = _version_of(self)
        if v is None:
            v = self._version = [0]
        t._version = v
        return t

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = backend.to_numpy(self._data)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> _dt.dtype:
        return _dt.of(self._data.dtype)

    @property
    def device(self) -> backend.device:
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return backend.is_device_array(self._data)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    def size(self, dim: int | None = None) -> Any:
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def __len__(self) -> int:
        return len(self._data)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU)."""
        if self.requires_grad:
            # PyTorch refuses here; we follow so code that ports behaves the same.
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy() instead")
        return backend.to_numpy(self._data)

    def item(self) -> Any:
        if self._data.size != 1:
            raise OpError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar (item() needs "
                          f"one element, got shape {self.shape})")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory and the version counter)."""
        return self._alias()

    def clone(self) -> "Tensor":
        return _mv.Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise OpError(f"only Tensors of floating point and complex dtype can require gradients, got "
                          f"{self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self.requires_grad = requires_grad
        return self

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad."""
        self._ctx = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retain = True

    @property
    def retains_grad(self) -> bool:
        return self._retain and self._ctx is not None

    def register_hook(self, hook: Callable[["Tensor"], Any]) -> Any:
        """Call hook(grad) when this tensor's gradient is computed; a returned tensor replaces the gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        import weakref

        key = id(self)
        entry = _tensor_hooks.get(key)
        if entry is None or entry[0]() is not self:
            entry = _tensor_hooks[key] = (weakref.ref(self, lambda _, k=key: _tensor_hooks.pop(k, None)), {})
        handle = _HookHandle(entry[1])
        entry[1][handle.id] = hook
        return handle

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        if self._ctx is not None:
            grad = f", grad_fn=<{type(self._ctx).__name__}Backward>"
        body = np.array2string(backend.to_numpy(self._data).astype(np.float32) if _dt.of(self._data.dtype) is
                               _dt.bfloat16 else backend.to_numpy(self._data), separator=", ", precision=4,
                               prefix="tensor(")
        dt = self.dtype
        show = dt is not _dt.of(backend.default_dtype()) and dt is not _dt.int64 and dt is not _dt.bool_ \
            or self._data.size == 0
        dev = f", device='{self.device}'" if self.is_cuda else ""
        return f"tensor({body}{dev}{f', dtype={dt}' if show else ''}{grad})"

    # --- autograd ---------------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires it (or only into `inputs`')."""
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            if not inputs:
                raise RuntimeError("backward(): 'inputs' argument to backward() cannot be empty.")
        if create_graph:
            from descend.autograd.higher import run_backward_graph

            run_backward_graph([self], [gradient], inputs, accumulate=True)
            return
        run_backward([self], [gradient], bool(retain_graph), inputs)

    # --- operators ----------------------------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return _ew.Add.apply(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return _ew.Add.apply(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return _ew.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return _ew.Sub.apply(other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return _ew.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return _ew.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return _ew.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return _ew.Div.apply(other, self)

    def __pow__(self, other: Any) -> "Tensor":
        return _ew.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> "Tensor":
        return _ew.Pow.apply(other, self)

    def __neg__(self) -> "Tensor":
        return _ew.Neg.apply(self)

    def __abs__(self) -> "Tensor":
        return _ew.Abs.apply(self)

    def __matmul__(self, other: Any) -> "Tensor":
        return _mm.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return _mm.MatMul.apply(other, self)

    def __getitem__(self, index: Any) -> "Tensor":
        return _mv.GetItem.apply(self, index=_index_arrays(index))

    # Comparisons give boolean tensors outside the graph, as in PyTorch.
    def __lt__(self, other: Any) -> "Tensor":
        return Tensor(self._data < _raw(other))

    def __le__(self, other: Any) -> "Tensor":
        return Tensor(self._data <= _raw(other))

    def __gt__(self, other: Any) -> "Tensor":
        return Tensor(self._data > _raw(other))

    def __ge__(self, other: Any) -> "Tensor":
        return Tensor(self._data >= _raw(other))

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return Tensor(self._data == _raw(other))

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return Tensor(self._data != _raw(other))

    def __invert__(self) -> "Tensor":
        return Tensor(~self._data)

    def __and__(self, other: Any) -> "Tensor":
        return Tensor(self._data & _raw(other))

    def __or__(self, other: Any) -> "Tensor":
        return Tensor(self._data | _raw(other))

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"truth value of a tensor with shape {self.shape} is ambiguous")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    # --- elementwise methods ---------------------------------------------------------------------------
    def add(self, other: Any) -> "Tensor":
        return _ew.Add.apply(self, other)

    def sub(self, other: Any) -> "Tensor":
        return _ew.Sub.apply(self, other)

    def mul(self, other: Any) -> "Tensor":
        return _ew.Mul.apply(self, other)

    def div(self, other: Any) -> "Tensor":
        return _ew.Div.apply(self, other)

    def pow(self, other: Any) -> "Tensor":
        return _ew.Pow.apply(self, other)

    def neg(self) -> "Tensor":
        return _ew.Neg.apply(self)

    def exp(self) -> "Tensor":
        return _ew.Exp.apply(self)

    def log(self) -> "Tensor":
        return _ew.Log.apply(self)

    def sqrt(self) -> "Tensor":
        return _ew.Sqrt.apply(self)

    def abs(self) -> "Tensor":
        return _ew.Abs.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> "Tensor":
        return _ew.Clamp.apply(self, lo=min, hi=max)

    clip = clamp

    def maximum(self, other: Any) -> "Tensor":
        return _ew.Maximum.apply(self, other)

    def minimum(self, other: Any) -> "Tensor":
        return _ew.Minimum.apply(self, other)

    def relu(self) -> "Tensor":
        return _ew.ReLU.apply(self)

    def sigmoid(self) -> "Tensor":
        return _ew.Sigmoid.apply(self)

    def tanh(self) -> "Tensor":
        return _ew.Tanh.apply(self)

    def erf(self) -> "Tensor":
        return _ew.Erf.apply(self)

    def square(self) -> "Tensor":
        return _ew.Mul.apply(self, self)

    def masked_fill(self, mask: Any, value: float) -> "Tensor":
        """value where mask is True, else self (mask broadcasts)."""
        return _ew.Where.apply(mask, value, self)

    # --- reductions -------------------------------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _rd.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _rd.Mean.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
            correction: int | None = None) -> "Tensor":
        return _rd.Var.apply(self, dim=dim, correction=_correction(unbiased, correction), keepdim=keepdim)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
            correction: int | None = None) -> "Tensor":
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _rd.max_(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _rd.min_(self, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _rd.AMax.apply(self, dim=dim, keepdim=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _rd.AMax.apply(self, dim=dim, keepdim=keepdim, sign=-1)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        return _rd.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        return _rd.argmax(-self.detach(), dim, keepdim)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> "Tensor":
        return _rd.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    def softmax(self, dim: int) -> "Tensor":
        return _rd.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim: int) -> "Tensor":
        return _rd.LogSoftmax.apply(self, dim=dim)

    # --- movement ---------------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> "Tensor":
        return _mv.Reshape.apply(self, shape=_shape_arg(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        return _mv.flatten(self, start_dim, end_dim)

    def squeeze(self, dim: int | None = None) -> "Tensor":
        return _mv.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> "Tensor":
        return _mv.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        return _mv.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> "Tensor":
        return _mv.Permute.apply(self, dims=_shape_arg(dims))

    def expand(self, *shape: Any) -> "Tensor":
        return _mv.Expand.apply(self, shape=_shape_arg(shape))

    def expand_as(self, other: "Tensor") -> "Tensor":
        return _mv.Expand.apply(self, shape=other.shape)

    def view_as(self, other: "Tensor") -> "Tensor":
        return _mv.Reshape.apply(self, shape=other.shape)

    reshape_as = view_as

    def t(self) -> "Tensor":
        """Transpose of a matrix (a 0-D or 1-D tensor is returned as is, like PyTorch)."""
        if self.ndim > 2:
            raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self if self.ndim < 2 else _mv.Permute.apply(self, dims=(1, 0))

    def contiguous(self) -> "Tensor":
        return self

    def matmul(self, other: Any) -> "Tensor":
        return _mm.MatMul.apply(self, other)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or backend.get_array_module(x) is not np


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _shape_arg(shape: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3)), as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _correction(unbiased: bool | None, correction: int | None) -> int:
    if correction is not None:
        return int(correction)
    return 1 if unbiased is None or unbiased else 0


def _index_arrays(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _root_grad(t: Tensor, g: Any) -> Any:
    """The array a backward pass starts from: ones for a scalar, else the given gradient of t's shape."""
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape {t.shape}; "
                               f"pass a gradient of that shape")
        return backend.get_array_module(t._data).ones_like(t._data)
    g = g._data if isinstance(g, Tensor) else backend.get_array_module(t._data).asarray(g)
    if tuple(g.shape) != t.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {tuple(g.shape)} and output has a "
                           f"shape of {t.shape}")
    return g


def run_backward(roots: list, grads: list, retain_graph: bool, inputs: list | None = None,
                 accumulate: bool = True) -> dict | None:
    """Propagate from `roots` (with `grads`, None meaning ones) through the graph in reverse topological order.

    Gradients reach leaves' `.grad` (only the `inputs`' when given). With accumulate=False nothing is
    accumulated and {id(input): gradient array or None} is returned instead (autograd.grad).
    """
    pending: dict[int, Any] = {}
    for r, g in zip(roots, grads):
        g = _root_grad(r, g)
        pending[id(r)] = g if id(r) not in pending else pending[id(r)] + g
    wanted = None if inputs is None else {id(t) for t in inputs}
    found: dict = {}
    for node in reversed(_toposort(roots)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if _tensor_hooks:
            g = _run_hooks(node, g)
        ctx = node._ctx
        if wanted is None:
            if ctx is None or node._retain:
                _accumulate(node, g)
        elif id(node) in wanted:
            if accumulate:
                _accumulate(node, g)
            else:
                found[id(node)] = g
        if ctx is None:
            continue
        if _epoch and ctx._epoch < _epoch:
            _check_unmodified(node, ctx)
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for p, pg, need in zip(ctx.parents, in_grads, ctx.needs_input_grad):
            if not need or pg is None:
                continue
            if pg.shape != p._data.shape:
                pg = _unbroadcast(pg, p._data.shape)
            if pg.dtype != p._data.dtype:
                pg = pg.astype(p._data.dtype)
            key = id(p)
            prev = pending.get(key)
            pending[key] = pg if prev is None else prev + pg
        if not retain_graph:
            # Release what the op saved so memory is freed; a second backward is an error, as in PyTorch.
            ctx.__dict__.clear()
            ctx.released = True
    return found if not accumulate else None


def _version_of(t: Tensor) -> list | None:
    """The tensor's shared version stamp, None if it was never written in place nor aliased."""
    return getattr(t, "_version", None)


def _check_unmodified(node: Tensor, ctx: Function) -> None:
    """RuntimeError if an array this op saved for backward was written in place after the op was recorded.

    Runs only once some in-place write happened. What an op saved is whatever array on `ctx` shares memory
    with its output or an input; an input that was itself rewritten by an in-place op (it has a grad_fn) is
    refused too, since this op's gradient would now flow through the rewrite.
    """
    if ctx.__dict__.get("output_overwritten"):
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"the output of [{type(ctx).__name__}] of shape {list(node.shape)}, which it saved for backward, was "
            f"written in place. Hint: do the in-place op on a clone().")
    stamp = ctx._epoch
    touched = [t for t in (node, *ctx.parents) if isinstance(t, Tensor) and _version_of(t) is not None
               and t._version[0] > stamp]
    if not touched:
        return
    xp = backend.get_array_module(node._data)
    saved = [v for v in ctx.__dict__.values() if isinstance(v, xp.ndarray)]
    for t in touched:
        rerouted = t is not node and t._ctx is not None
        if rerouted or any(xp.may_share_memory(v, t._data) for v in saved):
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{type(ctx).__name__}] tensor of shape {list(t.shape)} was written after the op "
                f"was recorded. Hint: do the in-place op on a clone(), or after backward().")


def _run_hooks(node: Tensor, g: Any) -> Any:
    entry = _tensor_hooks.get(id(node))
    if entry is None or entry[0]() is not node:
        return g
    for hook in list(entry[1].values()):
        out = hook(Tensor(g))
        if out is not None:
            g = out._data if isinstance(out, Tensor) else out
    return g


def _accumulate(leaf: Tensor, g: Any) -> None:
    """Add a gradient into `leaf.grad`; never in place, since arrays may be shared between leaves."""
    if not g.flags.c_contiguous:
        g = backend.get_array_module(g).ascontiguousarray(g)
    if leaf.grad is None:
        leaf.grad = Tensor(g)
    else:
        leaf.grad = Tensor(leaf.grad._data + g)


def _toposort(roots: list, stop: set | None = None) -> list:
    """Tensors reachable from the roots, each after all tensors it depends on; iterative, so deep graphs work.

    Nodes whose id is in `stop` are included but not looked through.
    """
    topo: list = []
    visited: set = set()
    stack: list = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            topo.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is None or stop is not None and id(node) in stop:
            continue
        if ctx.parents is None:
            raise RuntimeError(
                "backward(): trying to go through the graph a second time (its saved values were freed); "
                "pass retain_graph=True to the first backward")
        for p in ctx.parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    return topo


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (floats default to float32, ints to int64).

    >>> tensor([[1, 2], [3, 4]]).dtype
    descend.int64
    """
    t = Tensor(_as_array(data, dtype), requires_grad=requires_grad)
    return t if device is None else _on(t, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor sharing memory with `data` where possible (a Tensor or an array of the right dtype)."""
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
    elif _is_array(data) and (dtype is None or _dt.as_dtype(dtype).dtype == data.dtype):
        out = Tensor(data)
    else:
        out = tensor(data, dtype)
    return out if device is None else _on(out, device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (PyTorch's torch.from_numpy)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return Tensor(ndarray)


def _on(t: Tensor, device: Any) -> Tensor:
    moved = t.to(device)
    if moved is not t:  # a new leaf on the target device, as torch.tensor(..., device=) makes
        moved = Tensor(moved._data, requires_grad=t.requires_grad)
    return moved


# The op modules import Function and Tensor from here, so they are imported after both exist.
from descend.ops import elementwise as _ew  # noqa: E402
from descend.ops import matmul as _mm  # noqa: E402
from descend.ops import movement as _mv  # noqa: E402
from descend.ops import reduce as _rd  # noqa: E402
from descend.ops import methods as _methods  # noqa: E402,F401  (binds the remaining Tensor methods)
from descend.ops import convert as _convert  # noqa: E402,F401  (to, float, cuda, ...)
# Grad modes and anomaly detection live in descend.autograd; re-exported here for the modules that import them
# from the engine.
from descend.autograd.anomaly import NonFiniteError, detect_anomaly, register_op_hook  # noqa: E402,F401
from descend.autograd.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: E402,F401
from descend.ops import inplace as _inplace  # noqa: E402,F401  (add_, __iadd__, __setitem__, ...)

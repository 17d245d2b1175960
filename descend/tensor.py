"""Tensor, Function and reverse-mode autodiff: a topological sort and a reverse loop."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend import backend

_grad_enabled = True
# The per-op callback Function.apply calls after every forward as (op class, output array, inputs): None, the
# one registered hook, or a dispatcher over several. Set only through register_op_hook.
_anomaly_check = None
_op_hooks: list = []


class no_grad:
    """Context manager (and decorator) that stops ops from recording the graph."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc: Any) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class enable_grad(no_grad):
    """Context manager that turns graph recording back on inside `no_grad`."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = True


def _dispatch(cls: type, out: Any, args: tuple) -> None:
    for hook in tuple(_op_hooks):
        hook(cls, out, args)


def _refresh_hooks() -> None:
    global _anomaly_check
    _anomaly_check = None if not _op_hooks else _op_hooks[0] if len(_op_hooks) == 1 else _dispatch


class OpHookHandle:
    """Returned by `register_op_hook`; `remove()` unregisters the hook."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def remove(self) -> None:
        for i, h in enumerate(_op_hooks):
            if h is self.fn:
                del _op_hooks[i]
                break
        _refresh_hooks()


def register_op_hook(fn: Callable[[type, Any, tuple], None]) -> OpHookHandle:
    """Call fn(op class, output array, inputs) after every op's forward until `handle.remove()`.

    The per-op counterpart of a module's forward hook (detect_anomaly and the doctor's activation monitor use
    it); hooks run in registration order, and cost nothing while none is registered.
    """
    _op_hooks.append(fn)
    _refresh_hooks()
    return OpHookHandle(fn)


class detect_anomaly:
    """Context manager: raise at the first op whose output is non-finite while its inputs were finite.

    The error names the op, the input and output shapes, and the caller's source line outside descend.
    """

    def __enter__(self) -> "detect_anomaly":
        self._handle = register_op_hook(_check_finite)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()


class NonFiniteError(FloatingPointError):
    """An op produced NaN or infinity from finite inputs; `op`, `shapes` and `source` say where."""

    def __init__(self, op: str, in_shapes: list, out_shape: tuple, source: str, kind: str) -> None:
        self.op, self.in_shapes, self.out_shape, self.source, self.kind = op, in_shapes, out_shape, source, kind
        ins = ", ".join(str(s) for s in in_shapes)
        super().__init__(f"{op} produced {kind} (inputs {ins} -> output {out_shape}) at {source}")


def _user_frame() -> str:
    """'file:line in function' of the innermost stack frame outside the descend package."""
    import os
    import sys

    pkg = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(pkg + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "<unknown>"


def _check_finite(cls: type, out: Any, args: tuple) -> None:
    xp = backend.get_array_module(out)
    if getattr(out, "dtype", None) is None or out.dtype.kind not in "fc" or bool(xp.isfinite(out).all()):
        return
    for a in args:
        data = a._data if isinstance(a, Tensor) else a
        if hasattr(data, "dtype") and data.dtype.kind in "fc" and not bool(xp.isfinite(data).all()):
            return  # the non-finite value came from an input; the op that made it was reported already
    kind = "NaN" if bool(xp.isnan(out).any()) else "inf"
    shapes = [tuple(a.shape) for a in args if isinstance(a, Tensor)]
    raise NonFiniteError(cls.__name__, shapes, tuple(out.shape), _user_frame(), kind)


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _grad_enabled


class Function:
    """An op: `forward` on raw arrays, `backward` from the output gradient to one gradient per input.

    The instance is the autograd context: whatever backward needs is kept on `self`.
    """

    parents: tuple | None = None
    needs_input_grad: tuple = ()

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> "Tensor":
        """Run forward on the inputs' arrays and, if any input needs a gradient, link the output to this op."""
        ctx = cls.__new__(cls)
        out = ctx.forward(*[a._data if isinstance(a, Tensor) else a for a in args], **kwargs)
        if _anomaly_check is not None:
            _anomaly_check(cls, out, args)
        t = Tensor.__new__(Tensor)
        t._data = out
        t.grad = None
        t._retain = False
        t._version = None
        if _grad_enabled:
            needs = [isinstance(a, Tensor) and a.requires_grad for a in args]  # a list comp beats a genexpr
            if True in needs:
                ctx.parents = args
                ctx.needs_input_grad = tuple(needs)
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


class Tensor:
    """An n-dimensional array that records the ops producing it, so gradients can flow back."""

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_retain", "_version", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _as_array(data, dtype) if not _is_array(data) or dtype is not None else data
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._retain = False
        self._version = None  # None: never modified in place and not shared; else a [count] shared by aliases
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
        if self._version is None:
            self._version = [0]
        t._version = self._version
        return t

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = backend.to_numpy(self._data)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

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
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory and the version counter)."""
        return self._alias()

    def clone(self) -> "Tensor":
        return _mv.Clone.apply(self)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self._data.dtype.kind not in "fc":
            raise TypeError(f"only floating tensors can require gradients, got dtype {self._data.dtype}")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward."""
        self._retain = True

    def zero_(self) -> "Tensor":
        self._data[...] = 0
        return self

    def fill_(self, value: float) -> "Tensor":
        self._data[...] = value
        return self

    def copy_(self, src: Any) -> "Tensor":
        src_data = src._data if isinstance(src, Tensor) else src
        self._data[...] = src_data
        return self

    def to(self, dtype: Any = None) -> "Tensor":
        return self.type(dtype) if dtype is not None else self

    def type(self, dtype: Any) -> "Tensor":
        return _ew.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> "Tensor":
        return self.type(np.float32)

    def double(self) -> "Tensor":
        return self.type(np.float64)

    def long(self) -> "Tensor":
        return self.type(np.int64)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(backend.to_numpy(self._data), separator=", ", precision=4,
                               prefix="tensor(")
        dt = "" if self._data.dtype == backend.default_dtype() or self._data.dtype == np.int64 else \
            f", dtype={self._data.dtype}"
        return f"tensor({body}{dt}{grad})"

    # --- autograd ---------------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires it."""
        if not self.requires_grad:
            raise RuntimeError("backward(): tensor does not require grad and has no grad_fn")
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs, got shape "
                    f"{self.shape}; pass grad= of that shape")
            grad = backend.get_array_module(self._data).ones_like(self._data)
        else:
            grad = grad._data if isinstance(grad, Tensor) else grad
            if tuple(grad.shape) != self.shape:
                raise ValueError(f"backward(): grad shape {tuple(grad.shape)} differs from tensor shape "
                                 f"{self.shape}")
        topo = _toposort(self)
        grads: dict[int, Any] = {id(self): grad}
        for node in reversed(topo):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None or node._retain:
                _accumulate(node, g)
                if ctx is None:
                    continue
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
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg
            if not retain_graph:
                # Release what the op saved so memory is freed; a second backward is an error, as in PyTorch.
                ctx.__dict__.clear()
                ctx.released = True

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

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad and _grad_enabled:
            raise RuntimeError("in-place assignment to a tensor that requires grad is not supported; "
                               "use descend.where or build a new tensor")
        self._data[_index_arrays(index)] = value._data if isinstance(value, Tensor) else value

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


def _accumulate(leaf: Tensor, g: Any) -> None:
    """Add a gradient into `leaf.grad`; never in place, since arrays may be shared between leaves."""
    if not g.flags.c_contiguous:
        g = backend.get_array_module(g).ascontiguousarray(g)
    if leaf.grad is None:
        leaf.grad = Tensor(g)
    else:
        leaf.grad = Tensor(leaf.grad._data + g)


def _toposort(root: Tensor) -> list:
    """Tensors reachable from root, each after all tensors it depends on; iterative, so deep graphs work."""
    topo: list = []
    visited: set = set()
    stack: list = [(root, False)]
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
        if ctx is None:
            continue
        if ctx.parents is None:
            raise RuntimeError(
                "backward(): trying to go through the graph a second time (its saved values were freed); "
                "pass retain_graph=True to the first backward")
        for p in ctx.parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    return topo


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (floats default to float32)."""
    return Tensor(_as_array(data, dtype), requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """A tensor sharing memory with `data` where possible."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    if _is_array(data) and dtype is None:
        return Tensor(data)
    return tensor(data, dtype)


# The op modules import Function and Tensor from here, so they are imported after both exist.
from descend.ops import elementwise as _ew  # noqa: E402
from descend.ops import matmul as _mm  # noqa: E402
from descend.ops import movement as _mv  # noqa: E402
from descend.ops import reduce as _rd  # noqa: E402
from descend.ops import methods as _methods  # noqa: E402,F401  (binds the remaining Tensor methods)

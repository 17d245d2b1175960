"""Tensor, Function and reverse-mode autodiff: a topological sort and a reverse loop."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend import backend
from descend import dtypes as _dt
from descend.ops.errors import OpError, OpTypeError
from descend.ops.size import Size, as_size

_ND = np.ndarray
_grad_enabled = True
# The per-op callback Function.apply calls after every forward as (op class, output array, inputs): None, the
# one registered hook, or a dispatcher over several. Set only through descend.autograd.register_op_hook.
_anomaly_check = None
# In-place writes bump a global counter and stamp the tensor's version with it; an op records the counter when
# it is recorded, so backward can tell whether a tensor it saved was modified afterwards (PyTorch's check).
_epoch = 0
_rewritten = 0  # the epoch of the last in-place write that gave a tensor in a graph a new history
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
        t._grad = None
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


_function_dict = Function.__dict__
_plain_apply = _function_dict["apply"]


class ViewFunction(Function):
    """An op whose output may be a view of its first input's memory (reshape, permute, expand, basic indexing).

    When it is, the output is linked to its input: a view and the tensor owning the memory (`_base`, the end of
    the chain of links) share one version counter, and an in-place write through the view is recorded on the
    base (ops/inplace.py), as PyTorch's views do. The chain is walked only on the rare paths that need the base
    (in-place writes, version reads). A copy (reshape of a non-contiguous input) is an ordinary output.
    """

    @classmethod
    def apply(cls, a: Any, *args: Any, **kwargs: Any) -> "Tensor":
        """Function.apply for the one-tensor call these ops get, plus the view link; leaner than the general
        path, so that creating a view costs no more than before."""
        if args or not isinstance(a, Tensor) or _function_dict["apply"] is not _plain_apply:
            # the general path; also when Function.apply was replaced (op-recording instrumentation, tests)
            return Function.apply.__func__(cls, a, *args, **kwargs)
        ctx = cls.__new__(cls)
        mine = a._data
        out = ctx.forward(mine, **kwargs)
        if _anomaly_check is not None:
            _anomaly_check(cls, out, (a,))
        t = Tensor.__new__(Tensor)
        t._data = out
        t._grad = None
        t._retain = False
        owner = out.base
        if owner is not None and (owner is mine or owner is mine.base):
            t._vc = a  # a view's version cell is its input's (maybe a view too: _root_of walks the chain)
        if a.requires_grad and _grad_enabled:
            ctx.parents = (a,)
            if kwargs:
                ctx.kwargs = kwargs
            ctx.needs_input_grad = (True,)
            if _epoch:
                ctx._epoch = _epoch
            t.requires_grad = True
            t._ctx = ctx
            return t
        t.requires_grad = False
        t._ctx = None
        return t


def _root_of(t: "Tensor") -> "Tensor | None":
    """The tensor whose memory the view t shares (the end of its chain of views); None if t is not a view."""
    base = getattr(t, "_vc", None)
    if base is None or type(base) is list:
        return None
    while True:
        up = getattr(base, "_vc", None)
        if up is None or type(up) is list:
            return base
        base = up


def _as_array(data: Any, dtype: Any = None) -> Any:
    """An array from Python data, NumPy/CuPy arrays or a Tensor, with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dtype = np.dtype(dtype)
    xp = backend.get_array_module(data)
    if xp is np and not isinstance(data, np.ndarray) and not isinstance(data, np.generic):
        xp = backend.xp
        try:
            arr = xp.asarray(data, dtype=dtype)
        except ValueError as e:  # ragged nesting
            raise OpError(f"tensor(): cannot make a tensor of this {type(data).__name__} ({e})") from None
        if arr.dtype == object:
            raise OpTypeError(f"tensor(): could not infer the dtype of the elements of {data!r:.60}")
        # Python floats become the default dtype, as torch.tensor([1.0]) is float32 (complex: its complex twin).
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(backend.default_dtype())
        elif dtype is None and arr.dtype == np.complex128 and backend.default_dtype() != np.float64:
            arr = arr.astype(np.complex64)
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

    __slots__ = ("_data", "_grad", "requires_grad", "_ctx", "_retain", "_vc", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if dtype is None and isinstance(data, (list, tuple)):
            dtype = backend.default_dtype()  # torch.Tensor([1, 2]) is a float tensor (the legacy constructor)
        self._data = _as_array(data, dtype) if not _is_array(data) or dtype is not None else data
        self._grad: Tensor | None = None
        self._ctx: Function | None = None
        self._retain = False
        # _vc (the version cell) stays unset (read with _version_of) until an in-place write or detach() needs
        # it: then [stamp, count], shared with detached aliases (not with .data, as in PyTorch). On a view
        # (ViewFunction) it is instead the tensor viewed, whose cell the view shares.
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- basic properties -------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """This tensor's values as a tensor outside the graph, sharing memory (PyTorch's `.data`; as there, writes
        through it are not seen by the version check)."""
        return self._alias(share_version=False)

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else value
        if not _is_array(arr):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = arr

    def _alias(self, share_version: bool = True) -> "Tensor":
        """A new leaf over the same array; sharing the version cell, in-place writes through it are seen."""
        t = Tensor.__new__(Tensor)
        t._data = self._data
        t._grad = None
        t._ctx = None
        t._retain = False
        t.requires_grad = False
        if share_version:
            v = _version_of(self)
            if v is None:
                base = _root_of(self)
                v = (self if base is None else base)._vc = [0, 0]
            t._vc = v
        return t

    @property
    def _base(self) -> "Tensor | None":
        """The tensor whose memory this view shares (None when this tensor is not a view), as in PyTorch."""
        return _root_of(self)

    def _is_view(self) -> bool:
        return _root_of(self) is not None

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (PyTorch's version counter)."""
        v = _version_of(self)
        return 0 if v is None else v[1]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = backend.to_numpy(self._data)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    @property
    def shape(self) -> Size:
        return as_size(self._data.shape)

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
    def is_cpu(self) -> bool:
        return not backend.is_device_array(self._data)

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
        return as_size(self._data.shape) if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def __len__(self) -> int:
        return len(self._data)

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU; force=True: also when it requires grad)."""
        if self.requires_grad and not force:
            # PyTorch refuses here; we follow so code that ports behaves the same.
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy() instead")
        return backend.to_numpy(self._data)

    def item(self) -> Any:
        if self._data.size != 1:
            raise OpError(f"item(): only one-element tensors can be converted to Python scalars, got shape "
                          f"{self.shape} ({self._data.size} elements)")
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
            raise OpTypeError(f"only floating tensors can require gradients, got dtype {self.dtype} (PyTorch: "
                              f"only Tensors of floating point and complex dtype can require gradients)")
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
        _engine.run_backward([self], [gradient], bool(retain_graph), inputs)

    # --- operators ----------------------------------------------------------------------------------
    # + - * / ** @, unary - and abs() are bound with the other hot-path methods in ops/core_methods.py.
    def __getitem__(self, index: Any) -> "Tensor":
        return _mv.GetItem.apply(self, index=_index_arrays(index))

    # Comparisons (< <= > >= == != & | ~) are bound in ops/core_methods.py too.
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
from descend.ops import elementwise as _ew  # noqa: E402,F401  (imported before the modules using it)
from descend.ops import matmul as _mm  # noqa: E402,F401
from descend.ops import movement as _mv  # noqa: E402
from descend.ops import reduce as _rd  # noqa: E402
from descend.ops import core_methods as _core_methods  # noqa: E402,F401  (x + y, x.sum(), x.reshape(), ...)
from descend.ops import methods as _methods  # noqa: E402,F401  (binds the remaining Tensor methods)
from descend.ops import convert as _convert  # noqa: E402,F401  (to, float, cuda, ...)
# Grad modes and anomaly detection live in descend.autograd; re-exported here for the modules that import them
# from the engine.
from descend.autograd.anomaly import NonFiniteError, detect_anomaly, register_op_hook  # noqa: E402,F401
from descend.autograd.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: E402,F401
from descend.ops import inplace as _inplace  # noqa: E402,F401  (add_, __iadd__, __setitem__, ...)
from descend.autograd import engine as _engine  # noqa: E402  (the backward pass)
from descend.autograd.engine import _check_unmodified, _toposort, _version_of, run_backward  # noqa: E402,F401

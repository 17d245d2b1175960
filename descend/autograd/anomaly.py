"""Per-op hooks and anomaly detection: `register_op_hook` and `detect_anomaly`, which names the first op that
produced NaN or infinity, with its shapes and the user's source line."""

from __future__ import annotations

from typing import Any, Callable

from descend import backend
import sys

import descend._tensor as _t  # the module: its _epoch and hooks change at run time

from descend._tensor import Tensor

_op_hooks: list = []


def _dispatch(cls: type, out: Any, args: tuple) -> None:
    for hook in tuple(_op_hooks):
        hook(cls, out, args)


def _refresh_hooks() -> None:
    _t._anomaly_check = None if not _op_hooks else _op_hooks[0] if len(_op_hooks) == 1 else _dispatch


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
    """Context manager (`check_nan` as PyTorch's; False turns it off): raise at the first op whose output is non-finite while its inputs were finite.

    The error names the op, the input and output shapes, and the caller's source line outside descend.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> "detect_anomaly":
        self._handle = register_op_hook(_check_finite) if self.check_nan else None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._handle is not None:
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

    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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

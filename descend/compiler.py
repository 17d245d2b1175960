"""`descend.compile` and the speed switches PyTorch scripts set: descend runs eagerly (no graph compiler), so
`compile` returns the model or function it is given, which computes the same values, and the float32 matmul
precision is recorded (descend's float32 products are always full float32).

>>> import descend
>>> model = descend.nn.Linear(2, 1)
>>> descend.compile(model) is model
True
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["compile", "disable", "is_compiling", "set_float32_matmul_precision", "get_float32_matmul_precision"]

_precision = ["highest"]


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: bool | None = None, backend: Any = "inductor",
            mode: str | None = None, options: dict | None = None, disable: bool = False) -> Any:
    """The model (or function) itself, run eagerly; as a decorator factory when called without one."""
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError("compile: the model must be a callable (an nn.Module or a function)")
    return model


def disable(fn: Callable | None = None, recursive: bool = True) -> Any:
    """torch.compiler.disable: nothing is compiled here, so the function itself."""
    return (lambda f: f) if fn is None else fn


def is_compiling() -> bool:
    return False


def set_float32_matmul_precision(precision: str) -> None:
    """Recorded ("highest", "high" or "medium"); descend's float32 matmuls are full float32 whatever it is."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision value: {precision!r}; expected 'highest', 'high' or 'medium'")
    _precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _precision[0]

"""Comparisons, logical and bitwise ops and value tests: results outside the graph, as in PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops.errors import OpError
from descend._tensor import Tensor


def raw(x: Any) -> Any:
    """The array inside a Tensor, or x itself."""
    return x._data if isinstance(x, Tensor) else x


def _apply(op: str, fn: Any, *args: Any) -> Tensor:
    arrays = [raw(a) for a in args]
    try:
        out = fn(*arrays)
    except ValueError:
        shapes = " and ".join(str(tuple(np.shape(a))) for a in arrays)
        raise OpError(f"{op}: shapes {shapes} cannot be broadcast together") from None
    except TypeError as e:
        dtypes = " and ".join(str(getattr(a, "dtype", type(a).__name__)) for a in arrays)
        raise OpError(f"{op}: not defined for {dtypes} ({e})") from None
    return Tensor(get_array_module(out).asarray(out))


def _xp(*args: Any) -> Any:
    return get_array_module(*[raw(a) for a in args])


# ---- comparisons -----------------------------------------------------------------------------------------

def eq(input: Any, other: Any) -> Tensor:
    """input == other elementwise (bool)."""
    return _apply("eq", _xp(input, other).equal, input, other)


def ne(input: Any, other: Any) -> Tensor:
    """input != other elementwise (bool)."""
    return _apply("ne", _xp(input, other).not_equal, input, other)


def gt(input: Any, other: Any) -> Tensor:
    """input > other elementwise (bool)."""
    return _apply("gt", _xp(input, other).greater, input, other)


def ge(input: Any, other: Any) -> Tensor:
    """input >= other elementwise (bool)."""
    return _apply("ge", _xp(input, other).greater_equal, input, other)


def lt(input: Any, other: Any) -> Tensor:
    """input < other elementwise (bool)."""
    return _apply("lt", _xp(input, other).less, input, other)


def le(input: Any, other: Any) -> Tensor:
    """input <= other elementwise (bool)."""
    return _apply("le", _xp(input, other).less_equal, input, other)


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    a, b = raw(input), raw(other)
    return tuple(a.shape) == tuple(b.shape) and bool((a == b).all())


def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (bool)."""
    xp = _xp(input, other)
    return _apply("isclose", lambda a, b: xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan),
                  input, other)


def allclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether isclose holds everywhere."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


# ---- value tests -----------------------------------------------------------------------------------------

def isnan(input: Tensor) -> Tensor:
    return _apply("isnan", _xp(input).isnan, input)


def isinf(input: Tensor) -> Tensor:
    return _apply("isinf", _xp(input).isinf, input)


def isfinite(input: Tensor) -> Tensor:
    return _apply("isfinite", _xp(input).isfinite, input)


def isposinf(input: Tensor) -> Tensor:
    return _apply("isposinf", _xp(input).isposinf, input)


def isneginf(input: Tensor) -> Tensor:
    return _apply("isneginf", _xp(input).isneginf, input)


def signbit(input: Tensor) -> Tensor:
    return _apply("signbit", _xp(input).signbit, input)


# ---- logical (any dtype in, bool out) and bitwise (bool or integer, dtype kept) -------------------------

def logical_and(input: Any, other: Any) -> Tensor:
    return _apply("logical_and", _xp(input, other).logical_and, input, other)


def logical_or(input: Any, other: Any) -> Tensor:
    return _apply("logical_or", _xp(input, other).logical_or, input, other)


def logical_xor(input: Any, other: Any) -> Tensor:
    return _apply("logical_xor", _xp(input, other).logical_xor, input, other)


def logical_not(input: Tensor) -> Tensor:
    return _apply("logical_not", _xp(input).logical_not, input)


def _bitwise_check(op: str, *args: Any) -> None:
    for a in args:
        dt = getattr(raw(a), "dtype", None)
        if dt is not None and dt.kind not in "biu":
            raise OpError(f"{op}: only bool and integer tensors are supported, got dtype {dt}")
        if dt is None and isinstance(a, float):
            raise OpError(f"{op}: a float operand {a} is not supported; use bool or integer values")


def _bitwise(op: str, name: str, *args: Any) -> Tensor:
    _bitwise_check(op, *args)
    return _apply(op, getattr(_xp(*args), name), *args)


def bitwise_and(input: Any, other: Any) -> Tensor:
    return _bitwise("bitwise_and", "bitwise_and", input, other)


def bitwise_or(input: Any, other: Any) -> Tensor:
    return _bitwise("bitwise_or", "bitwise_or", input, other)


def bitwise_xor(input: Any, other: Any) -> Tensor:
    return _bitwise("bitwise_xor", "bitwise_xor", input, other)


def bitwise_not(input: Tensor) -> Tensor:
    return _bitwise("bitwise_not", "invert", input)


def bitwise_left_shift(input: Any, other: Any) -> Tensor:
    return _bitwise("bitwise_left_shift", "left_shift", input, other)


def bitwise_right_shift(input: Any, other: Any) -> Tensor:
    return _bitwise("bitwise_right_shift", "right_shift", input, other)

"""Two-argument pointwise maths: atan2, hypot, remainder and fmod, rounded division, clamp to tensor bounds,
nan_to_num, copysign, logaddexp and the NaN-ignoring fmax/fmin."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.backend import get_array_module
from descend.ops.elementwise import keep_where
from descend.ops.errors import OpError
from descend.ops.logic import _apply, _bitwise_check, raw
from descend._tensor import Function, Tensor


def _broadcasting(op: str, fn: Any, a: Any, b: Any) -> Any:
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(a, b)
    except ValueError:
        raise OpError(f"{op}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} cannot be broadcast "
                      "together") from None


def as_float(a: Any) -> Any:
    """a itself if floating (or a Python number), else a in the default float dtype (torch.sin(int) is float32)."""
    kind = getattr(getattr(a, "dtype", None), "kind", "f")
    return a if kind in "fc" else a.astype(backend.default_dtype())


class Atan2(Function):
    def forward(self, a, b):
        self.a, self.b = as_float(a), as_float(b)
        return _broadcasting("atan2", get_array_module(a, b).arctan2, self.a, self.b)

    def backward(self, g):
        a, b = self.a, self.b
        denom = a * a + b * b
        da, db = self.needs_input_grad
        return (g * b / denom if da else None), (-g * a / denom if db else None)


class Hypot(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = _broadcasting("hypot", get_array_module(a, b).hypot, a, b)
        return self.out

    def backward(self, g):
        da, db = self.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * self.a / self.out if da else None), (g * self.b / self.out if db else None)


class Remainder(Function):
    """a - floor(a / b) * b (Python's %, the sign of b); fmod=True gives C's fmod (the sign of a)."""

    def forward(self, a, b, fmod=False):
        xp = get_array_module(a, b)
        self.a, self.b, self.fmod = a, b, fmod
        return _broadcasting("fmod" if fmod else "remainder", xp.fmod if fmod else xp.remainder, a, b)

    def backward(self, g):
        xp = get_array_module(g)
        da, db = self.needs_input_grad
        gb = None
        if db:
            with np.errstate(divide="ignore", invalid="ignore"):
                q = self.a / self.b
            gb = -g * (xp.trunc(q) if self.fmod else xp.floor(q))
        return (g if da else None), gb


class RoundedDiv(Function):
    """a / b rounded toward zero ('trunc') or down ('floor'); piecewise constant, so zero gradient."""

    def forward(self, a, b, rounding_mode="floor"):
        xp = get_array_module(a, b)
        if rounding_mode not in ("trunc", "floor"):
            raise OpError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        ints = getattr(a, "dtype", np.dtype(np.int64)).kind in "iub" and \
            getattr(b, "dtype", np.dtype(np.int64)).kind in "iub" and \
            not isinstance(a, float) and not isinstance(b, float)
        if ints:
            if xp.any(xp.asarray(b) == 0):
                raise OpError("div: integer division by zero")
            q = _broadcasting("floor_divide", xp.floor_divide, a, b)
            if rounding_mode == "trunc":
                # floor and trunc differ where the division is inexact and the signs differ.
                q = q + ((q < 0) & (q * b != a))
            return xp.asarray(q)
        q = _broadcasting("div", xp.true_divide, a, b)
        return xp.asarray(xp.trunc(q) if rounding_mode == "trunc" else xp.floor(q))

    def backward(self, g):
        return get_array_module(g).zeros_like(g), None


class ClampTensor(Function):
    """clamp with tensor bounds: the input's gradient passes inside [min, max], each bound's where it binds."""

    def forward(self, a, lo, hi):
        xp = get_array_module(a, lo, hi)
        self.a, self.lo, self.hi = a, lo, hi
        out = a
        try:
            if lo is not None:
                out = xp.maximum(out, lo)
            if hi is not None:
                out = xp.minimum(out, hi)
        except ValueError:
            raise OpError(f"clamp: shapes {a.shape}, {np.shape(lo)} and {np.shape(hi)} cannot be broadcast "
                          "together") from None
        return out

    def backward(self, g):
        a, lo, hi = self.a, self.lo, self.hi
        inside = True
        if lo is not None:
            inside = a >= lo
        if hi is not None:
            inside = inside & (a <= hi)
        d_a, d_lo, d_hi = self.needs_input_grad
        g_lo = g_hi = None
        xp = get_array_module(g)
        # PyTorch's rule: with both bounds and min > max, the result is max and max takes the gradient.
        if d_lo:
            take = a < lo
            g_lo = keep_where(g, xp.broadcast_to(take & (lo < hi) if hi is not None else take, g.shape))
        if d_hi:
            take = a > hi
            g_hi = keep_where(g, xp.broadcast_to(take | (hi < lo) if lo is not None else take, g.shape))
        return (keep_where(g, xp.broadcast_to(inside, g.shape)) if d_a else None), g_lo, g_hi


class NanToNum(Function):
    def forward(self, a, nan=0.0, posinf=None, neginf=None):
        xp = get_array_module(a)
        self.finite = xp.isfinite(a)
        return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):
        return g * self.finite


class CopySign(Function):
    """|a| with the sign of b; the gradient flows to a only (0 where a == 0), as in PyTorch."""

    def forward(self, a, b):
        a = as_float(a)
        self.a = a
        self.out = _broadcasting("copysign", get_array_module(a, b).copysign, a, b)
        return self.out

    def backward(self, g):
        xp = get_array_module(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = xp.where(self.a == 0, 0.0, self.out / self.a)
        return g * ratio, None


class LogAddExp(Function):
    """log(exp(a) + exp(b)) without overflow (base 2 with base2=True)."""

    def forward(self, a, b, base2=False):
        xp = get_array_module(a, b)
        self.a, self.b, self.base2 = a, b, base2
        return _broadcasting("logaddexp", xp.logaddexp2 if base2 else xp.logaddexp, a, b)

    def backward(self, g):
        xp = get_array_module(g)
        d = (self.a - self.b) * (_LN2 if self.base2 else 1.0)
        with np.errstate(over="ignore"):
            wa = 1 / (1 + xp.exp(-d))
        da, db = self.needs_input_grad
        return (g * wa if da else None), (g * (1 - wa) if db else None)


class FMax(Function):
    """max/min ignoring NaN (fmax/fmin); ties and NaN-free picks send the gradient to the first input."""

    def forward(self, a, b, sign=1):
        xp = get_array_module(a, b)
        self.a, self.b, self.sign = a, b, sign
        return _broadcasting("fmax" if sign > 0 else "fmin", xp.fmax if sign > 0 else xp.fmin, a, b)

    def backward(self, g):
        xp = get_array_module(g)
        a, b = self.a, self.b
        take_a = ((a >= b) if self.sign > 0 else (a <= b)) | xp.isnan(b)
        da, db = self.needs_input_grad
        return (g * take_a if da else None), (g * ~take_a if db else None)


# ---- the public functions ------------------------------------------------------------------------------

def copysign(input: Any, other: Any) -> Any:
    """|input| with the sign of other."""
    return CopySign.apply(input, other)


def logaddexp(input: Any, other: Any) -> Any:
    """log(exp(input) + exp(other))."""
    return LogAddExp.apply(input, other)


def logaddexp2(input: Any, other: Any) -> Any:
    """log2(2^input + 2^other)."""
    return LogAddExp.apply(input, other, base2=True)


def fmax(input: Any, other: Any) -> Any:
    """Elementwise maximum that ignores NaN (NaN only where both are)."""
    return FMax.apply(input, other)


def fmin(input: Any, other: Any) -> Any:
    """Elementwise minimum that ignores NaN."""
    return FMax.apply(input, other, sign=-1)


_LN2 = math.log(2.0)


def heaviside(input: Any, values: Any) -> Any:
    """0 where input < 0, 1 where input > 0, values where input == 0 (no gradient)."""
    a, v = raw(input), raw(values)
    xp = get_array_module(a, v)
    return Tensor(xp.asarray(xp.heaviside(a, v)))


def gcd(input: Any, other: Any) -> Any:
    """Greatest common divisor of integer tensors."""
    _bitwise_check("gcd", input, other)
    return _apply("gcd", get_array_module(raw(input), raw(other)).gcd, input, other)


def lcm(input: Any, other: Any) -> Any:
    """Least common multiple of integer tensors."""
    _bitwise_check("lcm", input, other)
    return _apply("lcm", get_array_module(raw(input), raw(other)).lcm, input, other)


def ldexp(input: Any, other: Any) -> Any:
    """input * 2 ** other."""
    return input * (2.0 ** other)

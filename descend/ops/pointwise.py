"""Pointwise maths beyond the basics: trigonometric, logarithmic, rounding and two-argument functions.

Each op keeps its input and output and names its local derivative; integer and bool inputs are computed in
the default float dtype, as PyTorch does for these functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.backend import get_array_module
from descend.ops.errors import OpError
from descend.tensor import Function


def as_float(a: Any) -> Any:
    """a itself if floating (or a Python number), else a in the default float dtype (torch.sin(int) is float32)."""
    kind = getattr(getattr(a, "dtype", None), "kind", "f")
    return a if kind in "fc" else a.astype(backend.default_dtype())


class _Unary:
    """Mixin of the smooth unary Functions: `f` computes the value, `df` the derivative at (a, out)."""

    def forward(self, a):
        a = as_float(a)
        xp = get_array_module(a)
        self.a = a
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self.out = xp.asarray(self.f(xp, a))
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return g * self.df(get_array_module(g), self.a, self.out)


class Sin(_Unary, Function):
    def f(self, xp, a):
        return xp.sin(a)

    def df(self, xp, a, out):
        return xp.cos(a)


class Cos(_Unary, Function):
    def f(self, xp, a):
        return xp.cos(a)

    def df(self, xp, a, out):
        return -xp.sin(a)


class Tan(_Unary, Function):
    def f(self, xp, a):
        return xp.tan(a)

    def df(self, xp, a, out):
        return 1 + out * out


class Asin(_Unary, Function):
    def f(self, xp, a):
        return xp.arcsin(a)

    def df(self, xp, a, out):
        return 1 / xp.sqrt(1 - a * a)


class Acos(_Unary, Function):
    def f(self, xp, a):
        return xp.arccos(a)

    def df(self, xp, a, out):
        return -1 / xp.sqrt(1 - a * a)


class Atan(_Unary, Function):
    def f(self, xp, a):
        return xp.arctan(a)

    def df(self, xp, a, out):
        return 1 / (1 + a * a)


class Sinh(_Unary, Function):
    def f(self, xp, a):
        return xp.sinh(a)

    def df(self, xp, a, out):
        return xp.cosh(a)


class Cosh(_Unary, Function):
    def f(self, xp, a):
        return xp.cosh(a)

    def df(self, xp, a, out):
        return xp.sinh(a)


class Asinh(_Unary, Function):
    def f(self, xp, a):
        return xp.arcsinh(a)

    def df(self, xp, a, out):
        return 1 / xp.sqrt(a * a + 1)


class Acosh(_Unary, Function):
    def f(self, xp, a):
        return xp.arccosh(a)

    def df(self, xp, a, out):
        return 1 / xp.sqrt(a * a - 1)


class Atanh(_Unary, Function):
    def f(self, xp, a):
        return xp.arctanh(a)

    def df(self, xp, a, out):
        return 1 / (1 - a * a)


class Rsqrt(_Unary, Function):
    def f(self, xp, a):
        return 1 / xp.sqrt(a)

    def df(self, xp, a, out):
        return -0.5 * out * out * out


class Reciprocal(_Unary, Function):
    def f(self, xp, a):
        return 1 / a

    def df(self, xp, a, out):
        return -out * out


class Log1p(_Unary, Function):
    def f(self, xp, a):
        return xp.log1p(a)

    def df(self, xp, a, out):
        return 1 / (1 + a)


class Expm1(_Unary, Function):
    def f(self, xp, a):
        return xp.expm1(a)

    def df(self, xp, a, out):
        return out + 1


class Log2(_Unary, Function):
    def f(self, xp, a):
        return xp.log2(a)

    def df(self, xp, a, out):
        return 1 / (a * _LN2)


class Log10(_Unary, Function):
    def f(self, xp, a):
        return xp.log10(a)

    def df(self, xp, a, out):
        return 1 / (a * _LN10)


class Exp2(_Unary, Function):
    def f(self, xp, a):
        return xp.exp2(a)

    def df(self, xp, a, out):
        return out * _LN2


class Frac(_Unary, Function):
    def f(self, xp, a):
        return a - xp.trunc(a)

    def df(self, xp, a, out):
        return 1


class Step(Function):
    """Piecewise-constant functions (floor, ceil, round, trunc, sign, rounded division): zero gradient.

    Integer inputs keep their dtype (floor of an int tensor is itself), as in PyTorch.
    """

    def forward(self, a, fn=None):
        return get_array_module(a).asarray(fn(a))

    def backward(self, g):
        return get_array_module(g).zeros_like(g)


def _round(decimals: int) -> Any:
    def fn(a):
        xp = get_array_module(a)
        if a.dtype.kind not in "fc":
            return a.copy()
        return xp.round(a, decimals)
    return fn


def _sign(a: Any) -> Any:
    xp = get_array_module(a)
    return a.copy() if a.dtype == np.bool_ else xp.sign(a)


def _keep_int(name: str) -> Any:
    def fn(a):
        return a.copy() if a.dtype.kind not in "fc" else getattr(get_array_module(a), name)(a)
    return fn


STEP_FNS = {"floor": _keep_int("floor"), "ceil": _keep_int("ceil"), "trunc": _keep_int("trunc"),
            "sign": _sign}


def step(name: str, decimals: int = 0) -> Any:
    """The forward function of a Step op by name."""
    return _round(decimals) if name == "round" else STEP_FNS[name]


# ---- two arguments -------------------------------------------------------------------------------------

def _broadcasting(op: str, fn: Any, a: Any, b: Any) -> Any:
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(a, b)
    except ValueError:
        raise OpError(f"{op}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} cannot be broadcast "
                      "together") from None


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
        # PyTorch's rule: with both bounds and min > max, the result is max and max takes the gradient.
        if d_lo:
            take = a < lo
            g_lo = g * (take & (lo < hi) if hi is not None else take)
        if d_hi:
            take = a > hi
            g_hi = g * (take | (hi < lo) if lo is not None else take)
        return (g * inside if d_a else None), g_lo, g_hi


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


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)



# ---- the public functions for the ops above that api.py does not wrap itself ------------------------------


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


def deg2rad(input: Any) -> Any:
    return as_float_tensor(input) * (math.pi / 180)


def rad2deg(input: Any) -> Any:
    return as_float_tensor(input) * (180 / math.pi)


def as_float_tensor(t: Any) -> Any:
    """t in the default float dtype if it is an integer or bool tensor."""
    return t if t._data.dtype.kind in "fc" else t.to(backend.default_dtype())

"""Unary pointwise maths beyond the basics: trigonometric, logarithmic and rounding functions.

Each op keeps its input and output and names its local derivative; integer and bool inputs are computed in
the default float dtype, as PyTorch does for these functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.backend import get_array_module
# The two-argument ops live in binary.py; their names stay reachable here too (the create_graph rules in
# descend/autograd/rules_ops.py look them up on this module).
from descend.ops.binary import (Atan2, ClampTensor, CopySign, FMax, Hypot, LogAddExp, NanToNum,  # noqa: F401
                                Remainder, RoundedDiv, as_float)
from descend._tensor import Function


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


class Sinc(_Unary, Function):
    def f(self, xp, a):
        return xp.sinc(a)

    def df(self, xp, a, out):
        # (cos(pi x) - sinc(x)) / x, whose limit at 0 is 0.
        safe = xp.where(a == 0, 1, a)
        return xp.where(a == 0, 0, (xp.cos(math.pi * a) - out) / safe)


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
    if a.dtype == np.bool_:
        return a.copy()
    out = xp.sign(a)
    return xp.where(xp.isnan(out), 0, out).astype(out.dtype) if a.dtype.kind == "f" else out  # sign(nan) = 0


def _keep_int(name: str) -> Any:
    def fn(a):
        return a.copy() if a.dtype.kind not in "fc" else getattr(get_array_module(a), name)(a)
    return fn


STEP_FNS = {"floor": _keep_int("floor"), "ceil": _keep_int("ceil"), "trunc": _keep_int("trunc"),
            "sign": _sign}


def step(name: str, decimals: int = 0) -> Any:
    """The forward function of a Step op by name."""
    return _round(decimals) if name == "round" else STEP_FNS[name]


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# ---- the public functions ------------------------------------------------------------------------------

def sin(input: Any) -> Any:
    return Sin.apply(input)


def cos(input: Any) -> Any:
    return Cos.apply(input)


def tan(input: Any) -> Any:
    return Tan.apply(input)


def asin(input: Any) -> Any:
    return Asin.apply(input)


def acos(input: Any) -> Any:
    return Acos.apply(input)


def atan(input: Any) -> Any:
    return Atan.apply(input)


def sinh(input: Any) -> Any:
    return Sinh.apply(input)


def cosh(input: Any) -> Any:
    return Cosh.apply(input)


def asinh(input: Any) -> Any:
    return Asinh.apply(input)


def acosh(input: Any) -> Any:
    return Acosh.apply(input)


def atanh(input: Any) -> Any:
    return Atanh.apply(input)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def sinc(input: Any) -> Any:
    """sin(pi x) / (pi x), and 1 at 0."""
    return Sinc.apply(input)


def rsqrt(input: Any) -> Any:
    """1 / sqrt(input)."""
    return Rsqrt.apply(input)


def reciprocal(input: Any) -> Any:
    """1 / input."""
    return Reciprocal.apply(input)


def log1p(input: Any) -> Any:
    """log(1 + input), accurate for small input."""
    return Log1p.apply(input)


def expm1(input: Any) -> Any:
    """exp(input) - 1, accurate for small input."""
    return Expm1.apply(input)


def log2(input: Any) -> Any:
    return Log2.apply(input)


def log10(input: Any) -> Any:
    return Log10.apply(input)


def exp2(input: Any) -> Any:
    return Exp2.apply(input)


def frac(input: Any) -> Any:
    """input - trunc(input)."""
    return Frac.apply(input)


def floor(input: Any) -> Any:
    return Step.apply(input, fn=step("floor"))


def ceil(input: Any) -> Any:
    return Step.apply(input, fn=step("ceil"))


def trunc(input: Any) -> Any:
    return Step.apply(input, fn=step("trunc"))


fix = trunc


def round(input: Any, *, decimals: int = 0) -> Any:  # noqa: A001
    """Round half to even, to `decimals` decimal places."""
    return Step.apply(input, fn=step("round", decimals))


def sign(input: Any) -> Any:
    """-1, 0 or 1 by the sign of each element (zero gradient)."""
    return Step.apply(input, fn=step("sign"))


sgn = sign


def deg2rad(input: Any) -> Any:
    return as_float_tensor(input) * (math.pi / 180)


def rad2deg(input: Any) -> Any:
    return as_float_tensor(input) * (180 / math.pi)


def as_float_tensor(t: Any) -> Any:
    """t in the default float dtype if it is an integer or bool tensor."""
    return t if t._data.dtype.kind in "fc" else t.to(backend.default_dtype())

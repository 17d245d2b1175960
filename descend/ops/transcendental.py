"""Special functions with gradients: erfc, erfinv, lgamma, digamma (and trigamma for its gradient), logit.

NumPy has none of these beyond what math offers per element, so the array versions are written here: erfinv
by a rational approximation refined by Newton steps on erf, digamma and trigamma by recurrence to x >= 6 and
their asymptotic series (reflection for x < 0.5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops.pointwise import _Unary
from descend.ops.special import erf
from descend._tensor import Function


class Erfc(_Unary, Function):
    def f(self, xp, a):
        return 1 - erf(a)

    def df(self, xp, a, out):
        return -_TWO_OVER_SQRT_PI * xp.exp(-a * a)


class Erfinv(_Unary, Function):
    def f(self, xp, a):
        return erfinv_array(a)

    def df(self, xp, a, out):
        return _SQRT_PI / 2 * xp.exp(out * out)


class Lgamma(_Unary, Function):
    def f(self, xp, a):
        return _LGAMMA(a).astype(a.dtype)

    def df(self, xp, a, out):
        return digamma_array(a)


class Digamma(_Unary, Function):
    def f(self, xp, a):
        return digamma_array(a)

    def df(self, xp, a, out):
        return trigamma_array(a)


class Logit(_Unary, Function):
    def f(self, xp, a):
        return xp.log(a / (1 - a))

    def df(self, xp, a, out):
        return 1 / (a * (1 - a))


def erfinv_array(y: Any) -> Any:
    """The inverse error function on arrays: Giles' single-precision approximation, then two Newton steps on erf."""
    xp = get_array_module(y)
    y64 = y.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -xp.log((1 - y64) * (1 + y64))
        small = w < 5
        ws, wl = w - 2.5, xp.sqrt(w) - 3
        ps = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                         -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], ws)
        pl = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                         -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], wl)
        x = xp.where(small, ps, pl) * y64
        for _ in range(2):
            x = x - (erf(x) - y64) / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
        x = xp.where(xp.abs(y64) == 1, xp.sign(y64) * np.inf, x)
    return x.astype(y.dtype)


_LGAMMA = np.frompyfunc(lambda v: math.lgamma(v) if v > 0 or v != math.floor(v) else math.inf, 1, 1)


def _shifted(x: Any, terms: Any) -> tuple:
    """x moved up by recurrence until x >= 6 (where the asymptotic series is accurate), and the sum of terms."""
    xp = get_array_module(x)
    x = x.astype(np.float64)
    acc = xp.zeros_like(x)
    for _ in range(6):
        low = x < 6
        acc = acc + xp.where(low, terms(xp.where(low, x, 1.0)), 0.0)
        x = xp.where(low, x + 1, x)
    return x, acc


def digamma_array(a: Any) -> Any:
    """psi(x) = d/dx log Gamma(x), by recurrence and the asymptotic series; reflection for x < 0.5."""
    xp = get_array_module(a)
    x = a.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflect = x < 0.5
        z = xp.where(reflect, 1 - x, x)
        z, acc = _shifted(z, lambda v: -1 / v)
        r = 1 / (z * z)
        series = xp.log(z) - 0.5 / z - r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r / 132))))
        out = series + acc
        out = xp.where(reflect, out - np.pi / xp.tan(np.pi * x), out)
        out = xp.where((x < 0) & (x == xp.floor(x)), np.nan, out)  # poles at the negative integers
        out = xp.where(x == 0, -np.inf, out)  # PyTorch's value at the pole at 0
    return out.astype(a.dtype)


def trigamma_array(a: Any) -> Any:
    """psi'(x), by recurrence and the asymptotic series; reflection for x < 0.5."""
    xp = get_array_module(a)
    x = a.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflect = x < 0.5
        z = xp.where(reflect, 1 - x, x)
        z, acc = _shifted(z, lambda v: 1 / (v * v))
        r = 1 / (z * z)
        series = 1 / z + r / 2 + r / z * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r / 30)))
        out = series + acc
        out = xp.where(reflect, -out + (np.pi / xp.sin(np.pi * x)) ** 2, out)
    return out.astype(a.dtype)


_BERNOULLI_2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def polygamma_array(n: int, a: Any) -> Any:
    """psi^(n)(x) for n >= 1: the recurrence psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1) n! / x^(n+1) moves x up to
    >= 12 (any non-integer x, negative too), then the asymptotic series with Bernoulli numbers."""
    xp = get_array_module(a)
    x = a.astype(np.float64)
    sign, fact = (-1.0) ** (n + 1), float(math.factorial(n))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        steps = np.maximum(0, np.ceil(12 - np.min(x, initial=12))).astype(int) if x.size else 0
        acc = xp.zeros_like(x)
        z = x.copy()
        for _ in range(int(steps)):
            low = z < 12
            acc = acc + xp.where(low, 1 / xp.where(low, z, 1.0) ** (n + 1), 0.0)
            z = xp.where(low, z + 1, z)
        series = math.factorial(n - 1) / z ** n + fact / (2 * z ** (n + 1))
        for k, b in enumerate(_BERNOULLI_2K, start=1):
            series = series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / z ** (2 * k + n)
        out = sign * (series + fact * acc)
        out = xp.where((x <= 0) & (x == xp.floor(x)), np.nan, out)  # poles at 0 and the negative integers
    return out.astype(a.dtype)


class Polygamma(Function):
    """psi^(n) for n >= 1; its derivative is psi^(n+1), so every order of gradient exists."""

    def forward(self, a, n=1):
        if int(n) != n or n < 1:
            raise ValueError(f"polygamma: n must be an integer >= 1 here (n = 0 is digamma), got {n}")
        self.a, self.n = a, int(n)
        return polygamma_array(self.n, a)

    def backward(self, g):
        return g * polygamma_array(self.n + 1, self.a)


# ---- the public functions ------------------------------------------------------------------------------

def polygamma(n: int, input: Any) -> Any:
    """The n-th derivative of digamma (n = 0: digamma itself), as torch.polygamma."""
    if n == 0:
        return Digamma.apply(input)
    return Polygamma.apply(input, n=n)


def erfc(input: Any) -> Any:
    """1 - erf(input), accurate where erf is close to 1."""
    return Erfc.apply(input)


def erfinv(input: Any) -> Any:
    """The inverse error function."""
    return Erfinv.apply(input)


def lgamma(input: Any) -> Any:
    """log |Gamma(input)|."""
    return Lgamma.apply(input)


def logit(input: Any, eps: float | None = None) -> Any:
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    if eps is not None:
        input = input.clamp(eps, 1 - eps)
    return Logit.apply(input)



_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2 / _SQRT_PI

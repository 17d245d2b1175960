"""Elementwise ops: forward and local derivative side by side. Broadcasting is undone by the engine."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import dtypes as _dt
from descend.backend import default_dtype, get_array_module
from descend.ops import kernels
from descend.ops.errors import OpError, OpTypeError
from descend.ops.constants import zeros_as
from descend.ops.special import erf
from descend._tensor import Function, Tensor


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


_ND = np.ndarray
_PY = (float, int, bool)


def _promote(a: Any, b: Any) -> tuple:
    """a, b in the dtype PyTorch computes a binary op in, where NumPy's promotion would differ (int tensor *
    Python float, float32 tensor + float64 0-d tensor, NumPy scalars, ...); the common cases pass untouched."""
    ta, tb = type(a), type(b)
    if ta is _ND:
        if tb is _ND:
            if a.dtype is b.dtype:
                return a, b
        elif tb in _PY and a.dtype.kind in "fc":
            return a, b
    elif tb is _ND and ta in _PY and b.dtype.kind in "fc":
        return a, b
    return _dt.promote_pair(a, b, _dt.of(default_dtype()))


def _integral(x: Any) -> bool:
    d = getattr(x, "dtype", None)
    return d.kind in "biu" if d is not None else isinstance(x, int)


def keep_where(g: Any, keep: Any, blocked: bool = False) -> Any:
    """g where `keep` (a boolean array of g's shape; with blocked=True, where it is False), +0 elsewhere:
    PyTorch's where()-based gradients of relu, clamp and maximum, so an inf or NaN g where the gradient is
    blocked gives 0 (sqrt(relu(x)) stays finite), where a product with the mask would give NaN. Done as a
    bitwise AND with an all-ones/zeros mask: a pass or two more than a product, and layout-preserving (where()
    with a scalar runs ~15x slower here)."""
    xp = get_array_module(g)
    if g.dtype.kind != "f" or getattr(keep, "shape", None) != g.shape:
        return xp.where(keep, g.dtype.type(0), g) if blocked else xp.where(keep, g, g.dtype.type(0))
    ints = np.dtype(f"i{g.dtype.itemsize}")
    bits = xp.asarray(keep).view(np.int8).astype(ints)  # (a 0-d comparison gives a NumPy scalar)
    if blocked:
        bits -= 1  # 1 (blocked) -> 0, 0 -> all bits set
    else:
        xp.negative(bits, out=bits)  # 1 -> all bits set
    xp.bitwise_and(g.view(ints), bits, out=bits)
    return bits.view(g.dtype)


def _binary(op: str, fn: Any, a: Any, b: Any) -> Any:
    """Apply a broadcasting binary function, naming the op and both shapes when they don't broadcast."""
    a, b = _promote(a, b)
    try:
        return fn(a, b)
    except ValueError:
        raise OpError(f"{op}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together") from None
    except TypeError as e:  # e.g. bool - bool, which PyTorch refuses too
        raise OpTypeError(f"{op}: {e}") from None


# ---- binary --------------------------------------------------------------------------------------------

class Add(Function):
    def forward(self, a, b):
        return _binary("add", np.add, a, b)

    def backward(self, g):
        return g, g


def refuse_bool_subtraction(*operands: Any) -> None:
    """PyTorch refuses `-` with a bool tensor (or a Python bool beside a tensor); NumPy bool arrays it converts."""
    if any(type(v) is bool or (isinstance(v, Tensor) and v._data.dtype == np.bool_) for v in operands):
        raise OpError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                      "invert a mask, use the `~` or `logical_not()` operator instead.")


class Sub(Function):
    @classmethod
    def apply(cls, a: Any, b: Any, **kwargs: Any) -> Any:
        refuse_bool_subtraction(a, b)
        return super().apply(a, b, **kwargs)

    def forward(self, a, b):
        return _binary("sub", np.subtract, a, b)

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    _saved_for = {"a": 1, "b": 0}  # a is read only for b's gradient, b only for a's (autograd.engine)

    def forward(self, a, b):
        self.a, self.b = a, b
        return _binary("mul", np.multiply, a, b)

    def backward(self, g):
        da, db = self.needs_input_grad
        return (g * self.b if da else None), (g * self.a if db else None)


class Div(Function):
    _saved_for = {"a": 1}  # a is read only for b's gradient (autograd.engine)

    def forward(self, a, b):
        a, b = _promote(a, b)
        if _integral(a) and _integral(b):
            a = np.asarray(a).astype(default_dtype()) if type(a) is not _ND else a.astype(default_dtype())  # true division of integers gives the default float, as in PyTorch
        self.a, self.b = a, b
        return _binary("div", np.true_divide, a, b)

    def backward(self, g):
        da, db = self.needs_input_grad
        ga = g / self.b if da else None
        gb = -g * self.a / (self.b * self.b) if db else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = _binary("pow", np.power, a, b)
        return self.out

    def backward(self, g):
        da, db = self.needs_input_grad
        a, b = self.a, self.b
        ga = gb = None
        if da:
            if isinstance(b, (int, float)) and b == 2:
                ga = g * 2 * a
            else:
                ga = g * b * a ** (b - 1)
        if db:
            xp = get_array_module(g)
            # d(a^b)/db = a^b ln a; PyTorch defines it as 0 where a == 0 and b >= 0 (the limit).
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * self.out * xp.log(a)
            gb = xp.where((xp.asarray(a) == 0) & (xp.asarray(b) >= 0), 0, gb).astype(gb.dtype)
        return ga, gb


class Maximum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return _binary("maximum", np.maximum, a, b)

    def backward(self, g):
        return _split(g, self.a, self.b, True, self.needs_input_grad)


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return _binary("minimum", np.minimum, a, b)

    def backward(self, g):
        return _split(g, self.a, self.b, False, self.needs_input_grad)


def _split(g: Any, a: Any, b: Any, is_max: bool, needs: tuple) -> tuple:
    """maximum/minimum's gradients, PyTorch's rule: ties split g evenly, the losing side gets 0 (even for an
    inf or NaN g), and where either is NaN both get g."""
    xp = get_array_module(g)
    a, b = xp.broadcast_to(a, g.shape), xp.broadcast_to(b, g.shape)
    tie = a == b
    base = xp.where(tie, g * g.dtype.type(0.5), g) if tie.any() else g
    a_loses, b_loses = ((a < b), (a > b)) if is_max else ((a > b), (a < b))
    da, db = needs
    return (keep_where(base, ~a_loses) if da else None), (keep_where(base, ~b_loses) if db else None)


class Where(Function):
    def forward(self, cond, a, b):
        xp = get_array_module(cond, a, b)
        self.cond = cond
        a, b = _promote(a, b)
        try:
            return xp.where(cond, a, b)
        except ValueError:
            raise OpError(f"where: shapes {_shape(cond)}, {_shape(a)} and {_shape(b)} cannot be "
                             "broadcast together") from None

    def backward(self, g):
        xp = get_array_module(g)
        _, da, db = self.needs_input_grad
        zero = xp.zeros((), dtype=g.dtype)
        ga = xp.where(self.cond, g, zero) if da else None
        gb = xp.where(self.cond, zero, g) if db else None
        return None, ga, gb


# ---- unary ---------------------------------------------------------------------------------------------

class Neg(Function):
    def forward(self, a):
        if getattr(a, "dtype", None) == np.bool_:
            raise OpTypeError("neg: negation, the `-` operator, on a bool tensor is not supported; use ~ or "
                              "logical_not() instead")
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    def forward(self, a):
        if a.dtype.kind not in "fc":  # int/bool in: the default float out, as PyTorch (inline: hot path)
            a = a.astype(default_dtype())
        self.out = get_array_module(a).exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        if a.dtype.kind not in "fc":
            a = a.astype(default_dtype())
        self.a = a
        return get_array_module(a).log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        if a.dtype.kind not in "fc":  # int/bool in: the default float out, as PyTorch (inline: hot path)
            a = a.astype(default_dtype())
        self.out = get_array_module(a).sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return get_array_module(a).abs(a)

    def backward(self, g):
        return g * get_array_module(g).sign(self.a)


class Clamp(Function):
    def forward(self, a, lo=None, hi=None):
        if lo is None and hi is None:
            raise OpError("clamp: at least one of min and max must be given")
        self.a, self.lo, self.hi = a, lo, hi
        return get_array_module(a).clip(a, lo, hi)

    def backward(self, g):
        # The gradient passes where the input lies inside [min, max], bounds included (PyTorch's choice).
        mask = True
        if self.lo is not None:
            mask = self.a >= self.lo
        if self.hi is not None:
            mask = mask & (self.a <= self.hi)
        return keep_where(g, get_array_module(g).broadcast_to(mask, g.shape))


class Cast(Function):
    def forward(self, a, dtype=None):
        self.src = a.dtype
        return a.astype(dtype, copy=False)

    def backward(self, g):
        return g.astype(self.src, copy=False)


# ---- activations ---------------------------------------------------------------------------------------

def _flat_like(g, y):
    """(gradient out, flat g, flat y, flat gradient out) for an elementwise kernel over y's memory layout, or
    None if y is not dense. A g in another layout (e.g. a slice of a padded buffer) is copied into y's layout
    first. (Never pass the copy as the output too: with input and output aliased the compiled loop ran 40x
    slower, measured.)"""
    gx = np.empty_like(y)
    flats = kernels.dense_flat(g, y, gx)
    if flats is None:
        g_copy = np.empty_like(y)
        flats = kernels.dense_flat(g_copy, y, gx)
        if flats is None:
            return None
        np.copyto(g_copy, g)
    return [gx] + flats


class ReLU(Function):
    def forward(self, a):
        xp = get_array_module(a)
        compiled = kernels.get("relu", a)
        if compiled is not None:
            out = np.empty_like(a)
            flats = kernels.dense_flat(a, out)  # None for a layout empty_like does not reproduce (x[None])
            if flats is not None:
                compiled(*flats)
                self.out = out
                return out
        self.out = xp.maximum(a, zeros_as(a)) if a.ndim and a.dtype.kind == "f" else xp.maximum(a, 0)
        return self.out

    def backward(self, g):
        kernel = kernels.get("relu_backward", g, self.out) if g.dtype == self.out.dtype else None
        if kernel is not None:
            flats = _flat_like(g, self.out)
            if flats is not None:  # one compiled pass instead of a mask pass and a product pass
                kernel(*flats[1:])
                return flats[0]
        # PyTorch's threshold_backward passes g where the output is not <= 0 (a NaN output included).
        return keep_where(g, self.out <= 0, blocked=True)


class LeakyReLU(Function):
    def forward(self, a, negative_slope=0.01):
        xp = get_array_module(a)
        self.slope, self.a = negative_slope, None
        compiled = kernels.get("leaky_relu", a) if a.dtype.kind == "f" and negative_slope >= 0 else None
        if compiled is not None:
            out = xp.empty_like(a)
            flats = kernels.dense_flat(a, out)
            if flats is not None:  # one pass; backward reads the input's sign, the input being saved as in PyTorch
                compiled(flats[0], a.dtype.type(negative_slope), flats[1])
                self.a = a
                return out
        if a.ndim and a.dtype.kind == "f" and 0 < negative_slope <= 1:
            # max(a, slope * a) and a {slope, 1} scale for backward: ufuncs keep a channels-last input's
            # layout (where() returns C order) and run 20x faster than where() or a masked copy on it.
            # (Not for slope 0: +inf * 0 would be NaN where PyTorch gives inf.)
            self.scale = (a > 0).astype(a.dtype)
            xp.maximum(self.scale, a.dtype.type(negative_slope), out=self.scale)
            out = a * a.dtype.type(negative_slope)
            return xp.maximum(out, a, out=out)
        self.scale, self.pos = None, a > 0
        return xp.where(self.pos, a, a * negative_slope)

    def backward(self, g):
        if self.a is not None:  # the compiled forward ran
            compiled = kernels.get("leaky_relu_backward", self.a) if g.dtype == self.a.dtype else None
            flats = _flat_like(g, self.a) if compiled is not None else None
            if flats is not None:
                gx, gf, af, outf = flats
                compiled(gf, af, g.dtype.type(self.slope), outf)
                return gx
            return get_array_module(g).where(self.a > 0, g, g * self.slope)
        if self.scale is not None:
            return g * self.scale
        return get_array_module(g).where(self.pos, g, g * self.slope)


class Sigmoid(Function):
    def forward(self, a):
        if a.dtype.kind not in "fc":  # int/bool in: the default float out, as PyTorch (inline: hot path)
            a = a.astype(default_dtype())
        xp = get_array_module(a)
        # 1 / (1 + exp(-x)) is accurate everywhere; for x < -88 (float32) exp overflows to inf and the
        # result is the correct 0, so only the warning needs silencing.
        with np.errstate(over="ignore"):
            self.out = 1 / (1 + xp.exp(-a))
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, a):
        if a.dtype.kind not in "fc":  # int/bool in: the default float out, as PyTorch (inline: hot path)
            a = a.astype(default_dtype())
        self.out = get_array_module(a).tanh(a)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Softplus(Function):
    def forward(self, a, beta=1.0, threshold=20.0):
        xp = get_array_module(a)
        self.a, self.beta, self.threshold = a, beta, threshold
        z = a * beta
        self.linear = z > threshold
        # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows.
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(self.linear, a, soft)

    def backward(self, g):
        xp = get_array_module(g)
        z = self.a * self.beta
        e = xp.exp(-xp.abs(z))
        sig = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return g * xp.where(self.linear, 1, sig)


class Erf(Function):
    def forward(self, a):
        if a.dtype.kind not in "fc":
            a = a.astype(default_dtype())
        self.a = a
        return erf(a)

    def backward(self, g):
        xp = get_array_module(g)
        return g * (_TWO_OVER_SQRT_PI * xp.exp(-self.a * self.a))


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


# SiLU and GELU live in descend/ops/self_gated.py; callers reach them here as before.
from descend.ops.self_gated import GELU, SiLU  # noqa: E402,F401

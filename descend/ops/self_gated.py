"""The self-gated activations x * gate(x): SiLU (gate sigmoid) and GELU (gate the normal CDF), forward and
backward on raw arrays."""

from __future__ import annotations

import math

import numpy as np

from descend.backend import default_dtype, get_array_module
from descend.ops import kernels, onednn_eltwise
from descend.ops.special import erf
from descend._tensor import Function


class SiLU(Function):
    """x * sigmoid(x) as one op: the forward keeps s = sigmoid(x) (oneDNN's logistic primitive on large 4-D
    feature maps, one vectorized pass on its threads; else four in-place NumPy passes), the backward is
    g * s * (1 + x * (1 - s)) in one compiled pass (or four NumPy passes), instead of a Sigmoid and a Mul node
    and their sum. (oneDNN's swish backward, which recomputes the exponential, ran 2x slower than the kernel.)"""

    def forward(self, a):
        if a.dtype.kind not in "fc":  # int/bool in: the default float out, as PyTorch
            a = a.astype(default_dtype())
        xp = get_array_module(a)
        s = xp.empty_like(a)  # one buffer in a's memory layout
        plan = onednn_eltwise.plan("logistic", a)
        flats = kernels.dense_flat(a, s) if plan is not None else None
        if flats is not None:
            plan.forward(*flats)
        else:  # sigmoid as 1 / (1 + exp(-a)) in place
            xp.negative(a, out=s)  # (into an array even for 0-d a, where negative() alone returns a scalar)
            with np.errstate(over="ignore"):  # exp(-a) = inf for a < -88 (float32) gives the correct s = 0
                xp.exp(s, out=s)
            s += 1
            xp.reciprocal(s, out=s)
        self.a, self.s = a, s
        compiled = kernels.get("silu_forward", a) if flats is not None else None
        if compiled is not None:  # the product on the kernels' threads
            y = xp.empty_like(a)
            compiled(*flats, kernels.dense_flat(y, a)[0])
            return y
        return a * s

    def backward(self, g):
        a, s = self.a, self.s
        compiled = kernels.get("silu_backward", g, a, s) if g.dtype == a.dtype else None
        if compiled is not None:
            flats = kernels.dense_flat(g, a, s)
            if flats is not None:
                gx = np.empty_like(a)
                compiled(*flats, kernels.dense_flat(gx, a)[0])
                return gx
        t = 1 - s
        t *= a
        t += 1
        t *= s
        t *= g
        return t


class GELU(Function):
    """x * Phi(x), with Phi the standard normal CDF; approximate='tanh' uses PyTorch's tanh formula."""

    def forward(self, a, approximate="none"):
        xp = get_array_module(a)
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (a + _GELU_CUBIC * a * a * a)
            self.t = xp.tanh(inner)
            return 0.5 * a * (1 + self.t)
        self.cdf = 0.5 * (1 + erf(a * _INV_SQRT_2))
        return a * self.cdf

    def backward(self, g):
        xp = get_array_module(g)
        a = self.a
        if self.approximate == "tanh":
            t = self.t
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * d_inner)
        pdf = _INV_SQRT_2PI * xp.exp(-0.5 * a * a)
        return g * (self.cdf + a * pdf)


_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715

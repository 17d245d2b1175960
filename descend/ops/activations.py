"""Activation functions with PyTorch's names, defaults and formulas, composed from differentiable ops.

Each is a few existing ops, so its gradient follows from theirs; where PyTorch's gradient at a kink or a
bound is a documented choice (hardtanh passes the gradient only strictly inside its bounds), the
composition is chosen to give the same one.
"""

from __future__ import annotations

import warnings
from typing import Any

from descend import backend
from descend.backend import get_array_module
from descend.ops import elementwise as _ew
from descend.ops import reduce as _rd
from descend._tensor import Tensor
from descend.ops.inplace import inplace_option

__all__ = ["elu", "selu", "celu", "silu", "hardtanh", "relu6", "hardswish", "hardsigmoid", "mish",
           "softmin", "softsign", "tanhshrink", "logsigmoid", "softshrink", "hardshrink", "threshold",
           "glu", "prelu"]

# SELU's constants (Klambauer et al. 2017), as PyTorch writes them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _where(cond: Any, a: Any, b: Any) -> Tensor:
    return _ew.Where.apply(cond, a, b)


def _expm1_neg(x: Tensor, scale: float = 1.0) -> Tensor:
    """exp(min(x, 0) * scale) - 1: the negative branch of ELU/CELU, without overflow on the positive side."""
    neg = _ew.Clamp.apply(x, hi=0.0)
    return _ew.Exp.apply(neg * scale if scale != 1.0 else neg) - 1.0


@inplace_option
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _where(input > 0, input, _expm1_neg(input) * alpha)


@inplace_option
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with SELU's fixed alpha ≈ 1.6733 and scale ≈ 1.0507."""
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


@inplace_option
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    return _where(input > 0, input, _expm1_neg(input, 1.0 / alpha) * alpha)


@inplace_option
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _ew.SiLU.apply(input)


@inplace_option
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient passes only strictly inside (PyTorch's choice)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not be greater than max_val {max_val}")
    return _where(input <= min_val, min_val, _where(input >= max_val, max_val, input))


@inplace_option
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


@inplace_option
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    return hardtanh(input + 3.0, 0.0, 6.0) / 6.0


@inplace_option
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    return input * hardsigmoid(input)


@inplace_option
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return input * _ew.Tanh.apply(_ew.Softplus.apply(input))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along dim."""
    x = input if dtype is None else input.to(dtype)
    if dim is None:
        warnings.warn("Implicit dimension choice for softmin has been deprecated. Change the call to include "
                      "dim=X as an argument.", stacklevel=_stacklevel)
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit-dim rule
    return _rd.Softmax.apply(-x, dim=dim)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (_ew.Abs.apply(input) + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - _ew.Tanh.apply(input)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -_ew.Softplus.apply(-input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return _where(input > lambd, input - lambd, _where(input < -lambd, input + lambd, 0.0))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return _where((input > lambd) | (input < -lambd), input, 0.0)


@inplace_option
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value (PyTorch's test is x <= threshold: a NaN stays NaN, and passes its
    gradient)."""
    return _where(input <= threshold, value, input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the two halves of the input along dim."""
    n = input.shape[dim]
    if n % 2:
        raise ValueError(f"glu: halving only works on an even dimension, but dim {dim} of input "
                         f"{input.shape} has size {n}")
    d = dim % input.ndim
    first = (slice(None),) * d + (slice(0, n // 2),)
    second = (slice(None),) * d + (slice(n // 2, n),)
    return input[first] * _ew.Sigmoid.apply(input[second])


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x >= 0, weight * x otherwise; weight has 1 value or one per channel (dim 1)."""
    n = weight.numel()
    if n != 1:
        if input.ndim < 2 or input.shape[1] != n:
            raise ValueError(f"prelu: weight has {n} values but input {input.shape} has "
                             f"{input.shape[1] if input.ndim >= 2 else 1} channels (dim 1)")
        weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim != 0:
        weight = weight.reshape(())
    return _where(input > 0, input, weight * input)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample from the Gumbel-softmax (concrete) distribution over `dim`: softmax((logits + g) / tau) with
    g ~ Gumbel(0, 1) from descend's generator; hard=True gives the one-hot argmax with the soft sample's
    gradient (straight-through), as PyTorch's."""
    xp = get_array_module(logits._data)
    g = -xp.log(xp.asarray(backend.rng().exponential(size=logits.shape)).astype(logits._data.dtype))
    y = _rd.Softmax.apply((logits + Tensor(g)) / tau, dim=dim)
    if not hard:
        return y
    d = dim % max(y.ndim, 1)
    one_hot = xp.zeros(y.shape, dtype=y._data.dtype)
    xp.put_along_axis(one_hot, xp.expand_dims(y._data.argmax(axis=d), d), 1.0, axis=d)
    return Tensor(one_hot) - y.detach() + y

"""Top-level functions with PyTorch's names (`descend.exp`, `descend.sum`, ...), each one op call.

This module shadows Python builtins (sum, max, min, abs, pow) on purpose, as `torch` does; it uses none.
"""

from __future__ import annotations

from typing import Any

from descend.ops import elementwise as _ew
from descend.ops import matmul as _mm
from descend.ops import movement as _mv
from descend.ops import reduce as _rd
from descend.tensor import Tensor, _correction

# ---- elementwise ---------------------------------------------------------------------------------------


def add(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """input + alpha * other."""
    return _ew.Add.apply(input, other if alpha == 1 else _ew.Mul.apply(other, alpha))


def sub(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """input - alpha * other."""
    return _ew.Sub.apply(input, other if alpha == 1 else _ew.Mul.apply(other, alpha))


def mul(input: Any, other: Any) -> Tensor:
    return _ew.Mul.apply(input, other)


def div(input: Any, other: Any) -> Tensor:
    return _ew.Div.apply(input, other)


def neg(input: Tensor) -> Tensor:
    return _ew.Neg.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:
    return _ew.Pow.apply(input, exponent)


def exp(input: Tensor) -> Tensor:
    return _ew.Exp.apply(input)


def log(input: Tensor) -> Tensor:
    return _ew.Log.apply(input)


def sqrt(input: Tensor) -> Tensor:
    return _ew.Sqrt.apply(input)


def abs(input: Tensor) -> Tensor:
    return _ew.Abs.apply(input)


def erf(input: Tensor) -> Tensor:
    """The error function (our own float64-accurate implementation)."""
    return _ew.Erf.apply(input)


def square(input: Tensor) -> Tensor:
    return _ew.Mul.apply(input, input)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    return _ew.Clamp.apply(input, lo=min, hi=max)


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise max; ties share the gradient."""
    return _ew.Maximum.apply(input, other)


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise min; ties share the gradient."""
    return _ew.Minimum.apply(input, other)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """input where condition holds, else other (broadcasting all three)."""
    return _ew.Where.apply(condition, input, other)


def relu(input: Tensor) -> Tensor:
    return _ew.ReLU.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    return _ew.Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    return _ew.Tanh.apply(input)


# ---- matrix product ------------------------------------------------------------------------------------

def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with batching and broadcasting (the @ operator)."""
    return _mm.MatMul.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expected two 2-D tensors, got {input.shape} @ {mat2.shape}")
    return _mm.MatMul.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of (B, n, m) and (B, m, p)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expected (B, n, m) @ (B, m, p), got {input.shape} @ {mat2.shape}")
    return _mm.MatMul.apply(input, mat2)


# ---- reductions and the softmax family -----------------------------------------------------------------

def sum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.Sum.apply(input, dim=dim, keepdim=keepdim)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.Mean.apply(input, dim=dim, keepdim=keepdim)


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    """Variance over dims (unbiased unless correction=0 or unbiased=False)."""
    return _rd.Var.apply(input, dim=dim, correction=_correction(unbiased, correction), keepdim=keepdim)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    return var(input, dim, unbiased, keepdim, correction).sqrt()


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """max over everything, (values, indices) along dim, or the elementwise maximum of two tensors."""
    if isinstance(dim, Tensor):
        return _ew.Maximum.apply(input, dim)
    return _rd.max_(input, dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """min over everything, (values, indices) along dim, or the elementwise minimum of two tensors."""
    if isinstance(dim, Tensor):
        return _ew.Minimum.apply(input, dim)
    return _rd.min_(input, dim, keepdim)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.AMax.apply(input, dim=dim, keepdim=keepdim)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.AMax.apply(input, dim=dim, keepdim=keepdim, sign=-1)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _rd.argmax(input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return input.argmin(dim, keepdim)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) along dim, stable."""
    return _rd.LogSumExp.apply(input, dim=dim, keepdim=keepdim)


def softmax(input: Tensor, dim: int) -> Tensor:
    return _rd.Softmax.apply(input, dim=dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    return _rd.LogSoftmax.apply(input, dim=dim)


# ---- movement ------------------------------------------------------------------------------------------

def reshape(input: Tensor, shape: Any) -> Tensor:
    return _mv.Reshape.apply(input, shape=tuple(shape))


def permute(input: Tensor, dims: Any) -> Tensor:
    return _mv.Permute.apply(input, dims=tuple(dims))

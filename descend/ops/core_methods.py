"""The hot-path Tensor methods (arithmetic, reductions, movement), each one op call; bound onto Tensor at import.

Kept apart from _tensor.py so that the engine file holds only the engine. ops/methods.py binds the rest of the
surface (and replaces a few of these with fuller PyTorch signatures).
"""

from __future__ import annotations

from typing import Any

from descend.ops import elementwise as _ew
from descend.ops import matmul as _mm
from descend.ops import movement as _mv
from descend.ops import reduce as _rd
from descend.ops.errors import OpError
from descend._tensor import Tensor, _correction, _shape_arg


def mul(self, other: Any) -> Tensor:
    return _ew.Mul.apply(self, other)


def pow(self, other: Any) -> Tensor:
    return _ew.Pow.apply(self, other)


def neg(self) -> Tensor:
    return _ew.Neg.apply(self)


def exp(self) -> Tensor:
    return _ew.Exp.apply(self)


def log(self) -> Tensor:
    return _ew.Log.apply(self)


def sqrt(self) -> Tensor:
    return _ew.Sqrt.apply(self)


def abs(self) -> Tensor:
    return _ew.Abs.apply(self)


def maximum(self, other: Any) -> Tensor:
    return _ew.Maximum.apply(self, other)


def minimum(self, other: Any) -> Tensor:
    return _ew.Minimum.apply(self, other)


def relu(self) -> Tensor:
    return _ew.ReLU.apply(self)


def sigmoid(self) -> Tensor:
    return _ew.Sigmoid.apply(self)


def tanh(self) -> Tensor:
    return _ew.Tanh.apply(self)


def erf(self) -> Tensor:
    return _ew.Erf.apply(self)


def square(self) -> Tensor:
    return _ew.Mul.apply(self, self)


def masked_fill(self, mask: Any, value: float) -> Tensor:
    """value where mask is True, else self (mask broadcasts)."""
    if getattr(mask, "dtype", None) is not None and mask.dtype.kind != "b":
        raise OpError(f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype}")
    return _ew.Where.apply(mask, value, self)


def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    return _rd.Var.apply(self, dim=dim, correction=_correction(unbiased, correction), keepdim=keepdim)


def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    return self.var(dim, unbiased, keepdim, correction).sqrt()


def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
    return _rd.max_(self, dim, keepdim)


def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
    return _rd.min_(self, dim, keepdim)


def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.AMax.apply(self, dim=dim, keepdim=keepdim)


def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.AMax.apply(self, dim=dim, keepdim=keepdim, sign=-1)


def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _rd.argmax(self, dim, keepdim)


def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
    return _rd.LogSumExp.apply(self, dim=dim, keepdim=keepdim)


def softmax(self, dim: int) -> Tensor:
    return _rd.Softmax.apply(self, dim=dim)


def log_softmax(self, dim: int) -> Tensor:
    return _rd.LogSoftmax.apply(self, dim=dim)


def reshape(self, *shape: Any) -> Tensor:
    return _mv.Reshape.apply(self, shape=_shape_arg(shape))


def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _mv.flatten(self, start_dim, end_dim)


def squeeze(self, dim: int | None = None) -> Tensor:
    return _mv.squeeze(self, dim)


def unsqueeze(self, dim: int) -> Tensor:
    return _mv.unsqueeze(self, dim)


def transpose(self, dim0: int, dim1: int) -> Tensor:
    return _mv.transpose(self, dim0, dim1)


def permute(self, *dims: Any) -> Tensor:
    return _mv.Permute.apply(self, dims=_shape_arg(dims))


def expand(self, *shape: Any) -> Tensor:
    return _mv.Expand.apply(self, shape=_shape_arg(shape))


def expand_as(self, other: Tensor) -> Tensor:
    return _mv.Expand.apply(self, shape=other.shape)


def view_as(self, other: Tensor) -> Tensor:
    return _mv.Reshape.apply(self, shape=other.shape)


def t(self) -> Tensor:
    """Transpose of a matrix (a 0-D or 1-D tensor is returned as is, like PyTorch)."""
    if self.ndim > 2:
        raise OpError(f"t(): expects a tensor with <= 2 dimensions, got shape {self.shape}")
    return self if self.ndim < 2 else _mv.Permute.apply(self, dims=(1, 0))


def matmul(self, other: Any) -> Tensor:
    return _mm.MatMul.apply(self, other)


def _bind() -> None:
    namespace = globals()
    for name in ['mul', 'pow', 'neg', 'exp', 'log', 'sqrt', 'abs', 'maximum', 'minimum', 'relu', 'sigmoid', 'tanh', 'erf', 'square', 'masked_fill', 'var', 'std', 'max', 'min', 'amax', 'amin', 'argmax', 'logsumexp', 'softmax', 'log_softmax', 'reshape', 'flatten', 'squeeze', 'unsqueeze', 'transpose', 'permute', 'expand', 'expand_as', 'view_as', 't', 'matmul']:
        setattr(Tensor, name, namespace[name])
    Tensor.view = reshape
    Tensor.reshape_as = view_as


_bind()

"""The hot-path Tensor methods (arithmetic, reductions, movement), each one op call; bound onto Tensor at import.

Kept apart from _tensor.py so that the engine file holds only the engine. ops/methods.py binds the rest of the
surface (and replaces a few of these with fuller PyTorch signatures).
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from descend.ops import elementwise as _ew
from descend.ops import matmul as _mm
from descend.ops import movement as _mv
from descend.ops import reduce as _rd
from descend.ops.errors import OpError
from descend._tensor import Tensor, _correction, _shape_arg


def _unary(cls: type) -> Callable[[Tensor], Tensor]:
    def method(self: Tensor) -> Tensor:
        return cls.apply(self)  # cls.apply looked up per call, so a patched Function.apply is seen
    return method


def _binary(cls: type, reflected: bool = False) -> Callable[[Tensor, Any], Tensor]:
    if reflected:
        def method(self: Tensor, other: Any) -> Tensor:
            return cls.apply(other, self)
    else:
        def method(self: Tensor, other: Any) -> Tensor:
            return cls.apply(self, other)
    return method


# Methods and operators that are one op call each: name -> (op, reflected); reflected None: unary.
_ONE_OP = {
    "neg": (_ew.Neg, None), "exp": (_ew.Exp, None), "log": (_ew.Log, None), "sqrt": (_ew.Sqrt, None),
    "abs": (_ew.Abs, None), "relu": (_ew.ReLU, None), "sigmoid": (_ew.Sigmoid, None), "tanh": (_ew.Tanh, None),
    "erf": (_ew.Erf, None), "__neg__": (_ew.Neg, None), "__abs__": (_ew.Abs, None),
    "mul": (_ew.Mul, False), "pow": (_ew.Pow, False), "maximum": (_ew.Maximum, False),
    "minimum": (_ew.Minimum, False), "matmul": (_mm.MatMul, False),
    "__add__": (_ew.Add, False), "__radd__": (_ew.Add, True), "__sub__": (_ew.Sub, False),
    "__rsub__": (_ew.Sub, True), "__mul__": (_ew.Mul, False), "__rmul__": (_ew.Mul, True),
    "__truediv__": (_ew.Div, False), "__rtruediv__": (_ew.Div, True), "__pow__": (_ew.Pow, False),
    "__rpow__": (_ew.Pow, True), "__matmul__": (_mm.MatMul, False), "__rmatmul__": (_mm.MatMul, True),
}


def _comparison(fn: Callable[[Any, Any], Any], with_none: Any = None) -> Callable[[Tensor, Any], Any]:
    """A comparison giving a boolean tensor outside the graph, as in PyTorch; with_none: the answer to None."""
    def method(self: Tensor, other: Any) -> Any:
        if other is None and with_none is not None:  # `x == None` is False in PyTorch, not elementwise
            return with_none
        return Tensor(fn(self._data, other._data if isinstance(other, Tensor) else other))
    return method


def _invert(self: Tensor) -> Tensor:
    return Tensor(~self._data)


_COMPARISONS = {"__lt__": (operator.lt, None), "__le__": (operator.le, None), "__gt__": (operator.gt, None),
                "__ge__": (operator.ge, None), "__eq__": (operator.eq, False), "__ne__": (operator.ne, True),
                "__and__": (operator.and_, None), "__or__": (operator.or_, None)}


def square(self) -> Tensor:
    return _ew.Mul.apply(self, self)


def masked_fill(self, mask: Any, value: float) -> Tensor:
    """value where mask is True, else self (mask broadcasts)."""
    if getattr(mask, "dtype", None) is not None and mask.dtype.kind != "b":
        raise OpError(f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype}")
    if isinstance(value, (bool, int, float)) and self._data.dtype.kind in "biu":
        value = self._data.dtype.type(value)  # the tensor keeps its dtype, as PyTorch's (2.7 -> 2 in int64)
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


def _get_grad(self) -> Tensor | None:
    """The gradient accumulated by backward (None until then); assignable, with this tensor's shape."""
    return self._grad


def _set_grad(self, value: Tensor | None) -> None:
    if value is not None:  # as PyTorch refuses them
        if not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(value).__name__}")
        if tuple(value.shape) != tuple(self._data.shape):
            raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
                               f"'{list(self._data.shape)}'; the gradient and the tensor must be the same size")
        if value._data.dtype != self._data.dtype:
            raise RuntimeError(f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with dtype "
                               f"'{self.dtype}'; the gradient must match the tensor's dtype")
    self._grad = value


def _bind() -> None:
    namespace = globals()
    for name, (cls, reflected) in _ONE_OP.items():
        method = _unary(cls) if reflected is None else _binary(cls, reflected)
        method.__name__, method.__qualname__ = name, f"Tensor.{name}"
        setattr(Tensor, name, method)
    for name, (fn, with_none) in _COMPARISONS.items():
        method = _comparison(fn, with_none)
        method.__name__, method.__qualname__ = name, f"Tensor.{name}"
        setattr(Tensor, name, method)
    Tensor.__invert__ = _invert
    for name in ['square', 'masked_fill', 'var', 'std', 'max', 'min', 'amax', 'amin', 'argmax', 'logsumexp',
                 'softmax', 'log_softmax', 'reshape', 'flatten', 'squeeze', 'unsqueeze', 'transpose', 'permute',
                 'expand', 'expand_as', 'view_as', 't']:
        setattr(Tensor, name, namespace[name])
    Tensor.view = reshape
    Tensor.reshape_as = view_as
    Tensor.grad = property(_get_grad, _set_grad)  # the `_grad` slot behind it


_bind()

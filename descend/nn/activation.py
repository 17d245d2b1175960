"""Activation layers: thin modules over `descend.functional`."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend.nn.module import Module, Parameter
from descend._tensor import Tensor


class ReLU(Module):
    """max(x, 0). `inplace` is accepted for PyTorch code; the result is computed out of place."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class GELU(Module):
    """x·Φ(x) (approximate='none') or its tanh approximation (approximate='tanh')."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _SoftmaxBase(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return self._fn(x, self.dim)  # dim=None: F applies PyTorch's legacy rule, with its warning

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x) / Σ exp(x) along `dim`."""

    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along `dim`, computed stably."""

    _fn = staticmethod(F.log_softmax)


class _Elementwise(Module):
    """An activation with keyword settings, applied by one functional; repr shows the settings."""

    _fn: Any = None
    _settings: tuple[str, ...] = ()

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, **{k: getattr(self, k) for k in self._settings})

    def extra_repr(self) -> str:
        parts = [f"{k}={getattr(self, k)}" for k in self._settings]
        if getattr(self, "inplace", False):
            parts.append("inplace=True")
        return ", ".join(parts)


class ELU(_Elementwise):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    _fn, _settings = staticmethod(F.elu), ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace


class CELU(ELU):
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""

    _fn = staticmethod(F.celu)


class _InplaceElementwise(_Elementwise):
    """An activation whose only setting is PyTorch's `inplace` (accepted; computed out of place)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace


class SELU(_InplaceElementwise):
    """scale * ELU(x, alpha) with SELU's constants."""

    _fn = staticmethod(F.selu)


class SiLU(_InplaceElementwise):
    """x * sigmoid(x)."""

    _fn = staticmethod(F.silu)


class Mish(_InplaceElementwise):
    """x * tanh(softplus(x))."""

    _fn = staticmethod(F.mish)


class Hardswish(_InplaceElementwise):
    """x * relu6(x + 3) / 6.

    >>> import descend
    >>> Hardswish()(descend.tensor([0.0, 1.5, 3.0]))
    tensor([0.   , 1.125, 3.   ])
    """

    _fn = staticmethod(F.hardswish)


class Hardsigmoid(_InplaceElementwise):
    """relu6(x + 3) / 6.

    >>> import descend
    >>> Hardsigmoid()(descend.tensor([-4.0, 0.0, 3.0]))
    tensor([0. , 0.5, 1. ])
    """

    _fn = staticmethod(F.hardsigmoid)


class Softplus(_Elementwise):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    _fn, _settings = staticmethod(F.softplus), ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold


class Hardtanh(_Elementwise):
    """x clamped to [min_val, max_val]."""

    _fn, _settings = staticmethod(F.hardtanh), ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} must not be greater than max_val {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Threshold(_Elementwise):
    """x where x > threshold, else value."""

    _fn, _settings = staticmethod(F.threshold), ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace


class Softshrink(_Elementwise):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    _fn, _settings = staticmethod(F.softshrink), ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > lambd, else 0.

    >>> import descend
    >>> Hardshrink(0.5)(descend.tensor([-1.0, 0.25, 0.75]))
    tensor([-1.  ,  0.  ,  0.75])
    """

    _fn = staticmethod(F.hardshrink)


class GLU(_Elementwise):
    """a * sigmoid(b) for the two halves a, b of the input along dim."""

    _fn, _settings = staticmethod(F.glu), ("dim",)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim


class Softsign(_Elementwise):
    """x / (1 + |x|).

    >>> import descend
    >>> Softsign()(descend.tensor([-1.0, 0.0, 3.0]))
    tensor([-0.5 ,  0.  ,  0.75])
    """

    _fn = staticmethod(F.softsign)


class Tanhshrink(_Elementwise):
    """x - tanh(x)."""

    _fn = staticmethod(F.tanhshrink)


class LogSigmoid(_Elementwise):
    """log(sigmoid(x))."""

    _fn = staticmethod(F.logsigmoid)


class Softmin(_SoftmaxBase):
    """softmax(-x) along `dim`."""

    _fn = staticmethod(F.softmin)


class PReLU(Module):
    """x for x >= 0, a * x otherwise, with a learnable `a` (one, or one per channel), initialised to `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(backend.xp.full(num_parameters, init, dtype=dt))

    def reset_parameters(self) -> None:
        self.weight._data[...] = self.init

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

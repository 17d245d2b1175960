"""`nn.utils.parametrizations.weight_norm` / `spectral_norm`: PyTorch's parametrization-based forms, with its
state-dict keys (`parametrizations.weight.original0/1`; `parametrizations.weight.original` and `.0._u/_v`).

>>> import descend
>>> from descend import nn
>>> sorted(spectral_norm(nn.Linear(4, 3)).state_dict())
['bias', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v', 'parametrizations.weight.original']
"""

from __future__ import annotations

from typing import Any

from descend import backend
from descend.nn.module import Module
from descend.nn.utils.norms import _norm_except_dim, _normalize
from descend.nn.utils.parametrize import register_parametrization
from descend._tensor import Tensor, no_grad

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """weight = g · v / ‖v‖ (norm over every dim but `dim`), g and v as original0 and original1."""
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        self.dim, self.eps = dim if dim >= 0 else dim + ndim, eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._matrix(weight)._data
            rng, dt = backend.rng(), weight._data.dtype
            u = backend.xp.asarray(rng.standard_normal(mat.shape[0]).astype(dt))
            v = backend.xp.asarray(rng.standard_normal(mat.shape[1]).astype(dt))
            self.register_buffer("_u", Tensor(_normalize(u, eps)))
            self.register_buffer("_v", Tensor(_normalize(v, eps)))
            self._power_method(mat, 15)  # as PyTorch: start from a converged estimate

    def _matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, mat: Any, n: int) -> None:
        with no_grad():
            for _ in range(n):  # u first, then v: PyTorch's order in this form
                self._u._data[...] = _normalize(mat @ self._v._data, self.eps)
                self._v._data[...] = _normalize(mat.T @ self._u._data, self.eps)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:  # F.normalize: the norm is part of the graph
            return weight / weight.norm().clamp_min(self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat._data, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / (u * (mat @ v)).sum()

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """weight / σ(weight), σ by power iteration (one step per training forward)."""
    weight = getattr(module, name)
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))

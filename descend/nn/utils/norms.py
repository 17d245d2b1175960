"""Weight and spectral normalisation as PyTorch's `nn.utils.weight_norm` / `nn.utils.spectral_norm` apply them:
the weight is recomputed from new parameters before every forward (a forward pre-hook), with PyTorch's
parameter and buffer names, so state dicts move between the two libraries.

- weight_norm: weight = g · v / ‖v‖ (norm over every dim but `dim`); parameters `<name>_g`, `<name>_v`.
- spectral_norm (Miyato et al. 2018): weight = W / σ(W), σ estimated by power iteration (one step per
  training forward, in place on the `<name>_u`, `<name>_v` buffers); parameter `<name>_orig`.

>>> import descend
>>> from descend import nn
>>> m = nn.utils.spectral_norm(nn.Linear(4, 3))
>>> sorted(m.state_dict())
['bias', 'weight_orig', 'weight_u', 'weight_v']
"""

from __future__ import annotations

from typing import Any

from descend import backend
from descend._tensor import Tensor, no_grad

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """‖v‖ over every dim but `dim` (all dims for -1), shaped to broadcast against v."""
    if dim == -1:
        return v.norm()
    if dim != 0:
        return _norm_except_dim(v.transpose(0, dim), 0).transpose(0, dim)
    return v.reshape(v.shape[0], -1).norm(dim=1).reshape((v.shape[0],) + (1,) * (v.ndim - 1))


class _WeightNorm:
    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def compute(self, module: Any) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module: Any, inputs: Any) -> None:
        setattr(module, self.name, self.compute(module))


def weight_norm(module: Any, name: str = "weight", dim: int | None = 0) -> Any:
    """Reparameterise `module.<name>` as g · v / ‖v‖ (dim=None: one norm for the whole tensor)."""
    from descend.nn.module import Parameter

    fn = _WeightNorm(name, -1 if dim is None else dim)
    weight = getattr(module, name)
    delattr(module, name)
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, fn.dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute(module))
    module._weight_norm_hook = (fn, module.register_forward_pre_hook(fn))
    return module


def remove_weight_norm(module: Any, name: str = "weight") -> Any:
    """Fold g and v back into one `<name>` parameter."""
    from descend.nn.module import Parameter

    fn, handle = module.__dict__.pop("_weight_norm_hook")
    weight = fn.compute(module).detach()
    handle.remove()
    for suffix in ("_g", "_v"):
        delattr(module, name + suffix)
    delattr(module, name)
    module.register_parameter(name, Parameter(weight))
    return module


def _normalize(x: Any, eps: float) -> Any:
    xp = backend.get_array_module(x)
    return x / max(float(xp.linalg.norm(x)), eps)


class _SpectralNorm:
    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        self.name, self.n, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute(self, module: Any, power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.matrix(weight)
        if power_iteration:
            w = mat._data
            with no_grad():
                for _ in range(self.n):  # in place, so the buffers carry the estimate to the next step
                    v._data[...] = _normalize(w.T @ u._data, self.eps)
                    u._data[...] = _normalize(w @ v._data, self.eps)
            if self.n > 0:
                u, v = u.clone(), v.clone()
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def __call__(self, module: Any, inputs: Any) -> None:
        setattr(module, self.name, self.compute(module, module.training))


def spectral_norm(module: Any, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Any:
    """Divide `module.<name>` by its largest singular value before each forward (dim: the output dim of the
    weight, 1 for transposed convolutions, else 0)."""
    from descend.nn.module import Parameter

    if n_power_iterations <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                         f"{n_power_iterations}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    fn = _SpectralNorm(name, n_power_iterations, dim, eps)
    weight = getattr(module, name)
    mat = fn.matrix(weight)._data
    rng = backend.rng()
    dt = weight._data.dtype
    u = _normalize(backend.xp.asarray(rng.standard_normal(mat.shape[0]).astype(dt)), eps)
    v = _normalize(backend.xp.asarray(rng.standard_normal(mat.shape[1]).astype(dt)), eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight if isinstance(weight, Parameter) else Parameter(weight))
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))
    module._spectral_norm_hook = (fn, module.register_forward_pre_hook(fn))
    return module


def remove_spectral_norm(module: Any, name: str = "weight") -> Any:
    """Fold the normalised weight back into one `<name>` parameter."""
    from descend.nn.module import Parameter

    fn, handle = module.__dict__.pop("_spectral_norm_hook")
    weight = fn.compute(module, False).detach()
    handle.remove()
    for suffix in ("_orig", "_u", "_v"):
        delattr(module, name + suffix)
    delattr(module, name)
    module.register_parameter(name, Parameter(weight))
    return module

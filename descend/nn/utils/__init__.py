"""Gradient clipping and flattening parameters to one vector (PyTorch's torch.nn.utils names and semantics).

Gradients are treated as read-only (an array may be shared by several tensors), so clipping replaces each
`p.grad` with a new tensor instead of scaling it in place.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from descend import backend
from descend.nn.utils import rnn  # torch.nn.utils.rnn
from descend.nn.utils.norms import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm
from descend.nn.utils import parametrizations, parametrize  # noqa: E402  (after norms: they build on it)
from descend.ops.movement import cat
from descend._tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector", "vector_to_parameters",
           "rnn", "weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm",
           "parametrize", "parametrizations"]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(x: Any, norm_type: float) -> Any:
    """The norm of a flattened array, accumulated in float64 and returned as a float64 0-d array."""
    xp = backend.get_array_module(x)
    a = xp.abs(x.reshape(-1).astype(np.float64))
    if norm_type == math.inf:
        return a.max() if a.size else xp.asarray(0.0)
    if norm_type == -math.inf:
        return a.min() if a.size else xp.asarray(math.inf)
    if norm_type == 0:
        return xp.asarray(float(xp.count_nonzero(a)))
    if norm_type == 2:
        return xp.sqrt(xp.dot(a, a))
    if norm_type == 1:
        return a.sum()
    return (a ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The norm of the tensors' norms (of their values, not their grads): what clip_grad_norm_ clips by.

    >>> import descend
    >>> float(get_total_norm([descend.tensor([3.0]), descend.tensor([4.0])]))
    5.0
    """
    arrays = [t._data for t in _as_list(tensors)]
    if not arrays:
        return Tensor(np.asarray(0.0, dtype=backend.default_dtype()))
    xp = backend.get_array_module(arrays[0])
    total = _vector_norm(xp.stack([_vector_norm(a, float(norm_type)) for a in arrays]), float(norm_type))
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"the total norm of order {float(norm_type)} of the gradients is {float(total)}, so "
                           f"they cannot be clipped; pass error_if_nonfinite=False to clip anyway")
    return Tensor(xp.asarray(total, dtype=arrays[0].dtype))


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all grads together so their joint norm is at most max_norm; returns the norm BEFORE clipping.

    The joint norm is the norm of the per-parameter norms (norm_type 2, 1, inf, any p > 0). As in PyTorch, grads
    are multiplied by min(1, max_norm / (total_norm + 1e-6)). With error_if_nonfinite, a NaN or infinite total
    norm raises RuntimeError instead of spreading NaN into every grad. `foreach` is accepted for PyTorch code
    and changes nothing (there is one implementation).
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=backend.default_dtype()))
    try:
        total = get_total_norm(grads, norm_type, error_if_nonfinite)._data
    except RuntimeError as e:
        raise RuntimeError(f"clip_grad_norm_: {e}") from None
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef > 1.0:  # written so that a NaN norm gives NaN grads, as torch.clamp does
        coef = 1.0
    with np.errstate(invalid="ignore"):  # inf * 0 -> NaN, as in PyTorch
        for p in params:
            if p.grad is not None:
                g = p.grad._data
                p.grad = Tensor(g * g.dtype.type(coef))
    return Tensor(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every grad element to [-clip_value, clip_value]."""
    v = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad._data
            p.grad = Tensor(backend.get_array_module(g).clip(g, -v, v))


def parameters_to_vector(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable, as in PyTorch)."""
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Tensor | Iterable[Tensor]) -> None:
    """Copy consecutive slices of a 1-D vector into the parameters, in place.

    Unlike PyTorch (which rebinds `param._data` to views of `vec`), values are copied into each parameter's own
    array, so parameters held in an optimizer's flat buffer stay there.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {vec.shape}")
    params = _as_list(parameters)
    total = sum(p.numel() for p in params)
    if vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: the vector has {vec.shape[0]} elements, the parameters need "
                         f"{total}")
    pos = 0
    for p in params:
        n = p.numel()
        p._data[...] = vec._data[pos:pos + n].reshape(p.shape)
        pos += n

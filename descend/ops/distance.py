"""Norms and distances between vectors (PyTorch's F.normalize, cosine_similarity, pairwise_distance).

Composed from differentiable ops. PyTorch clamps some norms under no_grad, so the gradient flows as if no
clamp were there; `clamp_min_keep_grad` reproduces that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.ops import elementwise as _ew
from descend._tensor import Tensor

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "vector_norm"]


def vector_norm(x: Tensor, p: float = 2.0, dim: int = -1, keepdim: bool = False) -> Tensor:
    """The p-norm along one dim (p = inf, -inf, 0 or any p > 0)."""
    a = _ew.Abs.apply(x)
    if p == math.inf:
        return a.amax(dim, keepdim=keepdim)
    if p == -math.inf:
        return a.amin(dim, keepdim=keepdim)
    if p == 0:
        return Tensor((x._data != 0).sum(axis=dim, keepdims=keepdim).astype(x._data.dtype))
    if p == 2:
        return _ew.Sqrt.apply((x * x).sum(dim, keepdim=keepdim))
    if p == 1:
        return a.sum(dim, keepdim=keepdim)
    return (a ** p).sum(dim, keepdim=keepdim) ** (1.0 / p)


def clamp_min_keep_grad(x: Tensor, lo: float) -> Tensor:
    """max(x, lo) in value, with the identity's gradient (PyTorch's clamp under no_grad)."""
    xp = backend.get_array_module(x._data)
    shift = xp.maximum(x._data, x._data.dtype.type(lo)) - x._data
    return x + Tensor(shift)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """input / max(||input||_p, eps) along dim."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; assign the result instead")
    norm = vector_norm(input, p, dim, keepdim=True)
    return input / _ew.Clamp.apply(norm, lo=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)) along dim, after broadcasting x1 and x2."""
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: x1 {x1.shape} and x2 {x2.shape} cannot be broadcast "
                         "together") from None
    if x1.shape != shape:
        x1 = x1.expand(*shape)
    if x2.shape != shape:
        x2 = x2.expand(*shape)
    n1 = clamp_min_keep_grad(vector_norm(x1, 2, dim, keepdim=True), eps)
    n2 = clamp_min_keep_grad(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError(f"pairwise_distance: inputs must have at least 1 dim, got {x1.shape} and {x2.shape}")
    return vector_norm(x1 - x2 + eps, p, -1, keepdim=keepdim)

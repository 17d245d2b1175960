"""RMS normalisation (Zhang & Sennrich 2019; PyTorch's F.rms_norm): x / sqrt(mean(x², trailing dims) + eps),
times an optional per-element weight; composed from differentiable ops, so every gradient order follows."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.ops.errors import OpError
from descend._tensor import Tensor

__all__ = ["rms_norm"]


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Normalise each sample by the root mean square over its trailing `normalized_shape` dims; eps None is
    the machine epsilon of the input's dtype, as PyTorch's.

    >>> import descend
    >>> [round(v, 4) for v in rms_norm(descend.tensor([[3.0, 4.0]]), 2).flatten().tolist()]
    [0.8485, 1.1314]
    """
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(s) for s in normalized_shape)
    if len(shape) > input.ndim or tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise OpError(f"rms_norm: input {tuple(input.shape)} does not end with normalized_shape {shape}")
    if weight is not None and tuple(weight.shape) != shape:
        raise OpError(f"rms_norm: weight must have shape {shape}, got {tuple(weight.shape)}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out

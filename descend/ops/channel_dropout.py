"""Channel dropout (PyTorch's F.dropout1d / dropout2d): whole channels are zeroed together."""

from __future__ import annotations

from descend import backend
from descend.ops import linear as _lin
from descend._tensor import Tensor
from descend.ops.errors import OpError
from descend.ops.inplace import inplace_option

__all__ = ["dropout1d", "dropout2d"]


def _channel_dropout(op: str, input: Tensor, p: float, training: bool, batched_ndim: int) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        layout = "(N, C, L) or (C, L)" if batched_ndim == 3 else "(N, C, H, W) or (C, H, W)"
        raise OpError(f"{op}: expected input {layout}, got {input.shape}")
    if not training or p == 0.0:
        return input
    # One draw per (sample, channel), broadcast over the spatial dims.
    mask_shape = input.shape[:input.ndim - (batched_ndim - 2)] + (1,) * (batched_ndim - 2)
    xp = backend.get_array_module(input._data)
    mask = _lin.dropout_mask(backend.rng(), mask_shape, p, input._data.dtype, xp)
    return _lin.Dropout.apply(input, mask=mask)


@inplace_option
def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, L) or (C, L) with probability p, scaling the rest by 1/(1-p)."""
    return _channel_dropout("dropout1d", input, p, training, 3)


@inplace_option
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, H, W) or (C, H, W) with probability p, scaling the rest by 1/(1-p)."""
    return _channel_dropout("dropout2d", input, p, training, 4)

"""Randomized leaky ReLU, power-average pooling, max unpooling, local response norm and channel shuffle.

PyTorch's names, arguments, defaults and errors (F.rrelu, F.lp_pool1d/2d, F.max_unpool1d/2d,
F.local_response_norm, F.channel_shuffle), composed from differentiable ops, so no new backward is needed.
Part of `descend.functional` / `descend.nn.functional`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.ops.args import int_tuple
from descend.ops import elementwise as _ew
from descend.ops import indexing as _ix
from descend.ops import movement as _mv
from descend.ops import pool as _pool
from descend.ops.errors import OpError, OpTypeError
from descend._tensor import Tensor
from descend.ops.inplace import inplace_option

__all__ = ["rrelu", "lp_pool1d", "lp_pool2d", "max_unpool1d", "max_unpool2d", "local_response_norm",
           "channel_shuffle"]


_ints = int_tuple


# ---- randomized leaky ReLU -----------------------------------------------------------------------------

@inplace_option
def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """x where x > 0, else a * x: a ~ U(lower, upper) per element in training, (lower + upper) / 2 otherwise.

    The slopes come from descend's global generator (`descend.manual_seed`), not PyTorch's; with inplace=True
    the result is also written into the input.

    >>> import descend
    >>> rrelu(descend.tensor([-2.0, 3.0]), 0.25, 0.75).tolist()
    [-1.0, 3.0]
    """
    if lower > upper:
        raise OpError(f"rrelu: lower bound {lower} should be less than or equal to the upper bound {upper}")
    if not training:
        return _ew.LeakyReLU.apply(input, negative_slope=(lower + upper) / 2)
    # As PyTorch: x <= 0 draws a slope (its gradient is that slope, even at 0); x > 0 passes with slope 1.
    xp = backend.get_array_module(input._data)
    noise = backend.rng().uniform(lower, upper, size=input.shape)
    slopes = xp.where(input._data <= 0, xp.asarray(noise), 1).astype(input._data.dtype, copy=False)
    return input * Tensor(slopes)


# ---- power-average pooling -----------------------------------------------------------------------------

def _windows(op: str, d: int, input: Tensor, kernel_size: Any, stride: Any, ceil_mode: bool) -> tuple:
    """(batched input, unbatched, kernel, stride) after PyTorch's checks for an unpadded pool."""
    if not isinstance(input, Tensor):
        raise OpTypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (d + 1, d + 2):
        raise OpError(f"{op}: expected a {d + 1}-D or {d + 2}-D input, got {input.shape}")
    kernel = _ints(kernel_size, d, op, "kernel_size")
    stride = kernel if stride is None else _ints(stride, d, op, "stride")
    if min(kernel) < 1 or min(stride) < 1:
        raise OpError(f"{op}: kernel_size {kernel} and stride {stride} must be positive")
    unbatched = input.ndim == d + 1
    x = _mv.unsqueeze(input, 0) if unbatched else input
    out = tuple(_pool.pool_out_size(x.shape[2 + i], kernel[i], stride[i], 0, 1, ceil_mode) for i in range(d))
    if min(out) < 1:
        raise OpError(f"{op}: input {input.shape} gives output size {out} for kernel {kernel}: output size "
                      "is too small")
    return x, unbatched, kernel, stride


def _lp_pool(op: str, d: int, input: Tensor, norm_type: float, kernel_size: Any, stride: Any,
             ceil_mode: bool) -> Tensor:
    x, unbatched, kernel, stride = _windows(op, d, input, kernel_size, stride, ceil_mode)
    if norm_type in (math.inf, -math.inf):
        # PyTorch: max_pool of |x| (of -|x|, negated, for -inf)
        a = _ew.Abs.apply(x)
        sign = 1.0 if norm_type > 0 else -1.0
        out = _pool.MaxPool.apply(a * sign, kernel=kernel, stride=stride, padding=(0,) * d, dilation=(1,) * d,
                                  ceil_mode=ceil_mode) * sign
    else:
        mean = _pool.AvgPool.apply(x ** norm_type, kernel=kernel, stride=stride, padding=(0,) * d,
                                   ceil_mode=ceil_mode, count_include_pad=True, divisor_override=None)
        # PyTorch's formula, kept op for op so that gradients at all-zero windows agree.
        out = (mean.sign() * _ew.Abs.apply(mean).relu() * float(np.prod(kernel))) ** (1.0 / norm_type)
    return _mv.squeeze(out, 0) if unbatched else out


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """(Σ x^p)^(1/p) over windows of (N, C, L): p = 1 is sum pooling, p = inf max pooling of |x|.

    >>> import descend
    >>> lp_pool1d(descend.tensor([[3.0, 4.0, 1.0, 0.0]]), 2, 2).tolist()
    [[5.0, 1.0]]
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """(Σ x^p)^(1/p) over windows of (N, C, H, W).

    >>> import descend
    >>> lp_pool2d(descend.ones(1, 4, 4), 2, 2).tolist()
    [[[2.0, 2.0], [2.0, 2.0]]]
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


# ---- max unpooling -------------------------------------------------------------------------------------

def _unpool_size(op: str, spatial: tuple, kernel: tuple, stride: tuple, padding: tuple,
                 output_size: Any) -> tuple:
    """PyTorch's _unpool_output_size: the default size, or output_size checked to lie within a stride of it."""
    d = len(kernel)
    default = tuple((spatial[i] - 1) * stride[i] + kernel[i] - 2 * padding[i] for i in range(d))
    if output_size is None:
        size = default
    else:
        size = tuple(int(s) for s in output_size)
        if len(size) == d + 2:
            size = size[2:]
        if len(size) != d:
            raise ValueError(f"{op}: output_size should be a sequence containing {d} or {d + 2} elements, but "
                             f"it has a length of '{len(size)}'")
        for i in range(d):
            lo, hi = default[i] - stride[i], default[i] + stride[i]
            if not lo < size[i] < hi:
                raise ValueError(f'{op}: invalid output_size "{list(size)}" (dim {i} must be between {lo} '
                                 f'and {hi})')
    if min(size) < 0:
        raise ValueError(f"{op}: output_size must contain non-negative spatial dimensions, got {list(size)}")
    return size


def _max_unpool(op: str, d: int, input: Tensor, indices: Tensor, kernel_size: Any, stride: Any, padding: Any,
                output_size: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise OpTypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    kernel = _ints(kernel_size, d, op, "kernel_size")
    stride = kernel if stride is None else _ints(stride, d, op, "stride")
    padding = _ints(padding, d, op, "padding")
    idx = indices._data if isinstance(indices, Tensor) else backend.xp.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise OpTypeError(f"{op}: elements in indices should be integers (int64), got dtype {idx.dtype}")
    if tuple(idx.shape) != tuple(input.shape):
        raise OpError(f"{op}: expected shape of indices to be same as that of the input tensor "
                      f"({input.shape}) but got indices tensor with shape {tuple(idx.shape)}")
    if input.ndim not in (d + 1, d + 2):
        raise OpError(f"{op}: expected a {d + 1}-D or {d + 2}-D input, got {input.shape}")
    size = _unpool_size(op, input.shape[input.ndim - d:], kernel, stride, padding, output_size)
    lead = input.shape[:input.ndim - d]
    flat = idx.reshape(lead + (-1,))
    volume = int(np.prod(size))
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= volume):
        bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
        raise OpError(f"{op}: found an invalid max index: {bad} (output volumes are of size "
                      f"{'x'.join(str(s) for s in size)})")
    xp = backend.get_array_module(input._data)
    zeros = Tensor(xp.zeros(lead + (volume,), dtype=input._data.dtype))
    # Repeated indices (overlapping windows) name the same input maximum, so writing it twice is harmless,
    # and scatter's gradient reads the output gradient back at every index, as PyTorch's does.
    out = _ix.Scatter.apply(zeros, Tensor(flat.astype(np.int64, copy=False)), input.reshape(lead + (-1,)),
                            dim=-1)
    return out.reshape(lead + size)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of max_pool1d: each value placed at its index along L, zeros elsewhere.

    >>> import descend
    >>> max_unpool1d(descend.tensor([[5.0, 7.0]]), descend.tensor([[1, 2]]), 2).tolist()
    [[0.0, 5.0, 7.0, 0.0]]
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of max_pool2d: each value placed at its flat index in H * W, zeros elsewhere.

    >>> import descend
    >>> max_unpool2d(descend.tensor([[[9.0]]]), descend.tensor([[[3]]]), 2).tolist()
    [[[0.0, 0.0], [0.0, 9.0]]]
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


# ---- local response norm and channel shuffle -----------------------------------------------------------

def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha / size * Σ x²)^beta, the sum over `size` neighbouring channels (zero beyond the ends).

    >>> import descend
    >>> local_response_norm(descend.ones(1, 1, 2), 1, alpha=3.0, beta=0.5).tolist()
    [[[0.5, 0.5]]]
    """
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    if input.numel() == 0:
        return input
    n, c = input.shape[:2]
    sq = (input * input).reshape((n, 1, c, -1))
    sq = _mv.Pad.apply(sq, pad=(0, 0, size // 2, (size - 1) // 2), value=0.0, mode="constant")
    div = _pool.AvgPool.apply(sq, kernel=(size, 1), stride=(1, 1), padding=(0, 0), ceil_mode=False,
                              count_include_pad=True, divisor_override=None)
    div = (div.reshape(input.shape) * alpha + k) ** beta
    return input / div


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with its channels regrouped: channel g * (C / groups) + i moves to i * groups + g.

    >>> import descend
    >>> channel_shuffle(descend.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """
    if input.ndim <= 2:
        raise OpError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                      f"{list(input.shape)}")
    if groups <= 0:
        raise OpError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise OpError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = input.shape[2:]
    x = input.reshape((n, groups, c // groups) + rest).transpose(1, 2)
    return x.reshape(input.shape)

"""Adaptive max pooling, bilinear, embedding bags, instance norm, pixel shuffle, two margin losses and alpha
dropout.

PyTorch's names, arguments and defaults; composed from differentiable ops (adaptive max pooling is one op,
descend/ops/adaptive_max.py). Part of `descend.functional` / `descend.nn.functional`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.functional import _raw, _tensor, batch_norm, embedding
from descend.functional_spatial import _adaptive_sizes, group_norm
from descend.ops import adaptive_max as _am
from descend.ops import elementwise as _ew
from descend.ops import indexing as _ix
from descend.ops import movement as _mv
from descend.ops.errors import OpError, OpTypeError
from descend.ops.loss_functional import _legacy, _reduce
from descend._tensor import Tensor
from descend.ops.inplace import inplace_option

__all__ = ["adaptive_max_pool1d", "adaptive_max_pool2d", "bilinear", "embedding_bag", "instance_norm",
           "pixel_shuffle", "pixel_unshuffle", "hinge_embedding_loss", "multi_margin_loss", "alpha_dropout",
           "feature_alpha_dropout"]


# ---- adaptive max pooling ------------------------------------------------------------------------------

def _adaptive_max_pool(op: str, d: int, input: Tensor, output_size: Any, return_indices: bool) -> Any:
    spatial, out = _adaptive_sizes(op, d, input, output_size)
    x = _mv.unsqueeze(input, -2) if d == 1 else input  # 1-D pooling is 2-D pooling over a height of 1
    size = (1,) + out if d == 1 else out
    y = _am.AdaptiveMaxPool.apply(x, out_size=size)
    y = _mv.squeeze(y, -2) if d == 1 else y
    if not return_indices:
        return y
    # The op's context is only linked to the output under grad; recompute the indices without it.
    ctx = _am.AdaptiveMaxPool()
    ctx.forward(x._data, out_size=size)
    idx = ctx.indices.astype(np.int64)
    return y, Tensor(idx[..., 0, :] if d == 1 else idx)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max of (N, C, L) over output_size windows that tile L as PyTorch's (and their indices into L)."""
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max of (N, C, H, W) over an output_size grid of windows (indices are flat in H * W)."""
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


# ---- bilinear ------------------------------------------------------------------------------------------

def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = input1 @ weight[o] @ input2 + bias[o], over any matching leading dims."""
    _tensor(input1, "bilinear", "input1")
    _tensor(input2, "bilinear", "input2")
    if weight.ndim != 3 or input1.shape[-1:] != weight.shape[1:2] or input2.shape[-1:] != weight.shape[2:]:
        raise OpError(f"bilinear: input1 {input1.shape} and input2 {input2.shape} must end with weight "
                      f"{weight.shape}'s in1_features and in2_features")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise OpError(f"bilinear: input1 {input1.shape} and input2 {input2.shape} must have the same "
                      "leading dims")
    out_f, in1, in2 = weight.shape
    lead = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    # One matmul for every output feature at once: (M, in1) @ (in1, out * in2), then contract in2.
    t = x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    y = (t.reshape(-1, out_f, in2) * _mv.unsqueeze(x2, 1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))


# ---- embedding bags ------------------------------------------------------------------------------------

def _host(a: Any) -> np.ndarray:
    """Indices as a NumPy array (bags are laid out on the host)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _bags(op: str, idx: np.ndarray, offsets: Any, include_last_offset: bool) -> tuple:
    """(flat indices, bag number of each) from a 2-D input or a 1-D input with offsets."""
    if idx.ndim == 2:
        if offsets is not None:
            raise OpError(f"{op}: offsets must be None for a 2-D input {idx.shape}")
        return idx.reshape(-1), np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.shape[0]
    if idx.ndim != 1:
        raise OpError(f"{op}: input must be 1-D or 2-D, got {idx.shape}")
    if offsets is None:
        raise OpError(f"{op}: offsets has to be a 1-D tensor for a 1-D input, got None")
    off = _host(_raw(offsets))
    if off.ndim != 1 or off.dtype.kind not in "iu":
        raise OpError(f"{op}: offsets must be a 1-D integer tensor, got {off.shape} {off.dtype}")
    if off.size and int(off[0]) != 0:
        raise OpError(f"{op}: offsets[0] has to be 0, i.e. the first bag starts at 0; got {int(off[0])}")
    if np.any(np.diff(off) < 0) or (off.size and int(off[-1]) > idx.size):
        raise OpError(f"{op}: offsets must be non-decreasing and within the input's {idx.size} indices")
    starts = off[:-1] if include_last_offset else off
    ends = np.append(starts[1:], off[-1] if include_last_offset else idx.size) if starts.size else starts
    bag = np.repeat(np.arange(starts.size), ends - starts)
    return idx, bag, starts.size


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """Sum, mean or max of the embedding rows in each bag: rows of a 2-D input, or offsets into a 1-D one."""
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise OpError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{op}: scale_grad_by_freq and sparse are not supported")
    if per_sample_weights is not None and mode != "sum":
        raise OpError(f"{op}: per_sample_weights is only supported for mode='sum', got mode={mode!r}")
    idx = _host(_raw(input))
    if idx.dtype.kind not in "iu":
        raise OpTypeError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != idx.shape:
        raise OpError(f"{op}: per_sample_weights {tuple(per_sample_weights.shape)} must have the input's "
                      f"shape {idx.shape}")
    flat, bag, n_bags = _bags(op, idx, offsets, include_last_offset)
    n = weight.shape[0]
    if padding_idx is not None:
        padding_idx %= n
    keep = np.ones(flat.size, dtype=bool) if padding_idx is None else flat != padding_idx
    rows = embedding(Tensor(backend.xp.asarray(flat)), weight, max_norm=max_norm, norm_type=norm_type)
    if per_sample_weights is not None:
        rows = rows * _mv.unsqueeze(per_sample_weights.reshape(-1), 1)
    dt = weight._data.dtype
    if mode == "max":
        # Each bag padded to the longest by repeating its first row: repeats change neither the max nor,
        # once their gradients are summed back, the gradient. Empty bags give zeros, as PyTorch.
        kept = np.flatnonzero(keep)  # grouped by bag, bags in order
        counts = np.bincount(bag[keep], minlength=n_bags)
        width = max(int(counts.max()) if counts.size else 0, 1)
        starts = np.cumsum(counts) - counts
        pos = starts[:, None] + np.arange(width)[None, :] % np.maximum(counts, 1)[:, None]
        pick = kept[np.minimum(pos, kept.size - 1)] if kept.size else np.zeros_like(pos)
        out = rows[backend.xp.asarray(pick)].amax(dim=1)
        return out * Tensor(backend.xp.asarray((counts > 0)[:, None].astype(dt)))
    # Sum and mean: the kept rows (scaled by 1 / bag size for the mean) added into their bags' rows.
    kept, owner = np.flatnonzero(keep), bag[keep]
    if kept.size < flat.size:
        rows = rows[backend.xp.asarray(kept)]
    if mode == "mean":
        size = np.bincount(owner, minlength=n_bags)[owner].astype(dt)
        rows = rows * Tensor(backend.xp.asarray((1 / size)[:, None]))
    zeros = Tensor(backend.xp.zeros((n_bags, weight.shape[1]), dtype=dt))
    return _ix.index_add(zeros, 0, Tensor(backend.xp.asarray(owner)), rows)


# ---- instance norm -------------------------------------------------------------------------------------

def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its positions; running statistics average over the batch."""
    _tensor(input, "instance_norm")
    if input.ndim < 3:
        raise OpError(f"instance_norm: expected input (N, C, ...) with at least one spatial dim, got "
                      f"{input.shape}")
    n, c = input.shape[:2]
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise OpError("instance_norm: running_mean and running_var are required when "
                          "use_input_stats=False")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is None and running_var is None:
        # Group norm with one group per channel is the same normalisation, with no batch size in its graph
        # (so an exported model takes any batch) and the channels-last kernels of group norm.
        return group_norm(input, c, weight, bias, eps)
    # PyTorch's formulation: batch norm of a (1, N * C, ...) view, with the per-channel tensors tiled N times.
    tile = backend.xp.asarray(np.tile(np.arange(c), n))
    w = weight[tile] if weight is not None else None
    b = bias[tile] if bias is not None else None
    rm = Tensor(running_mean._data[tile]) if running_mean is not None else None
    rv = Tensor(running_var._data[tile]) if running_var is not None else None
    y = batch_norm(input.reshape((1, n * c) + input.shape[2:]), rm, rv, w, b, True, momentum, eps)
    if running_mean is not None:
        running_mean._data[...] = rm._data.reshape(n, c).mean(axis=0)
    if running_var is not None:
        running_var._data[...] = rv._data.reshape(n, c).mean(axis=0)
    return y.reshape(input.shape)


# ---- pixel shuffle -------------------------------------------------------------------------------------

def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r², H, W) → (*, C, H r, W r): each group of r² channels becomes an r x r block."""
    r = int(upscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise OpError(f"pixel_shuffle: input {input.shape} must be (*, C * {r}², H, W) for "
                      f"upscale_factor={r}")
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    x = x.permute(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return x.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) → (*, C r², H, W), the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise OpError(f"pixel_unshuffle: input {input.shape} must be (*, C, H * {r}, W * {r}) for "
                      f"downscale_factor={r}")
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    x = x.permute(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return x.reshape(tuple(lead) + (c * r * r, h // r, w // r))


# ---- margin losses -------------------------------------------------------------------------------------

def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """input where target is 1, max(0, margin - input) where target is -1."""
    _tensor(input, "hinge_embedding_loss")
    t = _raw(target)
    zero = input * 0
    hinge = (margin - input).clamp_min(0)
    loss = _ew.Where.apply(t != 1, hinge, zero) + _ew.Where.apply(t != -1, input, zero)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "hinge_embedding_loss")


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Per sample, the mean over classes i != y of max(0, margin - x[y] + x[i])^p (times weight[y])."""
    op = "multi_margin_loss"
    _tensor(input, op)
    if p not in (1, 2):
        raise OpError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    y = _host(_raw(target))
    unbatched = input.ndim == 1
    x = _mv.unsqueeze(input, 0) if unbatched else input
    y = y.reshape(-1)
    if x.ndim != 2 or y.shape[0] != x.shape[0]:
        raise OpError(f"{op}: expected input (N, C) or (C,) and target (N,) or (), got {input.shape} and "
                      f"{tuple(target.shape)}")
    c = x.shape[1]
    if y.dtype.kind not in "iu" or (y.size and (int(y.min()) < 0 or int(y.max()) >= c)):
        raise OpError(f"{op}: target must hold class indices in [0, {c}), got {y.tolist()}")
    if weight is not None and tuple(weight.shape) != (c,):
        raise OpError(f"{op}: weight must have shape ({c},), got {tuple(weight.shape)}")
    xp = backend.xp
    yi = xp.asarray(y)
    x_y = x.gather(1, Tensor(yi[:, None]))
    h = (margin - x_y + x).clamp_min(0)
    if p == 2:
        h = h * h
    others = xp.ones(x.shape, dtype=x._data.dtype)
    others[xp.arange(y.size), yi] = 0  # the target class is not a margin violation
    h = h * Tensor(others)
    if weight is not None:
        # weight is a constant (PyTorch gives it no gradient), in the input's dtype
        h = h * Tensor(weight._data[yi][:, None].astype(x._data.dtype, copy=False))
    loss = h.sum(1) / c
    loss = loss.reshape(()) if unbatched else loss
    return _reduce(loss, _legacy(size_average, reduce, reduction), op)


# ---- alpha dropout (self-normalising networks) -----------------------------------------------------------

_SELU_ALPHA_SCALE = 1.7580993408473766  # SELU's scale * alpha: the value a dropped SELU unit is set to (negated)


def _alpha_dropout(op: str, input: Tensor, p: float, training: bool, feature: bool) -> Tensor:
    """Dropped units go to SELU's saturation value -alpha*scale, then an affine map a*x + b keeps zero mean and
    unit variance (Klambauer et al. 2017), as PyTorch computes it; the gradient is a * mask."""
    if not 0.0 <= p <= 1.0:
        raise OpError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input * 0.0
    if feature and input.ndim < 2:
        raise OpError(f"{op}: expected an input of 2 or more dims (N, C, ...), got {tuple(input.shape)}")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(input.shape)
    keep = (backend.rng().random(shape) >= p).astype(input._data.dtype)
    a = 1.0 / math.sqrt((_SELU_ALPHA_SCALE ** 2 * p + 1) * (1 - p))
    xp = backend.get_array_module(input._data)
    scale = Tensor(xp.asarray(keep * a, dtype=input._data.dtype))
    shift = Tensor(xp.asarray((keep - 1) * _SELU_ALPHA_SCALE * a + _SELU_ALPHA_SCALE * a * p, dtype=input._data.dtype))
    return input * scale + shift


@inplace_option
def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: keeps the self-normalising mean and variance; the identity when not training.

    >>> import descend
    >>> alpha_dropout(descend.ones(3), 0.2, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    return _alpha_dropout("alpha_dropout", input, p, training, feature=False)


@inplace_option
def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (one draw per sample and channel)."""
    return _alpha_dropout("feature_alpha_dropout", input, p, training, feature=True)

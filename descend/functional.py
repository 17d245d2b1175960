"""Functional layers, activations and losses with PyTorch's names, arguments and defaults.

Imported as `descend.functional` or `descend.nn.functional` (`import descend.nn.functional as F`). Each
function checks its arguments, naming the function and the offending shapes, then applies one fused op.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from descend import backend
from descend.ops.args import int_tuple
from descend.ops.inplace import apply_inplace, inplace_option
from descend.ops.errors import OpError, OpTypeError
from descend.ops import api as _api
from descend.ops import conv as _conv
from descend.ops import elementwise as _ew
from descend.ops import linear as _lin
from descend.ops import loss as _loss
from descend.ops import movement as _mv
from descend.ops import norm as _norm
from descend.ops import pool as _pool
from descend.ops.api import logsumexp, sigmoid, tanh  # the same functions as descend.sigmoid, ...
from descend.ops.attention import scaled_dot_product_attention
from descend._tensor import Tensor

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softplus", "softmax", "log_softmax", "logsumexp",
    "pad", "linear", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "dropout", "embedding", "one_hot", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "binary_cross_entropy_with_logits", "binary_cross_entropy", "batch_norm", "layer_norm",
]
__all__ += ["scaled_dot_product_attention"]  # attention (descend/ops/attention.py)


def _tensor(x: Any, op: str, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise OpTypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _raw(x: Any) -> Any:
    """The array inside a Tensor; arrays pass through; None stays None; lists become arrays."""
    if x is None or isinstance(x, Tensor):
        return None if x is None else x._data
    return backend.xp.asarray(x)


_tuple = int_tuple  # an int or n ints, as n ints (PyTorch's _pair/_single)


# ---- activations ---------------------------------------------------------------------------------------

def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); with inplace=True the result is also written into x, as PyTorch's."""
    if inplace:  # (checked here rather than by inplace_option: this one is on every MLP's hot path)
        return apply_inplace(input, _api.relu)
    return _api.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x (written into x with inplace=True)."""
    if inplace:
        return apply_inplace(input, lambda t: _ew.LeakyReLU.apply(t, negative_slope=negative_slope))
    return _ew.LeakyReLU.apply(input, negative_slope=negative_slope)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, through erf) or PyTorch's tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise OpError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ew.GELU.apply(input, approximate=approximate)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    return _ew.Softplus.apply(input, beta=beta, threshold=threshold)


def _legacy_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """descend.softmax, with PyTorch's deprecated implicit dim when dim is None."""
    return _api.softmax(input, _legacy_dim("softmax", input.ndim) if dim is None else dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """descend.log_softmax, with PyTorch's deprecated implicit dim when dim is None."""
    return _api.log_softmax(input, _legacy_dim("log_softmax", input.ndim) if dim is None else dim, dtype)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dims: pad = (left, right) of the last dim, then of the one before, ..."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise OpError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    pad = tuple(int(p) for p in pad)
    if mode == "constant" and any(p < 0 for p in pad) and len(pad) % 2 == 0 and len(pad) // 2 <= input.ndim:
        # A negative width crops that side, as in PyTorch: pad the positive sides, then slice.
        out = _mv.Pad.apply(input, pad=tuple(max(p, 0) for p in pad), value=0.0 if value is None else value,
                            mode=mode)
        index = [slice(None)] * input.ndim
        for i in range(len(pad) // 2):
            lo, hi = pad[2 * i], pad[2 * i + 1]
            if input.shape[input.ndim - 1 - i] + lo + hi <= 0:
                raise OpError(f"pad: the input size {input.shape[input.ndim - 1 - i]} plus padding ({lo}, {hi}) "
                              f"leaves no elements (PyTorch refuses it too)")
            index[input.ndim - 1 - i] = slice(-lo if lo < 0 else None, hi if hi < 0 else None)
        return out[tuple(index)]
    return _mv.Pad.apply(input, pad=pad, value=0.0 if value is None else value, mode=mode)


# ---- linear and convolution ----------------------------------------------------------------------------

def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias over any leading dims, as one op."""
    return _lin.Linear.apply(input, weight, bias)


_SPATIAL = {1: ("L",), 2: ("H", "W")}


def _convolve(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
          dilation: Any, groups: int) -> Tensor:
    _tensor(input, op)
    _tensor(weight, op, "weight")
    spatial = _SPATIAL[d]
    if weight.ndim != d + 2:
        raise OpError(f"{op}: weight must be {d + 2}-D (out_channels, in_channels/groups, "
                         f"{', '.join('k' + s for s in spatial)}), got {weight.shape}")
    unbatched = input.ndim == d + 1
    if input.ndim not in (d + 1, d + 2):
        raise OpError(f"{op}: expected input (N, C, {', '.join(spatial)}) or (C, {', '.join(spatial)}), "
                         f"got {input.shape}")
    x = _mv.unsqueeze(input, 0) if unbatched else input
    o, cg, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    if groups < 1 or o % groups:
        raise OpError(f"{op}: out_channels {o} of weight {weight.shape} must be divisible by groups {groups}")
    if x.shape[1] != cg * groups:
        raise OpError(f"{op}: input {input.shape} has {x.shape[1]} channels but weight {weight.shape} with "
                         f"groups={groups} expects {cg * groups}")
    if bias is not None and bias.shape != (o,):
        raise OpError(f"{op}: bias must have shape ({o},), got {bias.shape}")
    dtypes = {str(t.dtype) for t in (input, weight, bias) if t is not None}
    if len(dtypes) > 1:
        raise OpTypeError(f"{op}: input dtype {input.dtype} and weight dtype {weight.dtype}"
                        + (f" (bias {bias.dtype})" if bias is not None else "") + " differ; cast with .to(...)")
    stride = _tuple(stride, d, op, "stride")
    dilation = _tuple(dilation, d, op, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise OpError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride {stride})")
            # PyTorch puts the odd extra element of padding on the right.
            totals = [dl * (k - 1) for dl, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
        else:
            raise OpError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    else:
        pads = tuple((p, p) for p in _tuple(padding, d, op, "padding"))
    if min(stride) < 1 or min(dilation) < 1 or min(p for pair in pads for p in pair) < 0:
        raise OpError(f"{op}: stride {stride} and dilation {dilation} must be positive, padding non-negative")
    for i in range(d):
        span = x.shape[2 + i] + sum(pads[i])
        if span < dilation[i] * (kernel[i] - 1) + 1:
            raise OpError(f"{op}: input {input.shape} padded by {pads[i]} in dim {2 + i} is smaller than the "
                             f"kernel {tuple(kernel)} (dilation {dilation})")
    out = _conv.ConvNd.apply(x, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return _mv.squeeze(out, 0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) with weight (O, C/groups, k)."""
    return _convolve("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) with weight (O, C/groups, kh, kw)."""
    return _convolve("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


# ---- pooling -------------------------------------------------------------------------------------------

def _pool_args(op: str, d: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any) -> tuple:
    _tensor(input, op)
    spatial = _SPATIAL[d]
    if input.ndim not in (d + 1, d + 2):
        raise OpError(f"{op}: expected input (N, C, {', '.join(spatial)}) or (C, {', '.join(spatial)}), "
                         f"got {input.shape}")
    kernel = _tuple(kernel_size, d, op, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _tuple(stride, d, op, "stride")
    padding = _tuple(padding, d, op, "padding")
    dilation = _tuple(dilation, d, op, "dilation")
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise OpError(f"{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} must be positive")
    for p, k, dl in zip(padding, kernel, dilation):
        if p < 0 or p > (dl * (k - 1) + 1) // 2:
            raise OpError(f"{op}: padding {padding} should be at most half of the (dilated) kernel {kernel}")
    unbatched = input.ndim == d + 1
    x = _mv.unsqueeze(input, 0) if unbatched else input
    for i in range(d):
        if x.shape[2 + i] + 2 * padding[i] < dilation[i] * (kernel[i] - 1) + 1:
            raise OpError(f"{op}: input {input.shape} is smaller than the kernel {kernel} (padding {padding})")
    return x, unbatched, kernel, stride, padding, dilation


def _max_pool(op: str, d: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, return_indices: bool) -> Any:
    x, unbatched, kernel, stride, padding, dilation = _pool_args(op, d, input, kernel_size, stride, padding,
                                                                 dilation)
    out = _pool.MaxPool.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                              ceil_mode=ceil_mode)
    if not return_indices:
        return _mv.squeeze(out, 0) if unbatched else out
    # The op's context is only linked to the output under grad; recompute the indices without it.
    ctx = _pool.MaxPool()
    ctx.forward(x._data, kernel=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    idx = Tensor(ctx.indices())
    if unbatched:
        return _mv.squeeze(out, 0), _mv.squeeze(idx, 0)
    return out, idx


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Maxima over windows of (N, C, L)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Maxima over windows of (N, C, H, W)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(op: str, d: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
              count_include_pad: bool, divisor_override: int | None) -> Tensor:
    x, unbatched, kernel, stride, padding, _ = _pool_args(op, d, input, kernel_size, stride, padding, 1)
    if divisor_override is not None and divisor_override <= 0:
        raise OpError(f"{op}: divisor_override must be positive, got {divisor_override}")
    out = _pool.AvgPool.apply(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                              count_include_pad=count_include_pad, divisor_override=divisor_override)
    return _mv.squeeze(out, 0) if unbatched else out


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Means over windows of (N, C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Means over windows of (N, C, H, W)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---- dropout and embedding -----------------------------------------------------------------------------

@inplace_option
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise OpError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    xp = backend.get_array_module(input._data)
    mask = _lin.dropout_mask(backend.rng(), input.shape, p, input.dtype, xp)
    return _lin.Dropout.apply(input, mask=mask)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0) -> Tensor:
    """Rows of weight picked by integer indices; the padding_idx row gets no gradient."""
    idx = _raw(input)
    if idx.dtype.kind not in "iu":
        raise OpTypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise OpError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    n = weight.shape[0]
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < -n else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings")
    idx = idx % n if idx.size and int(idx.min()) < 0 else idx
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise OpError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({n})")
        padding_idx %= n
    if max_norm is not None:
        # Renormalise the referenced rows in place, outside the graph, as PyTorch does.
        xp = backend.get_array_module(weight._data)
        rows = xp.unique(idx.reshape(-1))
        norms = (xp.abs(weight._data[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(weight.dtype)
        weight._data[rows] *= scale[:, None]
    return _lin.Embedding.apply(weight, indices=idx, padding_idx=padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size num_classes (max + 1 when -1)."""
    idx = _raw(tensor)
    if idx.dtype.kind not in "iu":
        raise OpTypeError(f"one_hot: expected an integer tensor, got dtype {idx.dtype}")
    xp = backend.get_array_module(idx)
    n = int(idx.max()) + 1 if num_classes == -1 else num_classes
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise OpError(f"one_hot: class values must be in [0, {n}), got range [{int(idx.min())}, "
                         f"{int(idx.max())}]")
    return Tensor((idx[..., None] == xp.arange(n)).astype(np.int64))


# ---- losses --------------------------------------------------------------------------------------------

def _unbatched_class_input(op: str, input: Tensor, target: Tensor) -> tuple:
    """PyTorch accepts a single sample (C,) with a target () or (C,): add the batch dim."""
    if input.ndim == 1:
        return _mv.unsqueeze(input, 0), _mv.unsqueeze(target, 0), True
    return input, target, False


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over dim 1 and NLL in one op; target holds class indices or class probabilities."""
    _loss.check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise OpError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x, t, unbatched = _unbatched_class_input("cross_entropy", _tensor(input, "cross_entropy"),
                                             _tensor(target, "cross_entropy", "target"))
    if t.dtype.kind == "f" and t.dtype != x.dtype:
        raise OpTypeError(f"cross_entropy: input dtype {x.dtype} and target dtype {t.dtype} differ")
    out = _loss.CrossEntropy.apply(x, t, weight=_raw(weight), ignore_index=ignore_index, reduction=reduction,
                                   label_smoothing=label_smoothing)
    return _mv.squeeze(out, 0) if unbatched and reduction == "none" else out


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-input[i, target[i]] weighted, averaged over the weights of non-ignored targets."""
    _loss.check_reduction("nll_loss", reduction)
    x, t, unbatched = _unbatched_class_input("nll_loss", _tensor(input, "nll_loss"),
                                             _tensor(target, "nll_loss", "target"))
    out = _loss.NLLLoss.apply(x, t, weight=_raw(weight), ignore_index=ignore_index, reduction=reduction)
    return _mv.squeeze(out, 0) if unbatched and reduction == "none" else out


def _pointwise_loss(op: str, cls: type, input: Tensor, target: Tensor, reduction: str) -> Tensor:
    _loss.check_reduction(op, reduction)
    _tensor(input, op)
    _tensor(target, op, "target")
    if input.shape != target.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise OpError(f"{op}: input {input.shape} and target {target.shape} cannot be broadcast "
                             "together") from None
        warnings.warn(f"{op}: using a target size {target.shape} that is different to the input size "
                      f"{input.shape}; they will be broadcast", stacklevel=3)
    # PyTorch's promotion: an integer or bool operand takes the floating one's dtype (NumPy would widen
    # float32 with int64 to float64). Integer tensors never require grad, so a raw cast loses nothing.
    a, b = input._data.dtype, target._data.dtype
    if b.kind in "biu" and a.kind in "fc":
        target = Tensor(target._data.astype(a))
    elif a.kind in "biu" and b.kind in "fc":
        input = Tensor(input._data.astype(b))
    return cls.apply(input, target, reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of squared differences."""
    return _pointwise_loss("mse_loss", _loss.MSELoss, input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of absolute differences."""
    return _pointwise_loss("l1_loss", _loss.L1Loss, input, target, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid and binary cross-entropy in one stable op; pos_weight scales the positive term per class."""
    _loss.check_reduction("binary_cross_entropy_with_logits", reduction)
    return _loss.BinaryCrossEntropyWithLogits.apply(input, target, weight=_raw(weight),
                                                    pos_weight=_raw(pos_weight), reduction=reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities in [0, 1], logs clamped at -100."""
    _loss.check_reduction("binary_cross_entropy", reduction)
    return _loss.BinaryCrossEntropy.apply(input, target, weight=_raw(weight), reduction=reduction)


# ---- normalisation -------------------------------------------------------------------------------------

def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise per channel (dim 1); in training use batch statistics and update the running ones in place."""
    _tensor(input, "batch_norm")
    if input.ndim < 2:
        raise OpError(f"batch_norm: expected input (N, C, ...), got {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise OpError(f"batch_norm: {name} must have shape ({c},) for input {input.shape}, "
                             f"got {tuple(t.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise OpError("batch_norm: running_mean and running_var are required when training=False")
    return _norm.BatchNorm.apply(input, weight, bias, running_mean=_raw(running_mean),
                                 running_var=_raw(running_var), training=training, momentum=momentum, eps=eps)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing dims given by normalized_shape, then scale and shift."""
    _tensor(input, "layer_norm")
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(s) for s in normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim:
        raise OpError(f"layer_norm: input {input.shape} does not end with normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise OpError(f"layer_norm: {name} must have shape {shape}, got {tuple(t.shape)}")
    return _norm.LayerNorm.apply(input, weight, bias, n_dims=len(shape), eps=eps)


# ---- transposed convolution, resampling, group norm: descend/functional_spatial.py -------------------------

# ---- activations, distances, channel dropout and losses composed from the ops above (descend.ops.*) -----
from descend.ops.activations import (celu, elu, glu, gumbel_softmax, hardshrink, hardsigmoid, hardswish,  # noqa: E402
                                     hardtanh, logsigmoid, mish, prelu, relu6, selu, silu, softmin,
                                     softshrink, softsign, tanhshrink, threshold)
from descend.ops.channel_dropout import dropout1d, dropout2d  # noqa: E402
from descend.ops.distance import cosine_similarity, normalize, pairwise_distance  # noqa: E402
from descend.ops.loss_functional import (cosine_embedding_loss, gaussian_nll_loss, huber_loss,  # noqa: E402
                                         kl_div, margin_ranking_loss, poisson_nll_loss, smooth_l1_loss,
                                         soft_margin_loss, triplet_margin_loss)

__all__ += [
    "elu", "selu", "celu", "silu", "hardtanh", "relu6", "hardswish", "hardsigmoid", "mish", "softmin",
    "softsign", "tanhshrink", "logsigmoid", "softshrink", "hardshrink", "threshold", "glu", "gumbel_softmax", "prelu",
    "dropout1d", "dropout2d", "normalize", "cosine_similarity", "pairwise_distance",
    "smooth_l1_loss", "huber_loss", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
    "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss", "triplet_margin_loss",
]

from descend.functional_spatial import (adaptive_avg_pool1d, adaptive_avg_pool2d, conv_transpose1d,  # noqa: E402
                                        conv_transpose2d, fold, group_norm, interpolate, unfold)

__all__ += ["conv_transpose1d", "conv_transpose2d", "interpolate", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
            "group_norm", "unfold", "fold"]

from descend.functional_extra import (adaptive_max_pool1d, adaptive_max_pool2d, alpha_dropout,  # noqa: E402
                                      bilinear, embedding_bag, feature_alpha_dropout, hinge_embedding_loss,
                                      instance_norm, multi_margin_loss, pixel_shuffle, pixel_unshuffle)

__all__ += ["adaptive_max_pool1d", "adaptive_max_pool2d", "bilinear", "embedding_bag", "instance_norm",
            "pixel_shuffle", "pixel_unshuffle", "hinge_embedding_loss", "multi_margin_loss", "alpha_dropout",
            "feature_alpha_dropout"]

from descend.ops.loss_more import (ctc_loss, multilabel_margin_loss, multilabel_soft_margin_loss, pdist,  # noqa: E402
                                   triplet_margin_with_distance_loss)
from descend.ops.grid_sample import affine_grid, grid_sample  # noqa: E402
from descend.ops.rms_norm import rms_norm  # noqa: E402
from descend.ops.spatial_more import (channel_shuffle, local_response_norm, lp_pool1d, lp_pool2d,  # noqa: E402
                                      max_unpool1d, max_unpool2d, rrelu)

__all__ += ["rrelu", "lp_pool1d", "lp_pool2d", "max_unpool1d", "max_unpool2d", "local_response_norm",
            "channel_shuffle", "multilabel_margin_loss", "multilabel_soft_margin_loss",
            "triplet_margin_with_distance_loss", "pdist", "rms_norm", "affine_grid", "grid_sample", "ctc_loss"]

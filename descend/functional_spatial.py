"""Transposed convolution, resampling (interpolate, adaptive pooling), group norm and unfold/fold: the spatial
functionals, re-exported by descend.functional (`F.interpolate`, `F.conv_transpose2d`, ...)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.functional import _SPATIAL, _tensor, _tuple, pad
from descend.ops.errors import OpError, OpTypeError
from descend.ops import conv as _conv
from descend.ops import conv_transpose as _convt
from descend.ops import movement as _mv
from descend.ops import norm as _norm
from descend.ops import resample as _rs
from descend._tensor import Tensor

__all__ = ['conv_transpose1d', 'conv_transpose2d', 'interpolate', 'adaptive_avg_pool1d', 'adaptive_avg_pool2d', 'group_norm',
           'unfold', 'fold']


# ---- transposed convolution, resampling, group norm ---------------------------------------------------------



def _conv_transpose(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
                    padding: Any, output_padding: Any, groups: int, dilation: Any) -> Tensor:
    _tensor(input, op)
    _tensor(weight, op, "weight")
    spatial = _SPATIAL[d]
    if weight.ndim != d + 2:
        raise OpError(f"{op}: weight must be {d + 2}-D (in_channels, out_channels/groups, "
                         f"{', '.join('k' + s for s in spatial)}), got {weight.shape}")
    if input.ndim not in (d + 1, d + 2):
        raise OpError(f"{op}: expected input (N, C, {', '.join(spatial)}) or (C, {', '.join(spatial)}), "
                         f"got {input.shape}")
    unbatched = input.ndim == d + 1
    x = _mv.unsqueeze(input, 0) if unbatched else input
    c_in, kernel = weight.shape[0], weight.shape[2:]
    if groups < 1 or c_in % groups:
        raise OpError(f"{op}: in_channels {c_in} of weight {weight.shape} must be divisible by groups {groups}")
    if x.shape[1] != c_in:
        raise OpError(f"{op}: input {input.shape} has {x.shape[1]} channels but weight {weight.shape} "
                         f"expects {c_in}")
    c_out = weight.shape[1] * groups
    if bias is not None and bias.shape != (c_out,):
        raise OpError(f"{op}: bias must have shape ({c_out},), got {bias.shape}")
    if len({str(t.dtype) for t in (input, weight, bias) if t is not None}) > 1:
        raise OpTypeError(f"{op}: input dtype {input.dtype} and weight dtype {weight.dtype} differ; cast with .to(...)")
    stride = _tuple(stride, d, op, "stride")
    padding = _tuple(padding, d, op, "padding")
    extra = _tuple(output_padding, d, op, "output_padding")
    dilation = _tuple(dilation, d, op, "dilation")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(extra) < 0:
        raise OpError(f"{op}: stride {stride} and dilation {dilation} must be positive, padding {padding} "
                         f"and output_padding {extra} non-negative")
    for e, s, dl in zip(extra, stride, dilation):
        if e >= s and e >= dl:
            raise OpError(f"{op}: output_padding {extra} must be smaller than either stride {stride} or "
                             f"dilation {dilation}")
    out = [_convt.transpose_out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], padding[i], dilation[i],
                                     extra[i]) for i in range(d)]
    if min(out) < 1:
        raise OpError(f"{op}: input {input.shape} with kernel {tuple(kernel)}, stride {stride} and padding "
                         f"{padding} gives an empty output {tuple(out)}")
    y = _convt.ConvTransposeNd.apply(x, weight, bias, stride=stride, padding=tuple((p, p) for p in padding),
                                     output_padding=extra, dilation=dilation, groups=groups)
    return _mv.squeeze(y, 0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) with weight (C_in, C_out/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution of (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


_INTERP_MODES = {"nearest": 0, "nearest-exact": 0, "area": 0, "linear": 1, "bilinear": 2, "bicubic": 2}


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) to `size` or by `scale_factor`: nearest, (bi)linear, bicubic or area."""
    _tensor(input, "interpolate")
    if mode not in _INTERP_MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (use one of "
                                  f"{', '.join(_INTERP_MODES)})")
    d = input.ndim - 2
    if d not in (1, 2) or (_INTERP_MODES[mode] and _INTERP_MODES[mode] != d):
        want = {1: "3-D (N, C, L)", 2: "4-D (N, C, H, W)"}.get(_INTERP_MODES[mode], "3-D or 4-D")
        raise OpError(f"interpolate: mode {mode!r} expects {want} input, got {input.shape}")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear and mode != "bicubic":
        raise OpError("interpolate: align_corners can only be set with the interpolating modes linear | "
                         f"bilinear, not {mode!r}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise OpError("interpolate: give exactly one of size and scale_factor")
    spatial = input.shape[2:]
    if size is not None:
        out = _tuple(size, d, "interpolate", "size")
        scales = [n / o for n, o in zip(spatial, out)]
    else:
        factors = [float(f) for f in ((scale_factor,) * d if isinstance(scale_factor, (int, float))
                                      else scale_factor)]
        if len(factors) != d:
            raise OpError(f"interpolate: scale_factor must be a number or {d} numbers, got {scale_factor}")
        out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
    if min(out) < 1:
        raise OpError(f"interpolate: output size {tuple(out)} for input {input.shape} must be positive")
    if size is None:
        scales = [n / o if recompute_scale_factor else 1.0 / f for n, o, f in zip(spatial, out, factors)]
    maps = []
    for n, o, s in zip(spatial, out, scales):
        if mode == "area":
            maps.append(_rs.adaptive_avg_matrix(n, o))
        elif linear:
            maps.append(_rs.linear_matrix(n, o, s, bool(align_corners)))
        elif mode == "bicubic":
            maps.append(_rs.cubic_matrix(n, o, s, bool(align_corners)))
        else:
            maps.append(_rs.nearest_matrix(n, o, s, exact=mode == "nearest-exact"))
    return _rs.Resample.apply(input, maps=tuple(maps))


def _adaptive_sizes(op: str, d: int, input: Tensor, output_size: Any) -> tuple[tuple, tuple]:
    """The input's d spatial sizes and the output's (None in output_size keeps the input's), checked."""
    _tensor(input, op)
    if input.ndim not in (d + 1, d + 2):
        spatial = ", ".join(_SPATIAL[d])
        raise OpError(f"{op}: expected input (N, C, {spatial}) or (C, {spatial}), got {input.shape}")
    sizes = (output_size,) * d if output_size is None or isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    if len(sizes) != d:
        raise OpError(f"{op}: output_size must be an int or {d} ints, got {output_size}")
    spatial = input.shape[input.ndim - d:]
    out = tuple(n if o is None else int(o) for n, o in zip(spatial, sizes))
    if min(out) < 1 or min(spatial) < 1:
        raise OpError(f"{op}: output_size {out} and input {input.shape} must be positive")
    return spatial, out


def _adaptive_avg_pool(op: str, d: int, input: Tensor, output_size: Any) -> Tensor:
    spatial, out = _adaptive_sizes(op, d, input, output_size)
    maps = tuple(_rs.adaptive_avg_matrix(n, o) for n, o in zip(spatial, out))
    return _rs.Resample.apply(input, maps=maps)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average (N, C, L) over output_size windows that tile L as evenly as PyTorch's."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average (N, C, H, W) over an output_size grid of windows (a dim given as None keeps its size)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample over groups of channels (and all positions), then scale and shift per channel."""
    _tensor(input, "group_norm")
    if input.ndim < 2:
        raise OpError(f"group_norm: expected input (N, C, ...), got {input.shape}")
    c = input.shape[1]
    if num_groups < 1 or c % num_groups:
        raise OpError(f"group_norm: {c} channels of input {input.shape} are not divisible into "
                         f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise OpError(f"group_norm: {name} must have shape ({c},), got {tuple(t.shape)}")
    return _norm.GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=eps)


def _pair(v: Any) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sliding local blocks as columns (im2col): (N, C, H, W) -> (N, C * kh * kw, L), each column one block,
    rows in (channel, kernel row, kernel column) order as PyTorch's; composed of views, so gradients (and
    gradients of gradients) follow.

    >>> import descend
    >>> unfold(descend.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)[0, :, 0].tolist()
    [0.0, 1.0, 4.0, 5.0]
    """
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(_pair, (kernel_size, dilation, padding, stride))
    batched = input.ndim == 4
    if input.ndim not in (3, 4):
        raise OpError(f"unfold: expected a 3-D or 4-D input (N, C, H, W), got {tuple(input.shape)}")
    x = input if batched else _mv.unsqueeze(input, 0)
    if ph or pw:
        x = pad(x, (pw, pw, ph, ph))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if x.shape[2] < span_h or x.shape[3] < span_w:
        raise OpError(f"unfold: the padded input {tuple(x.shape[2:])} is smaller than the dilated kernel "
                      f"({span_h}, {span_w})")
    blocks = x.unfold(2, span_h, sh).unfold(3, span_w, sw)[..., ::dh, ::dw]  # (N, C, OH, OW, kh, kw)
    n, c, oh, ow = blocks.shape[:4]
    cols = blocks.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
    return cols if batched else _mv.squeeze(cols, 0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """The adjoint of `unfold` (col2im): columns (N, C * kh * kw, L) summed back into (N, C, H, W), where
    overlapping blocks add up, as PyTorch's fold.

    >>> import descend
    >>> x = descend.ones(1, 1, 3, 3)
    >>> fold(unfold(x, 2), (3, 3), 2)[0, 0].tolist()  # how many 2x2 blocks cover each pixel
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(_pair, (output_size, kernel_size, dilation, padding, stride))
    batched = input.ndim == 3
    if input.ndim not in (2, 3):
        raise OpError(f"fold: expected a 2-D or 3-D input (N, C * kh * kw, L), got {tuple(input.shape)}")
    cols = input if batched else _mv.unsqueeze(input, 0)
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    n, ckk, length = cols.shape
    if ckk % (kh * kw) or length != oh * ow or oh < 1 or ow < 1:
        raise OpError(f"fold: input {tuple(input.shape)} does not hold (C * {kh * kw}, {max(oh, 0) * max(ow, 0)}) "
                      f"columns for output_size {(h, w)}, kernel {(kh, kw)}")
    c = ckk // (kh * kw)
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    out = Tensor(get_array_module(cols._data).zeros((n, c, h + 2 * ph, w + 2 * pw), cols._data.dtype))
    for ky in range(kh):  # each kernel offset's slab added onto the positions its blocks cover (in place on
        for kx in range(kw):  # views of `out`, which autograd records, so the gradient is unfold's)
            out[:, :, ky * dh:ky * dh + sh * (oh - 1) + 1:sh, kx * dw:kx * dw + sw * (ow - 1) + 1:sw] += \
                blocks[:, :, ky, kx]
    out = out[:, :, ph:ph + h, pw:pw + w]
    return out if batched else _mv.squeeze(out, 0)

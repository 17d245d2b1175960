"""Max and average pooling over 1 or 2 spatial dims, as passes over strided views (one per kernel offset)."""

from __future__ import annotations

import itertools

import numpy as np

from descend.backend import get_array_module
from descend.ops import kernels
from descend.ops.conv import from_channels_last, interior, offset_slices, padded_channels_last
from descend._tensor import Function


def pool_out_size(size: int, k: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's rule: with ceil_mode the last window must still start inside the input or left padding."""
    span = size + 2 * pad - dilation * (k - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pads(x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, out: tuple) -> tuple:
    """(lo, hi) per spatial dim: the requested padding, plus room on the right for ceil_mode's last window."""
    pads = []
    for i, n in enumerate(x_shape[2:]):
        need = (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        pads.append((padding[i], max(need - n - padding[i], padding[i])))
    return tuple(pads)


def _windows(xpad, kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """For each kernel offset, the (N, *out, C) view of the input values it sees."""
    for offset in itertools.product(*(range(k) for k in kernel)):
        yield offset, xpad[offset_slices(offset, stride, dilation, out)]


def _tiles(pad_shape: tuple, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> bool:
    """Whether the windows cover the padded input exactly once (kernel == stride), so backward can write
    each window's slab in place instead of adding into zeros."""
    return all(s == k and d == 1 and o * s == n
               for n, k, s, d, o in zip(pad_shape[1:-1], kernel, stride, dilation, out))


class MaxPool(Function):
    """Window maxima; the gradient goes to the first maximal element of each window (or its last NaN),
    as in PyTorch.

    Forward is one np.maximum pass per kernel offset. Backward finds each window's first maximum by scanning
    the offsets in order, so forward (and inference) pays nothing for the bookkeeping.
    """

    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False):
        xp = get_array_module(x)
        d = len(kernel)
        out = tuple(pool_out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
                    for i in range(d))
        pads = _pads(x.shape, kernel, stride, padding, dilation, out)
        xpad = padded_channels_last(x, pads, value=-np.inf)
        self.arg = None
        tiles = (d == 2 and tuple(kernel) == tuple(stride) and tuple(dilation) == (1, 1)
                 and kernel[0] * kernel[1] <= 256 and not any(lo or hi for lo, hi in pads))
        compiled = kernels.get("max_pool_tiles", xpad) if tiles else None
        if compiled is not None:
            # One pass that also keeps each window's argmax, so backward is one pass too.
            best = np.empty((x.shape[0],) + out + (x.shape[1],), dtype=x.dtype)
            self.arg = np.empty(best.shape, dtype=np.uint8)
            compiled(xpad, kernel[0], kernel[1], best, self.arg)
        else:
            best = None
            for _, v in _windows(xpad, kernel, stride, dilation, out):
                best = v.copy(order="K") if best is None else xp.maximum(best, v, out=best)  # NaN propagates
        self.xpad, self.best, self.x_shape, self.pads = xpad, best, x.shape, pads
        self.kernel, self.stride, self.dilation, self.out = kernel, stride, dilation, out
        return from_channels_last(best)

    def _first_max_masks(self):
        """For each kernel offset in order, the mask of windows whose first maximum sits at that offset."""
        xp = get_array_module(self.best)
        best = self.best
        windows = list(_windows(self.xpad, self.kernel, self.stride, self.dilation, self.out))
        nan_hits = [None] * len(windows)
        nan_left = xp.isnan(best)
        if nan_left.any():
            # PyTorch's scan lets every NaN replace the running max, so the last NaN of a window wins.
            for k in reversed(range(len(windows))):
                nan_hits[k] = xp.isnan(windows[k][1]) & nan_left
                nan_left &= ~nan_hits[k]
        free = xp.ones(best.shape, dtype=bool)
        hit = xp.empty(best.shape, dtype=bool)
        for k, (offset, v) in enumerate(windows):
            xp.equal(v, best, out=hit)
            if nan_hits[k] is not None:
                hit |= nan_hits[k]
            hit &= free
            if k + 1 < len(windows):
                free ^= hit
            yield offset, hit

    def backward(self, g):
        xp = get_array_module(g)
        d = len(self.kernel)
        gcl = g.transpose((0,) + tuple(range(2, 2 + d)) + (1,))
        if self.arg is not None and kernels.get("max_pool_tiles_backward", self.xpad, g) is not None:
            return self._backward_tiles(np.ascontiguousarray(gcl))
        tiles = _tiles(self.xpad.shape, self.kernel, self.stride, self.dilation, self.out)
        gpad = (xp.empty if tiles else xp.zeros)(self.xpad.shape, dtype=g.dtype)
        for offset, hit in self._first_max_masks():
            region = gpad[offset_slices(offset, self.stride, self.dilation, self.out)]
            if tiles:
                xp.multiply(gcl, hit, out=region)
            else:
                region += gcl * hit
        return from_channels_last(gpad[interior(self.pads, self.x_shape[2:])])

    def _backward_tiles(self, gcl):
        """The compiled pass: each window's gradient to its argmax, zeros around it and past the last window."""
        (kh, kw), (oh, ow) = self.kernel, self.out
        gx = np.empty(self.xpad.shape, dtype=gcl.dtype)
        kernels.loop("max_pool_tiles_backward")(gcl, self.arg, kh, kw, gx)
        gx[:, oh * kh:] = 0
        gx[:, :, ow * kw:] = 0
        return from_channels_last(gx)

    def indices(self) -> object:
        """Flat positions (h * W + w) of the maxima in each input plane, as PyTorch's return_indices gives."""
        xp = get_array_module(self.best)
        flat = xp.zeros(self.best.shape, dtype=np.int64)
        for offset, hit in self._first_max_masks():
            pos = 0
            for i, o in enumerate(offset):
                start = xp.arange(self.out[i], dtype=np.int64) * self.stride[i] + o * self.dilation[i]
                start = start - self.pads[i][0]
                shape = (1,) + tuple(-1 if j == i else 1 for j in range(len(offset))) + (1,)
                pos = pos * self.x_shape[2 + i] + start.reshape(shape)
            flat += hit * pos
        return from_channels_last(flat)


class AvgPool(Function):
    """Window means; count_include_pad counts the explicit zero padding (not ceil_mode's overhang)."""

    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        xp = get_array_module(x)
        d = len(kernel)
        ones = (1,) * d
        out = tuple(pool_out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], 1, ceil_mode)
                    for i in range(d))
        pads = _pads(x.shape, kernel, stride, padding, ones, out)
        xpad = padded_channels_last(x, pads)
        total = None
        for _, v in _windows(xpad, kernel, stride, ones, out):
            total = v.copy(order="K") if total is None else xp.add(total, v, out=total)
        if divisor_override:
            div = xp.asarray(float(divisor_override), dtype=x.dtype)
        else:
            div = xp.asarray(_divisor(x.shape[2:], kernel, stride, padding, out, count_include_pad), dtype=x.dtype)
            div = div.reshape((1,) + out + (1,))
        self.inv = 1 / div
        self.x_shape, self.pad_shape, self.pads = x.shape, xpad.shape, pads
        self.kernel, self.stride, self.out = kernel, stride, out
        total *= self.inv
        return from_channels_last(total)

    def backward(self, g):
        xp = get_array_module(g)
        d = len(self.kernel)
        ones = (1,) * d
        share = g.transpose((0,) + tuple(range(2, 2 + d)) + (1,)) * self.inv
        tiles = _tiles(self.pad_shape, self.kernel, self.stride, ones, self.out)
        gpad = (xp.empty if tiles else xp.zeros)(self.pad_shape, dtype=g.dtype)
        for _, region in _windows(gpad, self.kernel, self.stride, ones, self.out):
            if tiles:
                region[...] = share
            else:
                region += share
        return from_channels_last(gpad[interior(self.pads, self.x_shape[2:])])


def _divisor(spatial: tuple, kernel: tuple, stride: tuple, padding: tuple, out: tuple,
             count_include_pad: bool) -> np.ndarray:
    """Per-window element counts, a product of per-dim counts: windows are clipped to the padded input
    (count_include_pad) or to the input itself."""
    div = np.ones((), dtype=np.float64)
    for n, k, s, p, o in zip(spatial, kernel, stride, padding, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        div = np.multiply.outer(div, (end - start).astype(np.float64))
    return div

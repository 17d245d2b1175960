"""Convolution over 1 or 2 (or more) spatial dims, lowered to one large GEMM through a strided window view.

Layout: the input is read channels-last, so the im2col matrix has one row per output pixel,
(N * out_pixels, kernel_pixels * C), and its copy moves runs of kw * C contiguous numbers. The GEMM then
writes (N * out_pixels, O), i.e. channels-last memory, which we hand back as an (N, O, *out) view without
copying; elementwise ops, pooling and the next convolution keep that layout, so no layer transposes.
Backward is two GEMMs plus col2im, which adds one strided slice per kernel offset (never loops over pixels).
"""

from __future__ import annotations

import itertools

from descend.backend import get_array_module
from descend.tensor import Function


def as_strided(xp, a, shape: tuple, strides: tuple):
    """A read-only window view of `a` (NumPy and CuPy both provide xp.lib.stride_tricks.as_strided)."""
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def to_channels_last(x):
    """View (N, C, *spatial) as (N, *spatial, C); free, and contiguous when x came from a conv."""
    return x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))


def from_channels_last(y):
    """View (N, *spatial, C) as (N, C, *spatial)."""
    return y.transpose((0, y.ndim - 1) + tuple(range(1, y.ndim - 1)))


def padded_channels_last(x, pads: tuple, value: float = 0.0):
    """(N, *padded spatial, C) copy of x with `pads` ((lo, hi) per spatial dim); a view when no padding."""
    xcl = to_channels_last(x)
    if not any(lo or hi for lo, hi in pads):
        return xcl
    xp = get_array_module(x)
    shape = (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads)) + (x.shape[1],)
    buf = xp.full(shape, value, dtype=x.dtype)
    buf[interior(pads, x.shape[2:])] = xcl
    return buf


def interior(pads: tuple, spatial: tuple) -> tuple:
    """Index of the unpadded region inside a padded channels-last array."""
    return (slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, spatial)) + (slice(None),)


def out_size(size: int, k: int, stride: int, lo: int, hi: int, dilation: int) -> int:
    return (size + lo + hi - dilation * (k - 1) - 1) // stride + 1


def offset_slices(offset: tuple, stride: tuple, dilation: tuple, out: tuple) -> tuple:
    """Index of the input positions that kernel offset `offset` touches, for every output position."""
    return (slice(None),) + tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                                  for o, s, d, n in zip(offset, stride, dilation, out))


class ConvNd(Function):
    """Cross-correlation of (N, C, *spatial) with weight (O, C/groups, *kernel), plus bias."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        xp = get_array_module(x, w)
        n, c = x.shape[:2]
        o, kernel = w.shape[0], w.shape[2:]
        d, g = len(kernel), groups
        cg, og = c // g, o // g
        xpad = padded_channels_last(x, padding)
        out = tuple(out_size(x.shape[2 + i], kernel[i], stride[i], *padding[i], dilation[i]) for i in range(d))
        # im2col as a strided view (N, *out, G, *kernel, C/G), then one copy into the GEMM operand.
        s = xpad.strides
        view = as_strided(xp, xpad, (n,) + out + (g,) + kernel + (cg,),
                          (s[0],) + tuple(s[1 + i] * stride[i] for i in range(d)) + (s[-1] * cg,)
                          + tuple(s[1 + i] * dilation[i] for i in range(d)) + (s[-1],))
        m, kg = n * _prod(out), cg * _prod(kernel)
        cols = xp.ascontiguousarray(view).reshape(m, g, kg)
        # Weight as (G, kernel*C/G, O/G), rows in the same (kernel, channel) order as the columns.
        wmat = w.reshape((g, og, cg) + kernel).transpose((0,) + tuple(range(3, 3 + d)) + (2, 1))
        wmat = xp.ascontiguousarray(wmat).reshape(g, kg, og)
        if g == 1:
            y = cols.reshape(m, kg) @ wmat[0]
        else:
            y = xp.matmul(cols.transpose(1, 0, 2), wmat).transpose(1, 0, 2).reshape(m, o)
        if b is not None:
            y += b
        self.cols, self.wmat = cols, wmat
        self.x_shape, self.w_shape, self.xpad_shape = x.shape, w.shape, xpad.shape
        self.out, self.stride, self.padding, self.dilation, self.groups = out, stride, padding, dilation, g
        return from_channels_last(y.reshape((n,) + out + (o,)))

    def backward(self, grad):
        xp = get_array_module(grad)
        dx, dw, db = self.needs_input_grad
        n, c = self.x_shape[:2]
        o, kernel = self.w_shape[0], self.w_shape[2:]
        g, d = self.groups, len(kernel)
        cg, og = c // g, o // g
        m, kg = self.cols.shape[0], self.cols.shape[2]
        g2 = to_channels_last(grad).reshape(m, o)  # free when grad is channels-last, like our output
        gx = gw = gb = None
        if db:
            gb = xp.ones(m, dtype=g2.dtype) @ g2  # a GEMV sums the rows faster than sum(axis=0)
        if dw:
            if g == 1:
                gwm = (self.cols.reshape(m, kg).T @ g2)[None]
            else:
                gwm = xp.matmul(self.cols.transpose(1, 2, 0), g2.reshape(m, g, og).transpose(1, 0, 2))
            # (G, kernel..., C/G, O/G) back to (O, C/G, kernel...)
            gw = gwm.reshape((g,) + kernel + (cg, og)).transpose((0, d + 2, d + 1) + tuple(range(1, d + 1)))
            gw = gw.reshape(self.w_shape)
        if dx:
            gx = self._input_grad(xp, g2, n, c, kernel, g, cg, og)
        return gx, gw, gb

    def _input_grad(self, xp, g2, n, c, kernel, g, cg, og):
        """col2im of g2 @ W: each kernel offset's (N, *out, C) slab is added onto the positions it read."""
        d, m = len(kernel), g2.shape[0]
        n_off = _prod(kernel)
        if g == 1:
            # One GEMM per offset, into an offset-major buffer, so every slab added below is contiguous.
            w_off = self.wmat[0].reshape(n_off, c, -1)
            slabs = xp.empty((n_off, m, c), dtype=g2.dtype)
            for k in range(n_off):
                xp.matmul(g2, w_off[k].T, out=slabs[k])
            slabs = slabs.reshape(kernel + (n,) + self.out + (1, c))
        else:
            gcols = xp.matmul(g2.reshape(m, g, og).transpose(1, 0, 2), self.wmat.transpose(0, 2, 1))
            gcols = gcols.reshape((g, n) + self.out + kernel + (cg,))
            # view as (kernel..., N, out..., G, C/G)
            order = tuple(range(2 + d, 2 + 2 * d)) + (1,) + tuple(range(2, 2 + d)) + (0, 2 * d + 2)
            slabs = gcols.transpose(order)
        gpad = xp.zeros(self.xpad_shape[:-1] + (g, cg), dtype=g2.dtype)
        for offset in itertools.product(*(range(k) for k in kernel)):
            gpad[offset_slices(offset, self.stride, self.dilation, self.out)] += slabs[offset]
        gpad = gpad.reshape(self.xpad_shape)
        return from_channels_last(gpad[interior(self.padding, self.x_shape[2:])])


def _prod(t: tuple) -> int:
    out = 1
    for v in t:
        out *= v
    return out

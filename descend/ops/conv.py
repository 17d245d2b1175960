"""Convolution over 1 or 2 (or more) spatial dims, lowered to one large GEMM through a strided window view.

Two im2col layouts, picked by the input's memory layout, so the copy into the GEMM operand always moves
contiguous runs:
- channels-last input (what our convs, pooling and activations produce): one row per output pixel,
  (N * out_pixels, kernel_pixels * C); the copy moves runs of kw * C numbers.
- NCHW input with few channels (a first layer's data): one row per (channel, kernel offset),
  (C * kernel_pixels, N * out_pixels); the copy moves runs of an output row.
Either way the GEMM writes (N * out_pixels, O), i.e. channels-last memory, handed back as an (N, O, *out)
view without copying; elementwise ops, pooling and the next convolution keep that layout, so no layer
transposes. Backward is two GEMMs plus col2im, which adds one strided slab per kernel offset (never loops
over pixels).
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from descend.backend import get_array_module
from descend.ops import kernels, onednn
from descend.ops.constants import ones_vector
from descend._tensor import Function


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
    xp = get_array_module(x)
    if not any(lo or hi for lo, hi in pads):
        # Windows read runs of kw * C numbers; from NCHW memory every number would be a separate stride.
        return xcl if xcl.flags.c_contiguous else xp.ascontiguousarray(xcl)
    shape = (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads)) + (x.shape[1],)
    buf = xp.empty(shape, dtype=x.dtype)
    # Fill only the border (one slab per side and dim), not the interior the copy overwrites anyway.
    for i, (lo, hi) in enumerate(pads):
        before = (slice(None),) * (i + 1)
        if lo:
            buf[before + (slice(0, lo),)] = value
        if hi:
            buf[before + (slice(shape[i + 1] - hi, None),)] = value
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

    dnnl = None  # oneDNN's plan when it runs this op (set by forward)

    def forward(self, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        xp = get_array_module(x, w)
        n, c = x.shape[:2]
        o, kernel = w.shape[0], w.shape[2:]
        d, g = len(kernel), groups
        out = tuple(out_size(x.shape[2 + i], kernel[i], stride[i], *padding[i], dilation[i]) for i in range(d))
        self.setup(x.shape, w.shape, out, stride, padding, dilation, g)
        self.dnnl = onednn_plan(x, w, b, out, stride, padding, dilation, groups)
        if self.dnnl is not None:
            self.xcl, self.w = onednn.channels_last(x), w
            return from_channels_last(self.dnnl.forward(self.xcl, w, b))
        # Rows for channels-last input, and for NCHW input with many channels (one transposing copy first is
        # cheaper than short slabs); columns for the first layer's few channels (C == 1 counts as NCHW).
        cl = to_channels_last(x).flags.c_contiguous and not x.flags.c_contiguous
        self.rows = cl or c // g >= 16
        self.strip = self.rows and self._strip_fits()
        if self.strip:
            self.wmat = rows_weight(xp, w, 1)
            self.cols = self._strip_cols(xp, x)
            y = self._strip_product(xp, self.cols, self.wmat[0])
        else:
            y = self._rows_forward(xp, x, w) if self.rows else self._columns_forward(xp, x, w)
        if b is not None:
            y += b
        return from_channels_last(y.reshape((n,) + out + (o,)))

    def setup(self, x_shape: tuple, w_shape: tuple, out: tuple, stride: tuple, padding: tuple,
              dilation: tuple, groups: int) -> None:
        """Record the geometry; ConvTransposeNd sets it directly to run this op's passes as its adjoint."""
        self.x_shape, self.w_shape, self.out, self.groups = x_shape, w_shape, out, groups
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def backward(self, grad):
        xp = get_array_module(grad)
        dx, dw, db = self.needs_input_grad
        if self.dnnl is not None:
            return self._onednn_backward(grad)
        g2 = to_channels_last(grad).reshape(-1, self.w_shape[0])  # free when grad is channels-last, as ours
        gb = ones_vector(xp, g2.shape[0], g2.dtype) @ g2 if db else None  # a GEMV beats sum(axis=0)
        if self.rows:
            gw = None
            if dw:
                gw = self._strip_weight_grad(xp, grad) if self.strip else self._rows_weight_grad(xp, g2)
            gx = None
            if dx:
                gx = self._rows_input_grad_unit_stride(xp, grad) if self._flips() else self._rows_input_grad(xp, g2)
        else:
            gw = self._columns_weight_grad(xp, g2) if dw else None
            gx = self._columns_input_grad(xp, g2) if dx else None
        return gx, gw, gb

    def _onednn_backward(self, grad):
        dx, dw, db = self.needs_input_grad
        g = onednn.channels_last(grad)
        gx = from_channels_last(self.dnnl.backward_data(g, self.w)) if dx else None
        gw = gb = None
        if dw:
            gw, gb = self.dnnl.backward_weights(self.xcl, g)  # the bias gradient comes with it
        if not db:
            gb = None
        elif gb is None:
            g2 = g.reshape(-1, g.shape[-1])
            gb = ones_vector(np, g2.shape[0], g2.dtype) @ g2
        return gx, gw, gb

    # ---- 2-D, stride 1: width-only im2col, kernel rows as shifts of whole image rows ---------------------

    strip = False  # ConvTransposeNd drives the full-im2col passes directly

    def _strip_fits(self) -> bool:
        """2-D, stride 1, no groups, and few wasted rows: the strip computes all padded H rows for the H_out
        valid ones, so a kernel nearly as tall as its input (DCGAN's 7x7 over a 7x7 map: 7 rows for 1) takes
        the full im2col instead, which is then the input itself."""
        if len(self.out) != 2 or self.groups != 1 or tuple(self.stride) != (1, 1):
            return False
        padded_h = self.x_shape[2] + self.padding[0][0] + self.padding[0][1]
        return 2 * padded_h <= 3 * self.out[0]

    def _strip_cols(self, xp, x):
        """Width-only im2col (N * padded H * W_out, kw * C): a third of the full copy for 3x3 kernels. In these
        rows the window of kernel row ky starts ky * dilation image rows later, so each kernel row's GEMM
        operand is a contiguous slice (rows that straddle two images are computed and dropped)."""
        n, c = x.shape[:2]
        kw = self.w_shape[3]
        # As the compiled im2col sees it: one kernel row, every padded image row an output row.
        padded_h = x.shape[2] + self.padding[0][0] + self.padding[0][1]
        strip = self._compiled_cols(xp, x, (padded_h, self.out[1]), (1, kw), (1, 1), (1, self.dilation[1]))
        if strip is not None:
            return strip.reshape(-1, kw * c)
        xpad = padded_channels_last(x, self.padding)
        s, hp, wo = xpad.strides, xpad.shape[1], self.out[1]
        view = as_strided(xp, xpad, (n, hp, wo, kw, c), (s[0], s[1], s[2], s[2] * self.dilation[1], s[3]))
        self.xpad_shape = xpad.shape
        return xp.ascontiguousarray(view).reshape(n * hp * wo, kw * c)

    def _strip_shift(self, strip) -> tuple:
        """(rows between kernel rows, rows every kernel row's slice covers)."""
        shift = self.dilation[0] * self.out[1]
        return shift, strip.shape[0] - (self.w_shape[2] - 1) * shift

    def _strip_product(self, xp, strip, wmat):
        """Output rows (N * out pixels, O) = sum over kernel rows of strip slices @ that row's weights."""
        n, kh, o = self.x_shape[0], self.w_shape[2], wmat.shape[-1]
        shift, length = self._strip_shift(strip)
        wk = wmat.reshape(kh, -1, o)
        image = (n, self.xpad_shape[1], self.out[1], o)

        def valid(rows):  # the output pixels among the strip's rows, as (N, H_out, W_out, O)
            full = xp.empty((strip.shape[0], o), dtype=strip.dtype) if rows is None else rows
            return full, full.reshape(image)[:, :self.out[0]]

        y, _ = valid(None)
        gemm(xp, strip[:length], wk[0], out=y[:length])
        for ky in range(1, kh - 1):
            y[:length] += gemm(xp, strip[ky * shift:ky * shift + length], wk[ky])
        if kh == 1:
            return xp.ascontiguousarray(valid(y)[1]).reshape(-1, o)
        # The last kernel row's sum is written straight into the compact output (no extra copy pass).
        last = xp.empty((strip.shape[0], o), dtype=strip.dtype)
        gemm(xp, strip[(kh - 1) * shift:], wk[-1], out=last[:length])
        out = xp.empty((n,) + self.out + (o,), dtype=strip.dtype)
        xp.add(valid(y)[1], valid(last)[1], out=out)
        return out.reshape(-1, o)

    def _strip_weight_grad(self, xp, grad):
        """dW for kernel row ky = (gradient placed on the strip's rows)^T @ the strip slice of row ky."""
        n, o, c, (kh, kw) = self.x_shape[0], self.w_shape[0], self.w_shape[1], self.w_shape[2:]
        ho, wo = self.out
        gpad = xp.empty((n, self.xpad_shape[1], wo, o), dtype=grad.dtype)
        gpad[:, ho:] = 0
        gpad[:, :ho] = to_channels_last(grad)
        shift, length = self._strip_shift(self.cols)
        if not _one_blas_thread():
            # strip^T @ g: with a threaded BLAS this way round splits over the threads; g^T @ strip (few rows,
            # very long K) ran slower on two threads than on one (ResNet-20's GEMMs 67-77 -> 58-64 ms a step).
            g_rows = gpad.reshape(-1, o)[:length]
            gw = xp.empty((kh, kw * c, o), dtype=grad.dtype)
            for ky in range(kh):
                gemm(xp, self.cols[ky * shift:ky * shift + length].T, g_rows, out=gw[ky])
            return xp.ascontiguousarray(gw.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
        # One thread: g^T @ strip is 2-3 % faster in the training step.
        gt = gpad.reshape(-1, o)[:length].T
        gw = xp.empty((kh, o, kw * c), dtype=grad.dtype)
        for ky in range(kh):
            gemm(xp, gt, self.cols[ky * shift:ky * shift + length], out=gw[ky])
        return xp.ascontiguousarray(gw.reshape(kh, o, kw, c).transpose(1, 3, 0, 2))

    # ---- channels-last input: cols (M, G, kernel * C/G) --------------------------------------------------

    def _rows_forward(self, xp, x, w):
        m, g, kg = self._rows_cols(xp, x).shape
        self.wmat = wmat = rows_weight(xp, w, g)
        if g == 1:
            return gemm(xp, self.cols.reshape(m, kg), wmat[0])
        return gemm(xp, self.cols.transpose(1, 0, 2), wmat).transpose(1, 0, 2).reshape(m, w.shape[0])

    def _rows_cols(self, xp, x):
        """im2col rows (N * out_pixels, G, kernel * C/G) of x, kept as self.cols."""
        n, c = x.shape[:2]
        kernel = self.w_shape[2:]
        d, g, out = len(kernel), self.groups, self.out
        cg = c // g
        cols = self._compiled_cols(xp, x, out, kernel, self.stride, self.dilation) if d == 2 and g == 1 else None
        if cols is not None:
            self.cols = cols.reshape(-1, 1, c * _prod(kernel))
            return self.cols
        xpad = padded_channels_last(x, self.padding)
        s = xpad.strides
        view = as_strided(xp, xpad, (n,) + out + (g,) + kernel + (cg,),
                          (s[0],) + tuple(s[1 + i] * self.stride[i] for i in range(d)) + (s[-1] * cg,)
                          + tuple(s[1 + i] * self.dilation[i] for i in range(d)) + (s[-1],))
        m, kg = n * _prod(out), cg * _prod(kernel)
        self.cols = xp.ascontiguousarray(view).reshape(m, g, kg)
        self.xpad_shape = xpad.shape
        return self.cols

    def _compiled_cols(self, xp, x, out: tuple, kernel: tuple, stride: tuple, dilation: tuple):
        """(N, *out, *kernel, C) windows of a channels-last 2-D x in one compiled pass, the zero border
        written in place (no padded copy first); None where the kernels do not run (the NumPy path then)."""
        compiled = kernels.get("im2col", x)
        if compiled is None or not to_channels_last(x).flags.c_contiguous:
            return None
        n, c = x.shape[:2]
        (pt, pb), (pl, pr) = self.padding
        cols = xp.empty((n,) + tuple(out) + tuple(kernel) + (c,), dtype=x.dtype)
        compiled(to_channels_last(x), *stride, *dilation, pt, pl, cols)
        self.xpad_shape = (n, x.shape[2] + pt + pb, x.shape[3] + pl + pr, c)
        return cols

    def _rows_weight_grad(self, xp, g2):
        m, g, kg = self.cols.shape
        o, kernel = self.w_shape[0], self.w_shape[2:]
        d, og, cg = len(kernel), o // g, self.w_shape[1]
        if g == 1:
            # g^T @ cols: (O, kernel * C) comes out, which the gradient's (O, C, *kernel) layout reaches by small
            # per-channel transposes; in the training step this way round is also the faster product.
            gwm = gemm(xp, g2.T, self.cols.reshape(m, kg)).T[None]
        else:
            gwm = gemm(xp, self.cols.transpose(1, 2, 0), g2.reshape(m, g, og).transpose(1, 0, 2))
        # (G, kernel..., C/G, O/G) back to (O, C/G, kernel...)
        gw = gwm.reshape((g,) + kernel + (cg, og)).transpose((0, d + 2, d + 1) + tuple(range(1, d + 1)))
        return gw.reshape(self.w_shape)

    def _flips(self) -> bool:
        """Whether the input gradient is itself a convolution (stride 1, padding within the dilated kernel)."""
        return all(s == 1 and max(lo, hi) <= d * (k - 1)
                   for s, (lo, hi), d, k in zip(self.stride, self.padding, self.dilation, self.w_shape[2:]))

    def _rows_input_grad_unit_stride(self, xp, grad):
        """With stride 1 the input gradient is the output gradient convolved with the flipped, transposed
        kernel: one im2col and one GEMM of the forward's shape, instead of a GEMM per kernel offset and
        col2im's scattered additions."""
        n, c = self.x_shape[:2]
        o, kernel = self.w_shape[0], self.w_shape[2:]
        d, g = len(kernel), self.groups
        cg, og = c // g, o // g
        adj = ConvNd()
        pads = tuple((dl * (k - 1) - lo, dl * (k - 1) - hi)
                     for (lo, hi), dl, k in zip(self.padding, self.dilation, kernel))
        adj.setup(grad.shape, (c, og) + kernel, self.x_shape[2:], self.stride, pads, self.dilation, g)
        # wmat (G, kernel * C/G, O/G) -> kernel flipped, (G, kernel * O/G, C/G)
        wmat = self.wmat.reshape((g,) + kernel + (cg, og))[(slice(None),) + (slice(None, None, -1),) * d]
        wmat = xp.ascontiguousarray(wmat.swapaxes(-1, -2)).reshape(g, -1, cg)
        if self.strip and adj._strip_fits():
            rows = adj._strip_product(xp, adj._strip_cols(xp, grad), wmat[0])
            return from_channels_last(rows.reshape((n,) + self.x_shape[2:] + (c,)))
        cols = adj._rows_cols(xp, grad)  # (M, G, kernel * O/G)
        m = cols.shape[0]
        if g == 1:
            rows = gemm(xp, cols.reshape(m, -1), wmat[0])
        else:
            rows = gemm(xp, cols.transpose(1, 0, 2), wmat).transpose(1, 0, 2).reshape(m, c)
        return from_channels_last(rows.reshape((n,) + self.x_shape[2:] + (c,)))

    def _rows_input_grad(self, xp, g2):
        """col2im of g2 @ W: each kernel offset's (N, *out, C) slab is added onto the positions it read."""
        n, c = self.x_shape[:2]
        o, kernel = self.w_shape[0], self.w_shape[2:]
        d, g, m = len(kernel), self.groups, g2.shape[0]
        cg, og = c // g, o // g
        n_off = _prod(kernel)
        if g == 1 and c < 8:
            # Few channels (a generator's last layer): per-offset products would be GEMVs, so one GEMM for
            # all offsets, (M, O) @ (O, kernel * C), its slabs read as strided views.
            rows = gemm(xp, g2, self.wmat[0].T).reshape((n,) + self.out + kernel + (1, c))
            slabs = rows.transpose(tuple(range(1 + d, 1 + 2 * d)) + (0,) + tuple(range(1, 1 + d)) + (2 * d + 1,
                                                                                                   2 * d + 2))
        elif g == 1:
            # One GEMM per offset, into an offset-major buffer, so every slab added below is contiguous.
            w_off = self.wmat[0].reshape(n_off, c, -1)
            slabs = xp.empty((n_off, m, c), dtype=g2.dtype)
            for k in range(n_off):
                gemm(xp, g2, w_off[k].T, out=slabs[k])
            slabs = slabs.reshape(kernel + (n,) + self.out + (1, c))
        else:
            gcols = gemm(xp, g2.reshape(m, g, og).transpose(1, 0, 2), self.wmat.transpose(0, 2, 1))
            gcols = gcols.reshape((g, n) + self.out + kernel + (cg,))
            # view as (kernel..., N, out..., G, C/G)
            order = tuple(range(2 + d, 2 + 2 * d)) + (1,) + tuple(range(2, 2 + d)) + (0, 2 * d + 2)
            slabs = gcols.transpose(order)
        compiled = kernels.get("col2im", g2) if d == 2 and g == 1 else None
        if compiled is not None:  # one gather pass straight into the unpadded result
            out = xp.empty((n,) + self.x_shape[2:] + (c,), dtype=g2.dtype)
            compiled(slabs[..., 0, :], *self.stride, *self.dilation, self.padding[0][0], self.padding[1][0], out)
            return from_channels_last(out)
        gpad = xp.zeros(self.xpad_shape[:-1] + (g, cg), dtype=g2.dtype)
        for offset in itertools.product(*(range(k) for k in kernel)):
            gpad[offset_slices(offset, self.stride, self.dilation, self.out)] += slabs[offset]
        gpad = gpad.reshape(self.xpad_shape)
        return from_channels_last(gpad[interior(self.padding, self.x_shape[2:])])

    # ---- NCHW input: columns (G, C/G * kernel, M) ----------------------------------------------------------

    def _columns_forward(self, xp, x, w):
        n, c = x.shape[:2]
        o, kernel = w.shape[0], w.shape[2:]
        d, g, out = len(kernel), self.groups, self.out
        cg, og = c // g, o // g
        xpad = x
        if any(lo or hi for lo, hi in self.padding):
            xpad = xp.zeros((n, c) + tuple(k + lo + hi for k, (lo, hi) in zip(x.shape[2:], self.padding)),
                            dtype=x.dtype)
            xpad[(slice(None), slice(None)) + interior(self.padding, x.shape[2:])[1:-1]] = x
        s = xpad.strides
        view = as_strided(xp, xpad, (g, cg) + kernel + (n,) + out,
                          (s[1] * cg, s[1]) + tuple(s[2 + i] * self.dilation[i] for i in range(d)) + (s[0],)
                          + tuple(s[2 + i] * self.stride[i] for i in range(d)))
        m, kg = n * _prod(out), cg * _prod(kernel)
        cols = xp.ascontiguousarray(view).reshape(g, kg, m)
        wmat = w.reshape(g, og, kg)  # the weight's own (channel, kernel) order matches the columns
        self.cols, self.wmat, self.xpad_shape = cols, wmat, xpad.shape
        if g == 1:
            return gemm(xp, cols[0].T, wmat[0].T)
        return gemm(xp, cols.transpose(0, 2, 1), wmat.transpose(0, 2, 1)).transpose(1, 0, 2).reshape(m, o)

    def _columns_weight_grad(self, xp, g2):
        g, kg, m = self.cols.shape
        og = self.w_shape[0] // g
        if g == 1:
            return gemm(xp, self.cols[0], g2).T.reshape(self.w_shape)
        gw = gemm(xp, self.cols, g2.reshape(m, g, og).transpose(1, 0, 2))  # (G, kernel * C/G, O/G)
        return gw.transpose(0, 2, 1).reshape(self.w_shape)

    def _columns_input_grad(self, xp, g2):
        n, c = self.x_shape[:2]
        kernel = self.w_shape[2:]
        d, g, m = len(kernel), self.groups, g2.shape[0]
        cg, og = c // g, self.w_shape[0] // g
        if g == 1:
            gcols = gemm(xp, self.wmat[0].T, g2.T)[None]
        else:
            gcols = gemm(xp, self.wmat.transpose(0, 2, 1), g2.reshape(m, g, og).transpose(1, 2, 0))
        # (G, C/G, kernel..., N, out...): each kernel offset's slab goes back where it was read from
        gcols = gcols.reshape((g, cg) + kernel + (n,) + self.out)
        gpad = xp.zeros((n, g, cg) + self.xpad_shape[2:], dtype=g2.dtype)
        to_nchw = (2, 0, 1) + tuple(range(3, 3 + d))
        for offset in itertools.product(*(range(k) for k in kernel)):
            spatial = offset_slices(offset, self.stride, self.dilation, self.out)[1:]
            slab = gcols[(slice(None), slice(None)) + offset]  # (G, C/G, N, out...)
            gpad[(slice(None), slice(None), slice(None)) + spatial] += slab.transpose(to_nchw)
        gpad = gpad.reshape(self.xpad_shape)
        return gpad[(slice(None), slice(None)) + interior(self.padding, self.x_shape[2:])[1:-1]]


def onednn_plan(x, w, b, out: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int, x_shape=None):
    """oneDNN's plan for this convolution when it serves it: 2-D, no groups, float32 NumPy arrays with a
    contiguous weight (descend/ops/onednn.py); None sends the op down the NumPy lowering. A transposed
    convolution passes its output's shape as `x_shape` (the input of the convolution it transposes)."""
    if (groups != 1 or x.ndim != 4 or type(x) is not np.ndarray or type(w) is not np.ndarray
            or x.dtype != np.float32 or w.dtype != np.float32 or not w.flags.c_contiguous
            or (b is not None and (b.dtype != np.float32 or not b.flags.c_contiguous))):
        return None
    return onednn.conv_plan(x.shape if x_shape is None else x_shape, w.shape, out, stride, padding, dilation,
                            b is not None)


def rows_weight(xp, w, groups: int):
    """Weight (O, C/G, *kernel) as (G, kernel*C/G, O/G), rows in the (kernel, channel) order of im2col rows."""
    o, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    d, og = len(kernel), o // groups
    if groups == 1:
        # (O, *kernel, C) memory seen as (1, kernel * C, O): the copy transposes each output channel's small
        # (C, kernel) block, not the whole weight, and the GEMMs take the transposed operand without a copy.
        wcl = xp.ascontiguousarray(w.transpose((0,) + tuple(range(2, 2 + d)) + (1,)))
        return wcl.reshape(o, -1).T[None]
    wmat = w.reshape((groups, og, cg) + kernel).transpose((0,) + tuple(range(3, 3 + d)) + (2, 1))
    return xp.ascontiguousarray(wmat).reshape(groups, cg * _prod(kernel), og)


def _one_blas_thread() -> bool:
    """Whether the BLAS was told to run one thread (OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, is "1"): the
    way round of a product changes its speed, never its value's meaning, and the choice is the same for every
    step of a run (a resumed run made under the same setting takes the same path)."""
    env = os.environ
    return env.get("OPENBLAS_NUM_THREADS", env.get("OMP_NUM_THREADS")) == "1"


def gemm(xp, a, b, out=None):
    """Every matrix product of the convolutions goes through here, so a profiler can time them apart."""
    return xp.matmul(a, b, out=out)


def _prod(t: tuple) -> int:
    out = 1
    for v in t:
        out *= v
    return out

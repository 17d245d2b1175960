"""Transposed convolution as the adjoint of ConvNd: its forward is the convolution's input gradient (one
GEMM per kernel offset, then col2im) and its input gradient is the convolution's forward (im2col, one GEMM).

The weight is (C_in, C_out/groups, *kernel), PyTorch's layout, which is exactly the (O, C/groups, *kernel)
weight of the convolution it transposes (O = C_in). The output stays in channels-last memory, as our
convolutions' outputs do, so batch norm and the next layer read it without a transposing copy.
"""

from __future__ import annotations

from descend.backend import get_array_module
from descend.ops import onednn
from descend.ops.conv import (ConvNd, from_channels_last, gemm, onednn_plan, out_size, rows_weight,
                               to_channels_last)
from descend.ops.constants import ones_vector
from descend._tensor import Function


def transpose_out_size(size: int, k: int, stride: int, lo: int, hi: int, dilation: int, extra: int) -> int:
    """PyTorch's (L_in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    return (size - 1) * stride - lo - hi + dilation * (k - 1) + extra + 1


def _rows(xp, x):
    """(N, C, *spatial) as a (N * pixels, C) channels-last matrix; free when x is channels-last already."""
    xcl = to_channels_last(x)
    if not xcl.flags.c_contiguous:
        xcl = xp.ascontiguousarray(xcl)
    return xcl.reshape(-1, x.shape[1])


class ConvTransposeNd(Function):
    """Transposed convolution of (N, C_in, *spatial) with weight (C_in, C_out/groups, *kernel), plus bias."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), output_padding=(0, 0),
                dilation=(1, 1), groups=1):
        xp = get_array_module(x, w)
        n, d = x.shape[0], w.ndim - 2
        c_out, kernel, spatial = w.shape[1] * groups, w.shape[2:], x.shape[2:]
        out = tuple(transpose_out_size(spatial[i], kernel[i], stride[i], *padding[i], dilation[i],
                                       output_padding[i]) for i in range(d))
        # The convolution this op transposes maps (N, C_out, *out) to (N, C_in, *spatial).
        # (With output_padding >= stride that convolution's output is not this input: the NumPy path serves.)
        fits = tuple(out_size(out[i], kernel[i], stride[i], *padding[i], dilation[i]) for i in range(d)) == spatial
        plan = onednn_plan(x, w, None, spatial, stride, padding, dilation, groups, (n, c_out) + out) if fits \
            else None
        if plan is not None and (b is None or b.dtype == w.dtype):
            # oneDNN: this forward is the convolution's input gradient, its backward the forward and the
            # weight gradient with the roles of input and output swapped.
            self.dnnl, self.w, self.xcl = plan, w, onednn.channels_last(x)
            ycl = plan.backward_data(self.xcl, w)
            if b is not None:
                ycl += b
            return from_channels_last(ycl)
        self.dnnl = None
        conv = ConvNd()
        conv.setup((n, c_out) + out, w.shape, spatial, stride, padding, dilation, groups)
        conv.rows = True
        conv.xpad_shape = (n,) + tuple(o + lo + hi for o, (lo, hi) in zip(out, padding)) + (c_out,)
        conv.wmat = rows_weight(xp, w, groups)
        self.conv, self.w = conv, w
        self.x_rows = _rows(xp, x)
        ycl = to_channels_last(conv._rows_input_grad(xp, self.x_rows))
        if not ycl.flags.c_contiguous:  # a slice of the padded buffer: make the layout the next op expects
            ycl = xp.ascontiguousarray(ycl)
        if b is not None:
            ycl += b
        return from_channels_last(ycl)

    def backward(self, g):
        xp = get_array_module(g)
        dx, dw, db = self.needs_input_grad
        if self.dnnl is not None:
            gcl = onednn.channels_last(g)
            gx = from_channels_last(self.dnnl.forward(gcl, self.w, None)) if dx else None
            gw = self.dnnl.backward_weights(gcl, self.xcl)[0] if dw else None
            g2 = gcl.reshape(-1, gcl.shape[-1])
            gb = ones_vector(xp, g2.shape[0], g2.dtype) @ g2 if db else None
            return gx, gw, gb
        conv = self.conv
        gb = None
        if db:
            g_rows = _rows(xp, g)
            gb = ones_vector(xp, g_rows.shape[0], g_rows.dtype) @ g_rows
        gx = gw = None
        if dx or dw:
            cols = conv._rows_cols(xp, g)  # im2col of the output gradient, as the convolution reads its input
            m, groups, kg = cols.shape
            if dx:
                c_in = self.w.shape[0]
                if groups == 1:
                    gx_rows = gemm(xp, cols.reshape(m, kg), conv.wmat[0])
                else:
                    gx_rows = gemm(xp, cols.transpose(1, 0, 2), conv.wmat).transpose(1, 0, 2).reshape(m, c_in)
                n, spatial = g.shape[0], conv.out
                gx = from_channels_last(gx_rows.reshape((n,) + spatial + (c_in,)))
            if dw:
                gw = conv._rows_weight_grad(xp, self.x_rows)
        return gx, gw, gb

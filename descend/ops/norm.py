"""Batch, layer and group normalisation as fused ops with closed-form backward."""

from __future__ import annotations

import numpy as np

from descend.ops import kernels
from descend.ops.errors import OpError, OpTypeError
from descend.backend import get_array_module
from descend._tensor import Function

# Elements from which a group norm of channels-last input takes the kernels: below kernels.MIN_SIZE too (its
# NumPy path copies such input to NCHW and back), though not for the smallest (numba's one-time load).
_CL_MIN = 16_384

def _norm_backward(g, xhat, invstd, axes: tuple, count: int):
    """d/dx of xhat = (x - mean) * invstd, given g = dL/dxhat, with mean and variance over `axes`."""
    mean_g = g.sum(axis=axes, keepdims=True) / count
    mean_gx = (g * xhat).sum(axis=axes, keepdims=True) / count
    return invstd * (g - mean_g - xhat * mean_gx)


def _channel_rows(x):
    """x (N, C, *spatial) as a (rows, C) view with one column per channel, or None if its memory is not laid
    out that way (it is for (N, C) inputs and for the channels-last outputs of our convolutions)."""
    if x.ndim > 2:
        x = x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))
    if not x.flags.c_contiguous:
        return None
    return x.reshape(-1, x.shape[-1])


def _from_rows(rows, shape: tuple):
    """A (rows, C) array as the (N, C, *spatial) view of it (channels-last memory)."""
    if len(shape) == 2:
        return rows
    cl = rows.reshape((shape[0],) + shape[2:] + (shape[1],))
    return cl.transpose((0, cl.ndim - 1) + tuple(range(1, cl.ndim - 1)))


def _per_channel(v, group_size: int, dtype):
    """Per-(sample, group) values (N, G) repeated over each group's channels: (N, C) in dtype."""
    return np.repeat(v, group_size, axis=1).astype(dtype)


class _Wide:
    """(m, C) arrays viewed as (m / r, r * C), so per-channel broadcasts and sums run along long rows: over
    rows of only C = 16 numbers NumPy's loop overhead costs more than the arithmetic."""

    def __init__(self, xp, m: int, c: int) -> None:
        self.xp, self.c = xp, c
        self.r = max(r for r in range(1, max(1, 512 // c) + 1) if m % r == 0)

    def view(self, a):
        return a.reshape(-1, self.r * self.c)

    def vec(self, v):
        return self.xp.tile(v, self.r) if self.r > 1 else v

    def dot(self, a, b):
        """Per-channel sums of a * b."""
        return self.xp.einsum("ij,ij->j", self.view(a), self.view(b)).reshape(self.r, self.c).sum(axis=0)


class BatchNorm(Function):
    """Normalise over every dim but 1 (channels); in training, update running stats in place.

    Training uses the biased batch variance to normalise and stores the unbiased one in running_var,
    as PyTorch does. Evaluation uses the running statistics, which are constants for the gradient.
    """

    def forward(self, x, w=None, b=None, running_mean=None, running_var=None, training=False, momentum=0.1,
                eps=1e-5):
        xp = get_array_module(x)
        c = x.shape[1]
        self.axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        self.count = x.size // c
        if training and self.count <= 1:
            raise OpError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"{x.shape}")
        rows = _channel_rows(x)
        self.rows = rows is not None
        if self.rows:
            return self._forward_rows(xp, rows, x.shape, w, b, running_mean, running_var, training, momentum,
                                      eps)
        if training:
            mean = x.mean(axis=self.axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=self.axes, keepdims=True)
            self._update_running(mean.reshape(c), var.reshape(c), running_mean, running_var, momentum)
        else:
            centered = x - running_mean.reshape(shape)
            var = running_var.reshape(shape)
        self.invstd = 1 / xp.sqrt(var + eps)
        self.xhat = centered * self.invstd
        self.w = None if w is None else w.reshape(shape)
        self.training = training
        y = self.xhat if w is None else self.xhat * self.w
        if b is not None:
            y = y + b.reshape(shape)
        return y

    def _update_running(self, mean, var, running_mean, running_var, momentum):
        """Running statistics move towards the batch mean and the unbiased batch variance."""
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
        if running_var is not None:
            unbiased = var * (self.count / (self.count - 1))
            running_var *= 1 - momentum
            running_var += momentum * unbiased.astype(running_var.dtype, copy=False)

    def _forward_rows(self, xp, rows, shape, w, b, running_mean, running_var, training, momentum, eps):
        """The (rows, C) layout: column sums are one GEMV, sums of products one einsum, so no pass over the
        data is a slow strided reduction, and the output keeps the input's layout."""
        m, c = rows.shape
        self.kernel = kernels.get("scale_shift", rows) is not None
        if self.kernel:
            return self._forward_kernel(rows, shape, w, b, running_mean, running_var, training, momentum, eps)
        self.ones = xp.ones(m, dtype=rows.dtype)
        self.wide = wide = _Wide(xp, m, c)
        if training:
            mean = (self.ones @ rows) / rows.dtype.type(m)
            centered = (wide.view(rows) - wide.vec(mean)).reshape(m, c)
            var = wide.dot(centered, centered) / rows.dtype.type(m)
            self._update_running(mean, var, running_mean, running_var, momentum)
        else:
            centered = (wide.view(rows) - wide.vec(running_mean)).reshape(m, c)
            var = running_var
        self.invstd = 1 / xp.sqrt(var + eps)
        self.scale = self.invstd if w is None else self.invstd * w
        self.centered, self.shape, self.training = centered, shape, training
        y = wide.view(centered) * wide.vec(self.scale)
        if b is not None:
            y += wide.vec(b)
        return _from_rows(y.reshape(m, c), shape)

    def _forward_kernel(self, rows, shape, w, b, running_mean, running_var, training, momentum, eps):
        """The same in compiled passes (one for the moments, one for the output), keeping x and the mean
        instead of x - mean. The kernels see (1, rows, C): one sample of every row."""
        m, c = rows.shape
        dtype, x3 = rows.dtype, rows.reshape(1, m, c)
        if training:
            s1, s2, shift = kernels.loop("channel_moments")(x3)  # one pass: mean and variance
            mean64 = shift + s1 / m
            var64 = np.maximum(s2 / m - (s1 / m) ** 2, 0.0)
            mean, var = mean64[0].astype(dtype), var64[0].astype(dtype)
            self._update_running(mean, var, running_mean, running_var, momentum)
        else:
            # Copies: backward must see the statistics of this forward, not a later training step's update.
            mean, var = running_mean.astype(dtype), running_var.astype(dtype)
        self.invstd = (1 / np.sqrt(var.astype(np.float64) + eps)).astype(dtype)
        self.scale = self.invstd if w is None else (self.invstd * w).astype(dtype, copy=False)
        self.x3, self.mean, self.shape, self.training = x3, mean[None], shape, training
        y = np.empty_like(x3)
        shift = np.zeros((1, c), dtype) if b is None else b.astype(dtype, copy=False)[None]
        kernels.loop("scale_shift")(x3, self.mean, self.scale[None], shift, y)
        return _from_rows(y.reshape(m, c), shape)

    def _backward_kernel(self, rows):
        """Both per-channel sums in one compiled pass over g and x, the input gradient in a second."""
        dx, dw, db = self.needs_input_grad
        dtype = self.x3.dtype
        m, g3 = rows.shape[0], rows.reshape(self.x3.shape).astype(dtype, copy=False)
        gb = g_xhat = gx = None
        if dw or db or (dx and self.training):
            sg, sgx = kernels.loop("grad_sums")(g3, self.x3, self.mean)
            gb, g_xhat = sg[0].astype(dtype), (sgx[0] * self.invstd).astype(dtype)
        if dx:
            gx = np.empty_like(g3)
            if self.training:
                coef = (-self.scale * self.invstd * g_xhat / m).astype(dtype)
                const = (-self.scale * gb / m).astype(dtype)
            else:
                coef = const = np.zeros_like(self.scale)
            kernels.loop("grad_input")(g3, self.x3, self.mean, self.scale[None], coef[None], const[None], gx)
            gx = _from_rows(gx.reshape(m, -1), self.shape)
        return gx, (g_xhat if dw else None), (gb if db else None)

    def _backward_rows(self, g):
        """d/dx = scale * (g - mean(g) - xhat * mean(g * xhat)), as one sum per channel and three passes."""
        dx, dw, db = self.needs_input_grad
        xp = get_array_module(g)
        c = self.shape[1]
        rows = _channel_rows(g)
        if rows is None:  # a gradient in another layout: one copy into ours
            cl = g.transpose((0,) + tuple(range(2, g.ndim)) + (1,)) if g.ndim > 2 else g
            rows = xp.ascontiguousarray(cl).reshape(-1, c)
        if self.kernel:
            return self._backward_kernel(rows)
        m, wide = rows.shape[0], self.wide
        gb = self.ones @ rows if db or (dx and self.training) else None
        # sum(g * xhat) per channel, without materialising g * xhat.
        g_xhat = wide.dot(rows, self.centered) * self.invstd if dw or (dx and self.training) else None
        gx = None
        if dx:
            gx = wide.view(rows) * wide.vec(self.scale)
            if self.training:
                inv_m = rows.dtype.type(1.0 / m)
                tmp = wide.view(self.centered) * wide.vec(-self.scale * self.invstd * g_xhat * inv_m)
                gx += tmp
                gx -= wide.vec(self.scale * gb * inv_m)
            gx = _from_rows(gx.reshape(m, c), self.shape)
        return gx, (g_xhat if dw else None), (gb if db else None)

    def backward(self, g):
        if self.rows:
            return self._backward_rows(g)
        dx, dw, db = self.needs_input_grad
        gx = gw = gb = None
        if dw:
            gw = (g * self.xhat).sum(axis=self.axes)
        if db:
            gb = g.sum(axis=self.axes)
        if dx:
            gxhat = g if self.w is None else g * self.w
            if self.training:
                gx = _norm_backward(gxhat, self.xhat, self.invstd, self.axes, self.count)
            else:
                gx = gxhat * self.invstd
        return gx, gw, gb


class LayerNorm(Function):
    """Normalise over the last `n_dims` dims, then scale and shift elementwise."""

    def forward(self, x, w=None, b=None, n_dims=1, eps=1e-5):
        xp = get_array_module(x)
        self.axes = tuple(range(x.ndim - n_dims, x.ndim))
        self.count = 1
        for i in self.axes:
            self.count *= x.shape[i]
        mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=self.axes, keepdims=True)
        self.invstd = 1 / xp.sqrt(var + eps)
        self.xhat = centered * self.invstd
        self.w = w
        y = self.xhat if w is None else self.xhat * w
        return y if b is None else y + b

    def backward(self, g):
        dx, dw, db = self.needs_input_grad
        lead = tuple(range(g.ndim - len(self.axes)))
        gw = (g * self.xhat).sum(axis=lead) if dw else None
        gb = g.sum(axis=lead) if db else None
        gx = None
        if dx:
            gxhat = g if self.w is None else g * self.w
            gx = _norm_backward(gxhat, self.xhat, self.invstd, self.axes, self.count)
        return gx, gw, gb


class GroupNorm(Function):
    """Normalise each sample's channels in `num_groups` groups (over the group's channels and all spatial
    positions), then scale and shift per channel."""

    def forward(self, x, w=None, b=None, num_groups=1, eps=1e-5):
        xp = get_array_module(x)
        n, c = x.shape[:2]
        self.shape = x.shape
        self.cshape = (1, c) + (1,) * (x.ndim - 2)
        # Channels-last memory (a convolution's output): the NumPy path's (N, G, -1) reshape would copy it to
        # NCHW and hand the next convolution NCHW, which copies it back; the kernels keep the layout, and win
        # from small sizes on (a U-Net's (32, 32, 7, 7): forward and backward 99 us against 492).
        self.x3 = None
        if x.ndim > 2 and not x.flags.c_contiguous and kernels.get("scale_shift", x, min_size=_CL_MIN) is not None:
            x3 = _channel_rows(x)
            if x3 is not None:
                return self._forward_kernel(x3.reshape(n, -1, c), w, b, num_groups, eps)
        xg = x.reshape(n, num_groups, -1)
        self.count = xg.shape[2]
        mean = xg.mean(axis=2, keepdims=True)
        centered = xg - mean
        var = (centered * centered).mean(axis=2, keepdims=True)
        self.invstd = 1 / xp.sqrt(var + eps)
        self.xhat = centered * self.invstd  # (N, G, C/G * spatial)
        self.w = None if w is None else w.reshape(self.cshape)
        y = self.xhat.reshape(x.shape)
        if w is not None:
            y = y * self.w
        if b is not None:
            y = y + b.reshape(self.cshape)
        return y

    def _forward_kernel(self, x3, w, b, groups: int, eps: float):
        """Per (sample, channel) sums in compiled passes, combined per group here; x3 is (N, pixels, C)."""
        n, p, c = x3.shape
        dtype, cg = x3.dtype, c // groups
        self.count = p * cg

        # One pass: each channel's sums about its own shift k, combined per group in float64 about the group
        # mean mu: sum (x - mu)^2 = sum over channels of s2 + 2 (k - mu) s1 + p (k - mu)^2.
        s1, s2, k = (a.reshape(n, groups, cg) for a in kernels.loop("channel_moments")(x3))
        mu = (p * k + s1).sum(-1, keepdims=True) / self.count
        var = (s2 + 2 * (k - mu) * s1 + p * (k - mu) ** 2).sum(-1) / self.count
        mean = _per_channel(mu[..., 0], cg, dtype)
        invstd = 1 / np.sqrt(var + eps)  # float64 (N, G)
        self.x3, self.mean, self.invstd64, self.groups = x3, mean, invstd, groups
        self.w = None if w is None else w.astype(dtype, copy=False)
        scale = _per_channel(invstd, cg, dtype)
        if w is not None:
            scale *= self.w
        shift = np.zeros((n, c), dtype) if b is None else np.broadcast_to(b.astype(dtype, copy=False), (n, c))
        y = np.empty_like(x3)
        kernels.loop("scale_shift")(x3, mean, scale, np.ascontiguousarray(shift), y)
        return _from_rows(y.reshape(-1, c), self.shape)

    def _backward_kernel(self, g):
        """gx = invstd * (g w - mean(g w) - xhat * mean(g w xhat)) per group, as one pass for the sums and one
        for gx; the group means come from the (N, C) sums."""
        dx, dw, db = self.needs_input_grad
        x3, (n, p, c), groups = self.x3, self.x3.shape, self.groups
        rows = _channel_rows(g)
        if rows is None:
            rows = np.ascontiguousarray(g.transpose((0,) + tuple(range(2, g.ndim)) + (1,))).reshape(-1, c)
        g3 = rows.reshape(n, p, c).astype(x3.dtype, copy=False)
        sg, sgx = kernels.loop("grad_sums")(g3, x3, self.mean)  # float64 (N, C)
        inv_c = np.repeat(self.invstd64, c // groups, axis=1)
        gw = (sgx * inv_c).sum(0).astype(x3.dtype) if dw else None
        gb = sg.sum(0).astype(x3.dtype) if db else None
        gx = None
        if dx:
            wc = np.ones(c) if self.w is None else self.w.astype(np.float64)
            s1 = (sg * wc).reshape(n, groups, -1).sum(-1) / self.count  # mean of g w per group
            s2 = (sgx * wc).reshape(n, groups, -1).sum(-1) * self.invstd64 / self.count  # mean of g w xhat
            cg = c // groups
            gx = np.empty_like(g3)
            kernels.loop("grad_input")(g3, x3, self.mean, (inv_c * wc).astype(x3.dtype),
                                       _per_channel(-self.invstd64 ** 2 * s2, cg, x3.dtype),
                                       _per_channel(-self.invstd64 * s1, cg, x3.dtype), gx)
            gx = _from_rows(gx.reshape(-1, c), self.shape)
        return gx, gw, gb

    def backward(self, g):
        if self.x3 is not None:
            return self._backward_kernel(g)
        dx, dw, db = self.needs_input_grad
        axes = (0,) + tuple(range(2, g.ndim))
        gw = (g * self.xhat.reshape(self.shape)).sum(axis=axes) if dw else None
        gb = g.sum(axis=axes) if db else None
        gx = None
        if dx:
            gxhat = g if self.w is None else g * self.w
            gxhat = gxhat.reshape(self.xhat.shape)
            gx = _norm_backward(gxhat, self.xhat, self.invstd, (2,), self.count).reshape(self.shape)
        return gx, gw, gb

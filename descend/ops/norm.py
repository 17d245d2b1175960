"""Batch and layer normalisation as fused ops with closed-form backward."""

from __future__ import annotations

from descend.backend import get_array_module
from descend.tensor import Function


def _norm_backward(g, xhat, invstd, axes: tuple, count: int):
    """d/dx of xhat = (x - mean) * invstd, given g = dL/dxhat, with mean and variance over `axes`."""
    mean_g = g.sum(axis=axes, keepdims=True) / count
    mean_gx = (g * xhat).sum(axis=axes, keepdims=True) / count
    return invstd * (g - mean_g - xhat * mean_gx)


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
        if training:
            if self.count <= 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                                 f"{x.shape}")
            mean = x.mean(axis=self.axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=self.axes, keepdims=True)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(c).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                unbiased = var.reshape(c) * (self.count / (self.count - 1))
                running_var *= 1 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype, copy=False)
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

    def backward(self, g):
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

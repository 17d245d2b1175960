"""Adaptive max pooling: the maximum of each of an output grid of windows that tile the input as PyTorch's."""

from __future__ import annotations

import numpy as np

from descend.backend import get_array_module
from descend._tensor import Function


def window_index(n: int, out: int) -> np.ndarray:
    """(out, k) input positions of each window, k the widest window; narrower windows repeat their last one.

    Window i covers [floor(i n / out), ceil((i + 1) n / out)), as PyTorch's adaptive pooling.
    """
    i = np.arange(out)
    start = (i * n) // out
    end = -((-(i + 1) * n) // out)
    k = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(k)[None, :], end[:, None] - 1)


class AdaptiveMaxPool(Function):
    """Max over windows of the last two dims (1-D pooling passes a height of 1); also returns flat indices."""

    def forward(self, x, out_size=(1, 1)):
        xp = get_array_module(x)
        h, w = x.shape[-2:]
        rows, cols = (xp.asarray(window_index(n, o)) for n, o in zip((h, w), out_size))
        oh, kh = rows.shape
        ow, kw = cols.shape
        # Flat positions (oh, ow, kh * kw) of every window element in the (h, w) plane.
        flat = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(oh, ow, kh * kw)
        windows = x.reshape(x.shape[:-2] + (h * w,))[..., flat]
        pick = windows.argmax(axis=-1)  # the first maximum, as PyTorch's kernel
        self.indices = xp.take_along_axis(xp.broadcast_to(flat, windows.shape), pick[..., None],
                                          axis=-1)[..., 0]
        self.shape = x.shape
        return xp.take_along_axis(windows, pick[..., None], axis=-1)[..., 0]

    def backward(self, g):
        xp = get_array_module(g)
        lead = int(np.prod(self.shape[:-2], dtype=np.int64))
        plane = self.shape[-2] * self.shape[-1]
        # Rows of the flattened planes, offset so one bincount scatters every gradient at once.
        idx = self.indices.reshape(lead, -1) + (xp.arange(lead) * plane)[:, None]
        gx = xp.bincount(idx.reshape(-1), weights=g.reshape(-1), minlength=lead * plane)
        return gx.astype(g.dtype, copy=False).reshape(self.shape)

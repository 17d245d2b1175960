"""Resampling along spatial dims as products with small per-dim matrices: nearest and linear interpolation
and adaptive average pooling.

Each of these maps is separable and linear, y = A_h x A_wᵀ for every (sample, channel) plane, with A an
(out, in) matrix whose rows hold the interpolation (or averaging) weights. So one op does them all with
two batched GEMMs forward and two backward (Aᵀ on the gradient), exact adjoints of each other. The dense
matrices are tiny at image sizes (56 x 28 for a 2x upsampling of 28 pixels).
"""

from __future__ import annotations

import math

import numpy as np

from descend.backend import get_array_module
from descend._tensor import Function


def nearest_matrix(n_in: int, n_out: int, scale: float, exact: bool = False) -> np.ndarray:
    """PyTorch's 'nearest' (source floor(dst * scale)) or 'nearest-exact' (floor((dst + 0.5) * scale));
    like PyTorch's 'nearest', a dim whose size does not change is copied whatever the scale factor.

    PyTorch's own backward of 'nearest' to exactly twice the size with a scale factor other than 2 (2.05,
    say) maps output i to input i // 2 although its forward maps it to floor(i / 2.05); ours is the adjoint
    of the forward."""
    if n_in == n_out and not exact:
        return np.eye(n_in)
    dst = np.arange(n_out, dtype=np.float64)
    src = np.floor((dst + 0.5) * scale if exact else dst * scale).astype(np.int64)
    a = np.zeros((n_out, n_in))
    a[np.arange(n_out), np.minimum(src, n_in - 1)] = 1.0
    return a


def linear_matrix(n_in: int, n_out: int, scale: float, align_corners: bool) -> np.ndarray:
    """Linear interpolation weights: with align_corners the end pixels' centres align, else their edges
    (source (dst + 0.5) * scale - 0.5, clamped at 0), as PyTorch computes source positions; a dim whose
    size does not change is copied, as in PyTorch."""
    if n_in == n_out:
        return np.eye(n_in)
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = src - i0
    a = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(a, (rows, i0), 1.0 - t)
    np.add.at(a, (rows, i1), t)
    return a


def cubic_matrix(n_in: int, n_out: int, scale: float, align_corners: bool, a: float = -0.75) -> np.ndarray:
    """Bicubic weights along one dim, as PyTorch's: Keys' cubic convolution (A = -0.75) over the 4 nearest
    inputs, source positions as linear's but not clamped, reads past the edges clamped to the edge pixel."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = (dst + 0.5) * scale - 0.5
    i0 = np.floor(src).astype(np.int64)
    t = src - i0

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for k, w in enumerate(weights):
        np.add.at(m, (rows, np.clip(i0 - 1 + k, 0, n_in - 1)), w)
    return m


def adaptive_avg_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Output i averages inputs floor(i * in / out) to ceil((i + 1) * in / out) - 1, as PyTorch's windows."""
    a = np.zeros((n_out, n_in))
    for i in range(n_out):
        start = (i * n_in) // n_out
        end = math.ceil((i + 1) * n_in / n_out)
        a[i, start:end] = 1.0 / (end - start)
    return a


def repeat_factor(a: np.ndarray) -> int | None:
    """s if `a` maps each input to s consecutive outputs (nearest upsampling by an integer factor), else None."""
    n_out, n_in = a.shape
    if n_out % n_in:
        return None
    s = n_out // n_in
    return s if np.array_equal(a, np.repeat(np.eye(n_in, dtype=a.dtype), s, axis=0)) else None


class Resample(Function):
    """y = A_1 x A_2ᵀ over the last two dims (or y = x A_1ᵀ over the last dim), for each leading index.

    Nearest upsampling by integer factors copies instead (backward sums each block): the same numbers, but a
    NaN or inf stays where it was copied, where a product with the 0/1 matrix would spread it (NaN * 0)."""

    def forward(self, x, maps=()):
        xp = get_array_module(x)
        self.maps, self.repeats = tuple(xp.asarray(a, dtype=x.dtype) for a in maps), None
        if len(maps) == 2 and x.ndim == 4:
            factors = tuple(repeat_factor(np.asarray(a)) for a in maps)
            self.repeats = factors if None not in factors else None
        if self.repeats is not None:
            return self._copy_forward(xp, x)
        if len(self.maps) == 1:
            return x @ self.maps[0].T
        a_h, a_w = self.maps
        self.channels_last = x.ndim == 4 and not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous
        if self.channels_last:
            # A convolution's output: resample (N, H, W * C) rows, then (W, C) planes, and hand back
            # channels-last memory (a U-Net's upsampling feeds cat and the next convolution without a copy).
            n, h, w, c = x.transpose(0, 2, 3, 1).shape
            t = xp.matmul(a_h, x.transpose(0, 2, 3, 1).reshape(n, h, w * c))
            y = xp.matmul(a_w, t.reshape(-1, w, c))
            return y.reshape(n, a_h.shape[0], a_w.shape[0], c).transpose(0, 3, 1, 2)
        return xp.matmul(a_h, x) @ a_w.T  # (out_h, H) @ (..., H, W) broadcasts over the leading dims

    def _copy_forward(self, xp, x):
        """Each pixel broadcast over its sh x sw block, in x's layout (channels-last stays channels-last)."""
        (sh, sw), (n, c, h, w) = self.repeats, x.shape
        self.channels_last = not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous
        if self.channels_last:
            blocks = xp.broadcast_to(x.transpose(0, 2, 3, 1)[:, :, None, :, None, :], (n, h, sh, w, sw, c))
            return blocks.reshape(n, h * sh, w * sw, c).transpose(0, 3, 1, 2)
        blocks = xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, sh, w, sw))
        return blocks.reshape(n, c, h * sh, w * sw)

    def backward(self, g):
        xp = get_array_module(g)
        if self.repeats is not None:  # each input pixel's gradient is the sum over its block
            (sh, sw), (n, c, oh, ow) = self.repeats, g.shape
            if self.channels_last:  # a sum of the sh * sw strided views: NumPy's sum over the two inner
                # block axes ran 6x slower (short inner loops); the same additions in the same order
                gcl = g.transpose(0, 2, 3, 1).reshape(n, oh // sh, sh, ow // sw, sw, c)
                views = [gcl[:, :, i, :, j] for i in range(sh) for j in range(sw)]
                out = views[0].copy() if len(views) == 1 else xp.add(views[0], views[1])
                for v in views[2:]:
                    out += v
                return out.transpose(0, 3, 1, 2)
            return g.reshape(n, c, oh // sh, sh, ow // sw, sw).sum(axis=(3, 5))
        if len(self.maps) == 1:
            return g @ self.maps[0]
        a_h, a_w = self.maps
        if self.channels_last:
            n, oh, ow, c = g.transpose(0, 2, 3, 1).shape
            gcl = xp.ascontiguousarray(g.transpose(0, 2, 3, 1))
            t = xp.matmul(a_w.T, gcl.reshape(-1, ow, c))  # (N * out_h, W, C)
            gx = xp.matmul(a_h.T, t.reshape(n, oh, -1))  # (N, H, W * C)
            return gx.reshape(n, a_h.shape[1], a_w.shape[1], c).transpose(0, 3, 1, 2)
        return xp.matmul(a_h.T, g) @ a_w

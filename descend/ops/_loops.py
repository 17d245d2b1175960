"""Loops that NumPy cannot fuse into one pass, written for numba (see descend/ops/kernels.py, which compiles
them on first use). Plain Python here: each op keeps its NumPy path, which runs when numba is missing or the
arrays are small, and the tests run both paths against each other, float64 gradchecks and PyTorch.

Every kernel reads its inputs once and writes its output once; the per-channel sums accumulate in float64,
so float32 statistics are at least as accurate as NumPy's pairwise sums.
"""

from __future__ import annotations

import numpy as np


def bn_moments(x):
    """Per-column mean and biased variance of x (rows, C), two passes (no cancellation), in float64."""
    m, c = x.shape
    s = np.zeros(c, np.float64)
    for i in range(m):
        for j in range(c):
            s[j] += x[i, j]
    mean = s / m
    v = np.zeros(c, np.float64)
    for i in range(m):
        for j in range(c):
            d = x[i, j] - mean[j]
            v[j] += d * d
    return mean, v / m


def scale_shift(x, mean, a, b, out):
    """out = (x - mean) * a + b, per column: BatchNorm's output in one pass (centring first keeps the
    precision when the mean is large beside the spread)."""
    m, c = x.shape
    for i in range(m):
        for j in range(c):
            out[i, j] = (x[i, j] - mean[j]) * a[j] + b[j]


def bn_grad_sums(g, x, mean):
    """Per-column sum(g) and sum(g * (x - mean)), in float64."""
    m, c = g.shape
    sg = np.zeros(c, np.float64)
    sgx = np.zeros(c, np.float64)
    for i in range(m):
        for j in range(c):
            gij = g[i, j]
            sg[j] += gij
            sgx[j] += gij * (x[i, j] - mean[j])
    return sg, sgx


def bn_grad_input(g, x, mean, a, b, k, out):
    """out = g * a + (x - mean) * b + k, per column: BatchNorm's input gradient in one pass."""
    m, c = g.shape
    for i in range(m):
        for j in range(c):
            out[i, j] = g[i, j] * a[j] + (x[i, j] - mean[j]) * b[j] + k[j]


def relu_backward(g, y, out):
    """out = g where y > 0, else 0 (flat arrays); a NaN y passes no gradient, as in PyTorch."""
    for i in range(g.shape[0]):
        out[i] = g[i] if y[i] > 0 else 0


def max_pool_tiles(x, kh, kw, out, arg):
    """Max over non-overlapping kh x kw windows of channels-last x (N, H, W, C) into out (N, H/kh, W/kw, C),
    with arg = the window offset of the first maximum, or of the last NaN (PyTorch's choice)."""
    n, oh, ow, c = out.shape
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    out[b, i, j, ch] = x[b, i * kh, j * kw, ch]
                    arg[b, i, j, ch] = 0
                for dy in range(kh):
                    for dx in range(kw):
                        if dy == 0 and dx == 0:
                            continue
                        t = dy * kw + dx
                        for ch in range(c):
                            v = x[b, i * kh + dy, j * kw + dx, ch]
                            if v > out[b, i, j, ch] or v != v:
                                out[b, i, j, ch] = v
                                arg[b, i, j, ch] = t


def max_pool_tiles_backward(g, arg, kh, kw, gx):
    """gx (N, H, W, C) = g (N, H/kh, W/kw, C) at each window's arg offset, 0 elsewhere; every gx entry written."""
    n, oh, ow, c = g.shape
    for b in range(n):
        for i in range(oh):
            for dy in range(kh):
                for j in range(ow):
                    for dx in range(kw):
                        t = dy * kw + dx
                        for ch in range(c):
                            gx[b, i * kh + dy, j * kw + dx, ch] = g[b, i, j, ch] if arg[b, i, j, ch] == t else 0

"""Loops that NumPy cannot fuse into one pass, written for numba (see descend/ops/kernels.py, which compiles
them on first use). Plain Python here: each op keeps its NumPy path, which runs when numba is missing or the
arrays are small, and the tests run both paths against each other, float64 gradchecks and PyTorch.

Every kernel reads its inputs once and writes its output once; the per-channel sums accumulate in float64,
so float32 statistics are at least as accurate as NumPy's pairwise sums. Loops over `prange` have independent
iterations (kernels.py compiles them serial and, for several threads, parallel); sums are taken over fixed
pieces (`_pieces`) and combined in order, so results do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np

try:  # prange: the loops whose iterations are independent run on several threads when compiled parallel
    from numba import prange
except ImportError:  # without numba the loops never compile (kernels.py), and read as plain Python
    prange = range


def _pieces(n: int) -> int:
    """Row pieces per sample for the (n, rows, C) kernels: enough work items for the threads when a batch norm
    hands one (1, rows, C) block. A function of the shape only, so sums come out the same at any thread count."""
    return max(1, 8 // n)


def _span(t: int, pieces: int, m: int):
    """Work item t of n * pieces: (sample, piece, first row, end row)."""
    b, q = t // pieces, t % pieces
    return b, q, q * m // pieces, (q + 1) * m // pieces


def scale_shift(x, mean, a, b, out):
    """out[n, p, c] = (x - mean[n, c]) * a[n, c] + b[n, c]: a normalisation's output in one pass (centring
    first keeps the precision when the mean is large beside the spread)."""
    n, m, c = x.shape
    pieces = _pieces(n)
    for t in prange(n * pieces):
        s, _, lo, hi = _span(t, pieces, m)
        for i in range(lo, hi):
            for j in range(c):
                out[s, i, j] = (x[s, i, j] - mean[s, j]) * a[s, j] + b[s, j]


def grad_sums(g, x, mean):
    """Per (n, c): sum over p of g and of g * (x - mean[n, c]), in float64, in one pass over g and x."""
    n, m, c = g.shape
    pieces = _pieces(n)
    pg = np.zeros((n, pieces, c), np.float64)
    pgx = np.zeros((n, pieces, c), np.float64)
    for t in prange(n * pieces):
        b, q, i, hi = _span(t, pieces, m)
        while i + 4 <= hi:  # four rows per update of the accumulators (see channel_moments)
            for j in range(c):
                mj = mean[b, j]
                g0, g1 = np.float64(g[b, i, j]), np.float64(g[b, i + 1, j])  # float64 partials, as the sums
                g2, g3 = np.float64(g[b, i + 2, j]), np.float64(g[b, i + 3, j])
                pg[b, q, j] += (g0 + g1) + (g2 + g3)
                pgx[b, q, j] += ((g0 * (x[b, i, j] - mj) + g1 * (x[b, i + 1, j] - mj))
                                 + (g2 * (x[b, i + 2, j] - mj) + g3 * (x[b, i + 3, j] - mj)))
            i += 4
        for i in range(i, hi):
            for j in range(c):
                gij = g[b, i, j]
                pg[b, q, j] += gij
                pgx[b, q, j] += gij * (x[b, i, j] - mean[b, j])
    return _combine(pg), _combine(pgx)


def _combine(parts):
    """(n, pieces, c) partial sums -> (n, c), pieces added in order."""
    n, pieces, c = parts.shape
    out = np.zeros((n, c), np.float64)
    for b in range(n):
        for q in range(pieces):
            for j in range(c):
                out[b, j] += parts[b, q, j]
    return out


def grad_input(g, x, mean, a, b, k, out):
    """out = g * a + (x - mean) * b + k, with (n, c) coefficients: a normalisation's input gradient."""
    n, m, c = g.shape
    pieces = _pieces(n)
    for t in prange(n * pieces):
        s, _, lo, hi = _span(t, pieces, m)
        for i in range(lo, hi):
            for j in range(c):
                out[s, i, j] = g[s, i, j] * a[s, j] + (x[s, i, j] - mean[s, j]) * b[s, j] + k[s, j]


def relu(x, out):
    """out = 0 where x <= 0, else x (flat arrays): np.maximum(x, 0) bit for bit (NaN kept with its sign, -0 to
    +0), at copy speed where NumPy's NaN-aware maximum ran 4x slower."""
    for i in prange(x.shape[0]):
        out[i] = 0 if x[i] <= 0 else x[i]


def relu_backward(g, y, out):
    """out = 0 where the output y <= 0, else g (flat arrays): PyTorch's threshold_backward, so a NaN y passes
    g, and an inf or NaN g gives 0 where y <= 0."""
    for i in prange(g.shape[0]):
        out[i] = 0 if y[i] <= 0 else g[i]


def im2col(x, sh, sw, dh, dw, pt, pl, out):
    """out[n, i, j, ky, kx, c] = x[n, i * sh + ky * dh - pt, j * sw + kx * dw - pl, c], or 0 outside x:
    channels-last im2col with the zero padding folded in (the padded input is never materialised), each copy
    a run of C numbers. With one kernel row and every padded row as an output row it is the strip lowering's
    width-only im2col."""
    n, h, w, c = x.shape
    oh, ow, kh, kw = out.shape[1], out.shape[2], out.shape[3], out.shape[4]
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ky in range(kh):
                    r = i * sh + ky * dh - pt
                    for kx in range(kw):
                        q = j * sw + kx * dw - pl
                        if 0 <= r < h and 0 <= q < w:
                            for ch in range(c):
                                out[b, i, j, ky, kx, ch] = x[b, r, q, ch]
                        else:
                            for ch in range(c):
                                out[b, i, j, ky, kx, ch] = 0


def col2im(slabs, sh, sw, dh, dw, pt, pl, out):
    """out[n, y, x, c] = the sum of slabs[ky, kx, n, oy, ox, c] over the kernel offsets whose window at output
    (oy, ox) read padded input (y + pt, x + pl): col2im as a gather, each output written once, no zero-filled
    padded buffer. Offsets are added in (ky, kx) order, as the NumPy path adds its slabs."""
    kh, kw, n, oh, ow, c = slabs.shape
    h, w = out.shape[1], out.shape[2]
    col = np.full((w, kw), -1, np.int64)  # output column read by (x, kx), or -1: the same for every row
    for x in range(w):
        for kx in range(kw):
            u = x + pl - kx * dw
            if u >= 0 and u % sw == 0 and u // sw < ow:
                col[x, kx] = u // sw
    for b in prange(n):
        for y in range(h):
            for x in range(w):
                for ch in range(c):
                    out[b, y, x, ch] = 0
            for ky in range(kh):
                t = y + pt - ky * dh
                if t < 0 or t % sh != 0 or t // sh >= oh:
                    continue
                oy = t // sh
                for x in range(w):
                    for kx in range(kw):
                        ox = col[x, kx]
                        if ox >= 0:
                            for ch in range(c):
                                out[b, y, x, ch] += slabs[ky, kx, b, oy, ox, ch]


def silu_forward(x, s, out):
    """out = x * s with s = sigmoid(x) (flat arrays): NumPy's product, on several threads when parallel."""
    for i in prange(x.shape[0]):
        out[i] = x[i] * s[i]


def silu_backward(g, x, s, out):
    """out = g * s * (1 + x * (1 - s)) with s = sigmoid(x) (flat arrays in one memory layout)."""
    for i in prange(g.shape[0]):
        out[i] = g[i] * s[i] * (1 + x[i] * (1 - s[i]))


def leaky_relu(x, slope, out):
    """out = x where x > 0, else x * slope (flat arrays; slope in x's dtype, so products round as PyTorch's)."""
    for i in prange(x.shape[0]):
        out[i] = x[i] if x[i] > 0 else x[i] * slope


def leaky_relu_backward(g, x, slope, out):
    """out = g where the input x > 0, else g * slope (PyTorch's leaky_relu_backward)."""
    for i in prange(g.shape[0]):
        out[i] = g[i] if x[i] > 0 else g[i] * slope


def max_pool_tiles(x, kh, kw, out, arg):
    """Max over non-overlapping kh x kw windows of channels-last x (N, H, W, C) into out (N, H/kh, W/kw, C),
    with arg = the window offset of the first maximum, or of the last NaN (PyTorch's choice)."""
    n, oh, ow, c = out.shape
    for b in prange(n):
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
    for b in prange(n):
        for i in range(oh):
            for dy in range(kh):
                for j in range(ow):
                    for dx in range(kw):
                        t = dy * kw + dx
                        for ch in range(c):
                            gx[b, i * kh + dy, j * kw + dx, ch] = g[b, i, j, ch] if arg[b, i, j, ch] == t else 0


def adam(p, g, m, v, decay, w, low, b2, c2, eps, s):
    """Adam's update in one pass, each step rounded as descend.optim.Adam's NumPy path rounds it (scalars in
    the arrays' dtype): p *= decay; m = lerp(m, g, w) (PyTorch's form for w < 0.5 when `low`, else
    g - (g - m) * w with w = 1 - weight); v = v * b2 + g * c2 * g; p += m * s / (sqrt(v) + eps)."""
    for i in prange(p.shape[0]):
        gi = g[i]
        d = gi - m[i]
        mi = m[i] + d * w if low else gi - d * w
        m[i] = mi
        vi = v[i] * b2 + (gi * c2) * gi
        v[i] = vi
        p[i] = p[i] * decay + (mi * s) / (np.sqrt(vi) + eps)


def channel_moments(x):
    """Per-(n, c) sums of d and d * d for d = x - k, in float64, with k[n, c] = x[n, 0, c] (0 if that is not
    finite): mean and variance in one pass (mean = k + s1 / m, var = s2 / m - (s1 / m)^2). Shifting by a sample
    keeps s1 / m of the order of the spread, so the subtraction loses nothing that float64 sums of float32 data
    would notice, where raw sums of squares would cancel catastrophically for a large mean."""
    n, m, c = x.shape
    k = np.empty((n, c), np.float64)
    for b in range(n):
        for j in range(c):
            v = x[b, 0, j]
            k[b, j] = v if np.isfinite(v) else 0.0  # an infinite shift would turn the channel's sums into NaN
    pieces = _pieces(n)
    p1 = np.zeros((n, pieces, c), np.float64)
    p2 = np.zeros((n, pieces, c), np.float64)
    for t in prange(n * pieces):
        b, q, i, hi = _span(t, pieces, m)
        # Four rows per update: the accumulators stay in memory (numba cannot tell they do not alias x), so
        # each update waits for the last one's store; a row at a time ran 2-2.5x slower.
        while i + 4 <= hi:
            for j in range(c):
                kj = k[b, j]
                d0, d1, d2, d3 = x[b, i, j] - kj, x[b, i + 1, j] - kj, x[b, i + 2, j] - kj, x[b, i + 3, j] - kj
                p1[b, q, j] += (d0 + d1) + (d2 + d3)
                p2[b, q, j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
            i += 4
        for i in range(i, hi):
            for j in range(c):
                d = x[b, i, j] - k[b, j]
                p1[b, q, j] += d
                p2[b, q, j] += d * d
    return _combine(p1), _combine(p2), k


def amax_rows(a, sign, out, count):
    """out[r] = max (sign > 0) or min of a[r, :] with NaN propagating as np.maximum's, and count[r] = how many
    entries equal it (the ties that share the gradient): Maxout's reduction over its few pieces in one pass."""
    rows, k = a.shape
    for r in prange(rows):
        m = a[r, 0]
        for j in range(1, k):
            v = a[r, j]
            if m == m and (v != v or (v > m if sign > 0 else v < m)):
                m = v
        out[r] = m
        c = 0
        for j in range(k):
            if a[r, j] == m:
                c += 1
        count[r] = c


def amax_rows_backward(a, out, g, count, gx):
    """gx[r, j] = [a[r, j] == out[r]] * (g[r] / count[r]): the NumPy path's mask * (g / count), element for
    element (a NaN maximum has no ties: 0 * (g / 0), NaN, as there)."""
    rows, k = a.shape
    for r in prange(rows):
        q = g[r] / count[r]
        for j in range(k):
            gx[r, j] = (1.0 if a[r, j] == out[r] else 0.0) * q

"""Would Winograd F(2x2, 3x3) beat descend's strip convolution on ResNet-20's layers? Times its three stages
(input transform, 16 batched products, output transform; the transforms as compiled numba loops, the products
as NumPy batched matmul) against descend's own 3x3/pad-1 forward, and the error of both against float64.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/winograd_probe.py      (one thread)

Forward only: the backward passes would need the same transforms and more (the input transform's adjoint is a
scatter into overlapping tiles), so a loss here is a loss for training too.
"""

from __future__ import annotations

import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba  # noqa: E402
import numpy as np  # noqa: E402

import descend  # noqa: E402
import descend.nn.functional as F  # noqa: E402

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])  # Lavin & Gray's F(2x2, 3x3)


@numba.njit(nogil=True, cache=True)
def input_transform(x, tiles_h, tiles_w, v):
    """v[4i + j, tile, c] = (B^T d B)[i, j] for each 4x4 input tile d (stride 2, zero padding 1)."""
    n, h, w, c = x.shape
    d = np.zeros((4, 4, c), x.dtype)
    e = np.empty((4, 4, c), x.dtype)
    t = 0
    for b in range(n):
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                for i in range(4):
                    r = 2 * ty - 1 + i
                    for j in range(4):
                        q = 2 * tx - 1 + j
                        inside = 0 <= r < h and 0 <= q < w
                        for ch in range(c):
                            d[i, j, ch] = x[b, r, q, ch] if inside else 0
                for j in range(4):
                    for ch in range(c):
                        e[0, j, ch] = d[0, j, ch] - d[2, j, ch]
                        e[1, j, ch] = d[1, j, ch] + d[2, j, ch]
                        e[2, j, ch] = d[2, j, ch] - d[1, j, ch]
                        e[3, j, ch] = d[1, j, ch] - d[3, j, ch]
                for i in range(4):
                    for ch in range(c):
                        v[4 * i, t, ch] = e[i, 0, ch] - e[i, 2, ch]
                        v[4 * i + 1, t, ch] = e[i, 1, ch] + e[i, 2, ch]
                        v[4 * i + 2, t, ch] = e[i, 2, ch] - e[i, 1, ch]
                        v[4 * i + 3, t, ch] = e[i, 1, ch] - e[i, 3, ch]
                t += 1


@numba.njit(nogil=True, cache=True)
def output_transform(m, tiles_h, tiles_w, y):
    """y's 2x2 output tiles = A^T m A for each tile's 4x4 product m."""
    n, h, w, o = y.shape
    a = np.empty((4, 2, o), m.dtype)
    t = 0
    for b in range(n):
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                for i in range(4):
                    for oc in range(o):
                        a[i, 0, oc] = m[4 * i, t, oc] + m[4 * i + 1, t, oc] + m[4 * i + 2, t, oc]
                        a[i, 1, oc] = m[4 * i + 1, t, oc] - m[4 * i + 2, t, oc] - m[4 * i + 3, t, oc]
                for q in range(2):
                    if 2 * tx + q < w:
                        for oc in range(o):
                            y[b, 2 * ty, 2 * tx + q, oc] = a[0, q, oc] + a[1, q, oc] + a[2, q, oc]
                        if 2 * ty + 1 < h:
                            for oc in range(o):
                                y[b, 2 * ty + 1, 2 * tx + q, oc] = a[1, q, oc] - a[2, q, oc] - a[3, q, oc]
                t += 1


def winograd(x: np.ndarray, w: np.ndarray) -> tuple:
    """3x3/pad-1 convolution of channels-last x (N, H, W, C) with w (O, C, 3, 3); (y, seconds per stage)."""
    n, h, wd, c = x.shape
    th, tw = (h + 1) // 2, (wd + 1) // 2
    t0 = time.perf_counter()
    u = np.einsum("ik,ockl,jl->ijco", G, w.astype(np.float64), G).reshape(16, c, -1).astype(x.dtype)
    v = np.empty((16, n * th * tw, c), x.dtype)
    input_transform(x, th, tw, v)
    t1 = time.perf_counter()
    m = np.matmul(v, u)
    t2 = time.perf_counter()
    y = np.empty((n, h, wd, w.shape[0]), x.dtype)
    output_transform(m, th, tw, y)
    t3 = time.perf_counter()
    return y, (t1 - t0, t2 - t1, t3 - t2)


def best(fn, rounds: int = 15) -> tuple:
    """(result, per-stage seconds) of the fastest of `rounds` calls."""
    runs = [fn() for _ in range(rounds)]
    return runs[0][0], min((r[1] for r in runs), key=sum)


def main() -> None:
    print("Winograd F(2x2,3x3) vs descend's strip convolution, forward, float32, 1 thread, batch 64 (ms)")
    print(f"{'layer':<12}{'input tf':>9}{'16 GEMMs':>9}{'output tf':>10}{'Winograd':>10}{'strip':>8}"
          f"{'max err W':>11}{'max err strip':>15}")
    rng = np.random.default_rng(0)
    for c, size in ((16, 28), (32, 14), (64, 7)):
        x = rng.standard_normal((64, size, size, c)).astype(np.float32)
        w = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
        y, stages = best(lambda: winograd(x, w))
        xt, wt = descend.tensor(x).permute(0, 3, 1, 2), descend.tensor(w)

        def strip() -> tuple:
            t = time.perf_counter()
            out = F.conv2d(xt, wt, padding=1)
            return out, (time.perf_counter() - t,)

        ys, (t_strip,) = best(strip)
        exact = F.conv2d(descend.tensor(x.astype(np.float64)).permute(0, 3, 1, 2), descend.tensor(w.astype(np.float64)),
                         padding=1).permute(0, 2, 3, 1).numpy()
        err_w = np.abs(y - exact).max()
        err_s = np.abs(ys.permute(0, 2, 3, 1).numpy() - exact).max()
        ms = [s * 1e3 for s in stages]
        print(f"{c}ch {size}x{size:<5}{ms[0]:>9.2f}{ms[1]:>9.2f}{ms[2]:>10.2f}{sum(ms):>10.2f}{t_strip * 1e3:>8.2f}"
              f"{err_w:>11.1e}{err_s:>15.1e}")


if __name__ == "__main__":
    main()

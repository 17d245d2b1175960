"""The benchmark's data: MNIST-1D slices and small synthetic sets, made from a seed (no downloads)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from descend.data import DataLoader, TensorDataset
from descend.data.mnist1d import mnist1d


@lru_cache(maxsize=1)
def _mnist1d() -> dict:
    return mnist1d()


def mnist1d_arrays(n_train: int, n_val: int) -> tuple:
    d = _mnist1d()
    return (d["x"][:n_train].astype(np.float32), d["y"][:n_train].astype(np.int64),
            d["x_test"][:n_val].astype(np.float32), d["y_test"][:n_val].astype(np.int64))


def blobs(n_train: int, n_val: int, dim: int = 20, classes: int = 10, spread: float = 1.0) -> tuple:
    """Gaussian blobs: `classes` centres on a sphere of radius 3 in `dim` dimensions, unit noise x spread."""
    r = np.random.default_rng(7)
    centres = r.standard_normal((classes, dim))
    centres *= 3.0 / np.linalg.norm(centres, axis=1, keepdims=True)

    def draw(n: int, seed: int) -> tuple:
        g = np.random.default_rng(seed)
        y = g.integers(classes, size=n)
        return (centres[y] + spread * g.standard_normal((n, dim))).astype(np.float32), y.astype(np.int64)

    return (*draw(n_train, 1), *draw(n_val, 2))


def rings(n_train: int, n_val: int) -> tuple:
    """Two concentric rings in 2-D (radius 1 and 2): not linearly separable."""
    def draw(n: int, seed: int) -> tuple:
        g = np.random.default_rng(seed)
        y = g.integers(2, size=n)
        angle = g.uniform(0, 2 * np.pi, n)
        radius = 1.0 + y + 0.15 * g.standard_normal(n)
        x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        return x.astype(np.float32), y.astype(np.int64)

    return (*draw(n_train, 3), *draw(n_val, 4))


def images(n_train: int, n_val: int, side: int = 12, classes: int = 10) -> tuple:
    """Small synthetic images: one smooth random template per class, shifted by a pixel and noised."""
    r = np.random.default_rng(11)
    base = r.standard_normal((classes, side + 2, side + 2))
    base = (base + np.roll(base, 1, 1) + np.roll(base, 1, 2) + np.roll(base, (1, 1), (1, 2))) / 2

    def draw(n: int, seed: int) -> tuple:
        g = np.random.default_rng(seed)
        y = g.integers(classes, size=n)
        dx, dy = g.integers(3, size=n), g.integers(3, size=n)
        x = np.stack([base[c, i:i + side, j:j + side] for c, i, j in zip(y, dx, dy)])
        x = x + 0.8 * g.standard_normal(x.shape)
        return x[:, None].astype(np.float32), y.astype(np.int64)

    return (*draw(n_train, 5), *draw(n_val, 6))


def regression(n_train: int, n_val: int, dim: int = 40, noise: float = 0.1) -> tuple:
    """Linear regression targets from MNIST-1D inputs: y = x w + noise (one output)."""
    x, _, xv, _ = mnist1d_arrays(n_train, n_val)
    r = np.random.default_rng(0)
    w = r.standard_normal((dim, 1)).astype(np.float32) / np.sqrt(dim)
    t = (x @ w + noise * r.standard_normal((len(x), 1))).astype(np.float32)
    tv = (xv @ w + noise * r.standard_normal((len(xv), 1))).astype(np.float32)
    return x, t, xv, tv


def loaders(arrays: tuple, batch_size: int = 50, seed: int = 0) -> tuple:
    x, y, xv, yv = arrays
    train = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=seed + 1)
    val = DataLoader(TensorDataset(xv, yv), batch_size=max(len(xv), 1))
    return train, val

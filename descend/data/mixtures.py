"""2-D Gaussian mixtures for GAN mode-collapse experiments (the PacGAN protocol's ring and grid)."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.data.sampler import as_rng


def mixture_modes(name: str) -> tuple[np.ndarray, float]:
    """(mode centres (k, 2) float64, per-coordinate standard deviation) of a named mixture."""
    if name == "ring8":
        # Eight modes evenly spaced on the unit circle.
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
    if name == "grid25":
        # Twenty-five modes on the grid {-4, -2, 0, 2, 4}^2.
        ticks = np.arange(-4.0, 5.0, 2.0)
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1), 0.05
    raise ValueError(f"gaussian_mixture: unknown mixture {name!r}: expected 'ring8' or 'grid25'")


def gaussian_mixture(name: str, n: int, generator: Any = None) -> tuple[np.ndarray, np.ndarray, float]:
    """n samples (float32 (n, 2)) from an equal-weight mixture, with its modes (k, 2) and std.

    `generator` is an int seed, a numpy Generator, or None (a child of descend's global generator).
    """
    modes, std = mixture_modes(name)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"gaussian_mixture: n must be a non-negative int, got {n!r}")
    rng = as_rng(generator)
    which = rng.integers(len(modes), size=int(n))
    x = modes[which] + std * rng.standard_normal((int(n), 2))
    return x.astype(np.float32), modes, std

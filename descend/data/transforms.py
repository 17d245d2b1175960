"""Sample transforms on NumPy arrays, and the blur + JPEG augmentation of Wang et al. (CVPR 2020).

Wang et al., "CNN-generated images are surprisingly easy to spot... for now", train a real-vs-fake detector
on images that are blurred (σ ~ U[0, 3]) with probability p and JPEG-compressed (quality ~ U{30..100}) with
probability p; `blur_jpeg(p)` builds that recipe. A sample is (..., H, W) for images (dims=2) or (..., L) for
signals (dims=1); values are in `value_range` (JPEG works on 8-bit levels of that range).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from descend.data.dataset import Dataset
from descend.data.sampler import as_rng

# The JPEG standard's luminance quantization table (ITU-T T.81, Annex K, Table K.1), for quality 50.
_LUMA = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=np.float64)


def _range(value: Any, name: str, what: str) -> tuple[float, float]:
    lo, hi = (value, value) if isinstance(value, (int, float)) else tuple(value)
    if not 0 <= lo <= hi:
        raise ValueError(f"{name}: {what} must be a number >= 0 or a (min, max) pair with 0 <= min <= max, "
                         f"got {value!r}")
    return float(lo), float(hi)


def _check_dims(x: np.ndarray, dims: int, name: str) -> None:
    if x.ndim < dims:
        raise ValueError(f"{name}: a sample needs at least {dims} dims (dims={dims}), got shape {x.shape}")


class GaussianBlur:
    """Blur with a Gaussian of standard deviation drawn from U[sigma] (torchvision's GaussianBlur; reflect pad).

    kernel_size: odd; None sizes it to ±3σ. sigma 0 leaves the sample unchanged.
    """

    def __init__(self, kernel_size: int | None = None, sigma: float | Sequence[float] = (0.1, 2.0), dims: int = 2,
                 generator: Any = None) -> None:
        if kernel_size is not None and (kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError(f"GaussianBlur: kernel_size must be a positive odd int, got {kernel_size!r}")
        self.kernel_size, self.sigma, self.dims = kernel_size, _range(sigma, "GaussianBlur", "sigma"), dims
        self.rng = as_rng(generator)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        _check_dims(x, self.dims, "GaussianBlur")
        sigma = self.rng.uniform(*self.sigma)
        if sigma <= 0:
            return x
        size = self.kernel_size or 2 * math.ceil(3 * sigma) + 1
        r = size // 2
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        out = np.asarray(x, dtype=np.float64)
        for axis in range(x.ndim - self.dims, x.ndim):
            n = out.shape[axis]
            # Reflect padding (as torchvision), repeated for kernels wider than the sample.
            idx = np.arange(-r, n + r)
            period = 2 * (n - 1) if n > 1 else 1
            idx = np.abs(idx) % period
            idx = np.where(idx >= n, period - idx, idx)
            padded = np.take(out, idx, axis=axis)
            windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis)
            out = windows @ k
        return out.astype(x.dtype)


def _dct_matrix(n: int = 8) -> np.ndarray:
    """The orthonormal DCT-II matrix (JPEG's 8-point transform)."""
    i = np.arange(n)
    m = np.cos(np.pi * (2 * i[None, :] + 1) * i[:, None] / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m


def quantization_table(quality: int) -> np.ndarray:
    """The luminance table scaled for a JPEG quality 1..100 (the IJG libjpeg formula)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quantization_table: quality must be in 1..100, got {quality!r}")
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.maximum(np.floor((_LUMA * scale + 50) / 100), 1)


def jpeg_compress(x: np.ndarray, quality: int, dims: int = 2, value_range: tuple = (0.0, 1.0)) -> np.ndarray:
    """JPEG's lossy core on one grey channel: 8-bit levels, 8x8 (or 8-sample) block DCT, quantization, back.

    Signals (dims=1) use the table's first row (horizontal frequencies). No entropy coding (it is lossless).
    """
    _check_dims(x, dims, "jpeg_compress")
    lo, hi = value_range
    levels = np.clip(np.rint((np.asarray(x, dtype=np.float64) - lo) / (hi - lo) * 255), 0, 255) - 128
    q = quantization_table(int(quality))
    d = _dct_matrix()
    shape = levels.shape
    pad = [(0, 0)] * (levels.ndim - dims) + [(0, -s % 8) for s in shape[-dims:]]
    y = np.pad(levels, pad, mode="edge")
    if dims == 1:
        blocks = y.reshape(y.shape[:-1] + (-1, 8))
        coef = np.rint(blocks @ d.T / q[0]) * q[0]
        y = (coef @ d).reshape(y.shape)
    else:
        h, w = y.shape[-2:]
        blocks = y.reshape(y.shape[:-2] + (h // 8, 8, w // 8, 8)).swapaxes(-3, -2)
        coef = np.rint(d @ blocks @ d.T / q) * q
        y = (d.T @ coef @ d).swapaxes(-3, -2).reshape(y.shape)
    y = y[tuple(slice(0, s) for s in shape)]
    out = (np.clip(np.rint(y + 128), 0, 255) / 255) * (hi - lo) + lo
    return out.astype(np.asarray(x).dtype)


class JPEG:
    """JPEG-style compression at a quality drawn from U{quality} (torchvision.transforms.v2.JPEG's argument)."""

    def __init__(self, quality: int | Sequence[int] = (30, 100), dims: int = 2, value_range: tuple = (0.0, 1.0),
                 generator: Any = None) -> None:
        lo, hi = _range(quality, "JPEG", "quality")
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"JPEG: quality must be in 1..100, got {quality!r}")
        self.quality, self.dims, self.value_range = (int(lo), int(hi)), dims, value_range
        self.rng = as_rng(generator)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        q = int(self.rng.integers(self.quality[0], self.quality[1] + 1))
        return jpeg_compress(x, q, self.dims, self.value_range)


class RandomApply:
    """Apply `transform` with probability p."""

    def __init__(self, transform: Callable, p: float = 0.5, generator: Any = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"RandomApply: p must be in [0, 1], got {p!r}")
        self.transform, self.p, self.rng = transform, p, as_rng(generator)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.transform(x) if self.rng.random() < self.p else x


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            x = t(x)
        return x


def blur_jpeg(p: float = 0.5, dims: int = 2, value_range: tuple = (0.0, 1.0), generator: Any = None) -> Compose:
    """Wang et al.'s "Blur+JPEG (p)": blur σ ~ U[0, 3] with probability p, then JPEG q ~ U{30..100} with p."""
    rng = as_rng(generator)
    return Compose([RandomApply(GaussianBlur(None, (0.0, 3.0), dims, rng), p, rng),
                    RandomApply(JPEG((30, 100), dims, value_range, rng), p, rng)])


class TransformDataset(Dataset):
    """(transform(x), y) for each (x, y) of a dataset of NumPy arrays; a fresh draw every time it is read."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: Callable) -> None:
        if len(x) != len(y):
            raise ValueError(f"TransformDataset: {len(x)} samples but {len(y)} labels")
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[np.ndarray, Any]:
        return self.transform(self.x[i]), self.y[i]

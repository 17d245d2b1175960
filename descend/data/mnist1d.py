"""MNIST-1D (Greydanus 2020, "Scaling Down Deep Learning"), generated procedurally from its published recipe.

Each sample is one of ten 12-point digit templates, zero-padded on the right by a random 36..60 points, stretched
to 72 points, scaled, circularly shifted, given correlated noise where the signal is zero and i.i.d. noise
everywhere, sheared, and resampled to 40 points; the dataset is then shuffled and standardised. Random numbers
are drawn from NumPy's legacy RandomState in the recipe's order, so the output equals the reference data set.
The random draws need a loop over samples (their count varies); all arithmetic is vectorised over samples.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from descend.data.dataset import TensorDataset

# The ten digit templates as published (before whitening), one row per digit 0..9.
_DIGITS = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])
_EPS = 1e-8  # added before padding so the template never reads as "zero" (the noise mask)


def templates() -> dict[str, np.ndarray]:
    """The whitened templates: x (10, 12) starting at 0 and scaled by 1/6, their time axis t, labels y."""
    x = _DIGITS - _DIGITS.mean(axis=1, keepdims=True)
    x = x / x.std(axis=1, keepdims=True)
    x = x - x[:, :1]
    return {"x": x / 6.0, "t": np.linspace(-5, 5, x.shape[1]) / 6.0, "y": np.arange(10)}


def _resample(y: np.ndarray, n: int) -> np.ndarray:
    """Linearly resample each row of y from an even grid on [0, 1] to n even points (np.interp, row-wise).

    Points that land exactly on a source point take its value unchanged, as np.interp does, so the result
    matches the reference generator bit for bit.
    """
    src = np.linspace(0, 1, y.shape[-1])
    dst = np.linspace(0, 1, n)
    j = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, len(src) - 2)
    slope = (y[..., j + 1] - y[..., j]) / (src[j + 1] - src[j])
    out = slope * (dst - src[j]) + y[..., j]
    out = np.where(dst == src[j], y[..., j], out)
    return np.where(dst == src[j + 1], y[..., j + 1], out)


def _gaussian_smooth(x: np.ndarray, sigma: float = 2.0, truncate: float = 4.0) -> np.ndarray:
    """Gaussian filter along the last axis, edges mirrored (d c b a | a b c d), as scipy.ndimage's default."""
    radius = int(truncate * sigma + 0.5)
    w = np.exp(-0.5 / sigma**2 * np.arange(-radius, radius + 1) ** 2)
    w = w / w.sum()
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(radius, radius)], mode="symmetric")
    width = x.shape[-1]
    # Centre tap first, then mirrored pairs from the outside in: scipy's summation order, so the sums agree
    # to the last bit.
    out = padded[..., radius:radius + width] * w[radius]
    for j in range(radius, 0, -1):
        out = out + (padded[..., radius - j:radius - j + width] + padded[..., radius + j:radius + j + width]) \
            * w[radius + j]
    return out


@functools.lru_cache(maxsize=8)
def _generate(seed: int, num_samples: int, train_split: float, template_len: int, padding: tuple[int, int],
              scale_coeff: float, max_translation: int, corr_noise_scale: float, iid_noise_scale: float,
              shear_scale: float, final_seq_length: int, shuffle_seq: bool) -> dict[str, Any]:
    tpl = templates()
    rs = np.random.RandomState(seed)
    per_class = num_samples // len(tpl["y"])
    n = per_class * len(tpl["y"])
    width = template_len + padding[1]
    low, high = padding
    labels = np.repeat(tpl["y"], per_class)  # samples are made class by class, then shuffled

    pads = np.empty(n, dtype=np.int64)
    scale_u = np.empty(n)
    shifts = np.empty(n, dtype=np.int64)
    corr = np.empty((n, width))
    iid = np.empty((n, width))
    shear_u = np.empty(n)
    for i in range(n):  # the order of draws per sample is part of the recipe
        pads[i] = low + int(rs.random_sample() * (high - low + 1))
        scale_u[i] = rs.random_sample()
        shifts[i] = rs.randint(max_translation)
        corr[i] = rs.standard_normal(width)
        iid[i] = rs.standard_normal(width)
        shear_u[i] = rs.random_sample()
    order = rs.permutation(n)
    seq_order = rs.permutation(final_seq_length) if shuffle_seq else None

    # Pad with zeros and stretch to `width` points; one vectorised resample per distinct padding.
    base = tpl["x"][labels] + _EPS
    x = np.empty((n, width))
    for p in np.unique(pads):
        rows = pads == p
        padded = np.zeros((int(rows.sum()), base.shape[1] + int(p)))
        padded[:, :base.shape[1]] = base[rows]
        x[rows] = _resample(padded, width)
    x *= (1 + scale_coeff * (scale_u - 0.5))[:, None]
    # Circular shift to the right; the recipe's shift leaves the signal unmoved when it is >= the width.
    shifts = np.where(shifts < width, shifts, 0)
    x = np.take_along_axis(x, (np.arange(width)[None, :] - shifts[:, None]) % width, axis=1)
    x = np.where(x != 0, x, _gaussian_smooth(corr_noise_scale * corr))
    x = x + iid_noise_scale * iid
    x = x - (shear_scale * (shear_u - 0.5))[:, None] * np.linspace(-0.5, 0.5, width)
    x = _resample(x, final_seq_length)
    t = _resample(_resample(tpl["t"], width), final_seq_length)

    x, y = x[order], labels[order]
    if seq_order is not None:
        x = x[:, seq_order]
    t = t / x.std()
    x = (x - x.mean()) / x.std()
    split = int(n * train_split)
    return {"x": x[:split], "y": y[:split], "x_test": x[split:], "y_test": y[split:], "t": t, "templates": tpl}


def mnist1d(seed: int = 42, num_samples: int = 5000, train_split: float = 0.8, template_len: int = 12,
            padding: tuple[int, int] = (36, 60), scale_coeff: float = 0.4, max_translation: int = 48,
            corr_noise_scale: float = 0.25, iid_noise_scale: float = 2e-2, shear_scale: float = 0.75,
            final_seq_length: int = 40, shuffle_seq: bool = False) -> dict[str, Any]:
    """The MNIST-1D arrays: x, y (train), x_test, y_test (float64 signals, int64 labels), t, templates.

    Defaults are the paper's; results are cached per arguments, and each call returns fresh copies.
    """
    if len(padding) != 2 or not 0 <= padding[0] <= padding[1]:
        raise ValueError(f"mnist1d: padding must be (low, high) with 0 <= low <= high, got {padding}")
    if num_samples < 10 or not 0 < train_split < 1:
        raise ValueError(f"mnist1d: need num_samples >= 10 and 0 < train_split < 1, got {num_samples}, "
                         f"{train_split}")
    data = _generate(int(seed), int(num_samples), float(train_split), int(template_len),
                     (int(padding[0]), int(padding[1])), float(scale_coeff), int(max_translation),
                     float(corr_noise_scale), float(iid_noise_scale), float(shear_scale), int(final_seq_length),
                     bool(shuffle_seq))
    out = {k: v.copy() for k, v in data.items() if k != "templates"}
    out["templates"] = {k: v.copy() for k, v in data["templates"].items()}
    return out


class MNIST1D(TensorDataset):
    """MNIST-1D as a Dataset: signals float32 (N, 40), labels int64; 4000 train or 1000 test samples."""

    classes = [str(i) for i in range(10)]

    def __init__(self, train: bool = True, seed: int = 42, **kwargs: Any) -> None:
        data = mnist1d(seed=seed, **kwargs)
        x, y = (data["x"], data["y"]) if train else (data["x_test"], data["y_test"])
        super().__init__(x.astype(np.float32), y.astype(np.int64))
        self.train = train
        self.t = data["t"]

"""Noise schedules of denoising diffusion and their closed forms (Ho et al. 2020; Nichol & Dhariwal 2021).

Steps are indexed t = 0 .. T-1 as in the improved-diffusion code: x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε with
ᾱ_t = prod_{s<=t} (1 - β_s). Every table is float64 NumPy; the samplers and the loss read rows of it.
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("linear", "cosine")


def linear_betas(timesteps: int) -> np.ndarray:
    """Ho et al.'s β from 1e-4 to 0.02 over 1000 steps, rescaled by 1000/T so that other T keep ᾱ_T ≈ 0."""
    scale = 1000 / timesteps
    return np.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=np.float64)


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal's ᾱ(t) = f(t)/f(0), f(t) = cos²(π/2 · (t/T + s)/(1 + s)); β_t = 1 - ᾱ_t/ᾱ_{t-1}."""
    f = lambda u: math.cos((u / timesteps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    # β is clipped at 0.999 to keep the last steps from being singular (as in the paper).
    return np.array([min(1 - f(i + 1) / f(i), max_beta) for i in range(timesteps)], dtype=np.float64)


class NoiseSchedule:
    """β_t and the tables derived from it: ᾱ_t, q(x_t | x_0), and the posterior q(x_{t-1} | x_t, x_0).

    Posterior: mean = coef1_t · x_0 + coef2_t · x_t, with coef1_t = β_t sqrt(ᾱ_{t-1}) / (1 - ᾱ_t),
    coef2_t = (1 - ᾱ_{t-1}) sqrt(α_t) / (1 - ᾱ_t); variance β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t).

    >>> s = NoiseSchedule("linear", 1000)
    >>> round(float(s.alphas_cumprod[-1]), 5)
    4e-05
    """

    def __init__(self, kind: str = "linear", timesteps: int = 1000) -> None:
        if kind not in SCHEDULES:
            raise ValueError(f"NoiseSchedule: kind must be one of {', '.join(SCHEDULES)}, got {kind!r}")
        if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) or timesteps < 2:
            raise ValueError(f"NoiseSchedule: timesteps must be an int >= 2, got {timesteps!r}")
        self.kind, self.timesteps = kind, int(timesteps)
        b = linear_betas(self.timesteps) if kind == "linear" else cosine_betas(self.timesteps)
        self.betas = b
        self.alphas = 1.0 - b
        self.alphas_cumprod = np.cumprod(self.alphas)
        self.alphas_cumprod_prev = np.concatenate([[1.0], self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.alphas_cumprod)
        self.posterior_variance = b * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef1 = b * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = ((1.0 - self.alphas_cumprod_prev) * np.sqrt(self.alphas)
                                     / (1.0 - self.alphas_cumprod))

    def q_sample(self, x0: np.ndarray, t: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε, per sample t (arrays; dtype of x0)."""
        a = _rows(self.sqrt_alphas_cumprod, t, x0)
        b = _rows(self.sqrt_one_minus_alphas_cumprod, t, x0)
        return a * x0 + b * noise

    def posterior(self, x0: np.ndarray, xt: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, variance) of q(x_{t-1} | x_t, x_0) per sample."""
        mean = _rows(self.posterior_mean_coef1, t, x0) * x0 + _rows(self.posterior_mean_coef2, t, x0) * xt
        return mean, _rows(self.posterior_variance, t, x0)

    def predict_x0(self, xt: np.ndarray, t: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """x_0 = (x_t - sqrt(1 - ᾱ_t) ε) / sqrt(ᾱ_t): the clean sample an ε-prediction implies."""
        return (xt - _rows(self.sqrt_one_minus_alphas_cumprod, t, xt) * eps) / _rows(self.sqrt_alphas_cumprod, t, xt)


def _rows(table: np.ndarray, t: np.ndarray, like: np.ndarray) -> np.ndarray:
    """table[t] shaped (N, 1, ...) to broadcast against `like` (N, ...), in like's dtype."""
    t = np.asarray(t)
    return table[t].reshape((len(t),) + (1,) * (like.ndim - 1)).astype(like.dtype)

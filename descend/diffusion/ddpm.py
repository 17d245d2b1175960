"""DDPM training with ε-prediction, an EMA of the weights, and the two samplers (ancestral DDPM, DDIM).

Training (Ho et al. 2020, Algorithm 1): t ~ U{0..T-1}, ε ~ N(0, I), loss = |ε - ε_θ(sqrt(ᾱ_t) x_0 +
sqrt(1 - ᾱ_t) ε, t)|². t and ε come from descend's global generator, so a checkpoint of it resumes exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from descend import backend, nn
from descend.diffusion.schedule import NoiseSchedule
from descend._tensor import Tensor, no_grad

BUCKETS = 10  # timestep tenths in the per-bucket loss: loss_t0 the least noisy tenth .. loss_t9 the noisiest


def _tensor(a: np.ndarray) -> Tensor:
    return Tensor(backend.xp.asarray(np.ascontiguousarray(a, dtype=backend.default_dtype())))


def bucket_means(per_sample: np.ndarray, t: np.ndarray, timesteps: int, buckets: int = BUCKETS) -> dict:
    """{"loss_t<b>": the mean of per_sample where t falls in the b-th of `buckets` equal ranges of [0, T)}.

    NaN where the batch drew no step of a bucket; the trainer's window averages ignore NaN.
    """
    bucket = np.asarray(t) * buckets // timesteps
    return {f"loss_t{b}": float(per_sample[bucket == b].mean()) if (bucket == b).any() else float("nan")
            for b in range(buckets)}


class EMA:
    """An exponential moving average of a model's weights: ema = decay · ema + (1 - decay) · weights.

    Buffers (if any) are copied, not averaged. The averaged model is `self.model`, a copy in eval mode.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f"EMA: decay must be in [0, 1), got {decay!r}")
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.eval()
        self._pairs: tuple | None = None  # (model, [(average, parameter)], [(average, buffer)]), first update
        for p in self.model.parameters():
            p.requires_grad = False

    @no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards the model's current weights."""
        d = self.decay
        if self._pairs is None or self._pairs[0] is not model:
            # Walking both module trees for their tensors cost ~3 ms a step on the U-Net: once per model.
            self._pairs = (model, list(zip(self.model.parameters(), model.parameters())),
                           list(zip(self.model.buffers(), model.buffers())))
        _, params, buffers = self._pairs
        for avg, p in params:
            avg._data *= d
            avg._data += (1 - d) * p._data
        for avg, b in buffers:
            avg._data[...] = b._data


class Diffusion:
    """A denoiser, its optimizer and EMA, and the noise schedule: `step(x0)` trains, `sample(x_T)` generates.

    clip: the range of the data (images: 1.0) to clip predicted x_0 into when sampling; None for no clipping.
    scale: the data are multiplied by it before noising and the samples divided by it. Scaling the data up
    shifts the signal-to-noise ratio of every step (as a schedule shift does, Hoogeboom et al. 2023), so that
    narrow modes (ring8: std 0.01) are resolved in the middle of the schedule rather than in its last steps.
    """

    def __init__(self, model: nn.Module, optimizer: Any, schedule: NoiseSchedule, ema_decay: float = 0.999,
                 clip: float | None = None, scale: float = 1.0) -> None:
        if not scale > 0:
            raise ValueError(f"Diffusion: scale must be > 0, got {scale!r}")
        self.model, self.optimizer, self.schedule, self.clip, self.scale = model, optimizer, schedule, clip, scale
        self.ema = EMA(model, ema_decay)

    def loss(self, x0: Tensor, t: np.ndarray, noise: np.ndarray) -> tuple[Tensor, np.ndarray]:
        """(mean squared ε error, per-sample errors) at steps t with noise ε (arrays like x0)."""
        x = backend.to_numpy(x0._data)
        xt = self.schedule.q_sample(x * self.scale if self.scale != 1 else x, t, noise)
        eps = self.model(_tensor(xt), t)
        err = (eps - _tensor(noise)) ** 2
        per_sample = err.reshape(err.shape[0], -1).mean(1)
        return per_sample.mean(), backend.to_numpy(per_sample._data)

    def step(self, x0: Tensor, t: np.ndarray | None = None, noise: np.ndarray | None = None) -> dict:
        """One optimizer step on a batch of clean samples; returns the loss and its mean per timestep bucket.

        t and noise are drawn from the global generator unless given (tests pass a fixed batch).
        """
        n = x0.shape[0]
        rng = backend.rng()
        if t is None:
            t = rng.integers(0, self.schedule.timesteps, size=n)
        if noise is None:
            noise = rng.standard_normal(x0.shape).astype(backend.default_dtype())
        t = np.asarray(t, dtype=np.int64)
        if t.shape != (n,) or t.min() < 0 or t.max() >= self.schedule.timesteps:
            raise ValueError(f"Diffusion.step: t must be {n} integers in [0, {self.schedule.timesteps}), got shape "
                             f"{t.shape} and range [{t.min()}, {t.max()}]")
        self.model.train()
        self.optimizer.zero_grad()
        loss, per_sample = self.loss(x0, t, noise)
        loss.backward()
        self.optimizer.step()
        self.ema.update(self.model)
        return {"loss": float(loss.item()), **bucket_means(per_sample, t, self.schedule.timesteps)}

    @no_grad()
    def eps(self, model: nn.Module, x: np.ndarray, t: int) -> np.ndarray:
        """ε_θ(x, t) for one step t shared by the batch (float64)."""
        steps = np.full(len(x), t, dtype=np.int64)
        return backend.to_numpy(model(_tensor(x), steps)._data).astype(np.float64)

    def _x0(self, x: np.ndarray, t: int, eps: np.ndarray) -> np.ndarray:
        x0 = self.schedule.predict_x0(x, np.full(len(x), t), eps)
        if self.clip is None:
            return x0
        return np.clip(x0, -self.clip * self.scale, self.clip * self.scale)

    def sample_ddpm(self, x_T: np.ndarray, rng: np.random.Generator, model: nn.Module | None = None) -> np.ndarray:
        """Ancestral sampling: x_{t-1} ~ N(posterior mean(x̂_0, x_t), β̃_t), from t = T-1 down to 0."""
        model = model if model is not None else self.ema.model
        was = model.training
        model.eval()
        x = np.asarray(x_T, dtype=np.float64)
        for t in range(self.schedule.timesteps - 1, -1, -1):
            x0 = self._x0(x, t, self.eps(model, x, t))
            mean, var = self.schedule.posterior(x0, x, np.full(len(x), t))
            x = mean + (np.sqrt(var) * rng.standard_normal(x.shape) if t > 0 else 0.0)
        model.train(was)
        return (x / self.scale).astype(np.float32)

    def sample_ddim(self, x_T: np.ndarray, steps: int = 50, eta: float = 0.0, rng: np.random.Generator | None = None,
                    model: nn.Module | None = None) -> np.ndarray:
        """DDIM (Song et al. 2021) on `steps` evenly spaced steps; eta = 0 is deterministic given x_T.

        x_prev = sqrt(ᾱ_prev) x̂_0 + sqrt(1 - ᾱ_prev - σ²) ε̂ + σ z, σ = eta · sqrt((1-ᾱ_prev)/(1-ᾱ_t)
        · (1 - ᾱ_t/ᾱ_prev)).
        """
        T = self.schedule.timesteps
        if not 1 <= steps <= T:
            raise ValueError(f"sample_ddim: steps must be in [1, {T}], got {steps}")
        if eta > 0 and rng is None:
            raise ValueError("sample_ddim: eta > 0 needs an rng for the added noise")
        model = model if model is not None else self.ema.model
        was = model.training
        model.eval()
        ab = self.schedule.alphas_cumprod
        times = np.unique(np.linspace(0, T - 1, steps).round().astype(np.int64))[::-1]
        x = np.asarray(x_T, dtype=np.float64)
        for i, t in enumerate(times):
            eps = self.eps(model, x, int(t))
            x0 = self._x0(x, int(t), eps)
            if self.clip is not None:  # ε consistent with the clipped x̂_0
                eps = (x - np.sqrt(ab[t]) * x0) / np.sqrt(1 - ab[t])
            prev = ab[times[i + 1]] if i + 1 < len(times) else 1.0
            sigma = eta * np.sqrt((1 - prev) / (1 - ab[t]) * (1 - ab[t] / prev))
            x = np.sqrt(prev) * x0 + np.sqrt(max(1 - prev - sigma ** 2, 0.0)) * eps
            if sigma > 0:
                x = x + sigma * rng.standard_normal(x.shape)
        model.train(was)
        return (x / self.scale).astype(np.float32)

"""From a validated `descend diffusion` config to a run's pieces: data, denoiser, optimizer, evaluator.

The data and the judges of the samples are the GAN task's (descend.gan.recipe): the same training sets, the
PacGAN protocol on mixtures, the classifier-judged metrics on images, so the two families compare directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, nn, optim
from descend.diffusion.ddpm import Diffusion
from descend.diffusion.models import ChannelFirst, MLPDenoiser, UNet
from descend.diffusion.schedule import NoiseSchedule
from descend.gan import recipe as gan_recipe
from descend.gan.recipe import GanData
from descend._tensor import Tensor

load_data = gan_recipe.load_data


def build_model(cfg: dict, data: GanData) -> nn.Module:
    """The denoiser for the config's architecture and the data's sample shape."""
    d = cfg["diffusion"]
    size = int(np.prod(data.shape))
    if d["arch"] == "mlp":
        return MLPDenoiser(size, width=d["width"])
    if len(data.shape) == 1:  # MNIST-1D signals (N, L)
        return ChannelFirst(UNet(1, width=d["width"], dims=1))
    return UNet(data.shape[0], width=d["width"], dims=len(data.shape) - 1)


def build_diffusion(cfg: dict, data: GanData) -> Diffusion:
    """Denoiser (seeded by cfg['seed']), Adam, EMA and schedule; images clip predicted x_0 to [-1, 1]."""
    backend.manual_seed(cfg["seed"])
    model = build_model(cfg, data)
    d = cfg["diffusion"]
    clip = 1.0 if data.kind == "image" else None
    opt = optim.Adam(model.parameters(), lr=cfg["optim"]["lr"])
    return Diffusion(model, opt, NoiseSchedule(d["schedule"], d["timesteps"]), d["ema_decay"], clip=clip,
                     scale=d["data_scale"])


class Sampler:
    """`sample(x_T)` with the run's sampler settings; the GAN evaluators call it like a generator."""

    def __init__(self, diffusion: Diffusion, cfg: dict, model: Any = None) -> None:
        self.diffusion, self.model = diffusion, model
        d = cfg["diffusion"]
        self.kind, self.steps, self.eta, self.seed = d["sampler"], d["sample_steps"], d["eta"], cfg["seed"]

    def sample(self, z: Any) -> np.ndarray:
        """Samples from the starting noise z (a Tensor or array (N, *shape)); the added noise is fixed too."""
        x = backend.to_numpy(z._data) if isinstance(z, Tensor) else np.asarray(z)
        rng = np.random.default_rng([self.seed, 8])  # the same added noise at every evaluation
        if self.kind == "ddpm":
            return self.diffusion.sample_ddpm(x, rng, model=self.model)
        return self.diffusion.sample_ddim(x, self.steps, self.eta, rng, model=self.model)


def fixed_noise(cfg: dict, data: GanData, n: int) -> np.ndarray:
    """x_T for the evaluations and sample grids, the same for the whole run (and across resumes)."""
    return np.random.default_rng([cfg["seed"], 7]).standard_normal((n,) + tuple(data.shape))


def evaluator(cfg: dict, data: GanData, run_dir: Path | None) -> Any:
    """The GAN task's evaluator for the data, fed with this run's fixed x_T."""
    n = cfg["train"]["eval_samples"]
    z = Tensor(backend.xp.asarray(fixed_noise(cfg, data, n).astype(backend.default_dtype())))
    if data.kind == "mixture":
        return gan_recipe.MixtureEvaluator(data, z)
    # image_evaluator reads the judge's epochs and seed from the config; its latent size is unused here.
    judge_cfg = {**cfg, "gan": {"noise_dim": 1}}
    ev = gan_recipe.image_evaluator(judge_cfg, data, run_dir, n=n)
    ev.z = z
    return ev


def run_name(cfg: dict) -> str:
    """Default run name: diffusion-DATA."""
    return cfg["name"] or f"diffusion-{cfg['data']['name'].split(':', 1)[0]}"

"""Denoising diffusion (DDPM training, DDIM and ancestral sampling) and the `descend diffusion` task."""

from descend.diffusion.ddpm import EMA, Diffusion
from descend.diffusion.models import MLPDenoiser, UNet, timestep_embedding
from descend.diffusion.schedule import NoiseSchedule, cosine_betas, linear_betas

__all__ = ["EMA", "Diffusion", "MLPDenoiser", "UNet", "timestep_embedding", "NoiseSchedule", "cosine_betas",
           "linear_betas"]

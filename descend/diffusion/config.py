"""The `descend diffusion` configuration: schema, per-data defaults, flag overrides and validation.

As for `descend gan`, everything is checked before a run directory exists, and the resolved config is what
config.toml stores, so `--resume` rebuilds the same run.
"""

from __future__ import annotations

import copy
from typing import Any

from descend import schema
from descend.data.mixtures import mixture_modes
from descend.errors import UsageError
from descend.gan.config import DATA_NAME, RUN_KEYS, STEP_KEYS, _beta, data_kind, fit_steps
from descend.schema import Key
from descend.schema import one_of as _one_of
from descend.schema import positive as _positive

ARCHS = ("mlp", "unet")
SAMPLERS = ("ddpm", "ddim")


def _eta(v: Any) -> str | None:
    return None if 0 <= v <= 1 else "must be in [0, 1]"


def _at_least_2(v: Any) -> str | None:
    return None if v >= 2 else "must be >= 2"


# None defaults are filled per data by `resolve`.
SCHEMA: dict[str, dict[str, Key]] = {
    "": RUN_KEYS,
    "data": {
        "name": DATA_NAME,
        "batch_size": Key(int, 128, _positive, "--batch-size", "samples per batch"),
    },
    "diffusion": {
        "arch": Key(str, None, _one_of(*ARCHS), "--arch", "denoiser: mlp (2-D data, mnist1d) or unet (images, "
                    "mnist1d)"),
        "width": Key(int, None, _positive, "--width", "MLP width or U-Net base channels"),
        "schedule": Key(str, "linear", _one_of("linear", "cosine"), "--schedule", "noise schedule: linear (Ho et "
                        "al.) or cosine (Nichol & Dhariwal)"),
        "timesteps": Key(int, 1000, _at_least_2, "--timesteps", "diffusion steps T"),
        "ema_decay": Key(float, None, _beta, "--ema-decay", "EMA of the weights"),
        "data_scale": Key(float, None, _positive, "--data-scale", "multiply the data by this before noising "
                          "(default: ring8 10, grid25 2, images 1; a signal-to-noise shift)"),
        "sampler": Key(str, "ddim", _one_of(*SAMPLERS), "--sampler", "ddim (deterministic with --eta 0) or ddpm "
                       "(ancestral, T steps)"),
        "sample_steps": Key(int, 50, _positive, "--sample-steps", "DDIM steps"),
        "eta": Key(float, 0.0, _eta, "--eta", "DDIM's eta: 0 deterministic, 1 DDPM-like noise"),
    },
    "optim": {
        "lr": Key(float, None, _positive, "--lr", "Adam learning rate"),
        "lr_decay": Key(str, "linear", _one_of("none", "linear"), "--lr-decay", "linear (to 0 at the end) or none"),
    },
    "train": {
        "steps": Key(int, None, _positive, "--steps", "optimizer steps"),
        **STEP_KEYS,
        "eval_samples": Key(int, None, _positive, "--eval-samples", "samples scored per evaluation"),
    },
}

# Defaults that depend on the data; the 2-D run takes a few minutes on 2 cores (README "Diffusion").
PER_DATA = {
    "mixture": {"diffusion.arch": "mlp", "diffusion.width": 128, "diffusion.ema_decay": 0.995, "optim.lr": 1e-3,
                "train.steps": 6000, "train.eval_every": 1000, "train.ckpt_every": 1000,
                "train.eval_samples": 2500},
    "image": {"diffusion.arch": "unet", "diffusion.width": 16, "diffusion.ema_decay": 0.995, "optim.lr": 1e-3,
              "train.steps": 3000, "train.eval_every": 500, "train.ckpt_every": 500, "train.eval_samples": 500},
}


def resolve(cfg: dict) -> dict:
    """Fill the data-dependent defaults and check the options against each other."""
    cfg = copy.deepcopy(cfg)
    kind = data_kind(cfg["data"]["name"])
    schema.fill(cfg, PER_DATA[kind])
    d, t = cfg["diffusion"], cfg["train"]
    if kind == "mixture" and d["arch"] != "mlp":
        raise UsageError(f"--arch {d['arch']}: the 2-D mixtures use the MLP denoiser (--arch mlp)")
    if kind == "image" and d["arch"] == "mlp" and cfg["data"]["name"] != "mnist1d":
        raise UsageError(f"--arch mlp: {cfg['data']['name']} images need --arch unet")
    if d["sample_steps"] > d["timesteps"]:
        raise UsageError(f"--sample-steps {d['sample_steps']}: more than --timesteps {d['timesteps']}")
    if d["sampler"] == "ddpm" and d["eta"]:
        raise UsageError(f"--eta {d['eta']}: eta is DDIM's; the ddpm sampler is always stochastic")
    if d["data_scale"] is None:
        # Mixtures: modes of std 0.1 after scaling (ring8 x10, grid25 x2), resolved mid-schedule; images: 1.
        d["data_scale"] = round(0.1 / mixture_modes(cfg["data"]["name"])[1], 6) if kind == "mixture" else 1.0
    if t["judge_epochs"] is None:
        # The judge's budget as in descend gan: the MNIST-1D CNN ~30 epochs, the Fashion-MNIST MLP 3.
        t["judge_epochs"] = 0 if kind == "mixture" else (30 if cfg["data"]["name"] == "mnist1d" else 3)
    return fit_steps(cfg)


_SCHEMA = schema.Schema(SCHEMA, resolve, {"2-D data": PER_DATA["mixture"], "images": PER_DATA["image"]})
FLAGS: dict[str, tuple[str, str]] = _SCHEMA.flags
defaults, check_value, validate, from_flags, given, add_flags = (
    _SCHEMA.defaults, _SCHEMA.check_value, _SCHEMA.validate, _SCHEMA.from_flags, _SCHEMA.given, _SCHEMA.add_flags)

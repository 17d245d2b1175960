"""The `descend gan` configuration: schema, per-data defaults, flag overrides and validation.

Every value is checked here, before a run directory exists, so bad input is one line naming the flag or key
(a UsageError) and nothing is written. The resolved config (defaults filled in for the chosen data) is what
config.toml stores, so `--resume` rebuilds exactly the same run.
"""

from __future__ import annotations

import copy
from typing import Any

from descend import schema
from descend.errors import UsageError
from descend.schema import Key
from descend.schema import fraction as _fraction
from descend.schema import non_negative as _non_negative
from descend.schema import one_of as _one_of
from descend.schema import positive as _positive

MIXTURES = ("ring8", "grid25")
IMAGES = ("mnist1d", "fashion-mnist")
LOSSES = ("non_saturating", "minimax", "wgan-gp")
ARCHS = ("protocol", "mlp", "conv", "dcgan")  # dcgan: Radford et al.'s conv networks, 28x28 images


def _beta(v: Any) -> str | None:
    return None if 0 <= v < 1 else "must be in [0, 1)"


def _data_name(v: Any) -> str | None:
    # fashion-mnist may name its folder: fashion-mnist:DIR
    return _one_of(*MIXTURES, *IMAGES)(v.split(":", 1)[0] if v.startswith("fashion-mnist:") else v)


# The keys of a generative run directory and of its schedule of logs, evaluations and checkpoints (descend
# diffusion's table shares them). None defaults are filled per data by `resolve`.
RUN_KEYS = {
    "seed": Key(int, 0, _non_negative, "--seed", "random seed"),
    "name": Key(str, "", None, "--name", "run name ('': the command and the data, e.g. gan-ring8); a free name is "
                "chosen if it exists"),
    "out": Key(str, "runs", None, "--out", "folder of run directories"),
}
DATA_NAME = Key(str, "ring8", _data_name, "--data", "ring8, grid25, mnist1d, fashion-mnist[:DIR]")
STEP_KEYS = {
    "log_every": Key(int, 50, _positive, "--log-every", "steps between logged loss averages"),
    "eval_every": Key(int, None, _positive, "--eval-every", "steps between sample metrics"),
    "sample_every": Key(int, None, _positive, "--sample-every", "steps between sample plots in samples/ "
                        "(default: --eval-every)"),
    "ckpt_every": Key(int, None, _non_negative, "--ckpt-every", "steps between checkpoints (0: at the end only)"),
    "keep": Key(int, 3, _positive, "--keep", "latest checkpoints kept"),
    "eval_samples": Key(int, 2500, _positive, "--eval-samples", "samples scored per evaluation (at most 1000 on "
                        "images)"),
    "judge_epochs": Key(int, None, _non_negative, "--judge-epochs", "epochs of the classifier that judges image "
                        "samples (default 30 on mnist1d, 3 on fashion-mnist)"),
}

SCHEMA: dict[str, dict[str, Key]] = {
    "": RUN_KEYS,
    "data": {
        "name": DATA_NAME,
        "batch_size": Key(int, 100, _positive, "--batch-size", "discriminator inputs per batch"),
    },
    "gan": {
        "arch": Key(str, None, _one_of(*ARCHS), "--arch", f"{', '.join(ARCHS)}: protocol for 2-D data, the "
                    f"others for images"),
        "noise_dim": Key(int, None, _positive, "--noise-dim", "latent dimension"),
        "loss": Key(str, "non_saturating", _one_of(*LOSSES), "--loss", "non_saturating, minimax, or wgan-gp (a "
                    "critic with a gradient penalty, Gulrajani et al. 2017)"),
        "label_smoothing": Key(float, 0.0, _fraction, "--label-smoothing", "one-sided: real targets become 1 - s"),
        "d_steps": Key(int, None, _positive, "--d-steps", "discriminator updates per generator update (default 1; "
                       "5 with wgan-gp)"),
        "pack": Key(int, 1, _positive, "--pack", "samples the discriminator judges jointly, PacGAN"),
        "gp_weight": Key(float, 10.0, _non_negative, "--gp-weight", "wgan-gp: weight of the gradient penalty"),
        "r1": Key(float, 0.0, _non_negative, "--r1", "R1 penalty gamma: (gamma/2)·E|grad D(real)|² on the "
                  "discriminator, Mescheder et al. 2018 (0: off)"),
    },
    "optim": {
        "lr_g": Key(float, None, _positive, "--lr-g", "generator learning rate (Adam)"),
        "lr_d": Key(float, None, _positive, "--lr-d", "discriminator learning rate (Adam)"),
        "beta1": Key(float, 0.5, _beta, "--beta1", "Adam's beta1 for both networks"),
        "beta2": Key(float, None, _beta, "--beta2", "Adam's beta2 for both networks (default 0.999; 0.9 with "
                     "wgan-gp)"),
        "lr_decay": Key(str, None, _one_of("none", "linear"), "--lr-decay", "linear (both rates fall linearly to 0 "
                        "at the end) or none"),
    },
    "train": {
        "steps": Key(int, None, _positive, "--steps", "generator updates"),
        **STEP_KEYS,
    },
}

# Defaults that depend on the data. The 2-D budget (see README "GANs") runs in a few minutes on 2 cores.
PER_DATA = {
    "mixture": {"gan.arch": "protocol", "gan.noise_dim": 2, "optim.lr_g": 5e-4, "optim.lr_d": 5e-4,
                "optim.lr_decay": "linear",
                "train.steps": 5000, "train.eval_every": 500, "train.ckpt_every": 1000},
    "image": {"gan.arch": "mlp", "gan.noise_dim": 32, "optim.lr_g": 2e-4, "optim.lr_d": 2e-4,
              "optim.lr_decay": "none",
              "train.steps": 3000, "train.eval_every": 250, "train.ckpt_every": 500},
}


def data_kind(name: str) -> str:
    """'mixture' for the 2-D mixtures, 'image' for image and signal data."""
    return "mixture" if name in MIXTURES else "image"


def resolve(cfg: dict) -> dict:
    """Fill the data-dependent defaults and check the options against each other."""
    cfg = copy.deepcopy(cfg)
    kind = data_kind(cfg["data"]["name"])
    schema.fill(cfg, PER_DATA[kind])
    g, t = cfg["gan"], cfg["train"]
    wgan = g["loss"] == "wgan-gp"
    # WGAN-GP (Gulrajani et al., 2017): 5 critic updates per generator update and Adam's beta2 0.9, as in the
    # authors' toy-data code (beta1 0.5 there, our default too; their Algorithm 1 has beta1 0).
    if g["d_steps"] is None:
        g["d_steps"] = 5 if wgan else 1
    if cfg["optim"]["beta2"] is None:
        cfg["optim"]["beta2"] = 0.9 if wgan else 0.999
    if wgan and g["r1"]:
        raise UsageError(f"--r1 {g['r1']}: wgan-gp has its own gradient penalty (--gp-weight); R1 is for the "
                         f"non_saturating and minimax losses")
    if wgan and g["label_smoothing"]:
        raise UsageError(f"--label-smoothing {g['label_smoothing']}: wgan-gp's critic has no labels to smooth")
    if not t["judge_epochs"]:
        # The image classifier's budget: the MNIST-1D CNN needs ~30 epochs of 4,000 signals, the
        # Fashion-MNIST MLP 3 of 60,000 images; mixtures have no classifier (0).
        t["judge_epochs"] = 0 if kind == "mixture" else (30 if cfg["data"]["name"] == "mnist1d" else 3)
    if kind == "mixture" and g["arch"] != "protocol":
        raise UsageError(f"--arch {g['arch']}: the 2-D mixtures use the protocol networks (--arch protocol)")
    if kind == "image" and g["arch"] == "protocol":
        raise UsageError(f"--arch protocol is for the 2-D mixtures; for {cfg['data']['name']} use mlp, conv or dcgan")
    return fit_steps(cfg)


def fit_steps(cfg: dict) -> dict:
    """The checks and step settings gan and diffusion configs share: a valid run name, samples drawn at each
    evaluation unless told otherwise, and logging, evaluation and drawing at least once in a short run."""
    t = cfg["train"]
    if "/" in cfg["name"] or cfg["name"] in (".", ".."):
        raise UsageError(f"--name '{cfg['name']}': not a valid run name (no '/')")
    if t["sample_every"] is None:
        t["sample_every"] = t["eval_every"]
    for key in ("log_every", "eval_every", "sample_every"):
        if t[key] > t["steps"]:
            t[key] = t["steps"]  # a short run still logs, evaluates and draws at its end
    return cfg


_SCHEMA = schema.Schema(SCHEMA, resolve, {"2-D data": PER_DATA["mixture"], "images": PER_DATA["image"]})
FLAGS: dict[str, tuple[str, str]] = _SCHEMA.flags
defaults, check_value, validate, from_flags, given, add_flags = (
    _SCHEMA.defaults, _SCHEMA.check_value, _SCHEMA.validate, _SCHEMA.from_flags, _SCHEMA.given, _SCHEMA.add_flags)

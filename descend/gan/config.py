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


# section -> key -> (type, default, check, flag); None defaults are filled per data by `resolve`.
SCHEMA: dict[str, dict[str, tuple]] = {
    "": {
        "seed": (int, 0, _non_negative, "--seed"),
        "name": (str, "", None, "--name"),
        "out": (str, "runs", None, "--out"),
    },
    "data": {
        "name": (str, "ring8", _data_name, "--data"),
        "batch_size": (int, 100, _positive, "--batch-size"),
    },
    "gan": {
        "arch": (str, None, _one_of(*ARCHS), "--arch"),
        "noise_dim": (int, None, _positive, "--noise-dim"),
        "loss": (str, "non_saturating", _one_of(*LOSSES), "--loss"),
        "label_smoothing": (float, 0.0, _fraction, "--label-smoothing"),
        "d_steps": (int, None, _positive, "--d-steps"),
        "pack": (int, 1, _positive, "--pack"),
        "gp_weight": (float, 10.0, _non_negative, "--gp-weight"),
        "r1": (float, 0.0, _non_negative, "--r1"),
    },
    "optim": {
        "lr_g": (float, None, _positive, "--lr-g"),
        "lr_d": (float, None, _positive, "--lr-d"),
        "beta1": (float, 0.5, _beta, "--beta1"),
        "beta2": (float, None, _beta, "--beta2"),
        "lr_decay": (str, None, _one_of("none", "linear"), "--lr-decay"),
    },
    "train": {
        "steps": (int, None, _positive, "--steps"),
        "log_every": (int, 50, _positive, "--log-every"),
        "eval_every": (int, None, _positive, "--eval-every"),
        "sample_every": (int, None, _positive, "--sample-every"),
        "ckpt_every": (int, None, _non_negative, "--ckpt-every"),
        "keep": (int, 3, _positive, "--keep"),
        "eval_samples": (int, 2500, _positive, "--eval-samples"),
        "judge_epochs": (int, None, _non_negative, "--judge-epochs"),
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
        raise UsageError(f"--arch protocol is for the 2-D mixtures; for {cfg['data']['name']} use mlp or conv")
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


_SCHEMA = schema.Schema(SCHEMA, resolve)
FLAGS: dict[str, tuple[str, str]] = _SCHEMA.flags
defaults, check_value, validate, from_flags, given = (_SCHEMA.defaults, _SCHEMA.check_value, _SCHEMA.validate,
                                                      _SCHEMA.from_flags, _SCHEMA.given)

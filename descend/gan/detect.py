"""A detector of generated samples and its generalization gap across generators.

A classifier (a descend built-in model) learns real (label 0) vs samples of generator A (label 1). It is
then scored on held-out data only: held-out real samples with fresh samples of A (in-distribution accuracy),
and the same held-out real samples with samples of a different generator B (cross-generator accuracy). The
difference is the gap a detector shows when the generation method changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, models, nn, optim
from descend.data.dataset import TensorDataset
from descend.data.loader import DataLoader
from descend.data.mixtures import gaussian_mixture
from descend.gan import config as gan_config
from descend.gan.loop import scalars_restored
from descend.gan.recipe import GanData, build_networks, load_data, predict
from descend._tensor import Tensor, no_grad
from descend.errors import UsageError

DEFAULT_MODELS = {"mnist1d": "cnn", "fashion-mnist": "mlp28", "mixture": "mlp"}
AUGMENTS = ("none", "blur+jpeg")  # blur+jpeg: Wang et al. 2020's "Blur+JPEG (0.5)" on the training samples


@dataclass
class Generator:
    """A trained generator loaded from a `descend gan` run, with the data it models."""

    source: Path
    label: str
    step: int
    data_name: str
    data: GanData
    network: nn.Module
    noise_dim: int

    @no_grad()
    def sample(self, n: int, rng: np.random.Generator, batch: int = 500) -> np.ndarray:
        """n samples (eval mode) from latents drawn with `rng`."""
        self.network.eval()
        out = []
        for i in range(0, n, batch):
            z = rng.standard_normal((min(batch, n - i), self.noise_dim)).astype(backend.default_dtype())
            out.append(backend.to_numpy(self.network(Tensor(backend.xp.asarray(z)))._data))
        return np.concatenate(out).astype(np.float32)


def options(model: str | None = None, epochs: int | None = None, batch_size: int | None = None,
            lr: float | None = None, samples: int | None = None, seed: int | None = None,
            augment: str | None = None) -> dict:
    """Detector options with defaults, checked (UsageError naming the flag)."""
    opts = {"model": model or "", "epochs": 10 if epochs is None else epochs,
            "batch_size": 100 if batch_size is None else batch_size, "lr": 1e-3 if lr is None else lr,
            "samples": 4000 if samples is None else samples, "seed": 0 if seed is None else seed,
            "augment": augment or "none"}
    if opts["augment"] not in AUGMENTS:
        raise UsageError(f"--augment: must be one of {', '.join(AUGMENTS)}, got {opts['augment']!r}")
    for key, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size"), ("samples", "--samples")):
        if opts[key] < 1:
            raise UsageError(f"{flag}: must be >= 1, got {opts[key]}")
    if not opts["lr"] > 0:
        raise UsageError(f"--lr: must be > 0, got {opts['lr']}")
    if opts["seed"] < 0:
        raise UsageError(f"--seed: must be >= 0, got {opts['seed']}")
    return opts


def load_generator(spec: str, flag: str) -> Any:
    """The generator of a gan or diffusion run directory (its latest checkpoint) or of one checkpoint file in it."""
    from descend import io
    from descend.train.checkpoint import Checkpoints, load

    path = Path(spec)
    if path.is_dir():
        run_dir = path
        index = path / "checkpoints" / "index.json"
        if not index.is_file():
            raise UsageError(f"{flag} {path}: not a gan run with checkpoints (no checkpoints/index.json)")
        file = Checkpoints(path / "checkpoints").path("latest")
        if file is None or not file.is_file():
            raise UsageError(f"{flag} {path}: the latest checkpoint named in {index} is missing")
    elif path.is_file():
        file, run_dir = path, path.parent.parent  # <run>/checkpoints/step-N.safetensors
    else:
        raise UsageError(f"{flag} {path}: no such run directory or checkpoint file")
    toml = run_dir / "config.toml"
    if not toml.is_file():
        raise UsageError(f"{flag} {path}: {toml} not found (expected a descend gan run)")
    try:
        raw = io.load_toml(toml)
    except (OSError, ValueError) as e:
        raise UsageError(" ".join(str(e).split())) from None
    if "diffusion" in raw:  # a descend diffusion run: its EMA denoiser and sampler generate the fakes
        from descend.diffusion import generator as diffusion_generator

        return diffusion_generator.load(file, run_dir, raw, flag, path)
    if "gan" not in raw:
        raise UsageError(f"{flag} {path}: not a descend gan or diffusion run (no [gan] or [diffusion] table in "
                         f"{toml})")
    cfg = gan_config.validate(raw, str(toml))
    try:
        state = load(file)
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"{flag} {file}: {' '.join(str(e).split())}") from None
    data = load_data(cfg)
    network, _ = build_networks(cfg, data)
    try:
        network.load_state_dict(scalars_restored(state["model"], network))
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{flag} {file}: does not match its run's config: {' '.join(str(e).split())}") from None
    label = f"{run_dir.name} ({cfg['gan']['arch']}, step {state['step']})"
    return Generator(path, label, int(state["step"]), cfg["data"]["name"], data, network, cfg["gan"]["noise_dim"])


@dataclass
class Sets:
    """Training and held-out arrays; label 1 = generated."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray          # held-out real + held-out fakes of A
    test_y: np.ndarray
    cross_x: np.ndarray         # the same held-out real + fakes of B
    cross_y: np.ndarray


def _real(data: GanData, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training real, held-out real): the data's own splits for images, fresh draws for mixtures."""
    if data.kind == "mixture":
        return (gaussian_mixture(data.name, n, np.random.default_rng([seed, 20]))[0],
                gaussian_mixture(data.name, n, np.random.default_rng([seed, 21]))[0])
    rng = np.random.default_rng([seed, 22])
    train = data.x[rng.permutation(len(data.x))[:n]]
    return train, data.test[0]


def make_sets(a: Generator, b: Generator, opts: dict) -> Sets:
    """Balanced sets: real vs A for training and held-out testing, held-out real vs B for the cross test."""
    seed = opts["seed"]
    real_train, real_test = _real(a.data, opts["samples"], seed)
    fake_train = a.sample(len(real_train), np.random.default_rng([seed, 30]))
    fake_test = a.sample(len(real_test), np.random.default_rng([seed, 31]))
    fake_cross = b.sample(len(real_test), np.random.default_rng([seed, 32]))

    def join(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([real.astype(np.float32), fake.astype(np.float32)])
        y = np.concatenate([np.zeros(len(real), np.int64), np.ones(len(fake), np.int64)])
        return x, y

    return Sets(*join(real_train, fake_train), *join(real_test, fake_test), *join(real_test, fake_cross))


def build_detector(opts: dict, data: GanData) -> nn.Module:
    """The detector network: a descend built-in model with two outputs (real, generated)."""
    name = opts["model"] or DEFAULT_MODELS["mixture" if data.kind == "mixture" else data.name.split(":", 1)[0]]
    opts["model"] = name
    backend.manual_seed(opts["seed"])
    try:
        return models.build(name, data.shape, 2)
    except models.ModelError as e:
        raise UsageError(f"--model: {e}") from None


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples whose predicted class is their label."""
    return float((predict(model, x) == y).mean())


def train_and_evaluate(model: nn.Module, sets: Sets, opts: dict, run: Any = None) -> dict:
    """Train the detector (logging into `run` if given) and score it on the held-out and cross sets."""
    from descend.train.loop import Trainer

    dataset = TensorDataset(sets.train_x, sets.train_y)
    if opts.get("augment", "none") == "blur+jpeg":  # fresh blur/JPEG draws for each sample in every epoch
        from descend.data.transforms import TransformDataset, blur_jpeg

        dims = 1 if sets.train_x.ndim == 2 else 2  # signals (N, L) or images (N, C, H, W)
        augment = blur_jpeg(0.5, dims, (-1.0, 1.0), generator=np.random.default_rng([opts["seed"], 40]))
        dataset = TransformDataset(sets.train_x, sets.train_y, augment)
    train = DataLoader(dataset, batch_size=opts["batch_size"], shuffle=True, generator=opts["seed"] + 1)
    val = DataLoader(TensorDataset(sets.test_x, sets.test_y), batch_size=500)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=opts["lr"]), train, loss_fn=nn.CrossEntropyLoss(),
                      epochs=opts["epochs"], val_loader=val, run=run)
    trainer.fit()
    real = sets.test_y == 0
    result = {
        "in_distribution_acc": accuracy(model, sets.test_x, sets.test_y),
        "cross_generator_acc": accuracy(model, sets.cross_x, sets.cross_y),
        "real_acc": accuracy(model, sets.test_x[real], sets.test_y[real]),
        "fake_acc": accuracy(model, sets.test_x[~real], sets.test_y[~real]),
        "cross_fake_acc": accuracy(model, sets.cross_x[sets.cross_y == 1], sets.cross_y[sets.cross_y == 1]),
        "train_acc": accuracy(model, sets.train_x, sets.train_y),
        "n_train": int(len(sets.train_y)), "n_test": int(len(sets.test_y)), "n_cross": int(len(sets.cross_y)),
        "model": opts["model"],
    }
    result["gap"] = result["in_distribution_acc"] - result["cross_generator_acc"]
    if run is not None:
        run.log({"kind": "detect", "step": trainer.step, **result})
    return result

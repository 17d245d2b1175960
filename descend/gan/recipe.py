"""From a validated `descend gan` config to everything a run needs: data, networks, optimizers, evaluator.

`prepare(cfg)` loads and checks the data and builds the networks (seeded) before anything is written; the
image evaluator's classifier is trained later, inside the run (`image_evaluator`), and saved with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, models, nn, optim
from descend.data.loader import DataLoader
from descend.data.dataset import TensorDataset
from descend.data.mixtures import gaussian_mixture, mixture_modes
from descend.gan.config import data_kind
from descend.gan.evaluate import class_coverage, mode_report, near_duplicate_rate
from descend.gan.models import (conv_generator, dcgan_discriminator, dcgan_generator, mixture_discriminator,
                                mixture_generator, mlp_discriminator, mlp_generator)
from descend.gan.step import GAN
from descend._tensor import Tensor, no_grad
from descend.errors import UsageError

MIXTURE_SAMPLES = 100_000  # the protocol's training set size
CLASSIFIERS = {"mnist1d": "cnn", "fashion-mnist": "mlp28"}  # judges of generated images (descend models)


@dataclass
class GanData:
    """Training samples scaled for the generator's output range, and what judges the generated ones."""

    name: str
    kind: str             # "mixture" or "image"
    x: np.ndarray         # float32 training samples
    shape: tuple          # one sample's shape
    modes: Any = None     # mixtures: mode centres (k, 2) and std
    std: float = 0.0
    labels: Any = None    # images: labels, and held-out (x, labels) for the classifier
    test: Any = None
    num_classes: int = 0


def load_data(cfg: dict) -> GanData:
    """The run's training data (UsageError naming the data when it cannot be loaded)."""
    name = cfg["data"]["name"]
    kind = data_kind(name)
    if kind == "mixture":
        x, modes, std = gaussian_mixture(name, MIXTURE_SAMPLES, cfg["seed"])
        return GanData(name, kind, x, (2,), modes=modes, std=std)
    if name == "mnist1d":
        from descend.data.mnist1d import MNIST1D

        train, test = MNIST1D(train=True), MNIST1D(train=False)
    else:
        from descend.data.fashion_mnist import FashionMNIST

        root = name.split(":", 1)[1] if ":" in name else None
        try:
            train, test = FashionMNIST(root, train=True), FashionMNIST(root, train=False)
        except (OSError, ValueError) as e:
            raise UsageError(" ".join(str(e).split())) from None
    x, y = (backend.to_numpy(a) for a in train.arrays)
    xt, yt = (backend.to_numpy(a) for a in test.arrays)
    # The generator ends in tanh: map the data into [-1, 1] with one scale from the training set.
    lo, hi = float(x.min()), float(x.max())
    scale = lambda a: ((2 * (a - lo) / (hi - lo)) - 1).astype(np.float32)  # noqa: E731
    return GanData(name, kind, scale(x), tuple(x.shape[1:]), labels=y.astype(np.int64),
                test=(scale(xt), yt.astype(np.int64)), num_classes=int(y.max()) + 1)


def build_networks(cfg: dict, data: GanData) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for the config's architecture."""
    g = cfg["gan"]
    if g["arch"] == "protocol":
        return mixture_generator(g["noise_dim"]), mixture_discriminator(pack=g["pack"])
    if g["arch"] == "dcgan":
        penalty = g["loss"] == "wgan-gp" or g["r1"] > 0  # per-sample gradient norms: no batch norm in D
        return (dcgan_generator(g["noise_dim"], data.shape),
                dcgan_discriminator(data.shape, pack=g["pack"], batch_norm=not penalty))
    gen = (mlp_generator if g["arch"] == "mlp" else conv_generator)(g["noise_dim"], data.shape)
    return gen, mlp_discriminator(data.shape, pack=g["pack"])


def build_gan(cfg: dict, data: GanData) -> GAN:
    """The networks and their Adam optimizers, seeded by cfg['seed']."""
    backend.manual_seed(cfg["seed"])
    generator, discriminator = build_networks(cfg, data)
    o, g = cfg["optim"], cfg["gan"]
    betas = (o["beta1"], o["beta2"])
    return GAN(generator, discriminator, optim.Adam(generator.parameters(), lr=o["lr_g"], betas=betas),
               optim.Adam(discriminator.parameters(), lr=o["lr_d"], betas=betas), g["noise_dim"],
               loss=g["loss"], label_smoothing=g["label_smoothing"], d_steps=g["d_steps"], pack=g["pack"],
               gp_weight=g["gp_weight"], r1=g["r1"])


def check(cfg: dict, data: GanData) -> None:
    """Options that only the data can check (before anything is written)."""
    if cfg["gan"]["arch"] == "dcgan" and tuple(data.shape)[-2:] != (28, 28):
        raise UsageError(f"--arch dcgan: the DCGAN networks are sized for 28x28 images (fashion-mnist); "
                         f"{data.name}'s samples have shape {tuple(data.shape)}")
    need = cfg["data"]["batch_size"] * cfg["gan"]["pack"]
    if need > len(data.x):
        raise UsageError(f"--batch-size {cfg['data']['batch_size']} x --pack {cfg['gan']['pack']} = {need} samples "
                         f"per batch, but {data.name} has only {len(data.x)}")


def fixed_noise(cfg: dict, n: int) -> Tensor:
    """Latents that stay the same for the whole run (and across resumes): samples are comparable over time."""
    z = np.random.default_rng([cfg["seed"], 7]).standard_normal((n, cfg["gan"]["noise_dim"]))
    return Tensor(backend.xp.asarray(z.astype(backend.default_dtype())))


class MixtureEvaluator:
    """The PacGAN protocol's metrics on generated 2-D samples from fixed noise."""

    def __init__(self, data: GanData, z: Tensor) -> None:
        self.data, self.z = data, z
        self.real_spread = spread(data.x)

    def __call__(self, gan: GAN) -> tuple[dict, np.ndarray]:
        samples = gan.sample(self.z)
        r = mode_report(samples, self.data.modes, self.data.std)
        return ({"modes": r.modes_covered, "num_modes": r.num_modes, "high_quality": r.high_quality,
                 "reverse_kl": r.reverse_kl, "spread": spread(samples) / self.real_spread, "counts": r.counts},
                samples)


def spread(x: np.ndarray) -> float:
    """Root mean squared distance of samples to their centroid (NaN/inf samples count as infinitely far)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if not np.isfinite(x).all():
        return float("inf")
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum(1).mean()))


class ImageEvaluator:
    """Class coverage and entropy (judged by a classifier trained with descend) and near-duplicate rate."""

    def __init__(self, classifier: nn.Module, num_classes: int, z: Tensor, accuracy: float) -> None:
        self.classifier, self.num_classes, self.z, self.accuracy = classifier, num_classes, z, accuracy

    def __call__(self, gan: GAN) -> tuple[dict, np.ndarray]:
        samples = gan.sample(self.z)
        predicted = predict(self.classifier, samples)
        c = class_coverage(predicted, self.num_classes)
        return ({"classes_covered": c["classes_covered"], "num_classes": self.num_classes,
                 "class_entropy": c["entropy"], "near_duplicates": near_duplicate_rate(samples),
                 "class_counts": c["counts"]}, samples)


@no_grad()
def predict(model: nn.Module, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """Arg-max class of each sample, in eval mode."""
    was = model.training
    model.eval()
    out = [backend.to_numpy(model(Tensor(backend.xp.asarray(x[i:i + batch])))._data).argmax(-1)
           for i in range(0, len(x), batch)]
    model.train(was)
    return np.concatenate(out)


def train_classifier(data: GanData, seed: int, epochs: int) -> tuple[nn.Module, float]:
    """A classifier of the real data (a descend built-in model), and its held-out accuracy.

    It runs on its own seed and gives the global RNG back untouched, so the GAN's random stream does not
    depend on it.
    """
    from descend.train.loop import fit

    name = CLASSIFIERS[data.name.split(":", 1)[0]]
    state = backend.get_rng_state()
    backend.manual_seed(seed + 1)
    model = models.build(name, data.shape, data.num_classes)
    loader = DataLoader(TensorDataset(data.x, data.labels), batch_size=100, shuffle=True, generator=seed + 1)
    fit(model, optim.Adam(model.parameters(), lr=1e-2 if name == "cnn" else 1e-3), loader,
        loss_fn=nn.CrossEntropyLoss(), epochs=epochs, verbose=0)
    backend.set_rng_state(state)
    accuracy = float((predict(model, data.test[0]) == data.test[1]).mean())
    return model, accuracy


def image_evaluator(cfg: dict, data: GanData, run_dir: Path | None, n: int = 1000) -> ImageEvaluator:
    """The image evaluator; its classifier is loaded from run_dir/classifier.safetensors, or trained and saved."""
    from descend import io

    name = CLASSIFIERS[data.name.split(":", 1)[0]]
    path = run_dir / "classifier.safetensors" if run_dir is not None else None
    if path is not None and path.exists():
        tensors, meta = io.load_safetensors(path, with_metadata=True)
        model = models.build(name, data.shape, data.num_classes)
        model.load_state_dict(tensors)
        accuracy = float(meta["test_accuracy"])
    else:
        model, accuracy = train_classifier(data, cfg["seed"], cfg["train"]["judge_epochs"])
        if path is not None:
            tensors = {k: backend.to_numpy(v._data if isinstance(v, Tensor) else v)
                       for k, v in model.state_dict().items()}
            io.save_safetensors(path, tensors, metadata={"model": name, "test_accuracy": repr(accuracy)})
    return ImageEvaluator(model, data.num_classes, fixed_noise(cfg, n), accuracy)


def evaluator(cfg: dict, data: GanData, run_dir: Path | None) -> Any:
    """The evaluator for the data: protocol metrics for mixtures, classifier-judged metrics for images."""
    if data.kind == "mixture":
        return MixtureEvaluator(data, fixed_noise(cfg, cfg["train"]["eval_samples"]))
    return image_evaluator(cfg, data, run_dir, n=min(cfg["train"]["eval_samples"], 1000))


def run_name(cfg: dict) -> str:
    """Default run name: gan-DATA[-packN]."""
    base = cfg["data"]["name"].split(":", 1)[0]
    pack = cfg["gan"]["pack"]
    return cfg["name"] or f"gan-{base}" + (f"-pack{pack}" if pack > 1 else "")


"""The pathology zoo: small, deliberately broken trainings, each of which must get exactly one diagnosis,
and healthy ones that must get none. tests/test_zoo.py runs them; `python -m bench.zoo` writes the
detection table to bench/ZOO.md.

Every case trains on MNIST-1D (or a slice of it; the ResNet and the DCGAN on a slice of Fashion-MNIST) for a
few hundred steps at most, with a fixed seed.
"""

from __future__ import annotations

import io
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descend import backend, nn, optim
from descend.data import DataLoader, TensorDataset
from descend.data.mnist1d import mnist1d
from descend.doctor.doctor import Doctor
from descend._tensor import Tensor
from descend.train.loop import Trainer


@dataclass
class Case:
    """One zoo entry: what is broken, the diagnoses it must get, and how to build its training."""

    name: str
    broken: str  # what is wrong, in words
    expected: tuple[str, ...]
    build: Callable[[], dict]  # -> Trainer keyword arguments (model, optimizer, loaders, epochs, ...)
    kind: str = "train"        # "gan": build() -> GanTrainer keyword arguments and the GAN doctor's Setting


def _data(n_train: int = 4000, n_val: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = mnist1d()
    return (d["x"][:n_train].astype(np.float32), d["y"][:n_train], d["x_test"][:n_val].astype(np.float32),
            d["y_test"][:n_val])


def _loaders(n_train: int = 4000, n_val: int = 1000, batch_size: int = 100, scale: float = 1.0) -> tuple:
    x, y, xv, yv = _data(n_train, n_val)
    train = DataLoader(TensorDataset(x * scale, y), batch_size=batch_size, shuffle=True, generator=1)
    val = DataLoader(TensorDataset(xv * scale, yv), batch_size=500)
    return train, val


def mlp(depth: int = 2, width: int = 100, act: Callable[[], nn.Module] = nn.ReLU, inputs: int = 40,
        classes: int = 10) -> nn.Sequential:
    """Linear-activation blocks and a linear output layer."""
    layers: list[nn.Module] = []
    n = inputs
    for _ in range(depth):
        layers += [nn.Linear(n, width), act()]
        n = width
    layers.append(nn.Linear(n, classes))
    return nn.Sequential(*layers)


class BNCNN(nn.Module):
    """A small 1-D CNN with BatchNorm: (conv-BN-ReLU) x 3, global average pool, linear."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 5, padding=2), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.BatchNorm1d(channels), nn.ReLU())
        self.head = nn.Linear(channels * 10, 10)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x.reshape(x.shape[0], 1, x.shape[-1]))
        return self.head(h.reshape(h.shape[0], -1))


class NaiveSoftmaxMLP(nn.Module):
    """An MLP whose output is a hand-written softmax at temperature 1/200: exp underflows to 0, log(0)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: Tensor) -> Tensor:
        z = self.net(x) * 200.0
        e = z.exp()
        return (e / e.sum(dim=1, keepdim=True)).log()


# --- the cases -------------------------------------------------------------------------------------------------
def _healthy_mlp() -> dict:
    train, val = _loaders()
    model = mlp()
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=5)


def _healthy_bn_cnn() -> dict:
    train, val = _loaders(2000, 500)
    model = BNCNN()
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 3e-3), train_loader=train,
                val_loader=val, epochs=4)


def _healthy_transformer() -> dict:
    """descend's Transformer classifier on MNIST-1D with the settings the README gives it (AdamW 2e-3)."""
    from descend.models import build

    train, val = _loaders(2000, 500)
    model = build("transformer", (40,), 10, dropout=0.1)
    return dict(model=model, optimizer=optim.AdamW(model.parameters(), 2e-3), train_loader=train,
                val_loader=val, epochs=6)


def _healthy_gpt() -> dict:
    """The tiny GPT on a real English text that ships with descend (its README), character level."""
    from descend.data.text import lm_loss, load_text
    from descend.models import build

    text = load_text(Path(__file__).resolve().parents[1] / "README.md", 32)
    model = build("gpt", (32,), len(text.vocab))
    return dict(model=model, optimizer=optim.AdamW(model.parameters(), 3e-3), epochs=2, loss_fn=lm_loss,
                train_loader=DataLoader(text.train, batch_size=32, shuffle=True, generator=1),
                val_loader=DataLoader(text.val, batch_size=64), metrics=())


def _fashion(n_train: int, n_val: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first n_train training and n_val test images of Fashion-MNIST, (N, 1, 28, 28) in [0, 1]."""
    from descend.data.fashion_mnist import FashionMNIST

    x, y = FashionMNIST(train=True).arrays
    xt, yt = FashionMNIST(train=False).arrays
    return x[:n_train], y[:n_train], xt[:n_val], yt[:n_val]


def _healthy_resnet20() -> dict:
    """ResNet-20 (He et al. 2016) on 1,000 Fashion-MNIST images with the README's recipe: SGD 0.1, momentum
    0.9, weight decay 5e-4, cosine to 0."""
    from descend.models import build

    x, y, xv, yv = _fashion(1000, 500)
    train = DataLoader(TensorDataset(x, y), batch_size=50, shuffle=True, generator=1)
    val = DataLoader(TensorDataset(xv, yv), batch_size=500)
    model = build("resnet20", (1, 28, 28), 10)
    opt = optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=5e-4)
    epochs = 3
    return dict(model=model, optimizer=opt, train_loader=train, val_loader=val, epochs=epochs,
                scheduler=optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(train)),
                scheduler_interval="step")


def _healthy_dcgan() -> dict:
    """`descend gan --arch dcgan`'s networks and settings (Adam 2e-4, beta1 0.5, batch 64) at a quarter of the
    width (16 feature maps), on 4,000 Fashion-MNIST images, judged by the classifier descend gan trains."""
    from descend.gan import config, recipe
    from descend.gan.diagnose import Setting
    from descend.gan.models import dcgan_discriminator, dcgan_generator
    from descend.gan.step import GAN

    steps, every = 240, 30
    cfg = config.from_flags({"--data": "fashion-mnist", "--arch": "dcgan", "--steps": steps,
                             "--batch-size": 64, "--eval-every": every, "--judge-epochs": 3})
    data = recipe.load_data(cfg)
    data.x, data.labels = data.x[:4000], data.labels[:4000]
    data.test = (data.test[0][:1000], data.test[1][:1000])
    g, o = cfg["gan"], cfg["optim"]
    gen, disc = dcgan_generator(g["noise_dim"], data.shape, ngf=16), dcgan_discriminator(data.shape, ndf=16)
    betas = (o["beta1"], o["beta2"])
    gan = GAN(gen, disc, optim.Adam(gen.parameters(), lr=o["lr_g"], betas=betas),
              optim.Adam(disc.parameters(), lr=o["lr_d"], betas=betas), g["noise_dim"])
    return dict(gan=gan, data=data.x, steps=steps, batch_size=64, seed=0, log_every=every, eval_every=every,
                sample_every=steps, evaluator=recipe.image_evaluator(cfg, data, None),
                setting=Setting("image", steps, num_classes=data.num_classes))


def _default_train() -> dict:
    """The default `descend train` config, whole (the MNIST-1D paper's CNN; ~5 s on 2 idle cores)."""
    from descend.train import config, recipe

    cfg = config.load()
    prepared = recipe.prepare(cfg)
    return dict(model=prepared.model, optimizer=prepared.optimizer, train_loader=prepared.train_loader,
                val_loader=prepared.val_loader, epochs=cfg["train"]["epochs"], scheduler=prepared.scheduler,
                scheduler_interval=prepared.scheduler_interval, loss_fn=prepared.loss_fn)


def _divergence() -> dict:
    train, val = _loaders(2000, 500)
    model = mlp()
    return dict(model=model, optimizer=optim.SGD(model.parameters(), lr=10.0), train_loader=train,
                val_loader=val, epochs=3)


def _lr_too_low() -> dict:
    train, val = _loaders(2000, 500)
    model = mlp()
    return dict(model=model, optimizer=optim.Adam(model.parameters(), lr=1e-7), train_loader=train,
                val_loader=val, epochs=4)


def _vanishing() -> dict:
    train, val = _loaders(1000, 500)
    model = mlp(depth=20, width=32, act=nn.Sigmoid)
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=8)


def _dead_relus() -> dict:
    train, val = _loaders(2000, 500)
    model = mlp()
    for layer in model:
        if isinstance(layer, nn.Linear) and layer.out_features == 100:
            layer.bias._data[...] = -10.0
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=7)


def _saturated() -> dict:
    train, val = _loaders(2000, 500, scale=30.0)
    model = mlp(act=nn.Tanh)
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=4)


def _overfitting() -> dict:
    train, val = _loaders(50, 500, batch_size=10)
    model = mlp(depth=3, width=512)
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=20)


def _underfitting() -> dict:
    train, val = _loaders(2000, 500)
    model = mlp(depth=1, width=2)
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-2), train_loader=train,
                val_loader=val, epochs=10)


def _exploding_depth() -> dict:
    train, val = _loaders(1000, 500)
    layers: list[nn.Module] = []
    n = 40
    for _ in range(64):
        layers += [nn.Linear(n, 32), nn.BatchNorm1d(32), nn.ReLU()]
        n = 32
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=8)


def _exploding_spikes() -> dict:
    x, y, xv, yv = _data(2000, 500)
    rows = np.random.default_rng(0).choice(len(x), 5, replace=False)
    x[rows] *= 1e4  # five corrupted samples
    train = DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True, generator=1)
    val = DataLoader(TensorDataset(xv, yv), batch_size=500)
    model = mlp()
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=4)


def _oscillation() -> dict:
    x, _, xv, _ = _data(500, 500)
    r = np.random.default_rng(0)
    w = r.standard_normal((40, 1)).astype(np.float32) / np.sqrt(40)
    t = (x @ w + 0.1 * r.standard_normal((500, 1))).astype(np.float32)
    tv = (xv @ w + 0.1 * r.standard_normal((500, 1))).astype(np.float32)
    train = DataLoader(TensorDataset(x, t), batch_size=500, shuffle=True, generator=1)
    val = DataLoader(TensorDataset(xv, tv), batch_size=500)
    model = nn.Linear(40, 1)
    return dict(model=model, optimizer=optim.SGD(model.parameters(), 0.02, momentum=0.99), train_loader=train,
                val_loader=val, epochs=40, loss_fn=nn.MSELoss(), metrics=())


def _plateau() -> dict:
    train, val = _loaders(2000, 500)
    model = nn.Sequential(nn.Linear(40, 10))
    return dict(model=model, optimizer=optim.SGD(model.parameters(), 1.0), train_loader=train, val_loader=val,
                epochs=10)


def _nan() -> dict:
    train, val = _loaders(1000, 500)
    model = NaiveSoftmaxMLP()
    return dict(model=model, optimizer=optim.Adam(model.parameters(), 1e-3), train_loader=train,
                val_loader=val, epochs=2, loss_fn=nn.NLLLoss())


CASES: list[Case] = [
    Case("healthy MLP", "nothing: MNIST-1D MLP, Adam 1e-3", (), _healthy_mlp),
    Case("healthy BatchNorm CNN", "nothing: conv-BN-ReLU x3, Adam 3e-3", (), _healthy_bn_cnn),
    Case("healthy Transformer", "nothing: descend's Transformer classifier, AdamW 2e-3", (), _healthy_transformer),
    Case("healthy tiny GPT", "nothing: the character GPT on descend's README, AdamW 3e-3", (), _healthy_gpt),
    Case("healthy ResNet-20", "nothing: ResNet-20 on 1,000 Fashion-MNIST images, SGD 0.1, cosine", (),
         _healthy_resnet20),
    Case("healthy DCGAN", "nothing: the DCGAN (16 maps) on 4,000 Fashion-MNIST images, Adam 2e-4", (),
         _healthy_dcgan, kind="gan"),
    Case("default `descend train`",
         "nothing: the default config, all 60 epochs (MNIST-1D CNN, Adam 1e-2, cosine, dropout 0.3)", (),
         _default_train),
    Case("lr = 10", "SGD with lr 10", ("divergence",), _divergence),
    Case("lr = 1e-7", "Adam with lr 1e-7", ("lr_too_low",), _lr_too_low),
    Case("20-layer sigmoid MLP", "20 sigmoid layers, no normalisation", ("vanishing_gradients",), _vanishing),
    Case("biases -10 before ReLUs", "hidden biases initialised to -10", ("dead_relus",), _dead_relus),
    Case("tanh on inputs x30", "unscaled inputs (x30) into tanh units", ("saturated_units",), _saturated),
    Case("huge model, 50 samples", "3x512 MLP trained on 50 samples", ("overfitting",), _overfitting),
    Case("2 hidden units", "an MLP with 2 hidden units", ("underfitting",), _underfitting),
    Case("64-layer BatchNorm MLP", "64 plain Linear-BN-ReLU blocks, no residuals", ("exploding_gradients",),
         _exploding_depth),
    Case("corrupted samples", "5 training samples scaled by 1e4", ("exploding_gradients",), _exploding_spikes),
    Case("momentum 0.99", "linear regression, full-batch SGD with momentum 0.99", ("oscillation",),
         _oscillation),
    Case("SGD lr 1, constant", "logistic regression at a constant lr too high to settle", ("plateau",),
         _plateau),
    Case("naive softmax", "softmax by hand at temperature 1/200, then log", ("nan",), _nan),
]


def run_case(case: Case, stream: Any = None, seed: int = 0) -> tuple[Any, Any]:
    """Train one case with a default Doctor, or a GanDoctor for a GAN (seeded); returns the trainer and it."""
    backend.manual_seed(seed)
    kwargs = case.build()
    if case.kind == "gan":
        from descend.gan.diagnose import GanDoctor
        from descend.gan.loop import GanTrainer

        gan_doctor = GanDoctor(kwargs.pop("setting"), verbose=stream is not None, stream=stream)
        return GanTrainer(doctor=gan_doctor, **kwargs).fit(), gan_doctor
    doctor = Doctor(verbose=stream is not None, stream=stream)
    kwargs.setdefault("loss_fn", nn.CrossEntropyLoss())
    with np.errstate(all="ignore"):  # the broken cases overflow on purpose
        trainer = Trainer(callbacks=[doctor], **kwargs).fit()
    return trainer, doctor


def table(rows: list[tuple[Case, list[str], float]]) -> str:
    """The detection table in Markdown: case, what is broken, expected, got, match."""
    out = ["| case | what is broken | expected | diagnosed | |", "| --- | --- | --- | --- | --- |"]
    for case, got, seconds in rows:
        ok = "yes" if sorted(got) == sorted(case.expected) else "**NO**"
        out.append(f"| {case.name} | {case.broken} | {', '.join(case.expected) or 'none'} | "
                   f"{', '.join(got) or 'none'} | {ok} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run every case and write the table to bench/ZOO.md (or the path given)."""
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).with_name("ZOO.md")
    rows = []
    for case in CASES:
        start = time.perf_counter()
        _, doctor = run_case(case)
        got = [d.code for d in doctor.diagnoses if d.severity != "info"]
        rows.append((case, got, time.perf_counter() - start))
        print(f"{case.name}: expected {list(case.expected)}, got {got} ({rows[-1][2]:.1f}s)", flush=True)
    text = ("# The pathology zoo\n\nGenerated by `python -m bench.zoo` (the same cases as tests/test_zoo.py). "
            "Each case is a small seeded training on MNIST-1D (the ResNet and the DCGAN on a slice of "
            "Fashion-MNIST) watched by the default `Doctor()`: samples at steps 5, 10 and every 25 steps, rules at "
            "each sample (spaced to 20 % of the steps so far on long runs), at once on a suspicious step and at "
            "epoch ends. The DCGAN is watched by the GAN doctor (descend.gan.diagnose) over its logged losses and "
            "class-coverage evaluations. Each deliberately broken training must get exactly its expected "
            "diagnosis; healthy ones get none. 'diagnosed' lists the warnings and errors the doctor reported "
            "(info notes aside).\n\n" + table(rows) + "\n")
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0 if all(sorted(g) == sorted(c.expected) for c, g, _ in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

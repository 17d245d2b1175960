"""The benchmark's cases: deliberately broken trainings (one pathology each) and healthy ones.

Each fault re-creates, on MNIST-1D or a small synthetic set, a fault type of the fault-detection literature:
AUTOTRAINER's five problems (vanishing and exploding gradients, dying ReLU, oscillating loss, slow
convergence), DeepDiagnosis' symptoms (numerical errors, loss not decreasing, accuracy not increasing),
UMLAUT's heuristics (over/underfitting, input scaling), DeepFD's and TheDeepChecker's fault types (learning
rate, initialisation, activation, loss function, data) and DeepCrime's mutation operators (change learning
rate, weights initialisation, activation, add/remove layers, corrupt labels, change data scale, remove
validation-set use). `source` names the paper a case comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from bench.doctor import data as D
from descend import nn, optim
from bench.zoo import BNCNN, NaiveSoftmaxMLP, mlp
from descend.models import build as build_model
from descend._tensor import Tensor

LABELS = ("divergence", "exploding_gradients", "nan", "dead_relus", "saturated_units", "vanishing_gradients",
          "lr_too_low", "plateau", "oscillation", "overfitting", "underfitting")
HEALTHY = "healthy"


@dataclass
class Case:
    """One configuration: its label (a doctor code, or "healthy"), where it comes from, how to build it."""

    name: str
    label: str
    source: str
    build: Callable[[int], dict]  # seed -> Trainer keyword arguments
    data: str = "mnist1d"         # the data set, for the underfitting oracle's reference loss


# --- building blocks --------------------------------------------------------------------------------------
def _arrays(kind: str, n: int, nv: int) -> tuple:
    return {"mnist1d": D.mnist1d_arrays, "blobs": D.blobs, "rings": D.rings, "images": D.images,
            "regression": D.regression}[kind](n, nv)


def _opt(model: nn.Module, name: str, lr: float, **kw) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(model.parameters(), lr, **kw)
    if name == "momentum":
        return optim.SGD(model.parameters(), lr, momentum=kw.pop("momentum", 0.9), **kw)
    if name == "adam":
        return optim.Adam(model.parameters(), lr, **kw)
    return optim.AdamW(model.parameters(), lr, **kw)


def _job(model: nn.Module, arrays: tuple, opt: str, lr: float, epochs: int, batch: int = 50, seed: int = 0,
         loss: str = "ce", **kw) -> dict:
    train, val = D.loaders(arrays, batch, seed)
    job = dict(model=model, optimizer=_opt(model, opt, lr, **kw), train_loader=train, val_loader=val,
               epochs=epochs)
    if loss == "mse":
        job.update(loss_fn=nn.MSELoss(), metrics=())
    elif loss == "nll":
        job["loss_fn"] = nn.NLLLoss()
    return job


def _shape(kind: str) -> tuple:
    return {"mnist1d": (40,), "blobs": (20,), "rings": (2,), "images": (1, 12, 12)}[kind]


def _classes(kind: str) -> int:
    return 2 if kind == "rings" else 10


def _builtin(name: str, kind: str, **kw) -> nn.Module:
    return build_model(name, _shape(kind), _classes(kind), **kw)


def _flat_mlp(kind: str, **kw) -> nn.Module:
    inputs = int(np.prod(_shape(kind)))
    return nn.Sequential(nn.Flatten(), mlp(inputs=inputs, classes=_classes(kind), **kw))


def _biases(model: nn.Module, value: float, types: tuple = (nn.Linear,), skip_last: bool = True) -> nn.Module:
    """Set the biases of the hidden layers (every matching layer but the output one) to `value`."""
    layers = [m for m in model.modules() if isinstance(m, types) and m.bias is not None]
    for m in layers[:-1] if skip_last else layers:
        m.bias._data[...] = value
    return model


def _scale_weights(model: nn.Module, factor: float) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            m.weight._data[...] *= factor
    return model


def _scaled(arrays: tuple, factor: float) -> tuple:
    x, y, xv, yv = arrays
    return x * factor, y, xv * factor, yv


def _corrupt(arrays: tuple, rows: int, factor: float) -> tuple:
    """`rows` training inputs multiplied by `factor` (outliers in the data)."""
    x, y, xv, yv = arrays
    x = x.copy()
    pick = np.random.default_rng(0).choice(len(x), rows, replace=False)
    x[pick] *= factor
    return x, y, xv, yv


def _noisy_labels(arrays: tuple, fraction: float, classes: int = 10) -> tuple:
    x, y, xv, yv = arrays
    g = np.random.default_rng(0)
    y = y.copy()
    pick = g.random(len(y)) < fraction
    y[pick] = g.integers(classes, size=int(pick.sum()))
    return x, y, xv, yv


class _Apply(nn.Module):
    """A model followed (or preceded) by a fixed function: the faulty operations of the NaN cases."""

    def __init__(self, net: nn.Module, before: Callable | None = None, after: Callable | None = None) -> None:
        super().__init__()
        self.net, self.before, self.after = net, before, after

    def forward(self, x: Tensor) -> Tensor:
        if self.before is not None:
            x = self.before(x)
        y = self.net(x)
        return self.after(y) if self.after is not None else y


def _row_standardise(x: Tensor) -> Tensor:
    m = x.mean(dim=1, keepdim=True)
    d = x - m
    return d / (d * d).mean(dim=1, keepdim=True).sqrt()  # 0/0 on a constant row


def _zero_rows(arrays: tuple, rows: int) -> tuple:
    x, y, xv, yv = arrays
    x = x.copy()
    x[np.random.default_rng(1).choice(len(x), rows, replace=False)] = 0.0
    return x, y, xv, yv


def _nan_rows(arrays: tuple) -> tuple:
    x, y, xv, yv = arrays
    x = x.copy()
    x[np.random.default_rng(2).integers(len(x)), 5] = np.nan
    return x, y, xv, yv


def _deep(depth: int, width: int, act: type, inputs: int = 40, bn: bool = False) -> nn.Module:
    layers: list[nn.Module] = []
    n = inputs
    for _ in range(depth):
        layers += [nn.Linear(n, width)] + ([nn.BatchNorm1d(width)] if bn else []) + [act()]
        n = width
    return nn.Sequential(*layers, nn.Linear(n, 10))


def _default_train(seed: int) -> dict:
    from descend.train import config, recipe

    cfg = config.load()
    cfg["seed"] = seed
    p = recipe.prepare(cfg)
    return dict(model=p.model, optimizer=p.optimizer, train_loader=p.train_loader, val_loader=p.val_loader,
                epochs=cfg["train"]["epochs"], scheduler=p.scheduler, scheduler_interval=p.scheduler_interval,
                loss_fn=p.loss_fn)


def _cosine(job: dict) -> dict:
    job["scheduler"] = optim.lr_scheduler.CosineAnnealingLR(job["optimizer"], job["epochs"])
    return job


# --- the cases ------------------------------------------------------------------------------------------------
M, B, I, R = "mnist1d", "blobs", "images", "regression"
AT, DD, UM, DF, DC, TC, CK = ("AUTOTRAINER", "DeepDiagnosis", "UMLAUT", "DeepFD", "DeepCrime", "TheDeepChecker",
                              "Cockpit")


def _a(kind: str, n: int = 1000, nv: int = 300) -> tuple:
    return _arrays(kind, n, nv)


FAULTS: list[Case] = [
    # divergence: the learning rate far too high (DeepCrime "change learning rate", DeepFD "lr", AUTOTRAINER)
    Case("div-mlp-sgd10", "divergence", DC, lambda s: _job(mlp(), _a(M), "sgd", 10.0, 4, seed=s)),
    Case("div-logistic-sgd30", "divergence", DF, lambda s: _job(_builtin("logistic", M), _a(M), "sgd", 30.0, 4,
                                                                seed=s)),
    Case("div-mlp-adam0.5", "divergence", DD, lambda s: _job(_builtin("mlp", M), _a(M), "adam", 0.5, 4, seed=s)),
    Case("div-cnn-sgd5", "divergence", TC, lambda s: _job(_builtin("cnn", M), _a(M), "sgd", 5.0, 4,
                                                               seed=s)),
    Case("div-mlp28-sgd3", "divergence", DC, lambda s: _job(_builtin("mlp28", I), _a(I, 500, 200), "sgd", 3.0, 6,
                                                            seed=s), I),
    Case("div-blobs-adamw2", "divergence", AT, lambda s: _job(mlp(inputs=20), _a(B), "adamw", 2.0, 4, seed=s), B),
    Case("div-gru-sgd50", "divergence", DC, lambda s: _job(_builtin("gru", M), _a(M, 300, 100), "sgd", 50.0, 4,
                                                           seed=s)),
    # exploding gradients: outliers in the data, deep plain stacks, too-large initialisation
    Case("exp-mlp-outliers", "exploding_gradients", DF,
         lambda s: _job(mlp(), _corrupt(_a(M, 2000), 5, 1e4), "adam", 1e-3, 4, batch=100, seed=s)),
    Case("exp-bn64", "exploding_gradients", AT,
         lambda s: _job(_deep(64, 32, nn.ReLU, bn=True), _a(M), "adam", 1e-3, 6, batch=100, seed=s)),
    Case("exp-cnn-outliers", "exploding_gradients", TC,
         lambda s: _job(_builtin("cnn", M), _corrupt(_a(M, 2000), 5, 1e4), "adam", 1e-3, 4, batch=100, seed=s)),
    Case("exp-regression-outliers", "exploding_gradients", UM,
         lambda s: _job(mlp(classes=1), _corrupt(_a(R), 3, 1e3), "adam", 1e-3, 6, seed=s, loss="mse"), R),
    Case("exp-mlp28-outliers", "exploding_gradients", DC,
         lambda s: _job(_builtin("mlp28", I), _corrupt(_a(I, 1000, 200), 4, 1e4), "adam", 1e-3, 5, seed=s), I),
    Case("exp-logistic-outliers", "exploding_gradients", DC,
         lambda s: _job(_builtin("logistic", M), _corrupt(_a(M, 2000), 5, 1e4), "adam", 1e-3, 4, batch=100,
                        seed=s)),
    # NaN/inf from one numerically unsafe operation (DeepDiagnosis' numerical errors, UMLAUT's NaN check)
    Case("nan-naive-softmax", "nan", DD,
         lambda s: _job(NaiveSoftmaxMLP(), _a(M), "adam", 1e-3, 3, seed=s, loss="nll")),
    Case("nan-input-row", "nan", UM, lambda s: _job(mlp(), _nan_rows(_a(M)), "adam", 1e-3, 3, seed=s)),
    Case("nan-sqrt-input", "nan", TC,
         lambda s: _job(_Apply(mlp(), before=lambda x: x.sqrt()), _a(M), "adam", 1e-3, 3, seed=s)),
    Case("nan-row-standardise", "nan", DF,
         lambda s: _job(_Apply(mlp(), before=_row_standardise), _zero_rows(_a(M), 3), "adam", 1e-3, 3, seed=s)),
    Case("nan-log-scores", "nan", DC,
         lambda s: _job(_Apply(mlp(), after=lambda y: y.log()), _a(M), "sgd", 0.01, 3, seed=s, loss="nll")),
    Case("nan-cnn-naive-softmax", "nan", DD,
         lambda s: _job(_Apply(_builtin("cnn", M), after=lambda y: ((y * 300.0).exp() / (y * 300.0).exp().sum(
             dim=1, keepdim=True)).log()), _a(M), "adam", 1e-3, 3, seed=s, loss="nll")),
    # dead ReLUs: strongly negative biases, a learning rate that knocks units off (AUTOTRAINER's dying ReLU)
    Case("dead-mlp-bias-10", "dead_relus", AT, lambda s: _job(_biases(mlp(), -10.0), _a(M), "adam", 1e-3, 6,
                                                              seed=s)),
    Case("dead-cnn-bias-10", "dead_relus", DC,
         lambda s: _job(_biases(_builtin("cnn", M), -10.0, (nn.Conv1d,), False), _a(M), "adam", 1e-3, 5, seed=s)),
    Case("dead-mlp28-bias-10", "dead_relus", DF,
         lambda s: _job(_biases(_builtin("mlp28", I), -10.0), _a(I, 500, 200), "momentum", 0.01, 6, seed=s), I),
    Case("dead-builtin-mlp-bias", "dead_relus", TC,
         lambda s: _job(_biases(_builtin("mlp", M), -10.0), _a(M), "adam", 1e-3, 6, seed=s)),
    Case("dead-blobs-bias-20", "dead_relus", DC,
         lambda s: _job(_biases(mlp(3, 64, inputs=20), -20.0), _a(B), "adamw", 1e-3, 6, seed=s), B),
    Case("dead-deep-adam0.05", "dead_relus", AT,
         lambda s: _job(_deep(4, 64, nn.ReLU), _a(M), "adam", 0.05, 6, seed=s)),
    # saturated tanh/sigmoid units: unscaled inputs, too-large initialisation (UMLAUT, DeepCrime)
    Case("sat-tanh-x30", "saturated_units", UM, lambda s: _job(mlp(act=nn.Tanh), _scaled(_a(M), 30.0), "adam",
                                                               1e-3, 5, seed=s)),
    Case("sat-sigmoid-x30", "saturated_units", UM,
         lambda s: _job(mlp(act=nn.Sigmoid), _scaled(_a(M), 30.0), "adam", 1e-3, 5, seed=s)),
    Case("sat-tanh-init10", "saturated_units", DC,
         lambda s: _job(_scale_weights(mlp(act=nn.Tanh, inputs=20), 10.0), _a(B), "sgd", 0.05, 5, seed=s), B),
    Case("sat-tanh-images-x20", "saturated_units", DF,
         lambda s: _job(_flat_mlp(I, act=nn.Tanh), _scaled(_a(I, 500, 200), 20.0), "adam", 1e-3, 6, seed=s), I),
    Case("sat-sigmoid-blobs-x20", "saturated_units", TC,
         lambda s: _job(mlp(act=nn.Sigmoid, inputs=20), _scaled(_a(B), 20.0), "momentum", 0.01, 5, seed=s), B),
    # vanishing gradients: deep sigmoid/tanh stacks without normalisation (AUTOTRAINER, DeepDiagnosis)
    Case("van-sigmoid20", "vanishing_gradients", AT,
         lambda s: _job(mlp(20, 32, nn.Sigmoid), _a(M), "adam", 1e-3, 6, batch=100, seed=s)),
    Case("van-sigmoid15-blobs", "vanishing_gradients", DD,
         lambda s: _job(mlp(15, 64, nn.Sigmoid, inputs=20), _a(B), "sgd", 0.1, 6, seed=s), B),
    Case("van-tanh12-small-init", "vanishing_gradients", DC,
         lambda s: _job(_scale_weights(mlp(12, 64, nn.Tanh), 0.3), _a(M), "adam", 1e-3, 6, seed=s)),
    Case("van-sigmoid25-images", "vanishing_gradients", DF,
         lambda s: _job(_flat_mlp(I, depth=25, width=32, act=nn.Sigmoid), _a(I, 500, 200), "adam", 1e-3, 6,
                        seed=s), I),
    Case("van-sigmoid10-momentum", "vanishing_gradients", TC,
         lambda s: _job(mlp(10, 64, nn.Sigmoid), _a(M), "momentum", 0.01, 6, seed=s)),
    # learning rate too low: the loss barely moves (DeepDiagnosis' "loss not decreasing", AUTOTRAINER's slow
    # convergence, DeepCrime "change learning rate")
    Case("low-mlp-adam1e-7", "lr_too_low", DD, lambda s: _job(mlp(), _a(M), "adam", 1e-7, 5, seed=s)),
    Case("low-builtin-mlp-sgd1e-5", "lr_too_low", DC,
         lambda s: _job(_builtin("mlp", M), _a(M), "sgd", 1e-5, 5, seed=s)),
    Case("low-cnn-sgd1e-6", "lr_too_low", AT, lambda s: _job(_builtin("cnn", M), _a(M), "sgd", 1e-6, 5, seed=s)),
    Case("low-logistic-adam1e-7", "lr_too_low", DF,
         lambda s: _job(_builtin("logistic", M), _a(M), "adam", 1e-7, 5, seed=s)),
    Case("low-mlp28-momentum1e-6", "lr_too_low", TC,
         lambda s: _job(_builtin("mlp28", I), _a(I, 500, 200), "momentum", 1e-6, 6, seed=s), I),
    Case("low-gru-adamw1e-7", "lr_too_low", DC,
         lambda s: _job(_builtin("gru", M), _a(M, 300, 100), "adamw", 1e-7, 5, batch=25, seed=s)),
    # plateau: a constant learning rate too high to settle (Cockpit's "too large steps", DeepDiagnosis'
    # "loss not decreasing")
    Case("plat-logistic-sgd1", "plateau", CK,
         lambda s: _job(nn.Sequential(nn.Linear(40, 10)), _a(M, 2000), "sgd", 1.0, 12, batch=100, seed=s)),
    Case("plat-logistic-adam0.1", "plateau", DD,
         lambda s: _job(_builtin("logistic", M), _a(M, 2000), "adam", 0.1, 12, batch=100, seed=s)),
    Case("plat-logistic-momentum0.3", "plateau", CK,
         lambda s: _job(_builtin("logistic", M), _a(M, 2000), "momentum", 0.3, 12, batch=100, seed=s)),
    Case("plat-mlp-adam0.1", "plateau", AT,
         lambda s: _job(_builtin("mlp", M), _a(M, 2000), "adam", 0.1, 12, batch=100, seed=s)),
    Case("plat-logistic-blobs-adam0.3", "plateau", DC,
         lambda s: _job(_builtin("logistic", B), D.blobs(2000, 300, spread=3.0), "adam", 0.3, 12, batch=100,
                        seed=s), B),
    Case("plat-logistic-blobs-sgd5", "plateau", DF,
         lambda s: _job(_builtin("logistic", B), D.blobs(2000, 300, spread=3.0), "sgd", 1.0, 12, batch=100,
                        seed=s), B),
    # more of them (issue 19): the same fault on the other built-in models and optimizers, added after the
    # first split and split among themselves (bench/doctor/run.py, `ADDED`)
    Case("plat-mlp-sgd1", "plateau", CK,
         lambda s: _job(_builtin("mlp", M), _a(M, 2000), "sgd", 1.0, 12, batch=100, seed=s)),
    Case("plat-mlp-momentum0.2", "plateau", DC,
         lambda s: _job(_builtin("mlp", M), _a(M, 2000), "momentum", 0.2, 12, batch=100, seed=s)),
    Case("plat-cnn-adam0.03", "plateau", DD,
         lambda s: _job(_builtin("cnn", M), _a(M, 2000), "adam", 0.03, 12, batch=100, seed=s)),
    Case("plat-mlp28-adam0.03", "plateau", DF,
         lambda s: _job(_builtin("mlp28", I), _a(I, 1000, 200), "adam", 0.03, 12, batch=50, seed=s), I),
    Case("plat-gru-adam0.05", "plateau", DC,
         lambda s: _job(_builtin("gru", M), _a(M, 600, 200), "adam", 0.05, 8, batch=25, seed=s)),
    Case("plat-logistic-adamw0.3", "plateau", DC,
         lambda s: _job(_builtin("logistic", M), _a(M, 2000), "adamw", 0.3, 12, batch=100, seed=s)),
    Case("plat-mlp-blobs-sgd2", "plateau", CK,
         lambda s: _job(mlp(inputs=20), D.blobs(2000, 300, spread=3.0), "sgd", 2.0, 12, batch=100, seed=s), B),
    Case("plat-mlp-blobs-adamw0.05", "plateau", AT,
         lambda s: _job(mlp(inputs=20), D.blobs(2000, 300, spread=3.0), "adamw", 0.05, 12, batch=100, seed=s),
         B),
    Case("plat-logistic-images-sgd2", "plateau", DF,
         lambda s: _job(_builtin("logistic", I), _a(I, 1000, 200), "sgd", 2.0, 12, batch=50, seed=s), I),
    Case("plat-cnn-momentum0.1", "plateau", TC,
         lambda s: _job(_builtin("cnn", M), _a(M, 2000), "momentum", 0.1, 12, batch=100, seed=s)),
    # oscillation: momentum too high on a smooth problem (AUTOTRAINER's oscillating loss)
    Case("osc-regression-m0.99", "oscillation", AT,
         lambda s: _job(nn.Linear(40, 1), _a(R, 500, 300), "momentum", 0.02, 40, batch=500, seed=s, loss="mse",
                        momentum=0.99), R),
    Case("osc-regression-m0.98", "oscillation", AT,
         lambda s: _job(nn.Linear(40, 1), _a(R, 500, 300), "momentum", 0.05, 50, batch=500, seed=s, loss="mse",
                        momentum=0.98), R),
    Case("osc-regression-2-batches", "oscillation", DD,
         lambda s: _job(nn.Linear(40, 1), _a(R, 500, 300), "momentum", 0.02, 50, batch=250, seed=s, loss="mse",
                        momentum=0.99), R),
    Case("osc-regression-m0.995", "oscillation", DC,
         lambda s: _job(nn.Linear(40, 1), _a(R, 500, 300), "momentum", 0.005, 50, batch=500, seed=s, loss="mse",
                        momentum=0.995), R),
    Case("osc-mlp-regression-m0.99", "oscillation", DF,
         lambda s: _job(mlp(classes=1), _a(R, 500, 300), "momentum", 0.03, 60, batch=500, seed=s, loss="mse",
                        momentum=0.99), R),
    # overfitting: a large model on few samples, noisy labels (UMLAUT, DeepCrime "change labels")
    Case("over-mlp512-50", "overfitting", UM,
         lambda s: _job(mlp(3, 512), _a(M, 50, 500), "adam", 1e-3, 20, batch=10, seed=s)),
    Case("over-builtin-mlp-100", "overfitting", DF,
         lambda s: _job(_builtin("mlp", M), _a(M, 100, 500), "adam", 3e-3, 40, batch=20, seed=s)),
    Case("over-cnn-100", "overfitting", TC,
         lambda s: _job(_builtin("cnn", M), _a(M, 100, 500), "adam", 3e-3, 30, batch=20, seed=s)),
    Case("over-mlp28-noisy-labels", "overfitting", DC,
         lambda s: _job(_builtin("mlp28", I), _noisy_labels(_a(I, 100, 300), 0.4), "adam", 3e-3, 40, batch=20,
                        seed=s), I),
    Case("over-noisy-labels-300", "overfitting", DC,
         lambda s: _job(mlp(2, 256), _noisy_labels(_a(M, 300, 500), 0.5), "adam", 1e-3, 30, batch=30, seed=s)),
    Case("over-blobs-wide", "overfitting", UM,
         lambda s: _job(mlp(1, 1024, inputs=20), D.blobs(80, 500, spread=3.0), "adam", 3e-3, 40, batch=20,
                        seed=s), B),
    # underfitting: too little capacity or too much regularisation (UMLAUT, DeepCrime "remove layer")
    Case("under-2-units", "underfitting", UM, lambda s: _job(mlp(1, 2), _a(M, 2000), "adam", 1e-2, 10, batch=100,
                                                             seed=s)),
    Case("under-logistic-rings", "underfitting", UM,
         lambda s: _job(_builtin("logistic", "rings"), _a("rings", 1000), "adam", 1e-2, 10, seed=s), "rings"),
    Case("under-4-units", "underfitting", DC, lambda s: _job(mlp(1, 4), _a(M, 2000), "sgd", 0.1, 10, batch=100,
                                                             seed=s)),
    Case("under-weight-decay", "underfitting", DF,
         lambda s: _job(_builtin("mlp", M), _a(M, 2000), "sgd", 0.1, 10, batch=100, seed=s, weight_decay=0.5)),
    Case("under-cnn-1-channel", "underfitting", DC,
         lambda s: _job(build_cnn1(), _a(M, 2000), "adam", 1e-2, 10, batch=100, seed=s)),
    Case("under-blobs-1-unit", "underfitting", TC,
         lambda s: _job(mlp(1, 1, inputs=20), _a(B, 2000), "adam", 1e-2, 10, batch=100, seed=s), B),
]


def build_cnn1() -> nn.Module:
    from descend.models import CNN

    return CNN((40,), 10, channels=1)


HEALTHY_CASES: list[Case] = [
    Case("ok-zoo-mlp-adam", HEALTHY, "zoo", lambda s: _job(mlp(), _a(M, 4000, 1000), "adam", 1e-3, 5, batch=100,
                                                           seed=s)),
    Case("ok-bn-cnn-adam", HEALTHY, "zoo", lambda s: _job(BNCNN(), _a(M, 2000, 500), "adam", 3e-3, 4, batch=100,
                                                          seed=s)),
    Case("ok-mlp-adam", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("mlp", M), _a(M, 2000), "adam", 1e-3, 8,
                                                            seed=s)),
    Case("ok-mlp-momentum", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("mlp", M), _a(M, 2000), "momentum", 0.05,
                                                                8, seed=s)),
    Case("ok-mlp-adamw", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("mlp", M), _a(M, 2000), "adamw", 3e-3, 8,
                                                             seed=s, weight_decay=0.01)),
    Case("ok-mlp-sgd", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("mlp", M), _a(M, 2000), "sgd", 0.2, 10,
                                                           seed=s)),
    Case("ok-cnn-adam", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("cnn", M), _a(M, 2000), "adam", 3e-3, 8,
                                                            seed=s)),
    Case("ok-cnn-momentum", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("cnn", M), _a(M, 2000), "momentum", 0.02,
                                                                8, seed=s)),
    Case("ok-cnn-adamw-cosine", HEALTHY, "MNIST-1D",
         lambda s: _cosine(_job(_builtin("cnn", M), _a(M, 2000), "adamw", 1e-2, 8, seed=s))),
    Case("ok-gru-adam", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("gru", M), _a(M, 600, 200), "adam", 1e-2, 4,
                                                            batch=25, seed=s)),
    Case("ok-logistic-blobs-sgd", HEALTHY, "synthetic",
         lambda s: _job(_builtin("logistic", B), _a(B), "sgd", 0.1, 6, seed=s), B),
    Case("ok-mlp-blobs-adam", HEALTHY, "synthetic", lambda s: _job(mlp(inputs=20), _a(B), "adam", 1e-3, 6, seed=s),
         B),
    Case("ok-mlp28-adam", HEALTHY, "synthetic",
         lambda s: _job(_builtin("mlp28", I), _a(I, 500, 200), "adam", 1e-3, 6, seed=s), I),
    Case("ok-cnn28-adam", HEALTHY, "synthetic",
         lambda s: _job(_builtin("cnn28", I), _a(I, 400, 200), "adam", 1e-3, 4, seed=s), I),
    Case("ok-mlp28-momentum", HEALTHY, "synthetic",
         lambda s: _job(_builtin("mlp28", I), _a(I, 500, 200), "momentum", 0.01, 6, seed=s), I),
    Case("ok-tanh-mlp-adam", HEALTHY, "zoo", lambda s: _job(mlp(act=nn.Tanh), _a(M, 2000), "adam", 1e-3, 8,
                                                            seed=s)),
    Case("ok-sigmoid-mlp-adam", HEALTHY, "zoo", lambda s: _job(mlp(act=nn.Sigmoid), _a(M, 2000), "adam", 3e-3, 8,
                                                               seed=s)),
    Case("ok-mlp-dropout", HEALTHY, "MNIST-1D", lambda s: _job(_builtin("mlp", M, dropout=0.2), _a(M, 2000), "adam",
                                                               1e-3, 8, seed=s)),
    Case("ok-regression-adam", HEALTHY, "synthetic",
         lambda s: _job(mlp(classes=1), _a(R), "adam", 1e-3, 8, seed=s, loss="mse"), R),
    Case("ok-deep6-relu-adam", HEALTHY, "zoo", lambda s: _job(_deep(6, 64, nn.ReLU), _a(M, 2000), "adam", 1e-3, 8,
                                                              seed=s)),
    Case("ok-blobs-small-batch", HEALTHY, "synthetic",
         lambda s: _job(mlp(inputs=20), _a(B), "adam", 1e-3, 4, batch=20, seed=s), B),
    Case("ok-mlp-rings-adam", HEALTHY, "synthetic",
         lambda s: _job(mlp(inputs=2, classes=2), _a("rings"), "adam", 3e-3, 5, seed=s), "rings"),
    Case("ok-default-train", HEALTHY, "descend train", _default_train),
]

CASES: list[Case] = FAULTS + HEALTHY_CASES
SEEDS = (0, 1, 2)

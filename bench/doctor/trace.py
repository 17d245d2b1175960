"""Record a case's training as a trace: every step's scalars, the epoch logs, the doctor's sampled layer and
activation records and NaN events, plus end-of-run probes measured independently of the doctor.

A trace is what the doctor (and the literature's rule sets) read, saved once, so rules can be re-tuned
without re-training. Traces are cached as gzipped JSON under bench/doctor/.cache/ (git-ignored).
"""

from __future__ import annotations

import gzip
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.doctor.cases import Case
from descend import backend, nn
from descend.doctor.doctor import DENSE
from descend.doctor.monitors import ActivationMonitor, LayerMonitor, NonFiniteMonitor
from descend.doctor.rules import History
from descend.ops import elementwise as _ew
from descend._tensor import Tensor, no_grad, register_op_hook
from descend.train.callbacks import Callback
from descend.train.loop import Trainer

CACHE = Path(__file__).with_name(".cache")
EVERY, WINDOW = 25, 4  # the Doctor's defaults: the traces hold what a default doctor sees
NONFINITE_STEPS = 5    # a run stops after this many non-finite losses in a row (nothing more to learn)


class Recorder(Callback):
    """The doctor's monitors without its rules, writing every record to a list in the order they occur."""

    def __init__(self) -> None:
        self.history = History()
        self.monitors = [LayerMonitor(EVERY, self.history, early=True, dense=DENSE),
                         ActivationMonitor(EVERY, WINDOW, self.history, early=True, dense=DENSE),
                         NonFiniteMonitor(self.history)]
        self.records: list[dict] = []
        self._bad = 0

    def on_train_begin(self, trainer: Any) -> None:
        for m in self.monitors:
            m.on_train_begin(trainer)
        self.w0 = _weights(trainer.model)
        self.w_mid = None
        self.grad_layers: list = []

    def _drain(self) -> None:
        h = self.history
        for key in ("layers", "activations", "events"):
            for r in getattr(h, key):
                self.records.append(r if key != "events" else {**r, "kind": "doctor"})
            getattr(h, key).clear()

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        self.records.append({"kind": "step", **{k: _num(v) for k, v in logs.items()}})
        for m in self.monitors:
            m.on_step_end(trainer, logs)
        self._drain()
        loss = logs.get("loss")
        self._bad = self._bad + 1 if loss is None or not math.isfinite(loss) else 0
        if self._bad >= NONFINITE_STEPS:
            trainer.stop_training = True

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        self.records.append({"kind": "epoch", **{k: _num(v) for k, v in logs.items()}})
        if self.w_mid is None and trainer.epoch + 1 >= trainer.epochs / 2:
            self.w_mid = _weights(trainer.model)

    def on_train_end(self, trainer: Any, logs: dict) -> None:
        for m in self.monitors:
            m.on_train_end(trainer, logs)
        self._drain()


def _num(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def _weights(model: nn.Module) -> np.ndarray:
    return np.concatenate([backend.to_numpy(p._data).astype(np.float64).ravel() for p in model.parameters()])


def _rel(a: np.ndarray | None, b: np.ndarray) -> float:
    if a is None:
        return float("nan")
    with np.errstate(all="ignore"):
        return float(np.linalg.norm(b - a) / max(np.linalg.norm(a), 1e-12))


def probe(trainer: Trainer) -> dict:
    """Independent end-of-run measurements on up to 500 training samples: per activation op the fraction of
    units that never fired and of saturated outputs; per weight layer the gradient RMS of the probe batch."""
    model, loss_fn = trainer.model, trainer.loss_fn
    xs, ys, n = [], [], 0
    for x, y in trainer.train_loader:
        xs.append(backend.to_numpy(x._data if isinstance(x, Tensor) else x))
        ys.append(backend.to_numpy(y._data if isinstance(y, Tensor) else y))
        n += len(xs[-1])
        if n >= 500:
            break
    x, y = Tensor(np.concatenate(xs)[:500]), Tensor(np.concatenate(ys)[:500])
    acts: list = []

    def seen(cls: type, out: Any, args: tuple) -> None:
        if cls in (_ew.ReLU, _ew.Tanh, _ew.Sigmoid):
            acts.append((cls.__name__, np.asarray(backend.to_numpy(out))))

    model.train()
    handle = register_op_hook(seen)
    try:
        with np.errstate(all="ignore"):
            out = model(x)
            loss = loss_fn(out, y)
    finally:
        handle.remove()
    model.zero_grad()
    with np.errstate(all="ignore"):
        try:
            loss.backward()
        except Exception:  # a non-finite model may refuse; the probe is then partial
            pass
    layers = []
    for name, mod in model.named_modules():
        w = getattr(mod, "weight", None)
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)) and w is not None and w.grad is not None:
            g = backend.to_numpy(w.grad._data).astype(np.float64)
            layers.append((name, float(np.sqrt(np.mean(g * g)))))
    act_stats = []
    for i, (kind, a) in enumerate(acts[:-1] if acts and acts[-1][1].shape == tuple(out.shape) else acts):
        if a.ndim < 2:
            continue
        units = a.reshape(a.shape[0], a.shape[1], -1)
        if kind == "ReLU":
            act_stats.append({"type": kind, "dead": float(np.mean(~(units > 0).any(axis=(0, 2))))})
        else:
            lo, hi = (-1.0, 1.0) if kind == "Tanh" else (0.0, 1.0)
            sat = np.mean((a < lo + 0.02) | (a > hi - 0.02))
            act_stats.append({"type": kind, "saturated": float(sat)})
    return {"loss": float(loss.item()), "grad_rms": layers, "acts": act_stats}


def record(case: Case, seed: int) -> dict:
    """Train `case` with `seed` under the recorder and return its trace."""
    backend.manual_seed(seed)
    kwargs = case.build(seed)
    kwargs.setdefault("loss_fn", nn.CrossEntropyLoss())
    rec = Recorder()
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        trainer = Trainer(callbacks=[rec], **kwargs).fit()
        w_end = _weights(trainer.model)
        pr = probe(trainer)
    pr["update_total"] = _rel(rec.w0, w_end)   # ||w_end - w_0|| / ||w_0||
    pr["update_late"] = _rel(rec.w_mid, w_end)  # ... over the second half of the run
    steps_per_epoch = len(kwargs["train_loader"])
    return {"case": case.name, "label": case.label, "seed": seed, "data": case.data, "epochs": kwargs["epochs"],
            "planned_steps": steps_per_epoch * kwargs["epochs"], "steps": trainer.step,
            "seconds": time.perf_counter() - start, "probe": pr, "records": rec.records}


def path(case: Case, seed: int) -> Path:
    return CACHE / f"{case.name}-s{seed}.json.gz"


def load_or_record(case: Case, seed: int, force: bool = False) -> dict:
    p = path(case, seed)
    if p.exists() and not force:
        with gzip.open(p, "rt", encoding="utf-8") as f:
            return json.load(f)
    t = record(case, seed)
    CACHE.mkdir(exist_ok=True)
    tmp = p.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(t, f, default=str)
    tmp.replace(p)
    return t

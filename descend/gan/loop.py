"""The GAN training loop of `descend gan`: steps, logged averages, evaluations, samples, checkpoints, resume.

Resume is bit-identical because a checkpoint holds everything a step depends on: both networks (with
BatchNorm's running statistics), both optimizers, the global RNG (the noise), the batch stream's shuffle
generator and position, the losses averaged since the last record, the doctor's findings, and the byte length
of metrics.jsonl. Evaluation and sample noise is fixed per run and never touches the global RNG.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descend import backend
from descend.rundir import codec
from descend.rundir import metrics as run_metrics
from descend.gan.diagnose import GanDoctor
from descend.gan.step import GAN, Batches
from descend.ops import tune_heap
from descend.train.checkpoint import Checkpoints


def _number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def write_record(trainer: Any, record: dict, prefix: str) -> None:
    """Keep `record` in trainer.history, append it to metrics.jsonl and its finite numbers to TensorBoard (as
    `prefix/name`), and hand it to trainer.on_record with its `ms_per_step`."""
    # Timing differs between runs: it goes to the screen, not into metrics.jsonl, which a resumed run must
    # reproduce byte for byte.
    ms = record.pop("ms_per_step")
    trainer.history.append(record)
    if trainer.run is not None:
        trainer.run.log(codec.to_json(record))
        tb = trainer.run.tb
        if tb is not None:
            for k, v in record.items():
                if k not in ("kind", "step") and _number(v) and math.isfinite(v):
                    tb.add_scalar(f"{prefix}/{k}", v, record["step"])
    if trainer.on_record is not None:
        trainer.on_record({**record, "ms_per_step": ms})


def read_records(text: str) -> list[dict]:
    """The gan records of metrics.jsonl text, non-finite values restored to floats."""
    return [r for r in run_metrics.parse(text, "metrics.jsonl") if r.get("kind") == "gan"]


def scalars_restored(sd: dict, module: Any) -> dict:
    """`sd` with one-element arrays reshaped to 0-d where `module` holds a 0-d entry.

    The checkpoint writer (descend.train.checkpoint.pack, through np.ascontiguousarray) stores 0-d arrays such
    as BatchNorm's num_batches_tracked with shape (1,); loading them back needs the original shape.
    """
    own = module.state_dict()
    out = dict(sd)
    for k, v in sd.items():
        if k in own and getattr(own[k], "shape", None) == () and getattr(v, "shape", None) == (1,):
            out[k] = np.asarray(v).reshape(())
    return out


class GanTrainer:
    """Alternating updates for `steps` generator steps, with a record of kind "gan" every `log_every` steps.

    evaluator(gan) -> (metrics, samples) runs every `eval_every` steps (its metrics join that step's record);
    on_samples(step, samples) gets the fixed-noise samples every `sample_every` steps (to draw them).
    """

    def __init__(self, gan: GAN, data: np.ndarray, *, steps: int, batch_size: int, seed: int,
                 evaluator: Callable[[GAN], tuple[dict, np.ndarray]] | None = None, log_every: int = 50,
                 eval_every: int = 500, sample_every: int = 500, ckpt_every: int = 0, keep: int = 3,
                 run: Any = None, doctor: GanDoctor | None = None,
                 on_samples: Callable[[int, np.ndarray], Any] | None = None,
                 on_record: Callable[[dict], Any] | None = None, lr_decay: str = "none") -> None:
        if lr_decay not in ("none", "linear"):
            raise ValueError(f"GanTrainer: lr_decay must be 'none' or 'linear', got {lr_decay!r}")
        self.gan, self.steps, self.evaluator = gan, steps, evaluator
        self.log_every, self.eval_every, self.sample_every = log_every, eval_every, sample_every
        self.ckpt_every, self.run, self.doctor = ckpt_every, run, doctor
        self.on_samples, self.on_record = on_samples, on_record
        self.lr_decay = lr_decay
        # The configured rates; a linear decay scales them by the fraction of the run still to go. Kept in the
        # param group as "initial_lr" (as PyTorch's schedulers do), so a resumed optimizer state carries them.
        for opt in (gan.g_optimizer, gan.d_optimizer):
            opt.param_groups[0].setdefault("initial_lr", opt.param_groups[0]["lr"])
        # Real batches hold `pack` samples per discriminator input, so D sees batch_size inputs either way.
        self.batches = Batches(data, batch_size * gan.pack, np.random.default_rng([seed, 1]))
        self.checkpoints = Checkpoints(run.dir / "checkpoints", keep, "modes") if run is not None else None
        self.step = 0
        self.window: list[dict] = []
        self.history: list[dict] = []
        self.stop_training = False
        self._saved_step = -1

    def fit(self) -> "GanTrainer":
        """Train until `steps` generator updates are done (or `stop_training` is set)."""
        tune_heap()  # freed activations stay in the heap for the next step (descend/ops/_heap.py)
        self.gan.generator.train()
        self.gan.discriminator.train()
        start, start_step = time.perf_counter(), self.step
        while self.step < self.steps and not self.stop_training:
            if self.lr_decay == "linear":
                for opt in (self.gan.g_optimizer, self.gan.d_optimizer):
                    group = opt.param_groups[0]
                    group["lr"] = group["initial_lr"] * (1 - self.step / self.steps)
            self.window.append(self.gan.step(self.batches))
            self.step += 1
            s = self.step
            last = s == self.steps
            evaluate = self.evaluator is not None and (s % self.eval_every == 0 or last)
            samples = None
            if s % self.log_every == 0 or evaluate or last:
                record = {"kind": "gan", "step": s}
                record.update({k: float(np.mean([w[k] for w in self.window])) for k in self.window[0]})
                self.window = []
                if evaluate:
                    metrics, samples = self.evaluator(self.gan)
                    record.update(metrics)
                record["ms_per_step"] = 1000 * (time.perf_counter() - start) / max(s - start_step, 1)
                self._log(record)
            if self.on_samples is not None and (s % self.sample_every == 0 or last):
                if samples is None:
                    samples = self.evaluator(self.gan)[1] if self.evaluator is not None else None
                if samples is not None:
                    self.on_samples(s, samples)
            if self.ckpt_every and s % self.ckpt_every == 0:
                self.checkpoint()
        self.checkpoint()
        if self.doctor is not None:
            self.doctor.finish(self.step)
        return self

    def _log(self, record: dict) -> None:
        write_record(self, record, "gan")
        if self.doctor is not None:
            self.doctor.add(record, record["step"])

    # --- state and checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue exactly from here."""
        return {
            "step": self.step,
            "model": dict(self.gan.generator.state_dict()),
            "discriminator": dict(self.gan.discriminator.state_dict()),
            "g_optimizer": self.gan.g_optimizer.state_dict(),
            "d_optimizer": self.gan.d_optimizer.state_dict(),
            "rng": backend.get_rng_state(),
            "batches": self.batches.state_dict(),
            "window": list(self.window),
            "doctor": self.doctor.state_dict() if self.doctor is not None else None,
            "metrics_offset": self.run.metrics_offset() if self.run is not None else None,
        }

    def load_state_dict(self, state: dict, records: list[dict] | None = None) -> None:
        """Restore a `state_dict` (or a checkpoint's contents); `records`: the run's gan records so far."""
        self.gan.generator.load_state_dict(scalars_restored(state["model"], self.gan.generator))
        self.gan.discriminator.load_state_dict(scalars_restored(state["discriminator"], self.gan.discriminator))
        self.gan.g_optimizer.load_state_dict(state["g_optimizer"])
        self.gan.d_optimizer.load_state_dict(state["d_optimizer"])
        backend.set_rng_state(state["rng"])
        self.batches.load_state_dict(state["batches"])
        self.window = [dict(w) for w in state["window"]]
        self.step = self._saved_step = int(state["step"])
        self.history = list(records or [])
        if self.doctor is not None and state.get("doctor") is not None:
            self.doctor.load_state_dict(state["doctor"], self.history)

    def checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (once per step; not if the generator's weights are not finite)."""
        if self.checkpoints is None or self._saved_step == self.step:
            return None
        path = self.checkpoints.save(self.state_dict(), self.step)
        if path is not None:
            self._saved_step = self.step
        return path

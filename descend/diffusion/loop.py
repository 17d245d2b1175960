"""The training loop of `descend diffusion`: steps, logged averages, evaluations, samples, checkpoints, resume.

Resume is bit-identical as in `descend gan`: a checkpoint holds the denoiser, its EMA, the optimizer, the
global RNG (timesteps and noise), the batch stream, the losses averaged since the last record, and the byte
length of metrics.jsonl. Evaluation noise is fixed per run and never touches the global RNG.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descend import backend
from descend.diffusion.ddpm import Diffusion
from descend.diffusion.diagnose import DiffusionDoctor, Setting
from descend.gan.loop import _number, read_records, scalars_restored, write_record
from descend.gan.step import Batches
from descend.ops import tune_heap
from descend.train.checkpoint import Checkpoints

__all__ = ["DiffusionTrainer", "read_records"]


class DiffusionTrainer:
    """`steps` denoiser updates, with a record of kind "gan" (the GAN task's record kind, so its report and
    readers apply) every `log_every` steps.

    evaluator(sampler) -> (metrics, samples) runs every `eval_every` steps on the EMA sampler, and on the raw
    weights too (its metrics prefixed "raw_"); on_samples(step, samples) draws the EMA samples.
    doctor judges every record as it is logged (descend.diffusion.diagnose); with a run and no doctor given, a
    quiet one writes the run's diagnosis.json. A loss that is not finite stops training.
    """

    def __init__(self, diffusion: Diffusion, data: np.ndarray, *, steps: int, batch_size: int, seed: int,
                 sampler: Any = None, raw_sampler: Any = None,
                 evaluator: Callable[[Any], tuple[dict, np.ndarray]] | None = None, log_every: int = 50,
                 eval_every: int = 1000, sample_every: int = 1000, ckpt_every: int = 0, keep: int = 3,
                 run: Any = None, on_samples: Callable[[int, np.ndarray], Any] | None = None,
                 on_record: Callable[[dict], Any] | None = None, lr_decay: str = "none",
                 doctor: DiffusionDoctor | None = None) -> None:
        if lr_decay not in ("none", "linear"):
            raise ValueError(f"DiffusionTrainer: lr_decay must be 'none' or 'linear', got {lr_decay!r}")
        self.diffusion, self.steps, self.evaluator = diffusion, steps, evaluator
        self.sampler, self.raw_sampler = sampler, raw_sampler
        self.log_every, self.eval_every, self.sample_every = log_every, eval_every, sample_every
        self.ckpt_every, self.run, self.lr_decay = ckpt_every, run, lr_decay
        self.on_samples, self.on_record = on_samples, on_record
        if doctor is None and run is not None:
            doctor = DiffusionDoctor(Setting(steps, diffusion.ema.decay, diffusion.schedule.timesteps), run.dir,
                                     verbose=False, tb=run.tb)
        self.doctor = doctor
        diffusion.optimizer.param_groups[0].setdefault("initial_lr", diffusion.optimizer.param_groups[0]["lr"])
        self.batches = Batches(data, batch_size, np.random.default_rng([seed, 1]))
        self.checkpoints = Checkpoints(run.dir / "checkpoints", keep, "loss") if run is not None else None
        self.step = 0
        self.window: list[dict] = []
        self.history: list[dict] = []
        self.stop_training = False
        self._saved_step = -1

    def fit(self) -> "DiffusionTrainer":
        """Train until `steps` updates are done (or `stop_training` is set)."""
        tune_heap()  # freed activations stay in the heap for the next step (descend/ops/_heap.py)
        start, start_step = time.perf_counter(), self.step
        group = self.diffusion.optimizer.param_groups[0]
        while self.step < self.steps and not self.stop_training:
            if self.lr_decay == "linear":
                group["lr"] = group["initial_lr"] * (1 - self.step / self.steps)
            self.window.append(self.diffusion.step(next(self.batches)))
            self.step += 1
            s = self.step
            last = s == self.steps
            evaluate = self.evaluator is not None and (s % self.eval_every == 0 or last)
            samples = None
            if s % self.log_every == 0 or evaluate or last:
                record = {"kind": "gan", "step": s}
                record.update({k: float(np.nanmean([w[k] for w in self.window])) if any(
                    not math.isnan(w[k]) for w in self.window) else float("nan") for k in self.window[0]})
                # Buckets a batch missed are NaN and skipped above; a NaN loss is not: it must show.
                record["loss"] = float(np.mean([w["loss"] for w in self.window]))
                self.window = []
                if evaluate:
                    metrics, samples = self.evaluator(self.sampler)
                    record.update(metrics)
                    if self.raw_sampler is not None:
                        raw, _ = self.evaluator(self.raw_sampler)
                        record.update({f"raw_{k}": v for k, v in raw.items() if _number(v)})
                record["ms_per_step"] = 1000 * (time.perf_counter() - start) / max(s - start_step, 1)
                self._log(record)
            if self.on_samples is not None and self.evaluator is not None and (s % self.sample_every == 0 or last):
                if samples is None:
                    samples = self.evaluator(self.sampler)[1]
                self.on_samples(s, samples)
            if self.ckpt_every and s % self.ckpt_every == 0:
                self.checkpoint()
        self.checkpoint()
        if self.doctor is not None:
            self.doctor.finish(self.step)
        return self

    def _log(self, record: dict) -> None:
        write_record(self, record, "diffusion")
        if self.doctor is not None:
            new = self.doctor.add(record)
            if any(d.code == "divergence" and not math.isfinite(d.values["loss"]) for d in new):
                self.stop_training = True  # nothing good follows a NaN; the last finite checkpoint stays

    # --- state and checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue exactly from here."""
        return {
            "step": self.step,
            "model": dict(self.diffusion.model.state_dict()),
            "ema": dict(self.diffusion.ema.model.state_dict()),
            "optimizer": self.diffusion.optimizer.state_dict(),
            "rng": backend.get_rng_state(),
            "batches": self.batches.state_dict(),
            "window": list(self.window),
            "metrics_offset": self.run.metrics_offset() if self.run is not None else None,
            "doctor": self.doctor.state_dict() if self.doctor is not None else None,
        }

    def load_state_dict(self, state: dict, records: list[dict] | None = None) -> None:
        """Restore a `state_dict` (or a checkpoint's contents); `records`: the run's records so far."""
        d = self.diffusion
        d.model.load_state_dict(scalars_restored(state["model"], d.model))
        d.ema.model.load_state_dict(scalars_restored(state["ema"], d.ema.model))
        d.optimizer.load_state_dict(state["optimizer"])
        backend.set_rng_state(state["rng"])
        self.batches.load_state_dict(state["batches"])
        self.window = [dict(w) for w in state["window"]]
        self.step = self._saved_step = int(state["step"])
        self.history = list(records or [])
        if self.doctor is not None:
            self.doctor.load_state_dict(state.get("doctor") or {}, self.history)

    def checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (once per step; not if the weights are not finite)."""
        if self.checkpoints is None or self._saved_step == self.step:
            return None
        path = self.checkpoints.save(self.state_dict(), self.step)
        if path is not None:
            self._saved_step = self.step
        return path

"""Detect -> act: on divergence, restore the last good state, divide the learning rate, and carry on.

Every `every` steps, while the loss looks healthy, the model, optimizer and scheduler state dicts are copied
in memory (the last `keep` copies are kept). When the `divergence` rule holds on the steps since the last
restore, or the loss is NaN/inf, the newest copy taken before the divergence began is loaded, every param
group's learning rate is divided by `factor` for the rest of training (schedulers included), and the event is
logged (metrics.jsonl kind "doctor", event "rollback") and reported as an info diagnosis. The step counter
and the data stream go on: the steps spent diverging are skipped, not replayed.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from typing import Any

from descend.doctor.rules import DIVERGE_ABOVE_START, Diagnosis, History, _fmt, divergence
from descend.train.callbacks import Callback


def _copy_state(obj: Any) -> Any:
    return copy.deepcopy(obj.state_dict()) if obj is not None else None


class Rollback(Callback):
    """Restore the newest good snapshot on divergence, divide the LR by `factor`, continue (at most
    `max_rollbacks` times; then training stops)."""

    def __init__(self, every: int = 50, factor: float = 10.0, keep: int = 2, max_rollbacks: int = 3,
                 doctor: Any = None) -> None:
        if every < 1 or keep < 1 or max_rollbacks < 0:
            raise ValueError(f"Rollback: every and keep must be >= 1 and max_rollbacks >= 0, got {every}, "
                             f"{keep}, {max_rollbacks}")
        if not factor > 1:
            raise ValueError(f"Rollback: factor must be > 1, got {factor}")
        self.every, self.factor, self.keep, self.max_rollbacks = every, factor, keep, max_rollbacks
        self.doctor = doctor
        self.scale = 1.0  # product of 1/factor over the rollbacks so far
        self.rollbacks: list[dict] = []
        self._written: list[float] | None = None  # the LRs as last set here, to notice a scheduler's writes

    def on_train_begin(self, trainer: Any) -> None:
        self._segment = History()
        self._snapshots: deque = deque(maxlen=self.keep)
        self._snapshot(trainer)
        self._written = [g["lr"] for g in trainer.optimizer.param_groups]

    def _snapshot(self, trainer: Any) -> None:
        self._snapshots.append((trainer.step, self.scale, _copy_state(trainer.model),
                                _copy_state(trainer.optimizer), _copy_state(trainer.scheduler)))

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        self._follow(trainer)
        self._segment.add_step(logs)
        loss = logs.get("loss")
        finite = loss is not None and math.isfinite(loss)
        first = self._segment.loss[0]
        if finite and not (math.isfinite(first) and loss > DIVERGE_ABOVE_START * first):
            if trainer.step % self.every == 0:
                self._snapshot(trainer)
            return
        d = divergence(self._segment, {})
        if d is None and finite:
            return
        self._roll_back(trainer, d, loss)

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        self._follow(trainer)  # an epoch-wise scheduler has just written its (unscaled) value

    def _roll_back(self, trainer: Any, d: Diagnosis | None, loss: float) -> None:
        if len(self.rollbacks) >= self.max_rollbacks:
            trainer.stop_training = True
            self._report(trainer, Diagnosis(
                "rollback", "Rollback limit reached: training stopped", "info", trainer.step, trainer.epoch,
                f"the loss diverged again after {len(self.rollbacks)} rollbacks (lr now "
                f"{_fmt(trainer.optimizer.param_groups[0]['lr'])}).",
                "Lower the learning rate by hand, add warm-up and gradient clipping, and check the data.",
                {"rollbacks": len(self.rollbacks)}))
            return
        begin = d.step if d is not None else trainer.step
        good = [s for s in self._snapshots if s[0] < begin] or [self._snapshots[0]]
        step, scale, model, optimizer, scheduler = good[-1]
        lr_before = trainer.optimizer.param_groups[0]["lr"]
        trainer.model.load_state_dict(model)
        trainer.optimizer.load_state_dict(copy.deepcopy(optimizer))
        if scheduler is not None and trainer.scheduler is not None:
            trainer.scheduler.load_state_dict(copy.deepcopy(scheduler))
        # The restored groups hold the LR of then (scaled by the scale of then): bring it to the new scale.
        self.scale /= self.factor
        for g in trainer.optimizer.param_groups:
            g["lr"] = g["lr"] * (self.scale / scale)
        self._written = [g["lr"] for g in trainer.optimizer.param_groups]
        lr_after = trainer.optimizer.param_groups[0]["lr"]
        event = {"kind": "doctor", "event": "rollback", "step": trainer.step, "restored_step": step,
                 "lr_before": lr_before, "lr_after": lr_after, "factor": self.factor,
                 "loss": loss if loss is not None and math.isfinite(loss) else str(loss)}
        self.rollbacks.append(event)
        if trainer.run is not None:
            trainer.run.log(event)
        self._report(trainer, Diagnosis(
            "rollback", "Rolled back after divergence", "info", trainer.step, trainer.epoch,
            f"at step {trainer.step} the loss was {_fmt(loss)}: restored the weights, optimizer and scheduler "
            f"of step {step} and divided the learning rate by {_fmt(self.factor)} ({_fmt(lr_before)} -> "
            f"{_fmt(lr_after)}) for the rest of training.",
            f"Start the next run with lr {_fmt(lr_after)} or lower (or run `descend lr-find`).",
            {"restored_step": step, "lr_before": lr_before, "lr_after": lr_after}))
        # A fresh segment: the next divergence is judged from the restored state on.
        self._segment = History()
        self._snapshots = deque([s for s in self._snapshots if s[0] <= step], maxlen=self.keep)

    def _report(self, trainer: Any, d: Diagnosis) -> None:
        doctor = self.doctor or next((cb for cb in trainer.callbacks if hasattr(cb, "found")), None)
        if doctor is not None:
            doctor.add(trainer, d)
        else:
            print("doctor: " + d.format())

    def _follow(self, trainer: Any) -> None:
        """Scale a learning rate the scheduler has just written (closed-form schedules write unscaled values)."""
        sched = trainer.scheduler
        groups = trainer.optimizer.param_groups
        # ReduceLROnPlateau lowers the current (already scaled) value itself: scaling it again would compound.
        if self.scale != 1.0 and sched is not None and type(sched).__name__ != "ReduceLROnPlateau" \
                and self._written is not None:
            for g, w in zip(groups, self._written):
                if g["lr"] != w:
                    g["lr"] = g["lr"] * self.scale
        self._written = [g["lr"] for g in groups]

    def state_dict(self) -> dict:
        return {"scale": self.scale, "rollbacks": list(self.rollbacks)}

    def load_state_dict(self, state: dict) -> None:
        # The checkpointed optimizer already holds the scaled LR; on_train_begin records it as written.
        self.scale, self.rollbacks = state["scale"], list(state["rollbacks"])

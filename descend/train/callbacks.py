"""Callbacks: no-op hooks the fit loop calls; early stopping and the progress bar."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO


class Callback:
    """Base class: every hook is a no-op. Stateful callbacks add state_dict()/load_state_dict()."""

    def on_train_begin(self, trainer: Any) -> None:
        """Called once before the first step (also when a run resumes)."""

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        """Called after each optimizer step; logs has step, epoch, loss, acc, lr, grad_norm."""

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        """Called after each epoch's evaluation; logs has step, epoch, train_/val_ loss and acc, lr."""

    def on_train_end(self, trainer: Any, logs: dict) -> None:
        """Called once when training stops."""


class EarlyStopping(Callback):
    """Stop once `monitor` has not improved by more than `min_delta` for `patience` epochs (as Keras)."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto") -> None:
        if mode == "auto":
            mode = "max" if monitor.endswith("acc") else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.best: float | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: monitored metric '{self.monitor}' is not in the epoch logs "
                           f"(available: {', '.join(sorted(logs))})")
        if math.isfinite(value) and self._improved(value):
            self.best, self.wait = float(value), 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = trainer.epoch
            trainer.stop_training = True

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait, self.stopped_epoch = state["best"], state["wait"], state["stopped_epoch"]


def _fmt_logs(logs: dict, keys: tuple[str, ...]) -> str:
    parts = []
    for k in keys:
        v = logs.get(k)
        if v is None:
            continue
        if k.endswith("acc"):
            parts.append(f"{k} {100 * v:.1f}%")
        elif k == "lr":
            parts.append(f"lr {v:.2e}")
        else:
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A progress bar on a terminal (loss, accuracy, LR); one plain line per epoch when not a TTY."""

    def __init__(self, stream: TextIO | None = None, width: int = 24, interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.width, self.interval = width, interval
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0

    def on_train_begin(self, trainer: Any) -> None:
        self._start = time.perf_counter()
        self._steps_per_epoch = _len(trainer.train_loader, trainer.accumulate)
        self._first_step = trainer.step  # a resumed run's ETA counts from here

    def _eta(self, trainer: Any) -> str:
        """'  eta 1m05s' for the whole run, from the mean time per step so far."""
        done = trainer.step - self._first_step
        left = trainer.epochs * self._steps_per_epoch - trainer.step
        if done <= 0 or left <= 0:
            return ""
        seconds = int(round((time.perf_counter() - self._start) / done * left))
        return f"  eta {seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"  eta {seconds}s"

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        n = self._steps_per_epoch
        done = (trainer.step - 1) % n + 1 if n else 0
        filled = int(self.width * done / n) if n else 0
        bar = "#" * filled + "." * (self.width - filled)
        text = _fmt_logs(logs, ("loss", "acc", "lr"))
        self.stream.write(f"\repoch {trainer.epoch + 1}/{trainer.epochs} [{bar}] {done}/{n}  {text}"
                          f"{self._eta(trainer)}\x1b[K")
        self.stream.flush()

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        text = _fmt_logs(logs, ("train_loss", "train_acc", "val_loss", "val_acc", "lr"))
        elapsed = time.perf_counter() - self._start
        line = f"epoch {logs['epoch'] + 1}/{trainer.epochs}  step {logs['step']}  {text}  ({elapsed:.1f}s" \
               f"{self._eta(trainer).replace('  eta', ', eta')})"
        self.stream.write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")
        self.stream.flush()


def _len(loader: Any, accumulate: int) -> int:
    try:
        return -(-len(loader) // accumulate)
    except TypeError:
        return 0

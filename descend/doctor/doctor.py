"""The Doctor: a fit-loop callback that runs the monitors, applies the rules and reports in words.

Each diagnosis is printed once, when its rule first holds, written to the run's diagnosis.json (rewritten
atomically each time one is added) and to TensorBoard as text. The step rules run at the early samples
(steps 5 and 10) and every `check_every` steps, spaced to 20 % of the steps so far on long runs, and at once
on a suspicious step (non-finite loss or gradient, loss above 1.5x its start, a NaN event); the epoch rules
at every epoch end; all of them at the end of training. Every diagnosis carries a confidence; `info` ones
(consequences of a cause found too) are no alarms.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, TextIO

from descend import rundir
from descend.doctor.monitors import ActivationMonitor, LayerMonitor, NonFiniteMonitor, sampled
from descend.doctor.rollback import Rollback
from descend.doctor.sharpness import SharpnessMonitor, explain
from descend.doctor.rules import (DIVERGE_ABOVE_START, EPOCH_RULES, PERIODIC_RULES, Diagnosis, History,
                                  run_rules)
from descend.train.callbacks import Callback

ON_DIVERGENCE = ("stop", "rollback", "ignore")
DENSE = 20  # samples every `every` steps; after them, every 2 x `every` (a long run pays for fewer)
DIAGNOSIS_FILE = "diagnosis.json"


class Doctor(Callback):
    """Monitor training, diagnose problems as they appear, and say what to do about them.

    every: steps between samples of the costly statistics (per-layer norms, activations).
    check_every: steps between applications of the rules (also at each epoch end for the epoch rules, and at
    once on a suspicious step: a non-finite loss or gradient, or a loss above 1.5x its start).
    window: sampled batches over which a unit must never fire to count as dead.
    on_divergence: "stop" ends training when the loss diverges or turns NaN (nothing good follows), "ignore"
    goes on, "rollback" restores the last good state and divides the LR by `factor` (see `Rollback`).
    """

    def __init__(self, every: int = 25, window: int = 4, on_divergence: str = "stop", check_every: int = 25,
                 verbose: bool = True,
                 stream: TextIO | None = None, activations: bool = True, layers: bool = True,
                 rollback_every: int = 50, factor: float = 10.0, sharpness_every: int = 0) -> None:
        if on_divergence not in ON_DIVERGENCE:
            raise ValueError(f"Doctor: on_divergence must be one of {', '.join(ON_DIVERGENCE)}, "
                             f"got {on_divergence!r}")
        if every < 1 or check_every < 1:
            raise ValueError(f"Doctor: every and check_every must be >= 1, got {every}, {check_every}")
        self.every, self.window, self.on_divergence = every, window, on_divergence
        self.check_every = check_every
        self.verbose, self.stream = verbose, stream
        self.history = History()
        self.found: dict[str, Diagnosis] = {}
        self.monitors: list[Callback] = []
        if layers:
            self.monitors.append(LayerMonitor(every, self.history, early=True, dense=DENSE))
        if activations:
            self.monitors.append(ActivationMonitor(every, window, self.history, early=True, dense=DENSE))
        self.monitors.append(NonFiniteMonitor(self.history))
        self.rollback = Rollback(rollback_every, factor, doctor=self) if on_divergence == "rollback" else None
        # Opt-in: each measurement is ~20 double-backward passes (see bench/bench_monitors.py for the cost).
        self.sharpness = SharpnessMonitor(sharpness_every) if sharpness_every > 0 else None

    @property
    def diagnoses(self) -> list[Diagnosis]:
        """The diagnoses found so far, in the order they fired."""
        return list(self.found.values())

    # --- hooks ----------------------------------------------------------------------------------------------
    def on_train_begin(self, trainer: Any) -> None:
        if trainer.step > 0 and trainer.run is not None and not self.history.step:
            # Resumed: metrics.jsonl was cut back to the checkpoint, so it holds exactly the history so far.
            self._rebuild(trainer.run.dir / "metrics.jsonl")
        epochs = getattr(trainer, "epochs", None)
        self.history.planned_epochs = epochs if isinstance(epochs, int) else None
        first = self.history.loss[0] if self.history.loss else math.nan
        self._limit = DIVERGE_ABOVE_START * first if math.isfinite(first) else None
        self._events = len(self.history.events)
        self._checked = trainer.step
        for m in self.monitors:
            m.on_train_begin(trainer)
        if self.rollback is not None:
            self.rollback.on_train_begin(trainer)

    def _rebuild(self, path: Path) -> None:
        if not path.exists():
            return
        for i, line in enumerate(rundir.safe.read_text(path).splitlines()):
            if line.strip():
                self.history.add(rundir.loads(line, f"{path}:{i + 1}", decode=False))

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        h = self.history
        h.add_step(logs)
        # The sampling monitors act only at the end of a sampled step and of the step before one (snapshot,
        # hooks); the NaN monitor only when the loss is not finite. Calling them just then saves time.
        every = self.every if trainer.step < DENSE * self.every else 2 * self.every  # (see `DENSE`)
        r = trainer.step % every
        if r == 0 or r == every - 1 or trainer.step < every or not math.isfinite(h.loss[-1]):
            for m in self.monitors:
                m.on_step_end(trainer, logs)
        if self.sharpness is not None:
            self.sharpness.on_step_end(trainer, logs)
        self.after_step(trainer, logs)

    def after_step(self, trainer: Any, logs: dict) -> None:
        """Apply the rules due after a step whose logs and samples are in the history (also used to replay a
        recorded run: bench/doctor)."""
        h, step = self.history, trainer.step
        loss, grad, limit = h.loss[-1], logs.get("grad_norm"), self._limit
        if limit is None and math.isfinite(loss):
            limit = self._limit = DIVERGE_ABOVE_START * loss
        # Between the regular checks, a step whose loss or gradient is non-finite, whose loss is above 1.5x
        # the first, or that logged an event (a NaN found in the forward) is checked at once, so a divergence
        # is caught (and stopped or rolled back) within a step or two.
        events = len(h.events)
        suspicious = not math.isfinite(loss) or (grad is not None and not math.isfinite(grad)) \
            or events != self._events \
            or (limit is not None and loss > limit and "divergence" not in self.found)
        self._events = events
        if suspicious:
            self._check(trainer)
        elif (step % self.check_every == 0 or step < self.every and sampled(step, self.every, True)) \
                and step - self._checked >= len(h.step) // 5:
            # The regular check: the step-level rules (divergence and NaN need a suspicious step, the epoch
            # rules run at epoch ends), at every sample early on; later spaced to 20 % of the steps so far, so
            # a finding comes at most 20 % late and a long run pays for few checks.
            self._checked = trainer.step
            self._check(trainer, PERIODIC_RULES)
        if self.rollback is not None:
            self.rollback.on_step_end(trainer, logs)

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        self.history.epochs.append(dict(logs))
        for m in self.monitors:
            m.on_epoch_end(trainer, logs)
        self._check(trainer, EPOCH_RULES)
        if self.rollback is not None:
            self.rollback.on_epoch_end(trainer, logs)

    def on_train_end(self, trainer: Any, logs: dict) -> None:
        for m in self.monitors:
            m.on_train_end(trainer, logs)
        self.history.finished = True
        self._check(trainer)
        self._write(trainer)
        if self.verbose:
            n = len([d for d in self.found.values() if d.severity != "info"])
            self._print("doctor: no problems found" if n == 0 else
                        f"doctor: {n} problem{'s' if n > 1 else ''} found" +
                        (f"; see {trainer.run.dir / DIAGNOSIS_FILE}" if trainer.run is not None else ""))

    # --- rules ---------------------------------------------------------------------------------------------
    def _check(self, trainer: Any, rules: tuple | None = None) -> None:
        new = run_rules(self.history, self.found, rules)
        for d in new:
            self.add(trainer, d)
        if self.on_divergence == "stop" and any(d.code in ("divergence", "nan") for d in new):
            trainer.stop_training = True
            if self.verbose:
                self._print("doctor: stopping training (on_divergence='stop'; use 'rollback' to recover "
                            "automatically or 'ignore' to go on)")

    def add(self, trainer: Any, d: Diagnosis) -> None:
        """Record a diagnosis (also used by other callbacks, e.g. Rollback): print, log, diagnosis.json."""
        if self.sharpness is not None and d.code in ("divergence", "oscillation") and self.sharpness.rows:
            # The edge-of-stability reading: is the step unstable along the sharpest direction?
            why = explain(self.sharpness.rows, trainer.optimizer, "diverge" if d.code == "divergence" else
                          "oscillate")
            d.values["lr_sharpness"] = self.sharpness.rows[-1][2]
            if why:
                d.evidence = f"{d.evidence} {why}"
        self.found[d.code if d.code not in self.found else f"{d.code}#{len(self.found)}"] = d
        if self.verbose:
            self._print("doctor: " + d.format())
        tb = getattr(trainer.run, "tb", None) if trainer.run is not None else None
        if tb is not None and hasattr(tb, "add_text"):
            tb.add_text(f"doctor/{d.code}", d.format(), trainer.step)
        self._write(trainer)

    def _print(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stdout
        clear = "\r\x1b[K" if getattr(stream, "isatty", lambda: False)() else ""  # over a progress bar
        stream.write(clear + text + "\n")
        stream.flush()

    def _write(self, trainer: Any) -> None:
        if trainer.run is not None:
            write_diagnoses(trainer.run.dir, self.diagnoses, finished=self.history.finished,
                            step=trainer.step)

    # --- checkpoints ---------------------------------------------------------------------------------------
    def _activation_monitor(self) -> ActivationMonitor | None:
        return next((m for m in self.monitors if isinstance(m, ActivationMonitor)), None)

    def state_dict(self) -> dict:
        act = self._activation_monitor()
        return {"found": [d.to_dict() for d in self.found.values()],
                "rollback": self.rollback.state_dict() if self.rollback is not None else None,
                "activations": act.state_dict() if act is not None else None,
                "sharpness": self.sharpness.state_dict() if self.sharpness is not None else None}

    def load_state_dict(self, state: dict) -> None:
        if self.rollback is not None and state.get("rollback") is not None:
            self.rollback.load_state_dict(state["rollback"])
        act = self._activation_monitor()
        if act is not None and state.get("activations") is not None:
            act.load_state_dict(state["activations"])
        if self.sharpness is not None and state.get("sharpness") is not None:
            self.sharpness.load_state_dict(state["sharpness"])
        self.found = {}
        for d in state.get("found", []):
            diag = Diagnosis.from_dict(d)
            self.found[diag.code if diag.code not in self.found else f"{diag.code}#{len(self.found)}"] = diag


def write_diagnoses(run_dir: str | Path, diagnoses: list[Diagnosis], finished: bool = True,
                    step: int | None = None) -> Path:
    """Write diagnosis.json (atomically): {"diagnoses": [...], "finished": bool, "step": int}."""
    body = {"diagnoses": [d.to_dict() for d in diagnoses], "finished": finished, "step": step}
    # The run directory's codec: NaN/inf as strings, so the file is strict JSON a browser can parse.
    return rundir.safe.write_text(run_dir, DIAGNOSIS_FILE, text=rundir.dumps(body, indent=2) + "\n")


def read_diagnoses(run_dir: str | Path) -> list[Diagnosis]:
    """The diagnoses in a run directory's diagnosis.json (FileNotFoundError naming the file if absent)."""
    path = Path(run_dir) / DIAGNOSIS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    body = rundir.loads(rundir.safe.read_text(path), str(path), decode=False)
    items = body["diagnoses"] if isinstance(body, dict) else body
    return [Diagnosis.from_dict(d) for d in items]

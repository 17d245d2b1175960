"""The doctor for diffusion: rules over a run's records, judged as each record is logged (as `descend gan` does)
and written to diagnosis.json the moment a diagnosis first holds.

Records (kind "gan", metrics.jsonl) carry the ε-prediction loss and its mean per tenth of the timesteps
(loss_t0: the least noisy tenth .. loss_t9: the noisiest), and at evaluations the EMA sampler's metrics beside
the raw weights' (raw_*): high_quality / modes on 2-D mixtures, class_entropy / classes_covered on images.

Thresholds are named constants with their reasons; a healthy run must trigger no warning or error
(tests/test_diffusion_doctor.py keeps both halves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from descend.doctor.rules import Diagnosis
from descend.doctor.watcher import RecordWatcher

NOISE_VARIANCE = 1.0   # E[ε²] per dimension: the loss of ε̂ = 0, a denoiser that learned nothing
DIVERGED = 10.0        # a logged loss ten times that of ε̂ = 0 (or not finite): a step threw the weights off
STUCK = 0.9            # logged losses all above 90 % of the noise variance ...
WINDOW = 3             # ... in the last 3 logged averages ...
WARMUP = 0.2           # ... past the first 20 % of the run (every denoiser starts there)
EMA_SPAN = 0.25        # the EMA's averaging span 1/(1 - decay) should be under a quarter of the run
EMA_EVALS = 2          # EMA samples worse than the raw weights' at 2 evaluations in a row, by more than:
# the protocol metrics compared between the EMA and the raw weights, and the gap that counts: 0.1 of the
# high-quality fraction or of the class entropy (both in [0, 1]), a quarter of the modes or classes (one of 8
# modes comes and goes between evaluations of a healthy run)
QUALITY = {"high_quality": 0.1, "modes": 0.25, "class_entropy": 0.1, "classes_covered": 0.25}


@dataclass
class Setting:
    """What the rules need to know about the run."""

    total_steps: int
    ema_decay: float
    timesteps: int = 1000


def _fmt(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else str(v)


def _buckets(r: dict) -> list[float]:
    return [r[k] for k in sorted((k for k in r if k.startswith("loss_t")), key=lambda k: int(k[6:]))]


def _losses(records: list[dict]) -> list[dict]:
    return [r for r in records if "loss" in r]


# --- the rules ------------------------------------------------------------------------------------------------
def divergence(records: list[dict], s: Setting) -> Diagnosis | None:
    """A logged loss that is not finite, or ten times the loss of predicting ε = 0."""
    bad = next((r for r in _losses(records) if not (math.isfinite(r["loss"]) and r["loss"] < DIVERGED)), None)
    if bad is None:
        return None
    return Diagnosis("divergence", "Divergence", "error", bad["step"], None,
                     f"the logged loss is {_fmt(bad['loss'])} at step {bad['step']}, "
                     f"{'not finite' if not math.isfinite(bad['loss']) else 'over ten times'} the loss of "
                     f"predicting ε = 0 ({NOISE_VARIANCE:.0f}): an update threw the weights off",
                     "lower --lr (e.g. by 10x)", {"loss": bad["loss"]})


def _stuck(r: dict) -> bool:
    return STUCK * NOISE_VARIANCE <= r["loss"] < DIVERGED  # (a larger loss is the divergence rule's)


def no_learning(records: list[dict], s: Setting) -> Diagnosis | None:
    """The loss plateaus at the variance of the noise: ε̂ no better than 0, the denoiser learned nothing."""
    logs = [r for r in _losses(records) if r["step"] >= WARMUP * s.total_steps]
    if len(logs) < WINDOW or not all(_stuck(r) for r in logs[-WINDOW:]):
        return None
    last = logs[-WINDOW:]
    noisy = _buckets(last[-1])[-1:] or [float("nan")]
    return Diagnosis("no_learning", "Loss stuck at the noise variance", "error", last[0]["step"], None,
                     f"the last {WINDOW} logged losses (steps {last[0]['step']}-{last[-1]['step']}) are "
                     f"{', '.join(_fmt(r['loss']) for r in last)}: no better than {NOISE_VARIANCE:.0f}, the loss "
                     f"of predicting ε = 0; even the noisiest tenth of t, where x_t is nearly ε and a working "
                     f"denoiser scores near 0, is at {_fmt(noisy[0])}: the denoiser learned nothing",
                     "check that the denoiser's output depends on its input (not a constant), raise --lr or "
                     "--steps, and scale the data to about unit range (--data-scale)",
                     {"losses": [r["loss"] for r in last], "loss_noisiest": noisy[0]})


def ema_too_slow(records: list[dict], s: Setting) -> Diagnosis | None:
    """The EMA averages over a span comparable to the run: its weights still remember the initial ones."""
    span = 1 / (1 - s.ema_decay) if s.ema_decay < 1 else math.inf
    if not records or span <= EMA_SPAN * s.total_steps:
        return None
    # The weight of the initial weights in the EMA at the end of the run: decay ** steps.
    left = s.ema_decay ** s.total_steps
    return Diagnosis("ema_too_slow", "EMA decay too slow for the run length", "warning", records[0]["step"], None,
                     f"--ema-decay {s.ema_decay} averages over ~{span:.0f} steps, more than {EMA_SPAN:.0%} of the "
                     f"{s.total_steps}-step run: at its end {100 * left:.0f}% of the EMA is still the initial "
                     f"weights", f"use --ema-decay {max(0.0, 1 - 1 / (EMA_SPAN * s.total_steps)):.4f} or less, or "
                     f"train longer", {"span": span, "steps": s.total_steps, "initial_weight_left": left})


def _quality(r: dict) -> str | None:
    return next((k for k in QUALITY if k in r and f"raw_{k}" in r), None)


def _score(r: dict, key: str) -> float:
    """The metric in [0, 1]: modes and classes as a fraction of all."""
    total = r.get("num_modes") if key == "modes" else (r.get("num_classes") if key == "classes_covered" else 1)
    return r[key] / (total or 1)


def ema_lags_raw(records: list[dict], s: Setting) -> Diagnosis | None:
    """The EMA sampler scores worse than the raw weights at consecutive evaluations."""
    evals = [r for r in records if _quality(r)]
    if len(evals) < EMA_EVALS:
        return None
    last = evals[-EMA_EVALS:]
    key = next((k for k, gap in QUALITY.items() if all(
        k in r and f"raw_{k}" in r and _score({**r, k: r[f"raw_{k}"]}, k) - _score(r, k) > gap for r in last)),
        None)
    if key is None:
        return None
    pairs = ", ".join(f"step {r['step']} {_fmt(r[key])} vs {_fmt(r[f'raw_{key}'])}" for r in last)
    return Diagnosis("ema_lags_raw", "The EMA's samples lag the raw weights'", "warning", last[0]["step"], None,
                     f"{key.replace('_', ' ')} of the EMA vs the raw weights' samples: {pairs}; the EMA is behind "
                     f"the training (decay {s.ema_decay}, span ~{1 / (1 - s.ema_decay):.0f} steps)",
                     "lower --ema-decay (span 1/(1 - decay) about 5 % of the run) or train longer",
                     {"metric": key, "ema": [r[key] for r in last], "raw": [r[f"raw_{key}"] for r in last]})


RULES: tuple[Callable[[list, Setting], Diagnosis | None], ...] = (divergence, no_learning, ema_too_slow,
                                                                   ema_lags_raw)


# --- end-of-run summaries (severity info) ---------------------------------------------------------------------
def loss_by_timestep(records: list[dict], s: Setting) -> Diagnosis | None:
    """Where the denoiser's loss is, per tenth of t, at the end against the first record."""
    logs = [r for r in _losses(records) if _buckets(r)]
    if not logs:
        return None
    first, now = _buckets(logs[0]), _buckets(logs[-1])
    finite = [(v, i) for i, v in enumerate(now) if math.isfinite(v)]
    if not finite:
        return None
    n = len(now)
    worst = max(finite)[1]
    width = s.timesteps / n
    where = "least noisy" if worst < n / 3 else ("noisiest" if worst >= 2 * n / 3 else "middle")
    text = " ".join(_fmt(v) for v in now)
    reading = {"least noisy": "as expected: under little noise ε is hard to tell from the data's own detail",
               "middle": "the denoiser is least sure at medium noise, where the data's coarse structure (which "
                         "mode, which class) is decided; more steps or a wider model lower it",
               "noisiest": "at high noise x_t is nearly ε, which is easy to predict: a high loss there means "
                           "the denoiser has not learned even that; train longer or check the model"}[where]
    return Diagnosis("loss_by_timestep", "Loss per tenth of the timesteps", "info", logs[-1]["step"], None,
                     f"loss per tenth of t (least to most noise) at step {logs[-1]['step']}: {text} (at step "
                     f"{logs[0]['step']}: {' '.join(_fmt(v) for v in first)}); the largest is in the {where} "
                     f"third of the steps (t in [{worst * width:.0f}, {(worst + 1) * width:.0f}))", reading,
                     {"buckets": now, "first": first, "worst": worst})


def ema_vs_raw(records: list[dict], s: Setting) -> Diagnosis | None:
    """The protocol metrics of the EMA and the raw weights at every evaluation."""
    evals = [r for r in records if _quality(r)]
    if not evals:
        return None
    keys = [k for k in QUALITY if k in evals[-1] and f"raw_{k}" in evals[-1]]
    shown = "; ".join(f"{r['step']}: " + ", ".join(f"{k.replace('_', ' ')} {_fmt(r[k])}/{_fmt(r[f'raw_{k}'])}"
                                                  for k in keys if k in r) for r in evals[-6:])
    return Diagnosis("ema_vs_raw", "EMA vs raw weights over training", "info", evals[-1]["step"], None,
                     f"EMA/raw weights' samples by step: {shown}", "the EMA sampler is the one scored and drawn",
                     {"steps": [r["step"] for r in evals],
                      **{f"{w}_{k}": [r.get(f"{p}{k}") for r in evals] for k in keys
                         for w, p in (("ema", ""), ("raw", "raw_"))}})


SUMMARIES = (loss_by_timestep, ema_vs_raw)


def rules(records: list[dict], steps: int, ema_decay: float, timesteps: int = 1000) -> list[Diagnosis]:
    """Every diagnosis that holds for a finished run's records (the live rules, then the summaries)."""
    doctor = DiffusionDoctor(Setting(steps, ema_decay, timesteps), verbose=False)
    for r in records:
        doctor.add(r)
    doctor.finish(records[-1]["step"] if records else 0)
    return doctor.diagnoses


class DiffusionDoctor(RecordWatcher):
    """Watches a diffusion run's records: each diagnosis is printed (if verbose), sent to TensorBoard and
    written to diagnosis.json once, when it first holds."""

    def add(self, record: dict) -> list[Diagnosis]:
        """Take one record; returns the diagnoses it made hold."""
        self.records.append(record)
        return self._check(RULES, record["step"])

    def finish(self, step: int) -> list[Diagnosis]:
        """The end of training: a recovered plateau is marked, the summaries added, diagnosis.json finished."""
        d = self.found.get("no_learning")
        logs = _losses(self.records)[-WINDOW:]
        if d is not None and d.severity == "error" and len(logs) == WINDOW and not any(_stuck(r) for r in logs):
            d.severity, d.title = "info", d.title + " (recovered)"
            d.evidence += f"; recovered by the end: loss {_fmt(logs[-1]['loss'])} at step {logs[-1]['step']}"
        new = self._check(RULES + SUMMARIES, step, finished=True)
        if self.verbose:
            n = len([d for d in self.found.values() if d.severity != "info"])
            self._print("doctor: no problems found" if n == 0 else f"doctor: {n} problem{'s' * (n > 1)} found")
        return new

    def _check(self, rules_: tuple, step: int, finished: bool = False) -> list[Diagnosis]:
        new = []
        for rule in rules_:
            d = rule(self.records, self.setting)
            if d is not None and d.code not in self.found:
                self.found[d.code] = d
                new.append(d)
        return self._announce(new, step, finished)


def write(run_dir: Path, trainer: Any) -> list[dict]:
    """The end of a run: finish the trainer's doctor (or judge its records) and write run_dir/diagnosis.json."""
    doctor = getattr(trainer, "doctor", None)
    if doctor is None:
        s = trainer.diffusion
        doctor = DiffusionDoctor(Setting(trainer.steps, s.ema.decay, s.schedule.timesteps), run_dir, verbose=False)
        for r in trainer.history:
            doctor.add(r)
    doctor.finish(trainer.step)
    return [d.to_dict() for d in doctor.diagnoses]

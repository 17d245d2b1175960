"""The doctor for diffusion: rules over the run's records, written to diagnosis.json at the end of a run.

Records carry the ε-prediction loss and its mean per quarter of the timesteps (loss_t0: the least noisy
quarter .. loss_t3: the noisiest), and at evaluations the EMA sampler's metrics beside the raw weights' (raw_*).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from descend import io
from descend.doctor.rules import Diagnosis
from descend.rundir import codec

NOISE_VARIANCE = 1.0   # the loss of ε̂ = 0: the denoiser learned nothing
STUCK = 0.9            # a final loss above this fraction of it counts as stuck
EMA_SPAN = 0.25        # the EMA's averaging span 1/(1 - decay) should be under this fraction of the run


def _last(records: list[dict], key: str) -> dict | None:
    return next((r for r in reversed(records) if key in r), None)


def rules(records: list[dict], steps: int, ema_decay: float) -> list[Diagnosis]:
    """The diagnoses that hold for a finished run's records."""
    found: list[Diagnosis] = []
    losses = [r for r in records if "loss" in r]
    bad = next((r for r in losses if not math.isfinite(r["loss"])), None)
    if bad is not None:
        found.append(Diagnosis("divergence", "Divergence", "error", bad["step"], None,
                               f"the loss is {bad['loss']} at step {bad['step']}",
                               "lower --lr (e.g. by 10x)", {"loss": bad["loss"]}))
        return found
    if losses:
        tail = [r["loss"] for r in losses[-3:]]
        final = sum(tail) / len(tail)
        if final > STUCK * NOISE_VARIANCE:
            found.append(Diagnosis("no_learning", "Loss stuck at the noise variance", "error", losses[-1]["step"],
                                   None, f"the final loss {final:.3f} is close to {NOISE_VARIANCE:.0f}, the loss of "
                                   f"predicting ε = 0: the denoiser learned nothing", "raise --lr or --steps; check "
                                   "that the data is scaled to about unit range", {"loss": final}))
        quarters = {k: losses[-1][k] for k in sorted(losses[-1]) if k.startswith("loss_t")}
        finite = {k: v for k, v in quarters.items() if math.isfinite(v)}
        if finite:
            worst = max(finite, key=finite.get)
            where = "lowest-noise" if worst == "loss_t0" else ("highest-noise" if worst.endswith(
                str(len(quarters) - 1)) else "middle")
            text = ", ".join(f"{k[5:]} {v:.3f}" for k, v in quarters.items())
            found.append(Diagnosis("loss_by_timestep", "Loss per timestep quarter", "info", losses[-1]["step"],
                                   None, f"final loss per quarter of t ({text}); the largest is in the {where} "
                                   f"quarter", "the low-noise quarter is irreducibly high (ε is hard to see "
                                   "under little noise); a high mid-noise loss means the model has not learned "
                                   "the data's structure yet: train longer", dict(quarters)))
    span = 1 / (1 - ema_decay) if ema_decay < 1 else math.inf
    ev = _last(records, "high_quality") or _last(records, "classes_covered")
    if span > EMA_SPAN * steps:
        found.append(Diagnosis("ema_too_slow", "EMA decay too slow for the run length", "warning", steps, None,
                               f"--ema-decay {ema_decay} averages over ~{span:.0f} steps, more than "
                               f"{EMA_SPAN:.0%} of the {steps}-step run: the EMA still remembers early weights",
                               f"use --ema-decay {max(0.0, 1 - 1 / (EMA_SPAN * steps)):.4f} or less, or train "
                               f"longer", {"span": span, "steps": steps}))
    if ev is not None:
        key = "high_quality" if "high_quality" in ev else "class_entropy"
        if f"raw_{key}" in ev:
            ema, raw = ev[key], ev[f"raw_{key}"]
            worse = raw - ema > 0.05
            found.append(Diagnosis("ema_vs_raw", "EMA vs raw weights", "warning" if worse else "info", ev["step"],
                                   None, f"{key.replace('_', ' ')}: EMA {ema:.3f}, raw weights {raw:.3f}",
                                   "the EMA is behind the weights: lower --ema-decay" if worse else
                                   "the EMA sampler is the one scored and drawn", {"ema": ema, "raw": raw}))
    return found


def write(run_dir: Path, trainer: Any) -> list[dict]:
    """Judge the trainer's records and write run_dir/diagnosis.json; returns the diagnoses as dicts."""
    found = [d.to_dict() for d in rules(trainer.history, trainer.steps, trainer.diffusion.ema.decay)]
    out = {"diagnoses": found, "finished": trainer.step >= trainer.steps, "step": trainer.step}
    io.atomic_write_text(Path(run_dir) / "diagnosis.json", json.dumps(codec.to_json(out), indent=2) + "\n")
    return found

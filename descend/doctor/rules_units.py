"""Rules on the units: ReLUs that never fire, tanh/sigmoid outputs pinned at their bounds.

When the loss diverged, turned NaN or the gradients exploded, dead or saturated units are that problem's
consequence: they are still reported, as `info`, naming their cause.
"""

from __future__ import annotations

import math

import numpy as np

from descend.doctor.history import Diagnosis, History, _float, _rec_epoch, confidence
from descend.doctor.thresholds import ACT_SAMPLES, DEAD_FRACTION, SATURATED_FRACTION, SILENT

CAUSE_TITLES = {"divergence": "the divergence", "nan": "the NaN", "exploding_gradients": "the exploding gradients"}


def _act_table(h: History, key: str, types: tuple[str, ...]) -> tuple[list[str], np.ndarray, int]:
    """(layer names, [samples, layers] of `key`, index of the first sample used) for activation layers."""
    recs = [r for r in h.activations if r.get("layers")]
    recs = recs[-ACT_SAMPLES:]
    if len(recs) < ACT_SAMPLES:
        return [], np.empty((0, 0)), 0
    names = [n for n, s in recs[-1]["layers"].items()
             if s.get("type") in types and _value(s, key) is not None and not s.get("output")]
    rows = [[_float(_value(r["layers"].get(n, {}), key)) for n in names] for r in recs]
    return names, np.asarray(rows).reshape(len(recs), len(names)), len(h.activations) - ACT_SAMPLES


def _value(stats: dict, key: str) -> float | None:
    """A layer's `key`; for "dead" before the monitor's window has filled, a layer whose outputs are (almost)
    all zero on the sampled batch counts as all dead: no unit fired, which needs no window to see."""
    v = stats.get(key)
    if v is None and key == "dead" and stats.get("active") is not None and stats["active"] <= SILENT:
        return 1.0 - stats["active"]
    return v


def _cause(found: dict) -> str | None:
    return next((c for c in CAUSE_TITLES if c in found and found[c].severity != "info"), None)


def _units(h: History, found: dict, key: str, types: tuple, limit: float) -> tuple | None:
    names, table, first = _act_table(h, key, types)
    if not names:
        return None
    low = table.min(axis=0)  # the smallest fraction over recent samples: persistently so
    worst = [(n, float(v)) for n, v in zip(names, low) if math.isfinite(v) and v >= limit]
    if not worst:
        return None
    worst.sort(key=lambda t: -t[1])
    return worst, h.activations[first]


def _finding(code: str, title: str, found: dict, rec: dict, h: History, evidence: str, suggestion: str,
             values: dict, top: float, limit: float) -> Diagnosis:
    cause = _cause(found)
    severity = "warning"
    if cause is not None:
        severity, title = "info", f"{title} (a consequence of {CAUSE_TITLES[cause]})"
        values["consequence_of"] = cause
    return Diagnosis(code, title, severity, rec["step"], _rec_epoch(h, rec), evidence, suggestion, values,
                     confidence(top, limit, 1.0))


def dead_relus(h: History, found: dict) -> Diagnosis | None:
    """Half or more of a ReLU layer's units gave 0 for every sample in the window, on recent samples."""
    if "nan" in found and found["nan"].severity != "info":
        return None  # a NaN makes every comparison false: "never > 0" says nothing then
    got = _units(h, found, "dead", ("ReLU",), DEAD_FRACTION)
    if got is None:
        return None
    worst, rec = got
    desc = ", ".join(f"{n}: {100 * v:.0f}%" for n, v in worst)
    window = rec["layers"][worst[0][0]].get("window")
    over = f" over the last {window} samples" if window else " on the sampled batches"
    return _finding(
        "dead_relus", "Dead ReLUs", found, rec, h,
        f"units that never activate{over}: {desc}. They get no gradient and cannot recover.",
        "Initialise biases at 0 (or slightly positive), lower the learning rate, use LeakyReLU/GELU, or add "
        "BatchNorm before the ReLU.", {"dead": dict(worst)}, worst[0][1], DEAD_FRACTION)


def saturated_units(h: History, found: dict) -> Diagnosis | None:
    """Half or more of a tanh/sigmoid layer's outputs sit at its bounds, where the derivative is ~0."""
    if "nan" in found and found["nan"].severity != "info":
        return None
    got = _units(h, found, "saturated", ("Tanh", "Sigmoid"), SATURATED_FRACTION)
    if got is None:
        return None
    worst, rec = got
    desc = ", ".join(f"{n}: {100 * v:.0f}%" for n, v in worst)
    return _finding(
        "saturated_units", "Saturated tanh/sigmoid units", found, rec, h,
        f"outputs within 0.01 of the bounds (tanh |y| > 0.99, sigmoid y < 0.01 or > 0.99): {desc}. Their "
        "gradient is nearly 0.",
        "Scale the inputs (standardise), use a smaller initialisation (xavier), add normalisation before "
        "the activation, or use ReLU/GELU.", {"saturated": dict(worst)}, worst[0][1], SATURATED_FRACTION)

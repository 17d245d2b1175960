"""Oracles: whether a run shows a pathology, measured on the run's own trace and end-of-run probe with
definitions of their own (not the doctor's rules or thresholds). A fault case whose oracle does not hold
did not manifest and is left out of the scores (and listed); a healthy run must pass `healthy`.
"""

from __future__ import annotations

import math

import numpy as np

SPIKE = 100.0        # exploding: a gradient norm 100x the median of the 20 steps before it ...
DEPTH = 100.0        # ... or the first weight layer's gradient RMS 100x the last layer's
VANISH = 1e-3        # vanishing: the first weight layer's gradient RMS 1/1000 of the last layer's
UNITS = 0.5          # dead / saturated: half a layer's units never fire / outputs at the bounds (probe)
RISE = 3.0           # divergence: the smoothed loss 3x its best so far and 1.2x its start
STILL = 0.05         # lr too low: the loss moved < 5 % and ...
STILL_WEIGHTS = 0.01 # ... the weights < 1 % over the whole run
FLAT = 0.03          # plateau: the second half improved < 3 % ...
MOVING = 0.1         # ... while the weights still moved > 10 % over it
SWING = 0.25         # oscillation: 2 swings of the epoch loss 25 % up and 20 % back down
OVERFIT = 0.2        # overfitting: validation 20 % above its best while training fell 20 % below its value there
UNDERFIT = 1.5       # underfitting: final training loss 1.5x what healthy models reach on the same data, stalled


def series(trace: dict) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    steps = [r for r in trace["records"] if r.get("kind") == "step"]
    loss = np.array([r.get("loss", math.nan) for r in steps], dtype=np.float64)
    grad = np.array([math.nan if r.get("grad_norm") is None else r["grad_norm"] for r in steps], dtype=np.float64)
    epochs = [r for r in trace["records"] if r.get("kind") == "epoch"]
    return loss, grad, epochs


def _first_bad(loss: np.ndarray, grad: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(loss) | np.isnan(grad))
    return int(bad[0]) if bad.size else None


def _smooth(x: np.ndarray, w: int = 5) -> np.ndarray:
    if len(x) < w:
        return x.copy()
    return np.median(np.lib.stride_tricks.sliding_window_view(x, w), axis=1)


def _start(loss: np.ndarray) -> float:
    return float(np.median(loss[:3])) if len(loss) else math.nan


def diverged(trace: dict) -> bool:
    loss, grad, _ = series(trace)
    k = _first_bad(loss, grad)
    fin = loss[:k] if k is not None else loss
    if fin.size == 0:
        return False
    l0 = float(fin[0])
    s = _smooth(fin)
    # The best so far includes the first loss (measured before any update): a run may blow up at once.
    best = np.minimum(np.minimum.accumulate(s), l0) if s.size else s
    if s.size and np.any((s >= RISE * best) & (s >= 1.2 * l0)):
        return True
    if k is None:
        return False
    g = grad[:k][np.isfinite(grad[:k])]
    grew = g.size > 3 and g[-3:].max() >= SPIKE * np.median(g[: max(3, g.size // 2)])
    return bool(grew or fin.max() >= 2 * l0)


def numerical(trace: dict) -> bool:
    """NaN/inf appeared without a climb of the loss or the gradient before it."""
    loss, grad, _ = series(trace)
    k = _first_bad(loss, grad)
    if k is None:
        return False
    if k == 0:
        return True
    g = grad[:k][np.isfinite(grad[:k])]
    calm = g.size == 0 or g.max() < SPIKE * np.median(g)
    return bool(calm and loss[:k].max() < 2 * loss[0])


def exploding(trace: dict) -> bool:
    loss, grad, _ = series(trace)
    k = _first_bad(loss, grad)
    n = len(grad) if k is None else k
    for j in range(1, n):
        ref = np.median(grad[max(0, j - 20): j])
        if math.isfinite(grad[j]) and ref > 0 and grad[j] >= SPIKE * ref:
            return True
    inf = np.flatnonzero(np.isinf(grad) & np.isfinite(loss))
    if inf.size:
        return True
    rms = [g for _, g in trace["probe"]["grad_rms"]]
    return len(rms) >= 4 and rms[-1] > 0 and rms[0] >= DEPTH * rms[-1]


def _finite(trace: dict) -> bool:
    loss, grad, _ = series(trace)
    return _first_bad(loss, grad) is None


def dead(trace: dict) -> bool:
    acts = trace["probe"]["acts"]
    return _finite(trace) and any(a["type"] == "ReLU" and a["dead"] >= UNITS for a in acts)


def saturated(trace: dict) -> bool:
    acts = trace["probe"]["acts"]
    return _finite(trace) and any(a["type"] != "ReLU" and a["saturated"] >= UNITS for a in acts)


def vanishing(trace: dict) -> bool:
    rms = [g for _, g in trace["probe"]["grad_rms"]]
    return _finite(trace) and len(rms) >= 6 and rms[-1] > 0 and rms[0] <= VANISH * rms[-1]


def too_slow(trace: dict) -> bool:
    loss, _, _ = series(trace)
    if not _finite(trace) or len(loss) < 20:
        return False
    l0, l1 = _start(loss), float(np.median(loss[-10:]))
    return abs(l0 - l1) / max(abs(l0), 1e-12) < STILL and trace["probe"]["update_total"] < STILL_WEIGHTS


def plateaued(trace: dict) -> bool:
    loss, _, _ = series(trace)
    n = len(loss)
    if not _finite(trace) or n < 100 or oscillating(trace):
        return False
    l0 = _start(loss)
    early = float(np.mean(loss[n // 4: n // 3]))
    mid = float(np.mean(loss[int(0.4 * n): int(0.6 * n)]))
    end = float(np.mean(loss[int(0.8 * n):]))
    return early <= 0.9 * l0 and end >= (1 - FLAT) * mid and trace["probe"]["update_late"] >= MOVING


def _swings(v: list[float]) -> int:
    floor = 0.05 * v[0]  # swings smaller than 5 % of the first loss are noise on a fitted model
    count, low, high = 0, v[0], None
    for x in v[1:]:
        if high is None:
            low = min(low, x)
            if x >= (1 + SWING) * low and x - low >= floor:
                high = x
        elif x > high:
            high = x
        elif x <= 0.8 * high:
            count, low, high = count + 1, x, None
    return count


def oscillating(trace: dict) -> bool:
    _, _, epochs = series(trace)
    # The training loss: what the optimizer moves (a few hundred validation samples swing by chance).
    key = "train_loss" if epochs and epochs[0].get("train_loss") is not None else "val_loss"
    v = [e.get(key) for e in epochs]
    if len(v) < 5 or any(x is None or not math.isfinite(x) for x in v):
        return False
    return _swings(v) >= 2


def overfitted(trace: dict) -> bool:
    _, _, epochs = series(trace)
    ep = [e for e in epochs if e.get("val_loss") is not None and e.get("train_loss") is not None]
    if len(ep) < 4:
        return False
    val = np.array([e["val_loss"] for e in ep])
    train = np.array([e["train_loss"] for e in ep])
    if not (np.isfinite(val).all() and np.isfinite(train).all()):
        return False
    b = int(np.argmin(val))
    return bool(b < len(ep) - 2 and val[-1] >= (1 + OVERFIT) * val[b] and train[-1] <= (1 - OVERFIT) * train[b])


def underfitted(trace: dict, reference: dict[str, float]) -> bool:
    _, _, epochs = series(trace)
    t = [e.get("train_loss") for e in epochs]
    ref = reference.get(trace["data"])
    if ref is None or len(t) < 4 or not _finite(trace) or too_slow(trace):
        return False
    stalled = (t[-4] - t[-1]) / (3 * max(abs(t[-4]), 1e-12)) < 0.03
    return bool(t[-1] >= UNDERFIT * ref and stalled)


def healthy(trace: dict, reference: dict[str, float] | None = None) -> bool:
    """The run learnt (its loss fell by a fifth or more) and no pathology's oracle holds on it (with the
    reference losses, underfitting included: a healthy configuration that stalls far above what other
    models reach on its data is not counted as healthy, nor as underfitting, but left out)."""
    loss, _, _ = series(trace)
    if not _finite(trace) or len(loss) < 10:
        return False
    learnt = float(np.median(loss[-10:])) <= 0.8 * _start(loss)
    sick = (diverged, exploding, overfitted, oscillating, dead, saturated, vanishing, too_slow, plateaued)
    if not learnt or any(f(trace) for f in sick):
        return False
    return reference is None or not underfitted(trace, reference)


def reference_losses(traces: list[dict]) -> dict[str, float]:
    """Per data set, the lower quartile of the healthy runs' final training losses: what a model that fits
    reaches on that data."""
    out: dict[str, list[float]] = {}
    for t in traces:
        if t["label"] == "healthy" and healthy(t):
            _, _, epochs = series(t)
            if epochs and epochs[-1].get("train_loss") is not None:
                out.setdefault(t["data"], []).append(epochs[-1]["train_loss"])
    return {k: float(np.percentile(v, 25)) for k, v in out.items()}


def confirmed(trace: dict, reference: dict[str, float]) -> bool:
    """Whether the run shows what its case was built to show."""
    label = trace["label"]
    if label == "healthy":
        return healthy(trace, reference)
    if label == "underfitting":
        return underfitted(trace, reference)
    if label not in ("divergence", "nan", "exploding_gradients") and (diverged(trace) or numerical(trace)):
        return False  # a run that also diverged or hit NaN shows that first: its label would be ambiguous
    return {"divergence": diverged, "nan": numerical, "exploding_gradients": exploding, "dead_relus": dead,
            "saturated_units": saturated, "vanishing_gradients": vanishing, "lr_too_low": too_slow,
            "plateau": plateaued, "oscillation": oscillating, "overfitting": overfitted}[label](trace)

"""Rules on progress: learning rate too low, plateau, oscillation, overfitting and underfitting."""

from __future__ import annotations

import numpy as np

from descend.doctor.history import Diagnosis, History, _fmt, _loss_start, confidence
from descend.doctor.thresholds import (LAYER_SAMPLES, LOW_LR_MIN_STEPS, LOW_LR_MOVE, LOW_LR_RATIO,
                                       OSC_MIN_EPOCHS, OSC_PEAKS, OSC_SWING, OSC_VAL_SWING, OVERFIT_PATIENCE,
                                       OVERFIT_RISE, OVERFIT_TRAIN_DROP, PLATEAU_GAIN, PLATEAU_LEARNT,
                                       PLATEAU_MIN_STEPS, PLATEAU_RATIO, PLATEAU_SPAN, SMOOTH, UNDERFIT_AT,
                                       UNDERFIT_GAP, UNDERFIT_LEVEL, UNDERFIT_MIN_EPOCHS, UNDERFIT_RATE,
                                       WEIGHT_COLLAPSE)


def _active(found: dict, codes: set) -> bool:
    """Whether one of `codes` was found as a problem (not as an `info` consequence)."""
    return any(c in found and found[c].severity != "info" for c in codes)


def _collapsed(h: History) -> bool:
    """Whether the weights shrank to a fraction of their largest norm (weight decay driving them to 0): then a
    large update/weight ratio says the weights are small, not that the steps are large."""
    _, _, w = h.table("weight_norm")
    if w.size == 0:
        return False
    total = np.sqrt(np.nansum(w * w, axis=1))
    return bool(total[-1] < WEIGHT_COLLAPSE * np.max(total))


def _ends(loss: np.ndarray) -> tuple[float, float]:
    """Mean loss of the first and of the last fifth of the steps (at least SMOOTH each): batch noise
    averages out, which one step's loss against another's does not."""
    w = max(SMOOTH, len(loss) // 5)
    return float(np.mean(loss[:w])), float(np.mean(loss[-w:]))


def lr_too_low(h: History, found: dict) -> Diagnosis | None:
    """After LOW_LR_MIN_STEPS steps the loss has barely moved and no layer's weights ever changed noticeably."""
    if _active(found, {"divergence", "nan", "dead_relus", "saturated_units", "vanishing_gradients"}):
        return None
    loss = h.array("loss")
    if len(loss) < LOW_LR_MIN_STEPS:
        return None
    _, _, ratio = h.table("update_ratio")
    if ratio.shape[0] < 2 or ratio.shape[1] == 0:
        return None
    top = float(np.nanmax(ratio))  # over the whole run: a schedule annealed to 0 at the end is not this
    if not top < LOW_LR_RATIO or not np.isfinite(loss).all():  # (the small table first: most runs end here)
        return None
    start, now = _ends(loss)
    moved = abs(start - now) / max(abs(start), 1e-12)
    if moved >= LOW_LR_MOVE:
        return None
    lr = h.lr[-1]
    return Diagnosis(
        "lr_too_low", "Learning rate too low: the loss barely moves", "warning", h.step[0], h.epoch_at(0),
        f"after {len(loss)} steps the mean loss moved {100 * moved:.2f}% ({_fmt(start)} -> {_fmt(now)}); the "
        f"largest update/weight ratio of any layer is {_fmt(top)} (healthy: about 1e-3); lr {_fmt(lr)}.",
        f"Raise the learning rate (try {_fmt(lr * 100)}, or run `descend lr-find` to pick one).",
        {"moved": moved, "max_update_ratio": top, "lr": lr}, confidence(LOW_LR_RATIO / max(top, 1e-30), 1, 100))


def _swings(v: np.ndarray, swing: float = OSC_SWING) -> list[int]:
    """Epochs where the series completed an up-and-down swing: it rose 1 + `swing` times above its last
    low, then fell as far below that high (a zig-zag with hysteresis: slow waves count, noise does not)."""
    f = 1 + swing
    swings, low, high, rising_at = [], v[0], None, None
    for i, x in enumerate(v[1:], 1):
        if high is None:
            low = min(low, x)
            if x > f * low:
                high, rising_at = x, i
        elif x > high:
            high, rising_at = x, i
        elif x < high / f:
            swings.append(rising_at)
            low, high = x, None
    return swings


def oscillation(h: History, found: dict) -> Diagnosis | None:
    """The epoch loss (validation, else training) jumps up and back down again, repeatedly."""
    if _active(found, {"divergence", "nan", "exploding_gradients"}):
        return None
    for key, swing in (("val_loss", OSC_VAL_SWING), ("train_loss", OSC_SWING)):
        ep = [e for e in h.epochs if e.get(key) is not None]
        if len(ep) < OSC_MIN_EPOCHS:
            continue
        v = np.asarray([e[key] for e in ep], dtype=np.float64)
        if not np.isfinite(v).all():
            return None
        peaks = _swings(v, swing)
        if len(peaks) < OSC_PEAKS:
            continue
        lrs = [e.get("lr") for e in ep]
        if any(a != b for a, b in zip(lrs, lrs[1:]) if a is not None and b is not None):
            # A schedule that moves the LR (cyclic, restarts) makes the loss move with it, on purpose.
            cyclic = max(lrs) > 2 * min(lrs) and any(b > a for a, b in zip(lrs, lrs[1:]))
            if cyclic:
                return None
        first = ep[peaks[0]]
        where = "validation" if key == "val_loss" else "training"
        desc = ", ".join(f"epoch {ep[i]['epoch'] + 1}: {_fmt(v[i])}" for i in peaks[:4])
        lr = h.lr[-1] if h.lr else first.get("lr", float("nan"))
        return Diagnosis(
            "oscillation", f"The {where} loss oscillates", "warning", first["step"], first["epoch"],
            f"the {where} loss rose more than {100 * swing:.0f}% above its last low and fell back "
            f"{len(peaks)} times (peaks at {desc}; lowest {_fmt(float(v.min()))}); lr {_fmt(lr)}.",
            "Lower the learning rate or the momentum (e.g. 0.9 instead of 0.99), add a decaying schedule "
            "(cosine), or use a larger batch; keep the best checkpoint meanwhile.",
            {"peaks": [ep[i]["epoch"] for i in peaks], "series": key, "lr": lr},
            confidence(len(peaks), OSC_PEAKS - 1, 2 * OSC_PEAKS))
    return None


def plateau(h: History, found: dict) -> Diagnosis | None:
    """The loss has stopped improving for a long stretch while the weights still take large steps."""
    # Dead units do not rule it out: steps this large knock ReLUs off (both are then reported).
    if _active(found, {"divergence", "nan", "lr_too_low", "oscillation", "vanishing_gradients",
                       "saturated_units", "exploding_gradients"}):
        return None
    loss = h.array("loss")
    n = len(loss)
    if n < PLATEAU_MIN_STEPS or not np.isfinite(loss).all():
        return None
    span = max(int(PLATEAU_SPAN * n), PLATEAU_MIN_STEPS // 2)
    # Mean loss of the span's first quarter against its last quarter: minibatch noise averages out.
    q = span // 4
    a = float(np.mean(loss[n - span: n - span + q]))
    b = float(np.mean(loss[n - q:]))
    gain = (a - b) / max(abs(a), 1e-12)
    lr = h.array("lr")[-span:]
    if gain >= PLATEAU_GAIN or not np.allclose(lr, lr[0], rtol=1e-6):
        return None
    i0 = n - span
    _, steps, table = h.table("update_ratio")
    recent = table[steps >= h.step[i0]] if table.size else table
    ratio = float(np.median(np.nanmax(recent, axis=1))) if len(recent) >= LAYER_SAMPLES else float("nan")
    start = _loss_start(loss)
    # Large steps, and large because the updates are, not because the weights decayed to nothing (a model
    # held at its start by weight decay cannot fit: underfitting). It learnt first, then stalled: a loss
    # that never left its start is not settling noise.
    if not ratio >= PLATEAU_RATIO or b > (1 - PLATEAU_LEARNT) * start or _collapsed(h):
        return None
    return Diagnosis(
        "plateau", "The loss has plateaued: the steps are too large to settle", "warning", h.step[i0],
        h.epoch_at(i0),
        f"over the last {span} steps the mean loss improved {100 * gain:.1f}% (it stays near {_fmt(b)}, "
        f"from {_fmt(start)} at the start) at a constant lr {_fmt(float(lr[0]))}, while the weights still "
        f"change by {100 * ratio:.1f}% per step (median of the largest layer's update/weight ratio; healthy "
        "about 0.1%).",
        "Decay the learning rate (--schedule cosine, or plateau), or lower it to about "
        f"{_fmt(float(lr[0]) / 10)}.",
        {"gain": gain, "level": b, "lr": float(lr[0]), "update_ratio": ratio},
        confidence(ratio, PLATEAU_RATIO, 10 * PLATEAU_RATIO))


def overfitting(h: History, found: dict) -> Diagnosis | None:
    """Validation loss rose well above its best for several epochs while the training loss kept falling."""
    if _active(found, {"divergence", "nan", "oscillation"}):
        return None
    ep = [e for e in h.epochs if e.get("val_loss") is not None and e.get("train_loss") is not None]
    if len(ep) < OVERFIT_PATIENCE + 1:
        return None
    val = np.asarray([e["val_loss"] for e in ep], dtype=np.float64)
    train = np.asarray([e["train_loss"] for e in ep], dtype=np.float64)
    if not (np.isfinite(val).all() and np.isfinite(train).all()):
        return None
    # Epochs already judged cannot change (their logs are final): only the new ones are looked at.
    done = h._memo.get("overfit", OVERFIT_PATIENCE)
    done = done if done <= len(ep) else OVERFIT_PATIENCE  # the epochs were cut back: judge them again
    h._memo["overfit"] = len(ep)
    for e in range(done, len(ep)):
        b = int(np.argmin(val[: e + 1]))
        recent = val[e - OVERFIT_PATIENCE + 1: e + 1]
        # ... and the training loss is near its lowest: were it swinging too, this would be oscillation.
        if e - b >= OVERFIT_PATIENCE and (recent > (1 + OVERFIT_RISE) * val[b]).all() \
                and train[e] < (1 - OVERFIT_TRAIN_DROP) * train[b] \
                and train[e] <= (1 + OVERFIT_RISE) * train[: e + 1].min():
            best = ep[b]
            acc = ""
            if best.get("val_acc") is not None:
                acc = f" (val acc {100 * best['val_acc']:.1f}% at the best epoch)"
            return Diagnosis(
                "overfitting", "Overfitting", "warning", ep[b + 1]["step"], ep[b + 1]["epoch"],
                f"validation loss rose from its best {_fmt(val[b])} at epoch {best['epoch'] + 1}{acc} to "
                f"{_fmt(val[e])} at epoch {ep[e]['epoch'] + 1}, while the training loss fell from "
                f"{_fmt(train[b])} to {_fmt(train[e])}.",
                f"Keep the weights of epoch {best['epoch'] + 1} (the best checkpoint) or stop early "
                "(early_stopping); add data or augmentation, weight decay or dropout, or use a smaller model.",
                {"best_epoch": best["epoch"], "best_val_loss": float(val[b]), "val_loss": float(val[e]),
                 "train_loss": float(train[e])},
                confidence(float(recent.min() / val[b]), 1 + OVERFIT_RISE, 2.0))
    return None


def underfitting(h: History, found: dict) -> Diagnosis | None:
    """The training loss stalled high with steps of a normal size, and validation is no better: judged from
    half of the planned epochs on (or at the end), as the diagnosis of last resort."""
    if any(d.severity != "info" for d in found.values()):
        return None  # nothing else explains it: LR too low, plateau, dead units ... would
    ep = [e for e in h.epochs if e.get("train_loss") is not None]
    loss = h.array("loss")
    due = max(UNDERFIT_MIN_EPOCHS, UNDERFIT_AT * h.planned_epochs) if h.planned_epochs else None
    if not h.finished and (due is None or len(ep) < due):
        return None
    if len(ep) < UNDERFIT_MIN_EPOCHS or len(loss) < SMOOTH or not np.isfinite(loss).all():
        return None
    start = _loss_start(loss)
    t = [float(e["train_loss"]) for e in ep]
    level = t[-1] / max(abs(start), 1e-12)
    rate = (t[-4] - t[-1]) / (3 * max(abs(t[-4]), 1e-12))
    v = ep[-1].get("val_loss")
    gap_ok = v is None or v <= (1 + UNDERFIT_GAP) * t[-1]
    if level < UNDERFIT_LEVEL or rate >= UNDERFIT_RATE or not gap_ok:
        return None
    _, _, ratio = h.table("update_ratio")
    if h.layers and ratio.shape[0] < LAYER_SAMPLES:
        return None  # the layer rules (vanishing, dead units ...) have not had their say yet
    step = float(np.nanmedian(np.nanmax(ratio[-LAYER_SAMPLES:], axis=1))) if ratio.size else float("nan")
    if step < 10 * LOW_LR_RATIO:
        return None  # steps too small to fit anything: the learning rate, not the model
    # Evidence that the model itself is the limit: the loss sits at its lowest (one that was lower before
    # and rose again could fit better: oscillation, instability), and the steps are not the large ones of a
    # plateau (the plateau rule's case: the LR is the suspect) unless they are large only because weight
    # decay shrank the weights.
    if t[-1] > (1 + UNDERFIT_GAP / 4) * min(t) or (step >= PLATEAU_RATIO and not _collapsed(h)):
        # (without layer records, `step` is NaN and the comparison false)
        return None
    acc = ""
    if ep[-1].get("train_acc") is not None:
        acc = f" (train acc {100 * ep[-1]['train_acc']:.1f}%" + (
            f", val acc {100 * ep[-1]['val_acc']:.1f}%)" if ep[-1].get("val_acc") is not None else ")")
    val = f", validation {_fmt(v)}" if v is not None else ""
    return Diagnosis(
        "underfitting", "Underfitting: the model does not fit the training data", "warning", ep[-1]["step"],
        ep[-1]["epoch"],
        f"after {len(ep)} epochs the training loss is {_fmt(t[-1])}, {100 * level:.0f}% of its start "
        f"{_fmt(start)}{val}{acc}, and improved {100 * rate:.1f}% per epoch over the last 3.",
        "Use a bigger model (wider or deeper), less regularisation (weight decay, dropout), better input "
        "features or normalisation; or train longer with a higher learning rate.",
        {"level": level, "rate": rate, "train_loss": t[-1], "val_loss": v},
        confidence(level, UNDERFIT_LEVEL, 0.95))



"""Rules on the gradient's size: exploding (overflow, spikes, growth with depth) and vanishing with depth."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from descend.doctor.history import Diagnosis, History, _fmt, _med, _rec_epoch, confidence
from descend.doctor.rules_numeric import _trouble
from descend.doctor.thresholds import (DEAD_FRACTION, EXPLODE_RATIO, LAYER_SAMPLES, SATURATED_FRACTION, SMOOTH,
                                       SPIKE, SPIKE_COUNT, SPIKE_HISTORY, SPIKE_STRONG, VANISH_RATIO)


def _spikes(h: History, g: np.ndarray, n: int) -> list[int]:
    """Indices 0 < i < n where g[i] > SPIKE x the median of the (up to SPIKE_HISTORY) values before it: a
    spike in the first steps counts too (outliers in the first batches). Steps already scanned are
    remembered on the history, so a check scans only the new ones."""
    done, found = h._memo.get("spikes", (1, []))
    if n > done:
        start = max(done, SPIKE_HISTORY)
        ref = [_med(g[:i]) for i in range(done, min(start, n))]
        cur = g[done:n]
        with np.errstate(invalid="ignore"):
            if n > start:
                # The median of each window only where the value beats SPIKE x the window's minimum (the
                # median is at least that): a sliding minimum is ~10x cheaper than a sliding median.
                win = sliding_window_view(g[start - SPIKE_HISTORY: n - 1], SPIKE_HISTORY)
                late = np.full(len(win), np.nan)
                maybe = np.flatnonzero(g[start:n] > SPIKE * win.min(axis=1))
                if maybe.size:
                    late[maybe] = np.median(win[maybe], axis=1)
                ref += list(late)
            ref = np.asarray(ref)
            new = np.flatnonzero(np.isfinite(cur) & (ref > 0) & (cur > SPIKE * ref))
        found = found + [int(i) + done for i in new]
        h._memo["spikes"] = (n, found)
    return found


def _depth_ratio(h: History) -> tuple[float, list[str], np.ndarray, int] | None:
    """Median over recent samples of (first quarter's gradient RMS) / (last quarter's), with its layers
    (computed once per new layer record: two rules ask)."""
    key = ("depth", len(h.layers))
    if key not in h._memo:
        h._memo[key] = _depth_ratio_now(h)
    return h._memo[key]


def _depth_ratio_now(h: History) -> tuple[float, list[str], np.ndarray, int] | None:
    names, _, rms = h.table("grad_rms")
    if len(names) < 3 or rms.shape[0] < LAYER_SAMPLES:
        return None
    q = max(1, len(names) // 4)
    recent = rms[-LAYER_SAMPLES:]
    first = np.array([_finite_med(row[:q]) for row in recent])  # a handful of values: sorted() beats
    last = np.array([_finite_med(row[-q:]) for row in recent])   # np.median here
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = first / last
    ratio = sorted(ratio[np.isfinite(ratio)].tolist())
    if len(ratio) < LAYER_SAMPLES:
        return None
    return ratio[len(ratio) // 2], names, recent, q


def _finite_med(a: np.ndarray) -> float:
    return _med(a) if np.isfinite(a).all() else float("nan")


def _blocked(h: History) -> bool:
    """Whether the latest activation sample shows a layer dead or saturated enough to block the gradient,
    even before the dead-unit window has filled (the dead_relus or saturated_units rule will say so)."""
    if not h.activations:
        return False
    for s in h.activations[-1].get("layers", {}).values():
        if s.get("output"):
            continue
        if s.get("type") == "ReLU" and (s.get("dead") if s.get("dead") is not None else
                                        1 - s.get("active", 1)) >= DEAD_FRACTION:
            return True
        if (s.get("saturated") or 0) >= SATURATED_FRACTION:
            return True
    return False


def vanishing_gradients(h: History, found: dict) -> Diagnosis | None:
    """The first layers' gradients are orders of magnitude smaller than the last layers'."""
    if found.keys() & {"divergence", "nan", "dead_relus", "saturated_units"} or _blocked(h):
        return None  # a dead or saturated layer blocks the gradient: that diagnosis is the cause
    r = _depth_ratio(h)
    # Exactly 0 counts too: a gradient shrunk below float32's range underflows to 0 (layers without any
    # gradient, frozen ones, are left out of the records; dead or saturated units were excluded above).
    if r is None or not 0 <= r[0] < VANISH_RATIO:
        return None
    ratio, names, recent, q = r
    i = len(h.layers) - LAYER_SAMPLES
    first, last = names[0], names[-1]
    g = np.median(recent, axis=0)
    return Diagnosis(
        "vanishing_gradients", "Vanishing gradients in the first layers", "warning", h.layers[i]["step"],
        _rec_epoch(h, h.layers[i]),
        f"gradient RMS of the first layers is {_fmt(ratio)}x that of the last ({first}: {_fmt(g[0])}, "
        f"{last}: {_fmt(g[-1])}) over {len(names)} layers; the first layers barely learn.",
        "Use ReLU/GELU instead of sigmoid/tanh in deep stacks, He (kaiming) initialisation, normalisation "
        "layers (BatchNorm/LayerNorm) or residual connections; or make the network shallower.",
        {"ratio": ratio, "layers": dict(zip(names, [float(v) for v in g]))},
        confidence(max(ratio, 1e-12), VANISH_RATIO, VANISH_RATIO ** 2))


def exploding_gradients(h: History, found: dict) -> Diagnosis | None:
    """Gradient norms overflow, spike far above their recent level, or grow by orders of magnitude with depth."""
    if found.keys() & {"divergence", "nan"}:
        return None
    loss, g = h.array("loss"), h.array("grad_norm")
    # Overflow: the gradient norm is infinite although the loss was finite (a NaN is the `nan` rule's).
    bad = np.flatnonzero(np.isinf(g) & np.isfinite(loss))
    k, _ = _trouble(h)
    if bad.size and (k is None or bad[0] <= k):
        i = int(bad[0])
        return Diagnosis(
            "exploding_gradients", "Exploding gradients: the gradient overflowed", "error", h.step[i],
            h.epoch_at(i), f"the gradient norm became {_fmt(g[i])} at step {h.step[i]} while the loss was "
            f"finite ({_fmt(loss[i])}): the backward pass overflowed.",
            "Clip gradients (--clip-grad 1.0), lower the learning rate, and check the initialisation scale "
            "(kaiming/xavier) and normalisation layers.", {"step": h.step[i]}, confidence=0.99)
    # Spikes: a norm SPIKE times the median of the steps before it (judged once the loss had a chance to
    # show a divergence instead, SMOOTH steps later).
    spikes = _spikes(h, g, len(g) - SMOOTH)
    strong = [j for j in spikes if g[j] > SPIKE_STRONG * _med(g[max(0, j - SPIKE_HISTORY): j])]
    if len(spikes) >= SPIKE_COUNT or strong:
        i = spikes[0]
        top = max(spikes, key=lambda j: g[j])
        return Diagnosis(
            "exploding_gradients", "Exploding gradients: the gradient norm spikes", "warning", h.step[i],
            h.epoch_at(i), f"{len(spikes)} steps had a gradient norm over {_fmt(SPIKE)}x the median of the "
            f"{SPIKE_HISTORY} steps before (largest {_fmt(g[top])} at step {h.step[top]}).",
            "Clip gradients (--clip-grad 1.0); check for outliers in the data and for layers without "
            "normalisation.", {"spikes": [h.step[j] for j in spikes[:20]]},
            confidence=confidence(len(spikes), SPIKE_COUNT - 1, 2 * SPIKE_COUNT))
    r = _depth_ratio(h)
    if r is not None and r[0] > EXPLODE_RATIO:
        ratio, names, recent, q = r
        i = len(h.layers) - LAYER_SAMPLES
        gm = np.median(recent, axis=0)
        return Diagnosis(
            "exploding_gradients", "Exploding gradients in the first layers", "warning", h.layers[i]["step"],
            _rec_epoch(h, h.layers[i]),
            f"gradient RMS of the first layers is {_fmt(ratio)}x that of the last ({names[0]}: "
            f"{_fmt(gm[0])}, {names[-1]}: {_fmt(gm[-1])}): the gradient grows layer by layer.",
            "Add residual connections or use fewer layers (BatchNorm alone does not stop this in deep "
            "plain stacks), scale the initialisation down, and clip gradients (--clip-grad 1.0).",
            {"ratio": ratio, "layers": dict(zip(names, map(float, gm)))},
            confidence(ratio, EXPLODE_RATIO, EXPLODE_RATIO ** 2))
    return None


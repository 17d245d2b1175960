"""What several sections share: the train/validation colours, size limits, and small helpers that turn
records into chart series (epoch axis, best epoch, smoothing, log-axis choice, per-layer lines, markers)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from descend.report import metrics as M
from descend.report.page import SEVERITY_COLOR
from descend.report.svg import PALETTE, Marker, Series, line_chart

TRAIN, VAL = PALETTE[0], PALETTE[1]
MAX_SAMPLE_IMAGES = 8
MAX_IMAGE_BYTES = 4 << 20  # a sample image larger than this is named, not embedded
MAX_LINE_LAYERS = 10       # more layers than this: a heat-map instead of one line per layer


def auto_log(*ys: np.ndarray, ratio: float = 30.0) -> bool:
    """A log axis when every finite value is positive and they span more than `ratio`."""
    v = np.concatenate([np.asarray(y, dtype=np.float64).reshape(-1) for y in ys]) if ys else np.zeros(0)
    v = v[np.isfinite(v)]
    return len(v) > 1 and bool((v > 0).all()) and v.max() / v.min() > ratio


def ema(y: np.ndarray, window: float) -> np.ndarray:
    """Exponential moving average with bias correction over the finite values (held across NaN/inf)."""
    beta = 1.0 - 1.0 / max(window, 1.0)
    out = np.full(len(y), np.nan)
    avg, n = 0.0, 0
    for i, v in enumerate(y):
        if math.isfinite(v):
            avg = beta * avg + (1 - beta) * v
            n += 1
        if n:
            out[i] = avg / (1 - beta ** n)
    return out


def epoch_axis(records: list[dict]) -> np.ndarray:
    """1-based epoch numbers of epoch records (their 0-based "epoch" + 1, or their order)."""
    return np.asarray([float(r["epoch"]) + 1 if isinstance(r.get("epoch"), (int, float)) else i + 1
                       for i, r in enumerate(records)])


def values(records: list[dict], key: str) -> np.ndarray:
    """One key of each record as float64 (NaN where absent)."""
    return np.asarray([M.as_float(r.get(key)) for r in records], dtype=np.float64)


def best(vals: np.ndarray, mode: str) -> int | None:
    """The index of the smallest ("min") or largest ("max") finite value; None when none is finite."""
    finite = np.isfinite(vals)
    if not finite.any():
        return None
    masked = np.where(finite, vals, np.inf if mode == "min" else -np.inf)
    return int(np.argmin(masked) if mode == "min" else np.argmax(masked))


def diagnosis_markers(diagnoses: list[dict]) -> list[Marker]:
    """A vertical marker at the step of each diagnosis that has one, in its severity's colour."""
    markers = []
    for d in diagnoses:
        if isinstance(d.get("step"), (int, float)):
            label = str(d.get("rule") or d.get("code") or d.get("severity") or "")
            color = SEVERITY_COLOR.get(str(d.get("severity")), "#475569")
            markers.append(Marker(float(d["step"]), label, color))
    return markers


def layer_lines(steps: np.ndarray, names: list[str], vals: np.ma.MaskedArray, title: str, ylabel: str,
                logy: bool = False, markers: Sequence[Marker] = (),
                ylim: tuple[float, float] | None = None) -> str:
    """One line per layer (masked entries left out) in the palette's colours."""
    data = np.ma.filled(vals.astype(np.float64), np.nan)
    mask = np.ma.getmaskarray(vals)
    series = [Series(name, steps[~mask[i]], data[i][~mask[i]], PALETTE[i % len(PALETTE)], width=1.8)
              for i, name in enumerate(names)]
    return line_chart(series, title=title, xlabel="step", ylabel=ylabel, logy=logy, markers=markers,
                      ylim=ylim)


def last_by_layer(records: list[dict], keys: tuple[str, ...]) -> tuple[int | None, dict[str, dict]]:
    """The step and {layer: {key: value}} of the last record, in either layout."""
    if not records:
        return None, {}
    r = records[-1]
    out: dict[str, dict] = {}
    for key in keys:
        for layer, v in (M.per_layer(r, key) or {}).items():
            out.setdefault(layer, {})[key] = v
    return r.get("step"), out

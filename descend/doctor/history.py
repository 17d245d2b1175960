"""What the rules read and write: the `History` of a run (per-step scalars, epoch logs, sampled layer and
activation records, events) and the `Diagnosis` they return, with the small numeric helpers they share."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from descend.doctor.thresholds import SMOOTH


@dataclass
class Diagnosis:
    """One finding: what, since when, how bad, the evidence in numbers and words, and what to do."""

    code: str
    title: str
    severity: str
    step: int | None
    epoch: int | None
    evidence: str
    suggestion: str
    values: dict = field(default_factory=dict)
    confidence: float | None = None  # 0.5 at the rule's threshold, towards 1 as the evidence grows

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Diagnosis":
        return cls(**{k: d.get(k) for k in ("code", "title", "severity", "step", "epoch", "evidence",
                                             "suggestion", "confidence")}, values=d.get("values") or {})

    def format(self) -> str:
        """Three lines for a terminal: severity, title and where; the evidence; the suggestion."""
        where = []
        if self.step is not None:
            where.append(f"step {self.step}")
        if self.epoch is not None:
            where.append(f"epoch {self.epoch + 1}")
        at = f" (since {', '.join(where)})" if where else ""
        sure = f", confidence {self.confidence:.2f}" if self.confidence is not None else ""
        return f"[{self.severity}{sure}] {self.title}{at}\n    {self.evidence}\n    -> {self.suggestion}"


class History:
    """What the rules read: per-step scalars, epoch logs, sampled layer/activation records and events.

    It is filled live by the doctor's monitors or rebuilt from a run's metrics.jsonl (`from_records`).
    """

    def __init__(self) -> None:
        self.step: list[int] = []
        self.epoch: list[int] = []
        self.loss: list[float] = []
        self.lr: list[float] = []
        self.grad_norm: list[float] = []
        self.epochs: list[dict] = []       # the trainer's epoch logs
        self.layers: list[dict] = []       # {"step", "layers": {name: {"grad_norm", "weight_norm", ...}}}
        self.activations: list[dict] = []  # {"step", "layers": {name: {"type", "mean", "std", "dead", ...}}}
        self.events: list[dict] = []       # {"event": "nan" | "rollback", "step", ...}
        self.finished = False              # set at the end of training: end-of-run rules may judge
        self.planned_epochs: int | None = None  # the trainer's epochs, when known
        self._arrays: dict[str, tuple[np.ndarray, int]] = {}  # name -> (buffer, values in it)
        self._tables: dict[str, tuple] = {}
        self._memo: dict = {}  # results of scans over data that only grows (see _spikes, _depth_ratio)

    def add_step(self, logs: dict) -> None:
        get = logs.get
        self.step.append(logs["step"])
        self.epoch.append(get("epoch", 0))
        loss, lr, grad = get("loss"), get("lr"), get("grad_norm")
        self.loss.append(math.nan if loss is None else float(loss))
        self.lr.append(math.nan if lr is None else float(lr))
        self.grad_norm.append(math.nan if grad is None else float(grad))

    def add(self, record: dict) -> None:
        """Add one metrics.jsonl record (kinds step, epoch, layers, activations, doctor; others ignored)."""
        kind = record.get("kind")
        if kind == "step":
            self.add_step(record)
        elif kind == "epoch":
            self.epochs.append(record)
        elif kind == "layers":
            self.layers.append(record)
        elif kind == "activations":
            self.activations.append(record)
        elif kind == "doctor":
            self.events.append(record)

    @classmethod
    def from_records(cls, records: Iterable[dict]) -> "History":
        h = cls()
        for r in records:
            h.add(r)
        return h

    def array(self, name: str) -> np.ndarray:
        """One per-step series ("loss", "lr", "grad_norm", "step") as a float64 array (a read-only view).

        The series only grows, so a buffer with room to spare takes just the values added since the last
        call: converting the whole list every check made each check O(steps) and a long run O(steps²)."""
        values = getattr(self, name)
        n = len(values)
        buf, done = self._arrays.get(name, (None, 0))
        if buf is None or done > n:  # first use, or the list was cut back: start over
            buf, done = np.empty(max(2 * n, 1024)), 0
        elif n > len(buf):
            grown = np.empty(2 * n)
            grown[:done] = buf[:done]
            buf = grown
        if n > done:
            buf[done:n] = values[done:n]
            self._arrays[name] = (buf, n)
        view = buf[:n]
        view.flags.writeable = False
        return view

    def table(self, key: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(weight-layer names, steps, array [records, layers] of `key`) from the layer records; new records
        are added to a cache, so a check costs little however long the run."""
        names, steps, rows, done, arrays = self._tables.get(key, ([], [], [], 0, None))
        recs = self.layers
        if arrays is None or done < len(recs):
            latest = [n for n, st in recs[-1].get("layers", {}).items()
                      if st.get("weight") and key in st] if recs else []
            if latest != names:
                names, steps, rows, done = latest, [], [], 0
            for r in recs[done:]:
                if r.get("layers"):
                    steps.append(r.get("step", 0))
                    rows.append([_float(r["layers"].get(n, {}).get(key)) for n in names])
            arrays = (np.asarray(steps), np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names)))
            self._tables[key] = (names, steps, rows, len(recs), arrays)
        return names, arrays[0], arrays[1]

    def event(self, name: str) -> dict | None:
        """The first event named `name`, or None."""
        return next((e for e in self.events if e.get("event") == name), None)

    def epoch_at(self, i: int) -> int | None:
        return self.epoch[i] if 0 <= i < len(self.epoch) else None


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _rolling_min(x: np.ndarray, w: int) -> np.ndarray:
    """Minimum of each window of w consecutive values; entry j covers x[j : j + w]."""
    if len(x) < w:
        return np.empty(0)
    return np.min(sliding_window_view(x, w), axis=1)


def _first_nonfinite(x: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(x))
    return int(bad[0]) if bad.size else None


def _fmt(v: float) -> str:
    """A number as a person would write it: 0.0123, 4.56, 1.2e-07, 3.4e+05."""
    if v is None or not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.2g}" if abs(v) < 1e-3 else f"{v:.3g}"
    return f"{v:.4g}"


def _med(a: np.ndarray) -> float:
    """Median of a few values (np.median costs more than the sort for a handful)."""
    v = sorted(float(x) for x in a)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _loss_start(loss: np.ndarray) -> float:
    """The loss the run started from: the median of its first steps (the first alone is one noisy batch)."""
    return _med(loss[:SMOOTH])




def confidence(value: float, threshold: float, strong: float) -> float:
    """0.5 when `value` just reaches `threshold`, 0.95 at `strong` (on a log scale: evidence is a ratio), in
    between and beyond by the same curve, capped at 0.99."""
    try:
        x = math.log(value / threshold) / math.log(strong / threshold)
    except (ValueError, ZeroDivisionError):
        return 0.99 if value == 0 and strong < threshold else 0.5
    if not math.isfinite(x):
        return 0.99
    return round(min(0.99, max(0.5, 0.5 + 0.45 * x)), 2)

def _rec_epoch(h: History, rec: dict) -> int | None:
    if "epoch" in rec:
        return rec["epoch"]
    if rec.get("step") in h.step:
        return h.epoch[h.step.index(rec["step"])]
    return None

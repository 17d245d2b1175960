"""metrics.jsonl: one JSON object per line, each with a "kind" (str) and a "step" (global optimizer step).

Non-finite floats are written as the strings "NaN", "Infinity" and "-Infinity", so every line is valid JSON
for any reader; `read_metrics` turns them (and Python's bare NaN/Infinity tokens, and "nan"/"inf"/"-inf")
back into floats.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from descend.rundir import codec, safe
from descend.rundir import metrics as run_metrics

METRICS_FILE = "metrics.jsonl"


def metrics_path(run_dir: str | os.PathLike) -> Path:
    """The metrics.jsonl of a run directory."""
    return Path(run_dir) / METRICS_FILE


# The run directory's one codec and record check (descend.rundir owns the format).
to_json = codec.to_json
from_json = codec.from_json
_check = run_metrics.check_record


class MetricsLog:
    """Appends records to <run_dir>/metrics.jsonl, one JSON line each, flushed at once (a killed run keeps
    them)."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = metrics_path(run_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = safe.open_append(self.path)

    def log(self, record: dict) -> None:
        """Append one record (needs "kind" and an integer "step")."""
        _check(record)
        self._file.write(run_metrics.line(record))
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MetricsLog({str(self.path)!r})"


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """Every record of <run_dir>/metrics.jsonl in file order ([] when the file does not exist).

    A last line cut short (the process was killed while writing it) is left out; any other line that is not
    a JSON object raises ValueError naming the file and line.
    """
    return run_metrics.read(metrics_path(run_dir))


def truncate_after(run_dir: str | os.PathLike, step: int) -> int:
    """Drop the records whose step is greater than `step` (on resume); returns how many were dropped."""
    path = metrics_path(run_dir)
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for record in read_metrics(run_dir):
        s = record.get("step")
        if isinstance(s, (int, float)) and not isinstance(s, bool) and s > step:
            dropped += 1
        else:
            kept.append(run_metrics.line(record))
    safe.write_text(path.parent, path.name, text="".join(kept))
    return dropped


# --- selecting series ---------------------------------------------------------------------------------------


def select(records: Iterable[dict], kind: str) -> list[dict]:
    """The records of one kind, in order."""
    return [r for r in records if r.get("kind") == kind]


def as_float(v: Any) -> float:
    """A record value as a float: None, bools and non-numbers become NaN."""
    if isinstance(v, bool) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def series(records: Iterable[dict], kind: str, key: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, values) as float64 arrays from the records of `kind` that have `key` (null becomes NaN)."""
    xs, ys = [], []
    for r in records:
        if r.get("kind") == kind and key in r and x in r:
            xs.append(as_float(r[x]))
            ys.append(as_float(r[key]))
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)


def per_layer(record: dict, key: str) -> dict | None:
    """{layer: value} of one layers/activations record, in either of the two layouts.

    Grouped by layer: {"layers" or "stats": {layer: {key: v}}}; grouped by statistic: {key: {layer: v}}.
    """
    for group in ("layers", "stats"):
        by_layer = record.get(group)
        if isinstance(by_layer, dict):
            return {name: stats[key] for name, stats in by_layer.items()
                    if isinstance(stats, dict) and key in stats}
    by_stat = record.get(key)
    return by_stat if isinstance(by_stat, dict) else None


def layer_series(records: Iterable[dict], kind: str,
                 key: str) -> tuple[np.ndarray, list[str], np.ma.MaskedArray]:
    """(steps (T,), layer names (L,), values (L, T)) of one per-layer statistic of kind layers/activations.

    values is a masked float64 array: masked (data NaN) where a record has no value for a layer, so a
    logged NaN stays distinguishable from a missing one. Layers are in order of first appearance; only
    records that carry `key` for some layer count.
    """
    steps, columns, names = [], [], {}
    for r in records:
        if r.get("kind") != kind:
            continue
        values = per_layer(r, key)
        if not values:
            continue
        steps.append(as_float(r.get("step")))
        columns.append(values)
        for name in values:
            names.setdefault(name, len(names))
    matrix = np.full((len(names), len(columns)), np.nan)
    present = np.zeros(matrix.shape, dtype=bool)
    for t, values in enumerate(columns):
        for name, v in values.items():
            matrix[names[name], t] = as_float(v)
            present[names[name], t] = True
    return np.asarray(steps, dtype=np.float64), list(names), np.ma.MaskedArray(matrix, mask=~present)


def last(records: Iterable[dict], kind: str) -> dict | None:
    """The last record of a kind, or None."""
    found = None
    for r in records:
        if r.get("kind") == kind:
            found = r
    return found

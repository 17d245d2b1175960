"""Checkpoints in safetensors: nested training state split into arrays (tensors) and a JSON skeleton.

`pack` walks a nested state (dicts, lists, tuples, arrays, numbers, strings) and replaces every array with a
reference to a named tensor; the skeleton goes into the file's `__metadata__` as JSON, so Python ints (RNG
states), floats (repr round-trips exactly) and strings survive unchanged, and arrays keep their bits.

`Checkpoints` manages checkpoints/ in a run directory: step-NNNNNNNN.safetensors files written atomically,
index.json naming the latest and the best, the last K kept. A checkpoint whose model weights are not all
finite is not written, so it can never become the latest.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, io
from descend.tensor import Tensor

FORMAT = "descend-checkpoint-1"


def pack(state: Any, prefix: str = "") -> tuple[Any, dict[str, np.ndarray]]:
    """(JSON-able skeleton, {name: array}) for a nested state; arrays become {"__tensor__": name}."""
    tensors: dict[str, np.ndarray] = {}

    def walk(obj: Any, path: str) -> Any:
        if isinstance(obj, Tensor):
            obj = obj._data
        if isinstance(obj, np.ndarray) or type(obj).__module__.startswith("cupy"):
            tensors[path] = np.array(backend.to_numpy(obj), order="C")  # (ascontiguousarray makes 0-d 1-d)
            return {"__tensor__": path}
        if isinstance(obj, np.generic):
            tensors[path] = np.asarray(obj)
            return {"__scalar__": path}
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj) and "__tensor__" not in obj:
                return {k: walk(v, _join(path, k)) for k, v in obj.items()}
            return {"__items__": [[walk(k, _join(path, f"key{i}")), walk(v, _join(path, i))]
                                  for i, (k, v) in enumerate(obj.items())]}
        if isinstance(obj, tuple):
            return {"__tuple__": [walk(v, _join(path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [walk(v, _join(path, i)) for i, v in enumerate(obj)]
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            # JSON has no NaN/inf: keep them as tagged strings.
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        raise TypeError(f"checkpoint: cannot store a value of type {type(obj).__name__} at '{path}'")

    return walk(state, prefix), tensors


def _join(path: str, key: object) -> str:
    return f"{path}/{key}" if path else str(key)


def unpack(skeleton: Any, tensors: dict[str, np.ndarray]) -> Any:
    """The nested state back from `pack`'s output."""
    if isinstance(skeleton, list):
        return [unpack(v, tensors) for v in skeleton]
    if not isinstance(skeleton, dict):
        return skeleton
    if "__tensor__" in skeleton:
        return tensors[skeleton["__tensor__"]]
    if "__scalar__" in skeleton:
        return tensors[skeleton["__scalar__"]][()]
    if "__float__" in skeleton:
        return float(skeleton["__float__"])
    if "__tuple__" in skeleton:
        return tuple(unpack(v, tensors) for v in skeleton["__tuple__"])
    if "__items__" in skeleton:
        return {_hashable(unpack(k, tensors)): unpack(v, tensors) for k, v in skeleton["__items__"]}
    return {k: unpack(v, tensors) for k, v in skeleton.items()}


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def save(path: str | Path, state: dict) -> None:
    """Write a nested state to one safetensors file, atomically."""
    skeleton, tensors = pack(state)
    meta = {"format": FORMAT, "state": json.dumps(skeleton, allow_nan=False)}
    io.save_safetensors(path, tensors, metadata=meta)


def load(path: str | Path) -> dict:
    """Read a checkpoint written by `save` (ValueError naming the file if it is not one)."""
    tensors, meta = io.load_safetensors(path, with_metadata=True)
    if meta.get("format") != FORMAT or "state" not in meta:
        raise ValueError(f"{path}: not a descend checkpoint (no '{FORMAT}' metadata)")
    try:
        skeleton = json.loads(meta["state"])
    except ValueError as e:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({e})") from None
    return unpack(skeleton, tensors)


def all_finite(state_dict: dict) -> bool:
    """Whether every floating array in a model state dict is finite."""
    for v in state_dict.values():
        a = v._data if isinstance(v, Tensor) else v
        xp = backend.get_array_module(a)
        if getattr(a, "dtype", None) is not None and a.dtype.kind in "fc" and not bool(xp.isfinite(a).all()):
            return False
    return True


class Checkpoints:
    """checkpoints/ of a run: atomic step files, an index of latest and best, the last `keep` kept."""

    def __init__(self, directory: str | Path, keep: int = 3, monitor: str = "val_loss", mode: str = "auto") -> None:
        self.dir = Path(directory)
        self.keep = keep
        self.monitor = monitor
        if mode == "auto":
            mode = "max" if monitor.endswith("acc") or monitor in ("modes", "high_quality") else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"Checkpoints: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.mode = mode
        self.index = self._read_index()

    def _read_index(self) -> dict:
        path = self.dir / "index.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        return {"latest": None, "best": None, "best_value": None, "monitor": self.monitor, "kept": []}

    def _write_index(self) -> None:
        io.atomic_write_text(self.dir / "index.json", json.dumps(self.index, indent=2) + "\n")

    def is_better(self, value: float | None) -> bool:
        """Whether `value` of the monitored metric beats the best so far (NaN never does)."""
        if value is None or not math.isfinite(value):
            return False
        best = self.index.get("best_value")
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def save(self, state: dict, step: int, metric: float | None = None) -> Path | None:
        """Write state as step-<step>.safetensors; returns None (writing nothing) if the weights are non-finite."""
        if not all_finite(state["model"]):
            return None
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"step-{step:08d}.safetensors"
        save(self.dir / name, state)
        kept = [k for k in self.index["kept"] if k != name] + [name]
        self.index["latest"] = name
        if self.is_better(metric):
            self.index["best"], self.index["best_value"] = name, metric
        keep = set(kept[-self.keep:]) | ({self.index["best"]} if self.index["best"] else set())
        self.index["kept"] = [k for k in kept if k in keep]
        self._write_index()
        # Only after the index stops naming them are old files removed.
        for f in self.dir.glob("step-*.safetensors"):
            if f.name not in keep:
                f.unlink(missing_ok=True)
        return self.dir / name

    def path(self, which: str = "latest") -> Path | None:
        """The file of the 'latest' or 'best' checkpoint, or None."""
        name = self.index.get(which)
        return self.dir / name if name else None

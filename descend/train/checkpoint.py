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
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, io, rundir
from descend.rundir import codec
from descend.rundir import index as run_index
from descend._tensor import Tensor

FORMAT = "descend-checkpoint-1"


def pack(state: Any, prefix: str = "") -> tuple[Any, dict[str, np.ndarray]]:
    """(JSON-able skeleton, {name: array}) for a nested state; arrays become {"__tensor__": name}."""
    tensors: dict[str, np.ndarray] = {}

    def walk(obj: Any, path: str) -> Any:
        if isinstance(obj, Tensor):
            obj = obj._data
        if isinstance(obj, np.ndarray) or backend.is_device_array(obj):
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


def _crc(a: np.ndarray) -> str:
    """CRC-32 of an array's little-endian bytes, as 8 hex digits (as TensorFlow's bundles keep one per
    tensor: a flipped bit is found and named)."""
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return f"{zlib.crc32(a.reshape(-1).view(np.uint8)) & 0xFFFFFFFF:08x}"


def save(path: str | Path, state: dict) -> None:
    """Write a nested state to one safetensors file, atomically, with a CRC-32 of every tensor and of the
    JSON skeleton in the metadata."""
    skeleton, tensors = pack(state)
    text = json.dumps(skeleton, allow_nan=False)
    sums = {name: _crc(a) for name, a in tensors.items()}
    meta = {"format": FORMAT, "state": text, "state_crc32": f"{zlib.crc32(text.encode()) & 0xFFFFFFFF:08x}",
            "crc32": json.dumps(sums, sort_keys=True)}
    io.save_safetensors(path, tensors, metadata=meta)


def _verify(path: Path, meta: dict, tensors: dict) -> None:
    """Check the CRC-32s `save` wrote (files from before them carry none)."""
    if "crc32" not in meta and "state_crc32" not in meta:
        return
    text = meta["state"]
    if meta.get("state_crc32") != f"{zlib.crc32(text.encode()) & 0xFFFFFFFF:08x}":
        raise rundir.RunDirError(f"{path}: corrupt checkpoint: the training state (JSON metadata) fails its "
                                 f"checksum")
    sums = codec.loads(meta.get("crc32", ""), f"{path}: crc32 metadata", decode=False)
    if not isinstance(sums, dict) or set(sums) != set(tensors):
        raise rundir.RunDirError(f"{path}: corrupt checkpoint: the tensor checksums do not name the tensors "
                                 f"in the file")
    for name, a in tensors.items():
        if sums[name] != _crc(a):
            raise rundir.RunDirError(f"{path}: corrupt checkpoint: tensor '{name}' fails its checksum")


def _check_fields(path: Path, state: Any) -> None:
    """The trainer's scalar fields must be what it writes: non-negative integers."""
    if not isinstance(state, dict):
        raise rundir.RunDirError(f"{path}: corrupt checkpoint: the state is a {type(state).__name__}, "
                                 f"not a table")
    for key in ("step", "epoch", "batch", "metrics_offset"):
        if key not in state or (key == "metrics_offset" and state[key] is None):
            continue
        v = state[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**53:
            raise rundir.RunDirError(f"{path}: corrupt checkpoint: '{key}' must be an integer >= 0, got {v!r}")
    model = state.get("model")
    if isinstance(model, dict):
        for name, a in model.items():
            if isinstance(a, np.ndarray) and a.dtype.kind in "fc" and not np.isfinite(a).all():
                raise rundir.RunDirError(f"{path}: tensor 'model/{name}' holds non-finite values (NaN or "
                                         f"inf); the writer never stores such weights")


def load(path: str | Path) -> dict:
    """Read a checkpoint written by `save`: checksums verified, fields checked, model weights finite
    (ValueError naming the file, and the tensor or field, if it is not one)."""
    path = Path(path)
    os.close(rundir.safe.open_fd(path, os.O_RDONLY))  # a regular file (a FIFO would block the reader)
    tensors, meta = io.load_safetensors(path, with_metadata=True)
    if meta.get("format") != FORMAT or "state" not in meta:
        raise ValueError(f"{path}: not a descend checkpoint (no '{FORMAT}' metadata)")
    _verify(path, meta, tensors)
    skeleton = codec.loads(meta["state"], f"{path}: checkpoint metadata", decode=False)
    try:
        state = unpack(skeleton, tensors)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise rundir.RunDirError(f"{path}: corrupt checkpoint state ({type(e).__name__}: {e})") from None
    _check_fields(path, state)
    return state


def fit_to(expected: dict, loaded: dict, where: str) -> dict:
    """`loaded` (a model state dict from a checkpoint) made to fit a model's `expected` state dict: floating
    tensors cast to the model's float dtype as PyTorch's load_state_dict does; an integer or boolean tensor
    for a floating entry (or the reverse) refused, naming it."""
    out = dict(loaded)
    for name, want in expected.items():
        if name not in loaded:
            continue
        w = want._data if isinstance(want, Tensor) else want
        got = loaded[name]
        if not isinstance(got, np.ndarray) or getattr(w, "dtype", None) is None:
            continue
        if (w.dtype.kind in "fc") != (got.dtype.kind in "fc"):
            raise rundir.RunDirError(f"{where}: tensor '{name}' is {got.dtype} but the model expects {w.dtype}")
        if w.dtype.kind in "fc" and got.dtype != w.dtype:
            out[name] = got.astype(w.dtype)
    return out


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
        return run_index.read(self.dir, self.monitor)  # validated: names inside checkpoints/ only

    def _write_index(self) -> None:
        run_index.write(self.dir, self.index)

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
        if self.dir.is_symlink():
            raise rundir.RunDirError(f"{self.dir}: is a symbolic link; links are never followed inside a run")
        name = run_index.step_file(step)
        save(self.dir / name, state)
        written = set(self.index["kept"]) | {name}
        kept = [k for k in self.index["kept"] if k != name] + [name]
        self.index["latest"] = name
        if self.is_better(metric):
            self.index["best"], self.index["best_value"] = name, metric
        keep = set(kept[-self.keep:]) | ({self.index["best"]} if self.index["best"] else set())
        self.index["kept"] = [k for k in kept if k in keep]
        self._write_index()
        # Only after the index stops naming them are old files removed, and only files this writer named
        # (never a glob of the folder: whatever else is there is not ours to delete).
        for old in sorted(written - keep):
            (self.dir / old).unlink(missing_ok=True)
        return self.dir / name

    def path(self, which: str = "latest") -> Path | None:
        """The file of the 'latest' or 'best' checkpoint, or None."""
        name = self.index.get(which)
        return self.dir / name if name else None

"""A run directory: runs/<name>/ with config.toml, meta.json, metrics.jsonl, checkpoints/ and tb/.

An existing run is never overwritten: `Run.create` picks the first free name (`name`, `name-2`, ...).
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from descend import io


def free_run_dir(root: str | Path, name: str) -> Path:
    """The first of root/name, root/name-2, root/name-3, ... that does not exist (nothing is created)."""
    root = Path(root)
    path, n = root / name, 1
    while path.exists():
        n += 1
        path = root / f"{name}-{n}"
    return path


class Run:
    """An open run directory: `log(record)` appends to metrics.jsonl; `tb` is an optional TensorBoard writer."""

    def __init__(self, directory: str | Path, tb: Any = None) -> None:
        self.dir = Path(directory)
        self.tb = tb
        self._metrics = open(self.dir / "metrics.jsonl", "a", encoding="utf-8")

    @classmethod
    def create(cls, root: str | Path, name: str, config: dict | None = None, seed: int | None = None,
               config_text: str | None = None) -> "Run":
        """Make a new run directory under `root` (a free name) with meta.json and config.toml."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        while True:
            path = free_run_dir(root, name)
            try:
                path.mkdir()  # atomic: two processes cannot both get the same directory
                break
            except FileExistsError:
                continue
        (path / "checkpoints").mkdir()
        if config_text is not None:
            io.atomic_write_text(path / "config.toml", config_text)
        meta = {
            "seed": seed if seed is not None else (config or {}).get("seed"),
            "versions": versions(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "argv": list(sys.argv),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "resumed": [],
        }
        io.atomic_write_text(path / "meta.json", json.dumps(meta, indent=2) + "\n")
        return cls(path)

    @classmethod
    def reopen(cls, directory: str | Path, metrics_offset: int, step: int) -> "Run":
        """Open an existing run to continue it: cut metrics.jsonl back to `metrics_offset` bytes."""
        path = Path(directory)
        metrics = path / "metrics.jsonl"
        if metrics.exists():
            with open(metrics, "r+b") as f:
                f.truncate(metrics_offset)
        meta_path = path / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        meta.setdefault("resumed", []).append({"step": step, "argv": list(sys.argv),
                                               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        io.atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
        return cls(path)

    def log(self, record: dict) -> None:
        """Append one JSON object to metrics.jsonl (flushed, so a killed run keeps what it logged)."""
        self._metrics.write(json.dumps(_jsonable(record), allow_nan=False) + "\n")
        self._metrics.flush()

    def metrics_offset(self) -> int:
        """The byte length of metrics.jsonl so far (stored in checkpoints; resume cuts the file back to it)."""
        self._metrics.flush()
        return self._metrics.tell()

    def close(self) -> None:
        """Close metrics.jsonl and the TensorBoard writer."""
        if not self._metrics.closed:
            self._metrics.close()
        if self.tb is not None and hasattr(self.tb, "close"):
            self.tb.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"


def _jsonable(v: Any) -> Any:
    """A JSON-valid copy: non-finite floats as "NaN"/"Infinity"/"-Infinity" (descend.report reads them back)."""
    if isinstance(v, (bool, str, type(None))):
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return v if math.isfinite(v) else ("Infinity" if v > 0 else "-Infinity")
    if hasattr(v, "item"):  # a one-element Tensor
        return _jsonable(v.item())
    raise TypeError(f"metrics.jsonl: cannot write a value of type {type(v).__name__}")


def versions() -> dict:
    """descend, NumPy and Python versions."""
    import descend

    return {"descend": descend.__version__, "numpy": np.__version__, "python": platform.python_version()}

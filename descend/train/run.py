"""A run directory: runs/<name>/ with config.toml, meta.json, metrics.jsonl, checkpoints/ and tb/.

An existing run is never overwritten: `Run.create` picks the first free name (`name`, `name-2`, ...).
"""

from __future__ import annotations

import json
import platform
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from descend import rundir
from descend.rundir import codec, layout, safe

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
        self._lock = rundir.RunLock(self.dir)  # one writer per run; a second one stops here
        try:
            rundir.remove_temp_files(self.dir)  # left by a killed writer; ours are none yet
            self._metrics = safe.open_append(rundir.inside(self.dir, layout.METRICS))
        except BaseException:
            self._lock.release()
            raise

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
            safe.write_text(path, layout.CONFIG, text=config_text)
        meta = {
            "seed": seed if seed is not None else (config or {}).get("seed"),
            "versions": versions(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "argv": list(sys.argv),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "resumed": [],
        }
        if config_text is not None:  # what the run started with: a resume compares config.toml with it
            meta["config"] = tomllib.loads(config_text)
        safe.write_text(path, layout.META, text=json.dumps(meta, indent=2) + "\n")
        return cls(path)

    @classmethod
    def reopen(cls, directory: str | Path, metrics_offset: int, step: int) -> "Run":
        """Open an existing run to continue it: cut metrics.jsonl back to `metrics_offset` bytes."""
        path = Path(directory)
        lock = rundir.RunLock(path)  # before anything in the run changes
        try:
            metrics = rundir.inside(path, layout.METRICS)
            if metrics.exists():
                safe.truncate(metrics, metrics_offset)
            meta = read_meta(path)
            meta.setdefault("resumed", []).append({"step": step, "argv": list(sys.argv),
                                                   "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            write_meta(path, meta)
            return cls(path)
        finally:
            lock.release()  # the Run holds its own reference to the lock

    def log(self, record: dict) -> None:
        """Append one JSON object to metrics.jsonl (flushed, so a killed run keeps what it logged)."""
        self._metrics.write(codec.dumps(record) + "\n")
        self._metrics.flush()

    def metrics_offset(self) -> int:
        """The byte length of metrics.jsonl so far (stored in checkpoints; resume cuts the file back to it)."""
        self._metrics.flush()
        return self._metrics.tell()

    def close(self) -> None:
        """Close metrics.jsonl and the TensorBoard writer."""
        if not self._metrics.closed:
            self._metrics.close()
        self._lock.release()
        if self.tb is not None and hasattr(self.tb, "close"):
            self.tb.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"


def read_meta(path: str | Path) -> dict:
    """meta.json of a run ({} when absent or unreadable: it describes the run, nothing depends on it)."""
    try:
        meta = codec.loads(safe.read_text(rundir.inside(path, layout.META), 1 << 22), str(path), decode=False)
    except (OSError, rundir.RunDirError):
        return {}
    return meta if isinstance(meta, dict) else {}


def write_meta(path: str | Path, meta: dict) -> None:
    """Write meta.json atomically."""
    safe.write_text(path, layout.META, text=json.dumps(meta, indent=2) + "\n")


def versions() -> dict:
    """descend, NumPy and Python versions."""
    import descend

    return {"descend": descend.__version__, "numpy": np.__version__, "python": platform.python_version()}

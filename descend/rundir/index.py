"""checkpoints/index.json: which checkpoint is the latest and the best, and which files are kept.

Every entry must be a name the checkpoint writer makes (step-NNNNNNNN.safetensors): a plain file name inside
checkpoints/, so an index can never point outside the run ("../../other/..." or "/etc/passwd").
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from descend.rundir import codec, layout, safe
from descend.rundir.errors import RunDirError

STEP_FILE = re.compile(r"^step-\d{8,12}\.safetensors$")
MAX_INDEX_BYTES = 1 << 20


def step_file(step: int) -> str:
    """The file name of the checkpoint at `step`."""
    return f"step-{step:08d}.safetensors"


def check_entry(name: object, where: str) -> str:
    """A checkpoint name as the writer makes it, else RunDirError naming `where`."""
    if not isinstance(name, str) or not STEP_FILE.match(name):
        raise RunDirError(f"{where}: {name!r} is not a checkpoint file name (step-NNNNNNNN.safetensors in "
                          f"checkpoints/)")
    return name


def empty(monitor: str) -> dict:
    return {"latest": None, "best": None, "best_value": None, "monitor": monitor, "kept": []}


def validate(index: object, where: str, monitor: str) -> dict:
    """A checked copy of a parsed index (RunDirError naming the key that is wrong)."""
    if not isinstance(index, dict):
        raise RunDirError(f"{where}: expected a JSON object, got {type(index).__name__}")
    out = empty(monitor)
    for key in ("latest", "best"):
        v = index.get(key)
        out[key] = None if v is None else check_entry(v, f"{where}: '{key}'")
    value = index.get("best_value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or math.isnan(value)):
        raise RunDirError(f"{where}: 'best_value' must be a number or null, got {value!r}")
    out["best_value"] = value
    if isinstance(index.get("monitor"), str):
        out["monitor"] = index["monitor"]
    kept = index.get("kept", [])
    if not isinstance(kept, list) or len(kept) > 10_000:
        raise RunDirError(f"{where}: 'kept' must be a list of checkpoint names")
    out["kept"] = [check_entry(k, f"{where}: 'kept'") for k in kept]
    return out


def read(directory: str | os.PathLike, monitor: str = "val_loss") -> dict:
    """The validated index of a checkpoints/ folder (an empty one when there is no index.json)."""
    directory = Path(directory)
    if directory.is_symlink():
        raise RunDirError(f"{directory}: is a symbolic link; links are never followed inside a run")
    path = directory / layout.INDEX
    if not os.path.lexists(path):
        return empty(monitor)
    text = safe.read_text(path, MAX_INDEX_BYTES)
    return validate(codec.loads(text, str(path)), str(path), monitor)


def write(directory: str | os.PathLike, index: dict) -> None:
    """Write index.json atomically."""
    directory = Path(directory)
    safe.write_text(directory, layout.INDEX, text=codec.dumps(index, indent=2) + "\n")

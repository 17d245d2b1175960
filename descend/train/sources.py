"""What a run was made from, kept with the run: absolute data paths with their size and sha256, and a copy of
a user model file with its sha256 (sources.json). Evaluate, predict and resume build the model from the copy
and say when the data or the original model file has changed since training.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from descend import io

HASH_LIMIT = 512 * 2**20  # files (or folders) larger than this are recorded by size only
MODEL_COPY = "model.py"


def _data_path(name: str) -> tuple[str, str] | None:
    """(prefix, path) of the file or folder a data name refers to; None for generated data (mnist1d)."""
    kind, sep, arg = name.partition(":")
    if kind in ("fashion-mnist", "text"):
        return (kind + sep, arg) if arg else None
    if kind in ("mnist1d", "ring8", "grid25"):
        return None
    return "", name


def absolute(cfg: dict) -> dict:
    """A copy of `cfg` whose data path and model file path are absolute (runs work from any directory)."""
    from descend.models import is_custom

    cfg = copy.deepcopy(cfg)
    found = _data_path(cfg["data"]["name"])
    if found is not None and Path(found[1]).exists():  # (a missing path is left for recipe's message)
        cfg["data"]["name"] = found[0] + str(Path(found[1]).resolve())
    name = cfg["model"]["name"]
    if is_custom(name):
        head, sep, tail = name.rpartition(":")
        file, func = (head, sep + tail) if sep and head.endswith(".py") else (name, "")
        if Path(file).is_file():
            cfg["model"]["name"] = str(Path(file).resolve()) + func
    return cfg


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def fingerprint(path: str | Path) -> dict:
    """{"path", "size", "sha256"} of a file or a folder (its files' relative names and bytes, in order);
    sha256 is None above HASH_LIMIT bytes."""
    path = Path(path)
    files = _files(path)
    size = sum(p.stat().st_size for p in files)
    out: dict[str, Any] = {"path": str(path), "size": size, "sha256": None}
    if size <= HASH_LIMIT:
        h = hashlib.sha256()
        for p in files:
            if path.is_dir():
                h.update(str(p.relative_to(path)).encode() + b"\0")
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        out["sha256"] = h.hexdigest()
    return out


def _model_file(name: str) -> tuple[Path, str] | None:
    from descend.models import is_custom

    if not is_custom(name):
        return None
    head, sep, tail = name.rpartition(":")
    return (Path(head), tail or "build") if sep and head.endswith(".py") else (Path(name), "build")


def record(run_dir: Path, cfg: dict) -> None:
    """Write sources.json (data fingerprint, model file sha256) and copy a user model file into the run."""
    out: dict[str, Any] = {}
    found = _data_path(cfg["data"]["name"])
    if found is not None and Path(found[1]).exists():
        out["data"] = fingerprint(found[1])
    model = _model_file(cfg["model"]["name"])
    if model is not None:
        shutil.copyfile(model[0], run_dir / MODEL_COPY)
        out["model_file"] = {"path": str(model[0]), "function": model[1], "copy": MODEL_COPY,
                             "sha256": fingerprint(run_dir / MODEL_COPY)["sha256"]}
    io.atomic_write_text(run_dir / "sources.json", json.dumps(out, indent=2) + "\n")


def check(run_dir: Path, cfg: dict) -> tuple[dict, list[str]]:
    """(config building the model from the run's copy of the model file, warnings about changed sources)."""
    try:
        sources = json.loads((run_dir / "sources.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return cfg, []  # a run from before sources.json: nothing to check
    notes = []
    data = sources.get("data")
    if data is not None:
        path = Path(data["path"])
        if not path.exists():
            notes.append(f"the training data {path} no longer exists")
        else:
            now = fingerprint(path)
            if now["size"] != data["size"] or (now["sha256"] and now["sha256"] != data["sha256"]):
                notes.append(f"the data {path} has changed since training (size or sha256 differs)")
    model = sources.get("model_file")
    if model is not None:
        cfg = copy.deepcopy(cfg)
        copy_path = run_dir / model["copy"]
        if fingerprint(copy_path)["sha256"] != model["sha256"]:
            notes.append(f"{copy_path}: the run's copy of the model file was modified after training")
        cfg["model"]["name"] = f"{copy_path.resolve()}:{model['function']}"
        original = Path(model["path"])
        if not original.is_file():
            notes.append(f"the model file {original} no longer exists; using the run's copy {copy_path}")
        elif fingerprint(original)["sha256"] != model["sha256"]:
            notes.append(f"the model file {original} has changed since training; using the run's copy "
                         f"{copy_path}")
    return cfg, notes

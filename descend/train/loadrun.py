"""`descend.load_run`: a trained model back from its run directory, with its config, class names and the
preprocessing its training data went through (data.json), for predict, export and evaluate.

>>> run = descend.load_run("runs/mnist1d-cnn")                # doctest: +SKIP
>>> probs = descend.functional.softmax(run.model(x), dim=1)  # doctest: +SKIP
>>> model, config, classes = descend.load_run("runs/mnist1d-cnn", checkpoint="latest")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from descend import io
from descend.errors import UsageError


@dataclass
class LoadedRun:
    """A run's model (eval mode, checkpoint weights) and what it was trained on; unpacks as
    (model, config, classes)."""

    model: Any
    config: dict
    classes: list[str]
    input_shape: tuple
    preprocessing: dict
    checkpoint: Path
    step: int
    dir: Path
    notes: list[str] = field(default_factory=list)  # the data or model file changed since training

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.config, self.classes))


def open_run(run_dir: str | Path) -> tuple[Path, dict]:
    """(path, config) of a run directory (UsageError naming what is wrong)."""
    from descend.train import config as config_mod

    path = Path(run_dir)
    if not path.is_dir():
        raise UsageError(f"{path}: " + ("not a directory" if path.exists() else "no such run directory"))
    if not (path / "config.toml").is_file():
        raise UsageError(f"{path}: not a run directory (no config.toml)")
    return path, config_mod.load(path / "config.toml")


def checkpoint_file(path: Path, which: str | Path) -> Path:
    """The checkpoint file for 'best' (the latest when there is no best), 'latest' or a file path."""
    from descend.train.checkpoint import Checkpoints

    if str(which) not in ("best", "latest"):
        file = Path(which)
        if not file.is_file():
            raise UsageError(f"--checkpoint {file}: no such checkpoint file")
        return file
    index = path / "checkpoints" / "index.json"
    if not index.is_file():
        raise UsageError(f"{path}: no checkpoints yet (no checkpoints/index.json)")
    try:
        ckpts = Checkpoints(path / "checkpoints")
    except ValueError as e:
        raise UsageError(f"{index}: corrupt index ({e})") from None
    file = ckpts.path(str(which)) or ckpts.path("latest")
    if file is None:
        raise UsageError(f"{path}: no checkpoint recorded in {index}")
    if not file.is_file():
        raise UsageError(f"{file}: checkpoint named in {index} is missing")
    return file


def preprocessing(cfg: dict, data: Any) -> dict:
    """How raw inputs become model inputs for this run's data (stored in data.json, applied by predict)."""
    name = cfg["data"]["name"]
    if data.task == "lm":
        return {"kind": "text"}
    shape = data.input_shape
    image_folder = Path(name).is_dir() and not (Path(name) / "x.npy").is_file()
    if name.split(":")[0] == "fashion-mnist" or image_folder:
        mode = "L" if len(shape) == 2 or shape[0] == 1 else "RGB"
        return {"kind": "image", "mode": mode, "size": list(shape[-2:]), "divide_by": 255.0,
                "layout": "CHW" if len(shape) == 3 else "HW"}
    out = {"kind": "array"}
    if name.lower().endswith(".csv"):
        out["label_column"] = cfg["data"]["label_column"]
    return out


def data_info(cfg: dict, data: Any) -> dict:
    """data.json: input shape, classes, task and preprocessing of the run's data."""
    return {"input_shape": list(data.input_shape), "num_classes": data.num_classes, "task": data.task,
            "classes": list(data.classes) if data.classes else None,
            "preprocessing": preprocessing(cfg, data)}


def write_data_info(run_dir: Path, cfg: dict, data: Any) -> None:
    io.atomic_write_text(run_dir / "data.json", json.dumps(data_info(cfg, data), indent=2) + "\n")


def read_data_info(path: Path, cfg: dict) -> dict:
    """data.json, or (a run from before it) the same worked out by loading the run's data."""
    try:
        return json.loads((path / "data.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        from descend.train.recipe import load_data

        return data_info(cfg, load_data(cfg))


def load_run(run_dir: str | Path, checkpoint: str | Path = "best") -> LoadedRun:
    """The run's model in eval mode with the weights of `checkpoint` ("best", "latest" or a file)."""
    from descend import models
    from descend.train import sources
    from descend.train.checkpoint import load

    path, cfg = open_run(run_dir)
    build_cfg, notes = sources.check(path, cfg)
    info = read_data_info(path, cfg)
    file = checkpoint_file(path, checkpoint)
    try:
        state = load(file)
    except (ValueError, OSError, KeyError) as e:
        raise UsageError(f"{file}: {' '.join(str(e).split())}") from None
    shape = tuple(info["input_shape"])
    try:
        model = models.build(build_cfg["model"]["name"], shape, info["num_classes"],
                             dropout=cfg["model"]["dropout"])
        from descend.train.checkpoint import fit_to  # float64 -> float32 cast; int/bool for float refused

        model.load_state_dict(fit_to(model.state_dict(), state["model"], str(file)))
    except models.ModelError as e:
        raise UsageError(str(e)) from None
    except (ValueError, RuntimeError, KeyError) as e:
        raise UsageError(f"{file}: does not match the run's model: {' '.join(str(e).split())}") from None
    model.eval()
    classes = info.get("classes") or [str(i) for i in range(info["num_classes"])]
    return LoadedRun(model, cfg, classes, shape, info["preprocessing"], file, int(state.get("step", 0)), path,
                     notes)

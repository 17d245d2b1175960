"""`descend train --resume RUN_DIR`: reopen a run, check its checkpoint and config edits, and train on.

Split from cli.py (the command line's entry point), whose helpers it uses for the run itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from descend.cli import _callbacks, _distribute, _fit, _overrides, _rank, _tb_writer


def _where(flag: str, path: Path) -> str:
    """'--resume DIR' for a flag, just 'DIR' for a positional argument (the command already prefixes the line)."""
    return f"{flag} {path}" if flag else str(path)


def _open_run_dir(run_dir: str, flag: str) -> tuple[Path, dict]:
    """Check a run directory and load its config (UsageError naming what is wrong)."""
    from descend.train import config as config_mod
    from descend.train.config import UsageError

    path = Path(run_dir)
    if not path.exists():
        raise UsageError(f"{_where(flag, path)}: no such run directory")
    if not path.is_dir():
        raise UsageError(f"{_where(flag, path)}: not a directory")
    if not (path / "config.toml").is_file():
        raise UsageError(f"{_where(flag, path)}: not a run directory (no config.toml)")
    return path, config_mod.load(path / "config.toml")


def _load_checkpoint(path: Path, which: str, flag: str) -> tuple[Path, dict]:
    from descend.train.checkpoint import Checkpoints, load
    from descend.train.config import UsageError

    if which not in ("best", "latest"):
        file = Path(which)
        if not file.is_file():
            raise UsageError(f"--checkpoint {file}: no such checkpoint file")
    else:
        index = path / "checkpoints" / "index.json"
        if not index.is_file():
            raise UsageError(f"{_where(flag, path)}: no checkpoints yet (no checkpoints/index.json)")
        try:
            ckpts = Checkpoints(path / "checkpoints")
        except ValueError as e:
            raise UsageError(f"{index}: corrupt index ({e})") from None
        file = ckpts.path(which) or ckpts.path("latest")
        if file is None:
            raise UsageError(f"{_where(flag, path)}: no checkpoint recorded in {index}")
        if not file.is_file():
            raise UsageError(f"{file}: checkpoint named in {index} is missing")
    try:
        return file, load(file)
    except (ValueError, OSError, KeyError) as e:
        msg = " ".join(str(e).split())
        raise UsageError(msg if str(file) in msg else f"{file}: {msg}") from None


def _resume(args: argparse.Namespace) -> int:
    from descend.train import Run, recipe
    from descend.train.config import UsageError

    from descend import io
    from descend.train import sources

    overrides = _overrides(args)
    epochs = overrides.pop("--epochs", None)  # the one setting a resumed run may change: extend it
    given = list(overrides) + (["config"] if args.config else [])
    if given:
        raise UsageError(f"--resume continues a run with its own config.toml; drop {', '.join(given)} "
                         f"(only --epochs may extend it)")
    path, cfg = _open_run_dir(args.resume, "--resume")
    changes = _config_changes(path, cfg)  # edits of config.toml: applied, or refused in one line
    file, state = _load_checkpoint(path, "latest", "--resume")
    stopped = any(name == "EarlyStopping" and s.get("stopped_epoch") is not None for name, s in state["callbacks"])
    if epochs is not None and epochs != cfg["train"]["epochs"]:
        if epochs <= state["epoch"] or stopped:
            raise UsageError(f"--epochs {epochs}: the run has done {state['epoch']} epochs"
                             + (" and stopped early" if stopped else "") + "; it can only be extended")
        cfg["train"]["epochs"] = epochs
        extended = io.dump_toml(cfg)  # written once the checkpoint is known to fit
    else:
        extended = None
        if state["epoch"] >= cfg["train"]["epochs"] or stopped:
            print(f"{path}: the run is finished ({state['epoch']} epochs, step {state['step']}"
                  f"{', stopped early' if stopped else ''}); nothing to resume (extend it with "
                  f"--resume {path} --epochs N)")
            return 0
    cfg, notes = sources.check(path, cfg)  # the model is built from the run's copy of its model file
    for note in notes:
        sys.stderr.write(f"warning: {note}\n")
    prepared = _distribute(recipe.prepare(cfg), args)
    trainer = prepared.trainer(None, _callbacks(args))
    # Load before the run is touched, so a checkpoint that does not fit changes nothing.
    try:
        from descend.train.checkpoint import fit_to  # float64 -> float32 cast; int/bool for float refused

        state["model"] = fit_to(trainer.model.state_dict(), state["model"], str(file))
        reschedule = any(k == "optim.lr" or k.startswith("schedule.") for k in changes)
        if reschedule:
            state["scheduler"] = None  # the edited schedule replaces the saved one from this step on
        trainer.load_state_dict(state)
        if reschedule:
            _reschedule(trainer, cfg["optim"]["lr"])
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{file}: does not match the run's config: {' '.join(str(e).split())}") from None
    offset = state.get("metrics_offset") or 0
    metrics = path / "metrics.jsonl"
    if metrics.exists() and metrics.stat().st_size < offset:
        raise UsageError(f"{metrics}: shorter ({metrics.stat().st_size} bytes) than when {file.name} was "
                         f"written ({offset} bytes)")
    if _rank() != 0:
        return _fit(prepared, trainer, None)
    if extended is not None:
        io.atomic_write_text(path / "config.toml", extended)
        print(f"extending {path} to {epochs} epochs (the schedule is recomputed for the new length)", flush=True)
    run = Run.reopen(path, offset, state["step"])
    _record_changes(path, changes, state["step"])
    run.tb = _tb_writer(run.dir / "tb", purge_step=state["step"] + 1)
    trainer.attach(run)
    print(f"resuming {run.dir} from step {trainer.step} ({file.name})", flush=True)
    return _fit(prepared, trainer, run)


def _config_changes(path: Path, cfg: dict) -> dict:
    """{key: (old, new)} for the edits of a run's config.toml since it started (meta.json keeps the config it
    started with); UsageError listing the keys a resume cannot apply."""
    from descend.train import config as config_mod
    from descend.train.run import read_meta

    started = read_meta(path).get("config")
    if not isinstance(started, dict):
        return {}  # a run from before meta.json kept its config: nothing to compare with
    try:
        old = config_mod.validate(started, str(path / "meta.json"))
    except config_mod.UsageError:
        return {}
    changes = config_mod.resume_changes(old, cfg, str(path / "config.toml"))
    for key, (a, b) in changes.items():
        print(f"config.toml: {key} changed from {a!r} to {b!r}; applied from the resume step on", flush=True)
    return changes


def _reschedule(trainer: Any, lr: float) -> None:
    """Put the edited learning rate and schedule into effect at the trainer's current step (the schedule is
    the one the edited config describes for the whole run, evaluated from here on)."""
    for group in trainer.optimizer.param_groups:
        group["lr"] = group["initial_lr"] = lr
    s = trainer.scheduler
    if s is not None and hasattr(s, "_build"):
        s.base_lrs = [lr] * len(trainer.optimizer.param_groups)
        s._build()
        s.step(trainer.step if trainer.scheduler_interval == "step" else trainer.epoch)


def _record_changes(path: Path, changes: dict, step: int) -> None:
    """meta.json: the applied config edits, and the config the run now follows."""
    from descend.train import config as config_mod
    from descend.train.run import read_meta, write_meta

    meta = read_meta(path)
    if changes:
        meta.setdefault("config_changes", []).append(
            {"step": step, "changes": {k: {"from": a, "to": b} for k, (a, b) in changes.items()}})
    meta["config"] = config_mod.load(path / "config.toml")
    write_meta(path, meta)

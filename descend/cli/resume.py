"""`descend train --resume RUN_DIR`: reopen a run, check its checkpoint and config edits, and train on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from descend import io

from descend.cli import runs
from descend.cli.train import callbacks, distribute, fit, rank
from descend.errors import UsageError
from descend.train import config as config_mod


def _where(flag: str, path: Path) -> str:
    """'--resume DIR' for a flag, just 'DIR' for a positional argument (the command already prefixes the line)."""
    return f"{flag} {path}" if flag else str(path)


def _open_run_dir(run_dir: str, flag: str) -> tuple[Path, dict]:
    """Check a run directory and load its config (UsageError naming what is wrong)."""
    path = Path(run_dir)
    if not path.exists():
        raise UsageError(f"{_where(flag, path)}: no such run directory")
    if not path.is_dir():
        raise UsageError(f"{_where(flag, path)}: not a directory")
    if not (path / "config.toml").is_file():
        raise UsageError(f"{_where(flag, path)}: not a run directory (no config.toml)")
    return path, config_mod.load(path / "config.toml")


def _load_checkpoint(path: Path, which: str, flag: str) -> tuple[Path, dict]:
    from descend.train.checkpoint import load
    from descend.train.loadrun import checkpoint_file

    try:
        file = checkpoint_file(path, which)
    except UsageError as e:  # name the flag the run directory came from
        message = str(e)
        raise UsageError(_where(flag, path) + message[len(str(path)):] if message.startswith(f"{path}:")
                         else message) from None
    try:
        return file, load(file)
    except (ValueError, OSError, KeyError) as e:
        msg = " ".join(str(e).split())
        raise UsageError(msg if str(file) in msg else f"{file}: {msg}") from None


def resume(args: argparse.Namespace) -> int:
    """`descend train --resume RUN_DIR [--epochs N]`: train on from the latest checkpoint."""
    from descend.train import Run, recipe, sources

    epochs = _only_epochs(args)
    path, cfg = _open_run_dir(args.resume, "--resume")
    changes = _config_changes(path, cfg)  # edits of config.toml: applied, or refused in one line
    file, state = _load_checkpoint(path, "latest", "--resume")
    stopped = any(name == "EarlyStopping" and s.get("stopped_epoch") is not None for name, s in state["callbacks"])
    extended = _extension(cfg, state, epochs, stopped)
    if extended is None and (state["epoch"] >= cfg["train"]["epochs"] or stopped):
        print(f"{path}: the run is finished ({state['epoch']} epochs, step {state['step']}"
              f"{', stopped early' if stopped else ''}); nothing to resume (extend it with "
              f"--resume {path} --epochs N)")
        return 0
    cfg, notes = sources.check(path, cfg)  # the model is built from the run's copy of its model file
    for note in notes:
        sys.stderr.write(f"warning: {note}\n")
    prepared = distribute(recipe.prepare(cfg), args)
    trainer = prepared.trainer(None, callbacks(args))
    _load_state(trainer, state, file, changes, cfg["optim"]["lr"])  # before the run is touched
    offset = state.get("metrics_offset") or 0
    runs.check_metrics(path, file, offset)
    if rank() != 0:
        return fit(prepared, trainer, None)
    if extended is not None:
        io.atomic_write_text(path / "config.toml", extended)
        print(f"extending {path} to {epochs} epochs (the schedule is recomputed for the new length)", flush=True)
    run = Run.reopen(path, offset, state["step"])
    _record_changes(path, changes, state["step"])
    run.tb = runs.tb_writer(run.dir / "tb", purge_step=state["step"] + 1)
    trainer.attach(run)
    print(f"resuming {run.dir} from step {trainer.step} ({file.name})", flush=True)
    return fit(prepared, trainer, run)


def _only_epochs(args: argparse.Namespace) -> int | None:
    """The --epochs a resume may be given (the one setting it may change: extend the run); any other flag or
    a config file is refused."""
    overrides = config_mod.given(args)
    epochs = overrides.pop("--epochs", None)
    given = list(overrides) + (["config"] if args.config else [])
    if given:
        raise UsageError(f"--resume continues a run with its own config.toml; drop {', '.join(given)} "
                         f"(only --epochs may extend it)")
    return epochs


def _extension(cfg: dict, state: dict, epochs: int | None, stopped: bool) -> str | None:
    """The config.toml of a run extended to `epochs` (written once the checkpoint is known to fit), or None
    when the run keeps its length."""
    if epochs is None or epochs == cfg["train"]["epochs"]:
        return None
    if epochs <= state["epoch"] or stopped:
        raise UsageError(f"--epochs {epochs}: the run has done {state['epoch']} epochs"
                         + (" and stopped early" if stopped else "") + "; it can only be extended")
    cfg["train"]["epochs"] = epochs
    return io.dump_toml(cfg)


def _load_state(trainer: Any, state: dict, file: Path, changes: dict, lr: float) -> None:
    """Load a checkpoint into the trainer, with the config edits in effect; UsageError when it does not fit."""
    from descend.train.checkpoint import fit_to  # float64 -> float32 cast; int/bool for float refused

    try:
        state["model"] = fit_to(trainer.model.state_dict(), state["model"], str(file))
        reschedule = any(k == "optim.lr" or k.startswith("schedule.") for k in changes)
        if reschedule:
            state["scheduler"] = None  # the edited schedule replaces the saved one from this step on
        trainer.load_state_dict(state)
        if reschedule:
            _reschedule(trainer, lr)
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{file}: does not match the run's config: {' '.join(str(e).split())}") from None


def _config_changes(path: Path, cfg: dict) -> dict:
    """{key: (old, new)} for the edits of a run's config.toml since it started (meta.json keeps the config it
    started with); UsageError listing the keys a resume cannot apply."""
    from descend.train.run import read_meta

    started = read_meta(path).get("config")
    if not isinstance(started, dict):
        return {}  # a run from before meta.json kept its config: nothing to compare with
    try:
        old = config_mod.validate(started, str(path / "meta.json"))
    except UsageError:
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
    from descend.train.run import read_meta, write_meta

    meta = read_meta(path)
    if changes:
        meta.setdefault("config_changes", []).append(
            {"step": step, "changes": {k: {"from": a, "to": b} for k, (a, b) in changes.items()}})
    meta["config"] = config_mod.load(path / "config.toml")
    write_meta(path, meta)

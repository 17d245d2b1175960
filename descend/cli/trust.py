"""Code in run directories (descend.rundir.trust): a run's model file is imported only when this user signed it
at train time, or says --trust-code."""

from __future__ import annotations

import argparse
from pathlib import Path

CODE_COMMANDS = ("train", "evaluate", "predict", "export", "lr-find")  # commands that may import a run's code


def add_options(sub: argparse._SubParsersAction) -> None:
    """--trust-code on each command that may import a run's model file."""
    for name in CODE_COMMANDS:
        sub.choices[name].add_argument("--trust-code", action="store_true",
                                       help="import the run's model file even though you did not sign it")


def _code_run_dir(args: argparse.Namespace) -> str | None:
    """The run directory whose model file the command would import, or None."""
    if args.command not in CODE_COMMANDS:
        return None
    if args.command == "train":
        return args.resume
    if args.command == "lr-find":
        return None if getattr(args, "model", None) else args.run  # --model given: the user asked for it
    return args.run_dir


def check_code(args: argparse.Namespace) -> None:
    """Stop (exit 2, naming the file, its sha256 and --trust-code) before a run's model file is imported
    unless this user signed it at train time; built-in model names need no trust."""
    from descend import rundir
    from descend.models import is_custom
    from descend.train import config as config_mod
    from descend.train import sources

    run_dir = _code_run_dir(args)
    if not run_dir or not Path(run_dir).is_dir():
        return  # the command itself says what is wrong
    path = Path(run_dir)
    toml = rundir.inside(path, rundir.layout.CONFIG)
    if not toml.is_file():
        return
    cfg, _notes = sources.check(path, config_mod.load(toml))
    name = cfg["model"]["name"]
    if not is_custom(name):
        return
    head, sep, _func = name.rpartition(":")
    rundir.trust.require(path, head if sep and head.endswith(".py") else name, args.trust_code)


def sign_code(run_dir: Path) -> None:
    """Sign the run's copy of its model file with this user's key, so its own later commands trust it."""
    from descend import rundir
    from descend.train import sources

    copy = run_dir / sources.MODEL_COPY
    if copy.is_file() and not copy.is_symlink():
        rundir.trust.sign(run_dir, copy)

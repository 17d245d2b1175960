"""The `descend` command: the one parser, and the one place errors become exit statuses.

Bad input (config keys, values, data files, model/data mismatches, run directories) is a UsageError: one line
on stderr and exit code 2, before anything is written. An error of the disk or the system is one line and exit
code 1. Each command family lives in a module of this package (train, evaluate, resume, doctor, gan, diffusion).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from descend.errors import EXIT_DIVERGED, EXIT_USAGE, UsageError

__all__ = ["main", "parser", "standalone", "EXIT_USAGE", "EXIT_DIVERGED"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (and a hint for misspelt options) instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from descend.schema import did_you_mean

        if message.startswith("unrecognized arguments:"):
            known = _option_strings(self)
            for w in message.split(":", 1)[1].split():
                hint = did_you_mean(w.split("=")[0], known) if w.startswith("-") else None
                if hint:
                    message += f" (did you mean {hint}?)"
                    break
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _option_strings(p: argparse.ArgumentParser) -> list[str]:
    """Every option of a parser and of its subcommands."""
    out = []
    for a in p._actions:
        out += a.option_strings
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                out += _option_strings(sub)
    return sorted(set(out))


def parser() -> argparse.ArgumentParser:
    """The `descend` argument parser."""
    import descend
    from descend import report
    from descend.cli import diffusion, doctor, evaluate, gan, train, trust

    p = _Parser(prog="descend", description="descend: train neural networks, with a training doctor.",
                allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"descend {descend.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train.register(sub)
    evaluate.register(sub)
    doctor.add_train_options(sub.choices["train"])
    doctor.register(sub, report=report)
    gan.register(sub)
    diffusion.register(sub)
    trust.add_options(sub)
    return p


def standalone(register: Callable[[Any], None], argv: Sequence[str] | None, description: str,
               prog: str = "descend") -> int:
    """Run a command family alone (`python -m descend.gan ...`): its own parser, the same error handling."""
    p = _Parser(prog=prog, description=description, allow_abbrev=False)
    register(p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True))
    try:
        args = p.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with one line on stderr)."""
    from descend import distributed

    try:
        distributed.init()  # joins the MPI job under mpirun -n N (N > 1); nothing otherwise
    except distributed.DistributedError as e:
        sys.stderr.write(f"descend: error: {e}\n")
        return EXIT_USAGE
    p = parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv:  # `descend` alone: the commands, not a 60-epoch run
            p.print_help()
            return 0
        args = p.parse_args(argv)
        if args.command is None:  # `descend --epochs 5` (options only) trains the default
            args = p.parse_args(["train", *argv])
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run the parsed command (`args.func`); every error it raises becomes one line on stderr and a status."""
    from descend import distributed
    from descend.cli import trust
    from descend.rundir import RunDirError

    def say(message: str) -> None:
        sys.stderr.write(f"descend {args.command}: error: {' '.join(message.split())}\n")

    try:
        trust.check_code(args)
        return args.func(args)
    except UsageError as e:
        if distributed.rank() == 0:  # every rank finds the same error: say it once
            say(str(e))
        return EXIT_USAGE
    except RunDirError as e:  # a run directory that cannot be used (2), or one another process writes (1)
        say(str(e))
        return e.status
    except OSError as e:  # the disk or the system, not the input: exit 1, one line
        say(_os_error(e, args))
        return 1
    except MemoryError:
        say(f"out of memory{_survived(_writing(args))}")
        return 1
    except SystemExit as e:  # only user code exits from inside a command: a model file calling sys.exit
        say(f"the model file's code called sys.exit({e.code!r}) while it was imported or run")
        return EXIT_USAGE


def _survived(run_dir: Any) -> str:
    """What a failed command left intact in its run ('' when there is no run yet)."""
    if run_dir is None:
        return ""
    from descend import rundir

    try:
        latest = rundir.index.read(Path(run_dir) / rundir.layout.CHECKPOINTS)["latest"]
    except (OSError, ValueError):
        latest = None
    if latest is None:
        return f"; {run_dir} has no checkpoint yet"
    return f"; the checkpoint {latest} in {run_dir} is intact: fix this and run descend train --resume {run_dir}"


def _os_error(e: OSError, args: argparse.Namespace) -> str:
    """One line for an environment error: what failed, on which path, and what survived."""
    import errno

    what = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file too large",
            errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
            errno.ENAMETOOLONG: "file name too long", errno.ENOTDIR: "a path component is not a directory",
            errno.EDQUOT: "disk quota exceeded"}.get(e.errno, e.strerror or type(e).__name__)
    where = e.filename if e.filename is not None else "a file"
    return f"{where}: {what}{_survived(_writing(args))}"


def _writing(args: argparse.Namespace) -> Any:
    """The run directory a train command writes (None before it has one)."""
    return getattr(args, "_run_dir", None) or (getattr(args, "resume", None) if args.command == "train" else None)

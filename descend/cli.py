"""The `descend` command: `descend train` (the MNIST-1D paper's CNN by default) and `descend evaluate RUN_DIR`.

Bad input (config keys, values, data files, model/data mismatches, run directories) is reported as one line on
stderr with exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

EXIT_USAGE = 2
EXIT_DIVERGED = 3


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (and a hint for misspelt options) instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            known = _option_strings(self)
            for w in words:
                from descend.train.config import _did_you_mean

                hint = _did_you_mean(w.split("=")[0], known) if w.startswith("-") else None
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


def _train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a classifier (default: the MNIST-1D paper's CNN on MNIST-1D)",
                       description="Train a model; a TOML config file sets any option, flags override it.",
                       allow_abbrev=False)
    p.add_argument("config", nargs="?", help="TOML config file (sections: model, data, optim, schedule, train)")
    p.add_argument("--model", help="logistic, mlp, cnn, gru, transformer, mlp28, cnn28, resnet20 (also 32, 44, "
                                   "56), gpt (with text:PATH), or path/to/file.py:build")
    p.add_argument("--data", help="mnist1d, fashion-mnist[:DIR], text:PATH (a UTF-8 text, for --model gpt), or a "
                                  ".npz/.npy/.csv file or image folder")
    p.add_argument("--epochs", type=int, help="default 60")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--context", type=int, help="characters per training window with --data text:PATH (default 128)")
    p.add_argument("--optimizer", help="adam, adamw, sgd, rmsprop, adagrad")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--schedule", help="none, cosine (default), step, exponential, plateau, onecycle, cyclic")
    p.add_argument("--warmup", type=int, help="linear warm-up steps (with --schedule none or cosine)")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--l1", type=float, help="L1 penalty coefficient")
    p.add_argument("--dropout", type=float, help="dropout probability in the built-in models (default 0.3; 0: none)")
    p.add_argument("--val-split", type=float, metavar="FRACTION",
                   help="fraction of the training data held out (stratified, seeded) for validation and model "
                        "selection (default 0.1; 0: none)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="folder of run directories (default runs)")
    p.add_argument("--name", help="run name (default DATA-MODEL); a free name is chosen if it exists")
    p.add_argument("--ckpt-every", type=int, help="also checkpoint every N optimizer steps (0: epoch ends only)")
    p.add_argument("--clip-grad", type=float, help="clip the global gradient norm to this value (0: off)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _evaluate_parser(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test metrics of a run from its best (or latest) checkpoint",
                       allow_abbrev=False)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--checkpoint", default="best", help="best, latest, or a checkpoint file (default best)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")


def parser() -> argparse.ArgumentParser:
    """The `descend` argument parser."""
    import descend
    from descend.train import commands as train_commands

    p = _Parser(prog="descend", description="descend: train neural networks, with a training doctor.",
                allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"descend {descend.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _train_parser(sub)
    _evaluate_parser(sub)
    train_commands.register(sub)
    from descend import report
    from descend.doctor import commands as doctor_commands
    from descend.gan import commands as gan_commands

    doctor_commands.add_train_options(sub.choices["train"])
    doctor_commands.register(sub, report=report)
    gan_commands.register(sub)
    from descend.diffusion import commands as diffusion_commands

    diffusion_commands.register(sub)
    for name in _CODE_COMMANDS:
        sub.choices[name].add_argument("--trust-code", action="store_true",
                                       help="import the run's model file even though you did not sign it")
    return p


# --- code in run directories (descend.rundir.trust) ------------------------------------------------------

_CODE_COMMANDS = ("train", "evaluate", "predict", "export", "lr-find")  # commands that may import a run's code


def _code_run_dir(args: argparse.Namespace) -> str | None:
    """The run directory whose model file the command would import, or None."""
    if args.command not in _CODE_COMMANDS:
        return None
    if args.command == "train":
        return args.resume
    if args.command == "lr-find":
        return None if getattr(args, "model", None) else args.run  # --model given: the user asked for it
    return args.run_dir


def _check_code(args: argparse.Namespace) -> None:
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


def _sign_code(run_dir: Path) -> None:
    """Sign the run's copy of its model file with this user's key, so its own later commands trust it."""
    from descend import rundir
    from descend.train import sources

    copy = run_dir / sources.MODEL_COPY
    if copy.is_file() and not copy.is_symlink():
        rundir.trust.sign(run_dir, copy)


# --- errors ----------------------------------------------------------------------------------------------

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


# --- train -----------------------------------------------------------------------------------------------

def _overrides(args: argparse.Namespace) -> dict:
    from descend.train.config import FLAGS

    out = {}
    for flag in FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            out[flag] = value
    return out


def _tb_writer(directory: Path, purge_step: int | None = None) -> Any:
    """A TensorBoard writer for the run (None without tensorboardX: the run goes on without events)."""
    from descend.report import TBWriter

    try:
        return TBWriter(directory, purge_step=purge_step)
    except ImportError:
        sys.stderr.write("warning: tensorboardX is not installed; no TensorBoard events are written\n")
        return None


def _write_report(run_dir: Path) -> Path:
    from descend.report import build_report

    return build_report(run_dir)


def _train(args: argparse.Namespace) -> int:
    from descend import io
    from descend.train import Run, recipe
    from descend.train import config as config_mod
    from descend.train.config import UsageError

    if args.resume:
        from descend.cli_resume import _resume

        return _resume(args)
    from descend.train import sources

    cfg = sources.absolute(config_mod.load(args.config, _overrides(args)))  # the run works from anywhere
    prepared = _distribute(recipe.prepare(cfg), args)  # every check happens here, before anything is written
    name = cfg["name"] or f"{prepared.data.label}-{_model_label(cfg['model']['name'])}"
    if "/" in name or name in (".", ".."):
        raise UsageError(f"name: '{name}' is not a valid run name (no '/')")
    root = Path(cfg["out"])
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {root}: exists and is not a directory")
    trainer = prepared.trainer(None, _callbacks(args))
    if _rank() != 0:  # rank 0 alone writes the run directory
        return _fit(prepared, trainer, None)
    run = Run.create(root, name, seed=cfg["seed"], config_text=io.dump_toml(cfg))
    note = f" ({root / name} exists)" if run.dir != root / name else ""
    print(f"run directory: {run.dir}{note}", flush=True)
    args._run_dir = run.dir  # (named in the one line of an I/O error)
    _record_inputs(run.dir, cfg, prepared, quiet=args.quiet)
    _sign_code(run.dir)
    run.tb = _tb_writer(run.dir / "tb")
    trainer.attach(run)
    return _fit(prepared, trainer, run)


def _record_inputs(run_dir: Path, cfg: dict, prepared: Any, quiet: bool = False) -> None:
    """data.json (shape, classes, preprocessing), sources.json (data hash, model file copy) and
    model_summary.json (printed unless quiet); a note when no validation data is held out."""
    from descend import io
    from descend.train import loadrun, sources, summary

    loadrun.write_data_info(run_dir, cfg, prepared.data)
    sources.record(run_dir, cfg)
    model = getattr(prepared.model, "module", prepared.model)  # inside DistributedDataParallel
    try:
        table = summary.summarize(model, prepared.data.input_shape,
                                  "int64" if prepared.data.task == "lm" else "float32")
    except Exception:  # a summary is a courtesy: a model it cannot trace trains all the same
        table = None
    if table is not None:
        io.atomic_write_text(run_dir / "model_summary.json", json.dumps(table) + "\n")
        if not quiet:
            print(summary.text(table), flush=True)
    if prepared.val_loader is None and prepared.data.task != "lm":
        print("note: --val-split 0: no validation data, so no model selection or early stopping on it; the "
              "final weights are the model", flush=True)


def _callbacks(args: argparse.Namespace) -> list:
    """The doctor's callbacks (unless --no-doctor), then the progress bar (unless --quiet)."""
    from descend.doctor.commands import train_callbacks
    from descend.train import ProgressBar

    if _rank() != 0:  # the doctor and the progress bar run on rank 0, on metrics reduced over all ranks
        return []
    return train_callbacks(args) + ([] if args.quiet else [ProgressBar()])


def _rank() -> int:
    from descend import distributed

    return distributed.rank()


def _distribute(prepared: Any, args: argparse.Namespace) -> Any:
    """Under `mpirun -n N` (N > 1): the model wrapped in DistributedDataParallel and each rank's loader
    yielding its share of every global batch of --batch-size."""
    from descend import distributed
    from descend.train.config import UsageError

    world = distributed.world_size()
    if world == 1:
        return prepared
    if getattr(args, "on_divergence", None) == "rollback":
        raise UsageError("--on-divergence rollback restores rank 0's state only; under mpirun use stop or ignore")
    try:
        prepared.train_loader = distributed.ShardedLoader(prepared.train_loader)
    except ValueError as e:
        raise UsageError(f"--batch-size: {e}") from None
    prepared.model = distributed.DistributedDataParallel(prepared.model)
    return prepared


def _model_label(name: str) -> str:
    from descend.models import is_custom

    return Path(name.split(":")[0]).stem if is_custom(name) else name


def _fit(prepared: Any, trainer: Any, run: Any) -> int:
    from descend.train.commands import final_test

    start = time.perf_counter()
    if run is None:  # ranks other than 0: train, and leave the test, the report and the summary to rank 0
        trainer.fit()
        return 0
    try:
        trainer.fit()
    except KeyboardInterrupt:
        run.close()
        sys.stderr.write(f"interrupted; continue with: descend train --resume {run.dir}\n")
        return 130
    elapsed = time.perf_counter() - start
    for cb in trainer.callbacks:
        if type(cb).__name__ == "EarlyStopping" and cb.stopped_epoch is not None:
            print(f"early stopping: {cb.monitor} has not improved for {cb.patience} epochs (best "
                  f"{cb.best:.4g}); stopped after epoch {cb.stopped_epoch + 1} of {trainer.epochs}", flush=True)
    summary = {"step": trainer.step, "epoch": trainer.epoch}
    record = final_test(trainer, prepared, run)  # the test set is read here, once, on the selected model
    if record is not None and "test_acc" in record:
        summary.update(test_loss=record["test_loss"], test_acc=record["test_acc"])
    if record is not None:
        run.log(record)
        if run.tb is not None:
            run.tb.scalars_from_record(record)
    run.close()
    report = _write_report(run.dir)
    parts = [f"done: {trainer.step} steps in {elapsed:.1f}s"]
    if "test_acc" in summary:
        parts.append(f"test accuracy {100 * summary['test_acc']:.2f}% (loss {summary['test_loss']:.4f})")
    elif trainer.history and "val_bpc" in trainer.history[-1]:
        parts.append(f"validation {trainer.history[-1]['val_bpc']:.3f} bits/char")
    elif trainer.history and "val_acc" in trainer.history[-1]:
        parts.append(f"validation accuracy {100 * trainer.history[-1]['val_acc']:.2f}% (last epoch)")
    elif trainer.history:
        last = trainer.history[-1]
        parts.append(f"train accuracy {100 * last.get('train_acc', float('nan')):.2f}%")
    parts.append(f"run {run.dir}" + (f" (report {report})" if report else ""))
    print(" | ".join(parts), flush=True)
    if _diverged(trainer):  # a status scripts can test; the run directory is complete all the same
        sys.stderr.write(f"descend train: the run diverged (loss not finite or exploding); exit status "
                         f"{EXIT_DIVERGED}\n")
        return EXIT_DIVERGED
    return 0


def _diverged(trainer: Any) -> bool:
    """Whether the doctor stopped the run for divergence, or the last loss is not finite."""
    for cb in trainer.callbacks:
        found = getattr(cb, "found", None)
        if isinstance(found, dict) and {"divergence", "nan"} & set(found) and cb.on_divergence == "stop":
            return True
    loss = trainer.last_loss
    return loss is not None and not math.isfinite(float(loss.item()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with one line on stderr)."""
    from descend.train.config import UsageError

    from descend import distributed
    from descend.rundir import RunDirError

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
    try:
        _check_code(args)
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            from descend.train.commands import evaluate

            return evaluate(args)
        if hasattr(args, "doctor_command"):
            return args.doctor_command(args)
        return args.func(args)
    except UsageError as e:
        if distributed.rank() == 0:  # every rank finds the same error: say it once
            sys.stderr.write(f"descend {args.command}: error: {' '.join(str(e).split())}\n")
        return EXIT_USAGE
    except RunDirError as e:  # a run directory that cannot be used (2), or one another process writes (1)
        sys.stderr.write(f"descend {args.command}: error: {' '.join(str(e).split())}\n")
        return e.status
    except OSError as e:  # the disk or the system, not the input: exit 1, one line
        sys.stderr.write(f"descend {args.command}: error: {_os_error(e, args)}\n")
        return 1
    except MemoryError:
        where = _survived(_writing(args))
        sys.stderr.write(f"descend {args.command}: error: out of memory{where}\n")
        return 1
    except SystemExit as e:  # only user code exits from inside a command: a model file calling sys.exit
        sys.stderr.write(f"descend {args.command}: error: the model file's code called sys.exit({e.code!r}) "
                         f"while it was imported or run\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())

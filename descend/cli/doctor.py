"""The doctor's commands: `diagnose RUN_DIR`, `lr-find`, `report RUN_DIR`, and the `--on-divergence` options
of `train`.

`register(subparsers, report=descend.report)` adds the three subcommands (each parser's `func` is the
command); without the report layer `report` is unavailable and `lr-find` writes no chart. For `train`,
`add_train_options(train_parser)` adds --on-divergence/--doctor-every/--no-doctor and `train_callbacks(args)`
returns the callbacks to pass to the trainer. Bad input raises descend.errors.UsageError (one line).
Standalone: `python -m descend.doctor diagnose|lr-find|report ...` (`main(argv, report=...)`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from descend.doctor.doctor import DIAGNOSIS_FILE, ON_DIVERGENCE, Doctor, read_diagnoses
from descend.doctor.lr_find import lr_find
from descend.doctor.rules import Diagnosis, History, run_rules
from descend.errors import UsageError
from descend.train import config as train_config

# Train flags that mean nothing to an LR sweep (it runs no schedule, no epochs, writes no run directory).
_NOT_FOR_LR_FIND = ("--epochs", "--ckpt-every", "--out", "--name", "--keep", "--log-every", "--early-stopping",
                    "--monitor", "--accumulate",
                    *(flag for flag, (section, _key) in train_config.FLAGS.items() if section == "schedule"))


# --- train ------------------------------------------------------------------------------------------------------
def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Add the doctor's options to the `train` parser."""
    parser.add_argument("--on-divergence", choices=ON_DIVERGENCE, default="stop",
                        help="when the loss diverges or turns NaN: stop training (default), roll back to the "
                             "last good state with the LR divided by 10, or ignore it")
    parser.add_argument("--doctor-every", type=int, default=25, metavar="N",
                        help="steps between the doctor's per-layer and activation samples (default 25)")
    parser.add_argument("--sharpness-every", type=int, default=0, metavar="N",
                        help="every N steps (and at step 1) measure the loss's largest Hessian eigenvalue, so a "
                             "divergence or oscillation is explained by lr x sharpness (off by default: each "
                             "measurement costs ~20 backward passes)")
    parser.add_argument("--no-doctor", action="store_true", help="no monitoring or diagnoses")


def train_callbacks(args: argparse.Namespace, quiet: bool | None = None) -> list:
    """The doctor's callbacks for `descend train` ([] with --no-doctor)."""
    if getattr(args, "no_doctor", False):
        return []
    every = getattr(args, "doctor_every", 25)
    if every < 1:
        raise UsageError(f"--doctor-every: must be >= 1, got {every}")
    sharpness = getattr(args, "sharpness_every", 0) or 0
    if sharpness < 0:
        raise UsageError(f"--sharpness-every: must be >= 0, got {sharpness}")
    quiet = getattr(args, "quiet", False) if quiet is None else quiet
    return [Doctor(every=every, on_divergence=getattr(args, "on_divergence", "stop"), verbose=not quiet,
                   sharpness_every=sharpness)]


# --- diagnose ---------------------------------------------------------------------------------------------------
def _run_dir(path: str, command: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{command} {p}: no such run directory")
    if not p.is_dir():
        raise UsageError(f"{command} {p}: not a directory")
    return p


def _read_records(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line, parse_constant=float))
            except ValueError as e:
                raise UsageError(f"{path}:{n}: not a JSON object ({e})") from None
    return records


def diagnose_run(run_dir: str | Path) -> list[Diagnosis]:
    """Apply every rule to a finished run's metrics.jsonl (as the doctor would at the end of training)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise UsageError(f"{run_dir}: no metrics.jsonl to diagnose")
    history = History.from_records(_read_records(path))
    history.finished = True
    return run_rules(history)


def diagnose(args: argparse.Namespace) -> int:
    """`descend diagnose RUN_DIR`: print the run's diagnoses (recomputed from metrics.jsonl if asked or absent)."""
    run = _run_dir(args.run_dir, "diagnose")
    source = run / DIAGNOSIS_FILE
    if args.recompute or not source.is_file():
        found = diagnose_run(run)
        origin = f"recomputed from {run / 'metrics.jsonl'}"
    else:
        try:
            found = read_diagnoses(run)
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{source}: not a diagnosis file ({e})") from None
        origin = str(source)
    if args.json:
        print(json.dumps([d.to_dict() for d in found], indent=2, default=str))
        return 0
    problems = [d for d in found if d.severity != "info"]
    print(f"{run}: {len(problems) or 'no'} problem{'s' if len(problems) != 1 else ''} found ({origin})")
    for d in found:
        print(d.format())
    return 0


# --- lr-find ----------------------------------------------------------------------------------------------------
def _lr_find_parser(sub: Any) -> None:
    p = sub.add_parser("lr-find", help="learning-rate range test: sweep the LR, plot the loss, suggest an LR",
                       description="Sweep the learning rate exponentially for a few hundred steps on the "
                                   "training data (Smith 2015, as fastai's lr_find) and suggest a value. Takes "
                                   "the same config file and model/data/optimizer options as `train`.",
                       allow_abbrev=False)
    p.add_argument("config", nargs="?", help="TOML config file, as for train")
    train_config.add_flags(p, skip=(*_NOT_FOR_LR_FIND, "--lr"))
    p.add_argument("--lr", type=float, help="the LR you plan to train with: warned about if above the "
                                             "divergence point (default: the config's)")
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=10.0)
    p.add_argument("--num-iter", type=int, default=100, help="steps of the sweep (default 100)")
    p.add_argument("--run", metavar="RUN_DIR", help="use this run's config.toml and write lr_find.json into it "
                                                    "(its report then shows the test)")
    p.add_argument("--save", metavar="DIR", default="runs/lr_find",
                   help="where lr_find.json and lr_find.svg go without --run (default runs/lr_find, beside the runs)")
    p.set_defaults(func=lr_find_command)


def lr_find_command(args: argparse.Namespace) -> int:
    """`descend lr-find`: build model/data/optimizer as `train` would, sweep, print the suggestion."""
    from descend.train import recipe

    overrides = {k: v for k, v in train_config.given(args).items() if k not in _NOT_FOR_LR_FIND}
    if args.run:
        run = _run_dir(args.run, "lr-find --run")
        if args.config:
            raise UsageError("lr-find: give a config file or --run RUN_DIR, not both")
        if not (run / "config.toml").is_file():
            raise UsageError(f"lr-find --run {run}: not a run directory (no config.toml)")
        cfg = train_config.load(run / "config.toml", overrides)
        out = run
    else:
        cfg = train_config.load(args.config, overrides)
        out = Path(args.save)
    if not 0 < args.start_lr < args.end_lr:
        raise UsageError(f"lr-find: need 0 < --start-lr < --end-lr, got {args.start_lr} and {args.end_lr}")
    if args.num_iter < 3:
        raise UsageError(f"lr-find: --num-iter must be >= 3, got {args.num_iter}")
    prepared = recipe.prepare(cfg)
    if out.exists() and not out.is_dir():
        raise UsageError(f"lr-find: {out} exists and is not a directory")
    report_module = getattr(args, "report_module", None)
    result = lr_find(prepared.model, prepared.optimizer, prepared.train_loader, prepared.loss_fn,
                     start_lr=args.start_lr, end_lr=args.end_lr, num_iter=args.num_iter,
                     configured_lr=cfg["optim"]["lr"], out_dir=out, warn=False,
                     plot=getattr(report_module, "plot_lr_find", None))
    print(result.summary())
    print(f"wrote {out / 'lr_find.json'}" + (f" and {out / 'lr_find.svg'}" if (out / "lr_find.svg").exists()
                                               else ""))
    return 0


# --- report -----------------------------------------------------------------------------------------------------
def run_report(args: argparse.Namespace) -> int:
    """`descend report RUN_DIR`: (re)write RUN_DIR/report.html."""
    report_module = getattr(args, "report_module", None)
    if report_module is None:
        raise UsageError("report: the report layer was not passed to commands.register(); run `descend report`")
    run = _run_dir(args.run_dir, "report")
    if not (run / "metrics.jsonl").is_file():
        raise UsageError(f"report {run}: not a run directory (no metrics.jsonl)")
    print(report_module.build_report(run))
    return 0


# --- wiring -----------------------------------------------------------------------------------------------------
def register(subparsers: Any, report: Any = None) -> None:
    """Add `diagnose`, `lr-find` and `report` to an argparse subparsers object (`report`: descend.report)."""
    p = subparsers.add_parser("diagnose", help="show the training doctor's diagnoses of a run",
                              allow_abbrev=False)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--recompute", action="store_true",
                   help="apply the rules to metrics.jsonl again instead of reading diagnosis.json")
    p.add_argument("--json", action="store_true", help="print the diagnoses as JSON")
    p.set_defaults(func=diagnose)
    _lr_find_parser(subparsers)
    p = subparsers.add_parser("report", help="(re)generate RUN_DIR/report.html", allow_abbrev=False)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=run_report)
    for name in ("diagnose", "lr-find", "report"):
        subparsers.choices[name].set_defaults(report_module=report)


def main(argv: list[str] | None = None, report: Any = None) -> int:
    """`python -m descend.doctor COMMAND ...`: the same commands without the rest of the CLI."""
    from descend.cli import standalone

    return standalone(lambda sub: register(sub, report), argv, "The training doctor's commands.",
                      prog="python -m descend.doctor")

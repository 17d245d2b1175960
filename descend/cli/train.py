"""`descend train` (the MNIST-1D paper's CNN by default): every check happens before the run directory is
written; `--resume RUN_DIR` continues a run (descend/cli/resume.py)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from descend.cli import runs, trust
from descend.errors import EXIT_DIVERGED, UsageError
from descend.train import config as config_mod


def register(sub: Any) -> None:
    """Add `train` to the `descend` parser: a TOML file and a flag for every key of the config table."""
    p = sub.add_parser("train", help="train a classifier (default: the MNIST-1D paper's CNN on MNIST-1D)",
                       description="Train a model; a TOML config file sets any option, flags override it.",
                       allow_abbrev=False)
    p.add_argument("config", nargs="?", help="TOML config file (sections: model, data, optim, schedule, train)")
    config_mod.add_flags(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=train)


def train(args: argparse.Namespace) -> int:
    """`descend train`: a new run, or (with --resume) the rest of an old one."""
    from descend import io
    from descend.train import Run, recipe, sources

    if args.resume:
        from descend.cli.resume import resume

        return resume(args)
    cfg = sources.absolute(config_mod.load(args.config, config_mod.given(args)))  # the run works from anywhere
    prepared = distribute(recipe.prepare(cfg), args)  # every check happens here, before anything is written
    name = cfg["name"] or f"{prepared.data.label}-{_model_label(cfg['model']['name'])}"
    if "/" in name or name in (".", ".."):
        raise UsageError(f"name: '{name}' is not a valid run name (no '/')")
    root = Path(cfg["out"])
    runs.check_out(root)
    trainer = prepared.trainer(None, callbacks(args))
    if rank() != 0:  # rank 0 alone writes the run directory
        return fit(prepared, trainer, None)
    run = Run.create(root, name, seed=cfg["seed"], config_text=io.dump_toml(cfg))
    note = f" ({root / name} exists)" if run.dir != root / name else ""
    print(f"run directory: {run.dir}{note}", flush=True)
    args._run_dir = run.dir  # (named in the one line of an I/O error)
    _record_inputs(run.dir, cfg, prepared, quiet=args.quiet)
    trust.sign_code(run.dir)
    run.tb = runs.tb_writer(run.dir / "tb")
    trainer.attach(run)
    return fit(prepared, trainer, run)


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


def callbacks(args: argparse.Namespace) -> list:
    """The doctor's callbacks (unless --no-doctor), then the progress bar (unless --quiet)."""
    from descend.cli.doctor import train_callbacks
    from descend.train import ProgressBar

    if rank() != 0:  # the doctor and the progress bar run on rank 0, on metrics reduced over all ranks
        return []
    return train_callbacks(args) + ([] if args.quiet else [ProgressBar()])


def rank() -> int:
    from descend import distributed

    return distributed.rank()


def distribute(prepared: Any, args: argparse.Namespace) -> Any:
    """Under `mpirun -n N` (N > 1): the model wrapped in DistributedDataParallel and each rank's loader
    yielding its share of every global batch of --batch-size."""
    from descend import distributed

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


def fit(prepared: Any, trainer: Any, run: Any) -> int:
    """Train, score the selected model on the test set, write the report; exit 3 if the run diverged."""
    from descend.train.final_test import final_test

    start = time.perf_counter()
    if run is None:  # ranks other than 0: train, and leave the test, the report and the summary to rank 0
        trainer.fit()
        return 0
    if not runs.interruptible_fit(trainer, run, "train"):
        return 130
    elapsed = time.perf_counter() - start
    for cb in trainer.callbacks:
        if type(cb).__name__ == "EarlyStopping" and cb.stopped_epoch is not None:
            print(f"early stopping: {cb.monitor} has not improved for {cb.patience} epochs (best "
                  f"{cb.best:.4g}); stopped after epoch {cb.stopped_epoch + 1} of {trainer.epochs}", flush=True)
    record = final_test(trainer, prepared, run)  # the test set is read here, once, on the selected model
    if record is not None:
        run.log(record)
        if run.tb is not None:
            run.tb.scalars_from_record(record)
    run.close()
    report = runs.build_report(run.dir)
    print(_done_line(trainer, record, elapsed, run.dir, report), flush=True)
    if _diverged(trainer):  # a status scripts can test; the run directory is complete all the same
        sys.stderr.write(f"descend train: the run diverged (loss not finite or exploding); exit status "
                         f"{EXIT_DIVERGED}\n")
        return EXIT_DIVERGED
    return 0


def _done_line(trainer: Any, record: dict | None, elapsed: float, run_dir: Path, report: Any) -> str:
    """The closing line: steps, time, the test (or else validation, or else train) result, the run."""
    parts = [f"done: {trainer.step} steps in {elapsed:.1f}s"]
    last = trainer.history[-1] if trainer.history else {}
    if record is not None and "test_acc" in record:
        parts.append(f"test accuracy {100 * record['test_acc']:.2f}% (loss {record['test_loss']:.4f})")
    elif "val_bpc" in last:
        parts.append(f"validation {last['val_bpc']:.3f} bits/char")
    elif "val_acc" in last:
        parts.append(f"validation accuracy {100 * last['val_acc']:.2f}% (last epoch)")
    elif trainer.history:
        parts.append(f"train accuracy {100 * last.get('train_acc', float('nan')):.2f}%")
    parts.append(f"run {run_dir}" + (f" (report {report})" if report else ""))
    return " | ".join(parts)


def _diverged(trainer: Any) -> bool:
    """Whether the doctor stopped the run for divergence, or the last loss is not finite."""
    for cb in trainer.callbacks:
        found = getattr(cb, "found", None)
        if isinstance(found, dict) and {"divergence", "nan"} & set(found) and cb.on_divergence == "stop":
            return True
    loss = trainer.last_loss
    return loss is not None and not math.isfinite(float(loss.item()))

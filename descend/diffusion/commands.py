"""The `descend diffusion` command (registered into the CLI by `register(subparsers)`).

Command-line glue like descend.gan.commands, whose run-directory plumbing it reuses: sample drawings,
TensorBoard writer, report, checkpoint lookup. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from descend.diffusion import config as diff_config
from descend.gan import commands as gan_commands
from descend.train.config import UsageError

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add `diffusion` to the CLI's subparsers (func = run_diffusion)."""
    p = subparsers.add_parser("diffusion", help="train a denoising diffusion model (default: DDPM on ring8)",
                              description="Train a DDPM (epsilon-prediction) and score its samples as descend gan "
                                          "does; writes a run directory.", allow_abbrev=False)
    p.add_argument("--data", help="ring8, grid25, mnist1d, fashion-mnist[:DIR] (default ring8)")
    p.add_argument("--steps", type=int, help="optimizer steps (default 6000 on 2-D data, 3000 on images)")
    p.add_argument("--batch-size", type=int, help="samples per batch (default 128)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    p.add_argument("--lr-decay", help="linear (to 0 at the end; default) or none")
    p.add_argument("--arch", help="denoiser: mlp (2-D data, mnist1d) or unet (images, mnist1d)")
    p.add_argument("--width", type=int, help="MLP width (default 128) or U-Net base channels (default 16)")
    p.add_argument("--schedule", help="noise schedule: linear (Ho et al.; default) or cosine (Nichol & Dhariwal)")
    p.add_argument("--timesteps", type=int, help="diffusion steps T (default 1000)")
    p.add_argument("--ema-decay", type=float, help="EMA of the weights (default 0.995)")
    p.add_argument("--data-scale", type=float, help="multiply the data by this before noising (default: ring8 "
                                                     "10, grid25 2, images 1; a signal-to-noise shift)")
    p.add_argument("--sampler", help="ddim (deterministic with --eta 0; default) or ddpm (ancestral, T steps)")
    p.add_argument("--sample-steps", type=int, help="DDIM steps (default 50)")
    p.add_argument("--eta", type=float, help="DDIM's eta: 0 deterministic (default), 1 DDPM-like noise")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="folder of run directories (default runs)")
    p.add_argument("--name", help="run name (default diffusion-DATA); a free name is chosen if it exists")
    p.add_argument("--log-every", type=int, help="steps between logged loss averages (default 50)")
    p.add_argument("--eval-every", type=int, help="steps between sample metrics (default 1000 / 500)")
    p.add_argument("--sample-every", type=int, help="steps between sample plots in samples/ (default = eval)")
    p.add_argument("--eval-samples", type=int, help="samples scored per evaluation (default 2500 / 500)")
    p.add_argument("--ckpt-every", type=int, help="steps between checkpoints (default 1000 / 500; 0: end only)")
    p.add_argument("--keep", type=int, help="latest checkpoints kept (default 3)")
    p.add_argument("--judge-epochs", type=int, help="epochs of the classifier judging image samples")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a diffusion run from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_diffusion)


def _overrides(args: argparse.Namespace) -> dict:
    out = {}
    for flag in diff_config.FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            out[flag] = value
    return out


def _progress(total: int, kind: str, quiet: bool) -> Any:
    def show(record: dict) -> None:
        if quiet or not ("modes" in record or "classes_covered" in record):
            return
        buckets = " ".join(f"{record[k]:.3f}" for k in sorted(record) if k.startswith("loss_t"))
        line = f"step {record['step']}/{total}  loss {record['loss']:.4f}  (per t-quarter {buckets}) | "
        if kind == "mixture":
            line += (f"modes {record['modes']}/{record['num_modes']}  high quality {100 * record['high_quality']:.1f}%"
                     f" (raw {100 * record.get('raw_high_quality', float('nan')):.1f}%)  reverse KL "
                     f"{record['reverse_kl']:.3f}")
        else:
            line += (f"classes {record['classes_covered']}/{record['num_classes']}  entropy "
                     f"{record['class_entropy']:.2f}  near-duplicates {100 * record['near_duplicates']:.0f}%")
        print(line + f"  | {record['ms_per_step']:.0f} ms/step", flush=True)
    return show


def _trainer(cfg: dict, data: Any, diffusion: Any, run: Any = None, evaluator: Any = None,
             quiet: bool = True) -> Any:
    from descend.diffusion.loop import DiffusionTrainer
    from descend.diffusion.recipe import Sampler

    t = cfg["train"]
    extra: dict = {}
    if run is not None:
        extra = {"run": run, "evaluator": evaluator, "on_samples": gan_commands.SampleDrawer(run, data),
                 "on_record": _progress(t["steps"], data.kind, quiet)}
    return DiffusionTrainer(diffusion, data.x, steps=t["steps"], batch_size=cfg["data"]["batch_size"],
                            seed=cfg["seed"], sampler=Sampler(diffusion, cfg),
                            raw_sampler=Sampler(diffusion, cfg, model=diffusion.model), log_every=t["log_every"],
                            eval_every=t["eval_every"], sample_every=t["sample_every"], ckpt_every=t["ckpt_every"],
                            keep=t["keep"], lr_decay=cfg["optim"]["lr_decay"], **extra)


def run_diffusion(args: argparse.Namespace) -> int:
    """`descend diffusion`: train, or continue with --resume."""
    from descend import io
    from descend.diffusion import recipe
    from descend.train.run import Run

    if args.resume:
        return _resume(args)
    cfg = diff_config.from_flags(_overrides(args))
    data = recipe.load_data(cfg)
    if cfg["data"]["batch_size"] > len(data.x):
        raise UsageError(f"--batch-size {cfg['data']['batch_size']}: {data.name} has only {len(data.x)} samples")
    diffusion = recipe.build_diffusion(cfg, data)
    root = Path(cfg["out"])
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {root}: exists and is not a directory")
    name = recipe.run_name(cfg)
    run = Run.create(root, name, seed=cfg["seed"], config_text=io.dump_toml(cfg))
    if not args.quiet:
        note = f" ({root / name} exists)" if run.dir != root / name else ""
        print(f"run directory: {run.dir}{note}", flush=True)
    run.tb = gan_commands._tb_writer(run.dir / "tb")
    if data.kind == "image" and not args.quiet:
        print("training a classifier of the real data to judge the samples ...", flush=True)
    evaluator = recipe.evaluator(cfg, data, run.dir)
    return _fit(_trainer(cfg, data, diffusion, run, evaluator, args.quiet), run, args.quiet)


def _fit(trainer: Any, run: Any, quiet: bool) -> int:
    from descend.diffusion import diagnose

    start = time.perf_counter()
    try:
        trainer.fit()
    except KeyboardInterrupt:
        run.close()
        sys.stderr.write(f"interrupted; continue with: descend diffusion --resume {run.dir}\n")
        return 130
    run.close()
    findings = diagnose.write(run.dir, trainer)
    report = gan_commands._build_report(run.dir)
    if not quiet:
        for f in findings:
            print(f"doctor: [{f['severity']}] {f['title']}: {f['evidence']}", flush=True)
        print(gan_commands.done_line(trainer, start, run.dir, report), flush=True)
    return 0


def open_run(run_dir: str, flag: str) -> tuple[Path, dict]:
    """(path, validated config) of a diffusion run directory; UsageError naming the flag otherwise."""
    return gan_commands.open_task_run(run_dir, flag, "diffusion", diff_config.validate)


def _resume(args: argparse.Namespace) -> int:
    from descend.diffusion import recipe
    from descend.train.run import Run

    given = _overrides(args)
    if given:
        raise UsageError(f"--resume continues a run with its own config.toml; drop {', '.join(given)}")
    path, cfg = open_run(args.resume, "--resume")
    file = gan_commands._latest(path, "--resume")
    state = gan_commands._load_state(file)
    data = recipe.load_data(cfg)
    diffusion = recipe.build_diffusion(cfg, data)
    offset = state.get("metrics_offset") or 0
    metrics = path / "metrics.jsonl"
    if metrics.exists() and metrics.stat().st_size < offset:
        raise UsageError(f"{metrics}: shorter ({metrics.stat().st_size} bytes) than when {file.name} was written "
                         f"({offset} bytes)")
    records = gan_commands._gan_records(path, offset)
    probe = _trainer(cfg, data, diffusion)
    try:
        probe.load_state_dict(state, records)  # the checkpoint fits before the run is touched
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{file}: does not match the run's config: {' '.join(str(e).split())}") from None
    run = Run.reopen(path, offset, state["step"])
    run.tb = gan_commands._tb_writer(run.dir / "tb", purge_step=state["step"] + 1)
    evaluator = recipe.evaluator(cfg, data, run.dir)
    trainer = _trainer(cfg, data, diffusion, run, evaluator, args.quiet)
    trainer.load_state_dict(state, records)
    if not args.quiet:
        print(f"resuming {run.dir} from step {trainer.step} ({file.name})", flush=True)
    return _fit(trainer, run, args.quiet)


def parser() -> argparse.ArgumentParser:
    """A parser with only the diffusion command (`python -m descend.diffusion`)."""
    from descend.cli import _Parser

    p = _Parser(prog="descend", description="descend diffusion", allow_abbrev=False)
    register(p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run `diffusion`; bad input is one line on stderr and exit code 2."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        sys.stderr.write(f"descend {args.command}: error: {' '.join(str(e).split())}\n")
        return EXIT_USAGE

"""`descend diffusion`: train a DDPM and score its samples as `descend gan` does. Bad input is one line on stderr
and exit code 2."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

from descend.cli import runs
from descend.diffusion import config as diff_config
from descend.errors import UsageError


def register(subparsers: Any) -> None:
    """Add `diffusion` to the CLI's subparsers (func = run_diffusion)."""
    p = subparsers.add_parser("diffusion", help="train a denoising diffusion model (default: DDPM on ring8)",
                              description="Train a DDPM (epsilon-prediction) and score its samples as descend gan "
                                          "does; writes a run directory.", allow_abbrev=False)
    diff_config.add_flags(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a diffusion run from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_diffusion)


def _progress(total: int, kind: str, quiet: bool) -> Any:
    def show(record: dict) -> None:
        if quiet or not ("modes" in record or "classes_covered" in record):
            return
        buckets = " ".join(f"{record[k]:.3f}" for k in sorted(record) if k.startswith("loss_t"))
        line = f"step {record['step']}/{total}  loss {record['loss']:.4f}  (per tenth of t {buckets}) | "
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
        extra = {"run": run, "evaluator": evaluator, "on_samples": runs.SampleDrawer(run, data),
                 "on_record": _progress(t["steps"], data.kind, quiet)}
    trainer = DiffusionTrainer(diffusion, data.x, steps=t["steps"], batch_size=cfg["data"]["batch_size"],
                               seed=cfg["seed"], sampler=Sampler(diffusion, cfg),
                               raw_sampler=Sampler(diffusion, cfg, model=diffusion.model), log_every=t["log_every"],
                               eval_every=t["eval_every"], sample_every=t["sample_every"],
                               ckpt_every=t["ckpt_every"], keep=t["keep"], lr_decay=cfg["optim"]["lr_decay"], **extra)
    if trainer.doctor is not None:
        trainer.doctor.verbose = not quiet  # findings are printed live, the moment they first hold
    return trainer


def _diagnose(quiet: bool) -> Any:
    """What follows a finished diffusion run: the doctor's findings, written and (unless quiet) printed."""
    def finish(run: Any, trainer: Any) -> None:
        from descend.diffusion import diagnose

        live = getattr(getattr(trainer, "doctor", None), "verbose", False)  # then it printed each finding itself
        for f in diagnose.write(run.dir, trainer):
            if not quiet and not live:
                print(f"doctor: [{f['severity']}] {f['title']}: {f['evidence']}", flush=True)
    return finish


def run_diffusion(args: argparse.Namespace) -> int:
    """`descend diffusion`: train, or continue with --resume."""
    from descend.diffusion import recipe

    if args.resume:
        return runs.resume(args, "diffusion", diff_config, recipe, recipe.build_diffusion, _trainer,
                           _diagnose(args.quiet))
    cfg = diff_config.from_flags(diff_config.given(args))
    data = recipe.load_data(cfg)
    if cfg["data"]["batch_size"] > len(data.x):
        raise UsageError(f"--batch-size {cfg['data']['batch_size']}: {data.name} has only {len(data.x)} samples")
    diffusion = recipe.build_diffusion(cfg, data)
    run = runs.create_run(cfg, recipe.run_name(cfg), args.quiet)
    if data.kind == "image" and not args.quiet:
        print("training a classifier of the real data to judge the samples ...", flush=True)
    evaluator = recipe.evaluator(cfg, data, run.dir)
    trainer = _trainer(cfg, data, diffusion, run, evaluator, args.quiet)
    return runs.fit(trainer, run, args.quiet, "diffusion", _diagnose(args.quiet))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m descend.diffusion diffusion ...`: the command without the rest of the CLI."""
    from descend.cli import standalone

    return standalone(register, argv, "descend diffusion")

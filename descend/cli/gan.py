"""`descend gan` and `descend detect`. Bad input is one line on stderr and exit code 2, before anything is
written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from descend.cli import runs
from descend.errors import UsageError
from descend.gan import config as gan_config


def register(subparsers: Any) -> None:
    """Add `gan` and `detect` to the CLI's subparsers; each sets `func` to its command function."""
    _gan_parser(subparsers)
    _detect_parser(subparsers)


def _gan_parser(sub: Any) -> None:
    p = sub.add_parser("gan", help="train a GAN (default: the PacGAN protocol on the ring of 8 Gaussians)",
                       description="Train a GAN and watch it for mode collapse; writes a run directory.",
                       allow_abbrev=False)
    gan_config.add_flags(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a gan run from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_gan)


def _detect_parser(sub: Any) -> None:
    p = sub.add_parser("detect", help="train a real-vs-generated classifier and test it on another generator",
                       description="Train a detector on real samples vs samples of one generator (a descend gan "
                                   "run), then report its accuracy on held-out fakes of that generator and on "
                                   "fakes of a different one (another architecture or an earlier checkpoint).",
                       allow_abbrev=False)
    p.add_argument("--fake", required=True, metavar="RUN_OR_CKPT",
                   help="generator to train against: a gan run directory (latest checkpoint) or a checkpoint file")
    p.add_argument("--cross", required=True, metavar="RUN_OR_CKPT",
                   help="a different generator of the same data, for the cross-generator accuracy")
    p.add_argument("--model", help="detector: a built-in model (default cnn for mnist1d, mlp28 for "
                                   "fashion-mnist, mlp for 2-D data)")
    p.add_argument("--epochs", type=int, default=None, help="detector training epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=None, help="default 100")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    p.add_argument("--samples", type=int, default=None,
                   help="real training samples (and as many fakes) at most (default 4000)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--augment", default=None, help="none (default) or blur+jpeg: Wang et al. 2020's blur and "
                                                   "JPEG augmentation of the training samples (images, signals)")
    p.add_argument("--out", default=None, help="folder of run directories (default runs)")
    p.add_argument("--name", default=None, help="run name (default detect-DATA)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run_detect)


# --- gan -----------------------------------------------------------------------------------------------------

def _progress(total: int, kind: str, quiet: bool) -> Any:
    def show(record: dict) -> None:
        if quiet or not ("modes" in record or "classes_covered" in record):
            return
        line = (f"step {record['step']}/{total}  d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
                f"D(real) {record['d_real']:.2f}  D(fake) {record['d_fake']:.2f}  ")
        for key, label in (("wdist", "W estimate"), ("gp", "gp"), ("r1", "R1")):
            if key in record:
                line += f"{label} {record[key]:.3g}  "
        line += "| "
        if kind == "mixture":
            line += (f"modes {record['modes']}/{record['num_modes']}  high quality "
                     f"{100 * record['high_quality']:.1f}%  reverse KL {record['reverse_kl']:.3f}")
        else:
            line += (f"classes {record['classes_covered']}/{record['num_classes']}  entropy "
                     f"{record['class_entropy']:.2f}  near-duplicates {100 * record['near_duplicates']:.0f}%")
        print(line + f"  | {record['ms_per_step']:.0f} ms/step", flush=True)
    return show


def _setting(cfg: dict, data: Any) -> Any:
    from descend.gan.diagnose import Setting

    return Setting(data.kind, cfg["train"]["steps"], num_modes=len(data.modes) if data.modes is not None else 0,
                   num_classes=data.num_classes, label_smoothing=cfg["gan"]["label_smoothing"],
                   loss=cfg["gan"]["loss"])


def _trainer(cfg: dict, data: Any, gan: Any, run: Any = None, evaluator: Any = None, quiet: bool = True) -> Any:
    """The GAN trainer of a run (without a run: a bare one, to check that a checkpoint fits)."""
    from descend.gan.diagnose import GanDoctor
    from descend.gan.loop import GanTrainer

    t = cfg["train"]
    if run is None:
        return GanTrainer(gan, data.x, steps=t["steps"], batch_size=cfg["data"]["batch_size"], seed=cfg["seed"])
    doctor = GanDoctor(_setting(cfg, data), run.dir, verbose=not quiet, tb=run.tb)
    return GanTrainer(gan, data.x, steps=t["steps"], batch_size=cfg["data"]["batch_size"], seed=cfg["seed"],
                      evaluator=evaluator, log_every=t["log_every"], eval_every=t["eval_every"],
                      sample_every=t["sample_every"], ckpt_every=t["ckpt_every"], keep=t["keep"], run=run,
                      doctor=doctor, on_samples=runs.SampleDrawer(run, data),
                      on_record=_progress(t["steps"], data.kind, quiet), lr_decay=cfg["optim"]["lr_decay"])


def run_gan(args: argparse.Namespace) -> int:
    """`descend gan`: train, or continue with --resume."""
    from descend import distributed
    from descend.gan import recipe

    if distributed.world_size() > 1:  # N copies would each write a run directory: refuse instead
        raise UsageError(f"descend gan runs in one process; under mpirun -n {distributed.world_size()} "
                         f"use descend train (data-parallel GAN training is not implemented)")
    if args.resume:
        return runs.resume(args, "gan", gan_config, recipe, recipe.build_gan, _trainer)
    cfg = gan_config.from_flags(gan_config.given(args))
    data = recipe.load_data(cfg)
    recipe.check(cfg, data)
    gan = recipe.build_gan(cfg, data)
    run = runs.create_run(cfg, recipe.run_name(cfg), args.quiet)
    if data.kind == "image" and not args.quiet:
        print("training a classifier of the real data to judge the samples ...", flush=True)
    evaluator = recipe.evaluator(cfg, data, run.dir)
    if data.kind == "image" and not args.quiet:
        print(f"classifier test accuracy {100 * evaluator.accuracy:.1f}%", flush=True)
    return runs.fit(_trainer(cfg, data, gan, run, evaluator, args.quiet), run, args.quiet, "gan")


# --- detect --------------------------------------------------------------------------------------------------

def _detect_inputs(args: argparse.Namespace) -> tuple[dict, Any, Any]:
    """(options, the generator to train against, the other generator), checked."""
    from descend.gan import detect

    opts = detect.options(model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          samples=args.samples, seed=args.seed, augment=args.augment)
    a = detect.load_generator(args.fake, "--fake")
    b = detect.load_generator(args.cross, "--cross")
    if a.data_name != b.data_name:
        raise UsageError(f"--cross {args.cross}: trained on {b.data_name}, but --fake {args.fake} on {a.data_name}; "
                         f"both generators must model the same data")
    if opts["augment"] != "none" and a.data.kind == "mixture":
        raise UsageError(f"--augment {opts['augment']}: blurs and compresses images and signals, not 2-D points")
    return opts, a, b


def run_detect(args: argparse.Namespace) -> int:
    """`descend detect`: in-distribution vs cross-generator accuracy of a real-vs-fake classifier."""
    from descend import io
    from descend.gan import detect
    from descend.train.run import Run

    opts, a, b = _detect_inputs(args)
    sets = detect.make_sets(a, b, opts)
    model = detect.build_detector(opts, a.data)
    root = Path(args.out or "runs")
    runs.check_out(root)
    name = args.name or f"detect-{a.data_name.split(':', 1)[0]}"
    if "/" in name or name in (".", ".."):
        raise UsageError(f"--name '{name}': not a valid run name (no '/')")
    cfg = {"seed": opts["seed"], "fake": str(a.source), "cross": str(b.source),
           "detect": {k: v for k, v in opts.items() if k != "seed"}}
    run = Run.create(root, name, seed=opts["seed"], config_text=io.dump_toml(cfg))
    if not args.quiet:
        print(f"run directory: {run.dir}", flush=True)
    run.tb = runs.tb_writer(run.dir / "tb", warn=False)
    result = detect.train_and_evaluate(model, sets, opts, run)
    run.close()
    io.atomic_write_text(run.dir / "detect.json", json.dumps(result, indent=2) + "\n")
    report = runs.build_report(run.dir)
    print(f"in-distribution accuracy {100 * result['in_distribution_acc']:.1f}% (held-out real vs fakes of "
          f"{a.label})", flush=True)
    print(f"cross-generator accuracy {100 * result['cross_generator_acc']:.1f}% (held-out real vs fakes of "
          f"{b.label})", flush=True)
    print(f"generalization gap {100 * result['gap']:.1f} points | run {run.dir}"
          + (f" (report {report})" if report else ""), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m descend.gan gan|detect ...`: the two commands without the rest of the CLI."""
    from descend.cli import standalone

    return standalone(register, argv, "descend gan / detect")

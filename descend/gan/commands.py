"""The `descend gan` and `descend detect` commands (registered into the CLI by `register(subparsers)`).

This is command-line glue: it draws with descend.report and so belongs to the CLI layer, although it lives
beside the code it drives. Bad input is one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from descend.gan import config as gan_config
from descend.train.config import UsageError

EXIT_USAGE = 2
REAL_POINTS = 2500  # real samples drawn under the generated ones in 2-D scatter plots
GRID_IMAGES = 64    # fixed-noise samples in an image grid


def register(subparsers: Any) -> None:
    """Add `gan` and `detect` to the CLI's subparsers; each sets `func` to its command function."""
    _gan_parser(subparsers)
    _detect_parser(subparsers)


def _gan_parser(sub: Any) -> None:
    p = sub.add_parser("gan", help="train a GAN (default: the PacGAN protocol on the ring of 8 Gaussians)",
                       description="Train a GAN and watch it for mode collapse; writes a run directory.",
                       allow_abbrev=False)
    p.add_argument("--data", help="ring8, grid25, mnist1d, fashion-mnist[:DIR] (default ring8)")
    p.add_argument("--steps", type=int, help="generator updates (default 5000 on 2-D data, 3000 on images)")
    p.add_argument("--batch-size", type=int, help="discriminator inputs per batch (default 100)")
    p.add_argument("--lr-g", type=float, help="generator learning rate (Adam)")
    p.add_argument("--lr-d", type=float, help="discriminator learning rate (Adam)")
    p.add_argument("--beta1", type=float, help="Adam's beta1 for both networks (default 0.5)")
    p.add_argument("--beta2", type=float, help="Adam's beta2 for both networks (default 0.999; 0.9 with wgan-gp)")
    p.add_argument("--lr-decay", help="linear (both rates fall linearly to 0 at the end; default on 2-D data) "
                                       "or none (default on images)")
    p.add_argument("--loss", help="non_saturating (default), minimax, or wgan-gp (a critic with a gradient "
                                   "penalty, Gulrajani et al. 2017)")
    p.add_argument("--gp-weight", type=float, help="wgan-gp: weight of the gradient penalty (default 10)")
    p.add_argument("--r1", type=float, metavar="GAMMA", help="R1 penalty (GAMMA/2)·E|grad D(real)|² on the "
                                                            "discriminator, Mescheder et al. 2018 (default 0: off)")
    p.add_argument("--label-smoothing", type=float, help="one-sided: real targets become 1 - s (default 0)")
    p.add_argument("--d-steps", type=int, help="discriminator updates per generator update (default 1; "
                                                "5 with wgan-gp)")
    p.add_argument("--pack", type=int, help="samples the discriminator judges jointly, PacGAN (default 1)")
    p.add_argument("--noise-dim", type=int, help="latent dimension (default 2 on 2-D data, 32 on images)")
    p.add_argument("--arch", help="protocol (2-D data), mlp or conv (images; default mlp)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="folder of run directories (default runs)")
    p.add_argument("--name", help="run name (default gan-DATA[-packN]); a free name is chosen if it exists")
    p.add_argument("--log-every", type=int, help="steps between logged loss averages (default 50)")
    p.add_argument("--eval-every", type=int, help="steps between mode-collapse metrics (default 500 / 250)")
    p.add_argument("--sample-every", type=int, help="steps between sample plots in samples/ (default = eval)")
    p.add_argument("--ckpt-every", type=int, help="steps between checkpoints (default 1000 / 500; 0: end only)")
    p.add_argument("--keep", type=int, help="latest checkpoints kept (default 3)")
    p.add_argument("--judge-epochs", type=int, help="epochs of the classifier that judges image samples "
                                                     "(default 30 on mnist1d, 3 on fashion-mnist)")
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

def _overrides(args: argparse.Namespace) -> dict:
    out = {}
    for flag in gan_config.FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            out[flag] = value
    return out


def _tb_writer(directory: Path, purge_step: int | None = None) -> Any:
    try:
        from descend.report import TBWriter
    except ImportError:
        try:
            from descend.report.tensorboard import TBWriter
        except ImportError:
            return None
    try:
        return TBWriter(directory, purge_step=purge_step)
    except ImportError:  # tensorboardX is not installed: no event files
        return None


def _build_report(run_dir: Path) -> Path | None:
    try:
        from descend.report import build_report  # type: ignore[attr-defined]
    except ImportError:
        return None
    return build_report(run_dir)


def signal_images(x: np.ndarray, height: int = 24) -> np.ndarray:
    """1-D signals in [-1, 1] drawn as (N, 1, height, L) line plots (white on black), for sample grids."""
    x = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64).reshape(len(x), -1)), -1, 1)
    n, length = x.shape
    rows = np.rint((1 - x) / 2 * (height - 1)).astype(int)  # +1 at the top
    img = np.zeros((n, 1, height, length), dtype=np.float64)
    for i in range(n):
        for t in range(length):
            # Join each point to the next one with a vertical run, so the curve reads as a line.
            a = rows[i, t]
            b = rows[i, t + 1] if t + 1 < length else a
            lo, hi = min(a, b), max(a, b)
            img[i, 0, lo:hi + 1, t] = 1.0
    return img


class SampleDrawer:
    """Writes samples/step-NNNNNNNN.png (and TensorBoard's samples image) from fixed-noise samples."""

    def __init__(self, run: Any, data: Any) -> None:
        from descend.report import images

        self.images, self.run, self.data = images, run, data
        self.dir = run.dir / "samples"
        self.dir.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        self.real = data.x[rng.choice(len(data.x), min(REAL_POINTS, len(data.x)), replace=False)]

    def __call__(self, step: int, samples: np.ndarray) -> None:
        path = self.dir / f"step-{step:08d}.png"
        if self.data.kind == "mixture":
            image = self.images.scatter_png(path, self.real, samples, self.data.modes)
        else:
            shown = samples[:GRID_IMAGES]
            pictures = signal_images(shown) if len(self.data.shape) == 1 else shown
            image = self.images.make_grid(pictures, nrow=8, value_range=(-1.0, 1.0) if pictures.min() < 0
                                          else (0.0, 1.0))
            self.images.save_png(path, image)
        if self.run.tb is not None:
            self.run.tb.add_image("samples", image, step)


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


def _trainer(cfg: dict, data: Any, gan: Any, run: Any, evaluator: Any, quiet: bool) -> Any:
    from descend.gan.diagnose import GanDoctor
    from descend.gan.loop import GanTrainer

    t = cfg["train"]
    doctor = GanDoctor(_setting(cfg, data), run.dir, verbose=not quiet, tb=run.tb)
    return GanTrainer(gan, data.x, steps=t["steps"], batch_size=cfg["data"]["batch_size"], seed=cfg["seed"],
                      evaluator=evaluator, log_every=t["log_every"], eval_every=t["eval_every"],
                      sample_every=t["sample_every"], ckpt_every=t["ckpt_every"], keep=t["keep"], run=run,
                      doctor=doctor, on_samples=SampleDrawer(run, data),
                      on_record=_progress(t["steps"], data.kind, quiet), lr_decay=cfg["optim"]["lr_decay"])


def run_gan(args: argparse.Namespace) -> int:
    """`descend gan`: train, or continue with --resume."""
    from descend import io
    from descend.gan import recipe
    from descend import distributed
    from descend.train.run import Run

    if distributed.world_size() > 1:  # N copies would each write a run directory: refuse instead
        raise UsageError(f"descend gan runs in one process; under mpirun -n {distributed.world_size()} "
                         f"use descend train (data-parallel GAN training is not implemented)")
    if args.resume:
        return _resume_gan(args)
    cfg = gan_config.from_flags(_overrides(args))
    data = recipe.load_data(cfg)
    recipe.check(cfg, data)
    gan = recipe.build_gan(cfg, data)
    root = Path(cfg["out"])
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {root}: exists and is not a directory")
    name = recipe.run_name(cfg)
    run = Run.create(root, name, seed=cfg["seed"], config_text=io.dump_toml(cfg))
    note = f" ({root / name} exists)" if run.dir != root / name else ""
    if not args.quiet:
        print(f"run directory: {run.dir}{note}", flush=True)
    run.tb = _tb_writer(run.dir / "tb")
    if data.kind == "image" and not args.quiet:
        print("training a classifier of the real data to judge the samples ...", flush=True)
    evaluator = recipe.evaluator(cfg, data, run.dir)
    if data.kind == "image" and not args.quiet:
        print(f"classifier test accuracy {100 * evaluator.accuracy:.1f}%", flush=True)
    return _fit(_trainer(cfg, data, gan, run, evaluator, args.quiet), run, args.quiet)


def _fit(trainer: Any, run: Any, quiet: bool) -> int:
    start = time.perf_counter()
    try:
        trainer.fit()
    except KeyboardInterrupt:
        run.close()
        sys.stderr.write(f"interrupted; continue with: descend gan --resume {run.dir}\n")
        return 130
    run.close()
    report = _build_report(run.dir)
    if not quiet:
        print(done_line(trainer, start, run.dir, report), flush=True)
    return 0


def done_line(trainer: Any, start: float, run_dir: Path, report: Any) -> str:
    """The closing line of a generative run (GAN or diffusion): steps, time, the last sample evaluation, run."""
    last = next((r for r in reversed(trainer.history) if "modes" in r or "classes_covered" in r), None)
    parts = [f"done: {trainer.step} steps in {time.perf_counter() - start:.0f}s"]
    if last is not None and "modes" in last:
        parts.append(f"modes {last['modes']}/{last['num_modes']}, high quality "
                     f"{100 * last['high_quality']:.1f}%, reverse KL {last['reverse_kl']:.3f}")
    elif last is not None:
        parts.append(f"classes {last['classes_covered']}/{last['num_classes']}, entropy "
                     f"{last['class_entropy']:.2f}, near-duplicates {100 * last['near_duplicates']:.0f}%")
    parts.append(f"run {run_dir}" + (f" (report {report})" if report else ""))
    return " | ".join(parts)


def open_task_run(run_dir: str, flag: str, table: str, validate: Any) -> tuple[Path, dict]:
    """(path, validated config) of a run directory whose config.toml has a [table]; UsageError naming the flag."""
    from descend import io

    path = Path(run_dir)
    if not path.is_dir():
        raise UsageError(f"{flag} {path}: no such run directory")
    toml = path / "config.toml"
    if not toml.is_file():
        raise UsageError(f"{flag} {path}: not a run directory (no config.toml)")
    try:
        raw = io.load_toml(toml)
    except (OSError, ValueError) as e:
        raise UsageError(" ".join(str(e).split())) from None
    if table not in raw:
        raise UsageError(f"{flag} {path}: not a descend {table} run (no [{table}] table in config.toml)")
    return path, validate(raw, str(toml))


def _open_run(run_dir: str, flag: str) -> tuple[Path, dict]:
    return open_task_run(run_dir, flag, "gan", gan_config.validate)


def _load_state(file: Path) -> dict:
    from descend.train.checkpoint import load

    try:
        return load(file)
    except (OSError, ValueError, KeyError) as e:
        msg = " ".join(str(e).split())
        raise UsageError(msg if str(file) in msg else f"{file}: {msg}") from None


def _latest(path: Path, flag: str) -> Path:
    from descend.train.checkpoint import Checkpoints

    index = path / "checkpoints" / "index.json"
    if not index.is_file():
        raise UsageError(f"{flag} {path}: no checkpoints yet (no checkpoints/index.json)")
    try:
        file = Checkpoints(path / "checkpoints").path("latest")
    except ValueError as e:
        raise UsageError(f"{index}: corrupt index ({e})") from None
    if file is None or not file.is_file():
        raise UsageError(f"{flag} {path}: the latest checkpoint named in {index} is missing")
    return file


def _gan_records(path: Path, offset: int) -> list[dict]:
    """The gan records of metrics.jsonl within its first `offset` bytes."""
    metrics = path / "metrics.jsonl"
    if not metrics.exists():
        return []
    from descend.gan.loop import read_records

    return read_records(metrics.read_bytes()[:offset].decode("utf-8"))


def _resume_gan(args: argparse.Namespace) -> int:
    from descend.gan import recipe
    from descend.train.run import Run

    given = _overrides(args)
    if given:
        raise UsageError(f"--resume continues a run with its own config.toml; drop {', '.join(given)}")
    path, cfg = _open_run(args.resume, "--resume")
    file = _latest(path, "--resume")
    state = _load_state(file)
    data = recipe.load_data(cfg)
    gan = recipe.build_gan(cfg, data)
    offset = state.get("metrics_offset") or 0
    metrics = path / "metrics.jsonl"
    if metrics.exists() and metrics.stat().st_size < offset:
        raise UsageError(f"{metrics}: shorter ({metrics.stat().st_size} bytes) than when {file.name} was written "
                         f"({offset} bytes)")
    records = _gan_records(path, offset)
    # Check the checkpoint fits before the run is touched.
    probe = _trainer_without_run(cfg, data, gan)
    try:
        probe.load_state_dict(state, records)
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{file}: does not match the run's config: {' '.join(str(e).split())}") from None
    run = Run.reopen(path, offset, state["step"])
    run.tb = _tb_writer(run.dir / "tb", purge_step=state["step"] + 1)
    evaluator = recipe.evaluator(cfg, data, run.dir)
    trainer = _trainer(cfg, data, gan, run, evaluator, args.quiet)
    trainer.load_state_dict(state, records)
    if not args.quiet:
        print(f"resuming {run.dir} from step {trainer.step} ({file.name})", flush=True)
    return _fit(trainer, run, args.quiet)


def _trainer_without_run(cfg: dict, data: Any, gan: Any) -> Any:
    from descend.gan.loop import GanTrainer

    return GanTrainer(gan, data.x, steps=cfg["train"]["steps"], batch_size=cfg["data"]["batch_size"],
                      seed=cfg["seed"])


# --- detect --------------------------------------------------------------------------------------------------

def run_detect(args: argparse.Namespace) -> int:
    """`descend detect`: in-distribution vs cross-generator accuracy of a real-vs-fake classifier."""
    from descend import io
    from descend.gan import detect
    from descend.train.run import Run

    opts = detect.options(model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          samples=args.samples, seed=args.seed, augment=args.augment)
    a = detect.load_generator(args.fake, "--fake")
    b = detect.load_generator(args.cross, "--cross")
    if a.data_name != b.data_name:
        raise UsageError(f"--cross {args.cross}: trained on {b.data_name}, but --fake {args.fake} on {a.data_name}; "
                         f"both generators must model the same data")
    if opts["augment"] != "none" and a.data.kind == "mixture":
        raise UsageError(f"--augment {opts['augment']}: blurs and compresses images and signals, not 2-D points")
    sets = detect.make_sets(a, b, opts)
    model = detect.build_detector(opts, a.data)
    root = Path(args.out or "runs")
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {root}: exists and is not a directory")
    name = args.name or f"detect-{a.data_name.split(':', 1)[0]}"
    if "/" in name or name in (".", ".."):
        raise UsageError(f"--name '{name}': not a valid run name (no '/')")
    cfg = {"seed": opts["seed"], "fake": str(a.source), "cross": str(b.source),
           "detect": {k: v for k, v in opts.items() if k != "seed"}}
    run = Run.create(root, name, seed=opts["seed"], config_text=io.dump_toml(cfg))
    if not args.quiet:
        print(f"run directory: {run.dir}", flush=True)
    run.tb = _tb_writer(run.dir / "tb")
    result = detect.train_and_evaluate(model, sets, opts, run)
    run.close()
    io.atomic_write_text(run.dir / "detect.json", json.dumps(result, indent=2) + "\n")
    report = _build_report(run.dir)
    print(f"in-distribution accuracy {100 * result['in_distribution_acc']:.1f}% (held-out real vs fakes of "
          f"{a.label})", flush=True)
    print(f"cross-generator accuracy {100 * result['cross_generator_acc']:.1f}% (held-out real vs fakes of "
          f"{b.label})", flush=True)
    print(f"generalization gap {100 * result['gap']:.1f} points | run {run.dir}"
          + (f" (report {report})" if report else ""), flush=True)
    return 0


# --- standalone ----------------------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    """A parser with only the gan and detect commands (`python -m descend.gan`)."""
    from descend.cli import _Parser

    p = _Parser(prog="descend", description="descend gan / detect", allow_abbrev=False)
    register(p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run `gan` or `detect`; bad input is one line on stderr and exit code 2."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        sys.stderr.write(f"descend {args.command}: error: {' '.join(str(e).split())}\n")
        return EXIT_USAGE

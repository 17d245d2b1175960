"""The run-directory plumbing the commands share: new runs, TensorBoard writers, reports, checkpoint lookup, and
the fit / resume flow of the generative commands (`descend gan`, `descend diffusion`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descend.errors import UsageError

REAL_POINTS = 2500  # real samples drawn under the generated ones in 2-D scatter plots
GRID_IMAGES = 64    # fixed-noise samples in an image grid


def tb_writer(directory: Path, purge_step: int | None = None, warn: bool = True) -> Any:
    """A TensorBoard writer for the run (None without tensorboardX: the run goes on without events)."""
    from descend.report import TBWriter

    try:
        return TBWriter(directory, purge_step=purge_step)
    except ImportError:
        if warn:
            sys.stderr.write("warning: tensorboardX is not installed; no TensorBoard events are written\n")
        return None


def build_report(run_dir: Path) -> Path:
    from descend.report import build_report as build

    return build(run_dir)


def check_out(root: Path) -> None:
    """--out must be a folder (or not exist yet)."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {root}: exists and is not a directory")


def create_run(cfg: dict, name: str, quiet: bool) -> Any:
    """A new run directory under cfg['out'] holding cfg as its config.toml, with its TensorBoard writer."""
    from descend import io
    from descend.train.run import Run

    root = Path(cfg["out"])
    check_out(root)
    run = Run.create(root, name, seed=cfg["seed"], config_text=io.dump_toml(cfg))
    if not quiet:
        note = f" ({root / name} exists)" if run.dir != root / name else ""
        print(f"run directory: {run.dir}{note}", flush=True)
    run.tb = tb_writer(run.dir / "tb", warn=False)
    return run


def check_metrics(path: Path, file: Path, offset: int) -> None:
    """A run's metrics.jsonl must hold at least what it held when the checkpoint `file` was written."""
    metrics = path / "metrics.jsonl"
    if metrics.exists() and metrics.stat().st_size < offset:
        raise UsageError(f"{metrics}: shorter ({metrics.stat().st_size} bytes) than when {file.name} was "
                         f"written ({offset} bytes)")


# --- samples ---------------------------------------------------------------------------------------------

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


# --- fit and resume of a generative run ------------------------------------------------------------------

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


def interruptible_fit(trainer: Any, run: Any, command: str) -> bool:
    """Train; on Ctrl-C close the run, say how to continue it, and return False."""
    try:
        trainer.fit()
    except KeyboardInterrupt:
        run.close()
        sys.stderr.write(f"interrupted; continue with: descend {command} --resume {run.dir}\n")
        return False
    return True


def fit(trainer: Any, run: Any, quiet: bool, command: str, finish: Callable | None = None) -> int:
    """Train a generative run to its end, then its report and closing line (`finish(run, trainer)` first)."""
    start = time.perf_counter()
    if not interruptible_fit(trainer, run, command):
        return 130
    run.close()
    if finish is not None:
        finish(run, trainer)
    report = build_report(run.dir)
    if not quiet:
        print(done_line(trainer, start, run.dir, report), flush=True)
    return 0


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


def load_state(file: Path) -> dict:
    """A checkpoint's state (UsageError naming the file when it cannot be read)."""
    from descend.train.checkpoint import load

    try:
        return load(file)
    except (OSError, ValueError, KeyError) as e:
        msg = " ".join(str(e).split())
        raise UsageError(msg if str(file) in msg else f"{file}: {msg}") from None


def latest(path: Path, flag: str) -> Path:
    """The latest checkpoint file of a run (UsageError naming the flag when there is none)."""
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


def task_records(path: Path, offset: int) -> list[dict]:
    """The records of a generative run's metrics.jsonl within its first `offset` bytes."""
    metrics = path / "metrics.jsonl"
    if not metrics.exists():
        return []
    from descend.gan.loop import read_records

    return read_records(metrics.read_bytes()[:offset].decode("utf-8"))


def resume(args: argparse.Namespace, task: str, config: Any, recipe: Any, build: Callable,
           make_trainer: Callable, finish: Callable | None = None) -> int:
    """`descend gan|diffusion --resume RUN_DIR`: `build(cfg, data)` makes the model, `make_trainer(cfg, data,
    model, run=None, evaluator=None, quiet=True)` its trainer; the checkpoint must fit before the run is
    touched."""
    from descend.train.run import Run

    given = config.given(args)
    if given:
        raise UsageError(f"--resume continues a run with its own config.toml; drop {', '.join(given)}")
    path, cfg = open_task_run(args.resume, "--resume", task, config.validate)
    file = latest(path, "--resume")
    state = load_state(file)
    data = recipe.load_data(cfg)
    model = build(cfg, data)
    offset = state.get("metrics_offset") or 0
    check_metrics(path, file, offset)
    records = task_records(path, offset)
    try:
        make_trainer(cfg, data, model).load_state_dict(state, records)
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise UsageError(f"{file}: does not match the run's config: {' '.join(str(e).split())}") from None
    run = Run.reopen(path, offset, state["step"])
    run.tb = tb_writer(run.dir / "tb", purge_step=state["step"] + 1, warn=False)
    trainer = make_trainer(cfg, data, model, run, recipe.evaluator(cfg, data, run.dir), args.quiet)
    trainer.load_state_dict(state, records)
    if not args.quiet:
        print(f"resuming {run.dir} from step {trainer.step} ({file.name})", flush=True)
    return fit(trainer, run, args.quiet, task, finish)

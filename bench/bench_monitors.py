"""Overhead of the training doctor's default monitoring: step time with vs without `Doctor()`.

Workloads (batch 100, Adam, MNIST-1D's 4000 training samples, no validation set so that the doctor-free
evaluation does not dilute the figure): the MNIST-1D MLP and CNN written with activation modules (so the
activation monitor has modules to hook), and the default `descend train` model (descend.models' CNN, lr 1e-2,
ReLU applied as a function: seen through the per-op callback).
Each is trained for a few epochs with and without the default Doctor (every=25, all monitors and rules),
runs alternating so that machine load hits both alike; reported is the fastest repetition's time per
optimizer step (the least disturbed by other processes on a busy machine; medians are printed too),
wall-clock and process CPU time, and the overhead (with / without - 1). Target: at most 3 % on the whole
default run (`--epochs 60 --models default`; shorter runs weigh the doctor's early samples and checks more).

A second measure, robust on a shared machine: in one process, the thread CPU time spent inside the doctor's
callbacks and hooks relative to the rest of the run.

BLAS and OpenMP are pinned to one thread (set before NumPy is imported) so the figures do not depend on
how many cores happen to be free; the table header says what the BLAS library reports.

    python bench/bench_monitors.py [--epochs 3] [--repeats 5] [--models mlp,cnn,default]
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")
for _var in THREAD_VARS:  # before NumPy is imported: BLAS reads them once, at load time
    os.environ[_var] = "1"

import argparse  # noqa: E402
from typing import Any  # noqa: E402
import ctypes  # noqa: E402
import glob  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from descend import backend, models, nn, optim  # noqa: E402
from descend.data import DataLoader, MNIST1D  # noqa: E402
from descend.doctor import Doctor  # noqa: E402
from descend.report import TBWriter  # noqa: E402
from descend.train import Run, Trainer  # noqa: E402


def blas_threads() -> str:
    """The thread count NumPy's bundled OpenBLAS reports (or 'unknown' where it cannot be asked)."""
    libs = glob.glob(str(Path(np.__file__).parent.parent / "numpy.libs" / "*openblas*"))
    for lib in libs:
        dll = ctypes.CDLL(lib)
        for fn in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(dll, fn):
                return f"{getattr(dll, fn)()} ({Path(lib).name.split('-')[0]})"
    return "unknown"


class _Quiet(nn.Module):
    """The MNIST-1D CNN with ReLU modules (so the activation monitor has layers to hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1),
            nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(125, 10))

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], 1, x.shape[-1]))


def _model(name: str) -> nn.Module:
    if name == "mlp":
        # The MNIST-1D MLP shape with activation modules: 40-100-100-10.
        return nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == "cnn":
        return _Quiet()
    if name == "default":
        return models.build("cnn", (40,), 10)  # `descend train`'s default model (ReLU as functions)
    return models.build(name, (40,), 10)


LR = {"default": 1e-2}  # the default config's Adam lr; the others use 1e-3
MODES = ("bare", "rundir")  # no run directory / metrics.jsonl + TensorBoard + checkpoints, as `descend train`


def run(name: str, doctor: bool, epochs: int, every: int | None = None, mode: str = "bare") -> tuple[float, float]:
    """(wall seconds, CPU seconds) per optimizer step of one training run."""
    backend.manual_seed(0)
    model = _model(name)
    loader = DataLoader(MNIST1D(train=True), batch_size=100, shuffle=True, generator=0)
    options = {"every": every} if every else {}
    callbacks = [Doctor(verbose=False, **options)] if doctor else []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = None
        if mode == "rundir":
            run_dir = Run.create(tmp, name)
            try:
                run_dir.tb = TBWriter(run_dir.dir / "tb")
            except ImportError:
                pass  # no tensorboardX: metrics.jsonl only, as `descend train` does then
        trainer = Trainer(model, optim.Adam(model.parameters(), LR.get(name, 1e-3)), loader,
                          loss_fn=nn.CrossEntropyLoss(), epochs=epochs, callbacks=callbacks, run=run_dir)
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.fit()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if run_dir is not None:
            run_dir.close()
    return wall / trainer.step, cpu / trainer.step


def _clock_cost(calls: int = 20000) -> tuple[float, float]:
    """(seconds a timing wrapper adds inside the timed interval, and outside it) per call, for a no-op."""
    spent = [0.0]

    def noop() -> None:
        return None

    def wrapper() -> None:
        t = time.thread_time()
        try:
            return noop()
        finally:
            spent[0] += time.thread_time() - t

    start = time.thread_time()
    for _ in range(calls):
        noop()
    bare = time.thread_time() - start
    start = time.thread_time()
    for _ in range(calls):
        wrapper()
    wrapped = time.thread_time() - start
    inside = spent[0] / calls
    return inside, max((wrapped - bare) / calls - inside, 0.0)


def doctor_share(name: str, epochs: int, every: int | None = None, mode: str = "bare") -> tuple[float, float]:
    """(CPU time inside the doctor's callbacks and hooks / CPU time of the rest of the run, CPU s per step).

    Measured in one process with the thread's CPU clock, which does not run while other processes have the
    core, so it holds on a busy machine where the A/B timings drift. The timing wrappers' own cost (two clock
    reads per call, ~1 us) is measured on a no-op and subtracted from both sides.
    """
    from descend.doctor import doctor as d, monitors as m

    spent, calls = [0.0], [0]
    patched = []

    def timed(owner: type, attr: str) -> None:
        original = getattr(owner, attr)

        def wrapper(*a, **k):
            t = time.thread_time()
            try:
                return original(*a, **k)
            finally:
                spent[0] += time.thread_time() - t
                calls[0] += 1

        patched.append((owner, attr, original))
        setattr(owner, attr, wrapper)

    # Entry points only (the Doctor calls the monitors' step hooks itself; forward hooks are called by modules).
    for attr in ("on_train_begin", "on_step_end", "on_epoch_end", "on_train_end"):
        timed(d.Doctor, attr)
    for owner, attr in ((m.ActivationMonitor, "_hook"), (m.ActivationMonitor, "_root_pre"),
                        (m.ActivationMonitor, "_root_post"), (m.ActivationMonitor, "_produced"),
                        (m.ActivationMonitor, "_observe"), (m.NonFiniteMonitor, "_pre"),
                        (m.NonFiniteMonitor, "_post")):
        timed(owner, attr)
    inside, outside = _clock_cost()
    try:
        start = time.thread_time()
        run(name, True, epochs, every, mode)
        total = time.thread_time() - start
    finally:
        for owner, attr, original in patched:
            setattr(owner, attr, original)
    steps = epochs * len(DataLoader(MNIST1D(train=True), batch_size=100))
    doc = spent[0] - calls[0] * inside
    rest = total - spent[0] - calls[0] * outside
    return doc / rest, rest / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10, help="epochs of 40 steps per run (default 10)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--models", default="mlp,cnn,default")
    p.add_argument("--modes", default=",".join(MODES), help="bare (no run directory) and/or rundir")
    p.add_argument("--every", type=int, default=None, help="the Doctor's sampling interval (default: its own)")
    p.add_argument("--sharpness-every", type=int, default=100,
                   help="interval of the opt-in sharpness monitor whose cost is measured at the end (0: skip)")
    args = p.parse_args()
    names, modes = args.models.split(","), args.modes.split(",")
    print(f"threads: {', '.join(f'{v}={os.environ[v]}' for v in THREAD_VARS)}; OpenBLAS reports {blas_threads()}; "
          f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"{args.epochs} epochs x 40 steps of batch 100 per run, {args.repeats} alternating repetitions; "
          f"Doctor(every={args.every or Doctor().every})\n")
    print(f"{'model':8s} {'mode':7s} {'':6s} {'wall ms/step':>12s} {'+doctor':>8s} {'overhead':>9s}   "
          f"{'cpu ms/step':>11s} {'+doctor':>8s} {'overhead':>9s}")
    for name in names:
        run(name, False, 1)  # warm-up: imports, caches, data generation
        for mode in modes:
            plain, watched = [], []
            for _ in range(args.repeats):
                plain.append(run(name, False, args.epochs, mode=mode))
                watched.append(run(name, True, args.epochs, args.every, mode))
            for label, stat in (("min", min), ("median", statistics.median)):
                cols = []
                for k in (0, 1):
                    a = stat(t[k] for t in plain)
                    b = stat(t[k] for t in watched)
                    cols.append(f"{1e3 * a:12.3f} {1e3 * b:8.3f} {100 * (b / a - 1):8.1f}%")
                print(f"{name:8s} {mode:7s} {label:6s} {cols[0]}   {cols[1]}", flush=True)
    print("\nIn-process (min of 3): CPU time inside the doctor's callbacks and hooks / CPU time of the rest")
    for name in names:
        for mode in modes:
            shares = [doctor_share(name, args.epochs, args.every, mode) for _ in range(3)]
            share, per_step = min(shares)
            print(f"{name:8s} {mode:7s} {100 * share:5.1f}%  ({1e6 * share * per_step:.1f} us on a "
                  f"{1e3 * per_step:.3f} ms step)", flush=True)
    if args.sharpness_every:
        sharpness_cost(names, args.epochs, args.sharpness_every)


def sharpness_cost(names: list[str], epochs: int, every: int) -> None:
    """The opt-in sharpness monitor: CPU time per measurement and its share of training at `every`."""
    from descend.doctor.sharpness import SharpnessMonitor

    print(f"\nSharpness monitor (--sharpness-every {every}, 20 power iterations): CPU cost")
    for name in names:
        backend.manual_seed(0)
        model = _model(name)
        loader = DataLoader(MNIST1D(train=True), batch_size=100, shuffle=True, generator=0)
        monitor = SharpnessMonitor(every)
        spent = [0.0]
        original = monitor.on_step_end

        def timed(trainer: Any, logs: dict) -> None:
            t = time.process_time()
            original(trainer, logs)
            spent[0] += time.process_time() - t

        monitor.on_step_end = timed
        trainer = Trainer(model, optim.Adam(model.parameters(), LR.get(name, 1e-3)), loader,
                          loss_fn=nn.CrossEntropyLoss(), epochs=epochs, callbacks=[monitor])
        cpu = time.process_time()
        trainer.fit()
        cpu = time.process_time() - cpu
        n = len(monitor.rows)
        share = 100 * spent[0] / (cpu - spent[0])
        print(f"{name:8s} {n} measurements, {1e3 * spent[0] / max(n, 1):.1f} ms each; {share:.1f}% of the "
              f"{trainer.step} steps' training time", flush=True)


if __name__ == "__main__":
    main()

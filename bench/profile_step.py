"""Where one training step's time goes: a per-op timer (every Function's forward and backward wrapped, with
the convolutions' im2col, col2im and GEMMs timed apart) and a cProfile listing.

    python bench/profile_step.py cnn28 resnet20 dcgan      # keys of bench/train_workloads.py
    options: --steps N (default 20)  --threads N (default 1)  --cprofile K (top K functions, default 0)

One thread: the clock is process CPU time. "engine + Python" is the step's time outside every op's forward
and backward and the optimizer: Function.apply, the backward walk, gradient accumulation, module calls.
"""

from __future__ import annotations

import os
import sys

THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import descend  # noqa: E402,F401
from descend import optim  # noqa: E402
from descend.ops import conv as conv_mod  # noqa: E402
from descend.ops import conv_transpose as ct_mod  # noqa: E402
from descend._tensor import Function  # noqa: E402

CLOCK = time.process_time if THREADS == "1" else time.perf_counter
TOTALS: dict = defaultdict(float)
STACK: list = []  # one [category, child seconds] per open timed call, so nested calls are not counted twice

CATEGORY = {"ConvNd": "conv other", "ConvTransposeNd": "conv other", "BatchNorm": "BatchNorm",
            "MaxPool": "pooling", "AvgPool": "pooling", "AdaptiveAvgPool": "pooling", "Linear": "Linear (GEMM)",
            "CrossEntropy": "loss", "BinaryCrossEntropy": "loss"}


def timed(fn, category: str):
    def wrapper(*args, **kwargs):
        STACK.append([category, 0.0])
        t0 = CLOCK()
        try:
            return fn(*args, **kwargs)
        finally:
            dt = CLOCK() - t0
            _, child = STACK.pop()
            TOTALS[category] += dt - child
            if STACK:
                STACK[-1][1] += dt
    return wrapper


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def install() -> None:
    """Wrap every op's forward/backward, the conv pieces and every optimizer's step."""
    for cls in set(_subclasses(Function)):
        cat = CATEGORY.get(cls.__name__, "elementwise/other ops")
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                setattr(cls, name, timed(cls.__dict__[name], cat))
    conv_mod.gemm = timed(conv_mod.gemm, "conv GEMM")
    ct_mod.gemm = conv_mod.gemm  # the transposed convolution's backward calls its own imported name
    for name in ("_rows_cols", "_strip_cols"):
        setattr(conv_mod.ConvNd, name, timed(getattr(conv_mod.ConvNd, name), "im2col"))
    for name in ("_rows_input_grad", "_columns_input_grad"):
        setattr(conv_mod.ConvNd, name, timed(getattr(conv_mod.ConvNd, name), "col2im"))
    conv_mod.ConvNd._columns_forward = timed(conv_mod.ConvNd._columns_forward, "im2col")
    for cls in {optim.Optimizer} | set(_subclasses(optim.Optimizer)):
        if "step" in cls.__dict__:
            cls.step = timed(cls.__dict__["step"], "optimizer")


def profile(key: str, steps: int, top: int) -> None:
    import train_workloads

    w = train_workloads.all_workloads(with_torch=False)[key]()
    for _ in range(5):
        w.d_step()
    TOTALS.clear()
    t0 = CLOCK()
    for _ in range(steps):
        w.d_step()
    total = (CLOCK() - t0) / steps
    ops = sum(TOTALS.values()) / steps
    print(f"\n{w.name}: {total * 1e3:.2f} ms/step (with timers), {THREADS} thread(s)")
    rows = sorted(TOTALS.items(), key=lambda kv: -kv[1])
    rows.append(("engine + Python (rest)", (total - ops) * steps))
    for cat, sec in rows:
        print(f"  {cat:28s} {sec / steps * 1e3:8.2f} ms  {100 * sec / steps / total:5.1f} %")
    if top:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            w.d_step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("keys", nargs="+")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--cprofile", type=int, default=0)
    args = ap.parse_args()
    install()
    for key in args.keys:
        profile(key, args.steps, args.cprofile)


if __name__ == "__main__":
    main()

"""Optimizer step time, descend (flat buffers) vs torch.optim, on the parameters of two MLPs.

Both run on one thread with the same parameter shapes and fixed gradients; only `optimizer.step()` is timed.
Usage: python bench/bench_optim.py [--repeat 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Pin the thread pools before NumPy or torch load them.
_threads = "1"
for i, a in enumerate(sys.argv):
    if a == "--threads" and i + 1 < len(sys.argv):
        _threads = sys.argv[i + 1]
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = _threads
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import descend  # noqa: E402
from descend import optim  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # the table then shows descend alone
    torch = None

MODELS = {"mlp 64-64-10": [64, 64, 10], "mlp 784-512-256-10": [784, 512, 256, 10]}
OPTIMIZERS = {
    "SGD": ("SGD", dict(lr=0.01)),
    "SGD momentum": ("SGD", dict(lr=0.01, momentum=0.9)),
    "SGD nesterov+wd": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    "Adam": ("Adam", dict(lr=1e-3)),
    "AdamW": ("AdamW", dict(lr=1e-3)),
    "RMSprop": ("RMSprop", dict(lr=1e-3)),
    "Adagrad": ("Adagrad", dict(lr=1e-2)),
}


def shapes(widths: list[int]) -> list[tuple]:
    """Parameter shapes of a Linear stack, PyTorch layout: weight (out, in), bias (out,)."""
    out = []
    for a, b in zip(widths[:-1], widths[1:]):
        out += [(b, a), (b,)]
    return out


def time_steps(step, n: int, repeat: int) -> float:
    """Median over `repeat` rounds of the mean time of `n` steps, in microseconds."""
    for _ in range(max(3, n // 10)):
        step()
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        rounds.append((time.perf_counter() - t0) / n)
    return float(np.median(rounds)) * 1e6


def bench(widths: list[int], name: str, kwargs: dict, repeat: int) -> tuple[float, float | None]:
    rng = np.random.default_rng(0)
    values = [rng.normal(0, 0.05, s).astype(np.float32) for s in shapes(widths)]
    grads = [rng.normal(0, 1e-3, s).astype(np.float32) for s in shapes(widths)]
    n = 2000 if sum(v.size for v in values) < 100_000 else 100
    params = [descend.tensor(v, requires_grad=True) for v in values]
    for p, g in zip(params, grads):
        p.grad = descend.tensor(g)
    d_opt = getattr(optim, name)(params, **kwargs)
    d_us = time_steps(d_opt.step, n, repeat)
    t_us = None
    if torch is not None:
        tparams = [torch.tensor(v, requires_grad=True) for v in values]
        for p, g in zip(tparams, grads):
            p.grad = torch.tensor(g)
        t_opt = getattr(torch.optim, name)(tparams, **kwargs)
        t_us = time_steps(t_opt.step, n, repeat)
    return d_us, t_us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if torch is not None:
        torch.set_num_threads(args.threads)
    tv = torch.__version__ if torch is not None else "absent"
    print(f"optimizer.step() time, float32, {args.threads} thread(s); numpy {np.__version__}, torch {tv}")
    print(f"{'model':<20} {'params':>8} {'optimizer':<16} {'descend us':>11} {'torch us':>10} "
          f"{'torch/descend':>14}")
    for mname, widths in MODELS.items():
        count = sum(int(np.prod(s)) for s in shapes(widths))
        for oname, (cls, kwargs) in OPTIMIZERS.items():
            d_us, t_us = bench(widths, cls, kwargs, args.repeat)
            t_col = f"{t_us:10.1f}" if t_us is not None else f"{'-':>10}"
            ratio = f"{t_us / d_us:13.2f}x" if t_us is not None else f"{'-':>14}"
            print(f"{mname:<20} {count:>8} {oname:<16} {d_us:11.1f} {t_col} {ratio}")


if __name__ == "__main__":
    main()

"""Per-op cost of descend vs PyTorch (CPU), side by side: small-op overhead, op chains, and the heavy
layers (linear, conv2d, cross_entropy) forward+backward at a few sizes.

    python bench/bench_ops.py [--threads 1] [--quick]

Timings are the minimum over repeats (the least disturbed run), descend and torch interleaved so that
background load hits both alike. With one thread the clock is the process's CPU time, which other
processes on a shared machine cannot inflate; with more threads it is wall time.
Ratio = descend / torch: below 1 means descend is faster.
"""

from __future__ import annotations

import os
import sys

THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = THREADS  # before NumPy loads its BLAS

import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import descend  # noqa: E402
import descend.nn.functional as F  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as TF  # noqa: E402

    torch.set_num_threads(int(THREADS))
except ImportError:  # pragma: no cover - the table then has descend's column only
    torch = None

QUICK = "--quick" in sys.argv
CLOCK = time.process_time if THREADS == "1" else time.perf_counter


def best_time(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Seconds per call: the minimum over `repeat` runs of `number` calls."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = CLOCK()
        for _ in range(number):
            fn()
        best = min(best, (CLOCK() - start) / number)
    return best


def compare(ours: Callable, theirs: Callable | None, number: int, repeat: int) -> tuple:
    """Interleave the two candidates' repeats; return (ours, theirs) seconds per call."""
    a = b = float("inf")
    for _ in range(repeat):
        a = min(a, best_time(ours, number, 1))
        if theirs is not None:
            b = min(b, best_time(theirs, number, 1))
    return a, (b if theirs is not None else float("nan"))


def row(name: str, ours: float, theirs: float, unit: float, fmt: str = "{:9.2f}") -> str:
    ratio = ours / theirs if theirs == theirs and theirs > 0 else float("nan")
    return f"{name:<52}{fmt.format(ours / unit)}{fmt.format(theirs / unit)}{ratio:8.2f}x"


def header(title: str, unit: str) -> None:
    print(f"\n{title}\n{'':<52}{'descend':>9}{'torch':>9}{'ratio':>9}   ({unit})")


# ---- per-op overhead on tiny tensors ----------------------------------------------------------------------

CHAIN = 20  # ops per timed chain, so the loop and the backward call are amortised


def _unary_chain(op: Callable) -> Callable:
    def run(x):
        for _ in range(CHAIN):
            x = op(x)
        return x
    return run


OPS = {
    "add (x + 1)": lambda x: x + 1.0,
    "mul (x * y)": None,  # binary, built below
    "exp (+ mul, to stay finite)": lambda x: (x * 0.1).exp(),
    "tanh": lambda x: x.tanh(),
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
    "sum(dim) + unsqueeze": lambda x: x.sum(1, keepdim=True) + x,
    "softmax(dim=1)": lambda x: x.softmax(1),
    "reshape": lambda x: x.reshape(-1).reshape(4, 4),
    "matmul (4x4 @ 4x4)": lambda x: x @ x,
}


def bench_overhead() -> None:
    header(f"Per-op cost on 4x4 float32 tensors, chains of {CHAIN} (threads={THREADS})", "µs per op")
    rng = np.random.default_rng(0)
    v = rng.standard_normal((4, 4)).astype(np.float32) * 0.1
    number, repeat = (200, 3) if QUICK else (1000, 7)
    ours_leaf = descend.tensor(v, requires_grad=True)
    other = descend.tensor(v)
    theirs_leaf = torch.tensor(v, requires_grad=True) if torch else None
    other_t = torch.tensor(v) if torch else None
    for name, op in OPS.items():
        if op is None:
            chain_d = _unary_chain(lambda x: x * other)
            chain_t = _unary_chain(lambda x: x * other_t)
        else:
            chain_d = chain_t = _unary_chain(op)
        n_ops = CHAIN * (2 if name.startswith(("exp", "sum", "reshape")) else 1)

        def nograd_d():
            with descend.no_grad():
                chain_d(ours_leaf)

        def nograd_t():
            with torch.no_grad():
                chain_t(theirs_leaf)

        def fwdbwd_d():
            ours_leaf.grad = None
            chain_d(ours_leaf).sum().backward()

        def fwdbwd_t():
            theirs_leaf.grad = None
            chain_t(theirs_leaf).sum().backward()

        a, b = compare(nograd_d, nograd_t if torch else None, number, repeat)
        print(row(f"{name}, no grad", a / n_ops, b / n_ops, 1e-6))
        a, b = compare(fwdbwd_d, fwdbwd_t if torch else None, number // 2, repeat)
        print(row(f"{name}, forward+backward", a / n_ops, b / n_ops, 1e-6))


def bench_chain() -> None:
    header("Small op chain (y = tanh(y * 1.01 + 0.1), 10 times, sum): 31 ops on 4x4", "µs per op")
    v = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
    x = descend.tensor(v, requires_grad=True)
    xt = torch.tensor(v, requires_grad=True) if torch else None
    number, repeat = (300, 3) if QUICK else (2000, 7)

    def chain(t):
        for _ in range(10):
            t = (t * 1.01 + 0.1).tanh()
        return t.sum()

    def raw():
        y = v
        for _ in range(10):
            y = np.tanh(y * np.float32(1.01) + np.float32(0.1))
        return y.sum()

    def nograd_d():
        with descend.no_grad():
            chain(x)

    def nograd_t():
        with torch.no_grad():
            chain(xt)

    a, b = compare(nograd_d, nograd_t if torch else None, number, repeat)
    print(row("no grad", a / 31, b / 31, 1e-6))
    numpy_cost = best_time(raw, number, repeat) / 31
    print(f"{'  raw NumPy, same arithmetic':<52}{numpy_cost * 1e6:9.2f}"
          f"{'':9}{a / 31 / numpy_cost:8.2f}x of NumPy")
    a, b = compare(lambda: chain(x).backward(), (lambda: chain(xt).backward()) if torch else None,
                   number // 2, repeat)
    print(row("forward+backward", a / 31, b / 31, 1e-6))


# ---- heavy layers -----------------------------------------------------------------------------------------

def _layer_rows(label: str, make_d: Callable, make_t: Callable, number: int, repeat: int) -> None:
    """make_*(grad: bool) -> a zero-argument callable running the layer (and its backward when grad)."""
    a, b = compare(make_d(False), make_t(False) if torch else None, number, repeat)
    print(row(f"{label}, forward (no grad)", a, b, 1e-3))
    a, b = compare(make_d(True), make_t(True) if torch else None, number, repeat)
    print(row(f"{label}, forward+backward", a, b, 1e-3))


def bench_layers() -> None:
    header(f"Layers, float32 (threads={THREADS})", "ms per call")
    rng = np.random.default_rng(2)
    repeat = 3 if QUICK else 7

    for n, fin, fout in [(64, 784, 128), (256, 256, 256), (64, 128, 10)]:
        x = rng.standard_normal((n, fin)).astype(np.float32)
        w = (rng.standard_normal((fout, fin)) * 0.05).astype(np.float32)
        b = np.zeros(fout, np.float32)
        g = np.ones((n, fout), np.float32)

        def make_d(grad, x=x, w=w, b=b, g=g):
            xs, ws, bs = (descend.tensor(a, requires_grad=True) for a in (x, w, b))

            def run():
                if grad:
                    F.linear(xs, ws, bs).backward(g)
                else:
                    with descend.no_grad():
                        F.linear(xs, ws, bs)
            return run

        def make_t(grad, x=x, w=w, b=b, g=g):
            xs, ws, bs = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
            gt = torch.tensor(g)

            def run():
                if grad:
                    TF.linear(xs, ws, bs).backward(gt)
                else:
                    with torch.no_grad():
                        TF.linear(xs, ws, bs)
            return run

        _layer_rows(f"linear {n}x{fin} -> {fout}", make_d, make_t, 20, repeat)

    for n, c, hw, o, pad in [(64, 1, 28, 32, 1), (64, 32, 14, 64, 1), (16, 16, 32, 32, 1), (64, 3, 32, 16, 0)]:
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = (rng.standard_normal((o, c, 3, 3)) * 0.1).astype(np.float32)
        b = np.zeros(o, np.float32)
        out = hw + 2 * pad - 2
        g = np.ones((n, o, out, out), np.float32)
        x_grad = c > 1  # a first layer needs no input gradient, as in a real network

        def make_d(grad, x=x, w=w, b=b, g=g, pad=pad, x_grad=x_grad):
            xs = descend.tensor(x, requires_grad=x_grad)
            ws, bs = descend.tensor(w, requires_grad=True), descend.tensor(b, requires_grad=True)

            def run():
                if grad:
                    F.conv2d(xs, ws, bs, padding=pad).backward(g)
                else:
                    with descend.no_grad():
                        F.conv2d(xs, ws, bs, padding=pad)
            return run

        def make_t(grad, x=x, w=w, b=b, g=g, pad=pad, x_grad=x_grad):
            xs = torch.tensor(x, requires_grad=x_grad)
            ws, bs = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
            gt = torch.tensor(g)

            def run():
                if grad:
                    TF.conv2d(xs, ws, bs, padding=pad).backward(gt)
                else:
                    with torch.no_grad():
                        TF.conv2d(xs, ws, bs, padding=pad)
            return run

        _layer_rows(f"conv2d {n}x{c}x{hw}x{hw} -> {o}ch 3x3 pad {pad}", make_d, make_t, 5, repeat)

    for n, k in [(64, 10), (512, 10), (256, 1000)]:
        z = rng.standard_normal((n, k)).astype(np.float32)
        t = rng.integers(0, k, n)

        def make_d(grad, z=z, t=t):
            zs, ts = descend.tensor(z, requires_grad=True), descend.tensor(t)

            def run():
                if grad:
                    F.cross_entropy(zs, ts).backward()
                else:
                    with descend.no_grad():
                        F.cross_entropy(zs, ts)
            return run

        def make_t(grad, z=z, t=t):
            zs, ts = torch.tensor(z, requires_grad=True), torch.tensor(t)

            def run():
                if grad:
                    TF.cross_entropy(zs, ts).backward()
                else:
                    with torch.no_grad():
                        TF.cross_entropy(zs, ts)
            return run

        _layer_rows(f"cross_entropy {n}x{k}", make_d, make_t, 50, repeat)


def bench_cnn_step() -> None:
    header("Small CNN step, batch 64 of 1x28x28: conv(32)-relu-pool, conv(64)-relu-pool, linear(128), "
           "linear(10), cross_entropy", "ms per step")
    rng = np.random.default_rng(3)
    shapes = {"w1": (32, 1, 3, 3), "b1": (32,), "w2": (64, 32, 3, 3), "b2": (64,), "w3": (128, 3136), "b3": (128,),
              "w4": (10, 128), "b4": (10,)}
    params = {k: (rng.standard_normal(v) * 0.05).astype(np.float32) for k, v in shapes.items()}
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)

    def net(fn, p, inp, target):
        h = fn.max_pool2d(fn.relu(fn.conv2d(inp, p["w1"], p["b1"], padding=1)), 2)
        h = fn.max_pool2d(fn.relu(fn.conv2d(h, p["w2"], p["b2"], padding=1)), 2)
        h = fn.relu(fn.linear(h.flatten(1), p["w3"], p["b3"]))
        return fn.cross_entropy(fn.linear(h, p["w4"], p["b4"]), target)

    ours = {k: descend.tensor(v, requires_grad=True) for k, v in params.items()}
    xd, yd = descend.tensor(x), descend.tensor(y)
    step_d = lambda: net(F, ours, xd, yd).backward()  # noqa: E731
    step_t = None
    if torch:
        theirs = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        xt, yt = torch.tensor(x), torch.tensor(y)
        step_t = lambda: net(TF, theirs, xt, yt).backward()  # noqa: E731
    a, b = compare(step_d, step_t, 3, 3 if QUICK else 7)
    print(row("forward+backward", a, b, 1e-3))


if __name__ == "__main__":
    print(f"descend {descend.__version__}, NumPy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed")
          + f"; clock: {'process CPU time' if CLOCK is time.process_time else 'wall time'}")
    bench_overhead()
    bench_chain()
    bench_layers()
    bench_cnn_step()

"""Training-step speed and memory of descend against PyTorch (CPU), on the workloads of issue 7.

    python bench/bench_train.py            # full run (2-4 minutes)
    python bench/bench_train.py --quick    # short run (under a minute or two)
    options: --threads N (default 1)  --only KEY[,KEY]  --no-scaling  --no-memory  --json FILE

Method. Each workload is built in descend and in PyTorch with the same architecture, the same initial weights
(descend's, copied through the state dict), the same fixed batches and the same optimizer. A timed step is a
full training step: zero_grad, forward, loss, backward, optimizer step. After a warm-up, rounds of n steps
alternate between the two frameworks (the order flips each round, so background load hits both alike); the
table shows the median over rounds of ms/step. With one thread the clock is the process's CPU time, which
other processes on a shared machine cannot inflate (they still share caches); with more threads, wall time. BLAS and OpenMP pools are pinned to --threads before NumPy or
torch load, and torch.set_num_threads is set too.

Peak memory: each (workload, framework) runs a few dozen steps in a fresh subprocess that imports only what
it needs (the descend child never imports torch). "RSS" is that process's peak resident set (VmHWM, which is
ru_maxrss without the value Linux carries over from the parent across exec), so it includes the framework's
own import footprint; "train" is the peak growth while training: the high-water mark is reset
(/proc/self/clear_refs) once imports, model and data are set up, so it counts activations, gradients,
optimizer state and allocator slack only.

OpenBLAS kernels. NumPy's OpenBLAS picks its kernels ("core") for the CPU at load time, unless
OPENBLAS_CORETYPE names one; the machine line reports the kernels in use and says when the variable forced them
(some shared machines set it, with OPENBLAS_L2_SIZE, for old OpenBLAS builds; a current one runs at half speed
under a forced older core). To measure as on a fresh machine there, unset both for the one command:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_train.py
PyTorch uses MKL and oneDNN, which these variables do not affect.

GEMM-bound limit: the matrix-product FLOPs of one step (forward, weight and input gradients of every Linear and
Conv, counted from the layer shapes) divided by this machine's measured float32 matmul rate (the best of NumPy
and torch on 1024x1024 products with the same threads). "GEMM %" = that ideal time / measured step time.
"""

from __future__ import annotations

import os
import sys

THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = THREADS  # before NumPy or torch load their thread pools

import argparse  # noqa: E402
import ctypes  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


def _import_torch(needed: bool = True) -> Any:
    if not needed:
        return None
    try:
        import torch
    except ImportError:  # the tables then show descend alone
        return None
    torch.set_num_threads(int(THREADS))
    return torch


# ---- timing -----------------------------------------------------------------------------------------------

CLOCK = time.process_time if THREADS == "1" else time.perf_counter


def _steps_for(step: Callable, budget: float) -> int:
    """How many steps fill about `budget` seconds (from one timed step after warm-up)."""
    t0 = CLOCK()
    step()
    dt = max(CLOCK() - t0, 1e-6)
    return max(3, int(budget / dt))


def _round(step: Callable, n: int) -> float:
    t0 = CLOCK()
    for _ in range(n):
        step()
    return (CLOCK() - t0) / n


def compare(d_step: Callable, t_step: Callable | None, rounds: int, budget: float,
            warmup: int = 5) -> tuple[float, float]:
    """Median seconds/step of each, from `rounds` alternating rounds of about `budget` seconds each."""
    for _ in range(warmup):
        d_step()
        if t_step is not None:
            t_step()
    nd = _steps_for(d_step, budget)
    nt = _steps_for(t_step, budget) if t_step is not None else 0
    d_times, t_times = [], []
    for r in range(rounds):
        pair = [(d_step, nd, d_times), (t_step, nt, t_times)]
        if r % 2:
            pair.reverse()
        for step, n, out in pair:
            if step is not None:
                out.append(_round(step, n))
    return float(np.median(d_times)), float(np.median(t_times)) if t_times else float("nan")


def matmul_rate(torch: Any) -> float:
    """Best float32 FLOP/s of a 1024^3 product, NumPy or torch, on the pinned threads."""
    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    out = np.empty_like(a)
    best = 0.0
    cands = [lambda: np.matmul(a, a, out=out)]
    if torch is not None:
        ta, tout = torch.from_numpy(a), torch.empty(n, n)
        cands.append(lambda: torch.mm(ta, ta, out=tout))
    for f in cands:
        f()
        for _ in range(5):
            t0 = CLOCK()
            f()
            best = max(best, 2.0 * n ** 3 / (CLOCK() - t0))
    return best


# ---- memory (child process) -------------------------------------------------------------------------------

def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_memory(key: str, framework: str, steps: int) -> dict:
    """Run `steps` training steps of one framework; report peak RSS and the peak growth while training."""
    torch = _import_torch(framework == "torch")
    from train_workloads import all_workloads

    w = all_workloads(with_torch=framework == "torch")[key]()
    step = w.d_step if framework == "descend" else w.t_step
    setup_hwm, base = _status_kb("VmHWM"), _status_kb("VmRSS")
    reset = _reset_hwm()
    for _ in range(steps):
        step()
    hwm = _status_kb("VmHWM")
    if hwm is None:  # no /proc: fall back to ru_maxrss (KiB on Linux; may include the parent's before exec)
        return {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "train_mb": None}
    del torch
    peak = max(hwm, setup_hwm or 0)
    return {"rss_mb": peak / 1024, "train_mb": (hwm - base) / 1024 if reset and base else None}


def measure_memory(key: str, framework: str, steps: int) -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", THREADS, "--child", key, framework,
           str(steps)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        print(f"  memory child {key}/{framework} failed: {res.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---- machine --------------------------------------------------------------------------------------------

def openblas_core() -> str | None:
    """The kernel set ("core") NumPy's OpenBLAS runs with in this process, or None if it can't be asked."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
                    "openblas_get_corename"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def machine(torch: Any) -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        cpu = f"{info['model name']} (family {info.get('cpu family', '?')} model {info.get('model', '?')})"
    except (OSError, KeyError, ValueError):
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        blas = "?"
    tv = torch.__version__ if torch is not None else "absent"
    tblas = ""
    if torch is not None:
        cfg = torch.__config__.show()
        tblas = " (MKL)" if "BLAS_INFO=mkl" in cfg else ""
    core = openblas_core()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    core = f", {core} kernels" + (f" forced by OPENBLAS_CORETYPE={forced}" if forced else "") if core else ""
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__} "
            f"({blas}{core}), torch {tv}{tblas}; {THREADS} thread(s) each")


# ---- tables ---------------------------------------------------------------------------------------------

def main_table(torch: Any, keys: list[str], rounds: int, budget: float, memory: bool, mem_steps: int,
               rate: float) -> list[dict]:
    from train_workloads import TARGETS, all_workloads

    builders = all_workloads(with_torch=torch is not None)
    rows = []
    print(f"\n{'workload':<40}{'descend':>9}{'torch':>9}{'ratio':>7}{'target':>7}"
          f"{'GEMM% d/t':>11}{'RSS MB d/t':>12}{'train MB d/t':>14}")
    print(f"{'':<40}{'ms/step':>9}{'ms/step':>9}")
    for key in keys:
        w = builders[key]()
        diff = w.check() if w.check is not None else None
        if diff is not None and diff > 1e-3:
            print(f"  warning: {key}: initial losses differ by {diff:.2e}; the two models are not the same")
        d, t = compare(w.d_step, w.t_step, rounds, budget)
        ideal = w.flops / rate
        mem = {}
        if memory:
            mem = {fw: measure_memory(key, fw, mem_steps) for fw in ("descend", "torch")
                   if fw == "descend" or torch is not None}
        row = {"key": key, "name": w.name, "descend_ms": d * 1e3, "torch_ms": t * 1e3, "ratio": d / t,
               "target": TARGETS.get(key), "gemm_descend": ideal / d, "gemm_torch": ideal / t,
               "gflop": w.flops / 1e9, "memory": mem, "init_loss_diff": diff}
        rows.append(row)
        tgt = f"{row['target']:.1f}" if row["target"] else "-"
        dm, tm = mem.get("descend") or {}, mem.get("torch") or {}

        def mb(m: dict, k: str) -> str:
            return f"{m[k]:.0f}" if m.get(k) is not None else "-"

        print(f"{w.name:<40}{d * 1e3:9.2f}{t * 1e3:9.2f}{d / t:7.2f}{tgt:>7}"
              f"{100 * ideal / d:5.0f}/{100 * ideal / t:<5.0f}{mb(dm, 'rss_mb'):>6}/{mb(tm, 'rss_mb'):<5}"
              f"{mb(dm, 'train_mb'):>7}/{mb(tm, 'train_mb'):<6}", flush=True)
    return rows


def scaling_tables(torch: Any, quick: bool, rounds: int, budget: float) -> dict:
    from train_workloads import mlp

    out: dict = {"batch": [], "depth": [], "epoch": []}
    batches = [16, 128, 1024] if quick else [16, 64, 128, 256, 1024]
    print(f"\nstep time against batch size: MLP 784-512-256-10, Adam\n{'batch':>8}{'descend ms':>12}"
          f"{'torch ms':>10}{'ratio':>7}{'descend us/sample':>19}")
    for b in batches:
        w = mlp([784, 512, 256, 10], b, torch is not None)
        d, t = compare(w.d_step, w.t_step, rounds, budget)
        out["batch"].append({"batch": b, "descend_ms": d * 1e3, "torch_ms": t * 1e3})
        print(f"{b:>8}{d * 1e3:12.2f}{t * 1e3:10.2f}{d / t:7.2f}{d * 1e6 / b:19.1f}", flush=True)
    depths = [1, 4, 16] if quick else [1, 2, 4, 8, 16]
    print(f"\nstep time against depth: MLP 256 wide, b128, Adam\n{'hidden':>8}{'descend ms':>12}"
          f"{'torch ms':>10}{'ratio':>7}{'descend ms/layer':>18}")
    for k in depths:
        w = mlp([256] * (k + 1) + [10], 128, torch is not None)
        d, t = compare(w.d_step, w.t_step, rounds, budget)
        out["depth"].append({"hidden_layers": k, "descend_ms": d * 1e3, "torch_ms": t * 1e3})
        print(f"{k:>8}{d * 1e3:12.2f}{t * 1e3:10.2f}{d / t:7.2f}{d * 1e3 / (k + 1):18.2f}", flush=True)
    sizes = [2560, 10240] if quick else [2560, 5120, 10240, 20480]
    print(f"\nepoch time against dataset size: MLP 784-512-256-10 b128, Adam, shuffled loader\n"
          f"{'samples':>8}{'descend s':>11}{'torch s':>9}{'ratio':>7}{'descend us/sample':>19}"
          f"{'train MB d/t':>14}")
    for n in sizes:
        d, t, dm, tm = epoch_time(torch, n)
        out["epoch"].append({"samples": n, "descend_s": d, "torch_s": t, "descend_mb": dm, "torch_mb": tm})
        fmt = (lambda v: f"{v:.0f}" if v is not None else "-")
        print(f"{n:>8}{d:11.3f}{t:9.3f}{d / t:7.2f}{d * 1e6 / n:19.1f}{fmt(dm):>7}/{fmt(tm):<6}", flush=True)
    return out


def epoch_time(torch: Any, n: int, batch: int = 128) -> tuple:
    """One epoch of each framework over n samples; seconds and the RSS growth (MB) during the epoch."""
    import descend
    import descend.functional as F
    from descend import optim
    from descend.data import DataLoader, TensorDataset
    from train_workloads import _copy_weights, _mlp, _torch_mlp

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 784)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    widths = [784, 512, 256, 10]
    dmodel = _mlp(widths)
    d_opt = optim.Adam(dmodel.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=0)

    def d_epoch() -> None:
        for xb, yb in loader:
            d_opt.zero_grad()
            F.cross_entropy(dmodel(xb), yb).backward()
            d_opt.step()

    t_epoch = None
    if torch is not None:
        tmodel = _torch_mlp(widths)
        _copy_weights(dmodel, tmodel)
        t_opt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        gen = torch.Generator().manual_seed(0)

        def t_epoch() -> None:
            # Whole-batch indexing of a shuffled permutation: the fastest plain PyTorch loop over in-memory
            # tensors (torch's DataLoader would fetch and collate sample by sample).
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, batch):
                idx = perm[i:i + batch]
                t_opt.zero_grad()
                torch.nn.functional.cross_entropy(tmodel(tx[idx]), ty[idx]).backward()
                t_opt.step()

    def run(fn: Callable) -> tuple[float, float | None]:
        fn()  # warm-up epoch: optimizer state and caches exist before measuring
        base = _status_kb("VmRSS")
        reset = _reset_hwm()
        t0 = CLOCK()
        fn()
        dt = CLOCK() - t0
        hwm = _status_kb("VmHWM") if reset else None
        return dt, ((hwm - base) / 1024 if hwm and base else None)

    d, dm = run(d_epoch)
    t, tm = run(t_epoch) if t_epoch is not None else (float("nan"), None)
    del descend
    return d, t, dm, tm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and scaling points")
    ap.add_argument("--only", default="", help="comma-separated workload keys")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", default="", help="also write the results to this file")
    ap.add_argument("--child", nargs=3, metavar=("KEY", "FRAMEWORK", "STEPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        key, fw, steps = args.child
        print(json.dumps(child_memory(key, fw, int(steps))))
        return
    torch = _import_torch()
    from train_workloads import all_workloads

    keys = [k for k in args.only.split(",") if k] or list(all_workloads(False))
    rounds, budget = (5, 0.15) if args.quick else (9, 0.4)
    rate = matmul_rate(torch)
    print(f"descend vs PyTorch training step, float32, CPU\nmachine: {machine(torch)}\n"
          f"matmul rate: {rate / 1e9:.0f} GFLOP/s (1024^3, best of NumPy/torch); median of {rounds} alternating "
          f"rounds of ~{budget:.2f} s; ratio = descend / torch (lower is better)")
    rows = main_table(torch, keys, rounds, budget, not args.no_memory, 20 if args.quick else 50, rate)
    scaling = {} if args.no_scaling else scaling_tables(torch, args.quick, rounds, budget)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(torch), "matmul_gflops": rate / 1e9, "rows": rows,
                       "scaling": scaling}, f, indent=1)


if __name__ == "__main__":
    main()

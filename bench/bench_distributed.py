"""Data-parallel throughput over MPI: samples/s at 1 and 2 ranks, time in gradient all-reduces, bucket sizes.

    python bench/bench_distributed.py            # launches itself with mpirun -n 1 and -n 2, prints a table
    python bench/bench_distributed.py --steps 300 --batch 100

The global batch is fixed (strong scaling: each of N ranks computes batch/N rows). Each rank uses one BLAS
thread. On a machine with fewer free cores than ranks the ranks share cores, and the 2-rank figure says more
about the machine than about descend.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(model_name: str, steps: int, batch: int) -> None:
    """Train `steps` steps of a built-in MNIST-1D model data-parallel; rank 0 prints one JSON line."""
    from descend import backend, distributed, models, nn, optim
    from descend.data import DataLoader
    from descend.data.mnist1d import MNIST1D

    world = distributed.init()
    backend.manual_seed(0)
    model = models.build(model_name, (40,), 10)
    net = distributed.DistributedDataParallel(model)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = distributed.ShardedLoader(DataLoader(MNIST1D(train=True), batch_size=batch, shuffle=True,
                                                  generator=1))
    loss_fn = nn.CrossEntropyLoss()

    def run(n: int) -> None:
        done = 0
        while done < n:
            for x, y in loader:
                opt.zero_grad()
                loss_fn(net(x), y).backward()
                opt.step()
                done += 1
                if done == n:
                    return

    run(20)  # warm-up
    distributed.barrier()
    net.allreduce_seconds, net.allreduce_calls = 0.0, 0
    start = time.perf_counter()
    run(steps)
    distributed.barrier()
    elapsed = time.perf_counter() - start
    bucket_numel = [b.numel for b in net.buckets]
    raw = _raw_allreduce_us(sum(bucket_numel)) if world > 1 else 0.0
    if distributed.rank() == 0:
        print(json.dumps({"model": model_name, "world": world, "batch": batch, "steps": steps,
                          "samples_per_s": steps * batch / elapsed, "ms_per_step": 1e3 * elapsed / steps,
                          "allreduce_ms_per_step": 1e3 * net.allreduce_seconds / steps,
                          "allreduces_per_step": net.allreduce_calls / steps, "buckets": bucket_numel,
                          "raw_allreduce_us": raw}), flush=True)


def _raw_allreduce_us(numel: int, repeats: int = 500) -> float:
    """Mean time of one in-place MPI Allreduce of `numel` float32 values (the bucket alone, no copies)."""
    from descend import distributed

    buf = np.ones(numel, dtype=np.float32)
    distributed.barrier()
    start = time.perf_counter()
    for _ in range(repeats):
        distributed.all_reduce(buf)
    return 1e6 * (time.perf_counter() - start) / repeats


def _launch(n: int, model: str, steps: int, batch: int) -> dict:
    mpirun = shutil.which("mpirun")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    # Waiting ranks yield the core instead of spinning: on a machine shared with other work a spinning rank
    # takes the core from the rank it waits for (measured: 4x slower steps for the MLP at 2 ranks here).
    cmd = [mpirun, "-n", str(n), "--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1",
           *root, sys.executable, __file__,
           "--worker", model, "--steps", str(steps), "--batch", str(batch)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=None, help="global batch (default: 100, then 1000)")
    p.add_argument("--models", default="mlp,cnn")
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.batch)
        return
    if shutil.which("mpirun") is None:
        raise SystemExit("bench_distributed: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)")
    print(f"MNIST-1D, {args.steps} steps, SGD; {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"{'model':6} {'batch':>5} {'ranks':>5} {'samples/s':>10} {'ms/step':>8} {'speed-up':>8} "
          f"{'allreduce ms/step':>18} {'raw allreduce us':>17}  buckets (elements)")
    for model in args.models.split(","):
        for batch in [args.batch] if args.batch else [100, 1000]:
            base = None
            for n in (1, 2):
                r = _launch(n, model, args.steps, batch)
                base = base or r["samples_per_s"]
                print(f"{model:6} {batch:5d} {n:5d} {r['samples_per_s']:10.0f} {r['ms_per_step']:8.2f} "
                      f"{r['samples_per_s'] / base:8.2f} {r['allreduce_ms_per_step']:18.3f} "
                      f"{r['raw_allreduce_us']:17.1f}  {r['buckets']}")


if __name__ == "__main__":
    main()

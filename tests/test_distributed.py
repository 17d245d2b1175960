"""Data-parallel training over MPI: real `mpirun -n 2` jobs against one process with the whole batch.

The 2-rank jobs run this file as a script (`python tests/test_distributed.py WORKER ARGS`); the reference
single-process runs happen in the test process. Without mpirun or mpi4py the MPI tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = 100
# The equivalence cases: (name, model, optimizer).
CASES = [("mlp-sgd", "mlp", "sgd"), ("mlp-adam", "mlp", "adam"), ("cnn-bn-sgd", "cnn-bn", "sgd"),
         ("cnn-bn-adam", "cnn-bn", "adam")]


# --- what every rank (and the single-process reference) runs ------------------------------------------------

def _cnn_bn(num_classes: int = 10):
    """The MNIST-1D CNN's first two convolutions with BatchNorm after each, then a linear layer (no conv
    bias: before BatchNorm its true gradient is 0, and Adam would amplify the rounding noise in it)."""
    from descend import nn

    class CNNBN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(1, 8, 5, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm1d(8)
            self.conv2 = nn.Conv1d(8, 8, 3, stride=2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm1d(8)
            self.linear = nn.Linear(8 * 10, num_classes)

        def forward(self, x):
            h = self.bn1(self.conv1(x.reshape(x.shape[0], 1, -1))).relu()
            h = self.bn2(self.conv2(h)).relu()
            return self.linear(h.reshape(h.shape[0], -1))

    return CNNBN()


def train_case(model_name: str, optimizer: str, batch_size: int = 100, steps: int = STEPS,
               bucket_cap_mb: float = 25.0) -> dict:
    """Train `steps` steps on MNIST-1D with the global batch `batch_size`, data-parallel over the MPI job
    when there is one (SyncBatchNorm for BatchNorm); returns the final state as arrays."""
    from descend import backend, distributed, models, nn, optim
    from descend.data import DataLoader, Subset
    from descend.data.mnist1d import MNIST1D
    from descend.train import fit

    world = distributed.init()
    backend.manual_seed(0)
    data = Subset(MNIST1D(train=True), list(range(2000)))  # 20 batches of 100 an epoch
    if model_name == "mlp":
        model = models.build("mlp", (40,), 10, dropout=0.0)
    else:
        model = _cnn_bn()
    if world > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if world > 1 and distributed.rank() == 1:
        backend.manual_seed(123)  # rank 1's own init is overwritten by rank 0's broadcast
        for p in model.parameters():
            p._data[...] = backend.rng().standard_normal(p.shape)
    params = list(model.parameters())
    opt = optim.SGD(params, lr=0.05, momentum=0.9) if optimizer == "sgd" else optim.Adam(params, lr=1e-3)
    loader = distributed.ShardedLoader(DataLoader(data, batch_size=batch_size, shuffle=True, generator=1))
    net = distributed.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    trainer = fit(net, opt, loader, loss_fn=nn.CrossEntropyLoss(), epochs=steps // len(loader))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["_loss"] = np.array([h["train_loss"] for h in trainer.history])
    return state


def _worker_equivalence(out_dir: str) -> None:
    from descend import distributed

    for name, model, opt in CASES:
        # Small buckets for the first case, so gradients travel in several all-reduces.
        state = train_case(model, opt, bucket_cap_mb=0.01 if name == "mlp-sgd" else 25.0)
        suffix = "" if distributed.rank() == 0 else "-rank1"  # every replica must hold rank 0's weights
        np.savez(Path(out_dir) / f"{name}{suffix}.npz", **state)
    grads = no_sync_gradients()
    np.savez(Path(out_dir) / f"no_sync{'' if distributed.rank() == 0 else '-rank1'}.npz", **grads)


def no_sync_gradients() -> dict:
    """Gradients of the mean loss over 4 micro-batches of 25 per rank (rows of one batch of 100 when there
    are 2 ranks), accumulated under no_sync() and averaged by the last backward."""
    from descend import backend, distributed, models, nn
    from descend.data.mnist1d import MNIST1D
    from descend.tensor import Tensor

    world = distributed.init()
    backend.manual_seed(0)
    model = models.build("mlp", (40,), 10)
    net = distributed.DistributedDataParallel(model, bucket_cap_mb=0.02)
    x, y = (a[:100] for a in MNIST1D(train=True).arrays)
    share = 100 // world
    lo = distributed.rank() * share
    loss_fn = nn.CrossEntropyLoss()
    for k in range(0, share, 25):
        xb, yb = Tensor(x[lo + k:lo + k + 25]), Tensor(y[lo + k:lo + k + 25])
        if k + 25 < share:
            with net.no_sync():
                (loss_fn(net(xb), yb) / (share // 25)).backward()
        else:
            (loss_fn(net(xb), yb) / (share // 25)).backward()
    out = {name: p.grad.numpy() for name, p in model.named_parameters()}
    out["_calls"] = np.array([net.allreduce_calls, len(net.buckets)])
    return out


if __name__ == "__main__":
    {"equivalence": _worker_equivalence}[sys.argv[1]](*sys.argv[2:])


# --- the tests ---------------------------------------------------------------------------------------------
import pytest  # noqa: E402

MPIRUN = shutil.which("mpirun")


def _mpi_missing() -> str | None:
    """Why the 2-rank tests cannot run here, or None."""
    from descend import distributed

    if MPIRUN is None:
        return "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
    if not distributed.is_available():
        return "mpi4py not installed (pip install 'descend[mpi]')"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def _mpirun(n: int, *args: str) -> list[str]:
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [MPIRUN, "-n", str(n), "--oversubscribe", *root, sys.executable, *args]


def _env() -> dict:
    # One BLAS thread per rank: two ranks share the machine's cores.
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    r = _run(_mpirun(2, str(Path(__file__).resolve()), "equivalence", str(out)))
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@needs_mpi
@pytest.mark.parametrize("name,model,optimizer", CASES, ids=[c[0] for c in CASES])
def test_two_ranks_of_50_equal_one_process_of_100(two_rank_results: Path, name: str, model: str,
                                                  optimizer: str) -> None:
    reference = train_case(model, optimizer)  # one process, batch 100, BatchNorm (not synced)
    got = np.load(two_rank_results / f"{name}.npz")
    other = np.load(two_rank_results / f"{name}-rank1.npz")
    for key, want in reference.items():
        if key != "_loss":
            np.testing.assert_array_equal(other[key], got[key], err_msg=f"{name} {key}: ranks differ")
        # float32 sums in another order: relative error ~1e-7 a step, over 100 steps
        np.testing.assert_allclose(got[key], want, rtol=2e-5, atol=2e-6, err_msg=f"{name} {key}")


@needs_mpi
def test_no_sync_accumulates_locally_and_the_last_backward_averages(two_rank_results: Path) -> None:
    reference = no_sync_gradients()
    got = np.load(two_rank_results / "no_sync.npz")
    calls, buckets = got["_calls"]
    assert buckets > 1 and calls == buckets  # one all-reduce per bucket, none inside no_sync
    for key, want in reference.items():
        if key != "_calls":
            np.testing.assert_allclose(got[key], want, rtol=1e-5, atol=1e-7, err_msg=key)

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
# The equivalence cases: (name, model, optimizer, micro-batches per step).
CASES = [("mlp-sgd", "mlp", "sgd", 1), ("mlp-adam", "mlp", "adam", 1), ("cnn-bn-sgd", "cnn-bn", "sgd", 1),
         ("cnn-bn-adam", "cnn-bn", "adam", 1), ("mlp-adam-accumulate", "mlp", "adam", 2)]


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


def train_case(model_name: str, optimizer: str, accumulate: int = 1, steps: int = STEPS,
               bucket_cap_mb: float = 25.0) -> dict:
    """Train `steps` steps of 100 samples on MNIST-1D (`accumulate` micro-batches each), data-parallel over
    the MPI job when there is one (SyncBatchNorm for BatchNorm); returns the final state as arrays."""
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
    loader = distributed.ShardedLoader(DataLoader(data, batch_size=100 // accumulate, shuffle=True, generator=1))
    net = distributed.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    trainer = fit(net, opt, loader, loss_fn=nn.CrossEntropyLoss(), epochs=steps * accumulate // len(loader),
                  accumulate=accumulate)
    assert trainer.step == steps
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["_loss"] = np.array([h["train_loss"] for h in trainer.history])
    state["_syncs"] = np.array(net.allreduce_calls / len(net.buckets))  # gradient averages done
    return state


def _worker_equivalence(out_dir: str) -> None:
    from descend import distributed

    for name, model, opt, accumulate in CASES:
        # Small buckets for the first case, so gradients travel in several all-reduces.
        state = train_case(model, opt, accumulate, bucket_cap_mb=0.01 if name == "mlp-sgd" else 25.0)
        suffix = "" if distributed.rank() == 0 else "-rank1"  # every replica must hold rank 0's weights
        np.savez(Path(out_dir) / f"{name}{suffix}.npz", **state)
    np.savez(Path(out_dir) / f"bn-rank{distributed.rank()}.npz", **batchnorm_outputs())
    grads = no_sync_gradients()
    np.savez(Path(out_dir) / f"no_sync{'' if distributed.rank() == 0 else '-rank1'}.npz", **grads)


def _bn_data() -> tuple[np.ndarray, np.ndarray]:
    """A batch of 8 samples of 3 channels x 5 (the ranks take 4 rows each) and a loss weighting."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 3, 5)).astype(np.float32) * 2 + 1
    return x, rng.standard_normal((8, 3, 5)).astype(np.float32)


def batchnorm_outputs() -> dict:
    """On this rank's 4 rows: the output, input gradient and averaged weight gradient of BatchNorm1d(3)
    (per-rank statistics) and of SyncBatchNorm(3), for the loss sum(y * c)."""
    from descend import distributed, nn
    from descend._tensor import Tensor

    distributed.init()
    r = distributed.rank()
    x, c = (a[4 * r:4 * r + 4] for a in _bn_data())
    out = {}
    for kind, layer in (("plain", nn.BatchNorm1d(3)), ("sync", nn.SyncBatchNorm(3))):
        layer.weight._data[...] = [0.5, 1.0, 2.0]
        net = distributed.DistributedDataParallel(layer)
        xt = Tensor(x, requires_grad=True)
        y = net(xt)
        (y * Tensor(c)).sum().backward()
        out.update({f"{kind}_y": y.detach().numpy(), f"{kind}_dx": xt.grad.numpy(),
                    f"{kind}_dw": layer.weight.grad.numpy(), f"{kind}_mean": layer.running_mean.numpy()})
    return out


def no_sync_gradients() -> dict:
    """Gradients of the mean loss over 4 micro-batches of 25 per rank (rows of one batch of 100 when there
    are 2 ranks), accumulated under no_sync() and averaged by the last backward."""
    from descend import backend, distributed, models, nn
    from descend.data.mnist1d import MNIST1D
    from descend._tensor import Tensor

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


def _worker_raise() -> None:
    from descend import distributed

    distributed.init()
    if distributed.rank() == 1:
        raise ValueError("rank 1 failed on purpose")
    distributed.barrier()  # rank 0 would wait here forever without MPI_Abort


if __name__ == "__main__":
    {"equivalence": _worker_equivalence, "raise": _worker_raise}[sys.argv[1]](*sys.argv[2:])


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
    # Waiting ranks yield their core (the machine's cores are shared with other work).
    return [MPIRUN, "-n", str(n), "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", *root, sys.executable,
            *args]


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
@pytest.mark.parametrize("name,model,optimizer,accumulate", CASES, ids=[c[0] for c in CASES])
def test_two_ranks_of_50_equal_one_process_of_100(two_rank_results: Path, name: str, model: str,
                                                  optimizer: str, accumulate: int) -> None:
    reference = train_case(model, optimizer, accumulate)  # one process, batch 100, BatchNorm (not synced)
    got = np.load(two_rank_results / f"{name}.npz")
    other = np.load(two_rank_results / f"{name}-rank1.npz")
    assert reference.pop("_syncs") == 0 and got["_syncs"] == STEPS  # one average a step, even accumulating
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


SLOW_MODEL = '''
import time
from descend import models, nn


class Slow(nn.Module):
    """MNIST-1D's MLP without dropout, 20 ms slower a forward, so a test can kill a rank mid-run."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.mlp = models.build("mlp", input_shape, num_classes)

    def forward(self, x):
        time.sleep(0.02)
        return self.mlp(x)


def build(input_shape, num_classes):
    return Slow(input_shape, num_classes)
'''


def _train_args(out: Path, model: Path, name: str) -> list[str]:
    """60 steps (2 epochs of 30 batches of 20) of the slow MLP on 600 MNIST-1D samples, saved as a file."""
    data = out / "mnist1d-600.npz"
    if not data.exists():
        from descend.data.mnist1d import MNIST1D

        x, y = (a[:600] for a in MNIST1D(train=True).arrays)
        np.savez(data, x=x, y=y)
    return ["-m", "descend", "train", "--model", f"{model}:build", "--data", str(data), "--epochs", "2",
            "--batch-size", "20", "--val-split", "0", "--ckpt-every", "10", "--out", str(out), "--name", name,
            "--quiet"]


def _final_weights(run_dir: Path) -> dict:
    from descend.train.checkpoint import Checkpoints, load

    state = load(Checkpoints(run_dir / "checkpoints").path("latest"))
    assert state["step"] == 60
    return {k: np.asarray(v._data if hasattr(v, "_data") else v) for k, v in state["model"].items()}


def _rank_pid(parent: int, rank: int) -> int | None:
    """The pid of a child of mpirun whose environment says it is `rank`."""
    for child in Path(f"/proc/{parent}/task").glob("*/children"):
        for pid in child.read_text().split():
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
                return int(pid)
    return None


def _steps_logged(metrics: Path) -> int:
    if not metrics.exists():
        return 0
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()
             if line.strip().endswith("}") and '"kind": "step"' in line]
    return max(steps, default=0)


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds rank pids through /proc")
def test_killed_rank_ends_the_job_quickly_and_resume_reaches_the_same_weights(tmp_path: Path) -> None:
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL)
    full = _run(_mpirun(2, *_train_args(tmp_path, model, "full")))
    assert full.returncode == 0, full.stdout + full.stderr
    assert "run directory" in full.stdout and full.stdout.count("done:") == 1  # rank 0 alone reports

    job = subprocess.Popen(_mpirun(2, *_train_args(tmp_path, model, "cut")), cwd=ROOT, env=_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while _steps_logged(tmp_path / "cut" / "metrics.jsonl") < 15 and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = _rank_pid(job.pid, 1)
    assert pid is not None, f"rank 1 not found (job exit code {job.poll()}, step "\
                            f"{_steps_logged(tmp_path / 'cut' / 'metrics.jsonl')})"
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    out, _ = job.communicate(timeout=60)
    assert time.monotonic() - killed < 10, "the job outlived its killed rank"
    assert job.returncode != 0
    assert "rank 1" in out, out  # Open MPI names the rank that died
    assert _steps_logged(tmp_path / "cut" / "metrics.jsonl") < 60

    # The last complete checkpoint loads; the same world size continues to the same final weights, bit for bit.
    shutil.copytree(tmp_path / "cut", tmp_path / "cut-1rank")
    resumed = _run(_mpirun(2, "-m", "descend", "train", "--resume", str(tmp_path / "cut"), "--quiet"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    want = _final_weights(tmp_path / "full")
    got = _final_weights(tmp_path / "cut")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)

    # Another world size reshards the same global batches: the same run up to float32 sums' order.
    single = _run([sys.executable, "-m", "descend", "train", "--resume", str(tmp_path / "cut-1rank"), "--quiet"])
    assert single.returncode == 0, single.stdout + single.stderr
    got = _final_weights(tmp_path / "cut-1rank")
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5, err_msg=key)


@needs_mpi
def test_a_rank_that_raises_ends_the_job_with_its_rank_named() -> None:
    start = time.monotonic()
    r = _run(_mpirun(2, str(Path(__file__).resolve()), "raise"), timeout=60)
    assert time.monotonic() - start < 30
    assert r.returncode != 0
    assert "descend: rank 1 of 2: ValueError: rank 1 failed on purpose; aborting all ranks" in r.stderr, r.stderr


@needs_mpi
def test_batch_size_that_does_not_divide_is_a_clear_error(tmp_path: Path) -> None:
    r = _run(_mpirun(2, "-m", "descend", "train", "--model", "mlp", "--batch-size", "33", "--out",
                     str(tmp_path)))
    assert r.returncode != 0
    assert r.stderr.count("descend train: error: --batch-size: batch size 33 is global and must divide evenly "
                          "over 2 ranks") == 1, r.stderr
    assert not list(tmp_path.iterdir())  # nothing written


# --- single-process pieces: the sampler, the sharded loader, the buckets ---------------------------------------

@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (11, 4, False), (11, 4, True),
                                                  (12, 3, False), (2, 3, False)])
def test_sampler_matches_pytorch_without_shuffle(n: int, replicas: int, drop_last: bool) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    from descend.distributed import DistributedSampler

    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)
    del torch


@pytest.mark.parametrize("n,replicas", [(10, 3), (12, 4)])
def test_sampler_shards_one_permutation_per_epoch(n: int, replicas: int) -> None:
    from descend.distributed import DistributedSampler

    def shards(epoch: int) -> list[list[int]]:
        out = []
        for rank in range(replicas):
            s = DistributedSampler(range(n), replicas, rank, shuffle=True, seed=7)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    first = shards(0)
    pad = -n % replicas
    flat = sorted(i for shard in first for i in shard)
    assert set(flat) == set(range(n)) and len(flat) == n + pad  # all of them, `pad` repeated
    if pad == 0:
        assert sorted(flat) == list(range(n))  # disjoint
    assert shards(0) == first  # the same permutation on every call (every rank)
    assert shards(1) != first  # set_epoch reshuffles


def test_sampler_rejects_a_rank_outside_the_job() -> None:
    from descend.distributed import DistributedSampler

    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


def test_sharded_loader_splits_each_global_batch() -> None:
    from descend.data import DataLoader, TensorDataset
    from descend.distributed import ShardedLoader

    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11)
    ds = TensorDataset(x, y)
    whole = [b[1].numpy().tolist() for b in DataLoader(ds, batch_size=4, shuffle=True, generator=3)]
    parts = [[b[1].numpy().tolist() for b in ShardedLoader(DataLoader(ds, batch_size=4, shuffle=True,
                                                                      generator=3), rank, 2)]
             for rank in range(2)]
    for k, batch in enumerate(whole):
        got = parts[0][k] + parts[1][k]
        if len(batch) == 4:
            assert got == batch
        else:  # the last batch of 3: 2 rows each, the first row repeated (DistributedSampler's padding)
            assert got == batch + batch[:1]
    with pytest.raises(ValueError, match="batch size 5 is global and must divide evenly over 2 ranks"):
        ShardedLoader(DataLoader(ds, batch_size=5), 0, 2)


def test_buckets_hold_parameters_in_backward_order_within_the_cap() -> None:
    from descend import nn
    from descend.distributed.ddp import _make_buckets

    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 10))  # 440 bytes of weights, 40 of biases each
    params = list(model.parameters())
    buckets = _make_buckets(params, cap_bytes=440)
    assert [[id(p) for p in b.params] for b in buckets] == [[id(params[3]), id(params[2])],
                                                              [id(params[1]), id(params[0])]]
    assert [b.numel for b in buckets] == [110, 110]
    assert len(_make_buckets(params, cap_bytes=100)) == 4  # a parameter over the cap gets its own bucket


def test_single_process_ddp_is_the_module() -> None:
    from descend import nn
    from descend.distributed import DistributedDataParallel, init, world_size
    from descend._tensor import Tensor

    assert init() == 1 and world_size() == 1  # not under mpirun: one process, no MPI
    model = nn.Linear(3, 2)
    net = DistributedDataParallel(model)
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    out = net(x)
    np.testing.assert_array_equal(out.detach().numpy(), model(x).detach().numpy())
    out.sum().backward()
    np.testing.assert_array_equal(model.weight.grad.numpy(), np.full((2, 3), 4, dtype=np.float32))
    assert net.allreduce_calls == 0
    assert list(net.state_dict()) == ["module.weight", "module.bias"]  # PyTorch's keys


def test_dataloader_with_distributed_sampler_batches_each_ranks_shard() -> None:
    from descend.data import DataLoader, TensorDataset
    from descend.distributed import DistributedSampler

    ds = TensorDataset(np.arange(10))
    batches = []
    for rank in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=False)
        batches.append([b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=sampler)])
    # PyTorch's layout: ranks stride through 0..9 padded with 0, 1 to 12 indices
    assert batches == [[[0, 3], [6, 9]], [[1, 4], [7, 0]], [[2, 5], [8, 1]]]


def test_without_mpi4py_descend_runs_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    from descend import distributed

    assert not distributed.is_available()
    assert distributed.init() == 1 and distributed.rank() == 0 and not distributed.is_initialized()
    x = np.ones(3, dtype=np.float32)
    assert distributed.all_reduce(x) is x and distributed.sum_floats([1.0, 2.0]) == [1.0, 2.0]


def test_under_mpirun_without_mpi4py_the_cli_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    from descend.cli import main

    assert main(["train", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "launched under MPI but mpi4py cannot be imported" in err and "pip install 'descend[mpi]'" in err


@needs_mpi
def test_batchnorm_keeps_per_rank_statistics_and_syncbatchnorm_shares_them(two_rank_results: Path) -> None:
    torch = pytest.importorskip("torch")
    x, c = _bn_data()
    ranks = [np.load(two_rank_results / f"bn-rank{r}.npz") for r in range(2)]

    def torch_bn(rows: slice) -> tuple:
        bn = torch.nn.BatchNorm1d(3)
        with torch.no_grad():
            bn.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
        xt = torch.tensor(x[rows], requires_grad=True)
        y = bn(xt)
        (y * torch.tensor(c[rows])).sum().backward()
        return y.detach().numpy(), xt.grad.numpy(), bn.weight.grad.numpy(), bn.running_mean.numpy()

    # BatchNorm1d: each rank normalises its 4 rows alone; the weight gradient is the ranks' average.
    shards = [torch_bn(slice(4 * r, 4 * r + 4)) for r in range(2)]
    for r in range(2):
        np.testing.assert_allclose(ranks[r]["plain_y"], shards[r][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ranks[r]["plain_dx"], shards[r][1], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ranks[r]["plain_mean"], shards[r][3], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ranks[r]["plain_dw"], (shards[0][2] + shards[1][2]) / 2, rtol=1e-4, atol=1e-5)
    # SyncBatchNorm: the 8 rows as one batch, gradients through the shared statistics included.
    y, dx, dw, mean = torch_bn(slice(0, 8))
    for r in range(2):
        rows = slice(4 * r, 4 * r + 4)
        np.testing.assert_allclose(ranks[r]["sync_y"], y[rows], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ranks[r]["sync_dx"], dx[rows], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ranks[r]["sync_mean"], mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ranks[r]["sync_dw"], dw / 2, rtol=1e-4, atol=1e-5)  # DDP averages

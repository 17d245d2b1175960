"""DistributedDataParallel: replicas that start equal (rank 0's weights) and stay equal (averaged gradients).

Gradients are averaged when backward has produced all of them: the wrapper joins a small node to every
output of its forward, placed so that the engine runs its backward after every parameter's gradient is
accumulated. There, each bucket of gradients is copied into one flat buffer and averaged with one
MPI Allreduce (PyTorch's bucketing). Overlapping non-blocking all-reduces with the rest of backward is not
done: bench/bench_distributed.py measured it on this 2-core machine, where the ranks share the cores
(see README "Distributed").
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from descend import backend
from descend.distributed import comm as C
from descend.nn.module import Module
from descend._tensor import Function, Tensor


class _Tail(Function):
    """A node whose backward runs last in a backward pass through the wrapper's output: it syncs gradients."""

    def forward(self, token, ddp=None):
        self.ddp = ddp
        return token

    def backward(self, g):
        self.ddp._sync_gradients()
        return None


class _Join(Function):
    """Identity on the module's output, with the tail as a second (zero-gradient) input."""

    def forward(self, out, tail):
        self.tail = tail
        return out

    def backward(self, g):
        return g, np.zeros_like(self.tail)


class _Bucket:
    """Parameters whose gradients travel in one flat buffer (one dtype), and the buffer's layout."""

    def __init__(self, params: list) -> None:
        self.params = params
        self.sizes = [p._data.size for p in params]
        self.dtype = params[0]._data.dtype
        self.numel = sum(self.sizes)


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training over the ranks of an MPI job (PyTorch's name and behaviour).

    Parameters and buffers are broadcast from rank 0 at construction; after each backward through the
    wrapper the gradients are averaged over ranks in flat buckets of about `bucket_cap_mb` MiB. Buffers
    (BatchNorm's running statistics) are broadcast from rank 0 before each forward with gradients enabled
    when `broadcast_buffers`. Inside `no_sync()` gradients accumulate locally.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group: Any = None, bucket_cap_mb: float = 25.0,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a descend.nn.Module, "
                            f"got {type(module).__name__}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True
        self.world_size = C.world_size()
        self.allreduce_seconds = 0.0  # time spent in gradient all-reduces (bench_distributed reports it)
        self.allreduce_calls = 0
        params = [p for p in module.parameters() if p.requires_grad]
        self.buckets = _make_buckets(params, int(bucket_cap_mb * 2 ** 20))
        for t in list(module.parameters()) + list(module.buffers()):
            C.broadcast(t, 0)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        from descend._tensor import is_grad_enabled

        grad = is_grad_enabled()
        if grad and self.broadcast_buffers and self.world_size > 1:
            self.sync_buffers()
        out = self.module(*args, **kwargs)
        if not (grad and self.require_backward_grad_sync and self.world_size > 1):
            return out
        token = Tensor(np.zeros((), dtype=np.float32), requires_grad=True)
        tail = _Tail.apply(token, ddp=self)
        return _attach(out, tail)

    def sync_buffers(self) -> None:
        """Overwrite every rank's buffers with rank 0's (running statistics)."""
        for b in self.module.buffers():
            C.broadcast(b, 0)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally; the first one outside averages the sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _sync_gradients(self) -> None:
        """Average every parameter's gradient over the ranks: one Allreduce per bucket."""
        world = self.world_size
        start = time.perf_counter()
        for bucket in self.buckets:
            # One slot per parameter counts the ranks that have a gradient, so a parameter that no rank
            # used keeps grad None (as in a single process) instead of getting zeros.
            flat = np.empty(bucket.numel + len(bucket.params), dtype=bucket.dtype)
            off = 0
            for p, n in zip(bucket.params, bucket.sizes):
                if p.grad is None:
                    flat[off:off + n] = 0
                else:
                    flat[off:off + n] = backend.to_numpy(p.grad._data).reshape(-1)
                off += n
            flat[off:] = [p.grad is not None for p in bucket.params]
            C.all_reduce(flat)
            flat[:off] /= world
            off = 0
            for i, (p, n) in enumerate(zip(bucket.params, bucket.sizes)):
                if flat[bucket.numel + i] > 0:
                    p.grad = Tensor(backend.xp.asarray(flat[off:off + n].reshape(p._data.shape)))
                off += n
            self.allreduce_calls += 1
        self.allreduce_seconds += time.perf_counter() - start

    def extra_repr(self) -> str:
        sizes = ", ".join(str(b.numel) for b in self.buckets)
        return f"world_size={self.world_size}, buckets=[{sizes}] elements"


def _attach(out: Any, tail: Tensor) -> Any:
    """Join the tail to every output tensor that requires grad (tuples, lists and dicts looked through)."""
    if isinstance(out, Tensor):
        return _Join.apply(out, tail) if out.requires_grad else out
    if isinstance(out, (tuple, list)):
        return type(out)(_attach(o, tail) for o in out)
    if isinstance(out, dict):
        return {k: _attach(v, tail) for k, v in out.items()}
    return out


def _make_buckets(params: list, cap_bytes: int) -> list[_Bucket]:
    """Group parameters, in reverse registration order (the order backward produces them), by dtype into
    buckets of at most `cap_bytes` (a parameter larger than that gets a bucket of its own)."""
    buckets: list[_Bucket] = []
    current: list = []
    size = 0
    for p in reversed(params):
        nbytes = p._data.nbytes
        if current and (p._data.dtype != current[0]._data.dtype or size + nbytes > cap_bytes):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets

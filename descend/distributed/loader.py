"""ShardedLoader: a rank's share of each global batch of a DataLoader.

Every rank iterates the same DataLoader (same seed, so the same permutation each epoch) with the global
batch size and keeps a contiguous 1/world_size of each batch. The ranks' shards are disjoint and together
are exactly the single-process batch, so a distributed run follows the single-process one (up to the order
of float additions), and the loader's state (generator, batches yielded) does not depend on the world size:
a checkpoint resumes at any world size that divides the batch.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from descend.distributed import comm as C
from descend._tensor import Tensor


class ShardedLoader:
    """Wrap `loader` (global batches) to yield this rank's rows of each batch; the rest delegates to it."""

    def __init__(self, loader: Any, rank: int | None = None, world_size: int | None = None) -> None:
        self.loader = loader
        self.rank = C.rank() if rank is None else rank
        self.world_size = C.world_size() if world_size is None else world_size
        bs = getattr(loader, "batch_size", None)
        if bs is not None and bs % self.world_size != 0:
            raise ValueError(f"batch size {bs} is global and must divide evenly over {self.world_size} ranks; "
                             f"use a multiple of {self.world_size}, e.g. {_multiple(bs, self.world_size)}")

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield _shard(batch, self.rank, self.world_size)

    def __getattr__(self, name: str) -> Any:
        if name == "loader":  # not set yet (during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.loader, name)

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def _multiple(n: int, k: int) -> int:
    return max(k, round(n / k) * k)


def _shard(batch: Any, rank: int, world: int) -> Any:
    """Rows [rank*k, (rank+1)*k) of every tensor, k = ceil(n / world); a short last batch that does not
    divide is padded by repeating its first rows (as DistributedSampler pads), so every rank has k rows."""
    if isinstance(batch, (tuple, list)):
        return type(batch)(_shard(b, rank, world) for b in batch)
    if isinstance(batch, dict):
        return {k: _shard(v, rank, world) for k, v in batch.items()}
    if not isinstance(batch, Tensor):
        return batch
    n = batch.shape[0]
    k = math.ceil(n / world)
    if n % world == 0:
        return Tensor(batch._data[rank * k:(rank + 1) * k])
    index = (np.arange(rank * k, (rank + 1) * k)) % n
    return Tensor(batch._data[index])

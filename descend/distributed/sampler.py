"""DistributedSampler: each rank draws a disjoint shard of the same per-epoch permutation (PyTorch's rules)."""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from descend.distributed import comm as C


class DistributedSampler:
    """Indices of `dataset` for one rank: the epoch's permutation (seeded by `seed + epoch`), padded by
    repeating its start to a multiple of `num_replicas` (or cut with `drop_last`), then every
    `num_replicas`-th index from `rank` on. Call `set_epoch(epoch)` before each epoch to reshuffle.

    The permutation is NumPy's (`Generator(PCG64(seed + epoch)).permutation`), so the shards differ from
    PyTorch's for the same seed; the padding, the cut and the striding are PyTorch's.
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        num_replicas = C.world_size() if num_replicas is None else num_replicas
        rank = C.rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.Generator(np.random.PCG64(self.seed + self.epoch)).permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                indices = np.concatenate([indices, np.resize(indices, pad)])  # repeats from the start
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use `epoch` in the shuffling seed, so every epoch has a new order, the same on every rank."""
        self.epoch = epoch

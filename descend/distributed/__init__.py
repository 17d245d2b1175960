"""Data-parallel training over MPI (mpi4py + Open MPI): the process group, collectives, DDP, samplers.

Launch with `mpirun -n N python script.py` or `mpirun -n N descend train ...`. Importing this package never
imports mpi4py; `init()` does, and only inside a job launched with more than one rank.
"""

from descend.distributed.comm import (DistributedError, ReduceOp, abort, all_reduce, any_rank, barrier,
                                      broadcast, broadcast_object, get_rank, get_world_size, init,
                                      is_available, is_initialized, launched, rank, sum_floats, world_size)
from descend.distributed.ddp import DistributedDataParallel
from descend.distributed.loader import ShardedLoader
from descend.distributed.sampler import DistributedSampler
from descend.nn.sync_batchnorm import SyncBatchNorm

convert_sync_batchnorm = SyncBatchNorm.convert_sync_batchnorm

__all__ = ["DistributedError", "ReduceOp", "abort", "all_reduce", "any_rank", "barrier", "broadcast",
           "broadcast_object", "get_rank", "get_world_size", "init", "is_available", "is_initialized",
           "launched", "rank", "sum_floats", "world_size", "DistributedDataParallel", "ShardedLoader",
           "DistributedSampler", "SyncBatchNorm", "convert_sync_batchnorm"]

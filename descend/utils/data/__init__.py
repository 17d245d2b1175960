"""`torch.utils.data` under its PyTorch name: the same objects as `descend.data` (no copies, no wrappers).

`DistributedSampler` (also `descend.utils.data.distributed.DistributedSampler`) is descend.distributed's,
imported when first asked for.
"""

from typing import Any

from descend.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                          RandomSampler, Sampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                          TensorDataset, WeightedRandomSampler, WorkerInfo, default_collate, default_convert,
                          get_worker_info, random_split)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "default_collate", "default_convert",
           "get_worker_info", "random_split", "DistributedSampler"]


from descend.utils.data import dataloader  # noqa: E402  (torch.utils.data.dataloader.default_collate)


def __getattr__(name: str) -> Any:
    if name == "distributed":  # torch.utils.data.distributed.DistributedSampler without importing it first
        import importlib
        return importlib.import_module("descend.utils.data.distributed")
    if name == "DistributedSampler":
        from descend.distributed.sampler import DistributedSampler
        return DistributedSampler
    raise AttributeError(f"module 'descend.utils.data' has no attribute '{name}'")

"""`torch.utils.data` under its PyTorch name: the same objects as `descend.data` (no copies, no wrappers)."""

from descend.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                          RandomSampler, Sampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                          WeightedRandomSampler, WorkerInfo, default_collate, default_convert, get_worker_info,
                          random_split)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "WorkerInfo", "default_collate", "default_convert", "get_worker_info",
           "random_split"]

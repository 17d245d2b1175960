"""Datasets and the DataLoader: built-in data (MNIST-1D, Fashion-MNIST, 2-D mixtures) and the user's files."""

from descend.data._collate import default_collate, default_convert
from descend.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                                  TensorDataset, random_split)
from descend.data.fashion_mnist import DEBIAN_ROOT, FashionMNIST, load_fashion_mnist, read_idx
from descend.data.loader import DataLoader, collate
from descend.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                                  WeightedRandomSampler)
from descend.data.worker import WorkerInfo, get_worker_info
from descend.data.mixtures import gaussian_mixture, mixture_modes
from descend.data.mnist1d import MNIST1D, mnist1d
from descend.data.user import (DataError, UserDataset, check_data, check_inputs, check_labels,
                               load_user_data)

__all__ = ["Dataset", "IterableDataset", "Subset", "TensorDataset", "ConcatDataset", "ChainDataset", "StackDataset",
           "random_split",
           "DataLoader", "collate", "default_collate", "default_convert", "get_worker_info", "WorkerInfo",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "MNIST1D", "mnist1d",
           "FashionMNIST", "load_fashion_mnist", "read_idx", "DEBIAN_ROOT", "gaussian_mixture", "mixture_modes",
           "DataError", "UserDataset", "check_data", "check_inputs", "check_labels", "load_user_data"]

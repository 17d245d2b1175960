"""Datasets and the DataLoader: built-in data (MNIST-1D, Fashion-MNIST, 2-D mixtures) and the user's files."""

from descend.data.dataset import Dataset, Subset, TensorDataset, random_split
from descend.data.fashion_mnist import DEBIAN_ROOT, FashionMNIST, load_fashion_mnist, read_idx
from descend.data.loader import DataLoader, collate
from descend.data.mixtures import gaussian_mixture, mixture_modes
from descend.data.mnist1d import MNIST1D, mnist1d
from descend.data.user import (DataError, UserDataset, check_data, check_inputs, check_labels,
                               load_user_data)

__all__ = ["Dataset", "Subset", "TensorDataset", "random_split", "DataLoader", "collate", "MNIST1D", "mnist1d",
           "FashionMNIST", "load_fashion_mnist", "read_idx", "DEBIAN_ROOT", "gaussian_mixture", "mixture_modes",
           "DataError", "UserDataset", "check_data", "check_inputs", "check_labels", "load_user_data"]

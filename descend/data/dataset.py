"""Datasets: the indexable base class, datasets over whole arrays, subsets and random splits."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from descend import backend
from descend.tensor import Tensor


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` returns one sample (a tuple of arrays or numbers)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def as_array(data: Any) -> np.ndarray:
    """A NumPy/CuPy array from a Tensor, an array, or Python data (Python floats become the default dtype)."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy"):
        return data
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        arr = arr.astype(backend.default_dtype())  # as torch.tensor([0.5]) is float32
    return arr


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays (inputs, targets, ...); `arrays` enables whole-batch indexing."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(as_array(a) for a in arrays)
        sizes = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
            raise ValueError(f"TensorDataset: all arrays need the same first dimension; got shapes {shapes}")

    def __getitem__(self, index: Any) -> tuple:
        return tuple(a[index] for a in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])


class Subset(Dataset):
    """The samples of `dataset` at `indices` (the DataLoader batches it by indexing the parent's arrays)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[self.indices[index]]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)


def _generator(generator: Any) -> np.random.Generator:
    """A NumPy Generator from an int seed, a Generator, or None (a child of descend's global generator)."""
    if generator is None:
        return np.random.default_rng(int(backend.rng().integers(2**63)))
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be an int seed, a numpy.random.Generator or None, got "
                    f"{type(generator).__name__}")


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths (ints, or fractions summing to 1).

    Fractions are floored and the remainder handed out one by one from the first split, as PyTorch does.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0:
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: fractions must be non-negative, got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of lengths {sum(lengths)} != length of the dataset {n}")
    perm = _generator(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out

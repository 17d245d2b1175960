"""Datasets: map-style and iterable base classes, datasets over whole arrays, subsets, concatenations and
random splits (torch.utils.data's classes, with the same item and length semantics)."""

from __future__ import annotations

import bisect
import math
import warnings
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from descend import backend
from descend.data.sampler import as_rng
from descend._tensor import Tensor


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` returns one sample; `a + b` concatenates."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        # TypeError, as len() of an object without __len__: list(loader) and length hints expect it.
        raise TypeError(f"{type(self).__name__} has no len(): a map-style dataset must implement __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses implement `__iter__`. With DataLoader workers every worker runs its
    own copy of the iterator, so `__iter__` should use `get_worker_info()` to read only its share."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: Any) -> "ChainDataset":
        return ChainDataset([self, other])


def as_array(data: Any) -> np.ndarray:
    """A NumPy/CuPy array from a Tensor, an array, or Python data (Python floats become the default dtype)."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, np.ndarray) or backend.is_device_array(data):
        return data
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        arr = arr.astype(backend.default_dtype())  # as torch.tensor([0.5]) is float32
    return arr


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: `ds[i]` is the tuple (inputs[i], targets[i], ...) of Tensors.

    The raw arrays are kept in `arrays`, so the DataLoader batches by indexing them whole.

    >>> import descend
    >>> ds = TensorDataset(descend.arange(6).reshape(3, 2), descend.tensor([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (tensor([2, 3]), tensor(1)))
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(as_array(a) for a in arrays)
        sizes = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
            raise ValueError(f"TensorDataset: all arrays need the same first dimension; got shapes {shapes}")

    @property
    def tensors(self) -> tuple:
        """The data as Tensors sharing memory with `arrays` (PyTorch's attribute)."""
        return tuple(Tensor(a) for a in self.arrays)

    def __getitem__(self, index: Any) -> tuple:
        if isinstance(index, Tensor):
            index = index._data
        return tuple(Tensor(a[index]) for a in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])


class Subset(Dataset):
    """The samples of `dataset` at `indices` (the DataLoader batches it by indexing the parent's arrays).

    >>> import descend
    >>> ds = TensorDataset(descend.tensor([10, 11, 12, 13]))
    >>> [x.item() for (x,) in Subset(ds, [3, 0])]
    [13, 10]
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices  # the sequence given, as PyTorch keeps it

    def index_array(self) -> np.ndarray:
        """`indices` as an int64 array (no copy when it is one already; read afresh each time, so in-place
        edits of a list are seen)."""
        return np.asarray(self.indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[int(self.indices[i]) for i in index]]
        if isinstance(index, np.ndarray):
            return self.dataset[self.index_array()[index]]
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: list) -> list:
        """Many samples at once (PyTorch's batched-fetch hook), through the parent's when it has one."""
        picked = [int(self.indices[i]) for i in indices]
        parent = getattr(self.dataset, "__getitems__", None)
        if parent is not None:
            return parent(picked)
        return [self.dataset[i] for i in picked]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several map-style datasets one after the other; `cumulative_sizes` ends each part."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index {index} should not exceed dataset "
                                 f"length {len(self)}")
            index += len(self)
        if index >= len(self):
            raise IndexError(f"ConcatDataset: index {index} out of range for {len(self)} samples")
        part = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][index - start]


class StackDataset(Dataset):
    """Samples of equally long datasets side by side: a tuple (datasets given positionally) or a dict."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: give the datasets either positionally (tuple samples) or by name "
                             "(dict samples), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: needs at least one dataset")
        self.datasets = args or kwargs
        lengths = {len(d) for d in (args or kwargs.values())}
        if len(lengths) != 1:
            raise ValueError(f"StackDataset: size mismatch between datasets: lengths {sorted(lengths)}")
        self._length = lengths.pop()

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one stream after the other."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths (ints, or fractions summing to 1).

    Fractions are floored and the remainder handed out one by one from the first split, as PyTorch does.
    `generator` is an int seed, a descend.Generator or numpy Generator, or None (descend's global generator).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0:
        for i, f in enumerate(lengths):
            if not 0 <= f <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {f}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this split will be empty",
                              stacklevel=2)
        lengths = counts
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of lengths {sum(lengths)} != length of the dataset {n}")
    perm = as_rng(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out

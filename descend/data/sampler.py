"""Samplers: the order in which a DataLoader visits a dataset's indices, and their grouping into batches.

Random samplers draw from a NumPy Generator made from their `generator` argument (see `as_rng`). PyTorch's
samplers draw from torch's generator, so the same seed gives other (equally uniform) orders here.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np

from descend import backend
from descend._tensor import Tensor


def as_rng(generator: Any) -> np.random.Generator:
    """A NumPy Generator from `generator`: None (a child of descend's global generator), an int seed, a
    numpy.random.Generator, or a descend.Generator (any object whose `numpy()` returns the
    numpy.random.Generator that draws its numbers).

    A Generator object is used as is (drawing from it advances it), so one seeded generator gives one
    reproducible sequence of epochs.
    """
    if generator is None:
        return np.random.default_rng(int(backend.rng().integers(2**63)))
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    inner = _inner_rng(generator)
    if inner is not None:
        return inner
    raise TypeError(f"generator must be an int seed, a descend.Generator, a numpy.random.Generator or None, got "
                    f"{type(generator).__name__}")


def _inner_rng(generator: Any) -> np.random.Generator | None:
    """The numpy.random.Generator of a descend.Generator (its `numpy()`), or None for anything else."""
    numpy = getattr(generator, "numpy", None)
    if callable(numpy) and not isinstance(generator, np.random.Generator):
        rng = numpy()
        if isinstance(rng, np.random.Generator):
            return rng
    return None


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")
    return int(value)


def _check_bool(value: Any, name: str, error: type = ValueError) -> bool:
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value}")
    return value


class Sampler:
    """Base class: `iter(sampler)` yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """Indices 0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


# Index arrays above this many entries are drawn lazily, chunk by chunk.
EAGER_LIMIT = 1 << 22


class RandomSampler(Sampler):
    """A random order of the indices (a permutation per pass), or `num_samples` draws with replacement.

    With num_samples > len(data_source) and no replacement, whole permutations follow each other and the
    last is cut short, as in PyTorch.
    """

    def __init__(self, data_source: Any, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = _check_bool(replacement, "replacement", TypeError)  # PyTorch's types, per class
        self._num_samples = num_samples
        self.generator = generator
        _check_positive_int(self.num_samples, "num_samples")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self) -> np.ndarray:
        """One pass's indices; with generator=None a fresh seed comes from the global generator each pass."""
        rng = as_rng(self.generator)
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=k)
        if k == n:
            return rng.permutation(n)
        parts = [rng.permutation(n) for _ in range(k // n)]
        if k % n:
            parts.append(rng.permutation(n)[:k % n])
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def __iter__(self) -> Iterator[int]:
        if self.replacement and self.num_samples > EAGER_LIMIT:
            return self._lazy()
        return iter(self._index_array().tolist())

    def _lazy(self) -> Iterator[int]:
        """Draws with replacement in chunks, for sample counts too large to hold (makemore asks for 1e10)."""
        rng = as_rng(self.generator)
        n, left = len(self.data_source), self.num_samples
        while left > 0:
            k = min(left, EAGER_LIMIT)
            left -= k
            yield from rng.integers(0, n, size=k).tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new permutation each pass)."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator

    def _index_array(self) -> np.ndarray:
        order = as_rng(self.generator).permutation(len(self.indices))
        return np.asarray(self.indices)[order]

    def __iter__(self) -> Iterator[int]:
        order = as_rng(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices in [0, len(weights)) drawn with probability proportional to `weights`."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        self.num_samples = _check_positive_int(num_samples, "num_samples")
        self.replacement = _check_bool(replacement, "replacement")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite, non-negative and not all zero; "
                               f"got min {w.min() if w.size else None}, sum {w.sum()}")
        if not replacement and num_samples > len(w):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                               f"from {len(w)} weights")
        self.weights = w
        self.generator = generator

    def _index_array(self) -> np.ndarray:
        rng = as_rng(self.generator)
        p = self.weights / self.weights.sum()
        if self.replacement:
            return rng.choice(len(p), size=self.num_samples, replace=True, p=p)
        # Without replacement, as torch.multinomial: the non-zero weights first, then zero weights in a
        # random order once those run out.
        nonzero = np.count_nonzero(p)
        first = rng.choice(len(p), size=min(self.num_samples, nonzero), replace=False, p=p)
        rest = rng.permutation(np.flatnonzero(p == 0))[:self.num_samples - len(first)]
        return np.concatenate([first, rest])

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of `sampler` into lists of `batch_size` (the last one shorter unless drop_last)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.drop_last = _check_bool(drop_last, "drop_last")

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

"""DataLoader: batches of Tensors, shuffled by the loader's own generator, resumable mid-epoch exactly."""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from descend import backend
from descend.data.dataset import Subset, _generator
from descend.tensor import Tensor


def collate(samples: list) -> Any:
    """Stack a list of samples into a batch of Tensors, field by field (PyTorch's default_collate rules)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"collate: samples have different numbers of fields ({len(first)} and others)")
        return tuple(collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: collate([s[k] for s in samples]) for k in first}
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, Tensor):
        return _to_tensor(np.stack([backend.to_numpy(s._data) for s in samples]))
    if isinstance(first, bool):
        return _to_tensor(np.array(samples, dtype=bool))
    if isinstance(first, int):
        return _to_tensor(np.array(samples, dtype=np.int64))
    if isinstance(first, float):
        return _to_tensor(np.array(samples, dtype=np.float64))  # as PyTorch: Python floats collate to float64
    try:
        return _to_tensor(np.stack([np.asarray(s) for s in samples]))
    except ValueError as e:
        shapes = sorted({np.shape(s) for s in samples})
        raise ValueError(f"collate: cannot stack samples of shapes {shapes} into one batch ({e})") from None


def _to_tensor(batch: Any) -> Tensor:
    """A Tensor on the current backend (batches move to the GPU when the backend is CuPy)."""
    return Tensor(backend.xp.asarray(batch))


def _array_source(dataset: Any) -> tuple | None:
    """(arrays, index map or None) when `dataset` can be batched by indexing whole arrays, else None."""
    if isinstance(dataset, Subset):
        parent = _array_source(dataset.dataset)
        if parent is None:
            return None
        arrays, index = parent
        return arrays, dataset.indices if index is None else index[dataset.indices]
    arrays = getattr(dataset, "arrays", None)
    if isinstance(arrays, (tuple, list)) and arrays:
        return tuple(arrays), None
    return None


def _json_state(state: Any) -> Any:
    """A bit-generator state with arrays turned into lists (MT19937 keeps its key as an array)."""
    if isinstance(state, dict):
        return {k: _json_state(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return state.tolist()
    if isinstance(state, np.integer):
        return int(state)
    return state


class DataLoader:
    """Iterate over `dataset` in batches of Tensors; `state_dict()` captures the position inside an epoch.

    A resumed loader first yields exactly the batches of the interrupted epoch that were not yet yielded, in
    that epoch's order, and later epochs are identical to an uninterrupted run.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: Any = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # Only a shuffling loader takes a seed from the global generator, so adding a validation loader does
        # not change the random numbers of anything created after it.
        self.generator = _generator(generator) if shuffle or generator is not None else None
        self._in_epoch = False
        self._epoch_start: dict | None = None  # generator state when the current epoch's order was drawn
        self._yielded = 0  # batches of the current epoch yielded so far
        self._resume: dict | None = None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        skip = 0
        if self._resume is not None:
            if self.shuffle:
                self.generator.bit_generator.state = self._resume["generator"]
            skip = self._resume["batches_yielded"]
            self._resume = None
        order = None
        if self.shuffle:
            self._epoch_start = _json_state(self.generator.bit_generator.state)
            order = self.generator.permutation(len(self.dataset))
        self._in_epoch = True
        self._yielded = skip
        return self._batches(order, skip)

    def _batches(self, order: np.ndarray | None, skip: int) -> Iterator[Any]:
        n, bs = len(self.dataset), self.batch_size
        source = _array_source(self.dataset)
        for b in range(skip, len(self)):
            start, stop = b * bs, min((b + 1) * bs, n)
            index = order[start:stop] if order is not None else np.arange(start, stop)
            if source is not None:
                arrays, index_map = source
                if index_map is not None:
                    index = index_map[index]
                batch = tuple(_to_tensor(a[index]) for a in arrays)
            else:
                batch = collate([self.dataset[int(i)] for i in index])
            self._yielded = b + 1
            yield batch
        self._in_epoch = False
        self._yielded = 0

    # --- exact resume ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-serialisable position: the generator state at the start of the current epoch and the number
        of batches of that epoch already yielded (0 and the current state between epochs)."""
        if self._resume is not None:
            return dict(self._resume)
        generator = None
        if self.shuffle:
            generator = self._epoch_start if self._in_epoch else _json_state(self.generator.bit_generator.state)
        return {"generator": generator, "batches_yielded": self._yielded if self._in_epoch else 0,
                "num_samples": len(self.dataset), "batch_size": self.batch_size, "shuffle": self.shuffle,
                "drop_last": self.drop_last}

    def load_state_dict(self, state: dict) -> None:
        """Make the next iteration resume the epoch described by `state` (from `state_dict`)."""
        for key in ("num_samples", "batch_size", "shuffle", "drop_last"):
            mine = len(self.dataset) if key == "num_samples" else getattr(self, key)
            if key in state and state[key] != mine:
                raise ValueError(f"DataLoader.load_state_dict: the state was saved with {key}={state[key]!r} "
                                 f"but this loader has {key}={mine!r}")
        k = state.get("batches_yielded")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: batches_yielded must be an int in [0, {len(self)}], "
                             f"got {k!r}")
        if self.shuffle:
            if not isinstance(state.get("generator"), dict):
                raise ValueError("DataLoader.load_state_dict: a shuffling loader needs the saved generator state")
            # Validate now (a wrong bit generator or a garbled state fails here, not at the next epoch).
            probe = np.random.Generator(type(self.generator.bit_generator)())
            try:
                probe.bit_generator.state = state["generator"]
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"DataLoader.load_state_dict: invalid generator state ({e})") from None
        self._resume = dict(state)
        self._in_epoch = False
        self._yielded = 0

"""DataLoader: batches from a dataset through a sampler, in worker processes or not, resumable mid-epoch.

The default path (a TensorDataset or Subset of one, the default collate) indexes whole arrays per batch.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterator

import numpy as np

from descend import backend
from descend.data._collate import collate, default_collate, default_convert  # noqa: F401 (collate re-exported)
from descend.data.dataset import IterableDataset, Subset, TensorDataset
from descend.data.sampler import (EAGER_LIMIT, BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                  SubsetRandomSampler, WeightedRandomSampler, _inner_rng, as_rng)
from descend.data.worker import FetcherSpec, WorkerPool


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset: the dataset decides the order, so every 'index' is None."""

    def __iter__(self) -> Iterator[None]:
        return itertools.repeat(None)


# Samplers whose whole epoch is one index array (subclasses may override __iter__, so not them).
_ARRAY_SAMPLERS = (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler)


def _array_source(dataset: Any) -> tuple | None:
    """(arrays, index map or None) when batches can be cut from whole arrays: a TensorDataset (or a Subset
    chain over one) whose __getitem__ is not overridden, so the result equals collating its rows."""
    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        parent = _array_source(dataset.dataset)
        if parent is None:
            return None
        arrays, index = parent
        own = dataset.index_array()
        return arrays, own if index is None else index[own]
    if isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__:
        return tuple(dataset.arrays), None
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


def _peek_seed(rng: np.random.Generator) -> int:
    """A seed derived from `rng`'s state without drawing from it (so workers change no random stream)."""
    copy = np.random.Generator(type(rng.bit_generator)())
    copy.bit_generator.state = rng.bit_generator.state
    mixed = np.random.SeedSequence([int(copy.integers(2**63)), 0x5EED]).generate_state(1, np.uint64)[0]
    return int(mixed) >> 2  # room for + worker_id within int63


class DataLoader:
    """Iterate over `dataset` in batches, as torch.utils.data.DataLoader; `state_dict()` captures the
    position inside an epoch.

    Batches are what `collate_fn` (default: `default_collate`) makes of the samples: a list of Tensors for
    tuple samples. `num_workers > 0` fetches batches in worker processes and yields the same batches, in the
    same order, as `num_workers=0`. A shuffling loader draws its orders from its own generator (`generator`:
    an int seed, a descend/numpy Generator, or None for a child of the global generator made here).

    A resumed loader first yields exactly the batches of the interrupted epoch that were not yet yielded, in
    that epoch's order, and later epochs are identical to an uninterrupted run. The state holds the states of
    the generators the order comes from (the loader's, and a sampler's own Generator object); a sampler
    drawing from the global generator (generator=None) resumes exactly only if it is deterministic.

    Differences from PyTorch: orders come from NumPy's PCG64, so a seed gives other (equally random) orders
    than torch's; `shuffle=True` without a generator seeds the loader's generator once, here, from the global
    one (PyTorch draws from it every epoch); worker seeds (`base_seed + worker_id`) are derived from the
    generator's state without drawing from it, so `num_workers` changes no random stream of the main
    process; `pin_memory` is accepted and does nothing (no CUDA copy engine to feed).

    >>> from descend.data import TensorDataset
    >>> [b[0].tolist() for b in DataLoader(TensorDataset(np.arange(5)), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable | None = None, multiprocessing_context: Any = None,
                 generator: Any = None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        self._check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        batch_size, drop_last = self._check_sampling(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last)
        iterable = isinstance(dataset, IterableDataset)
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory  # host memory is not pinned: there is no CUDA copy engine to feed
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor if prefetch_factor is not None or not num_workers else 2
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator
        # Only a loader that shuffles by itself takes a seed from the global generator, so adding a
        # validation loader does not change the random numbers of anything created after it.
        # A descend.Generator is read at each use (its manual_seed replaces the NumPy generator inside).
        self._fixed_rng = as_rng(generator) if self.shuffle and _inner_rng(generator) is None else None
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif self.shuffle:
                own = self._fixed_rng if self._fixed_rng is not None else generator
                sampler = RandomSampler(dataset, generator=own)
            else:
                sampler = SequentialSampler(dataset)
        if batch_sampler is None and self.batch_size is not None:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self.batch_size is not None or batch_sampler is not None else default_convert)
        self._pool: WorkerPool | None = None
        self._in_epoch = False
        self._epoch_start: list | None = None  # generator states when the current epoch's order was drawn
        self._yielded = 0  # batches of the current epoch yielded so far
        self._resume: dict | None = None

    @staticmethod
    def _check_sampling(dataset: Any, batch_size: Any, shuffle: Any, sampler: Any, batch_sampler: Any,
                        drop_last: bool) -> tuple:
        """PyTorch's rules for combining the sampling options; (batch_size, drop_last) as used."""
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value is not None and value is not False:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r}")
        elif sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        return batch_size, drop_last

    @staticmethod
    def _check_workers(num_workers: Any, timeout: Any, prefetch_factor: Any, persistent_workers: bool) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative int, got {num_workers!r}; "
                             f"use num_workers=0 to disable multiprocessing")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor option should be a positive int, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")

    @property
    def _rng(self) -> np.random.Generator | None:
        """The generator a shuffling loader draws its orders from."""
        if not self.shuffle:
            return None
        return self._fixed_rng if self._fixed_rng is not None else _inner_rng(self.generator)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # TypeError when the dataset has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self._index_sampler)

    # --- iteration ---------------------------------------------------------------------------------------
    def _sampler_rngs(self) -> list[np.random.Generator]:
        """The generators an epoch's order is drawn from (whose states a resume must restore)."""
        own = self._rng
        rngs = [own] if own is not None else []
        samplers = [self.sampler, getattr(self.batch_sampler, "sampler", None), self.batch_sampler]
        for s in samplers:
            g = getattr(s, "generator", None)
            inner = g if isinstance(g, np.random.Generator) else _inner_rng(g) if g is not None else None
            if inner is not None and all(inner is not r for r in rngs):
                rngs.append(inner)
        return rngs

    def __iter__(self) -> Iterator[Any]:
        skip = 0
        rngs = self._sampler_rngs()
        if self._resume is not None:
            saved = self._resume.get("generators") or ([self._resume["generator"]] if self.shuffle else [])
            for rng, state in zip(rngs, saved):
                rng.bit_generator.state = state
            skip = self._resume["batches_yielded"]
            self._resume = None
        self._epoch_start = [_json_state(r.bit_generator.state) for r in rngs]
        self._in_epoch = True
        self._yielded = skip
        iterable = isinstance(self.dataset, IterableDataset)
        spec = FetcherSpec(iterable, self._auto_collation, self.collate_fn, self.batch_size, self.drop_last,
                           None if iterable or self.collate_fn is not default_collate
                           else _array_source(self.dataset))
        if iterable:
            tasks: Iterator[Any] = itertools.repeat(None)
        else:
            tasks = self._tasks(skip)
            skip = 0  # the map-style tasks start after the skipped batches
        if self.num_workers == 0:
            return self._single(spec, tasks, skip)
        return self._multi(spec, tasks, skip, rngs)

    def _tasks(self, skip: int) -> Iterator[Any]:
        """This epoch's index batches (or single indices without auto-batching), from batch `skip` on."""
        sampler = self.sampler
        if type(self.batch_sampler) is BatchSampler and self.batch_sampler.sampler is sampler \
                and type(sampler) in _ARRAY_SAMPLERS and len(sampler) <= EAGER_LIMIT:
            # The default path: one index array per epoch, cut into slices (no Python ints per sample).
            order = sampler._index_array()
            bs = self.batch_size if self.batch_size is not None else self.batch_sampler.batch_size
            count = len(order) // bs if self.batch_sampler.drop_last else math.ceil(len(order) / bs)
            return (order[b * bs:(b + 1) * bs] for b in range(skip, count))
        return itertools.islice(iter(self._index_sampler), skip, None)

    def _single(self, spec: FetcherSpec, tasks: Iterator[Any], skip: int) -> Iterator[Any]:
        fetch = spec.create(self.dataset)
        for index in tasks:
            try:
                batch = fetch(index)
            except StopIteration:
                break
            if skip:
                skip -= 1  # an iterable dataset's resume: replay its stream up to the saved position
                continue
            self._yielded += 1
            yield batch
        self._in_epoch = False
        self._yielded = 0

    def _multi(self, spec: FetcherSpec, tasks: Iterator[Any], skip: int, rngs: list) -> Iterator[Any]:
        pool = self._pool
        if pool is not None and pool.alive:
            pool.reset()
        else:
            base_seed = _peek_seed(rngs[0] if rngs else backend.rng())
            pool = WorkerPool(spec, self.dataset, self.num_workers, base_seed, self.worker_init_fn,
                              self.multiprocessing_context, self.timeout, self.prefetch_factor)
            if self.persistent_workers:
                self._pool = pool
        try:
            for batch in pool.run(tasks, self.in_order):
                if skip:
                    skip -= 1
                    continue
                self._yielded += 1
                yield batch
        except BaseException as e:
            # Persistent workers survive an abandoned epoch (its late results are dropped), not an error.
            if self.persistent_workers and not isinstance(e, GeneratorExit):
                pool.shutdown()
                self._pool = None
            raise
        finally:
            if not self.persistent_workers:
                pool.shutdown()
        self._in_epoch = False
        self._yielded = 0

    # --- exact resume ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-serialisable position: the generator state at the start of the current epoch and the number
        of batches of that epoch already yielded (0 and the current state between epochs)."""
        if self._resume is not None:
            return dict(self._resume)
        rngs = self._sampler_rngs()
        states = self._epoch_start if self._in_epoch else [_json_state(r.bit_generator.state) for r in rngs]
        state = {"generator": states[0] if self.shuffle and states else None,
                 "batches_yielded": self._yielded if self._in_epoch else 0,
                 "num_samples": self._num_samples(), "batch_size": self.batch_size, "shuffle": self.shuffle,
                 "drop_last": self.drop_last}
        if len(rngs) > (1 if self.shuffle else 0):
            state["generators"] = states  # a sampler with a generator of its own
        return state

    def _num_samples(self) -> int | None:
        try:
            return len(self.dataset)
        except TypeError:
            return None

    def load_state_dict(self, state: dict) -> None:
        """Make the next iteration resume the epoch described by `state` (from `state_dict`)."""
        for key in ("num_samples", "batch_size", "shuffle", "drop_last"):
            mine = self._num_samples() if key == "num_samples" else getattr(self, key)
            if key in state and state[key] != mine:
                raise ValueError(f"DataLoader.load_state_dict: the state was saved with {key}={state[key]!r} "
                                 f"but this loader has {key}={mine!r}")
        k = state.get("batches_yielded")
        try:
            limit = len(self)
        except TypeError:
            limit = None
        if isinstance(k, bool) or not isinstance(k, int) or k < 0 or (limit is not None and k > limit):
            raise ValueError(f"DataLoader.load_state_dict: batches_yielded must be an int in [0, {limit}], "
                             f"got {k!r}")
        rngs = self._sampler_rngs()
        saved = state.get("generators") or ([state.get("generator")] if self.shuffle else [])
        if len(saved) != len(rngs) or not all(isinstance(s, dict) for s in saved):
            raise ValueError(f"DataLoader.load_state_dict: this loader draws from {len(rngs)} generator(s) and "
                             f"needs their saved states; the state has {len(saved)}")
        for rng, s in zip(rngs, saved):
            # Validate now (a wrong bit generator or a garbled state fails here, not at the next epoch).
            probe = np.random.Generator(type(rng.bit_generator)())
            try:
                probe.bit_generator.state = s
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"DataLoader.load_state_dict: invalid generator state ({e})") from None
        self._resume = dict(state)
        self._in_epoch = False
        self._yielded = 0

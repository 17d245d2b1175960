"""DataLoader worker processes: fetchers (indices to a collated batch), the worker loop, and the pool that
hands batches of indices to the workers and returns the results in order.

Each worker is seeded with `base_seed + worker_id` (Python's `random`, NumPy's legacy global state and
descend's global generator), as PyTorch seeds its workers, and sees `get_worker_info()`.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
import random
import time
import traceback
import weakref
from typing import Any, Callable, Iterator

import numpy as np

from descend import backend
from descend.data import _collate
from descend.data._collate import _to_tensor
from descend._tensor import Tensor

_POLL_S = 0.2  # how often a waiting side checks that the other is still alive (a get returns at once on data)
_JOIN_S = 1.0  # how long shutdown waits for busy workers before terminating them
_MISSING = object()


class WorkerInfo:
    """What a worker process knows about itself: id, num_workers, seed and its copy of the dataset."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id: int, num_workers: int, seed: int, dataset: Any) -> None:  # noqa: A002 (PyTorch's name)
        for name, value in (("id", id), ("num_workers", num_workers), ("seed", seed), ("dataset", dataset)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self) -> str:
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker process: its WorkerInfo; in the main process: None."""
    return _worker_info


# --- fetchers: the same code runs in the main process (num_workers=0) and in the workers -------------------

class MapFetcher:
    """Batches of a map-style dataset: indices in, the collated batch out."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, source: tuple | None) -> None:
        self.dataset, self.auto_collation, self.collate_fn, self.source = dataset, auto_collation, collate_fn, source

    def __call__(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.source is not None:
            # Whole-array indexing: what default_collate of TensorDataset rows gives, without the rows.
            arrays, index_map = self.source
            index = np.asarray(index, dtype=np.int64)
            if index_map is not None:
                index = index_map[index]
            return [_to_tensor(a[index]) for a in arrays]
        index = [int(i) for i in index]  # Python ints, as PyTorch passes (the default path cuts arrays)
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return self.collate_fn(getitems(index))
        return self.collate_fn([self.dataset[i] for i in index])


class IterableFetcher:
    """Batches of an iterable dataset: the next `batch_size` samples of its iterator (StopIteration at the end)."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, batch_size: int | None,
                 drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation, self.collate_fn = auto_collation, collate_fn
        self.batch_size, self.drop_last = batch_size, drop_last
        self.ended = False

    def __call__(self, index: Any = None) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            try:
                return self.collate_fn(next(self.iterator))
            except StopIteration:
                self.ended = True
                raise
        data = list(itertools.islice(self.iterator, self.batch_size))
        if not data or (self.drop_last and len(data) < self.batch_size):
            self.ended = True
            raise StopIteration
        return self.collate_fn(data)


class FetcherSpec:
    """How to build a fetcher (built in each worker, so an iterable dataset's iterator starts there)."""

    def __init__(self, iterable: bool, auto_collation: bool, collate_fn: Callable, batch_size: int | None,
                 drop_last: bool, source: tuple | None) -> None:
        self.iterable, self.auto_collation, self.collate_fn = iterable, auto_collation, collate_fn
        self.batch_size, self.drop_last, self.source = batch_size, drop_last, source

    def create(self, dataset: Any) -> Callable:
        if self.iterable:
            return IterableFetcher(dataset, self.auto_collation, self.collate_fn, self.batch_size, self.drop_last)
        return MapFetcher(dataset, self.auto_collation, self.collate_fn, self.source)


# --- the worker process ---------------------------------------------------------------------------------

class _End:
    """A worker's iterable dataset is exhausted."""


class _Failure:
    """An exception raised in a worker, carried to the main process as its type and formatted traceback."""

    def __init__(self, worker_id: int, where: str) -> None:
        exc = traceback.format_exc()
        etype = _current_exception_type()
        try:
            pickle.dumps(etype)
        except Exception:  # a type defined inside a function cannot cross the process boundary
            etype = RuntimeError
        self.etype = etype
        self.message = (f"Caught {etype.__name__} in DataLoader worker process {worker_id}{where}.\n"
                        f"Original {exc}")

    def reraise(self) -> None:
        message: str = self.message
        if issubclass(self.etype, KeyError):
            message = _KeyErrorMessage(message)  # KeyError's str() would show the traceback as one quoted line
        try:
            err = self.etype(message)
        except Exception:
            err = RuntimeError(self.message)
        raise err


class _KeyErrorMessage(str):
    """A message that prints as itself inside a KeyError."""

    def __repr__(self) -> str:
        return str(self)


def _current_exception_type() -> type:
    import sys
    return sys.exc_info()[0] or RuntimeError


def _seed_worker(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    backend.manual_seed(seed)


def _worker_loop(spec: FetcherSpec, dataset: Any, index_queue: Any, result_queue: Any, worker_id: int,
                 num_workers: int, seed: int, init_fn: Callable | None, parent_pid: int) -> None:
    """Serve tasks from `index_queue` until told to stop (None) or the parent process is gone."""
    global _worker_info
    _collate._HOST_ONLY = True
    _seed_worker(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    failure, fetcher = None, None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = spec.create(dataset)
    except Exception:
        failure = _Failure(worker_id, " (in worker_init_fn or while starting the dataset's iterator)")
    try:
        while True:
            try:
                message = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    break  # the main process died without telling us
                continue
            if message is None:
                break
            if message[0] == "reset":  # a new epoch of persistent workers: a fresh iterator
                try:
                    fetcher = spec.create(dataset)
                except Exception:
                    failure = _Failure(worker_id, " (while starting the dataset's iterator)")
                continue
            epoch, task, index = message
            if failure is not None:
                payload: Any = failure
            else:
                try:
                    payload = fetcher(index)
                except StopIteration:
                    payload = _End()
                except Exception:
                    payload = _Failure(worker_id, "")
            result_queue.put((epoch, task, worker_id, payload))
    except KeyboardInterrupt:
        pass  # the main process handles Ctrl-C and shuts us down
    # Results nobody will read must not keep this process alive at exit.
    result_queue.cancel_join_thread()


# --- the pool in the main process -------------------------------------------------------------------------

def _to_device(batch: Any) -> Any:
    """A worker's batch with its host tensors moved to the backend's device (CuPy)."""
    if isinstance(batch, Tensor):
        return Tensor(backend.xp.asarray(batch._data))
    if isinstance(batch, dict):
        return type(batch)((k, _to_device(v)) for k, v in batch.items())
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v) for v in batch)
    return batch


def _shutdown(workers: list, index_queues: list, result_queue: Any) -> None:
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _JOIN_S
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
        if w.is_alive():
            w.terminate()
            w.join(timeout=1.0)
    for q in [*index_queues, result_queue]:
        q.cancel_join_thread()
        q.close()


class WorkerPool:
    """`num_workers` processes, each with an index queue, sharing one result queue."""

    def __init__(self, spec: FetcherSpec, dataset: Any, num_workers: int, base_seed: int,
                 worker_init_fn: Callable | None, context: Any, timeout: float, prefetch_factor: int) -> None:
        if context is None:
            context = multiprocessing.get_context()
        elif isinstance(context, str):
            context = multiprocessing.get_context(context)
        self.num_workers, self.timeout, self.prefetch_factor = num_workers, timeout, prefetch_factor
        self.result_queue = context.Queue()
        self.index_queues, self.workers = [], []
        for worker_id in range(num_workers):
            q = context.Queue()
            q.cancel_join_thread()
            w = context.Process(target=_worker_loop, daemon=True,
                                args=(spec, dataset, q, self.result_queue, worker_id, num_workers,
                                      base_seed + worker_id, worker_init_fn, os.getpid()))
            w.start()
            self.index_queues.append(q)
            self.workers.append(w)
        self.epoch = 0
        self._finalizer = weakref.finalize(self, _shutdown, self.workers, self.index_queues, self.result_queue)

    def shutdown(self) -> None:
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def reset(self) -> None:
        """Start a new epoch on persistent workers: results of the old one are dropped, iterators restart."""
        self.epoch += 1
        for q in self.index_queues:
            q.put(("reset",))

    def _get(self) -> tuple:
        """The next result, checking that the workers are alive and the user's timeout is kept."""
        start = time.monotonic()
        while True:
            wait = _POLL_S if not self.timeout else min(_POLL_S, self.timeout)
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                pids = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
                raise RuntimeError(f"DataLoader worker (pid {pids}) exited unexpectedly")
            if self.timeout and time.monotonic() - start >= self.timeout:
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def run(self, tasks: Iterator[Any], in_order: bool = True) -> Iterator[Any]:
        """Results of `tasks` (index batches, or None for iterable datasets), in task order; workers whose
        iterable dataset has ended get no more tasks, and the run ends when all tasks or workers are done."""
        epoch = self.epoch
        active = [True] * self.num_workers
        owner: dict[int, int] = {}
        results: dict[int, Any] = {}
        sent = received = 0
        turn = itertools.cycle(range(self.num_workers))
        exhausted = False

        def put() -> None:
            nonlocal sent, exhausted
            if exhausted or not any(active):
                return
            try:
                index = next(tasks)
            except StopIteration:
                exhausted = True
                return
            worker = next(turn)
            while not active[worker]:
                worker = next(turn)
            self.index_queues[worker].put((epoch, sent, index))
            owner[sent] = worker
            sent += 1

        for _ in range(self.prefetch_factor * self.num_workers):
            put()
        while received < sent:
            if in_order:
                if received not in results and active[owner[received]]:
                    got_epoch, task, worker, payload = self._get()
                    if got_epoch == epoch:
                        results[task] = payload
                    continue
                task = received
            else:
                if not results:
                    got_epoch, task, worker, payload = self._get()
                    if got_epoch == epoch:
                        results[task] = payload
                    continue
                task = next(iter(results))
            received += 1
            payload = results.pop(task, _MISSING)
            owner_worker = owner.pop(task)
            if payload is _MISSING:
                continue  # sent to a worker that had already ended
            if isinstance(payload, _End):
                active[owner_worker] = False
                put()
                continue
            if isinstance(payload, _Failure):
                payload.reraise()
            put()
            yield payload if backend.xp is np else _to_device(payload)

"""Compiled kernels for the passes NumPy runs as several: numba, optional, compiled on first use and cached on
disk beside the loops (descend/ops/_loops.py).

An op asks `kernels.get("name", *arrays)` and gets the compiled loop, or None, in which case it runs its
NumPy path. None when: numba is not installed (or fails to import), DESCEND_NUMBA=0 is set, an array is not a
NumPy array of float32 or float64 (CuPy arrays and other dtypes keep the NumPy-style path), or the first array
has fewer than MIN_SIZE elements (a small op is not worth importing numba for, and its NumPy path is already
short). Nothing is imported or compiled until a large enough array asks; compiled loops are cached on disk, so
a later process loads them (~0.35 s with the import) instead of compiling (~2 s).

Threads: the loops are written over `prange` and compiled twice, serial and parallel. The parallel forms run
when `use_threads(n > 1)` was called, which descend/ops/onednn.py does once oneDNN's convolutions run on n
OpenMP threads: numba's `omp` threading layer then shares that GNU OpenMP team (the worker that finished a
convolution takes the next kernel's half). Under another layer (tbb, workqueue), in a forked child (GNU
OpenMP does not survive a fork) and by default, the serial forms run. Results do not depend on the choice.

>>> import numpy as np
>>> from descend.ops import kernels
>>> with kernels.forced(False):
...     kernels.get("relu_backward", np.ones(1 << 20, np.float32)) is None
True
"""

from __future__ import annotations

import contextlib
import os
import types
from typing import Callable, Iterator, Optional

import numpy as np

# Elements. Below this a kernel saves microseconds, while the first kernel call imports numba (~0.4 s and
# ~100 MB of LLVM in the process): MNIST-1D's models and the 784-512-256 MLP stay under it and never load it.
MIN_SIZE = 100_000

_NAMES = ("channel_moments", "scale_shift", "grad_sums", "grad_input", "relu", "relu_backward", "silu_forward",
          "silu_backward", "leaky_relu", "leaky_relu_backward", "max_pool_tiles", "max_pool_tiles_backward",
          "im2col", "col2im", "adam", "amax_rows", "amax_rows_backward")
_HELPERS = ("_pieces", "_span", "_combine")  # called from the loops, so compiled with them
_state: dict = {"compiled": None, "parallel": None, "forced": None, "threads": 1}
# The loops are compiled for these (native byte order); float16, bfloat16, integers and complex numbers keep the
# NumPy paths, which handle them.
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _compile() -> dict:
    """{name: serial compiled loop}, or {} when numba is unavailable or switched off."""
    if _state["compiled"] is None:
        _state["compiled"] = {}
        if os.environ.get("DESCEND_NUMBA", "1") != "0":
            try:
                import numba
            except Exception:  # not installed, or built for another NumPy: the NumPy paths serve
                return _state["compiled"]
            from descend.ops import _loops
            for name in _HELPERS:
                setattr(_loops, name, _jit(numba, getattr(_loops, name), False))
            # No fastmath: the loops must keep IEEE NaN and signed-zero behaviour to match the NumPy paths.
            _state["compiled"] = {name: _jit(numba, getattr(_loops, name), False) for name in _NAMES}
    return _state["compiled"]


def _parallel() -> dict:
    """{name: parallel compiled loop}, or {} unless numba runs its parallel loops on GNU OpenMP (checked by
    one small parallel call: a workqueue layer would abort on loops launched from two threads at once)."""
    if _state["parallel"] is None:
        _state["parallel"] = {}
        if _compile():
            import numba
            from descend.ops import _loops
            loops = {name: _jit(numba, getattr(_loops, name), True) for name in _NAMES}
            try:
                loops["relu_backward"](np.ones(2), np.ones(2), np.empty(2))
                layer = numba.threading_layer()
            except Exception:  # no parallel backend at all
                layer = None
            if layer == "omp":
                _state["parallel"] = loops
                _set_numba_threads()
    return _state["parallel"]


def _jit(numba, fn: Callable, parallel: bool) -> Callable:
    """fn compiled lazily, cached on disk when numba finds a writable place (beside the loops, else the user's
    cache directory), uncached otherwise (a read-only install without a home directory)."""
    # error_model="numpy": a division by zero gives inf/NaN as NumPy's does, and with no exception to check
    # for, loops with a division vectorize (Adam's update ran 11x slower under the "python" model).
    options = dict(nogil=True, error_model="numpy", parallel=parallel)
    if parallel:  # a twin under another name: numba's disk cache keys a loop by its name, not its flags
        twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__)
        twin.__qualname__ = fn.__qualname__ + "_parallel"
        fn = twin
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(**options)(fn)


def use_threads(n: int) -> None:
    """Run the loops on n threads from now on (n > 1: the parallel forms, when available), or serial (n = 1)."""
    _state["threads"] = max(1, int(n))
    if _state["threads"] > 1 and _state["parallel"]:
        _set_numba_threads()


def _set_numba_threads() -> None:
    import numba
    numba.set_num_threads(min(_state["threads"], numba.config.NUMBA_NUM_THREADS))


def _serial_in_child() -> None:
    _state["threads"] = 1


os.register_at_fork(after_in_child=_serial_in_child)


def _variant(name: str) -> Optional[Callable]:
    if _state["threads"] > 1:
        loops = _parallel()
        if loops:
            return loops.get(name)
    return _compile().get(name)


def available() -> bool:
    """Whether compiled kernels can run here (numba importable and not switched off)."""
    return bool(_compile()) if _state["forced"] is not False else False


def get(name: str, *arrays, min_size: int = MIN_SIZE) -> Optional[Callable]:
    """The compiled kernel `name` if every array is a NumPy array and the first has at least min_size elements
    (an op whose NumPy path is slow on its layout asks for less), else None."""
    forced = _state["forced"]
    if forced is False or not arrays or any(type(a) is not np.ndarray or a.dtype not in _FLOATS for a in arrays):
        return None
    if forced is None and arrays[0].size < min_size:
        return None
    return _variant(name)


def loop(name: str) -> Callable:
    """The compiled kernel `name`, for the backward of an op whose forward already took the kernels (so that
    the same path runs both ways whatever `forced` says meanwhile)."""
    if not _compile():
        raise KeyError(f"compiled kernel {name!r}: numba is unavailable or switched off")
    return _variant(name)


@contextlib.contextmanager
def setting(state: dict, key: str, value) -> Iterator[None]:
    """state[key] = value within the block, restored after (the `forced` switches of the compiled paths)."""
    before = state[key]
    state[key] = value
    try:
        yield
    finally:
        state[key] = before


def forced(on: Optional[bool]):
    """Within the block, kernels run for arrays of any size (True), never (False), or as usual (None): how the
    tests run each op's two paths on the same small inputs."""
    return setting(_state, "forced", on)


def dense_flat(*arrays):
    """1-D views of arrays that lie densely in memory with the same strides (any axis order), in matching
    element order, or None: how elementwise kernels see a channels-last (N, C, H, W) view."""
    first = arrays[0]
    if any(a.shape != first.shape or a.strides != first.strides for a in arrays[1:]):
        return None
    order = sorted(range(first.ndim), key=lambda i: -abs(first.strides[i]))
    flats = []
    for a in arrays:
        t = a.transpose(order)
        if not t.flags.c_contiguous:
            return None
        flats.append(t.reshape(-1))
    return flats

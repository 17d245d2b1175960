"""The array backend: which array module ops use, default dtype, and the global random generator."""

from __future__ import annotations

from typing import Any

import numpy as np

# The one place the array module is chosen. Ops ask `get_array_module(arrays)` so NumPy and CuPy arrays
# can coexist (weights moved to the GPU, indices on the host) without any op branching on the device.
xp: Any = np

try:  # CuPy is optional; without it every array is a NumPy array.
    import cupy as _cupy  # type: ignore[import-not-found]
except ImportError:
    _cupy = None

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng(0)


def use(name: str) -> None:
    """Choose the array module new tensors are created with: 'numpy' or 'cupy'."""
    global xp
    if name == "numpy":
        xp = np
    elif name == "cupy":
        if _cupy is None:
            raise RuntimeError("backend 'cupy' requested but CuPy is not installed (pip install cupy-cuda12x)")
        xp = _cupy
    else:
        raise ValueError(f"unknown backend {name!r}: expected 'numpy' or 'cupy'")


def get_array_module(*arrays: Any) -> Any:
    """NumPy or CuPy, whichever module owns the given arrays (Chainer's `xp` idiom)."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def to_numpy(a: Any) -> np.ndarray:
    """A host NumPy copy-free view of `a` where possible."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def default_dtype() -> np.dtype:
    """The floating dtype new tensors get from Python floats (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the floating dtype used for tensors created from Python data and for parameters."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default_dtype = dt


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator used for initialisation, dropout and default shuffling."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def rng() -> np.random.Generator:
    """The global random generator."""
    return _rng


def get_rng_state() -> dict:
    """The global generator's state as a JSON-serialisable dict."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator to a state from `get_rng_state`."""
    _rng.bit_generator.state = state

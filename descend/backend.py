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


class DTypeError(TypeError, ValueError):
    """A dtype that cannot be used here: a TypeError as PyTorch raises, and a ValueError as before."""


def default_dtype() -> np.dtype:
    """The floating dtype new tensors get from Python floats (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the floating dtype used for tensors created from Python data and for parameters."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise DTypeError(f"set_default_dtype: only floating-point types are supported as the default type, "
                         f"got {dt}")
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


def is_device_array(a: Any) -> bool:
    """Whether `a` is a GPU (CuPy) array."""
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def cuda_device_count() -> int:
    """How many CUDA devices CuPy sees (0 without CuPy or without a GPU)."""
    if _cupy is None:
        return 0
    try:
        return int(_cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CuPy installed but no driver/GPU: CUDA is simply unavailable, as in PyTorch
        return 0


class device:
    """Where a tensor's memory lives: `device('cpu')`, `device('cuda')`, `device('cuda', 0)`, `device('cuda:1')`.

    >>> device('cuda:1')
    device(type='cuda', index=1)
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int):  # torch.device(0) means cuda:0
            type, index = "cuda", type
        elif not isinstance(type, str):
            raise TypeError(f"device(): expected a string, int or device, got {type!r}")
        if ":" in type:
            type, _, idx = type.partition(":")
            if index is not None or not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda", "mps", "meta"):
            raise RuntimeError(f"Expected one of cpu, cuda, mps, meta device type at start of device string: "
                               f"{type}")
        self.type, self.index = type, index

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def device_of(a: Any) -> device:
    """The device an array lives on."""
    if is_device_array(a):
        return device("cuda", int(a.device.id))
    return CPU


def to_device(a: Any, dev: device) -> Any:
    """`a` on device `dev` (a no-op when it is already there)."""
    if dev.type == "cpu":
        return _cupy.asnumpy(a) if is_device_array(a) else a
    if dev.type == "cuda":
        if cuda_device_count() == 0:
            raise RuntimeError("Torch not compiled with CUDA enabled: no CUDA device is available to descend "
                               "(CuPy is " + ("installed but sees no GPU)" if _cupy is not None else
                                              "not installed: pip install cupy-cuda12x)"))
        with _cupy.cuda.Device(dev.index or 0):
            return _cupy.asarray(a)
    raise RuntimeError(f"descend has no {dev.type} backend; use 'cpu' or 'cuda'")

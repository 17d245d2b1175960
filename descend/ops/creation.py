"""Tensor factories with PyTorch's names; random ones draw from `generator=` or the global `backend.rng()`.

Every factory takes `device=` ('cpu', 'cuda', a descend.device); the array is made on the host and moved.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend.ops.errors import OpError, OpTypeError
from descend.ops.movement import _is_dense, channels_last_copy
from descend.ops.random import rng_of
from descend._tensor import Tensor, _shape_arg


def _float_dtype(dtype: Any) -> np.dtype:
    return backend.default_dtype() if dtype is None else np.dtype(dtype)


def _new(data: Any, requires_grad: bool, device: Any = None) -> Tensor:
    """A tensor over data, moved to `device` (or to the backend's array module when none is given)."""
    if device is not None:
        data = backend.to_device(data, backend.device(device))
    elif backend.xp is not np:
        data = backend.xp.asarray(data)
    return Tensor(data, requires_grad=requires_grad)


def _like_dtype(t: Tensor, dtype: Any) -> np.dtype:
    return np.dtype(t._data.dtype if dtype is None else dtype)


def _like_device(t: Tensor, device: Any) -> Any:
    return device if device is not None else (backend.device_of(t._data) if backend.is_device_array(t._data)
                                              else None)


def _laid_out(data: Any, like: Any, memory_format: Any) -> Any:
    """data (a new C-ordered NumPy array) in the layout PyTorch's *_like factories give: like's own for a dense
    like (preserve_format, the default), row-major (contiguous_format) or NHWC (channels_last)."""
    name = getattr(memory_format, "name", "preserve_format")
    if name == "contiguous_format" or type(data) is not np.ndarray:
        return data
    if name == "channels_last":
        if data.ndim != 4:
            raise RuntimeError(f"required rank 4 tensor to use channels_last format, got rank {data.ndim}")
        return channels_last_copy(data)
    if type(like) is np.ndarray and not like.flags.c_contiguous and _is_dense(like):
        out = np.empty_like(like, dtype=data.dtype)  # order "K": like's strides
        out[...] = data
        return out
    return data



def _size(size: tuple, op: str) -> tuple:
    shape = _shape_arg(size)
    for n in shape:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) and not \
                (isinstance(n, Tensor) and n._data.size == 1 and n._data.dtype.kind in "iu"):
            raise TypeError(f"{op}(): size must be a tuple of ints, got {type(n).__name__} {n!r}")
        if int(n) < 0:
            raise OpError(f"{op}: negative dimension {n} in size {tuple(shape)}")
    return tuple(int(n) for n in shape)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (default float dtype)."""
    return _new(np.zeros(_size(size, "zeros"), dtype=_float_dtype(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (default float dtype)."""
    return _new(np.ones(_size(size, "ones"), dtype=_float_dtype(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          memory_format: Any = None) -> Tensor:
    """An uninitialised tensor (default float dtype); memory_format=channels_last lays a 4-D one out NHWC."""
    data = np.empty(_size(size, "empty"), dtype=_float_dtype(dtype))
    return _new(_laid_out(data, None, memory_format), requires_grad, device)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with fill_value; the dtype follows the value (bool, int64 or default float)."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = np.bool_
        elif isinstance(fill_value, (int, np.integer)):
            dtype = np.int64
        else:
            dtype = backend.default_dtype()
    shape = _size(tuple(size) if isinstance(size, (tuple, list)) else (size,), "full")
    return _new(np.full(shape, fill_value, dtype=np.dtype(dtype)), requires_grad, device)


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Zeros with input's shape and dtype (and layout: see memory_format)."""
    return _new(_laid_out(np.zeros(input.shape, dtype=_like_dtype(input, dtype)), input._data, memory_format),
                requires_grad, _like_device(input, device))


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """Ones with input's shape and dtype (and layout)."""
    return _new(_laid_out(np.ones(input.shape, dtype=_like_dtype(input, dtype)), input._data, memory_format),
                requires_grad, _like_device(input, device))


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """fill_value with input's shape and dtype (and layout)."""
    data = np.full(input.shape, fill_value, dtype=_like_dtype(input, dtype))
    return _new(_laid_out(data, input._data, memory_format), requires_grad, _like_device(input, device))


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Uninitialised, with input's shape and dtype (and layout)."""
    return _new(_laid_out(np.empty(input.shape, dtype=_like_dtype(input, dtype)), input._data, memory_format),
                requires_grad, _like_device(input, device))


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive); int64 for integer arguments, else the default float."""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise OpError("arange: step must be non-zero")
    if (end - start) * step < 0:
        raise OpError(f"arange: upper bound and lower bound inconsistent with step sign (start={start}, "
                      f"end={end}, step={step})")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = np.int64 if ints else backend.default_dtype()
    # PyTorch counts ceil((end - start) / step) elements, computed in double precision.
    n = max(math.ceil((end - start) / step), 0)
    data = (start + step * np.arange(n, dtype=np.float64)) if not np.dtype(dtype).kind in "iu" or \
        not isinstance(start, (int, np.integer)) else start + step * np.arange(n, dtype=np.int64)
    return _new(np.asarray(data).astype(np.dtype(dtype)), requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise OpError(f"linspace: number of steps must be non-negative, got {steps}")
    data = np.linspace(start, end, int(steps), dtype=np.float64)
    return _new(data.astype(_float_dtype(dtype)), requires_grad, device)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, end, steps)."""
    if steps < 0:
        raise OpError(f"logspace: number of steps must be non-negative, got {steps}")
    data = np.power(float(base), np.linspace(start, end, int(steps), dtype=np.float64))
    return _new(data.astype(_float_dtype(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity (m = n by default)."""
    if n < 0 or (m is not None and m < 0):
        raise OpError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    return _new(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def _random_dtype(dtype: Any) -> np.dtype:
    dt = _float_dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise OpTypeError(f"random tensors are float32 or float64, got dtype {dt}")
    return dt


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `generator` (the global one by default)."""
    data = rng_of(generator).standard_normal(_size(size, "randn"), dtype=_random_dtype(dtype))
    return _new(data, requires_grad, device)


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (the global one by default)."""
    data = rng_of(generator).random(_size(size, "rand"), dtype=_random_dtype(dtype))
    return _new(data, requires_grad, device)


def randint(low: int, high: Any = None, size: Any = None, *, generator: Any = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) from the global generator (int64); randint(high, size) starts at 0."""
    if size is None:
        if high is None:
            raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    if low >= high:
        raise OpError(f"randint: expected low < high, got low={low}, high={high}")
    shape = _size(tuple(size) if isinstance(size, (tuple, list)) else (size,), "randint")
    data = rng_of(generator).integers(low, high, size=shape, dtype=np.int64)
    return _new(data if dtype is None else data.astype(np.dtype(dtype)), False, device)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Standard normal samples with input's shape and dtype (and layout)."""
    return _sampled_like(randn, input, dtype, device, requires_grad, memory_format)


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """Uniform [0, 1) samples with input's shape and dtype (and layout)."""
    return _sampled_like(rand, input, dtype, device, requires_grad, memory_format)


def _sampled_like(sample: Any, input: Tensor, dtype: Any, device: Any, requires_grad: bool,
                  memory_format: Any) -> Tensor:
    out = sample(input.shape, dtype=_like_dtype(input, dtype), device=_like_device(input, device),
                 requires_grad=requires_grad)
    out._data = _laid_out(out._data, input._data, memory_format)
    return out


def randint_like(input: Tensor, low: int, high: Any = None, *, dtype: Any = None, device: Any = None) -> Tensor:
    """randint with input's shape and dtype; one bound is the (exclusive) high, as in PyTorch."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=_like_dtype(input, dtype), device=_like_device(input, device))


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    if n < 0:
        raise OpError(f"randperm: n must be non-negative, got {n}")
    data = rng_of(generator).permutation(int(n)).astype(np.int64 if dtype is None else np.dtype(dtype))
    return _new(data, False, device)

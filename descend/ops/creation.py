"""Tensor factories with PyTorch's names; random ones draw from `generator=` or the global `backend.rng()`."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend.ops.random import rng_of
from descend.tensor import Tensor, _shape_arg


def _float_dtype(dtype: Any) -> np.dtype:
    return backend.default_dtype() if dtype is None else np.dtype(dtype)


def _new(data: Any, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad=requires_grad)


def _like_dtype(t: Tensor, dtype: Any) -> np.dtype:
    return t.dtype if dtype is None else np.dtype(dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (default float dtype)."""
    return _new(backend.xp.zeros(_shape_arg(size), dtype=_float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (default float dtype)."""
    return _new(backend.xp.ones(_shape_arg(size), dtype=_float_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (default float dtype)."""
    return _new(backend.xp.empty(_shape_arg(size), dtype=_float_dtype(dtype)), requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with fill_value; the dtype follows the value (bool, int64 or default float)."""
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, (int, np.integer)):
            dtype = np.int64
        else:
            dtype = backend.default_dtype()
    shape = tuple(size) if isinstance(size, (tuple, list)) else (int(size),)
    return _new(backend.xp.full(shape, fill_value, dtype=np.dtype(dtype)), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with input's shape and dtype."""
    return _new(backend.xp.zeros(input.shape, dtype=_like_dtype(input, dtype)), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with input's shape and dtype."""
    return _new(backend.xp.ones(input.shape, dtype=_like_dtype(input, dtype)), requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """fill_value with input's shape and dtype."""
    return _new(backend.xp.full(input.shape, fill_value, dtype=_like_dtype(input, dtype)), requires_grad)


def empty_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised, with input's shape and dtype."""
    return _new(backend.xp.empty(input.shape, dtype=_like_dtype(input, dtype)), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive); int64 for integer arguments, else the default float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = np.int64 if ints else backend.default_dtype()
    return _new(backend.xp.arange(start, end, step, dtype=np.dtype(dtype)), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    data = backend.xp.linspace(start, end, int(steps), dtype=np.float64)
    return _new(data.astype(_float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity (m = n by default)."""
    return _new(backend.xp.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def _random_dtype(dtype: Any) -> np.dtype:
    dt = _float_dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"random tensors are float32 or float64, got dtype {dt}")
    return dt


def randn(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `generator` (the global one by default)."""
    data = rng_of(generator).standard_normal(_shape_arg(size), dtype=_random_dtype(dtype))
    return _new(backend.xp.asarray(data), requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (the global one by default)."""
    data = rng_of(generator).random(_shape_arg(size), dtype=_random_dtype(dtype))
    return _new(backend.xp.asarray(data), requires_grad)


def randint(low: int, high: Any = None, size: Any = None, *, generator: Any = None, dtype: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) from the global generator (int64); randint(high, size) starts at 0."""
    if size is None:
        if high is None:
            raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    shape = tuple(size) if isinstance(size, (tuple, list)) else (int(size),)
    data = rng_of(generator).integers(low, high, size=shape, dtype=np.int64)
    return _new(backend.xp.asarray(data if dtype is None else data.astype(dtype)), False)


def randn_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples with input's shape and dtype."""
    return randn(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad)


def rand_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples with input's shape and dtype."""
    return rand(input.shape, dtype=_like_dtype(input, dtype), requires_grad=requires_grad)


def randperm(n: int, *, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    data = rng_of(generator).permutation(int(n)).astype(np.int64 if dtype is None else dtype)
    return _new(backend.xp.asarray(data), False)

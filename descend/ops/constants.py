"""Cached read-only constant arrays (ones, zeros, aranges) that forward and backward passes need every step.

Making them costs ~1 us each, a large share of a small layer's step; a step's shapes repeat, so they are kept.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend.backend import get_array_module

_CACHE: dict = {}
LIMIT = 64  # distinct constants kept; past that (e.g. many batch sizes) the cache starts over


def _constant(key: tuple, make: Callable[[], Any]) -> Any:
    v = _CACHE.get(key)
    if v is None:
        if len(_CACHE) >= LIMIT:
            _CACHE.clear()
        v = make()
        if isinstance(v, np.ndarray):
            v.flags.writeable = False  # shared: an in-place write would corrupt every later use
        _CACHE[key] = v
    return v


def ones_vector(xp: Any, n: int, dtype: Any) -> Any:
    """n ones: summing the rows of g as a GEMV (ones @ g) is 2-8x faster than g.sum(axis=0)."""
    return _constant(("ones", xp.__name__, n, dtype), lambda: xp.ones(n, dtype=dtype))


def arange_vector(xp: Any, n: int) -> Any:
    """arange(n) (int64): row indices for gathers such as x[rows, target]."""
    return _constant(("arange", xp.__name__, n), lambda: xp.arange(n))


def zeros_as(a: Any) -> Any:
    """Zeros with a's shape, dtype and layout: np.maximum(a, zeros) runs NumPy's SIMD loop, while
    np.maximum(a, 0) broadcasts the scalar through a loop 3-4x slower."""
    xp = get_array_module(a)
    return _constant(("zeros", xp.__name__, a.shape, a.strides, a.dtype), lambda: xp.zeros_like(a))

"""Argument normalisation shared by the functional forms (PyTorch's _single/_pair)."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.ops.errors import OpError


def int_tuple(v: Any, n: int, op: str, name: str) -> tuple:
    """An int or a sequence of n ints (a single one repeated), as n ints."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise OpError(f"{op}: {name} must be an int or {n} ints, got {v}")
    return v

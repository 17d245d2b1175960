"""Joining and broadcasting: concat under its names, the stacks, meshgrid, cartesian_prod, broadcast_*."""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from descend.backend import get_array_module

from descend.ops.errors import OpError
from descend.ops.movement import Cat, Expand, Stack
from descend._tensor import Tensor


def concat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """torch.cat under its other names."""
    return Cat.apply(*tensors, dim=dim)


concatenate = concat


def atleast_1d(*tensors: Any) -> Any:
    out = tuple(t.reshape(1) if t.ndim == 0 else t for t in _tensors(tensors))
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors: Any) -> Any:
    out = tuple(t.reshape(1, -1) if t.ndim < 2 else t for t in _tensors(tensors))
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors: Any) -> Any:
    def lift(t: Tensor) -> Tensor:
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t
    out = tuple(lift(t) for t in _tensors(tensors))
    return out[0] if len(out) == 1 else out


def _tensors(tensors: tuple) -> tuple:
    return tuple(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    ts = [atleast_1d(t) for t in tensors]
    return Cat.apply(*ts, dim=0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dim 0, 1-D tensors as rows."""
    return Cat.apply(*[atleast_2d(t) for t in tensors], dim=0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dim 2 (depth)."""
    return Cat.apply(*[atleast_3d(t) for t in tensors], dim=2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """1-D tensors as columns, others concatenated along dim 1."""
    return Cat.apply(*[t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], dim=1)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors; indexing 'ij' (matrix, the default) or 'xy' (Cartesian)."""
    ts = list(_tensors(tensors))
    if indexing not in (None, "ij", "xy"):
        raise OpError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in ts:
        if t.ndim > 1:
            raise OpError(f"meshgrid: expected 0-D or 1-D tensors, got shape {t.shape}")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(Expand.apply(t.reshape(view), shape=shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def broadcast_shapes(*shapes: Any) -> tuple:
    """The shape tensors of the given shapes broadcast to."""
    try:
        return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))
    except ValueError:
        raise OpError(f"broadcast_shapes: shapes {shapes} cannot be broadcast together") from None


def broadcast_to(input: Tensor, size: Any) -> Tensor:
    """input expanded to size (-1 keeps a dim)."""
    return Expand.apply(input, shape=tuple(size))


def broadcast_tensors(*tensors: Any) -> tuple:
    """The tensors expanded to their common shape."""
    ts = _tensors(tensors)
    shape = broadcast_shapes(*[t.shape for t in ts])
    return tuple(t if t.shape == shape else Expand.apply(t, shape=shape) for t in ts)


def cartesian_prod(*tensors: Any) -> Tensor:
    """Every combination of the 1-D inputs' elements, one per row (a 1-D input is returned as is)."""
    ts = _tensors(tensors)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return Stack.apply(*[g.reshape(-1) for g in grids], dim=1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """Every length-r combination of a 1-D tensor's elements, one per row, in itertools' order (gradients flow
    to the elements picked)."""
    if input.ndim != 1:
        raise OpError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise OpError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[Tensor(get_array_module(input._data).asarray(rows))]

"""Ops with integer or set-valued results, outside the graph: unique, bincount, histc, searchsorted,
bucketize, isin."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops import return_types
from descend.ops.errors import OpError
from descend.ops.logic import raw
from descend._tensor import Tensor


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None) -> Any:
    """The distinct values (sorted), and optionally where each input element went and how often each occurs."""
    a = raw(input)
    xp = get_array_module(a)
    values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=dim)
    if dim is None:
        inverse = inverse.reshape(a.shape)
    out = [Tensor(values)]
    if return_inverse:
        out.append(Tensor(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """Collapse runs of equal consecutive values (flattened unless dim is given: only None is supported)."""
    if dim is not None:
        raise OpError("unique_consecutive: only dim=None is supported")
    a = raw(input).reshape(-1)
    xp = get_array_module(a)
    starts = xp.concatenate([xp.ones(min(a.size, 1), bool), a[1:] != a[:-1]]) if a.size else xp.zeros(0, bool)
    out = [Tensor(a[starts])]
    if return_inverse:
        out.append(Tensor((xp.cumsum(starts) - 1).astype(np.int64).reshape(raw(input).shape)))
    if return_counts:
        pos = xp.flatnonzero(starts)
        out.append(Tensor(xp.diff(xp.append(pos, a.size)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each non-negative integer occurs (or the sum of its weights)."""
    a = raw(input)
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise OpError(f"bincount: expected a 1-D integer tensor, got shape {a.shape} dtype {a.dtype}")
    if a.size and a.min() < 0:
        raise OpError("bincount: input must be non-negative")
    xp = get_array_module(a)
    if weights is None:
        return Tensor(xp.bincount(a, minlength=minlength).astype(np.int64))
    w = raw(weights)
    out = xp.bincount(a, weights=w, minlength=minlength)
    return Tensor(out.astype(w.dtype if w.dtype.kind == "f" else np.float64))


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """Counts in `bins` equal bins over [min, max] (the data's range when both are 0), in input's dtype."""
    a = raw(input)
    if a.dtype.kind != "f":
        raise OpError(f"histc: expected a floating tensor, got dtype {a.dtype}")
    xp = get_array_module(a)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = xp.histogram(a[(a >= lo) & (a <= hi)], bins=bins, range=(lo, hi))
    return Tensor(counts.astype(a.dtype))


def histogram(input: Tensor, bins: Any = 100, *, range: Any = None, weight: Tensor | None = None,  # noqa: A002
              density: bool = False) -> Any:
    """(hist, bin_edges) of a floating tensor: `bins` equal bins over `range` (the data's by default) or the
    given 1-D edges, optionally weighted and normalised to a density, as torch.histogram."""
    a = raw(input)
    if a.dtype.kind != "f":
        raise OpError(f"histogram: expected a floating tensor, got dtype {a.dtype}")
    xp = get_array_module(a)
    edges = raw(bins) if isinstance(bins, Tensor) else int(bins)
    w = raw(weight).reshape(-1) if weight is not None else None
    hist, out_edges = xp.histogram(a.reshape(-1), bins=edges, range=range, weights=w, density=density)
    return return_types.histogram(Tensor(hist.astype(a.dtype)), Tensor(out_edges.astype(a.dtype)))


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Where each value would be inserted into the sorted last dim to keep it sorted."""
    seq = raw(sorted_sequence)
    vals = raw(input) if isinstance(input, Tensor) else np.asarray(input)
    xp = get_array_module(seq)
    how = side or ("right" if right else "left")
    if sorter is not None:
        seq = xp.take_along_axis(seq, raw(sorter), axis=-1)
    if seq.ndim <= 1:
        out = xp.searchsorted(seq, vals, side=how)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise OpError(f"searchsorted: leading dims of {seq.shape} and {vals.shape} differ")
        flat_s, flat_v = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        out = xp.stack([xp.searchsorted(s, v, side=how) for s, v in zip(flat_s, flat_v)]).reshape(vals.shape)
    return Tensor(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value given 1-D sorted boundaries (right=True puts values equal to a boundary after it)."""
    if raw(boundaries).ndim != 1:
        raise OpError(f"bucketize: boundaries must be 1-D, got shape {raw(boundaries).shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element occurs in test_elements (bool)."""
    a, b = raw(elements), raw(test_elements)
    xp = get_array_module(a, b)
    return Tensor(xp.asarray(xp.isin(a, b, assume_unique=assume_unique, invert=invert)))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None) -> Tensor:
    """The (2, n) row and column indices of the lower triangle of a row x col matrix."""
    r, c = np.tril_indices(row, offset, col)
    return Tensor(np.stack([r, c]).astype(np.int64 if dtype is None else np.dtype(dtype)))


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None) -> Tensor:
    """The (2, n) row and column indices of the upper triangle of a row x col matrix."""
    r, c = np.triu_indices(row, offset, col)
    return Tensor(np.stack([r, c]).astype(np.int64 if dtype is None else np.dtype(dtype)))

"""descend.Size: a shape, as torch.Size — a tuple of ints with numel(), whose slices are Sizes too. It prints
as PyTorch's in repr (descend.Size([2, 3])) and as the plain tuple in str() and f-strings, so messages that
show a shape stay short."""

from __future__ import annotations

import math
from typing import Any


class Size(tuple):
    """A shape: a tuple of ints (PyTorch's torch.Size), accepted wherever a shape is.

    >>> import descend
    >>> s = descend.ones(2, 3, 4).shape
    >>> s.numel(), s[1:]
    (24, descend.Size([3, 4]))
    """

    __slots__ = ()

    def __new__(cls, sizes: Any = ()) -> "Size":
        out = []
        for n in sizes:
            if isinstance(n, bool) or not hasattr(n, "__index__"):
                raise TypeError(f"torch.Size() takes an iterable of 'int' (item {len(out)} is "
                                f"'{type(n).__name__}')")
            out.append(n.__index__())
        return tuple.__new__(cls, out)

    def numel(self) -> int:
        return math.prod(self)

    def __getitem__(self, index: Any) -> Any:
        out = tuple.__getitem__(self, index)
        return tuple.__new__(Size, out) if isinstance(index, slice) else out

    def __add__(self, other: Any) -> "Size":
        return Size(tuple(self) + tuple(other)) if isinstance(other, tuple) else NotImplemented

    def __radd__(self, other: Any) -> "Size":
        return Size(tuple(other) + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, n: Any) -> "Size":
        return Size(tuple(self) * n)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"descend.Size({list(self)})"

    __str__ = tuple.__repr__


def as_size(shape: tuple) -> Size:
    """A Size of an array's shape (already ints: no checks, it is on the hot path)."""
    return tuple.__new__(Size, shape)

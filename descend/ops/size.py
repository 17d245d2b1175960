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

    def numel(self) -> int:
        return math.prod(self)

    def __getitem__(self, index: Any) -> Any:
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __repr__(self) -> str:
        return f"descend.Size({list(self)})"

    __str__ = tuple.__repr__

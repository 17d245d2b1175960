"""The identity op through which module backward hooks see gradients (PyTorch's BackwardHookFunction).

A module with full backward hooks passes its tensor inputs, and later its tensor outputs, through one
`PackedIdentity` each. Packing several tensors into one array means backward sees all of their gradients in
one call, so a hook receives the whole grad_input / grad_output tuple at once and may replace it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from descend.backend import get_array_module
from descend._tensor import Function, Tensor


class PackedIdentity(Function):
    """Identity on n arrays, packed flat into one output (one array: returned as a view of itself).

    backward splits the gradient per input, passes the tuple to `callback`, and returns what it returns.
    """

    def forward(self, *arrays: Any, callback: Callable[[tuple], tuple] | None = None) -> Any:
        self.shapes = [a.shape for a in arrays]
        self.callback = callback
        if len(arrays) == 1:
            return arrays[0].view()
        xp = get_array_module(*arrays)
        return xp.concatenate([a.reshape(-1) for a in arrays])

    def backward(self, g: Any) -> tuple:
        if len(self.shapes) == 1:
            grads = (g,)
        else:
            sizes = [int(np.prod(s)) for s in self.shapes]
            cuts = np.cumsum(sizes)[:-1].tolist()
            grads = tuple(part.reshape(s) for part, s in zip(get_array_module(g).split(g, cuts), self.shapes))
        if self.callback is not None:
            grads = tuple(self.callback(grads))
        return grads


def pass_through(tensors: Sequence[Tensor], callback: Callable[[tuple], tuple]) -> list[Tensor]:
    """The tensors, each replaced by an identity view whose gradient goes through one callback call."""
    packed = PackedIdentity.apply(*tensors, callback=callback)
    if len(tensors) == 1:
        return [packed]
    out, pos = [], 0
    for t in tensors:
        n = t.numel()
        piece = packed[pos:pos + n].reshape(t.shape)
        out.append(piece if piece._data.dtype == t._data.dtype else piece.to(t._data.dtype))  # concatenate promoted it
        pos += n
    return out

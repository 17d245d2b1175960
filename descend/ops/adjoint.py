"""IndexAdd: a zero tensor of a given shape with values added at an index — the adjoint of indexing.

First-order backward of `x[index]` does this on raw arrays; as an op of its own it makes that backward
differentiable again (its own backward is the indexing), which higher-order gradients need.
"""

from __future__ import annotations

from descend.backend import get_array_module
from descend.ops.movement import _is_advanced
from descend._tensor import Function


class IndexAdd(Function):
    def forward(self, g, shape=(), index=None):
        xp = get_array_module(g)
        self.index = index
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_advanced(index):
            xp.add.at(out, index, g)  # repeated indices accumulate
        else:
            out[index] = g
        return out

    def backward(self, g):
        return get_array_module(g).asarray(g[self.index])

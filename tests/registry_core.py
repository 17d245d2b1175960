"""Registry cases for the engine's own ops: dtype/device conversion and in-place writes recorded in the graph."""

from __future__ import annotations

import numpy as np

import descend
from descend.ops.convert import ToDevice
from descend.ops.elementwise import Cast as _Cast
from tests.op_registry import N, P, V, _torch, case


def _setitem(x, v):
    y = x * 1
    y[1:3] = v
    return y


def _setitem_scalar(x):
    y = x * 1
    y[0, 1] = 2.5
    return y


def _copy(x, s):
    return (x * 1).copy_(s)


def _inplace_chain(x, w):
    y = x * 2
    y.mul_(w).add_(1.0).clamp_(-1.0, 1.0)
    return y


# float32 rounding in the middle makes finite differences meaningless: PyTorch cross-check only.
case("cast[float32 round trip]", lambda a: a.float().double(), lambda a: a.float().double(), N(3, 2), gradcheck=False)
case("to[device]", lambda a: ToDevice.apply(a, device=descend.device("cpu")), lambda a: a.to("cpu"), N(2, 3))
case("setitem[slice, tensor value]", _setitem, _setitem, N(5, 3), N(3))
case("setitem[element, scalar]", _setitem_scalar, _setitem_scalar, N(2, 3, layout="t"))
case("copy_[broadcast]", _copy, _copy, N(3, 4), N(4))
case("inplace[mul_ add_ clamp_ chain]", _inplace_chain, _inplace_chain, N(3, 4, scale=0.3), N(4, scale=0.5))
case("setitem[torch.where-free masking]", lambda x: _setitem(x, descend.zeros(3)),
     lambda x: _setitem(x, _torch().zeros(3)), N(4, 3, layout="s"))


def _index_add(g):
    from descend.ops.adjoint import IndexAdd
    return IndexAdd.apply(g, shape=(3, 4), index=(descend.tensor([0, 2, 0])._data,))


def _index_add_ref(g):
    torch = _torch()
    return torch.zeros(3, 4, dtype=g.dtype).index_put((torch.tensor([0, 2, 0]),), g, accumulate=True)


# The adjoint of indexing (higher-order gradients use it); a repeated index accumulates.
case("index_add_into[repeated rows]", _index_add, _index_add_ref, N(3, 4))
case("cast[to float64]", lambda a: _Cast.apply(a, dtype=np.float64), lambda a: a.double(), N(2, 3, layout="t"))
case("polygamma[1]", lambda a: descend.polygamma(1, a), lambda a: _torch().polygamma(1, a), P(3, 4, lo=0.3, hi=4.0))
case("polygamma[2 negative]", lambda a: descend.special.polygamma(2, a), lambda a: _torch().special.polygamma(2, a),
     V([-2.5, -0.4, 0.7, 3.3]), rtol=1e-4)

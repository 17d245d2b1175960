"""oneDNN's element-wise primitives for activations whose NumPy form takes several passes over memory.

SiLU's NumPy forward computes sigmoid(x), which it keeps for the backward, in four passes (negate, exp, add,
reciprocal); oneDNN's logistic primitive does it in one vectorized pass on oneDNN's OpenMP team (so on every
thread descend was given, where NumPy's passes run on one). A diffusion U-Net's 20 SiLUs took 5.5 ms of its
46 ms step on one thread (bench/README.md).

The primitives see a dense array as one flat run of float32 values (any axis order: channels-last stays
channels-last). They take 4-D arrays only, the feature maps of the 2-D convolutions that run on oneDNN, so a
model without them (an MLP with SiLU) neither loads the library nor hands OpenBLAS's threads over
(descend/ops/onednn.py), and which path an array takes depends on the array alone, never on what ran before
in the process (a resumed run computes as the original did). float64, CuPy, small arrays and the rest keep
the NumPy paths, which tests/test_onednn_eltwise.py checks them against, with PyTorch.

>>> import numpy as np
>>> from descend.ops import onednn, onednn_eltwise
>>> with onednn.forced(False):
...     onednn_eltwise.plan("logistic", np.ones(1 << 20, np.float32)) is None
True
"""

from __future__ import annotations

import ctypes as C
from typing import Any, Optional

import numpy as np

from descend.ops import onednn

# oneDNN v3 algorithm kinds (dnnl_types.h: dnnl_eltwise_relu = 0x20, then one step per algorithm).
_ALGS = {"logistic": 0x29}


class EltwisePlan:
    """One algorithm's forward over flat float32 arrays of one length: y = f(x)."""

    def __init__(self, lib: Any, alg: int, n: int, alpha: float = 0.0, beta: float = 0.0) -> None:
        self.lib, self.fwd = lib, None
        self.md = onednn._desc(lib, (n,), (1,))
        pd = onednn._P()
        onednn._check(lib.dnnl_eltwise_forward_primitive_desc_create(
            C.byref(pd), lib.engine, onednn._FWD_TRAINING, alg, self.md, self.md, C.c_float(alpha),
            C.c_float(beta), None), "eltwise forward")
        self.fwd = onednn._Primitive(lib, pd, {onednn._SRC: self.md, onednn._DST: self.md})

    @onednn._serialized
    def forward(self, x: np.ndarray, y: np.ndarray) -> None:
        """y = f(x), both flat float32 arrays of the plan's length."""
        self.fwd(src=x, dst=y)

    def __del__(self) -> None:
        try:
            if onednn._state["lib"] is self.lib:  # not in a forked child (ConvPlan.__del__)
                if self.fwd is not None:
                    self.fwd.free()
                self.lib.dnnl_memory_desc_destroy(self.md)
        except Exception:  # half-built, or interpreter shutdown
            pass


def plan(alg: str, a: Any) -> Optional[EltwisePlan]:
    """The cached plan of `alg` for an array like a, or None: not a float32 NumPy array, not 4-D, fewer than
    onednn.MIN_SIZE elements, or oneDNN missing or switched off (`onednn.forced` applies: True takes any
    size and shape, False never)."""
    forced = onednn._state["forced"]
    if forced is False or type(a) is not np.ndarray or a.dtype != np.float32 or a.size == 0:
        return None
    if forced is None and (a.ndim != 4 or a.size < onednn.MIN_SIZE):
        return None
    return onednn.cached(("eltwise", alg, a.size), lambda lib: EltwisePlan(lib, _ALGS[alg], a.size))

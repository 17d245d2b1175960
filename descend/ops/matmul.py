"""Matrix product with NumPy's batching and broadcasting rules."""

from __future__ import annotations

from typing import Any

from descend.backend import get_array_module
from descend.ops.errors import OpError, OpTypeError
from descend.tensor import Function


def check_matmul(op: str, a: Any, b: Any) -> None:
    """Raise a clear error if a @ b is undefined: names the op, both shapes and, on a clash, both dtypes."""
    sa, sb = tuple(getattr(a, "shape", ())), tuple(getattr(b, "shape", ()))
    if not sa or not sb:
        raise OpError(f"{op}: both operands need at least 1 dimension, got {sa} @ {sb}")
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != k_b:
        raise OpError(f"{op}: {sa} @ {sb} — inner dimensions differ ({sa[-1]} vs {k_b})")
    if a.dtype != b.dtype:
        raise OpTypeError(f"{op}: dtype {a.dtype} @ {b.dtype} — both operands must have the same dtype; "
                        f"cast one with .to(...)")


class MatMul(Function):
    def forward(self, a, b):
        check_matmul("matmul", a, b)
        self.a, self.b = a, b
        try:
            return get_array_module(a, b).asarray(a @ b)  # vec @ vec gives a NumPy scalar; keep an array
        except ValueError:
            raise OpError(f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be "
                             "broadcast together") from None

    def backward(self, g):
        a, b = self.a, self.b
        da, db = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: the output is a scalar
            return (g * b if da else None), (g * a if db else None)
        # Treat vectors as matrices so one formula covers every case; the engine sums batch dims.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = g[..., None, :]
        if b.ndim == 1:
            g = g[..., None]
        ga = gb = None
        if da:
            ga = g @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if db:
            gb = a2.swapaxes(-1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

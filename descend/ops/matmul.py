"""Matrix product with NumPy's batching and broadcasting rules."""

from __future__ import annotations

from typing import Any

from descend.backend import get_array_module
from descend.ops.errors import OpError, OpTypeError
from descend.tensor import Function


def check_matmul(op: str, a: Any, b: Any) -> None:
    """Raise a clear error if a @ b is undefined: names the op, both shapes and, on a clash, both dtypes."""
    if not hasattr(a, "shape") or not hasattr(b, "shape"):
        raise OpTypeError(f"{op}: both operands must be tensors, got {type(a).__name__} @ {type(b).__name__}")
    sa, sb = tuple(a.shape), tuple(b.shape)
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


# ---- einsum --------------------------------------------------------------------------------------------

_SPARE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_einsum(equation: str, ndims: list) -> tuple:
    """Operand and output subscripts of an einsum equation, with '...' spelled out as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ndims):
        raise OpError(f"einsum: equation {equation!r} has {len(ins)} operands but {len(ndims)} were given")
    ell = 0
    for s, n in zip(ins, ndims):
        if "..." in s:
            ell = max(ell, n - (len(s) - 3))
    spare = [c for c in _SPARE if c not in eq][:ell]
    spelled = []
    for s, n in zip(ins, ndims):
        if "..." in s:
            k = n - (len(s) - 3)
            s = s.replace("...", "".join(spare[ell - k:]))
        if len(s) != n or not s.isalpha():
            raise OpError(f"einsum: subscripts {s!r} do not fit an operand with {n} dims in {equation!r}")
        spelled.append(s)
    if arrow:
        out = out.replace("...", "".join(spare))
    else:
        letters = "".join(spelled)
        out = "".join(spare) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                              and c not in spare))
    return spelled, out


class Einsum(Function):
    """Sum of products over the labels an equation names; each operand's gradient is another einsum."""

    def forward(self, *operands, equation=""):
        xp = get_array_module(*operands)
        self.ins, self.out = parse_einsum(equation, [o.ndim for o in operands])
        self.operands = operands
        try:
            return xp.asarray(xp.einsum(",".join(self.ins) + "->" + self.out, *operands))
        except ValueError as e:
            shapes = ", ".join(str(o.shape) for o in operands)
            raise OpError(f"einsum: {equation!r} does not fit shapes {shapes}: {e}") from None

    def backward(self, g):
        xp = get_array_module(g)
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            subs, op = self.ins[i], self.operands[i]
            if len(set(subs)) != len(subs):
                raise OpError(f"einsum: no gradient for an operand with a repeated label ({subs!r})")
            others = [j for j in range(len(self.ins)) if j != i]
            seen = set(self.out).union(*[set(self.ins[j]) for j in others])
            target = "".join(c for c in subs if c in seen)
            spec = ",".join([self.out] + [self.ins[j] for j in others]) + "->" + target
            r = xp.einsum(spec, g, *[self.operands[j] for j in others])
            if target != subs:
                # Labels only this operand has were summed in forward: their gradient is a broadcast.
                r = r.reshape([r.shape[target.index(c)] if c in target else 1 for c in subs])
                r = xp.broadcast_to(r, op.shape)
            grads.append(r)
        return tuple(grads)

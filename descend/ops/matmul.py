"""Matrix products: matmul (NumPy's batching and broadcasting rules), einsum, and mm, addmm, tensordot, ... on top."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops.elementwise import Add, Mul
from descend.ops.errors import OpError, OpTypeError
from descend.ops.movement import Clone
from descend._tensor import Function, Tensor


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
            subs = self.ins[i]
            if len(set(subs)) != len(subs):
                raise OpError(f"einsum: no gradient for an operand with a repeated label ({subs!r})")
            spec, target, others = einsum_grad_spec(self.ins, self.out, i)
            r = xp.einsum(spec, g, *[self.operands[j] for j in others])
            if target != subs:  # labels only this operand had were summed: their gradient is a broadcast
                r = xp.broadcast_to(r.reshape(kept_shape(r.shape, target, subs)), self.operands[i].shape)
            grads.append(r)
        return tuple(grads)


def einsum_grad_spec(ins: list[str], out: str, i: int) -> tuple[str, str, list[int]]:
    """The einsum of operand i's gradient from g and the other operands: (spec, its labels, the others)."""
    others = [j for j in range(len(ins)) if j != i]
    seen = set(out).union(*[set(ins[j]) for j in others])
    target = "".join(c for c in ins[i] if c in seen)
    return ",".join([out] + [ins[j] for j in others]) + "->" + target, target, others


def kept_shape(shape: tuple, target: str, subs: str) -> list[int]:
    """`shape` (labelled `target`) with a 1 for each label of `subs` that `target` lacks."""
    return [shape[target.index(c)] if c in target else 1 for c in subs]


# ---- matrix products -----------------------------------------------------------------------------------

def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise OpError(f"mm: expected two 2-D tensors, got {input.shape} @ {mat2.shape}")
    return MatMul.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of (B, n, m) and (B, m, p)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise OpError(f"bmm: expected (B, n, m) @ (B, m, p), got {input.shape} @ {mat2.shape}")
    return MatMul.apply(input, mat2)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum of products over the labels of an equation ('ij,jk->ik'); operands may be given as a list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return Einsum.apply(*operands, equation=equation)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """input[i] * vec2[j]."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise OpError(f"outer: expected two 1-D tensors, got {input.shape} and {vec2.shape}")
    return Mul.apply(input.reshape(-1, 1), vec2.reshape(1, -1))


ger = outer


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length."""
    if input.ndim != 1 or tensor.ndim != 1 or input.shape != tensor.shape:
        raise OpError(f"dot: expected two 1-D tensors of the same size, got {input.shape} and {tensor.shape}")
    return MatMul.apply(input, tensor)


vdot = dot


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum over the last dims of input and other (a product for 0-D operands)."""
    if input.ndim == 0 or other.ndim == 0:
        return Mul.apply(input, other)
    return tensordot(input, other, dims=([input.ndim - 1], [other.ndim - 1]))


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix times vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise OpError(f"mv: expected a 2-D and a 1-D tensor, got {input.shape} and {vec.shape}")
    return MatMul.apply(input, vec)


def _scaled_sum(input: Tensor, product: Tensor, beta: float, alpha: float) -> Tensor:
    """beta * input + alpha * product; with beta == 0 the input is ignored (its NaNs too), as in PyTorch."""
    if alpha != 1:
        product = Mul.apply(product, alpha)
    if beta == 0:
        return product
    return Add.apply(input if beta == 1 else Mul.apply(input, beta), product)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2), batched."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * sum_b (batch1[b] @ batch2[b])."""
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Contract the last `dims` dims of a with the first of b, or the listed dims of each."""
    if isinstance(dims, int):
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([dims[0]] if isinstance(dims[0], int) else list(dims[0]),
                  [dims[1]] if isinstance(dims[1], int) else list(dims[1]))
    letters = "abcdefghijklmnopqrstuvwxyz"
    sa = list(letters[:a.ndim])
    sb = list(letters[a.ndim:a.ndim + b.ndim])
    for i, j in zip(da, db):
        sb[j % b.ndim] = sa[i % a.ndim]
    shared = {sa[i % a.ndim] for i in da}
    out = [c for c in sa if c not in shared] + [c for c in sb if c not in shared]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


def matrix_power(input: Tensor, n: int) -> Tensor:
    """input @ input @ ... (n times; identity for n = 0)."""
    if n < 0:
        raise OpError("matrix_power: negative powers need an inverse, which descend does not provide")
    out = None
    for _ in range(n):
        out = input if out is None else MatMul.apply(out, input)
    if out is None:
        eye = np.broadcast_to(np.eye(input.shape[-1], dtype=input._data.dtype), input.shape)
        return Tensor(eye.copy())
    return Clone.apply(out) if out is input else out

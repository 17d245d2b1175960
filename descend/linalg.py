"""`descend.linalg`: norms, products and the matrix functions PyTorch's `torch.linalg` offers that descend has."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.ops.api import matmul, matrix_power, outer, tensordot
from descend.ops import linalg_ops as _la
from descend.ops.errors import OpError
from descend.ops.indexing import IndexSelect, dim_index
from descend.ops.stats import vector_norm
from descend._tensor import Tensor

__all__ = ["vector_norm", "matrix_norm", "norm", "matmul", "matrix_power", "vecdot", "outer", "tensordot", "det",
           "inv", "solve", "cross", "svdvals", "eigvalsh", "matrix_rank", "cond", "slogdet", "multi_dot",
           "cholesky", "eigh"]


def matrix_norm(A: Tensor, ord: Any = "fro", dim: tuple = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """Frobenius (default), or the 1 / -1 / inf / -inf norm (largest or smallest column / row abs sum)."""
    if A.ndim < 2:
        raise OpError(f"linalg.matrix_norm: expected a tensor with >= 2 dims, got shape {A.shape}")
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in (1, -1, float("inf"), float("-inf")):
        # Column sums (ord +-1) reduce rows first; row sums (ord +-inf) reduce columns first.
        inner, outer_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
        sums = A.abs().sum(inner, keepdim=True)
        out = sums.amax(outer_dim, keepdim=True) if ord > 0 else sums.amin(outer_dim, keepdim=True)
        return out if keepdim else out.squeeze((d0, d1))
    if ord in (2, -2, "nuc"):
        moved = A.movedim((d0, d1), (-2, -1))
        s = svdvals(moved)
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    raise OpError(f"linalg.matrix_norm: ord={ord!r} is not supported; use 'fro', 'nuc', 1, -1, 2, -2, inf or -inf")


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """A vector norm (1-D, or dim an int) or a matrix norm (2-D, or dim a pair); the 2-norm by default."""
    if ord is None:
        if dim is not None and not isinstance(dim, int) and len(dim) == 2:
            return matrix_norm(A, "fro", tuple(dim), keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is None and A.ndim == 1):
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    if dim is None and A.ndim != 2:
        raise OpError(f"linalg.norm: ord={ord!r} needs a 1-D or 2-D input or dim, got shape {A.shape}")
    return matrix_norm(A, ord, (-2, -1) if dim is None else tuple(dim), keepdim, dtype=dtype)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products along dim (broadcasting the other dims)."""
    return (x * y).sum(dim)


def det(A: Tensor) -> Tensor:
    """Determinants of square matrices (..., n, n)."""
    return _la.Det.apply(A)


def inv(A: Tensor) -> Tensor:
    """Inverses of square matrices (..., n, n)."""
    return _la.Inv.apply(A)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (left=False: X A = B)."""
    if not left:
        return _la.Solve.apply(A.mT, B.mT).mT
    return _la.Solve.apply(A, B)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along dim (broadcasting the other dims)."""
    return _la.cross(input, other, dim=dim)


def svdvals(A: Tensor) -> Tensor:
    """Singular values of matrices (..., m, n), in descending order."""
    return _la.SvdVals.apply(A)


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """Eigenvalues of symmetric matrices in ascending order, read from the UPLO triangle."""
    return _la.EigvalsH.apply(A, upper=UPLO == "U")


def matrix_rank(A: Tensor, *, atol: float | None = None, rtol: float | None = None, hermitian: bool = False) -> Tensor:
    """The number of singular values above max(atol, rtol * largest) (rtol defaults to eps * max(m, n))."""
    s = np.linalg.svd(np.asarray(A._data), compute_uv=False)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(s.dtype).eps * max(A.shape[-2:])
    tol = np.maximum(atol or 0.0, rtol * s.max(axis=-1, initial=0.0))
    return Tensor(np.asarray((s > np.asarray(tol)[..., None]).sum(axis=-1), dtype=np.int64))


def cond(A: Tensor, p: Any = None) -> Tensor:
    """The condition number: largest over smallest singular value (or norm(A, p) * norm(inv(A), p))."""
    if p is None or p == 2:
        s = svdvals(A)
        return s.amax(-1) / s.amin(-1)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def slogdet(A: Tensor) -> tuple:
    """(sign, log |det A|)."""
    return _la.slogdet(A)


def multi_dot(tensors: list) -> Tensor:
    """The product of a chain of matrices (first and last may be vectors), left to right."""
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite matrices: lower L with A = L L^T (upper: L^T)."""
    out = _la.Cholesky.apply(A)
    return out.mT if upper else out


def eigh(A: Tensor, UPLO: str = "L") -> tuple:
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices, read from the UPLO triangle."""
    both = _la.EigH.apply(A, upper=UPLO == "U")
    return both[..., 0, :], both[..., 1:, :]

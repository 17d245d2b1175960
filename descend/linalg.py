"""`descend.linalg`: norms, products and the matrix functions PyTorch's `torch.linalg` offers that descend has."""

from __future__ import annotations

from typing import Any

from descend.ops.api import matmul, matrix_power, outer, tensordot
from descend.ops.errors import OpError
from descend.ops.stats import vector_norm
from descend.tensor import Tensor

__all__ = ["vector_norm", "matrix_norm", "norm", "matmul", "matrix_power", "vecdot", "outer", "tensordot"]


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
    raise OpError(f"linalg.matrix_norm: ord={ord!r} is not supported (singular values are not implemented); "
                  "use 'fro', 1, -1, inf or -inf")


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

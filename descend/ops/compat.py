"""PyTorch-compatibility functions: predicates, real/conj of real tensors, typename, thread settings, and
thin spellings of ops descend has under other names (det, inverse, cross, msort, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import default_dtype, get_array_module
from descend.ops import linalg_ops as _la, onednn
from descend.ops.errors import OpError
from descend.ops.shape import diag
from descend.ops.stats import sort
from descend._tensor import Tensor


def det(input: Tensor) -> Tensor:
    """Determinants of square matrices."""
    return _la.Det.apply(input)


def inverse(input: Tensor) -> Tensor:
    """Inverses of square matrices."""
    return _la.Inv.apply(input)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """Cross products of 3-vectors along dim (the first dim of size 3 when None, as torch.cross)."""
    if dim is None:
        dim = next((i for i, n in enumerate(input.shape) if n == 3), -1)
    return _la.cross(input, other, dim=dim)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The flattened input on diagonal `offset` of a square matrix."""
    return diag(input.reshape(-1), offset)


def msort(input: Tensor) -> Tensor:
    """input sorted along dim 0."""
    return sort(input, 0).values


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """value where mask (bool, broadcast) is True, else input."""
    return input.masked_fill(mask, value)


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """obj as a tensor, sharing memory with a tensor or array when dtype and device allow (copy=True copies)."""
    from descend._tensor import as_tensor, tensor
    out = tensor(obj, dtype=dtype) if copy else as_tensor(obj, dtype=dtype)
    if device is not None:
        out = out.to(device)
    return out.requires_grad_() if requires_grad else out


def scalar_tensor(s: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A 0-D tensor of the default float dtype (or dtype) holding s."""
    from descend.ops.creation import full
    return full((), s, dtype=default_dtype() if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def is_nonzero(input: Tensor) -> bool:
    """Whether a one-element tensor is non-zero."""
    if input.numel() != 1:
        raise OpError(f"is_nonzero: expected a tensor with one element, got shape {input.shape}")
    return bool(input.item())


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input: Tensor) -> bool:
    return input.dtype.is_signed


def isreal(input: Tensor) -> Tensor:
    """True everywhere for real tensors (imaginary part zero for complex ones)."""
    a = input._data
    return Tensor(np.imag(a) == 0 if a.dtype.kind == "c" else np.ones(a.shape, dtype=bool))


def real(input: Tensor) -> Tensor:
    """A real tensor itself."""
    return input


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (a real tensor itself; descend has no lazy conjugation, so a complex one is
    conjugated at once)."""
    if input._data.dtype.kind != "c":
        return input
    return Tensor(get_array_module(input._data).conj(input._data))


def resolve_conj(input: Tensor) -> Tensor:
    """The tensor itself: descend never defers a conjugation or a negation (so resolve_neg is this too)."""
    return input


resolve_neg = resolve_conj


def is_conj(input: Tensor) -> bool:
    return False


is_neg = is_conj


def typename(obj: Any) -> str:
    """PyTorch's legacy type name of a tensor ('torch.FloatTensor' style) or the type's name."""
    if isinstance(obj, Tensor):
        names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                 "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
        return f"torch.{names.get(str(obj.dtype).replace('descend.', ''), 'Tensor')}"
    return type(obj).__name__


def get_num_threads() -> int:
    """The threads descend's products use: set_num_threads's count, else the BLAS's (OMP_NUM_THREADS /
    OPENBLAS_NUM_THREADS at start, default every core), as torch.get_num_threads.

    >>> import descend
    >>> descend.get_num_threads() >= 1
    True
    """
    return onednn.threads()


def set_num_threads(n: int) -> None:
    """Threads for the convolutions (oneDNN) and NumPy's OpenBLAS from now on, as torch.set_num_threads; with
    oneDNN's convolutions at several threads OpenBLAS keeps one (their idle workers would compete)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    onednn.set_threads(int(n))

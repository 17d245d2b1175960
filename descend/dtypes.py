"""dtypes as objects with PyTorch's names (`descend.float32`, `descend.long`, ...) and PyTorch's type promotion.

A descend dtype wraps a NumPy dtype and has a `.dtype` attribute holding it, so it can be passed wherever NumPy
expects a dtype (`np.zeros(3, dtype=descend.float32)`). It compares equal to that NumPy dtype, its type and its
name, so code written against either spelling keeps working.

Promotion follows PyTorch, not NumPy: the operands are split into dimensioned tensors, zero-dimensional tensors
and Python numbers; a category (bool < integer < floating < complex) that only a lower-priority group reaches
raises the result to the lowest dtype of that category, e.g. int tensor * 2.5 -> float32 (the default dtype),
float32 tensor + float64 0-d tensor -> float32, int tensor / int tensor -> float32.

>>> import descend
>>> descend.promote_types(descend.int64, descend.float32)
descend.float32
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # bfloat16 has no NumPy dtype of its own; ml_dtypes (from the JAX project) provides one.
    import ml_dtypes as _ml_dtypes
except ImportError:  # pragma: no cover - declared as a dependency
    _ml_dtypes = None


class dtype:
    """A tensor element type: `descend.float32`, `descend.int64`, ... (PyTorch's `torch.dtype`)."""

    __slots__ = ("name", "dtype", "is_floating_point", "is_complex", "is_signed", "itemsize", "kind", "type", "str",
                 "_rank")

    def __init__(self, name: str, np_dtype: Any, rank: int) -> None:
        self.name = name
        self.dtype = np.dtype(np_dtype)
        self.kind = "f" if name == "bfloat16" else self.dtype.kind
        self.is_floating_point = self.kind == "f"
        self.is_complex = self.kind == "c"
        self.is_signed = self.kind in "fci"
        self.itemsize = self.dtype.itemsize
        # NumPy's names too, so code that treats a tensor's dtype as a NumPy dtype keeps working.
        self.type, self.str = self.dtype.type, self.dtype.str
        self._rank = rank  # order within a category, for promotion

    def __repr__(self) -> str:
        return f"descend.{self.name}"

    def __format__(self, spec: str) -> str:
        # In f-strings (error messages: "got dtype int64") the bare name reads best; str() and repr() give
        # "descend.float32" as PyTorch's give "torch.float32".
        return format(self.name, spec)

    def __reduce__(self) -> Any:
        return (as_dtype, (self.name,))

    def __eq__(self, other: Any) -> bool:
        if other is self:
            return True
        if isinstance(other, dtype):
            return False
        try:
            return _BY_NP.get(np.dtype(other)) is self
        except (TypeError, ValueError):
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dtype)

    def to_real(self) -> "dtype":
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self) -> "dtype":
        return {"float32": complex64, "float64": complex128, "float16": complex64}.get(self.name, self)


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 2)
uint16 = dtype("uint16", np.uint16, 2)
int32 = dtype("int32", np.int32, 3)
uint32 = dtype("uint32", np.uint32, 3)
int64 = dtype("int64", np.int64, 4)
uint64 = dtype("uint64", np.uint64, 4)
float16 = dtype("float16", np.float16, 1)
bfloat16 = dtype("bfloat16", _ml_dtypes.bfloat16, 1) if _ml_dtypes is not None else None
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 3)
complex64 = dtype("complex64", np.complex64, 1)
complex128 = dtype("complex128", np.complex128, 2)

ALL = [d for d in (bool_, uint8, int8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32,
                   float64, complex64, complex128) if d is not None]
_BY_NP = {d.dtype: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
# PyTorch's aliases.
_BY_NAME.update({"half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
                 "long": int64, "cfloat": complex64, "cdouble": complex128, "bool": bool_})
ALIASES = {"half": float16, "float": float32, "double": float64, "short": int16, "int": int32, "long": int64,
           "cfloat": complex64, "cdouble": complex128, "bool": bool_}


def as_dtype(x: Any) -> dtype:
    """The descend dtype for a descend dtype, NumPy dtype or type, name ('float32', 'long') or Python type."""
    if isinstance(x, dtype):
        return x
    if isinstance(x, str):
        d = _BY_NAME.get(x.removeprefix("descend.").removeprefix("torch."))
        if d is not None:
            return d
    elif x is float:
        return float64
    elif x is int:
        return int64
    elif x is bool:
        return bool_
    elif x is complex:
        return complex128
    try:
        d = _BY_NP.get(np.dtype(x))
    except (TypeError, ValueError):
        d = None
    if d is None:
        raise TypeError(f"unknown dtype {x!r}: expected e.g. descend.float32, descend.int64 or 'float32'")
    return d


def of(np_dtype: np.dtype) -> dtype:
    """The descend dtype of an array's NumPy dtype (fast path of as_dtype)."""
    d = _BY_NP.get(np_dtype)
    return d if d is not None else as_dtype(np_dtype)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _category(d: dtype) -> int:
    return _CATEGORY[d.kind]


def promote_types(a: Any, b: Any) -> dtype:
    """The smallest dtype both `a` and `b` convert to without losing their category (PyTorch's table)."""
    a, b = as_dtype(a), as_dtype(b)
    if a is b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.is_complex and lo.is_floating_point and lo.itemsize > hi.itemsize // 2:
            return complex128
        return hi
    if a.is_floating_point:
        if {a.name, b.name} == {"float16", "bfloat16"}:
            return float32
        return a if a.itemsize > b.itemsize else b
    return of(np.promote_types(a.dtype, b.dtype))


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    """PyTorch's combine_categories: a lower-priority group only raises the category, not the width."""
    if higher is None:
        return lower
    if lower is None or higher.is_complex or higher.is_floating_point and not lower.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(x: Any, default_float: dtype) -> dtype:
    """The dtype a Python number takes part in promotion with: bool, int64, the default float or complex."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return int64
    if isinstance(x, complex):
        return complex64 if default_float is float32 else complex128
    return default_float


def result_type_of(operands: Any, default_float: dtype) -> dtype:
    """The dtype PyTorch gives an op over arrays (dimensioned or 0-d) and Python numbers."""
    dim = zero = wrapped = None
    for x in operands:
        nd = getattr(x, "ndim", None)
        if nd is None or isinstance(x, np.generic):  # NumPy scalars count as Python numbers, as in PyTorch
            if x is None:
                continue
            d = scalar_dtype(x, default_float)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
        elif nd == 0:
            d = of(x.dtype)
            zero = d if zero is None else promote_types(zero, d)
        else:
            d = of(x.dtype)
            dim = d if dim is None else promote_types(dim, d)
    out = _combine(dim, _combine(zero, wrapped))
    return out if out is not None else default_float


def promote_pair(a: Any, b: Any, default_float: dtype) -> tuple:
    """a and b converted to the dtype PyTorch computes a binary op in (Python numbers are left as they are:
    NumPy then keeps the array's dtype for them)."""
    rt = result_type_of((a, b), default_float).dtype
    return _cast(a, rt), _cast(b, rt)


def _cast(x: Any, rt: np.dtype) -> Any:
    d = getattr(x, "dtype", None)
    return x if d is None or d == rt else x.astype(rt)


class finfo:
    """Machine limits of a floating dtype, with PyTorch's attribute names."""

    def __init__(self, type: Any = None) -> None:
        from descend import backend

        d = as_dtype(type) if type is not None else of(backend.default_dtype())
        if not (d.is_floating_point or d.is_complex):
            raise TypeError(f"finfo: expected a floating point dtype, got {d}")
        info = np.finfo(d.to_real().dtype)
        self.dtype = d.to_real().name
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(info.resolution)

    def __repr__(self) -> str:
        return f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, " \
               f"smallest_normal={self.smallest_normal}, tiny={self.tiny}, dtype={self.dtype})"


class iinfo:
    """Limits of an integer dtype, with PyTorch's attribute names."""

    def __init__(self, type: Any) -> None:
        d = as_dtype(type)
        if d.is_floating_point or d.is_complex:
            raise TypeError(f"iinfo: expected an integer dtype, got {d}")
        info = np.iinfo(d.dtype) if d is not bool_ else None
        self.dtype = d.name
        self.bits = 8 if info is None else info.bits
        self.max = 1 if info is None else int(info.max)
        self.min = 0 if info is None else int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"

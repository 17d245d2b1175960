"""Conversions between dtypes and devices: `x.to(...)`, `x.float()`, `x.cuda()`, `x.new_zeros(...)`.

`to` returns the tensor itself when nothing changes (PyTorch's rule; `copy=True` forces a new one); a change of
dtype or device is an op, so gradients flow back through it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend import dtypes as _dt
from descend.ops.elementwise import Cast
from descend.ops.methods import bind
from descend.ops.movement import contiguous
from descend._tensor import Function, Tensor


class ToDevice(Function):
    def forward(self, a, device=None):
        self.src = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, g):
        return backend.to_device(g, self.src)


def _parse_to(args: tuple, kwargs: dict) -> tuple:
    """(device or None, dtype or None, copy) from any of `to`'s call forms."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (_dt.dtype, np.dtype)) or a in (float, int, bool, complex) or \
                isinstance(a, type) and issubclass(a, np.generic):
            dtype = a
        elif isinstance(a, (str, backend.device, int)) and not isinstance(a, bool):
            if isinstance(a, str) and a.removeprefix("torch.").removeprefix("descend.") in _dt.ALIASES | \
                    {d.name: d for d in _dt.ALL}:
                dtype = a
            else:
                device = a
        elif isinstance(a, bool):  # to(device, dtype, non_blocking, copy) positional flags
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return (None if device is None else backend.device(device)), \
        (None if dtype is None else _dt.as_dtype(dtype)), copy


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """This tensor on another device and/or with another dtype (itself when nothing changes).

    >>> import descend
    >>> descend.ones(2).to("cpu", descend.float64).dtype
    descend.float64
    """
    device, dtype, copy = _parse_to(args, dict(kwargs))
    out = self
    if device is not None and device.type == "cuda" and device.index is None:
        device = backend.device("cuda", 0)
    if device is not None and device != out.device:
        out = ToDevice.apply(out, device=device)
    if dtype is not None and dtype is not out.dtype:
        if dtype.is_floating_point or dtype.is_complex:
            out = Cast.apply(out, dtype=dtype.dtype)
        else:  # an integer or bool result cannot carry a gradient (PyTorch's rule)
            out = Tensor(out._data.astype(dtype.dtype))
    fmt = kwargs.get("memory_format")
    if fmt is not None and "preserve" not in str(fmt):
        laid = contiguous(out, memory_format=fmt)
        out, copy = laid, copy and laid is out
    if copy and out is self:
        out = self.clone()
    return out


def type_(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """The dtype's name without an argument ('descend.FloatTensor' style is not used); else `to(dtype)`."""
    if dtype is None:
        return f"descend.{_LEGACY_NAMES.get(self.dtype.name, self.dtype.name)}"
    if isinstance(getattr(dtype, "dtype", None), _dt.dtype) and isinstance(dtype, type):
        dtype = dtype.dtype  # a legacy class: x.type(torch.FloatTensor)
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        name = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16", "LongTensor":
                "int64", "IntTensor": "int32", "ShortTensor": "int16", "ByteTensor": "uint8", "CharTensor": "int8",
                "BoolTensor": "bool", "BFloat16Tensor": "bfloat16"}.get(dtype.rsplit(".", 1)[-1])
        if name is None:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = name
    return to(self, _dt.as_dtype(dtype))


_LEGACY_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16":
                 "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8":
                 "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    return to(self, "cpu")


def cuda(self: Tensor, device: Any = None, non_blocking: bool = False, memory_format: Any = None) -> Tensor:
    return to(self, backend.device("cuda", device if isinstance(device, int) else None) if not isinstance(
        device, (str, backend.device)) else device)


def _caster(dt: _dt.dtype | None) -> Any:
    def cast(self: Tensor, memory_format: Any = None) -> Tensor:
        return to(self, dt)

    cast.__doc__ = f"`self.to({dt})`."
    return cast


_CASTS = {name: _caster(getattr(_dt, name if name != "bool" else "bool_")) for name in
          ("float32", "float64", "float16", "bfloat16", "int32", "int64", "int16", "int8", "uint8", "bool",
           "complex64", "complex128")}
_CAST_METHODS = {"float": _CASTS["float32"], "double": _CASTS["float64"], "half": _CASTS["float16"],
                 "bfloat16": _CASTS["bfloat16"], "int": _CASTS["int32"], "long": _CASTS["int64"],
                 "short": _CASTS["int16"], "char": _CASTS["int8"], "byte": _CASTS["uint8"], "bool": _CASTS["bool"],
                 "cfloat": _CASTS["complex64"], "cdouble": _CASTS["complex128"]}


def type_as(self: Tensor, other: Tensor) -> Tensor:
    return to(self, other.dtype)


def is_floating_point(self: Tensor) -> Any:
    return self.dtype.is_floating_point


def is_complex(self: Tensor) -> Any:
    return self.dtype.is_complex


def element_size(self: Tensor) -> Any:
    return self.dtype.itemsize


def storage_offset(self: Tensor) -> int:
    """Elements between the start of the memory this tensor views and its first element."""
    a, root = self._data, self._data
    while getattr(root, "base", None) is not None:
        root = root.base
    start = a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr
    origin = root.__array_interface__["data"][0] if isinstance(root, np.ndarray) else root.data.ptr
    return (start - origin) // a.itemsize


def ndimension(self: Tensor) -> int:
    return self._data.ndim


def get_device(self: Tensor) -> Any:
    return -1 if not self.is_cuda else self.device.index


def _new(self: Tensor, values: Any, dtype: Any, device: Any, requires_grad: Any) -> Tensor:
    dt = self.dtype if dtype is None else _dt.as_dtype(dtype)
    t = Tensor(backend.get_array_module(self._data).asarray(values, dtype=dt.dtype))
    t = to(t, device) if device is not None else to(t, self.device)
    return t.requires_grad_(True) if requires_grad else t


def _size(size: tuple) -> tuple:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def new_tensor(self: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    data = data._data.copy() if isinstance(data, Tensor) else data
    return _new(self, data, dtype, device, requires_grad)


def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    return _new(self, np.zeros(_size(size)), dtype, device, requires_grad)


def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    return _new(self, np.ones(_size(size)), dtype, device, requires_grad)


def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: Any = False) -> Tensor:
    return _new(self, np.zeros(_size(size)), dtype, device, requires_grad)


def new_full(self: Tensor, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
             requires_grad: Any = False) -> Tensor:
    return _new(self, np.full(_size((size,)), fill_value), dtype, device, requires_grad)


bind(list(_CAST_METHODS), _CAST_METHODS)
bind(["type"], {"type": type_})
bind(["to", "cpu", "cuda", "type_as", "is_floating_point", "is_complex", "element_size", "get_device",
      "new_tensor", "new_zeros", "new_ones", "new_empty", "new_full", "storage_offset", "ndimension"], globals())
Tensor.nbytes = property(lambda self: int(self._data.nbytes), doc="Bytes of the elements.")
Tensor.itemsize = property(lambda self: int(self._data.itemsize), doc="Bytes of one element.")

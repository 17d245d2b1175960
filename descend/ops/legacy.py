"""PyTorch's legacy typed constructors (`torch.LongTensor(...)`, `torch.FloatTensor(...)`): each builds a tensor
of its dtype and answers isinstance by dtype, as the old tensor types did.

>>> import descend
>>> descend.LongTensor([1, 2]).dtype, isinstance(descend.zeros(2), descend.FloatTensor)
(descend.int64, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend import dtypes as _dt
from descend._tensor import Tensor


class _TypedTensorMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __call__(cls, *args: Any) -> Tensor:
        """T(sizes...) gives an uninitialised (here: zero) tensor of that shape; T(data) a copy of data."""
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(cls.dtype)
            return Tensor(np.array(data, dtype=cls.dtype.dtype))
        if any(not isinstance(a, int) for a in args):
            raise TypeError(f"{cls.__name__}(): expected sizes (ints) or data, got {args!r}")
        return Tensor(backend.xp.zeros(args, dtype=cls.dtype.dtype))


def _typed(name: str, dtype: _dt.dtype) -> type:
    return _TypedTensorMeta(name, (), {"dtype": dtype, "__doc__": f"A tensor of dtype {dtype} (legacy type)."})


FloatTensor = _typed("FloatTensor", _dt.float32)
DoubleTensor = _typed("DoubleTensor", _dt.float64)
HalfTensor = _typed("HalfTensor", _dt.float16)
LongTensor = _typed("LongTensor", _dt.int64)
IntTensor = _typed("IntTensor", _dt.int32)
ShortTensor = _typed("ShortTensor", _dt.int16)
CharTensor = _typed("CharTensor", _dt.int8)
ByteTensor = _typed("ByteTensor", _dt.uint8)
BoolTensor = _typed("BoolTensor", _dt.bool_)

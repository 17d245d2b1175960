"""Tensor methods bound in one place: each is the top-level function of the same name (`x.prod(1)` is
`descend.prod(x, 1)`), so the method and the function can never drift apart.

_tensor.py defines the engine and the hot-path methods itself; everything else is bound here at import.
"""

from __future__ import annotations

from typing import Any

from descend.ops import api, creation
from descend.ops import logic as _lg
from descend.ops import movement as _mv
from descend.ops.shape import mT as _mT
from descend.ops.shape import repeat as _repeat
from descend.ops.shape import sum_to_size as _sum_to_size
from descend.ops.shape import unfold as _unfold
from descend._tensor import Tensor
from descend.autograd import engine as _engine


def bind(names: list[str], namespace: dict) -> None:
    """Set Tensor.<name> = namespace[name] for each name that Tensor does not define itself."""
    for name in names:
        if name not in Tensor.__dict__:
            setattr(Tensor, name, namespace[name])


METHODS = """
sin cos tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh
rsqrt reciprocal log1p expm1 log2 log10 exp2 frac floor ceil trunc fix round sign sgn floor_divide remainder
fmod atan2 arctan2 hypot nan_to_num lerp addcmul addcdiv clamp_min clamp_max true_divide divide multiply
subtract negative absolute positive float_power xlogy
outer ger dot vdot inner mv mm bmm addmm addmv addr baddbmm addbmm matrix_power
gather index_select masked_select nonzero argwhere scatter scatter_add scatter_reduce take take_along_dim
eq ne gt lt ge le greater greater_equal less less_equal not_equal equal isclose allclose isnan isfinite isinf
isneginf isposinf signbit logical_and logical_or logical_xor logical_not
bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift
swapaxes swapdims adjoint chunk diag diagonal flip fliplr flipud movedim moveaxis narrow repeat_interleave roll
select split tensor_split tile tril triu unbind unflatten
all any aminmax argsort count_nonzero cumprod cumsum kthvalue median nanmean nansum norm prod quantile sort topk
multinomial bernoulli
unique unique_consecutive bincount histc histogram isin index_add index_copy index_fill index_put kron trace
copysign deg2rad erfc erfinv fmax fmin lgamma logaddexp logaddexp2 logit rad2deg digamma broadcast_to diag_embed
cummax cummin diff logcumsumexp nanmedian masked_scatter
dsplit hsplit ravel rot90 vsplit dist sinc
gcd heaviside lcm ldexp diagonal_scatter select_scatter slice_scatter logdet slogdet det inverse cross diagflat
msort nanquantile mode cov corrcoef is_nonzero is_same_size is_signed isreal conj resolve_conj resolve_neg is_conj is_neg
""".split()

# The full PyTorch versions of methods core_methods.py leaves out or binds first (alpha=, rounding_mode=,
# tensor bounds, memory_format=, view raising where strides forbid it).
OVERRIDES = "add sub div clamp clip clone contiguous view sum mean argmin".split()


def _where(self: Tensor, condition: Any, other: Any) -> Tensor:
    """x.where(condition, y) is descend.where(condition, x, y)."""
    return api.where(condition, self, other)


def _new(factory: Any) -> Any:
    def method(self: Tensor, *size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
        return factory(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)
    method.__name__ = f"new_{factory.__name__}"
    return method


def _new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False,
              **_: Any) -> Tensor:
    return creation.full(size, fill_value, dtype=self.dtype if dtype is None else dtype,
                         requires_grad=requires_grad)


def _new_tensor(self: Tensor, data: Any, *, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    from descend._tensor import tensor
    return tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)


def _reflected(fn: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    return method


def _format(self: Tensor, spec: str) -> str:
    """f"{t:.3f}" formats the value of a one-element tensor, as PyTorch does."""
    if self._data.size == 1 and spec:
        return format(self.item(), spec)
    return format(repr(self), spec)


def _stride(self: Tensor, dim: int | None = None) -> Any:
    """Steps in elements between neighbours along each dim."""
    steps = tuple(s // self._data.itemsize for s in self._data.strides)
    return steps if dim is None else steps[dim]


def _data_ptr(self: Tensor) -> int:
    """The address of the first element (equal for tensors that share memory from the same start)."""
    a = self._data
    return int(a.__array_interface__["data"][0]) if hasattr(a, "__array_interface__") else int(a.data.ptr)


def _index(self: Tensor) -> int:
    """A one-element integer tensor used as a Python index (`classes[label]`), as in PyTorch."""
    if self._data.dtype.kind not in "iub" or self._data.size != 1:
        raise TypeError(f"only integer tensors of a single element can be converted to an index, got shape "
                        f"{self.shape} dtype {self.dtype}")
    return int(self._data.reshape(()))


def _mH(self: Tensor) -> Tensor:
    """The last two dims swapped and, for a complex tensor, conjugated."""
    out = _mT(self)
    return out.conj() if self.is_complex() else out


def _H(self: Tensor) -> Tensor:
    """The conjugate transpose of a matrix (transpose for real tensors)."""
    out = self.t()
    return out.conj() if self.is_complex() else out


def _bind_all() -> None:
    ns = vars(api)
    bind(METHODS, ns)
    for name in OVERRIDES:
        setattr(Tensor, name, ns[name])
    extra = {
        "repeat": _repeat, "where": _where, "is_contiguous": _mv.is_contiguous,
        "new_zeros": _new(creation.zeros), "new_ones": _new(creation.ones), "new_empty": _new(creation.empty),
        "new_full": _new_full, "new_tensor": _new_tensor,
        "mT": property(_mT), "mH": property(_mH), "H": property(_H),
        # Operators PyTorch defines that _tensor.py leaves to this module.
        "__floordiv__": api.floor_divide, "__rfloordiv__": _reflected(api.floor_divide),
        "__mod__": api.remainder, "__rmod__": _reflected(api.remainder),
        "__xor__": _lg.bitwise_xor, "__rxor__": _reflected(_lg.bitwise_xor),
        "__rand__": _reflected(_lg.bitwise_and), "__ror__": _reflected(_lg.bitwise_or),
        "__lshift__": _lg.bitwise_left_shift, "__rshift__": _lg.bitwise_right_shift,
        "__pos__": api.positive, "__format__": _format, "unfold": _unfold, "sum_to_size": _sum_to_size,
        "nelement": Tensor.numel, "stride": _stride, "data_ptr": _data_ptr, "__index__": _index,
        "register_post_accumulate_grad_hook": _engine.register_post_accumulate_grad_hook,
    }
    for name, fn in extra.items():
        if fn is not None and name not in Tensor.__dict__:
            setattr(Tensor, name, fn)


_bind_all()

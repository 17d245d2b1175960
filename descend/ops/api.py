"""Top-level functions with PyTorch's names (`descend.exp`, `descend.sum`, ...), each one op call.

This module shadows Python builtins (sum, max, min, abs, pow) on purpose, as `torch` does; it uses none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import dtypes as _dt
from descend.backend import default_dtype
from descend.ops import binary as _bn
from descend.ops import elementwise as _ew
from descend.ops import indexing as _ix
from descend.ops import matmul as _mm
from descend.ops import movement as _mv
from descend.ops import reduce as _rd
from descend.ops import transcendental as _tr
from descend.ops.errors import OpError
from descend._tensor import Tensor, _correction

# ---- elementwise ---------------------------------------------------------------------------------------


def add(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """input + alpha * other."""
    return _ew.Add.apply(input, other if alpha == 1 else _ew.Mul.apply(other, alpha))


def sub(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """input - alpha * other."""
    _ew.refuse_bool_subtraction(input, other)  # before alpha turns a bool `other` into a number
    return _ew.Sub.apply(input, other if alpha == 1 else _ew.Mul.apply(other, alpha))


def mul(input: Any, other: Any) -> Tensor:
    return _ew.Mul.apply(input, other)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other; rounding_mode 'trunc' or 'floor' rounds the quotient (and has zero gradient)."""
    if rounding_mode is None:
        return _ew.Div.apply(input, other)
    return _bn.RoundedDiv.apply(input, other, rounding_mode=rounding_mode)


def neg(input: Tensor) -> Tensor:
    return _ew.Neg.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:
    return _ew.Pow.apply(input, exponent)


def exp(input: Tensor) -> Tensor:
    return _ew.Exp.apply(input)


def log(input: Tensor) -> Tensor:
    return _ew.Log.apply(input)


def sqrt(input: Tensor) -> Tensor:
    return _ew.Sqrt.apply(input)


def abs(input: Tensor) -> Tensor:
    return _ew.Abs.apply(input)


def erf(input: Tensor) -> Tensor:
    """The error function (our own float64-accurate implementation)."""
    return _ew.Erf.apply(input)


def square(input: Tensor) -> Tensor:
    return _ew.Mul.apply(input, input)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max] (numbers or tensors); the gradient passes where min <= x <= max."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if min is None and max is None:
            raise OpError("clamp: at least one of min and max must be given")
        return _bn.ClampTensor.apply(input, min, max)
    if input._data.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(default_dtype())  # an int tensor clamped to a float bound is float, as in PyTorch
    return _ew.Clamp.apply(input, lo=min, hi=max)


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise max; ties share the gradient."""
    return _ew.Maximum.apply(input, other)


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise min; ties share the gradient."""
    return _ew.Minimum.apply(input, other)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """input where condition holds, else other (broadcasting all three); where(condition) is nonzero's tuple."""
    if input is None and other is None:
        return _ix.nonzero(condition, as_tuple=True)
    if isinstance(condition, Tensor) and condition._data.dtype != np.bool_:
        raise OpError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    a, b = (x._data if isinstance(x, Tensor) else x for x in (input, other))
    dt = _dt.result_type_of([a, b], _dt.of(default_dtype())).dtype
    # PyTorch's promotion, not NumPy's: an int tensor with a float number gives the default float dtype.
    input, other = (_as_dtype(x, dt) for x in (input, other))
    return _ew.Where.apply(condition, input, other)


def _as_dtype(x: Any, dt: np.dtype) -> Any:
    if isinstance(x, Tensor):
        return x if x._data.dtype == dt else x.to(dt)
    return np.asarray(x, dtype=dt)


def relu(input: Tensor) -> Tensor:
    """max(x, 0)."""
    return _ew.ReLU.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), stable for large |x|."""
    return _ew.Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _ew.Tanh.apply(input)


# ---- matrix product ------------------------------------------------------------------------------------

def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with batching and broadcasting (the @ operator)."""
    return _mm.MatMul.apply(input, other)


# ---- reductions and the softmax family -----------------------------------------------------------------

def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
        keepdims: bool | None = None) -> Tensor:
    """Sum over dims (all if None); `axis`/`keepdims` are NumPy's spellings, which PyTorch accepts too."""
    if dtype is not None or axis is not None or keepdims is not None:
        input, dim, keepdim = _numpy_style(input, dim, keepdim, dtype, axis, keepdims)
    return _rd.Sum.apply(input, dim=dim, keepdim=keepdim)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Mean over dims (all if None) of a floating tensor (or of input cast to `dtype`)."""
    if dtype is not None or axis is not None or keepdims is not None:
        input, dim, keepdim = _numpy_style(input, dim, keepdim, dtype, axis, keepdims)
    return _rd.Mean.apply(input, dim=dim, keepdim=keepdim)


def _numpy_style(input: Tensor, dim: Any, keepdim: bool, dtype: Any, axis: Any, keepdims: Any) -> tuple:
    """input cast to dtype, and the dim and keepdim that axis= and keepdims= spell."""
    if dtype is not None:
        input = input.to(dtype)
    return input, dim if axis is None else axis, keepdim if keepdims is None else bool(keepdims)


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    """Variance over dims (unbiased unless correction=0 or unbiased=False)."""
    return _rd.Var.apply(input, dim=dim, correction=_correction(unbiased, correction), keepdim=keepdim)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: int | None = None) -> Tensor:
    return var(input, dim, unbiased, keepdim, correction).sqrt()


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """max over everything, (values, indices) along dim, or the elementwise maximum of two tensors."""
    if isinstance(dim, Tensor):
        return _ew.Maximum.apply(input, dim)
    return _rd.max_(input, dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """min over everything, (values, indices) along dim, or the elementwise minimum of two tensors."""
    if isinstance(dim, Tensor):
        return _ew.Minimum.apply(input, dim)
    return _rd.min_(input, dim, keepdim)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.AMax.apply(input, dim=dim, keepdim=keepdim)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _rd.AMax.apply(input, dim=dim, keepdim=keepdim, sign=-1)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _rd.argmax(input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _rd.argmin(input, dim, keepdim)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) along dim, stable."""
    return _rd.LogSumExp.apply(input, dim=dim, keepdim=keepdim)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed after subtracting the max (in `dtype` when given)."""
    return _rd.Softmax.apply(input if dtype is None else input.to(dtype), dim=dim)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along dim; finite for finite input (in `dtype` when given)."""
    return _rd.LogSoftmax.apply(input if dtype is None else input.to(dtype), dim=dim)


# ---- movement ------------------------------------------------------------------------------------------

def reshape(input: Tensor, shape: Any) -> Tensor:
    return _mv.Reshape.apply(input, shape=tuple(shape))


def permute(input: Tensor, dims: Any) -> Tensor:
    return _mv.Permute.apply(input, dims=tuple(dims))


def floor_divide(input: Any, other: Any) -> Tensor:
    """input / other rounded down (Python's //)."""
    return _bn.RoundedDiv.apply(input, other, rounding_mode="floor")


def remainder(input: Any, other: Any) -> Tensor:
    """input - floor(input / other) * other: the result has other's sign (Python's %)."""
    return _bn.Remainder.apply(input, other)


def fmod(input: Any, other: Any) -> Tensor:
    """C's fmod: the result has input's sign."""
    return _bn.Remainder.apply(input, other, fmod=True)


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of (other, input), quadrant-aware."""
    return _bn.Atan2.apply(input, other)


arctan2 = atan2


def hypot(input: Any, other: Any) -> Tensor:
    """sqrt(input^2 + other^2) without overflow."""
    return _bn.Hypot.apply(input, other)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN, +inf and -inf replaced (by 0 and the dtype's largest and smallest finite values by default)."""
    return _bn.NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """input + weight * (end - input)."""
    return _ew.Add.apply(input, _ew.Mul.apply(weight, _ew.Sub.apply(end, input)))


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    prod = _ew.Mul.apply(tensor1, tensor2)
    return _ew.Add.apply(input, prod if value == 1 else _ew.Mul.apply(prod, value))


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """input + value * tensor1 / tensor2."""
    quot = _ew.Div.apply(tensor1, tensor2)
    return _ew.Add.apply(input, quot if value == 1 else _ew.Mul.apply(quot, value))


def clamp_min(input: Tensor, min: Any) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    return clamp(input, max=max)


def true_divide(input: Any, other: Any) -> Tensor:
    return _ew.Div.apply(input, other)


divide = div
multiply = mul
subtract = sub
negative = neg
absolute = abs


def positive(input: Tensor) -> Tensor:
    """input itself."""
    return input


def float_power(input: Any, exponent: Any) -> Tensor:
    """input ** exponent computed in float64."""
    def as64(x: Any) -> Any:
        return x.to(np.float64) if isinstance(x, Tensor) else x
    return _ew.Pow.apply(as64(input), as64(exponent))


def xlogy(input: Any, other: Any) -> Tensor:
    """input * log(other), 0 where input == 0."""
    prod = _ew.Mul.apply(input, _ew.Log.apply(other))
    zero = _ix.raw(input) == 0
    return _ew.Where.apply(zero, 0.0, prod) if bool(np.any(zero)) else prod


# ---- re-exported from the op modules (their functions are the public ones) ------------------------------

from descend.ops.indexing import (argwhere, gather, index_select, masked_select, nonzero,  # noqa: E402
                                  scatter, scatter_add, scatter_reduce, take, take_along_dim)
from descend.ops.logic import (allclose, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,  # noqa: E402
                               bitwise_right_shift, bitwise_xor, eq, equal, ge, gt, isclose, isfinite, isinf,
                               isnan, isneginf, isposinf, le, logical_and, logical_not, logical_or, logical_xor,
                               lt, ne, signbit)
from descend.ops.movement import cat, clone, contiguous, flatten, stack, squeeze, transpose  # noqa: E402
from descend.ops.movement import channels_last, contiguous_format, memory_format, preserve_format  # noqa: E402
from descend.ops.movement import unsqueeze, view  # noqa: E402
from descend.ops.random import (Generator, are_deterministic_algorithms_enabled, bernoulli,  # noqa: E402
                                default_generator, get_rng_state, initial_seed, manual_seed, multinomial,
                                normal, poisson, seed, set_rng_state, use_deterministic_algorithms)
from descend.ops.joining import (atleast_1d, atleast_2d, atleast_3d, broadcast_shapes,  # noqa: E402
                                 broadcast_tensors, broadcast_to, cartesian_prod, column_stack, combinations, concat,
                                 concatenate, dstack, hstack, meshgrid, row_stack, vstack)
from descend.ops.shape import (chunk, diag, diag_embed, diagonal, flip, fliplr, flipud, mT,  # noqa: E402
                               moveaxis, movedim, narrow, repeat, repeat_interleave, roll, select, split,
                               tensor_split, tile, tril, triu, unbind, unflatten)
from descend.ops.stats import (all, any, aminmax, argsort, count_nonzero, cumprod, cumsum,  # noqa: E402
                               kthvalue, median, nanmean, nansum, norm, prod, quantile, sort, std_mean, topk,
                               var_mean)

from descend.ops.matmul import (addbmm, addmm, addmv, addr, baddbmm, bmm, dot, einsum, ger, inner,  # noqa: E402
                                matrix_power, mm, mv, outer, tensordot, vdot)
from descend.ops.discrete import (bincount, bucketize, histc, histogram, isin, searchsorted, tril_indices,  # noqa: E402
                                  triu_indices, unique, unique_consecutive)
from descend.ops.shape import dsplit, hsplit, ravel, rot90, vsplit  # noqa: E402
from descend.ops.indexing import index_add, index_copy, index_fill, index_put, masked_scatter  # noqa: E402
from descend.ops.linalg_ops import cdist, kron, trace  # noqa: E402
from descend.ops.binary import copysign, fmax, fmin, logaddexp, logaddexp2  # noqa: E402
from descend.ops.pointwise import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctanh,  # noqa: E402
                                   asin, asinh, atan, atanh, ceil, cos, cosh, deg2rad, exp2, expm1, fix, floor,
                                   frac, log1p, log2, log10, rad2deg, reciprocal, round, rsqrt, sgn, sign, sin,
                                   sinc, sinh, tan, trunc)
from descend.ops.transcendental import erfc, erfinv, lgamma, logit  # noqa: E402
from descend.ops.stats import cummax, cummin, diff, logcumsumexp, nanmedian  # noqa: E402


from descend.ops.creation import logspace, randint_like  # noqa: E402
from descend.ops.shape import Size  # noqa: E402


from descend.ops.binary import gcd, heaviside, lcm, ldexp  # noqa: E402
from descend.ops.indexing import (diagonal_scatter, select_scatter, slice_scatter,  # noqa: E402
                                  unravel_index)
from descend.ops.linalg_ops import block_diag, logdet, slogdet, vander  # noqa: E402
from descend.ops.moments import (corrcoef, cov, cumulative_trapezoid, mode, nanquantile, trapezoid,  # noqa: E402
                                 trapz)


from descend.ops.compat import (asarray, conj, cross, det, diagflat, get_num_threads, inverse,  # noqa: E402
                                is_conj, is_neg, is_nonzero, is_same_size, is_signed, isreal, masked_fill, msort,
                                real, resolve_conj, resolve_neg, scalar_tensor, set_num_threads, typename)


def t(input: Tensor) -> Tensor:
    """The transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
    return input.t()


def detach(input: Tensor) -> Tensor:
    return input.detach()


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of input - other."""
    return (input - other).norm(p)


def numel(input: Tensor) -> int:
    """The number of elements."""
    return input.numel()


def digamma(input: Tensor) -> Tensor:
    """d/dx log Gamma(x)."""
    return _tr.Digamma.apply(input)


def rsub(input: Any, other: Any, alpha: float = 1) -> Tensor:
    """other - alpha * input."""
    return sub(other, input, alpha=alpha)


swapaxes = swapdims = transpose
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def adjoint(input: Tensor) -> Tensor:
    """The last two dims swapped (conjugated for complex tensors)."""
    out = mT(input)
    return out.conj() if input.is_complex() else out


# What `import descend` exposes from here (descend/__init__.py loops over it).
PUBLIC = """
add sub mul div neg pow exp log sqrt abs erf square clamp clip maximum minimum where relu sigmoid tanh
matmul mm bmm sum mean var std max min amax amin argmax argmin logsumexp softmax log_softmax reshape permute
sin cos tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh
rsqrt reciprocal log1p expm1 log2 log10 exp2 frac floor ceil trunc fix round sign sgn floor_divide remainder
fmod atan2 arctan2 hypot nan_to_num lerp addcmul addcdiv clamp_min clamp_max true_divide divide multiply
subtract negative absolute positive float_power xlogy
einsum outer ger dot vdot inner mv addmm addmv addr baddbmm addbmm tensordot matrix_power
argwhere gather index_select masked_select nonzero scatter scatter_add scatter_reduce take take_along_dim
allclose bitwise_and bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor eq equal ge gt
isclose isfinite isinf isnan isneginf isposinf le logical_and logical_not logical_or logical_xor lt ne signbit
greater greater_equal less less_equal not_equal
cat clone flatten stack squeeze transpose unsqueeze swapaxes swapdims adjoint
Generator are_deterministic_algorithms_enabled bernoulli default_generator get_rng_state initial_seed
manual_seed multinomial normal poisson seed set_rng_state use_deterministic_algorithms
atleast_1d atleast_2d atleast_3d chunk column_stack concat concatenate diag diagonal dstack flip fliplr flipud
hstack meshgrid moveaxis movedim narrow repeat_interleave roll row_stack select split tensor_split tile tril
triu unbind unflatten vstack
all any aminmax argsort count_nonzero cumprod cumsum kthvalue median nanmean nansum norm prod quantile sort
std_mean topk var_mean
bincount bucketize histc histogram combinations isin searchsorted unique unique_consecutive index_add index_copy index_fill index_put
cdist kron trace copysign deg2rad erfc erfinv fmax fmin lgamma logaddexp logaddexp2 logit rad2deg digamma rsub
broadcast_shapes broadcast_tensors broadcast_to cartesian_prod diag_embed cummax cummin diff logcumsumexp
nanmedian logspace randint_like Size numel masked_scatter
channels_last contiguous_format memory_format preserve_format
tril_indices triu_indices dsplit hsplit ravel rot90 vsplit t detach dist sinc
gcd heaviside lcm ldexp diagonal_scatter select_scatter slice_scatter unravel_index block_diag logdet slogdet
vander corrcoef cov cumulative_trapezoid mode nanquantile trapezoid trapz det inverse cross diagflat msort
masked_fill asarray scalar_tensor is_nonzero is_same_size is_signed isreal real conj resolve_conj resolve_neg
is_conj is_neg typename get_num_threads set_num_threads
""".split()

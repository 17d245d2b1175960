"""Every differentiable op with sample inputs, run by tests/test_ops.py through gradcheck and against PyTorch.

A case holds a descend function, the same computation written with torch, and its arguments. Float
arguments are stored in float64 and materialised per test in float64 (gradcheck) or float32 (PyTorch
cross-check) with a memory layout: 'c' contiguous, 't' a transposed view, 's' a strided view. Cases marked
gradcheck=False sit exactly on a kink (relu at 0, ties, clamp bounds): finite differences are meaningless
there, so only PyTorch's choice of subgradient is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import descend
import descend.nn.functional as F

_rng = np.random.default_rng(20240601)


@dataclass
class Arg:
    value: np.ndarray
    grad: bool = True
    layout: str = "c"

    def materialise(self, dtype: Any) -> np.ndarray:
        """The value in `dtype` (floats only) with this argument's memory layout."""
        v = self.value.astype(dtype) if self.value.dtype.kind == "f" else self.value.copy()
        if self.layout == "t" and v.ndim >= 2:
            v = np.ascontiguousarray(v.T).T
        elif self.layout == "s" and v.ndim >= 1:
            v = np.repeat(v, 2, axis=-1)[..., ::2]
        return v


@dataclass
class Case:
    name: str
    fn: Callable
    ref: Callable
    args: list = field(default_factory=list)
    gradcheck: bool = True
    atol: float = 1e-5
    rtol: float = 1e-5

    @property
    def op(self) -> str:
        return self.name.split("[")[0]


CASES: list[Case] = []


def case(name: str, fn: Callable, ref: Callable, *args: Arg, **opts: Any) -> None:
    CASES.append(Case(name, fn, ref, list(args), **opts))


def N(*shape: int, scale: float = 1.0, layout: str = "c", grad: bool = True) -> Arg:
    """Standard normal values."""
    return Arg(_rng.standard_normal(shape) * scale, grad, layout)


def P(*shape: int, lo: float = 0.5, hi: float = 2.0, layout: str = "c", grad: bool = True) -> Arg:
    """Positive values in [lo, hi)."""
    return Arg(_rng.uniform(lo, hi, shape), grad, layout)


def away(arg: Arg, points: tuple = (0.0,), margin: float = 0.05) -> Arg:
    """Move values within `margin` of a kink to `margin` away from it, so finite differences are smooth."""
    v = arg.value.copy()
    for p in points:
        near = np.abs(v - p) < margin
        v[near] = p + np.where(v[near] >= p, margin, -margin)
    return Arg(v, arg.grad, arg.layout)


def V(values: Any, grad: bool = True, dtype: Any = np.float64) -> Arg:
    """Given values."""
    return Arg(np.asarray(values, dtype=dtype), grad)


def I(values: Any) -> Arg:  # noqa: E743 - integer targets/indices read best as I(...)
    """Integer values (targets, indices): never differentiated."""
    return Arg(np.asarray(values, dtype=np.int64), False)


def Probs(*shape: int, grad: bool = False) -> Arg:
    """Rows of class probabilities along dim 1."""
    z = np.exp(_rng.standard_normal(shape))
    return Arg(z / z.sum(axis=1, keepdims=True), grad)


def _torch():
    import torch
    return torch


def TF():
    import torch.nn.functional as tf
    return tf


# ---- elementwise binary, with broadcasting ---------------------------------------------------------------

case("add", lambda a, b: a + b, lambda a, b: a + b, N(3, 4), N(3, 4))
case("add[broadcast]", lambda a, b: a + b, lambda a, b: a + b, N(2, 1, 4), N(3, 1))
case("add[scalar,transposed]", lambda a: 2.5 + a, lambda a: 2.5 + a, N(3, 4, layout="t"))
case("add[strided]", lambda a, b: descend.add(a, b, alpha=2), lambda a, b: _torch().add(a, b, alpha=2),
     N(4, 6, layout="s"), N(6))
case("sub", lambda a, b: a - b, lambda a, b: a - b, N(3, 4, layout="t"), N(4))
case("sub[rsub]", lambda a: 1.0 - a, lambda a: 1.0 - a, N(5))
case("mul", lambda a, b: a * b, lambda a, b: a * b, N(2, 3, 4), N(3, 1, layout="t"))
case("mul[same tensor]", lambda a: a * a, lambda a: a * a, N(3, 3))
case("div", lambda a, b: a / b, lambda a, b: a / b, N(3, 4), P(4))
case("div[rdiv]", lambda a: 2.0 / a, lambda a: 2.0 / a, P(3, 2, layout="s"))
case("pow[scalar exponent]", lambda a: a ** 3, lambda a: a ** 3, N(3, 4))
case("pow[square]", lambda a: a ** 2, lambda a: a ** 2, N(4, layout="s"))
case("pow[fractional]", lambda a: a ** 1.7, lambda a: a ** 1.7, P(3, 4))
case("pow[tensor exponent]", lambda a, b: a ** b, lambda a, b: a ** b, P(3, 4), N(4))
case("pow[scalar base]", lambda b: 2.0 ** b, lambda b: 2.0 ** b, N(2, 3))
case("maximum", descend.maximum, lambda a, b: _torch().maximum(a, b), N(3, 4), N(4, layout="s"))
case("maximum[ties]", descend.maximum, lambda a, b: _torch().maximum(a, b),
     V([1.0, 2.0, -1.0, 0.5]), V([1.0, 0.0, -1.0, 3.0]), gradcheck=False)
case("minimum", descend.minimum, lambda a, b: _torch().minimum(a, b), N(2, 3, 4), N(3, 1))
case("minimum[ties]", descend.minimum, lambda a, b: _torch().minimum(a, b),
     V([[1.0, 2.0], [0.0, 0.0]]), V([[1.0, 0.0], [0.0, 1.0]]), gradcheck=False)
_cond = _rng.standard_normal((3, 4)) > 0
case("where", lambda a, b: descend.where(descend.Tensor(_cond), a, b),
     lambda a, b: _torch().where(_torch().from_numpy(_cond), a, b), N(3, 4), N(4))
case("where[scalar]", lambda a: descend.where(a > 0, a, 0.0), lambda a: _torch().where(a > 0, a, 0.0),
     away(N(2, 5, layout="t")))
case("masked_fill", lambda a: a.masked_fill(descend.Tensor(_cond), -1.0),
     lambda a: a.masked_fill(_torch().from_numpy(_cond), -1.0), N(3, 4))

# ---- elementwise unary and activations -------------------------------------------------------------------

case("neg", lambda a: -a, lambda a: -a, N(3, 4, layout="t"))
case("exp", descend.exp, lambda a: a.exp(), N(3, 4))
case("exp[strided]", lambda a: a.exp(), lambda a: a.exp(), N(2, 5, layout="s"))
case("log", descend.log, lambda a: a.log(), P(3, 4, lo=0.1, hi=3.0))
case("sqrt", descend.sqrt, lambda a: a.sqrt(), P(3, 4, layout="t"))
case("square", descend.square, lambda a: a.square(), N(5))
case("abs", descend.abs, lambda a: a.abs(), away(N(3, 4)))
case("abs[kink]", descend.abs, lambda a: a.abs(), V([-1.0, 0.0, 2.0]), gradcheck=False)
case("clamp", lambda a: descend.clamp(a, -0.5, 0.5), lambda a: a.clamp(-0.5, 0.5),
     away(N(3, 4), (-0.5, 0.5)))
case("clamp[min only]", lambda a: a.clamp(min=0.2), lambda a: a.clamp(min=0.2), away(N(6), (0.2,)))
case("clamp[max only]", lambda a: a.clip(max=0.1), lambda a: a.clip(max=0.1), away(N(2, 3, layout="t"), (0.1,)))
case("clamp[bounds]", lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0),
     V([-2.0, -1.0, 0.0, 1.0, 2.0]), gradcheck=False)
case("relu", F.relu, lambda a: a.relu(), away(N(3, 4)))
case("relu[kink]", descend.relu, lambda a: a.relu(), V([-1.0, 0.0, 1.0]), gradcheck=False)
case("leaky_relu", lambda a: F.leaky_relu(a, 0.1), lambda a: TF().leaky_relu(a, 0.1), away(N(3, 4, layout="t")))
case("leaky_relu[kink]", F.leaky_relu, lambda a: TF().leaky_relu(a), V([-1.0, 0.0, 1.0]), gradcheck=False)
case("sigmoid", F.sigmoid, lambda a: a.sigmoid(), N(3, 4, scale=3))
case("sigmoid[large]", descend.sigmoid, lambda a: a.sigmoid(), V([-30.0, -12.0, 0.0, 12.0, 30.0]))
case("tanh", F.tanh, lambda a: a.tanh(), N(3, 4, scale=2, layout="s"))
case("gelu", F.gelu, lambda a: TF().gelu(a), N(3, 4, scale=2))
case("gelu[wide]", F.gelu, lambda a: TF().gelu(a), V(np.linspace(-7, 7, 29)))
case("gelu[tanh]", lambda a: F.gelu(a, approximate="tanh"), lambda a: TF().gelu(a, approximate="tanh"),
     N(3, 4, scale=2, layout="t"))
case("erf", descend.erf, lambda a: a.erf(), N(4, 5, scale=2))
case("softplus", F.softplus, lambda a: TF().softplus(a), N(3, 4, scale=3))
case("softplus[beta,threshold]", lambda a: F.softplus(a, beta=2.0, threshold=5.0),
     lambda a: TF().softplus(a, beta=2.0, threshold=5.0), away(N(3, 4, scale=4), (2.5,)))
case("cast", lambda a: a.double() * 1.0, lambda a: a.double() * 1.0, N(3, 2))
case("clone", lambda a: a.clone(), lambda a: a.clone(), N(3, 2, layout="t"))

# ---- reductions --------------------------------------------------------------------------------------------

case("sum", lambda a: a.sum(), lambda a: a.sum(), N(3, 4))
case("sum[dim]", lambda a: descend.sum(a, 1), lambda a: a.sum(1), N(2, 3, 4, layout="t"))
case("sum[dims keepdim]", lambda a: a.sum((0, 2), keepdim=True), lambda a: a.sum((0, 2), keepdim=True),
     N(2, 3, 4))
case("mean", lambda a: a.mean(), lambda a: a.mean(), N(3, 4, layout="s"))
case("mean[dim]", lambda a: descend.mean(a, -1, keepdim=True), lambda a: a.mean(-1, keepdim=True), N(2, 3, 4))
case("var", lambda a: a.var(), lambda a: a.var(), N(3, 4))
case("var[dim biased]", lambda a: descend.var(a, 1, correction=0), lambda a: a.var(1, correction=0),
     N(3, 4, layout="t"))
case("var[unbiased keepdim]", lambda a: a.var(0, unbiased=True, keepdim=True),
     lambda a: a.var(0, unbiased=True, keepdim=True), N(4, 3))
case("std", lambda a: a.std(), lambda a: a.std(), N(3, 4))
case("std[dim]", lambda a: descend.std(a, 1, keepdim=True), lambda a: a.std(1, keepdim=True), N(2, 5))
case("max", lambda a: a.max(), lambda a: a.max(), N(3, 4))
case("max[dim]", lambda a: a.max(1).values, lambda a: a.max(1).values, N(3, 4, layout="t"))
case("max[dim keepdim]", lambda a: descend.max(a, 0, keepdim=True)[0], lambda a: a.max(0, keepdim=True)[0],
     N(3, 4))
case("max[ties]", lambda a: a.max(), lambda a: a.max(), V([[1.0, 3.0], [3.0, 0.0]]), gradcheck=False)
case("min", lambda a: a.min(), lambda a: a.min(), N(3, 4))
case("min[dim]", lambda a: a.min(-1).values, lambda a: a.min(-1).values, N(2, 3, 4))
case("amax", lambda a: a.amax((0, 1)), lambda a: a.amax((0, 1)), N(2, 3, 4))
case("amax[ties]", lambda a: a.amax(1), lambda a: a.amax(1), V([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0]]),
     gradcheck=False)
case("amin", lambda a: descend.amin(a, 1, keepdim=True), lambda a: a.amin(1, keepdim=True), N(3, 4))
case("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), N(3, 5, scale=3))
case("logsumexp[dims]", lambda a: descend.logsumexp(a, (0, 2), keepdim=True),
     lambda a: a.logsumexp((0, 2), keepdim=True), N(2, 3, 4, layout="t"))
case("softmax", lambda a: F.softmax(a, 1), lambda a: a.softmax(1), N(3, 5, scale=3))
case("softmax[dim0 strided]", lambda a: descend.softmax(a, 0), lambda a: a.softmax(0), N(4, 3, layout="s"))
case("log_softmax", lambda a: F.log_softmax(a, -1), lambda a: a.log_softmax(-1), N(3, 5, scale=3))
case("log_softmax[large]", lambda a: a.log_softmax(1), lambda a: a.log_softmax(1),
     V([[100.0, 0.0, -100.0], [1e3, 1e3 + 1, 1e3 - 1]]))

# ---- movement ------------------------------------------------------------------------------------------------

case("reshape", lambda a: a.reshape(4, 3) * 1.0, lambda a: a.reshape(4, 3) * 1.0, N(2, 6, layout="t"))
case("view", lambda a: a.view(-1), lambda a: a.reshape(-1), N(3, 4))
case("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), N(2, 3, 4))
case("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), N(2, 3, 4, layout="t"))
case("T", lambda a: a.T @ a, lambda a: a.T @ a, N(3, 2))
case("flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), N(2, 3, 4))
case("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), N(3, 1, 2))
case("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), N(3, 4))
case("expand", lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), N(3, 1))
case("getitem[slice]", lambda a: a[1:, ::2], lambda a: a[1:, ::2], N(3, 5))
case("getitem[int]", lambda a: a[1], lambda a: a[1], N(3, 4, layout="t"))
_idx = np.array([2, 0, 2, 1])
case("getitem[int array repeats]", lambda a: a[_idx], lambda a: a[_torch().from_numpy(_idx)], N(3, 4))
_mask = _rng.standard_normal((3, 4)) > 0
case("getitem[bool mask]", lambda a: a[descend.Tensor(_mask)], lambda a: a[_torch().from_numpy(_mask)], N(3, 4))
case("getitem[mixed]", lambda a: a[_idx, 1:3], lambda a: a[_torch().from_numpy(_idx), 1:3], N(3, 4, layout="s"))
case("cat", lambda a, b: descend.cat([a, b], 1), lambda a, b: _torch().cat([a, b], 1), N(2, 3), N(2, 2, layout="t"))
case("stack", lambda a, b: descend.stack([a, b], -1), lambda a, b: _torch().stack([a, b], -1), N(2, 3), N(2, 3))
case("pad", lambda a: F.pad(a, (1, 2)), lambda a: TF().pad(a, (1, 2)), N(2, 3))
case("pad[2d value]", lambda a: F.pad(a, (1, 0, 2, 1), value=0.5), lambda a: TF().pad(a, (1, 0, 2, 1), value=0.5),
     N(2, 3, 4, layout="t"))
case("pad[reflect]", lambda a: F.pad(a, (2, 1), mode="reflect"), lambda a: TF().pad(a, (2, 1), mode="reflect"),
     N(2, 3, 5))
case("pad[replicate]", lambda a: F.pad(a, (1, 2, 2, 1), mode="replicate"),
     lambda a: TF().pad(a, (1, 2, 2, 1), mode="replicate"), N(1, 2, 4, 5))
case("pad[circular]", lambda a: F.pad(a, (2, 3), mode="circular"), lambda a: TF().pad(a, (2, 3), mode="circular"),
     N(2, 3, 5))

# ---- matmul ------------------------------------------------------------------------------------------------

case("matmul", lambda a, b: a @ b, lambda a, b: a @ b, N(3, 4), N(4, 5))
case("matmul[batched broadcast]", descend.matmul, lambda a, b: a @ b, N(2, 1, 3, 4), N(3, 4, 2, layout="t"))
case("matmul[vec @ mat]", lambda a, b: a @ b, lambda a, b: a @ b, N(4), N(2, 4, 3))
case("matmul[mat @ vec]", lambda a, b: a @ b, lambda a, b: a @ b, N(3, 4, layout="t"), N(4))
case("matmul[vec @ vec]", lambda a, b: a @ b, lambda a, b: a @ b, N(5), N(5))

# ---- linear, convolution, pooling --------------------------------------------------------------------------

case("linear", F.linear, lambda x, w, b: TF().linear(x, w, b), N(4, 3), N(5, 3), N(5))
case("linear[3d input no bias]", F.linear, lambda x, w: TF().linear(x, w), N(2, 3, 4, layout="t"), N(2, 4))
case("linear[strided weight]", F.linear, lambda x, w, b: TF().linear(x, w, b), N(3, 4), N(2, 4, layout="s"),
     N(2))
case("conv1d", F.conv1d, lambda x, w, b: TF().conv1d(x, w, b), N(2, 3, 7), N(4, 3, 3), N(4), atol=1e-4)
case("conv1d[stride pad dilation]", lambda x, w: F.conv1d(x, w, stride=2, padding=2, dilation=2),
     lambda x, w: TF().conv1d(x, w, stride=2, padding=2, dilation=2), N(2, 2, 9, layout="t"), N(3, 2, 3),
     atol=1e-4)
case("conv1d[same groups]", lambda x, w, b: F.conv1d(x, w, b, padding="same", groups=2),
     lambda x, w, b: TF().conv1d(x, w, b, padding="same", groups=2), N(1, 4, 6), N(4, 2, 4), N(4), atol=1e-4)
case("conv2d", F.conv2d, lambda x, w, b: TF().conv2d(x, w, b), N(2, 3, 5, 5), N(4, 3, 3, 3), N(4), atol=1e-4)
case("conv2d[stride padding]", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
     lambda x, w, b: TF().conv2d(x, w, b, stride=2, padding=1), N(2, 2, 6, 5, layout="t"), N(3, 2, 3, 2), N(3),
     atol=1e-4)
case("conv2d[same dilation]", lambda x, w: F.conv2d(x, w, padding="same", dilation=(2, 1)),
     lambda x, w: TF().conv2d(x, w, padding="same", dilation=(2, 1)), N(1, 2, 6, 6), N(2, 2, 3, 2), atol=1e-4)
case("conv2d[groups valid]", lambda x, w, b: F.conv2d(x, w, b, groups=2, padding="valid"),
     lambda x, w, b: TF().conv2d(x, w, b, groups=2, padding="valid"), N(2, 4, 5, 4, layout="s"), N(6, 2, 2, 3),
     N(6), atol=1e-4)
case("conv2d[depthwise asymmetric]", lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=(2, 1), groups=3),
     lambda x, w: TF().conv2d(x, w, stride=(1, 2), padding=(2, 1), groups=3), N(1, 3, 5, 6), N(3, 1, 3, 3),
     atol=1e-4)
# Inputs in channels-last memory (as our convs and pools produce) take the other im2col layout.
case("conv2d[channels-last]", lambda x, w, b: F.conv2d(x.permute(0, 3, 1, 2), w, b, stride=2, padding=1),
     lambda x, w, b: TF().conv2d(x.permute(0, 3, 1, 2), w, b, stride=2, padding=1), N(2, 5, 6, 3), N(4, 3, 3, 3),
     N(4), atol=1e-4)
case("conv2d[channels-last groups dilation]",
     lambda x, w: F.conv2d(x.permute(0, 3, 1, 2), w, padding="same", dilation=(1, 2), groups=2),
     lambda x, w: TF().conv2d(x.permute(0, 3, 1, 2), w, padding="same", dilation=(1, 2), groups=2),
     N(2, 4, 5, 4), N(4, 2, 3, 2), atol=1e-4)
case("conv1d[channels-last]", lambda x, w, b: F.conv1d(x.permute(0, 2, 1), w, b, padding=1, stride=2),
     lambda x, w, b: TF().conv1d(x.permute(0, 2, 1), w, b, padding=1, stride=2), N(2, 7, 3), N(2, 3, 3), N(2),
     atol=1e-4)
case("conv2d[1x1 unbatched]", F.conv2d, lambda x, w: TF().conv2d(x, w), N(3, 4, 4), N(2, 3, 1, 1))
case("max_pool1d", lambda x: F.max_pool1d(x, 2), lambda x: TF().max_pool1d(x, 2), N(2, 3, 8))
case("max_pool1d[stride pad]", lambda x: F.max_pool1d(x, 3, 2, 1), lambda x: TF().max_pool1d(x, 3, 2, 1),
     N(2, 2, 9, layout="t"))
case("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: TF().max_pool2d(x, 2), N(2, 3, 4, 6))
case("max_pool2d[overlap pad ceil]", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
     lambda x: TF().max_pool2d(x, 3, 2, 1, ceil_mode=True), N(2, 2, 6, 7, layout="s"))
case("max_pool2d[dilation]", lambda x: F.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)),
     lambda x: TF().max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)), N(1, 2, 5, 6))
case("max_pool2d[ties]", lambda x: F.max_pool2d(F.relu(x), 2), lambda x: TF().max_pool2d(x.relu(), 2),
     V(np.where(_rng.standard_normal((2, 2, 4, 4)) > 0.5, 1.0, -1.0)), gradcheck=False)
case("avg_pool1d", lambda x: F.avg_pool1d(x, 3), lambda x: TF().avg_pool1d(x, 3), N(2, 3, 9))
case("avg_pool1d[pad exclude]", lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
     lambda x: TF().avg_pool1d(x, 3, 2, 1, count_include_pad=False), N(2, 2, 8, layout="t"))
case("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: TF().avg_pool2d(x, 2), N(2, 3, 4, 6))
case("avg_pool2d[pad ceil]", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
     lambda x: TF().avg_pool2d(x, 3, 2, 1, ceil_mode=True), N(1, 2, 6, 7, layout="s"))
case("avg_pool2d[exclude divisor]", lambda x: F.avg_pool2d(x, (2, 3), (1, 2), (1, 1), count_include_pad=False),
     lambda x: TF().avg_pool2d(x, (2, 3), (1, 2), (1, 1), count_include_pad=False), N(2, 2, 5, 5))
case("avg_pool2d[divisor_override]", lambda x: F.avg_pool2d(x, 2, divisor_override=3),
     lambda x: TF().avg_pool2d(x, 2, divisor_override=3), N(1, 2, 4, 4))

# ---- dropout and embedding ---------------------------------------------------------------------------------


def _dropout_fn(x: descend.Tensor) -> descend.Tensor:
    descend.manual_seed(7)  # the same mask on every call, so finite differences see one function
    return F.dropout(x, 0.4)


def _dropout_ref(x: Any) -> Any:
    # Torch's generator differs; reuse descend's mask, read off as out / (x / (1 - p)).
    torch = _torch()
    ones = descend.ones(*x.shape, dtype=str(x.dtype).replace("torch.", ""))
    mask = _dropout_fn(ones).numpy()
    return x * torch.from_numpy(mask).to(x.dtype)


case("dropout", _dropout_fn, _dropout_ref, N(4, 5))
_emb_idx = np.array([[1, 3, 3], [0, 4, 1]])
case("embedding", lambda w: F.embedding(descend.Tensor(_emb_idx), w),
     lambda w: TF().embedding(_torch().from_numpy(_emb_idx), w), N(5, 3))
# The padding row gets a zero gradient by definition although the forward reads it, so only PyTorch can judge.
case("embedding[padding_idx]", lambda w: F.embedding(descend.Tensor(_emb_idx), w, padding_idx=3),
     lambda w: TF().embedding(_torch().from_numpy(_emb_idx), w, padding_idx=3), N(5, 2, layout="t"),
     gradcheck=False)
case("embedding[padding_idx unused]", lambda w: F.embedding(descend.Tensor(_emb_idx), w, padding_idx=2),
     lambda w: TF().embedding(_torch().from_numpy(_emb_idx), w, padding_idx=2), N(5, 2))

# ---- losses ------------------------------------------------------------------------------------------------

_w5 = _rng.uniform(0.2, 2.0, 5)


def _weight(dtype_like: Any) -> Any:
    """The class weights in the library of the argument and in its dtype."""
    if isinstance(dtype_like, descend.Tensor):
        return descend.tensor(_w5, dtype=dtype_like.dtype)
    return _torch().from_numpy(_w5).to(dtype_like.dtype)


case("cross_entropy", F.cross_entropy, lambda x, t: TF().cross_entropy(x, t),
     N(4, 5, scale=2), I([0, 3, 4, 1]))
case("cross_entropy[sum strided]", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
     lambda x, t: TF().cross_entropy(x, t, reduction="sum"), N(4, 5, layout="s"), I([0, 3, 4, 1]))
case("cross_entropy[none]", lambda x, t: F.cross_entropy(x, t, reduction="none"),
     lambda x, t: TF().cross_entropy(x, t, reduction="none"), N(3, 5, layout="t"), I([2, 2, 0]))
case("cross_entropy[weight ignore_index]",
     lambda x, t: F.cross_entropy(x, t, _weight(x), ignore_index=2),
     lambda x, t: TF().cross_entropy(x, t, _weight(x), ignore_index=2), N(6, 5), I([0, 2, 4, 1, 2, 3]))
case("cross_entropy[smoothing]", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
     lambda x, t: TF().cross_entropy(x, t, label_smoothing=0.2), N(4, 5), I([0, -100, 4, 1]))
case("cross_entropy[weight smoothing ignore]",
     lambda x, t: F.cross_entropy(x, t, _weight(x), ignore_index=-100, label_smoothing=0.3),
     lambda x, t: TF().cross_entropy(x, t, _weight(x), ignore_index=-100, label_smoothing=0.3),
     N(5, 5, scale=2), I([0, -100, 4, 1, 1]))
case("cross_entropy[weight smoothing none]",
     lambda x, t: F.cross_entropy(x, t, _weight(x), reduction="none", label_smoothing=0.1),
     lambda x, t: TF().cross_entropy(x, t, _weight(x), reduction="none", label_smoothing=0.1),
     N(3, 5), I([4, -100, 1]))
case("cross_entropy[spatial]", lambda x, t: F.cross_entropy(x, t, _weight(x), label_smoothing=0.1),
     lambda x, t: TF().cross_entropy(x, t, _weight(x), label_smoothing=0.1), N(2, 5, 3, 2),
     I(_rng.integers(0, 5, (2, 3, 2))))
case("cross_entropy[probabilities]", F.cross_entropy, lambda x, t: TF().cross_entropy(x, t), N(4, 5),
     Probs(4, 5, grad=True))
case("cross_entropy[probabilities weight smoothing]",
     lambda x, t: F.cross_entropy(x, t, _weight(x), label_smoothing=0.2, reduction="sum"),
     lambda x, t: TF().cross_entropy(x, t, _weight(x), label_smoothing=0.2, reduction="sum"),
     N(3, 5, layout="t"), Probs(3, 5))
case("cross_entropy[unbatched]", F.cross_entropy, lambda x, t: TF().cross_entropy(x, t), N(5), I(3))
case("nll_loss", lambda x, t: F.nll_loss(x, t), lambda x, t: TF().nll_loss(x, t), N(4, 5), I([0, 3, 4, 1]))
case("nll_loss[weight ignore]", lambda x, t: F.nll_loss(x, t, _weight(x), ignore_index=1),
     lambda x, t: TF().nll_loss(x, t, _weight(x), ignore_index=1), N(5, 5, layout="t"), I([0, 1, 4, 1, 2]))
case("nll_loss[none spatial]", lambda x, t: F.nll_loss(x, t, reduction="none"),
     lambda x, t: TF().nll_loss(x, t, reduction="none"), N(2, 5, 3), I(_rng.integers(0, 5, (2, 3))))
case("mse_loss", F.mse_loss, lambda x, y: TF().mse_loss(x, y), N(3, 4), N(3, 4))
case("mse_loss[sum strided]", lambda x, y: F.mse_loss(x, y, reduction="sum"),
     lambda x, y: TF().mse_loss(x, y, reduction="sum"), N(3, 4, layout="s"), N(3, 4, grad=False))
case("mse_loss[none]", lambda x, y: F.mse_loss(x, y, reduction="none"),
     lambda x, y: TF().mse_loss(x, y, reduction="none"), N(2, 3, layout="t"), N(2, 3))
case("l1_loss", F.l1_loss, lambda x, y: TF().l1_loss(x, y), N(3, 4), N(3, 4))
case("l1_loss[sum none]", lambda x, y: F.l1_loss(x, y, reduction="none").sum(),
     lambda x, y: TF().l1_loss(x, y, reduction="none").sum(), N(2, 5, layout="t"), N(2, 5))
case("l1_loss[kink]", F.l1_loss, lambda x, y: TF().l1_loss(x, y), V([1.0, 2.0, 3.0]), V([1.0, 0.0, 3.0]),
     gradcheck=False)
case("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
     lambda x, y: TF().binary_cross_entropy_with_logits(x, y), N(3, 4, scale=3), P(3, 4, lo=0.0, hi=1.0))
case("binary_cross_entropy_with_logits[weight pos_weight]",
     lambda x, y: F.binary_cross_entropy_with_logits(x, y, descend.tensor(_w5[:4], dtype=x.dtype),
                                                     pos_weight=descend.tensor(_w5[1:], dtype=x.dtype)),
     lambda x, y: TF().binary_cross_entropy_with_logits(x, y, _torch().from_numpy(_w5[:4]).to(x.dtype),
                                                        pos_weight=_torch().from_numpy(_w5[1:]).to(x.dtype)),
     N(3, 4, scale=3, layout="t"), P(3, 4, lo=0.0, hi=1.0))
case("binary_cross_entropy_with_logits[none large]",
     lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
     lambda x, y: TF().binary_cross_entropy_with_logits(x, y, reduction="none"),
     V([-40.0, -5.0, 0.0, 5.0, 40.0]), V([0.0, 1.0, 0.5, 0.0, 1.0], grad=False))
case("binary_cross_entropy", F.binary_cross_entropy, lambda p, y: TF().binary_cross_entropy(p, y),
     P(3, 4, lo=0.05, hi=0.95), P(3, 4, lo=0.0, hi=1.0))
case("binary_cross_entropy[weight sum]",
     lambda p, y: F.binary_cross_entropy(p, y, descend.tensor(_w5[:4], dtype=p.dtype), reduction="sum"),
     lambda p, y: TF().binary_cross_entropy(p, y, _torch().from_numpy(_w5[:4]).to(p.dtype), reduction="sum"),
     P(2, 4, lo=0.05, hi=0.95, layout="s"), V(_rng.integers(0, 2, (2, 4)), grad=False))

# ---- normalisation ---------------------------------------------------------------------------------------------

_rm, _rv = _rng.standard_normal(3), _rng.uniform(0.5, 2.0, 3)


def _bn(training: bool, affine: bool = True) -> tuple:
    def ours(x: descend.Tensor, *wb: descend.Tensor) -> descend.Tensor:
        rm, rv = descend.tensor(_rm, dtype=x.dtype), descend.tensor(_rv, dtype=x.dtype)
        return F.batch_norm(x, rm, rv, *wb, training=training, momentum=0.2, eps=1e-3)

    def theirs(x: Any, *wb: Any) -> Any:
        torch = _torch()
        rm, rv = torch.from_numpy(_rm).to(x.dtype), torch.from_numpy(_rv).to(x.dtype)
        return TF().batch_norm(x, rm, rv, *wb, training=training, momentum=0.2, eps=1e-3)

    return ours, theirs


case("batch_norm[train 2d]", *_bn(True), N(5, 3, scale=2), P(3), N(3), atol=1e-4)
case("batch_norm[train 4d]", *_bn(True), N(2, 3, 3, 2, layout="t"), P(3), N(3), atol=1e-4)
case("batch_norm[train no affine]", *_bn(True), N(4, 3, 2), atol=1e-4)
case("batch_norm[eval]", *_bn(False), N(4, 3, 2, 2, layout="s"), P(3), N(3))


def _nhwc(f: Callable) -> Callable:
    """f applied to a channels-last (N, H, W, C) array seen as (N, C, H, W), as our convolutions return it."""
    return lambda x, *rest: f(x.permute(0, 3, 1, 2), *rest)


# The layouts the compiled kernels take (tests/test_kernels.py runs these through them too).
case("batch_norm[train channels-last]", *map(_nhwc, _bn(True)), N(2, 3, 4, 3, scale=2), P(3), N(3), atol=1e-4)
case("batch_norm[eval channels-last]", *map(_nhwc, _bn(False)), N(2, 3, 2, 3), P(3), N(3))
case("max_pool2d[channels-last leftover]", _nhwc(lambda x: F.max_pool2d(x, 2)), _nhwc(lambda x: TF().max_pool2d(x, 2)),
     N(2, 5, 7, 3))
case("max_pool2d[channels-last 3x2]", _nhwc(lambda x: F.max_pool2d(x, (3, 2))),
     _nhwc(lambda x: TF().max_pool2d(x, (3, 2))), N(1, 6, 4, 2))
case("silu[channels-last]", lambda x: F.silu(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1),
     lambda x: TF().silu(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1), N(2, 3, 3, 4, scale=3))
case("leaky_relu[channels-last]", lambda x: F.leaky_relu(x.permute(0, 3, 1, 2), 0.2).permute(0, 2, 3, 1),
     lambda x: TF().leaky_relu(x.permute(0, 3, 1, 2), 0.2).permute(0, 2, 3, 1), away(N(2, 3, 3, 4)))
# Back to (N, H, W, C) so that the incoming gradient has the output's strides, as between our conv layers.
case("relu[channels-last]", lambda x: F.relu(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1),
     lambda x: x.permute(0, 3, 1, 2).relu().permute(0, 2, 3, 1), away(N(2, 3, 3, 4)))
case("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), lambda x, w, b: TF().layer_norm(x, (4,), w, b),
     N(3, 4, scale=2), P(4), N(4), atol=1e-4)
case("layer_norm[2 dims no affine]", lambda x: F.layer_norm(x, (3, 4)), lambda x: TF().layer_norm(x, (3, 4)),
     N(2, 3, 4, layout="t"), atol=1e-4)
case("layer_norm[weight only]", lambda x, w: F.layer_norm(x, 5, w), lambda x, w: TF().layer_norm(x, (5,), w),
     N(2, 2, 5, layout="s"), N(5), atol=1e-4)


# Later op families keep their cases in files of their own beside this one (tests/registry_<family>.py, each
# calling `case(...)` from here), so several can grow at once; they are loaded here, in name order.
def _load_family_files() -> None:
    import importlib
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("registry_*.py")):
        importlib.import_module(f"tests.{path.stem}")


_load_family_files()

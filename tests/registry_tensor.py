"""Registry cases for the tensor op surface (issue 16): pointwise maths, reductions, shape and index ops,
einsum and the matrix products. Loaded by tests/op_registry.py; run by tests/test_ops.py."""

from __future__ import annotations

import numpy as np

import descend
from tests.op_registry import I, N, P, V, _torch, away, case

_r = np.random.default_rng(16)


def _t(x: np.ndarray):
    return _torch().from_numpy(x)


def _d(x: np.ndarray) -> descend.Tensor:
    return descend.Tensor(x)


# ---- pointwise ---------------------------------------------------------------------------------------------

for _name, _arg in [("sin", N(3, 4, scale=2)), ("cos", N(3, 4, layout="t")), ("tan", N(2, 5, scale=0.5)),
                    ("asin", P(3, 4, lo=-0.9, hi=0.9, layout="s")), ("acos", P(3, 4, lo=-0.9, hi=0.9)),
                    ("atan", N(3, 4, scale=2, layout="t")), ("sinh", N(2, 3)), ("cosh", N(2, 3, layout="s")),
                    ("asinh", N(3, 4, scale=3)), ("acosh", P(3, 4, lo=1.2, hi=4.0)),
                    ("atanh", P(3, 4, lo=-0.9, hi=0.9, layout="t")), ("rsqrt", P(3, 4)), ("reciprocal", P(3, 4)),
                    ("log1p", P(3, 4, lo=-0.5, hi=2.0, layout="s")), ("expm1", N(3, 4)), ("log2", P(2, 5)),
                    ("log10", P(2, 5, layout="t")), ("exp2", N(3, 4)), ("frac", away(N(3, 4, scale=3), (-3, -2, -1, 0, 1, 2, 3)))]:
    case(_name, getattr(descend, _name), lambda a, _n=_name: getattr(_torch(), _n)(a), _arg)
case("sin[method strided]", lambda a: a.sin() * a.cos(), lambda a: a.sin() * a.cos(), N(4, 6, layout="s"))
for _name in ["floor", "ceil", "trunc", "sign"]:
    case(_name, getattr(descend, _name), lambda a, _n=_name: getattr(_torch(), _n)(a), away(N(3, 4, scale=3)))
case("round", descend.round, lambda a: _torch().round(a), N(3, 4, scale=3, layout="t"))
case("round[decimals]", lambda a: a.round(decimals=1), lambda a: a.round(decimals=1), N(3, 4, scale=3))
case("atan2", descend.atan2, lambda a, b: _torch().atan2(a, b), N(3, 4), N(4, layout="s"))
case("hypot", descend.hypot, lambda a, b: _torch().hypot(a, b), N(3, 4), N(3, 4, layout="t"))
case("remainder", lambda a, b: a % b, lambda a, b: a % b, away(N(3, 4, scale=3)), V([1.5, -1.5, 2.5, -0.7]))
case("remainder[scalar]", lambda a: descend.remainder(a, 1.3), lambda a: _torch().remainder(a, 1.3),
     N(3, 4, scale=3))
case("fmod", descend.fmod, lambda a, b: _torch().fmod(a, b), N(3, 4, scale=3, layout="s"), V([1.5, -1.5, 2.5, -0.7]))
case("floor_divide", lambda a: descend.div(a, 0.7, rounding_mode="floor") + a,
     lambda a: _torch().div(a, 0.7, rounding_mode="floor") + a, N(3, 4, scale=2))
case("div[trunc]", lambda a, b: descend.div(a, b, rounding_mode="trunc") + a,
     lambda a, b: _torch().div(a, b, rounding_mode="trunc") + a, N(3, 4, scale=3), V([1.5, -1.5, 2.5, -0.7]))
case("lerp", descend.lerp, lambda a, b, w: _torch().lerp(a, b, w), N(3, 4), N(3, 4, layout="t"), P(4, lo=0, hi=1))
case("lerp[scalar weight]", lambda a, b: a.lerp(b, 0.3), lambda a, b: a.lerp(b, 0.3), N(3, 4), N(4))
case("addcmul", lambda a, b, c: descend.addcmul(a, b, c, value=0.5),
     lambda a, b, c: _torch().addcmul(a, b, c, value=0.5), N(3, 4), N(3, 4, layout="s"), N(4))
case("addcdiv", lambda a, b, c: a.addcdiv(b, c, value=-2), lambda a, b, c: a.addcdiv(b, c, value=-2),
     N(3, 4), N(3, 4), P(3, 4, layout="t"))
_nonfinite = np.array([0.0, np.inf, -np.inf, np.nan])
case("nan_to_num", descend.nan_to_num, lambda a: _torch().nan_to_num(a), N(3, 4))
case("nan_to_num[nonfinite]", lambda a: descend.nan_to_num(a + _d(_nonfinite)),
     lambda a: _torch().nan_to_num(a + _t(_nonfinite)), N(2, 4), gradcheck=False)
case("nan_to_num[values]", lambda a: (a + _d(_nonfinite)).nan_to_num(0.5, 9.0, -9.0),
     lambda a: (a + _t(_nonfinite)).nan_to_num(0.5, 9.0, -9.0), N(3, 4, layout="t"), gradcheck=False)
case("clamp[tensor bounds]", lambda a, lo, hi: descend.clamp(a, lo, hi), lambda a, lo, hi: _torch().clamp(a, lo, hi),
     away(N(3, 4, scale=2), (-0.5, 0.5)), V([-0.5] * 4), V([0.5, 0.5, 0.5, -1.0]))
case("clamp[tensor min only]", lambda a, lo: a.clamp(min=lo), lambda a, lo: a.clamp(min=lo), N(3, 4), N(3, 4, layout="t"))
case("add[alpha method]", lambda a, b: a.add(b, alpha=-0.5), lambda a, b: a.add(b, alpha=-0.5), N(3, 4), N(4))
case("sub[alpha method]", lambda a, b: a.sub(b, alpha=3), lambda a, b: a.sub(b, alpha=3), N(3, 4, layout="s"), N(3, 1))
case("xlogy", descend.xlogy, lambda a, b: _torch().xlogy(a, b), N(3, 4), P(3, 4))
case("float_power", lambda a: descend.float_power(a, 2.5), lambda a: _torch().float_power(a, 2.5), P(3, 4))

# ---- reductions --------------------------------------------------------------------------------------------

case("prod", lambda a: a.prod(), lambda a: a.prod(), P(3, 4, lo=0.7, hi=1.4))
case("prod[dim keepdim strided]", lambda a: descend.prod(a, 1, keepdim=True), lambda a: a.prod(1, keepdim=True),
     N(3, 4, layout="s"))
case("prod[zeros]", lambda a: a.prod(0), lambda a: a.prod(0), V([[0.0, 2.0, 0.0], [3.0, 0.0, 0.0], [2.0, 1.5, 4.0]]))
case("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1), N(3, 4, layout="t"))
case("cumsum[dim0]", lambda a: descend.cumsum(a, dim=0), lambda a: _torch().cumsum(a, dim=0), N(3, 4))
case("cumprod", lambda a: a.cumprod(-1), lambda a: a.cumprod(-1), N(3, 4, layout="s"))
case("cumprod[zeros]", lambda a: descend.cumprod(a, 0), lambda a: _torch().cumprod(a, 0),
     V([[1.5, 0.0], [0.0, 2.0], [2.0, -1.0], [0.5, 3.0]]))
case("norm", lambda a: a.norm(), lambda a: a.norm(), N(3, 4))
case("norm[p dim]", lambda a: descend.norm(a, 3, dim=1, keepdim=True), lambda a: _torch().norm(a, 3, dim=1, keepdim=True),
     N(3, 4, layout="t"))
case("vector_norm", lambda a: descend.linalg.vector_norm(a, 1, (0, 1)), lambda a: _torch().linalg.vector_norm(a, 1, (0, 1)),
     away(N(2, 3, 4)))
case("vector_norm[inf]", lambda a: descend.linalg.vector_norm(a, float("inf"), -1),
     lambda a: _torch().linalg.vector_norm(a, float("inf"), -1), N(3, 5, layout="s"))
case("vector_norm[zero row]", lambda a: descend.linalg.vector_norm(a, dim=1),
     lambda a: _torch().linalg.vector_norm(a, dim=1), V([[0.0, 0.0], [3.0, 4.0]]), gradcheck=False)
case("vector_norm[-inf 0.5]", lambda a: descend.linalg.vector_norm(a, -float("inf")) + descend.linalg.vector_norm(a, 0.5),
     lambda a: _torch().linalg.vector_norm(a, -float("inf")) + _torch().linalg.vector_norm(a, 0.5), P(6))
case("linalg_norm", lambda a: descend.linalg.norm(a), lambda a: _torch().linalg.norm(a), N(3, 4, layout="t"))
case("linalg_norm[ord 1 inf]", lambda a: descend.linalg.norm(a, 1) + descend.linalg.norm(a, float("inf")),
     lambda a: _torch().linalg.norm(a, 1) + _torch().linalg.norm(a, float("inf")), N(3, 4))
case("matrix_norm", lambda a: descend.linalg.matrix_norm(a), lambda a: _torch().linalg.matrix_norm(a), N(2, 3, 4))
case("sort", lambda a: a.sort(1).values, lambda a: a.sort(1).values, N(3, 5, layout="t"))
case("sort[descending dim0]", lambda a: descend.sort(a, 0, descending=True)[0],
     lambda a: _torch().sort(a, 0, descending=True)[0], N(4, 3))
case("topk", lambda a: a.topk(2).values, lambda a: a.topk(2).values, N(3, 5))
case("topk[smallest dim0]", lambda a: descend.topk(a, 3, dim=0, largest=False)[0],
     lambda a: _torch().topk(a, 3, dim=0, largest=False)[0], N(4, 3, layout="s"))
case("kthvalue", lambda a: a.kthvalue(2, 1).values, lambda a: a.kthvalue(2, 1).values, N(3, 5))
case("median", lambda a: a.median(), lambda a: a.median(), N(3, 4))
case("median[dim]", lambda a: descend.median(a, 1, keepdim=True).values, lambda a: _torch().median(a, 1, keepdim=True).values,
     N(3, 5, layout="t"))
case("quantile", lambda a: descend.quantile(a, 0.3), lambda a: _torch().quantile(a, 0.3), N(3, 4))
case("quantile[q tensor dim]", lambda a: a.quantile(_d(np.array([0.1, 0.5, 0.9])).to(a.dtype), dim=1, keepdim=True),
     lambda a: a.quantile(_t(np.array([0.1, 0.5, 0.9])).to(a.dtype), dim=1, keepdim=True), N(3, 5, layout="s"),
     atol=1e-4)
case("quantile[lower midpoint nearest]",
     lambda a: sum(a.quantile(0.37, 0, interpolation=m) for m in ("lower", "midpoint", "nearest", "higher")),
     lambda a: sum(a.quantile(0.37, 0, interpolation=m) for m in ("lower", "midpoint", "nearest", "higher")),
     N(6, 3))
_nans = np.where(_r.standard_normal((3, 4)) > 0.5, np.nan, 0.0)
_nans[0, 0] = np.nan
_nans[:, 1] = 0.0  # every row keeps a number, so no mean is 0 / 0
case("nansum", lambda a: descend.nansum(a + _d(_nans)), lambda a: _torch().nansum(a + _t(_nans)), P(3, 4))
case("nanmean", lambda a: descend.nanmean(a + _d(_nans), 1), lambda a: _torch().nanmean(a + _t(_nans), 1),
     N(3, 4, layout="s"))
case("var_mean", lambda a: sum(descend.var_mean(a, 1)), lambda a: sum(_torch().var_mean(a, 1)), N(3, 4))
case("std_mean", lambda a: descend.std_mean(a, 0, keepdim=True)[0] * descend.std_mean(a)[1],
     lambda a: _torch().std_mean(a, 0, keepdim=True)[0] * _torch().std_mean(a)[1], N(3, 4, layout="t"))
case("aminmax", lambda a: descend.aminmax(a, dim=1).max - descend.aminmax(a, dim=1).min,
     lambda a: _torch().aminmax(a, dim=1).max - _torch().aminmax(a, dim=1).min, N(3, 4))

# ---- shape -------------------------------------------------------------------------------------------------

case("mT", lambda a: a.mT, lambda a: a.mT, N(2, 3, 4, layout="t"))
case("mH", lambda a: a.mH @ a, lambda a: a.mH @ a, N(3, 2))
case("split", lambda a: a.split(2, 1)[1] * 2 + a.split([1, 3], 1)[0], lambda a: a.split(2, 1)[1] * 2 + a.split([1, 3], 1)[0],
     N(3, 4, layout="t"))
case("chunk", lambda a: descend.chunk(a, 3, 0)[2], lambda a: _torch().chunk(a, 3, 0)[2], N(5, 2))
case("unbind", lambda a: a.unbind(1)[2], lambda a: a.unbind(1)[2], N(3, 4, layout="s"))
case("tensor_split", lambda a: descend.tensor_split(a, 3, dim=1)[0] + a.tensor_split([1, 4], 1)[1][:, :1],
     lambda a: _torch().tensor_split(a, 3, dim=1)[0] + a.tensor_split([1, 4], 1)[1][:, :1], N(2, 7))
case("repeat", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), N(3, 2, layout="t"))
case("tile", lambda a: descend.tile(a, (2,)), lambda a: _torch().tile(a, (2,)), N(2, 3))
case("repeat_interleave", lambda a: a.repeat_interleave(2, dim=1), lambda a: a.repeat_interleave(2, dim=1), N(2, 3))
case("repeat_interleave[counts flat]", lambda a: descend.repeat_interleave(a, _d(np.array([1, 0, 3, 2, 1, 1]))),
     lambda a: _torch().repeat_interleave(a, _t(np.array([1, 0, 3, 2, 1, 1]))), N(2, 3, layout="s"))
case("expand_as", lambda a, b: a.expand_as(b), lambda a, b: a.expand_as(b), N(3, 1), N(2, 3, 4, grad=False))
case("flip", lambda a: a.flip(0, 2), lambda a: a.flip(0, 2), N(2, 3, 4))
case("fliplr", lambda a: descend.fliplr(a) + descend.flipud(a), lambda a: _torch().fliplr(a) + _torch().flipud(a),
     N(3, 3, layout="t"))
case("roll", lambda a: a.roll(1, 1), lambda a: a.roll(1, 1), N(3, 4, layout="s"))
case("roll[flat dims]", lambda a: descend.roll(a, 5) + descend.roll(a, (1, -2), (0, 1)),
     lambda a: _torch().roll(a, 5) + _torch().roll(a, (1, -2), (0, 1)), N(3, 4))
case("tril", lambda a: a.tril(), lambda a: a.tril(), N(4, 3, layout="t"))
case("triu", lambda a: descend.triu(a, 1), lambda a: _torch().triu(a, 1), N(2, 3, 4))
case("narrow", lambda a: a.narrow(1, 1, 2), lambda a: a.narrow(1, 1, 2), N(3, 4))
case("select", lambda a: a.select(0, -1), lambda a: a.select(0, -1), N(3, 4, layout="t"))
case("movedim", lambda a: a.movedim(0, -1), lambda a: a.movedim(0, -1), N(2, 3, 4))
case("movedim[tuple]", lambda a: descend.moveaxis(a, (0, 1), (2, 0)), lambda a: _torch().moveaxis(a, (0, 1), (2, 0)),
     N(2, 3, 4, layout="s"))
case("unflatten", lambda a: a.unflatten(1, (2, -1)), lambda a: a.unflatten(1, (2, -1)), N(3, 6))
case("squeeze[tuple]", lambda a: a.squeeze((0, 2, 3)), lambda a: a.squeeze((0, 2, 3)), N(1, 3, 1, 2))
case("concat", lambda a, b: descend.concat([a, b], 1) * descend.concatenate((a, b), -1),
     lambda a, b: _torch().concat([a, b], 1) * _torch().concatenate((a, b), -1), N(2, 3), N(2, 2, layout="t"))
case("hstack", lambda a, b: descend.hstack([a, b]), lambda a, b: _torch().hstack([a, b]), N(2, 3), N(2, 1))
case("vstack", lambda a, b: descend.vstack([a, b]), lambda a, b: _torch().vstack([a, b]), N(3), N(2, 3, layout="t"))
case("dstack", lambda a, b: descend.dstack([a, b]), lambda a, b: _torch().dstack([a, b]), N(2, 3), N(2, 3))
case("diag", lambda a: descend.diag(a, 1), lambda a: _torch().diag(a, 1), N(3))
case("diag[matrix]", lambda a: a.diag(-1), lambda a: a.diag(-1), N(3, 4, layout="t"))
case("diagonal", lambda a: a.diagonal(1, 0, 2), lambda a: a.diagonal(1, 0, 2), N(3, 2, 4))
case("meshgrid", lambda a, b: descend.meshgrid(a, b, indexing="ij")[0] * descend.meshgrid(a, b, indexing="xy")[1].T,
     lambda a, b: _torch().meshgrid(a, b, indexing="ij")[0] * _torch().meshgrid(a, b, indexing="xy")[1].T, N(3), N(4))
case("contiguous", lambda a: a.contiguous().view(-1), lambda a: a.contiguous().view(-1), N(3, 4, layout="t"))
case("clone[memory_format]", lambda a: a.clone(memory_format=descend.contiguous_format).view(4, 3)
     if hasattr(descend, "contiguous_format") else a.clone(memory_format="contiguous").view(4, 3),
     lambda a: a.clone(memory_format=_torch().contiguous_format).view(4, 3), N(3, 4, layout="t"))

# ---- index ops ---------------------------------------------------------------------------------------------

_gidx = _r.integers(0, 4, (3, 5))
case("gather", lambda a: a.gather(1, _d(_gidx)), lambda a: a.gather(1, _t(_gidx)), N(3, 4, layout="t"))
case("gather[dim0 smaller index]", lambda a: descend.gather(a, 0, _d(_gidx[:2, :3] % 3)),
     lambda a: _torch().gather(a, 0, _t(_gidx[:2, :3] % 3)), N(3, 4))
_sidx = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
_perm = np.array([[0, 1, 2, 3], [2, 0, 1, 3]])
case("scatter", lambda a, s: a.scatter(0, _d(_perm[:, :3] % 3), s), lambda a, s: a.scatter(0, _t(_perm[:, :3] % 3), s),
     N(3, 4), N(2, 3, layout="t"))
case("scatter[value]", lambda a: descend.scatter(a, 1, _d(_perm[:, :2]), value=0.5),
     lambda a: _torch().scatter(a, 1, _t(_perm[:, :2]), value=0.5), N(2, 4))
case("scatter_add", lambda a, s: a.scatter_add(0, _d(_sidx), s), lambda a, s: a.scatter_add(0, _t(_sidx), s),
     N(3, 4), N(2, 4, layout="s"))
case("scatter_reduce", lambda a, s: a.scatter_reduce(0, _d(_sidx), s, "mean", include_self=False),
     lambda a, s: a.scatter_reduce(0, _t(_sidx), s, "mean", include_self=False), N(3, 4), N(2, 4))
case("scatter_reduce[sum self]", lambda a, s: descend.scatter_reduce(a, 0, _d(_sidx), s, "sum"),
     lambda a, s: _torch().scatter_reduce(a, 0, _t(_sidx), s, "sum"), N(3, 4, layout="t"), N(2, 4))
case("scatter_reduce[amax]", lambda a, s: a.scatter_reduce(0, _d(_sidx), s, "amax", include_self=True),
     lambda a, s: a.scatter_reduce(0, _t(_sidx), s, "amax", include_self=True), N(3, 4), N(2, 4))
case("scatter_reduce[amin no self]", lambda a, s: a.scatter_reduce(1, _d(_sidx[:, :3]), s, "amin", include_self=False),
     lambda a, s: a.scatter_reduce(1, _t(_sidx[:, :3]), s, "amin", include_self=False), N(2, 4), N(2, 3))
case("index_select", lambda a: a.index_select(1, _d(np.array([3, 0, 3]))),
     lambda a: a.index_select(1, _t(np.array([3, 0, 3]))), N(3, 4, layout="s"))
case("take", lambda a: descend.take(a, _d(np.array([[0, 11], [5, 5]]))), lambda a: _torch().take(a, _t(np.array([[0, 11], [5, 5]]))),
     N(3, 4, layout="t"))
case("take_along_dim", lambda a: a.take_along_dim(_d(_gidx[:, :2]), 1),
     lambda a: a.take_along_dim(_t(_gidx[:, :2]), 1), N(3, 4))
case("take_along_dim[broadcast flat]", lambda a: descend.take_along_dim(a, _d(np.array([[1], [0], [3]])), 1)
     + descend.take_along_dim(a, _d(np.array([2, 7])))[0],
     lambda a: _torch().take_along_dim(a, _t(np.array([[1], [0], [3]])), 1)
     + _torch().take_along_dim(a, _t(np.array([2, 7])))[0], N(3, 4))
_msk = _r.standard_normal((3, 4)) > 0
case("masked_select", lambda a: a.masked_select(_d(_msk)), lambda a: a.masked_select(_t(_msk)), N(3, 4, layout="t"))
case("masked_select[broadcast]", lambda a: descend.masked_select(a, _d(_msk[0])), lambda a: _torch().masked_select(a, _t(_msk[0])),
     N(3, 4))
case("where[method]", lambda a, b: a.where(_d(_msk), b), lambda a, b: a.where(_t(_msk), b), N(3, 4), N(4))

# ---- matrix products ---------------------------------------------------------------------------------------

case("einsum", lambda a, b: descend.einsum("ij,jk->ik", a, b), lambda a, b: _torch().einsum("ij,jk->ik", a, b),
     N(3, 4), N(4, 2, layout="t"))
case("einsum[batch ellipsis]", lambda a, b: descend.einsum("...ij,...jk", a, b),
     lambda a, b: _torch().einsum("...ij,...jk", a, b), N(2, 3, 4), N(4, 5, layout="s"))
case("einsum[sum out trace-free]", lambda a, b, c: descend.einsum("bi,bj,k->bk", [a, b, c]),
     lambda a, b, c: _torch().einsum("bi,bj,k->bk", [a, b, c]), N(2, 3), N(2, 4), N(5))
case("einsum[implicit outer]", lambda a, b: descend.einsum("i,j", a, b), lambda a, b: _torch().einsum("i,j", a, b), N(3), N(4))
case("outer", lambda a, b: a.outer(b), lambda a, b: a.outer(b), N(3), N(4))
case("dot", lambda a, b: descend.dot(a, b), lambda a, b: _torch().dot(a, b), N(5), N(5))
case("mv", lambda a, b: a.mv(b), lambda a, b: a.mv(b), N(3, 4, layout="t"), N(4))
case("mm", lambda a, b: a.mm(b), lambda a, b: a.mm(b), N(3, 4), N(4, 2, layout="s"))
case("bmm", lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), N(2, 3, 4), N(2, 4, 2))
case("addmm", lambda c, a, b: descend.addmm(c, a, b, beta=0.5, alpha=2), lambda c, a, b: _torch().addmm(c, a, b, beta=0.5, alpha=2),
     N(3, 2), N(3, 4, layout="t"), N(4, 2))
case("baddbmm", lambda c, a, b: c.baddbmm(a, b, alpha=-1), lambda c, a, b: c.baddbmm(a, b, alpha=-1), N(3, 2), N(2, 3, 4), N(2, 4, 2))
case("addmv", lambda c, a, b: descend.addmv(c, a, b), lambda c, a, b: _torch().addmv(c, a, b), N(3), N(3, 4), N(4))
case("tensordot", lambda a, b: descend.tensordot(a, b, 2), lambda a, b: _torch().tensordot(a, b, 2), N(2, 3, 4), N(3, 4, 2))
case("inner", lambda a, b: descend.inner(a, b), lambda a, b: _torch().inner(a, b), N(2, 3), N(4, 3, layout="t"))
case("matrix_power", lambda a: descend.matrix_power(a, 3), lambda a: _torch().matrix_power(a, 3), N(3, 3, scale=0.5))

# ---- special functions, NaN-aware and sign ops -------------------------------------------------------------

case("erfc", descend.erfc, lambda a: _torch().erfc(a), N(3, 4, scale=1.5, layout="t"))
case("erfinv", descend.erfinv, lambda a: _torch().erfinv(a), N(3, 4, scale=0.3), atol=1e-4)
case("lgamma", descend.lgamma, lambda a: _torch().lgamma(a), P(3, 4, lo=0.2, hi=6.0, layout="s"))
case("lgamma[negative]", lambda a: descend.lgamma(a - 3.0), lambda a: _torch().lgamma(a - 3.0), P(2, 3, lo=0.2, hi=0.8))
case("digamma", descend.digamma, lambda a: _torch().digamma(a), P(3, 4, lo=0.2, hi=9.0), atol=1e-4)
case("digamma[negative]", lambda a: (a - 2.0).digamma(), lambda a: (a - 2.0).digamma(), P(2, 3, lo=0.2, hi=0.8), atol=1e-4)
case("logit", descend.logit, lambda a: _torch().logit(a), P(3, 4, lo=0.1, hi=0.9))
case("logit[eps]", lambda a: a.logit(eps=0.2), lambda a: a.logit(eps=0.2), away(P(3, 4, lo=0.05, hi=0.95), (0.2, 0.8)))
case("copysign", descend.copysign, lambda a, b: _torch().copysign(a, b), away(N(3, 4)), N(4, layout="s"))
case("logaddexp", descend.logaddexp, lambda a, b: _torch().logaddexp(a, b), N(3, 4, scale=3), N(4, scale=3))
case("logaddexp2", lambda a, b: a.logaddexp2(b), lambda a, b: a.logaddexp2(b), N(3, 4, layout="t"), N(3, 4))
case("fmax", descend.fmax, lambda a, b: _torch().fmax(a, b), N(3, 4), N(4, layout="s"))
case("fmin[nan ties]", lambda a, b: descend.fmin(a + _d(_nan_pattern), b),
     lambda a, b: _torch().fmin(a + _t(_nan_pattern), b), V([1.0, 2.0, 3.0, 0.5]), V([1.0, np.nan, 0.0, 2.0]),
     gradcheck=False)
_nan_pattern = np.array([0.0, 0.0, np.nan, 0.0])
case("deg2rad", lambda a: descend.deg2rad(a) + a.rad2deg(), lambda a: _torch().deg2rad(a) + a.rad2deg(), N(3, 4))

# ---- linear algebra ----------------------------------------------------------------------------------------

_well = np.eye(3) * 2.0
case("det", lambda a: descend.linalg.det(a + _d(_well).to(a.dtype)), lambda a: _torch().linalg.det(a + _t(_well).to(a.dtype)),
     N(2, 3, 3, scale=0.5), atol=1e-4)
case("inv", lambda a: descend.linalg.inv(a + _d(_well).to(a.dtype)), lambda a: _torch().linalg.inv(a + _t(_well).to(a.dtype)),
     N(3, 3, scale=0.5, layout="t"), atol=1e-4)
case("solve", lambda a, b: descend.linalg.solve(a + _d(_well).to(a.dtype), b),
     lambda a, b: _torch().linalg.solve(a + _t(_well).to(a.dtype), b), N(3, 3, scale=0.5), N(3, 2, layout="s"), atol=1e-4)
case("solve[vector right]", lambda a, b: descend.linalg.solve(a + _d(_well).to(a.dtype), b) +
     descend.linalg.solve(a + _d(_well).to(a.dtype), b.reshape(1, 3), left=False).reshape(3),
     lambda a, b: _torch().linalg.solve(a + _t(_well).to(a.dtype), b) +
     _torch().linalg.solve(a + _t(_well).to(a.dtype), b.reshape(1, 3), left=False).reshape(3), N(3, 3, scale=0.5), N(3),
     atol=1e-4)
case("cross", lambda a, b: descend.linalg.cross(a, b), lambda a, b: _torch().linalg.cross(a, b), N(4, 3), N(1, 3, layout="s"))
# (torch.kron views its inputs, which fails for transposed ones, so only contiguous layouts here)
case("kron", descend.kron, lambda a, b: _torch().kron(a, b), N(2, 3), N(2, 2))
case("trace", descend.trace, lambda a: _torch().trace(a), N(3, 4))
case("cdist", descend.cdist, lambda a, b: _torch().cdist(a, b), N(2, 3), N(4, 3, layout="t"), atol=1e-4)
case("cdist[p1]", lambda a, b: descend.cdist(a, b, p=1), lambda a, b: _torch().cdist(a, b, p=1), N(2, 3, 3), N(2, 2, 3))

# ---- more reductions and shapes ----------------------------------------------------------------------------

case("cummax", lambda a: descend.cummax(a, 1).values, lambda a: _torch().cummax(a, 1).values, N(3, 5, layout="t"))
case("cummin", lambda a: a.cummin(0)[0], lambda a: a.cummin(0)[0], N(4, 3))
case("logcumsumexp", lambda a: descend.logcumsumexp(a, 1), lambda a: _torch().logcumsumexp(a, 1), N(3, 4, scale=3))
case("nanmedian", lambda a: descend.nanmedian(a + _d(_nans), 1).values, lambda a: _torch().nanmedian(a + _t(_nans), 1).values,
     N(3, 4))
case("diff", lambda a: descend.diff(a, 2, 1, append=a[:, :1]), lambda a: _torch().diff(a, 2, 1, append=a[:, :1]),
     N(3, 5, layout="s"))
case("broadcast_to", lambda a: descend.broadcast_to(a, (2, 3, 4)), lambda a: _torch().broadcast_to(a, (2, 3, 4)), N(3, 1))
case("broadcast_tensors", lambda a, b: descend.broadcast_tensors(a, b)[0] * descend.broadcast_tensors(a, b)[1],
     lambda a, b: _torch().broadcast_tensors(a, b)[0] * _torch().broadcast_tensors(a, b)[1], N(3, 1), N(4))
case("diag_embed", lambda a: descend.diag_embed(a, 1), lambda a: _torch().diag_embed(a, 1), N(2, 3))
case("cartesian_prod", descend.cartesian_prod, lambda a, b: _torch().cartesian_prod(a, b), N(3), N(2))

# ---- writes at indices -------------------------------------------------------------------------------------

case("index_add", lambda a, s: a.index_add(1, _d(np.array([0, 2, 0])), s, alpha=2),
     lambda a, s: a.index_add(1, _t(np.array([0, 2, 0])), s, alpha=2), N(2, 4, layout="t"), N(2, 3))
case("index_copy", lambda a, s: descend.index_copy(a, 0, _d(np.array([2, 0])), s),
     lambda a, s: _torch().index_copy(a, 0, _t(np.array([2, 0])), s), N(3, 4), N(2, 4, layout="s"))
case("index_fill", lambda a: a.index_fill(1, _d(np.array([1, 3])), -2.0), lambda a: a.index_fill(1, _t(np.array([1, 3])), -2.0),
     N(3, 4))
case("index_put", lambda a, v: a.index_put((_d(np.array([0, 2])), _d(np.array([1, 3]))), v),
     lambda a, v: a.index_put((_t(np.array([0, 2])), _t(np.array([1, 3]))), v), N(3, 4), N(2))
case("index_put[accumulate]", lambda a, v: descend.index_put(a, (_d(np.array([0, 0, 2])),), v, accumulate=True),
     lambda a, v: _torch().index_put(a, (_t(np.array([0, 0, 2])),), v, accumulate=True), N(3, 4, layout="t"), N(4))
case("masked_scatter", lambda a, s: a.masked_scatter(_d(_msk), s), lambda a, s: a.masked_scatter(_t(_msk), s),
     N(3, 4, layout="t"), N(13))

# ---- kinks: ties and bounds, where only PyTorch's choice of subgradient can judge -------------------------

_ties = [[1.0, 3.0, 1.0, 3.0], [2.0, 2.0, 2.0, 0.5], [0.0, -1.0, 4.0, -1.0]]
case("sort[ties]", lambda a: a.sort(1, descending=True).values, lambda a: a.sort(1, descending=True).values, V(_ties),
     gradcheck=False)
# (topk's choice among tied values is PyTorch's partial-sort order, not a rule; descend takes the first ones.)
case("median[ties]", lambda a: a.median(1).values, lambda a: a.median(1).values, V(_ties), gradcheck=False)
case("cummax[ties]", lambda a: a.cummax(1).values, lambda a: a.cummax(1).values, V(_ties), gradcheck=False)
case("vector_norm[inf ties]", lambda a: descend.linalg.vector_norm(a, float("inf"), 1),
     lambda a: _torch().linalg.vector_norm(a, float("inf"), 1), V(_ties), gradcheck=False)
case("clamp[tensor bounds kink]", lambda a, lo, hi: a.clamp(lo, hi), lambda a, lo, hi: a.clamp(lo, hi),
     V(_ties), V([1.0, 2.0, 0.0, -1.0]), V([3.0, 2.0, 1.0, -2.0]), gradcheck=False)
case("scatter_reduce[amax ties]", lambda a, s: a.scatter_reduce(0, _d(_sidx), s, "amax"),
     lambda a, s: a.scatter_reduce(0, _t(_sidx), s, "amax"), V(_ties), V([[1.0, 2.0, 4.0, 0.0], [3.0, 3.0, 2.0, -1.0]]),
     gradcheck=False)
case("fmax[ties]", descend.fmax, lambda a, b: _torch().fmax(a, b), V([1.0, 2.0, 3.0]), V([1.0, 0.0, 3.0]), gradcheck=False)
case("copysign[zero]", descend.copysign, lambda a, b: _torch().copysign(a, b), V([0.0, 1.0, -2.0]), V([-1.0, -0.0, 0.0]),
     gradcheck=False)
case("rot90", lambda a: descend.rot90(a, 1, (1, 2)) * 2 + a.rot90(-1, (0, 2)).sum(), lambda a: _torch().rot90(a, 1, (1, 2)) * 2
     + a.rot90(-1, (0, 2)).sum(), N(2, 3, 4, layout="t"))
case("unfold", lambda a: a.unfold(1, 3, 2), lambda a: a.unfold(1, 3, 2), N(2, 7, layout="s"))
case("sum_to_size", lambda a: a.sum_to_size(3, 1), lambda a: a.sum_to_size(3, 1), N(2, 3, 4))
case("hsplit", lambda a: descend.hsplit(a, [1, 3])[1], lambda a: _torch().hsplit(a, [1, 3])[1], N(2, 5, layout="t"))
case("dist", lambda a, b: descend.dist(a, b, 3), lambda a, b: _torch().dist(a, b, 3), N(3, 4), N(4))
case("sinc", descend.sinc, lambda a: _torch().sinc(a), N(3, 4, scale=2, layout="t"))
case("sinc[zero]", descend.sinc, lambda a: _torch().sinc(a), V([0.0, 0.5, -1.0]), gradcheck=False)

# ---- statistics, scatter-into-slices, small linear algebra ---------------------------------------------------

_fw, _aw = np.array([1, 2, 1, 3, 1]), _r.uniform(0.5, 2.0, 5)
case("cov", descend.cov, lambda a: _torch().cov(a), N(3, 5, layout="t"))
case("cov[weights]", lambda a: descend.cov(a, correction=0, fweights=_d(_fw), aweights=_d(_aw).to(a.dtype)),
     lambda a: _torch().cov(a, correction=0, fweights=_t(_fw), aweights=_t(_aw).to(a.dtype)), N(2, 5))
case("corrcoef", descend.corrcoef, lambda a: _torch().corrcoef(a), N(3, 6, layout="s"), atol=1e-4)
case("mode", lambda a: descend.mode(a.round(), 1).values, lambda a: _torch().mode(a.round(), 1).values,
     N(3, 6, scale=1.2), gradcheck=False)
_nanq = np.zeros((3, 5))
_nanq[0, 1] = _nanq[2, 4] = np.nan
case("nanquantile", lambda a: descend.nanquantile(a + _d(_nanq), 0.3, 1), lambda a: _torch().nanquantile(a + _t(_nanq), 0.3, 1),
     N(3, 5))
case("trapezoid", lambda y, x: descend.trapezoid(y, x) + descend.trapz(y, dx=0.5, dim=0).sum(),
     lambda y, x: _torch().trapezoid(y, x) + _torch().trapz(y, dx=0.5, dim=0).sum(), N(3, 5, layout="t"), N(5))
case("cumulative_trapezoid", lambda y: descend.cumulative_trapezoid(y, dim=0), lambda y: _torch().cumulative_trapezoid(y, dim=0),
     N(4, 3))
case("slice_scatter", lambda a, s: descend.slice_scatter(a, s, 1, 0, 4, 2), lambda a, s: _torch().slice_scatter(a, s, 1, 0, 4, 2),
     N(3, 4, layout="t"), N(3, 2))
case("select_scatter", lambda a, s: a.select_scatter(s, 0, 1), lambda a, s: a.select_scatter(s, 0, 1), N(3, 4), N(4, layout="s"))
case("diagonal_scatter", lambda a, s: descend.diagonal_scatter(a, s, 1, 1, 2),
     lambda a, s: _torch().diagonal_scatter(a, s, 1, 1, 2), N(2, 3, 4), N(2, 3))
case("block_diag", descend.block_diag, lambda a, b: _torch().block_diag(a, b), N(2, 3, layout="t"), N(2))
# (torch.vander's own backward fails on a version check, so the reference spells the columns out.)
case("vander", lambda a: descend.vander(a, 4), lambda a: _torch().stack([a ** 3, a ** 2, a, a ** 0], 1), N(3))
case("slogdet", lambda a: descend.slogdet(a + _d(_well).to(a.dtype))[1], lambda a: _torch().slogdet(a + _t(_well).to(a.dtype))[1],
     N(3, 3, scale=0.5), atol=1e-4)
case("logdet", lambda a: descend.logdet(a + _d(_well).to(a.dtype)), lambda a: _torch().logdet(a + _t(_well).to(a.dtype)),
     N(2, 3, 3, scale=0.5, layout="t"), atol=1e-4)
case("ldexp", lambda a, b: descend.ldexp(a, b), lambda a, b: _torch().ldexp(a, b), N(3, 4), N(4))
case("svdvals", lambda a: descend.linalg.svdvals(a), lambda a: _torch().linalg.svdvals(a), N(2, 3, 4, layout="t"), atol=1e-4)
case("eigvalsh", lambda a: descend.linalg.eigvalsh(a + a.mT), lambda a: _torch().linalg.eigvalsh(a + a.mT), N(3, 3),
     atol=1e-4)
case("matrix_norm[2 nuc]", lambda a: descend.linalg.matrix_norm(a, 2) + descend.linalg.matrix_norm(a, "nuc"),
     lambda a: _torch().linalg.matrix_norm(a, 2) + _torch().linalg.matrix_norm(a, "nuc"), N(3, 4, layout="s"), atol=1e-4)
_spd = np.eye(3) * 0.5
case("cholesky", lambda a: descend.linalg.cholesky(a @ a.mT + _d(_spd).to(a.dtype)),
     lambda a: _torch().linalg.cholesky(a @ a.mT + _t(_spd).to(a.dtype)), N(2, 3, 3, layout="t"), atol=1e-4)
case("cholesky[upper]", lambda a: descend.linalg.cholesky(a @ a.mT + _d(_spd).to(a.dtype), upper=True),
     lambda a: _torch().linalg.cholesky(a @ a.mT + _t(_spd).to(a.dtype), upper=True), N(3, 3), atol=1e-4)
# Eigenvectors are defined up to sign: the cases read them squared.
case("eigh", lambda a: descend.linalg.eigh(a + a.mT)[0] * (descend.linalg.eigh(a + a.mT)[1] ** 2)[0],
     lambda a: _torch().linalg.eigh(a + a.mT)[0] * (_torch().linalg.eigh(a + a.mT)[1] ** 2)[0], N(3, 3), atol=1e-4)
case("eigh[vectors]", lambda a: descend.linalg.eigh(a + a.mT)[1] ** 2, lambda a: _torch().linalg.eigh(a + a.mT)[1] ** 2,
     N(2, 4, 4, layout="t"), atol=1e-4)

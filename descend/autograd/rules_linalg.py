"""Differentiable backward of linear algebra, einsum, special functions and the reducing scatters: each op's
first-order formula written with descend ops, reading the output (`out`) and inputs as tensors."""

from __future__ import annotations

import numpy as np

import descend
from descend.autograd.higher import const, rule, to_np, vjp_of
from descend.autograd.rules_ops import _linear
from descend.ops import indexing as _ix
from descend.ops import linalg_ops as _la
from descend.ops import matmul as _mm
from descend.ops import transcendental as _tr
from descend.ops.adjoint import IndexAdd
from descend.ops.movement import GetItem


# ---- special functions ---------------------------------------------------------------------------------

@rule(_tr.Lgamma)
def _lgamma(ctx, g, out):
    return (g * _tr.Digamma.apply(ctx.parents[0]),)


@rule(_tr.Digamma)
def _digamma(ctx, g, out):
    return (g * _tr.Polygamma.apply(ctx.parents[0], n=1),)


@rule(_tr.Polygamma)
def _polygamma(ctx, g, out):
    return (g * _tr.Polygamma.apply(ctx.parents[0], n=ctx.kwargs.get("n", 1) + 1),)


# ---- einsum and the reducing scatters ------------------------------------------------------------------

@rule(_mm.Einsum)
def _einsum(ctx, g, out):
    grads = []
    for i, need in enumerate(ctx.needs_input_grad):
        if not need:
            grads.append(None)
            continue
        subs = ctx.ins[i]
        if len(set(subs)) != len(subs):
            raise NotImplementedError(f"create_graph: einsum with a repeated label ({subs!r}) has no gradient")
        spec, target, others = _mm.einsum_grad_spec(ctx.ins, ctx.out, i)
        r = descend.einsum(spec, g, *[ctx.parents[j] for j in others])
        if target != subs:  # labels only this operand had were summed: their gradient is a broadcast
            r = r.reshape(_mm.kept_shape(r.shape, target, subs)).expand(*ctx.parents[i].shape)
        grads.append(r)
    return tuple(grads)


@rule(_ix.ScatterReduce)
def _scatter_reduce(ctx, g, out):
    if ctx.reduce in ("sum", "mean"):
        return _linear(ctx, g, out)
    if ctx.reduce not in ("amax", "amin"):
        raise NotImplementedError(f"create_graph: scatter_reduce(reduce={ctx.reduce!r}) has no differentiable "
                                  f"backward")
    take_self = 1.0 if ctx.include_self else 0.0
    a, res = to_np(ctx.parents[0]), to_np(out)
    hit_self = (a == res) * take_self
    hit_src = (ctx.part == res[ctx.grid]).astype(res.dtype)
    ties = hit_self.astype(res.dtype)
    np.add.at(ties, ctx.grid, hit_src)
    untouched = ctx.count == take_self
    ga = g * const(np.where(untouched, 1.0, hit_self / np.maximum(ties, 1)).astype(res.dtype))
    gs = GetItem.apply(g * const((1 / np.maximum(ties, 1)).astype(res.dtype)), index=ctx.grid) * \
        const(hit_src)
    part = tuple(slice(0, n) for n in ctx.grid[ctx.dim].shape)
    gsrc = IndexAdd.apply(gs, shape=ctx.src_shape, index=part)
    return ga, None, gsrc


_LINEAR_WRITES = [_ix.IndexPut, _ix.SliceWrite]
for _cls in _LINEAR_WRITES:
    rule(_cls)(_linear)


# ---- linear algebra ------------------------------------------------------------------------------------

def _t(x):
    return x.transpose(-1, -2)


@rule(_la.Inv)
def _inv(ctx, g, out):
    return (-(_t(out) @ g @ _t(out)),)


@rule(_la.Det)
def _det(ctx, g, out):
    a = ctx.parents[0]
    return ((g * out).unsqueeze(-1).unsqueeze(-1) * _t(_la.Inv.apply(a)),)


@rule(_la.Solve)
def _solve(ctx, g, out):
    a = ctx.parents[0]
    g2 = g.unsqueeze(-1) if ctx.vector else g
    x2 = out.unsqueeze(-1) if ctx.vector else out
    gb = _la.Solve.apply(_t(a), g2)
    ga = -(gb @ _t(x2))
    return ga, (gb.squeeze(-1) if ctx.vector else gb)


@rule(_la.Cholesky)
def _cholesky(ctx, g, out):
    lt = _t(out)
    phi = (lt @ g).tril()
    phi = 0.5 * (phi + _t(phi.tril(-1)))
    left = _la.Solve.apply(lt, phi)  # L^-T Phi
    return (_t(_la.Solve.apply(lt, _t(left))),)


@rule(_la.EigH)
def _eigh(ctx, g, out):
    w, v = out[..., 0, :], out[..., 1:, :]
    gw, gv = g[..., 0, :], g[..., 1:, :]
    inner = _t(v) @ gv
    inner = 0.5 * (inner - _t(inner))
    gap = w.unsqueeze(-2) - w.unsqueeze(-1)
    same = const(to_np(gap) == 0)
    mid = descend.where(same, 0.0, inner / descend.where(same, 1.0, gap))
    mid = mid + descend.diag_embed(gw)  # the diagonal of inner/gap is masked to 0 above
    return (v @ mid @ _t(v),)


@rule(_la.EigvalsH)
def _eigvalsh(ctx, g, out):
    v = _la.EigH.apply(ctx.parents[0], upper=ctx.kwargs.get("upper", False))[..., 1:, :]
    return ((v * g.unsqueeze(-2)) @ _t(v),)


def _svdvals(ctx, a):
    """Singular values as square roots of the eigenvalues of AᵀA (or AAᵀ), largest first."""
    gram = _t(a) @ a if a.shape[-2] >= a.shape[-1] else a @ _t(a)
    return _la.EigvalsH.apply(gram).flip(-1).clamp(min=0.0).sqrt()


rule(_la.SvdVals)(vjp_of(_svdvals))

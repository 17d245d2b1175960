"""`descend.autograd.functional`: Jacobians, Hessians and vector products of a Python function, as
torch.autograd.functional computes them (reverse mode: one backward pass per output element; jvp through
the double-vjp identity), built on autograd.grad.

>>> import descend
>>> from descend.autograd.functional import jacobian, hessian
>>> jacobian(lambda x: x ** 2, descend.tensor([1.0, 3.0])).tolist()
[[2.0, 0.0], [0.0, 6.0]]
>>> hessian(lambda x: (x ** 3).sum(), descend.tensor([1.0, 2.0])).tolist()
[[6.0, 0.0], [0.0, 12.0]]
"""

from __future__ import annotations

from typing import Any, Callable

from descend import backend
from descend.autograd.function import grad
from descend.autograd.grad_mode import enable_grad
from descend._tensor import Tensor

__all__ = ["jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"]


def _inputs(inputs: Any, create_graph: bool = False) -> tuple[tuple, bool]:
    """The inputs as fresh leaves; with create_graph those already in a graph stay linked to it (a view), so
    the result can be differentiated with respect to them, as PyTorch's."""
    single = isinstance(inputs, Tensor)
    xs = (inputs,) if single else tuple(inputs)
    return tuple(x.view_as(x) if create_graph and x.requires_grad else x.detach().requires_grad_(True)
                 for x in xs), single


def _grads(out: Any, xs: tuple, v: Any, create_graph: bool, strict: bool) -> tuple:
    """d(Σ outᵢ · vᵢ)/dx for every x (out and v a tensor or tuples of them): zeros for an x the outputs do
    not depend on (an error with strict=True)."""
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    vs = tuple(v) if isinstance(v, (tuple, list)) else (v,) * len(outs)
    pairs = [(o, w) for o, w in zip(outs, vs) if o.requires_grad]
    if not pairs:
        if strict:
            raise RuntimeError("The output of the user-provided function is independent of its inputs")
        return tuple(Tensor(backend.xp.zeros(x.shape, dtype=x._data.dtype)) for x in xs)
    gs = grad([o for o, _ in pairs], xs, [w for _, w in pairs], retain_graph=True, create_graph=create_graph,
              allow_unused=True)
    if strict and any(g is None for g in gs):
        raise RuntimeError("The output of the user-provided function is independent of an input")
    return tuple(Tensor(backend.xp.zeros(x.shape, dtype=x._data.dtype)) if g is None else g
                 for g, x in zip(gs, xs))


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of func at inputs: for one input and one output a tensor of shape out.shape + in.shape;
    tuples of them (outputs outer, inputs inner) otherwise."""
    xs, single_in = _inputs(inputs, create_graph)
    with enable_grad():
        outs = func(*xs)
        single_out = isinstance(outs, Tensor)
        outs = (outs,) if single_out else tuple(outs)
        table = []
        for out in outs:
            flat = out.reshape(-1)
            rows = []
            for k in range(flat.shape[0]):
                onehot = backend.xp.zeros(flat.shape, dtype=flat._data.dtype)
                onehot[k] = 1
                rows.append(_grads(flat, xs, Tensor(onehot), create_graph, strict))
            per_input = []
            for j, x in enumerate(xs):
                stacked = [r[j] for r in rows]
                jac = _stack(stacked) if stacked else \
                    Tensor(backend.xp.zeros((0,) + tuple(x.shape), dtype=x._data.dtype))
                per_input.append(jac.reshape(tuple(out.shape) + tuple(x.shape)))
            table.append(per_input[0] if single_in else tuple(per_input))
    return table[0] if single_out else tuple(table)


def _stack(ts: list) -> Tensor:
    from descend.ops.movement import stack
    return stack(ts)


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar func at inputs (the Jacobian of its gradient)."""
    xs, single_in = _inputs(inputs, create_graph)

    def gradient(*args: Tensor) -> Any:
        out = func(*args)
        if out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single element Tensor")
        gs = _grads(out.reshape(()), args, None, True, strict)
        return gs[0] if single_in else gs

    return jacobian(gradient, xs[0] if single_in else xs, create_graph, strict)


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), vᵀ·J): v shaped like the output (None for a scalar output)."""
    xs, single_in = _inputs(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
        gs = _grads(out, xs, v, create_graph, strict)
    return _detached(out, create_graph), (gs[0] if single_in else gs)


def _detached(out: Any, keep: bool) -> Any:
    if keep:
        return out
    return tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), J·v) through the double-vjp identity: J·v = d/du (uᵀ J)·v."""
    xs, single_in = _inputs(inputs, create_graph)
    vs = (v,) if isinstance(v, Tensor) else tuple(v) if v is not None else \
        tuple(Tensor(backend.xp.ones(x.shape, dtype=x._data.dtype)) for x in xs)
    with enable_grad():
        out = func(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        us = tuple(Tensor(backend.xp.zeros(o.shape, dtype=o._data.dtype)).requires_grad_(True) for o in outs)
        gs = _grads(outs, xs, us, True, strict)
        dot = sum(((g * w).sum() for g, w in zip(gs, vs)), Tensor(backend.xp.zeros((), dtype=outs[0]._data.dtype)))
        zeros = tuple(Tensor(backend.xp.zeros(o.shape, dtype=o._data.dtype)) for o in outs)
        jv = grad(dot, us, create_graph=create_graph, allow_unused=True) if dot.requires_grad else zeros
        jv = tuple(z if j is None else j for j, z in zip(jv, zeros))
    return _detached(out, create_graph), (jv if isinstance(out, tuple) else jv[0])


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), vᵀ·H) of a scalar func."""
    xs, single_in = _inputs(inputs, create_graph)
    vs = (v,) if isinstance(v, Tensor) else tuple(v)
    with enable_grad():
        out = func(*xs)
        gs = _grads(out.reshape(()), xs, None, True, strict)
        dot = sum(((g * w).sum() for g, w in zip(gs, vs)), Tensor(backend.xp.zeros((), dtype=out._data.dtype)))
        hv = _grads(dot, xs, None, create_graph, strict)
    return (out if create_graph else out.detach()), (hv[0] if single_in else hv)


hvp = vhp  # the Hessian of a twice-differentiable function is symmetric, so Hv = vᵀH

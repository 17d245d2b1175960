"""Backward with create_graph=True: the backward pass recorded as ops, so gradients can be differentiated again.

The first-order pass (tensor.run_backward) works on raw arrays and stays as fast as before. This one carries
gradients as Tensors and asks each op for a rule written with descend's own differentiable ops:
`RULES[OpClass](ctx, g, out) -> one gradient per input` (ctx: the op's saved context with its `parents`
and `kwargs`; g: the output's gradient; out: the op's output tensor). Ops whose derivative is a composition of
others use `vjp_of(composite)`: recompute the op's forward from primitives, then differentiate that.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend import backend

import descend._tensor as _t  # the module: its _epoch and hooks change at run time

from descend.autograd import engine as _engine
from descend.autograd.grad_mode import enable_grad
from descend._tensor import Tensor

RULES: dict[type, Callable] = {}
_loaded = False


def rule(*classes: type) -> Callable:
    """Register a Tensor-level backward for these op classes."""
    def register(fn: Callable) -> Callable:
        for cls in classes:
            RULES[cls] = fn
        return fn

    return register


def _load_rules() -> None:
    """Import the rule tables on first use (nothing happens on `import descend`)."""
    global _loaded
    if not _loaded:
        import importlib
        import pkgutil

        import descend.ops

        for info in pkgutil.iter_modules(descend.ops.__path__):  # every op family, so rules find their classes
            importlib.import_module(f"descend.ops.{info.name}")
        from descend.autograd import rules_arch, rules_core, rules_linalg, rules_nn, rules_ops  # noqa: F401
        _loaded = True


def const(a: Any) -> Tensor:
    """A raw array as a tensor outside the graph (masks, indices, running statistics)."""
    return Tensor(a)


def sum_to(g: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back to `shape` (the Tensor twin of engine._unbroadcast)."""
    if tuple(g.shape) == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    return g.reshape(tuple(shape))


def vjp_of(composite: Callable[..., Tensor]) -> Callable:
    """A rule from a composite: composite(ctx, *parents) recomputes the op's output from differentiable ops."""
    def vjp(ctx: Any, g: Tensor, out: Tensor) -> tuple:
        inputs = [p for p, need in zip(ctx.parents, ctx.needs_input_grad) if need]
        y = composite(ctx, *ctx.parents)
        found = run_backward_graph([y], [g], inputs, stop_at_inputs=True)
        result, seen = [], set()
        for p, need in zip(ctx.parents, ctx.needs_input_grad):
            # A tensor passed twice (mul(x, x)) got its whole gradient once; give it to the first place only.
            result.append(found.get(id(p)) if need and id(p) not in seen else None)
            if need:
                seen.add(id(p))
        return tuple(result)

    return vjp


def _root(t: Tensor, g: Any) -> Tensor:
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape {t.shape}")
        return Tensor(backend.get_array_module(t._data).ones_like(t._data))
    g = g if isinstance(g, Tensor) else Tensor(backend.get_array_module(t._data).asarray(g))
    if tuple(g.shape) != tuple(t.shape):
        raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {tuple(g.shape)} and output has a "
                           f"shape of {tuple(t.shape)}")
    return g


def run_backward_graph(roots: list, grads: list, inputs: list | None = None,
                       accumulate: bool = False, stop_at_inputs: bool = False) -> dict:
    """Backpropagate Tensor gradients, recording every step; returns {id(input): gradient tensor}.

    With accumulate=True the gradients are added to `.grad` of the leaves (or of `inputs`) instead, as
    `backward(create_graph=True)` does; `.grad` then has a graph of its own.
    """
    _load_rules()
    pending: dict[int, Tensor] = {}
    for r, g in zip(roots, grads):
        g = _root(r, g)
        pending[id(r)] = g if id(r) not in pending else pending[id(r)] + g
    wanted = None if inputs is None else {id(t) for t in inputs}
    found: dict[int, Tensor] = {}
    stop = wanted if stop_at_inputs else None
    with enable_grad():
        for node in reversed(_t._toposort(roots, stop)):
            g = pending.pop(id(node), None)
            if g is None:
                continue
            if _t._tensor_hooks:
                g = _hooks(node, g)
            ctx = node._ctx
            if wanted is None:
                if accumulate and (ctx is None or node._retain):
                    node.grad = g if node.grad is None else node.grad + g
                    if ctx is None and _engine._post_accumulate_hooks:
                        _engine.run_post_accumulate_hooks(node)
            elif id(node) in wanted:
                if accumulate:
                    node.grad = g if node.grad is None else node.grad + g
                    if ctx is None and _engine._post_accumulate_hooks:
                        _engine.run_post_accumulate_hooks(node)
                else:
                    found[id(node)] = g
            if ctx is None or stop is not None and id(node) in stop:
                continue
            if _t._epoch and ctx._epoch < _t._epoch:
                _t._check_unmodified(node, ctx)
            fn = RULES.get(type(ctx))
            if fn is None:
                raise NotImplementedError(f"create_graph: {type(ctx).__name__} has no differentiable backward yet "
                                          f"(descend.autograd.higher.RULES)")
            in_grads = fn(ctx, g, node)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for p, pg, need in zip(ctx.parents, in_grads, ctx.needs_input_grad):
                if not need or pg is None:
                    continue
                if not isinstance(pg, Tensor):
                    pg = Tensor(backend.get_array_module(p._data).asarray(pg))
                if tuple(pg.shape) != tuple(p.shape):
                    pg = sum_to(pg, p.shape)
                if pg._data.dtype != p._data.dtype:
                    pg = pg.to(_dtype_of(p))
                prev = pending.get(id(p))
                pending[id(p)] = pg if prev is None else prev + pg
    return found


def _dtype_of(t: Tensor) -> Any:
    return t.dtype


def _hooks(node: Tensor, g: Tensor) -> Tensor:
    entry = _t._tensor_hooks.get(id(node))
    if entry is None or entry[0]() is not node:
        return g
    for hook in list(entry[1].values()):
        out = hook(g)
        if out is not None:
            g = out
    return g


def to_np(x: Any) -> Any:
    """The raw array (or scalar) behind a parent."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)

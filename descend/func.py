"""`descend.func` (torch.func's common transforms) over descend's eager autograd: `grad`, `grad_and_value`,
`vjp`, `jacrev`/`jacfwd`, `hessian`, `vmap` and `functional_call`.

`vmap` maps by running the function once per slice and stacking (the same values as PyTorch's batching
rules, at a loop's speed); the differential transforms call autograd.grad with create_graph=True, so they
compose (grad of grad, vmap of grad for per-sample gradients).

>>> import descend
>>> descend.func.grad(lambda x: (x ** 3).sum())(descend.tensor([1.0, 2.0])).tolist()
[3.0, 12.0]
>>> descend.vmap(descend.dot)(descend.ones(4, 3), descend.ones(4, 3)).tolist()
[3.0, 3.0, 3.0, 3.0]
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from descend._tensor import Tensor, enable_grad
from descend.autograd import functional as _af
from descend.autograd.function import grad as _grad
from descend.ops.movement import stack

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call"]


def _as_tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _flatten(tree: Any) -> tuple[list, Callable]:
    """(the tensors in a nest of dicts, lists and tuples, a function rebuilding the nest from new leaves)."""
    if isinstance(tree, Tensor):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, (dict, list, tuple)):
        keys = list(tree) if isinstance(tree, dict) else range(len(tree))
        parts = [_flatten(tree[k]) for k in keys]
        sizes = [len(leaves) for leaves, _ in parts]

        def rebuild(leaves: list) -> Any:
            out, at = [], 0
            for (_, make), n in zip(parts, sizes):
                out.append(make(leaves[at:at + n]))
                at += n
            if isinstance(tree, dict):
                return dict(zip(keys, out))
            return type(tree)(out) if isinstance(tree, tuple) and not hasattr(tree, "_fields") else \
                (type(tree)(*out) if isinstance(tree, tuple) else out)

        return [leaf for leaves, _ in parts for leaf in leaves], rebuild
    return [], lambda leaves: tree


def _inputs(leaves: list) -> list:
    """Leaves made differentiable: a view (keeping an outer transform's graph) or a fresh leaf."""
    return [t.view_as(t) if t.requires_grad else t.detach().requires_grad_(True) for t in leaves]


def _detach_tree(tree: Any) -> Any:
    leaves, rebuild = _flatten(tree)
    return rebuild([t.detach() for t in leaves])


def grad_and_value(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """A function returning (gradient of func's scalar output with respect to the argnums arguments, value)."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        nums = _as_tuple(argnums)
        args = list(args)
        flat = {i: _flatten(args[i]) for i in nums}  # each differentiated argument may be a nest (a dict of
        # parameters for functional_call); outside any other transform its tensors carry no graph, and then
        # the results are plain tensors, as PyTorch's; inside one (grad of grad) they stay differentiable
        nested = any(t.requires_grad for leaves, _ in flat.values() for t in leaves)
        with enable_grad():
            made = {i: _inputs(flat[i][0]) for i in nums}
            for i in nums:
                args[i] = flat[i][1](made[i])
            out = func(*args, **kwargs)
            value, aux = (out[0], out[1]) if has_aux else (out, None)
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise RuntimeError("grad: expected f(*args) to return a scalar Tensor")
            leaves = [t for i in nums for t in made[i]]
            gs = _grad(value, leaves, create_graph=True, allow_unused=True) if leaves else ()
            gs = [g if g is not None else t * 0 for g, t in zip(gs, leaves)]
        if not nested:
            gs, value = [g.detach() for g in gs], value.detach()
        trees, at = [], 0
        for i in nums:
            n = len(made[i])
            trees.append(flat[i][1](gs[at:at + n]))
            at += n
        g = tuple(trees) if isinstance(argnums, tuple) else trees[0]
        return (g, (value, aux)) if has_aux else (g, value)

    return wrapper


def grad(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """The gradient function of a scalar-valued func (with has_aux: (gradient, aux))."""
    both = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = both(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """(func(*primals), vjp_fn): vjp_fn(cotangent) gives the cotangent times the Jacobian, per primal."""
    nested = any(p.requires_grad for p in primals)
    with enable_grad():
        xs = _inputs(list(primals))
        out = func(*xs)
    value, aux = (out[0], out[1]) if has_aux else (out, None)

    def vjp_fn(cotangent: Tensor) -> tuple:
        with enable_grad():
            gs = _grad(value, xs, cotangent, retain_graph=True, create_graph=nested, allow_unused=True)
        return tuple(g if g is not None else x * 0 for g, x in zip(gs, xs))

    shown = value if nested else value.detach()
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def jacrev(func: Callable, argnums: int | tuple = 0) -> Callable:
    """The Jacobian function (reverse mode)."""
    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        nums = _as_tuple(argnums)
        chosen = tuple(args[i] for i in nums)

        def partial(*xs: Tensor) -> Any:
            full = list(args)
            for i, x in zip(nums, xs):
                full[i] = x
            return func(*full)

        out = _af.jacobian(partial, chosen if isinstance(argnums, tuple) else chosen[0], create_graph=True)
        nested = any(getattr(t, "requires_grad", False) for t in chosen)
        return out if nested else _detach_tree(out)

    return wrapper


jacfwd = jacrev  # the same Jacobian; descend has no forward mode, so it is computed in reverse


def hessian(func: Callable, argnums: int = 0) -> Callable:
    """The Hessian function of a scalar-valued func."""
    return jacrev(jacrev(func, argnums), argnums)


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error",
         chunk_size: int | None = None) -> Callable:
    """func mapped over a dim of its arguments (in_dims: one per argument, None for an unmapped one)."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims {in_dims} does not match the {len(args)} arguments")
        # Each argument may be a nest of tensors; its in_dim applies to every tensor in it. Keyword arguments
        # are passed unmapped, as PyTorch's.
        flat = [(_flatten(a), d) for a, d in zip(args, dims)]
        sizes = {t.shape[d] for (leaves, _), d in flat if d is not None for t in leaves}
        if len(sizes) != 1:
            raise ValueError(f"vmap: expected one size along the mapped dims, got {sorted(sizes)}")
        n = sizes.pop()
        results = [func(*(make([t.select(d, i) for t in leaves]) if d is not None else make(leaves)
                          for (leaves, make), d in flat), **kwargs) for i in range(n)]
        if isinstance(results[0], tuple) and not isinstance(out_dims, int):
            return tuple(stack([r[k] for r in results], dim=od) for k, od in enumerate(out_dims))
        leaves0, make = _flatten(results[0])
        per = [_flatten(r)[0] for r in results]
        return make([stack([p[k] for p in per], dim=out_dims) for k in range(len(leaves0))])

    return wrapper


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: dict | None = None,
                    *, tie_weights: bool = True, strict: bool = False) -> Any:
    """module(*args) with the named tensors in the dict(s) standing in for its parameters and buffers (the
    module's own are put back afterwards)."""
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) else \
        (parameter_and_buffer_dicts,)
    values = {k: v for d in dicts for k, v in d.items()}
    if strict:
        known = {k for k, _ in module.named_parameters()} | {k for k, _ in module.named_buffers()}
        unknown, missing = sorted(set(values) - known), sorted(known - set(values))
        if unknown or missing:
            raise RuntimeError(f"functional_call got unexpected keys {unknown} and missing keys {missing}")
    saved = []
    try:
        for key, value in values.items():
            owner, _, name = key.rpartition(".")
            mod = module.get_submodule(owner) if owner else module
            saved.append((mod, name, mod.__dict__.get(name)))
            mod.__dict__[name] = value  # bypass the Parameter check: a plain tensor stands in for the call
        args = args if isinstance(args, tuple) else (args,) if args is not None else ()
        return module(*args, **(kwargs or {}))
    finally:
        for mod, name, old in reversed(saved):
            mod.__dict__[name] = old

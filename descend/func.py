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


def grad_and_value(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """A function returning (gradient of func's scalar output with respect to the argnums arguments, value)."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        nums = _as_tuple(argnums)
        # Outside any other transform the inputs carry no graph: then the results are plain tensors, as
        # PyTorch's; inside one (grad of grad) they stay differentiable.
        nested = any(isinstance(args[i], Tensor) and args[i].requires_grad for i in nums)
        with enable_grad():
            args = list(args)
            for i in nums:
                a = args[i]
                args[i] = a.view_as(a) if a.requires_grad else a.detach().requires_grad_(True)
            out = func(*args, **kwargs)
            value, aux = (out[0], out[1]) if has_aux else (out, None)
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise RuntimeError("grad: expected f(*args) to return a scalar Tensor")
            gs = _grad(value, [args[i] for i in nums], create_graph=True, allow_unused=True)
            gs = tuple(g if g is not None else args[i] * 0 for g, i in zip(gs, nums))
        if not nested:
            gs, value = tuple(g.detach() for g in gs), value.detach()
        g = gs if isinstance(argnums, tuple) else gs[0]
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
    with enable_grad():
        xs = [p.view_as(p) if p.requires_grad else p.detach().requires_grad_(True) for p in primals]
        out = func(*xs)
    value, aux = (out[0], out[1]) if has_aux else (out, None)

    def vjp_fn(cotangent: Tensor) -> tuple:
        with enable_grad():
            gs = _grad(value, xs, cotangent, retain_graph=True, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else x * 0 for g, x in zip(gs, xs))

    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


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
        return out

    return wrapper


jacfwd = jacrev  # the same Jacobian; descend has no forward mode, so it is computed in reverse


def hessian(func: Callable, argnums: int = 0) -> Callable:
    """The Hessian function of a scalar-valued func."""
    return jacrev(jacrev(func, argnums), argnums)


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error",
         chunk_size: int | None = None) -> Callable:
    """func mapped over a dim of its arguments (in_dims: one per argument, None for an unmapped one)."""
    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims {in_dims} does not match the {len(args)} arguments")
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None}
        if len(sizes) != 1:
            raise ValueError(f"vmap: expected one size along the mapped dims, got {sorted(sizes)}")
        n = sizes.pop()
        results = [func(*(a.select(d, i) if d is not None else a for a, d in zip(args, dims))) for i in range(n)]
        if isinstance(results[0], tuple):
            odims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(results[0])
            return tuple(stack([r[k] for r in results], dim=od) for k, od in enumerate(odims))
        return stack(results, dim=out_dims)

    return wrapper


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: dict | None = None,
                    *, tie_weights: bool = True, strict: bool = False) -> Any:
    """module(*args) with the named tensors in the dict(s) standing in for its parameters and buffers (the
    module's own are put back afterwards)."""
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) else \
        (parameter_and_buffer_dicts,)
    values = {k: v for d in dicts for k, v in d.items()}
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

"""Check analytic gradients against central finite differences, like torch.autograd.gradcheck."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from descend import backend
from descend._tensor import Tensor, no_grad


def _outputs(out: Any) -> list:
    """The function's differentiable outputs as a list of Tensors."""
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in items if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _describe(fn: Callable, outs: list) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    ops = sorted({type(o.grad_fn).__name__ for o in outs if o.grad_fn is not None})
    return f"{name} (output op {', '.join(ops)})" if ops else name


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare fn's backward with central differences for every element of every input needing grad.

    A random cotangent v (fixed by `seed`) reduces the outputs to the scalar sum(v * fn(inputs)); its
    analytic gradient from backward must match (f(x + eps) - f(x - eps)) / (2 eps) elementwise within
    atol + rtol * |numeric|. Inputs that require grad must be float64. On a mismatch raise AssertionError
    naming the function, input index, element and both values (or return False if raise_exception=False).
    """
    inputs = tuple(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} requires grad but has dtype {inputs[i].dtype}; finite "
                             "differences need float64")
    saved = [inputs[i].grad for i in wrt]
    for i in wrt:
        inputs[i].grad = None
    try:
        outs = _outputs(fn(*inputs))
        if not outs:
            raise ValueError("gradcheck: fn returned no floating-point Tensor")
        rng = np.random.default_rng(seed)
        xp = backend.get_array_module(outs[0]._data)
        cotangents = [xp.asarray(rng.standard_normal(o.shape)).astype(o.dtype) for o in outs]
        live = [(o, v) for o, v in zip(outs, cotangents) if o.requires_grad]
        if live:
            root = sum((o * Tensor(v)).sum() for o, v in live)
            root.backward()
        analytic = {i: _grad_array(inputs[i]) for i in wrt}
        what = _describe(fn, outs)

        def value() -> float:
            with no_grad():
                res = _outputs(fn(*inputs))
            return float(sum(float((r._data * v).sum()) for r, v in zip(res, cotangents)))

        for i in wrt:
            data = inputs[i]._data
            if not data.flags.writeable:
                raise ValueError(f"gradcheck: input {i} is a read-only view; pass a writeable array")
            for idx in np.ndindex(*data.shape):
                orig = data[idx].item()
                data[idx] = orig + eps
                plus = value()
                data[idx] = orig - eps
                minus = value()
                data[idx] = orig
                numeric = (plus - minus) / (2 * eps)
                got = float(analytic[i][idx])
                if not abs(got - numeric) <= atol + rtol * abs(numeric):
                    if raise_exception:
                        raise AssertionError(
                            f"gradcheck failed for {what}: input {i}, element {idx}: analytic gradient "
                            f"{got:.10g} vs numeric {numeric:.10g} (|diff| {abs(got - numeric):.3g} > "
                            f"atol {atol} + rtol {rtol} * |numeric|)")
                    return False
        return True
    finally:
        for i, g in zip(wrt, saved):
            inputs[i].grad = g


def _grad_array(t: Tensor) -> np.ndarray:
    """The input's gradient on the host, zeros when backward produced none (the input did not matter)."""
    if t.grad is None:
        return np.zeros(t.shape)
    return backend.to_numpy(t.grad._data)


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of x -> autograd.grad(fn(x), x, v, create_graph=True).

    The gradient of fn's outputs against a fixed random cotangent v is itself a function of the inputs; its
    backward (through the recorded first backward) must match central differences, as
    torch.autograd.gradgradcheck checks.

    >>> import descend
    >>> x = descend.tensor([0.3, -1.2], dtype=descend.float64, requires_grad=True)
    >>> gradgradcheck(lambda t: (t * t.exp()).sum(), [x])
    True
    """
    from descend.autograd import enable_grad, grad

    inputs = tuple(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    rng = np.random.default_rng(seed + 1)
    cotangents: list = []

    def first(*args: Any) -> tuple:
        with enable_grad():
            outs = [o for o in _outputs(fn(*args)) if o.requires_grad]
            if not cotangents:
                xp = backend.get_array_module(outs[0]._data)
                cotangents.extend(Tensor(xp.asarray(rng.standard_normal(o.shape)).astype(o._data.dtype))
                                  for o in outs)
            grads = grad(outs, wrt, cotangents, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(w._data * 0) for g, w in zip(grads, wrt))

    first.__name__ = f"grad of {getattr(fn, '__name__', 'fn')}"
    return gradcheck(first, inputs, eps, atol, rtol, raise_exception, seed)

"""PyTorch's custom-op API (`class Exp(autograd.Function)` with static forward/backward on a ctx) and
`autograd.grad`.

A user Function runs its forward on tensors with recording off; one engine node links its output to the
inputs, and its backward calls the user's backward with the output gradient as a tensor.
"""

from __future__ import annotations

from typing import Any, Sequence


import descend._tensor as _t  # the module: its _epoch and hooks change at run time

from descend.autograd.grad_mode import no_grad
from descend._tensor import Tensor


class FunctionCtx:
    """What forward leaves for backward: saved tensors, flags, and anything set as an attribute."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()
        self.materialize_grads = True
        self._non_differentiable: set = set()

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Accepted: descend's in-place writes are tracked by version counters already."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class _UserNode(_t.Function):
    """The engine node of one call of a user Function (single tensor output)."""

    def forward(self, *args: Any) -> Any:  # pragma: no cover - never called: apply builds the node directly
        raise NotImplementedError

    def backward(self, g: Any) -> Any:
        with no_grad():
            grads = self.fn.backward(self.ctx, Tensor(g))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.parents):
            raise RuntimeError(f"function {self.fn.__name__}Backward returned an incorrect number of gradients "
                               f"(expected {len(self.parents)}, got {len(grads)})")
        out = []
        for p, gr, need in zip(self.parents, grads, self.needs_input_grad):
            if gr is None or not need:
                out.append(None)
                continue
            arr = gr._data if isinstance(gr, Tensor) else gr
            if tuple(arr.shape) != tuple(p.shape) and arr.size != p._data.size:
                raise RuntimeError(f"Function {self.fn.__name__}Backward returned an invalid gradient: got "
                                   f"shape {list(arr.shape)}, expected {list(p.shape)}")
            out.append(arr.reshape(p.shape))
        return tuple(out)


class Function:
    """Base class of custom differentiable ops, as `torch.autograd.Function`.

    >>> import descend
    >>> class Square(descend.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    >>> x = descend.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).sum().backward()
    >>> x.grad
    tensor([6.])
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a custom Function must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("a custom Function must define backward(ctx, grad_output) to be differentiated")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if not (_t._grad_enabled and any(needs)):
            return out
        if not isinstance(out, Tensor):
            raise NotImplementedError(f"{cls.__name__}.apply: descend's custom Functions support one tensor "
                                      f"output; return a single tensor (got {type(out).__name__})")
        if id(out) in ctx._non_differentiable or not (out.dtype.is_floating_point or out.dtype.is_complex):
            return out
        if any(out is a for a in args):  # forward returned an input as is: give the output its own identity
            out = out._alias()
        node = _UserNode.__new__(_UserNode)
        node.fn, node.ctx = cls, ctx
        node.parents = args
        node.needs_input_grad = needs
        if _t._epoch:
            node._epoch = _t._epoch
        out._ctx = node
        out.requires_grad = True
        return out


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, returned (not accumulated into `.grad`).

    >>> import descend
    >>> x = descend.tensor([2.0], requires_grad=True)
    >>> descend.autograd.grad((x ** 3).sum(), x)
    (tensor([12.]),)
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) is not supported")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for o in outputs:
        if not o.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    for i in inputs:
        if not isinstance(i, Tensor) or not i.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if create_graph:
        from descend.autograd.higher import run_backward_graph

        found = run_backward_graph(outputs, list(grad_outputs), inputs)
    else:
        found = _t.run_backward(outputs, list(grad_outputs), bool(retain_graph), inputs, accumulate=False)
    result = []
    for t in inputs:
        g = found.get(id(t))
        if g is None:
            if materialize_grads:
                result.append(Tensor(t._data * 0))
                continue
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor(g))
    return tuple(result)


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Any = None) -> None:
    """Accumulate the gradients of several outputs at once (torch.autograd.backward)."""
    tensors = _as_list(tensors)
    grads = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"grad_tensors has {len(grads)} entries for {len(tensors)} tensors")
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    inputs = None if inputs is None else _as_list(inputs)
    if create_graph:
        from descend.autograd.higher import run_backward_graph

        run_backward_graph(tensors, grads, inputs, accumulate=True)
    else:
        _t.run_backward(tensors, grads, bool(retain_graph), inputs)


def _as_list(x: Any) -> list:
    return [x] if isinstance(x, Tensor) else list(x)

"""PyTorch's custom-op API (`class Exp(autograd.Function)` with static forward/backward on a ctx) and
`autograd.grad`.

A user Function runs its forward on tensors with recording off; one engine node links its output to the
inputs, and its backward calls the user's backward with the output gradient as a tensor.
"""

from __future__ import annotations

from typing import Any, Sequence


from descend import backend
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


class _Grads:
    """The gradients that reached some outputs of a multi-output user Function, by output position.

    The engine adds up gradients per tensor with `+` and checks `shape`/`dtype`; this object flows to the
    Function's hidden node like an array, so that the user's backward runs once with every output's gradient.
    """

    __slots__ = ("by_output", "shape", "dtype")

    def __init__(self, by_output: dict, like: Any) -> None:
        self.by_output, self.shape, self.dtype = by_output, like.shape, like.dtype

    def __add__(self, other: "_Grads") -> "_Grads":
        merged = dict(self.by_output)
        for i, g in other.by_output.items():
            merged[i] = g if i not in merged else merged[i] + g
        return _Grads(merged, self)


class _OutputOf(_t.Function):
    """Output `index` of a multi-output user Function: its gradient goes to the call's hidden node."""

    def forward(self, *args: Any) -> Any:  # pragma: no cover - never called: apply builds the node directly
        raise NotImplementedError

    def backward(self, g: Any) -> Any:
        return _Grads({self.index: g}, self.parents[0]._data)


class _UserNode(_t.Function):
    """The engine node of one call of a user Function: its backward calls the user's once, with one gradient
    per output (zeros, or None without materialize_grads, for outputs no gradient reached)."""

    def forward(self, *args: Any) -> Any:  # pragma: no cover - never called: apply builds the node directly
        raise NotImplementedError

    def backward(self, g: Any) -> Any:
        by_output = g.by_output if isinstance(g, _Grads) else {0: g}
        outs = []
        for i, meta in enumerate(self.outputs):
            gi = by_output.get(i)
            if gi is not None:
                outs.append(Tensor(gi))
            elif meta is not None and self.ctx.materialize_grads:
                xp, shape, dtype = meta
                outs.append(Tensor(xp.zeros(shape, dtype=dtype)))
            else:
                outs.append(None)
        with no_grad():
            grads = self.fn.backward(self.ctx, *outs)
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

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> Any:
        """Optional (PyTorch 2 style): a forward without ctx, and this to save what backward needs."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        with no_grad():
            if cls.setup_context is Function.setup_context:
                out = cls.forward(ctx, *args, **kwargs)
            else:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
        if not (_t._grad_enabled and any(needs)):
            return out
        single = not isinstance(out, tuple)
        outs = [out] if single else list(out)
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor) and o is not None and single:
                raise TypeError(f"{cls.__name__}.forward must return a Tensor or a tuple of them, got "
                                f"{type(o).__name__}")
            # An input returned as is, or one tensor returned twice, gets an identity of its own as an output.
            if isinstance(o, Tensor) and (any(o is a for a in args) or any(o is p for p in outs[:i])):
                outs[i] = o._alias()
        differentiable = [isinstance(o, Tensor) and id(o) not in ctx._non_differentiable and
                          (o.dtype.is_floating_point or o.dtype.is_complex) for o in outs]
        if not any(differentiable):
            return outs[0] if single else tuple(outs)
        node = _UserNode.__new__(_UserNode)
        node.fn, node.ctx = cls, ctx
        node.parents = args
        node.needs_input_grad = needs
        # What backward needs to give an output no gradient reached a zero one (None: not a tensor).
        node.outputs = [(backend.get_array_module(o._data), o.shape, o._data.dtype) if isinstance(o, Tensor)
                        else None for o in outs]
        if _t._epoch:
            node._epoch = _t._epoch
        if single:
            out = outs[0]
            out._ctx, out.requires_grad = node, True
            return out
        hub = Tensor(backend.xp.zeros(0))  # the hidden tensor the call's outputs hang from
        hub._ctx, hub.requires_grad = node, True
        for i, (o, diff) in enumerate(zip(outs, differentiable)):
            if diff:
                link = _OutputOf.__new__(_OutputOf)
                link.index, link.parents, link.needs_input_grad = i, (hub,), (True,)
                link._epoch = node._epoch
                o._ctx, o.requires_grad = link, True
        return tuple(outs)


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


class _VariableMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """PyTorch's pre-0.4 wrapper, kept for old scripts: `Variable(t, requires_grad=True)` is a leaf tensor
    sharing t's memory, and every tensor is a Variable.

    >>> import descend
    >>> v = Variable(descend.ones(2), requires_grad=True)
    >>> v.requires_grad, isinstance(descend.ones(1), Variable)
    (True, True)
    """

    def __new__(cls, data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:
        out = data.detach() if isinstance(data, Tensor) else Tensor(data)
        return out.requires_grad_(requires_grad) if requires_grad else out

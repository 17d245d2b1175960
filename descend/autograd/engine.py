"""The backward pass: a topological sort and a reverse loop over raw arrays (tinygrad's and micrograd's shape).

Broadcasting is undone in one place (`_unbroadcast`); gradients reach leaves' `.grad` through `_accumulate`;
tensor hooks run on a node's gradient before it is used; an op whose saved arrays were written in place since
it was recorded raises (`_check_unmodified`). The create_graph variant is in autograd/higher.py.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from descend import backend
from descend.ops.errors import OpError
import descend._tensor as _t  # the module: its _epoch and _tensor_hooks change at run time
from descend._tensor import Function, Tensor



def _unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum a gradient shaped like a broadcast result back to the shape of the input it flowed to."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = _sum_axes(grad, axes)
    return grad.reshape(shape)


def _sum_axes(grad: Any, axes: tuple) -> Any:
    """grad.sum(axis=axes, keepdims=True); for a dense float array whose summed axes are one run in memory that
    is not innermost (a bias over a batch, a channels-last (N, C, H, W) gradient over H and W), a product with
    ones instead.
    NumPy's sum over an axis that is not innermost runs short inner loops: a (32, 16, 28, 28) channels-last
    gradient summed over H, W took 365 us, the product 21 us, with float32 errors about 3x smaller."""
    if grad.dtype.kind != "f" or grad.ndim < 2:
        return grad.sum(axis=axes, keepdims=True)
    order = sorted(range(grad.ndim), key=lambda i: -grad.strides[i])  # memory order, outermost first
    flags = [i in axes for i in order]
    first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
    dense = grad.transpose(order)
    # Summed axes innermost in memory: NumPy's contiguous, pairwise sum is fast and more accurate than a
    # product's float32 accumulation, so it stays.
    if last == grad.ndim - 1 or not all(flags[first:last + 1]) or not dense.flags.c_contiguous:
        return grad.sum(axis=axes, keepdims=True)
    sizes = dense.shape
    outer, mid = _prod(sizes[:first]), _prod(sizes[first:last + 1])
    rows = dense.reshape(outer, mid, _prod(sizes[last + 1:]))
    xp = backend.get_array_module(grad)
    summed = xp.matmul(xp.ones((1, mid), grad.dtype), rows)  # (outer, 1, inner)
    kept = tuple(1 if i in axes else n for i, n in enumerate(grad.shape))
    return summed.reshape(tuple(kept[i] for i in order)).transpose(_inverse(order))


def _prod(sizes: tuple) -> int:
    out = 1
    for n in sizes:
        out *= n
    return out


def _inverse(order: list) -> list:
    inv = [0] * len(order)
    for pos, axis in enumerate(order):
        inv[axis] = pos
    return inv


def _root_grad(t: Tensor, g: Any) -> Any:
    """The array a backward pass starts from: ones for a scalar, else the given gradient of t's shape."""
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(f"backward(): grad can be implicitly created only for scalar outputs, got shape "
                               f"{t.shape}; pass grad= (gradient=) of that shape")
        return backend.get_array_module(t._data).ones_like(t._data)
    g = g._data if isinstance(g, Tensor) else backend.get_array_module(t._data).asarray(g)
    if tuple(g.shape) != t.shape:
        raise OpError(f"backward(): grad shape {tuple(g.shape)} differs from tensor shape {t.shape} (mismatch in "
                      f"shape)")
    return g


def run_backward(roots: list, grads: list, retain_graph: bool, inputs: list | None = None,
                 accumulate: bool = True) -> dict | None:
    """Propagate from `roots` (with `grads`, None meaning ones) through the graph in reverse topological order.

    Gradients reach leaves' `.grad` (only the `inputs`' when given). With accumulate=False nothing is
    accumulated and {id(input): gradient array or None} is returned instead (autograd.grad).
    """
    pending: dict[int, Any] = {}
    for r, g in zip(roots, grads):
        g = _root_grad(r, g)
        pending[id(r)] = g if id(r) not in pending else pending[id(r)] + g
    wanted = None if inputs is None else {id(t) for t in inputs}
    found: dict = {}
    for node in reversed(_toposort(roots)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if _t._tensor_hooks:
            g = _run_hooks(node, g)
        ctx = node._ctx
        if wanted is None:
            if ctx is None or node._retain:
                _accumulate(node, g)
        elif id(node) in wanted:
            if accumulate:
                _accumulate(node, g)
            else:
                found[id(node)] = g
        if ctx is None:
            continue
        if _t._epoch and ctx._epoch < _t._epoch:
            _check_unmodified(node, ctx)
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for p, pg, need in zip(ctx.parents, in_grads, ctx.needs_input_grad):
            if not need or pg is None:
                continue
            if pg.shape != p._data.shape:
                pg = _unbroadcast(pg, p._data.shape)
            if pg.dtype != p._data.dtype:
                pg = pg.astype(p._data.dtype)
            key = id(p)
            prev = pending.get(key)
            pending[key] = pg if prev is None else prev + pg
        if not retain_graph:
            # Release what the op saved so memory is freed; a second backward is an error, as in PyTorch.
            ctx.__dict__.clear()
            ctx.released = True
    return found if not accumulate else None


def _version_of(t: Tensor) -> list | None:
    """The tensor's shared version stamp, None if it was never written in place nor aliased; a view uses its
    base's (one counter per memory, as in PyTorch)."""
    v = getattr(t, "_vc", None)
    while v is not None and type(v) is not list:  # a view: its cell is the viewed tensor's
        v = getattr(v, "_vc", None)
    return v


def _check_unmodified(node: Tensor, ctx: Function) -> None:
    """RuntimeError if an array this op saved for backward was written in place after the op was recorded.

    Runs only once some in-place write happened. What an op saved is whatever array on `ctx` shares memory
    with its output or an input; an input that was itself rewritten by an in-place op (it has a grad_fn) is
    refused too, since this op's gradient would now flow through the rewrite.
    """
    if ctx.__dict__.get("output_overwritten"):
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"the output of [{type(ctx).__name__}] of shape {list(node.shape)}, which it saved for backward, was "
            f"written in place. Hint: do the in-place op on a clone().")
    stamp = ctx._epoch
    touched = [t for t in (node, *ctx.parents) if isinstance(t, Tensor) and (_version_of(t) or (0,))[0] > stamp]
    if not touched:
        return
    xp = backend.get_array_module(node._data)
    saved = _saved_arrays(ctx, xp)
    view = _is_view(node, ctx)  # a view follows its base's history as it is now
    for t in touched:
        # An input whose history was rewritten after the op and that _reroute could not point back at the
        # earlier history: its gradient would go through the rewrite, so refuse rather than be wrong.
        root = _t._root_of(t)
        lost = not view and t is not node and _snapshot_at(t if root is None else root, stamp) is not None
        if lost or any(xp.may_share_memory(v, t._data) for v in saved):
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{type(ctx).__name__}] tensor of shape {list(t.shape)} was written after the op "
                f"was recorded. Hint: do the in-place op on a clone(), or after backward().")


def _saved_arrays(ctx: Function, xp: Any) -> list:
    """The arrays the op saved that its backward will read: an op may name, in `_saved_for`, the input whose
    gradient needs a saved attribute (Mul's `a` serves only b's gradient), so one that no gradient needs is
    not counted (PyTorch does not save it at all)."""
    needs = getattr(type(ctx), "_saved_for", None)
    return [v for k, v in ctx.__dict__.items() if isinstance(v, xp.ndarray)
            and (needs is None or k not in needs or ctx.needs_input_grad[needs[k]])]


def _snapshot_at(t: Tensor, epoch: int) -> Tensor | None:
    """t's value and history as they were at `epoch`, when t was written in place since (None when it was not):
    each recorded in-place write keeps the tensor's earlier self as a node, on the write's op as `_before`."""
    found, ctx, seen = None, t._ctx, set()
    while ctx is not None and id(ctx) not in seen:  # (a chain never loops; the set only guards it)
        seen.add(id(ctx))
        before = ctx.__dict__.get("_before")
        if before is None or before[1] <= epoch:
            break
        found, ctx = before[0], before[0]._ctx
    return found


def _is_view(node: Tensor, ctx: Function) -> bool:
    """Whether node is a view made by ctx (a view op that returned a copy, e.g. advanced indexing, is not)."""
    return isinstance(ctx, _t.ViewFunction) and isinstance(getattr(node, "_vc", None), Tensor)


def _reroute(node: Tensor, ctx: Function) -> None:
    """Point the op's inputs that were written in place after it was recorded back at their earlier history.

    The op read the values its inputs had then, so their gradient belongs to that history (PyTorch's graph
    keeps the earlier grad_fn): an input rewritten since is replaced by its earlier self, and a view of a
    rewritten tensor by the same elements of that tensor's earlier self (`out[i] = out[i - 1] + w` in a loop).
    An input whose memory the op saved is left as it is: _check_unmodified refuses it, as PyTorch does. Views
    are not rerouted; their users are.
    """
    if "_rerouted" in ctx.__dict__ or _is_view(node, ctx):
        return
    from descend.ops.inplace import _view_index  # the in-place layer records what this reads

    ctx._rerouted = True
    parents = None
    for i, p in enumerate(ctx.parents):
        if not isinstance(p, Tensor) or not p.requires_grad or (_version_of(p) or (0,))[0] <= ctx._epoch:
            continue
        base = _t._root_of(p)
        base = p if base is None else base
        old = _snapshot_at(base, ctx._epoch)
        xp = backend.get_array_module(p._data)
        if old is None or any(xp.may_share_memory(v, p._data) for v in _saved_arrays(ctx, xp)):
            continue
        if base is not p:
            where = _view_index(base._data, p._data)
            if where is None:
                continue
            with _t.enable_grad():
                old = old.reshape(-1)[Tensor(where)]
        parents = list(ctx.parents) if parents is None else parents
        parents[i] = old
    if parents is not None:
        ctx.parents = tuple(parents)


def _run_hooks(node: Tensor, g: Any) -> Any:
    entry = _t._tensor_hooks.get(id(node))
    if entry is None or entry[0]() is not node:
        return g
    for hook in list(entry[1].values()):
        out = hook(Tensor(g))
        if out is not None:
            g = out._data if isinstance(out, Tensor) else out
    return g


_post_accumulate_hooks: dict = {}  # id(leaf) -> (weakref to the leaf, {handle id: hook})


def register_post_accumulate_grad_hook(self: Tensor, hook: Callable[[Tensor], None]) -> Any:
    """Call hook(tensor) each time backward has accumulated a gradient into this leaf's .grad (PyTorch's
    hook for optimizers that step per parameter); the handle's remove() takes it off."""
    if self._ctx is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    key = id(self)
    entry = _post_accumulate_hooks.get(key)
    if entry is None or entry[0]() is not self:
        entry = _post_accumulate_hooks[key] = (
            weakref.ref(self, lambda _, k=key: _post_accumulate_hooks.pop(k, None)), {})
    handle = _t._HookHandle(entry[1])
    entry[1][handle.id] = hook
    return handle


def _accumulate(leaf: Tensor, g: Any) -> None:
    """Add a gradient into `leaf.grad`; never in place, since arrays may be shared between leaves."""
    if not g.flags.c_contiguous:
        g = backend.get_array_module(g).ascontiguousarray(g)
    if leaf._grad is None:  # the slot itself: the shape is the leaf's (the `grad` setter's check is for users)
        leaf._grad = Tensor(g)
    else:
        leaf._grad = Tensor(leaf._grad._data + g)
    if _post_accumulate_hooks:
        run_post_accumulate_hooks(leaf)


def run_post_accumulate_hooks(leaf: Tensor) -> None:
    """The leaf's post-accumulate-grad hooks, once its .grad holds this backward's sum (both backward paths)."""
    entry = _post_accumulate_hooks.get(id(leaf))
    if entry is not None and entry[0]() is leaf:
        for hook in list(entry[1].values()):
            hook(leaf)


def _toposort(roots: list, stop: set | None = None) -> list:
    """Tensors reachable from the roots, each after all tensors it depends on; iterative, so deep graphs work.

    Nodes whose id is in `stop` are included but not looked through.
    """
    topo: list = []
    visited: set = set()
    rewritten = _t._rewritten
    stack: list = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            topo.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is None or stop is not None and id(node) in stop:
            continue
        if ctx.parents is None:
            raise RuntimeError(
                "backward(): trying to go through the graph a second time (its saved values were freed); "
                "pass retain_graph=True to the first backward")
        if rewritten and ctx._epoch < rewritten:  # only ops recorded before such a write need a look
            _reroute(node, ctx)
        for p in ctx.parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    return topo

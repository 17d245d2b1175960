"""Running a module's hooks around its forward, with PyTorch's order and semantics.

Order: forward pre-hooks (may replace args, or args and kwargs), the backward-hook wrapping of the inputs,
forward, forward hooks (may replace the output), the backward-hook wrapping of the outputs. In backward,
the backward pre-hooks see grad_output (and may replace it) when it arrives; the full backward hooks see
grad_input and grad_output once the gradients with respect to the inputs are known (and may replace
grad_input).
"""

from __future__ import annotations

from typing import Any

from descend.ops.hooks import pass_through
from descend._tensor import Tensor, is_grad_enabled


def _unwrap(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


class _BackwardHooks:
    """One module call's backward-hook state: which positions were wrapped and the grad_output seen."""

    def __init__(self, module: Any, hooks: list, pre_hooks: list) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.n_inputs = 0
        self.input_pos: list[int] = []
        self.grad_output: tuple = ()

    def setup_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        self.input_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_pos:
            return args
        new = list(args)
        for i, t in zip(self.input_pos, pass_through([args[i] for i in self.input_pos], self._on_grad_input)):
            new[i] = t
        return tuple(new)

    def setup_outputs(self, out: Any) -> Any:
        items = out if isinstance(out, (tuple, list)) else (out,)
        pos = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
        if not pos:
            return out
        self.n_outputs = len(items)
        self.output_pos = pos
        new = list(items)
        for i, t in zip(pos, pass_through([items[i] for i in pos], self._on_grad_output)):
            new[i] = t
        if isinstance(out, (tuple, list)):
            return type(out)(new)
        return new[0]

    def _on_grad_output(self, grads: tuple) -> tuple:
        full = [None] * self.n_outputs
        for i, g in zip(self.output_pos, grads):
            full[i] = Tensor(g)
        grad_output = tuple(full)
        for hook in self.pre_hooks:
            res = hook(self.module, grad_output)
            if res is not None:
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != len(grad_output):
                    raise RuntimeError(f"backward pre-hook of {type(self.module).__name__} returned "
                                       f"{len(res)} gradients, expected {len(grad_output)}")
                grad_output = res
        self.grad_output = grad_output
        if not self.input_pos:  # no input needs a gradient: PyTorch calls the hooks here, with all None
            none = (None,) * self.n_inputs
            for hook in self.hooks:
                if hook(self.module, none, grad_output) is not None:
                    raise RuntimeError("backward hook can't return a non-None grad_input when no input "
                                       "requires grad")
        return tuple(_unwrap(grad_output[i]) for i in self.output_pos)

    def _on_grad_input(self, grads: tuple) -> tuple:
        full: list = [None] * self.n_inputs
        for i, g in zip(self.input_pos, grads):
            full[i] = Tensor(g)
        grad_input = tuple(full)
        for hook in self.hooks:
            res = hook(self.module, grad_input, self.grad_output)
            if res is not None:
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != len(grad_input):
                    raise RuntimeError(f"backward hook of {type(self.module).__name__} returned "
                                       f"{len(res)} gradients, expected {len(grad_input)}")
                grad_input = res
        return tuple(_unwrap(grad_input[i]) for i in self.input_pos)


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """module.forward(*args, **kwargs) with all its hooks applied (Module.__call__ runs plain forward hooks
    itself, and comes here when a hook takes kwargs, is always_call, or is a backward hook)."""
    d = module.__dict__
    with_kwargs = d.get("_hooks_with_kwargs")  # empty unless some hook was registered with_kwargs
    pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
    for hid, hook in list(pre.items()) if pre else ():
        if with_kwargs and hid in with_kwargs:
            res = hook(module, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise RuntimeError(f"forward pre-hook of {type(module).__name__} must return None or a "
                                       f"tuple of (new_args, new_kwargs), got {type(res).__name__}")
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    state = None
    bw_hooks, bw_pre = d.get("_backward_hooks"), d.get("_backward_pre_hooks")
    if (bw_hooks or bw_pre) and is_grad_enabled():
        state = _BackwardHooks(module, list(bw_hooks.values()) if bw_hooks else [],
                               list(bw_pre.values()) if bw_pre else [])
        args = state.setup_inputs(args)
    post = list(post.items()) if post else ()
    if d.get("_hooks_always_call"):
        out = _forward_always(module, args, kwargs, post)
    else:
        out = module.forward(*args, **kwargs)
    for hid, hook in post:
        res = hook(module, args, kwargs, out) if with_kwargs and hid in with_kwargs else hook(module, args, out)
        if res is not None:
            out = res
    if state is not None:
        out = state.setup_outputs(out)
    return out


def _forward_always(module: Any, args: tuple, kwargs: dict, post: Any) -> Any:
    """forward, running the hooks registered with always_call=True (output None) if it raises."""
    try:
        return module.forward(*args, **kwargs)
    except Exception:
        d = module.__dict__
        always, with_kwargs = d["_hooks_always_call"], d.get("_hooks_with_kwargs") or ()
        for hid, hook in post:
            if hid in always:
                try:
                    hook(module, args, kwargs, None) if hid in with_kwargs else hook(module, args, None)
                except Exception:  # the forward's error is the one to report
                    pass
        raise


class RemovableHandle:
    """Returned by hook registration; `remove()` (or leaving a `with` block) unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict, extra: tuple = ()) -> None:
        self._hooks, self._extra = hooks, extra
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        for flags in self._extra:
            flags.discard(self.id)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

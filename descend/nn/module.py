"""Module and Parameter: plain classes whose state is found by walking attributes, lists and dicts."""

from __future__ import annotations

import threading
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

import numpy as np

from descend import backend, serialization
from descend.nn._children import ChildrenView
from descend.nn._hooks import RemovableHandle, call_with_hooks
from descend._tensor import Tensor

# Bookkeeping attributes the state walker never looks into.
_INTERNAL = frozenset({"training", "_buffers", "_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                       "_backward_pre_hooks", "_hooks_with_kwargs", "_hooks_always_call", "_hooks_special"})

class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """load_state_dict's result: the keys it missed and the ones it did not expect (printed as PyTorch's)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Parameter(Tensor):
    """A tensor that is a module's learnable state: requires grad, and is found by `Module.parameters()`."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = backend.xp.empty(0, dtype=backend.default_dtype())
        if isinstance(data, Tensor):
            data = data._data  # share memory, as torch.nn.Parameter(t) shares t's storage
        super().__init__(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


serialization.register_tensor_kind(Parameter)


_TRAIN_WALK = threading.local()


def _walk(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(dotted name, object) for every Parameter and Module inside a value, looking through lists and dicts."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(f"{name}.{i}", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(f"{name}.{k}", v)


def _shape(x: Any) -> tuple:
    return tuple(int(n) for n in np.shape(x))


class Module:
    """Base class of layers and models: subclasses assign parameters and submodules as attributes.

    Parameters, buffers and submodules are found by walking the instance's attributes (including lists,
    tuples and dicts) in assignment order, so nothing needs registering by hand; a module's own
    parameters and buffers come before its children's, as in PyTorch's state_dict.
    """

    training: bool = True

    def __init__(self) -> None:
        self.training = True
        self._buffers: dict[str, bool] = {}  # buffer name -> persistent (saved in state_dict)
        self._forward_hooks: dict[int, Callable] = {}
        self._forward_pre_hooks: dict[int, Callable] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
        if d.get("_hooks_special"):  # hooks with kwargs, always_call or backward hooks: the full protocol
            return call_with_hooks(self, args, kwargs)
        if not pre and not post:  # the common case: no hooks, no copies of empty hook lists
            return self.forward(*args, **kwargs)
        for hook in list(pre.values()) if pre else ():
            new = hook(self, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        out = self.forward(*args, **kwargs)
        for hook in list(post.values()) if post else ():
            new = hook(self, args, out)
            if new is not None:
                out = new
        return out

    def __setattr__(self, name: str, value: Any) -> None:
        # A registered buffer stays a buffer when reassigned; arrays are wrapped so state_dict sees tensors.
        if value is not None and not isinstance(value, Tensor) and name in self.__dict__.get("_buffers", ()):
            value = Tensor(backend.xp.asarray(value))
        elif isinstance(value, Tensor) and not isinstance(value, Parameter) and \
                isinstance(self.__dict__.get(name), Parameter):
            # As PyTorch: a plain tensor would silently drop the parameter from parameters() and the optimizer.
            raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' (descend.nn.Parameter "
                            f"or None expected)")
        object.__setattr__(self, name, value)

    # --- registration --------------------------------------------------------------------------------
    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add non-learnable state (e.g. running statistics); persistent buffers go into state_dict."""
        if "." in name or not name:
            raise KeyError(f"register_buffer: buffer name {name!r} must be non-empty and contain no '.'")
        self.__dict__.setdefault("_buffers", {})[name] = persistent
        setattr(self, name, tensor)  # __setattr__ wraps arrays in a Tensor

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Same as `setattr(self, name, param)`; kept for PyTorch code."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        setattr(self, name, param)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Same as `setattr(self, name, module)`; kept for PyTorch code."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def _add_hook(self, table: str, hook: Callable, prepend: bool = False, with_kwargs: bool = False,
                  always_call: bool = False) -> RemovableHandle:
        d = self.__dict__
        hooks = d.setdefault(table, {})
        kw, always = d.setdefault("_hooks_with_kwargs", set()), d.setdefault("_hooks_always_call", set())
        special = d.setdefault("_hooks_special", set())  # hooks that need call_with_hooks
        handle = RemovableHandle(hooks, (kw, always, special))
        if prepend:  # the same dict object, which the handle holds, reordered
            rest = list(hooks.items())
            hooks.clear()
            hooks[handle.id] = hook
            hooks.update(rest)
        else:
            hooks[handle.id] = hook
        if with_kwargs:
            kw.add(handle.id)
        if always_call:
            always.add(handle.id)
        if with_kwargs or always_call or table in ("_backward_hooks", "_backward_pre_hooks"):
            special.add(handle.id)
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call `hook(module, args, output)` (with_kwargs: `hook(module, args, kwargs, output)`) after
        forward; a non-None return replaces the output. always_call: run it even if forward raised."""
        return self._add_hook("_forward_hooks", hook, prepend, with_kwargs, always_call)

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call `hook(module, args)` before forward; a non-None return replaces the arguments (a single
        value is wrapped in a tuple). with_kwargs: `hook(module, args, kwargs)` returning (args, kwargs)."""
        return self._add_hook("_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Call `hook(module, grad_input, grad_output)` once the gradients with respect to the module's
        positional inputs are known; a non-None return (a tuple like grad_input) replaces grad_input."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Call `hook(module, grad_output)` when the gradients of the outputs arrive; a non-None return
        replaces grad_output."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    # --- the state walk --------------------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        """This module's direct Parameters and Modules, by dotted name, in assignment order."""
        for name, value in vars(self).items():
            if name not in _INTERNAL:
                yield from _walk(name, value)

    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        return ((n, v) for n, v in self._members() if isinstance(v, Parameter))

    def _own_buffers(self, persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        for name, persistent in self.__dict__.get("_buffers", {}).items():
            value = self.__dict__.get(name)
            if value is not None and (persistent or not persistent_only):
                yield name, value

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct submodules with their names (`'0'`, `'fc'`, `'layers.1'` for a plain list)."""
        seen: set = set()
        for name, value in self._members():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    @property
    def _modules(self) -> ChildrenView:
        return ChildrenView(self)

    def children(self) -> Iterator["Module"]:
        return (m for _, m in self.named_children())

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule, depth first, each once (every time with remove_duplicate=False)."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        children = self.named_children() if remove_duplicate else \
            ((n, m) for n, m in self._members() if isinstance(m, Module))
        for name, child in children:
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        return (m for _, m in self.named_modules())

    def _named_members(self, own: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        """(key, tensor) from each module's `own` getter, each tensor once even if shared (under every key it
        has with remove_duplicate=False)."""
        seen: set = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else \
            iter([(prefix, self)])
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, own)():
                if not remove_duplicate or id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its state_dict key, each shared parameter once (remove_duplicate=False: under
        each of its keys)."""
        return self._named_members("_own_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Every buffer (persistent or not) with its key, each shared buffer once."""
        return self._named_members("_own_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    def get_submodule(self, target: str) -> "Module":
        """The submodule at a dotted path such as `'features.0'`."""
        if not target:
            return self
        modules = dict(self.named_modules())
        if target not in modules:
            raise AttributeError(f"{type(self).__name__} has no submodule {target!r}")
        return modules[target]

    def _get_leaf(self, target: str, kind: str) -> tuple["Module", str, Any]:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod.__dict__:
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}` (looking up the {kind} "
                                 f"{target!r})")
        return mod, name, mod.__dict__[name]

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path such as `'features.0.weight'`."""
        _, name, value = self._get_leaf(target, "parameter")
        if not isinstance(value, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter (looking up {target!r})")
        return value

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path such as `'bn.running_mean'`."""
        mod, name, value = self._get_leaf(target, "buffer")
        if name not in mod.__dict__.get("_buffers", {}):
            raise AttributeError(f"`{name}` is not a buffer (looking up {target!r})")
        return value

    # --- modes and gradients ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout on, batch norm on batch statistics) here and in every submodule through
        its own train(), as PyTorch does (an override, say one keeping a frozen batch norm in eval, is obeyed)."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(): mode must be a bool, got {mode!r}")
        walk = _TRAIN_WALK.__dict__.setdefault("seen", set())  # modules of this train() call, per thread:
        top = not walk  # a child may refer back to its parent through a plain list (descend walks lists)
        walk.add(id(self))
        try:
            self.training = mode
            for m in self.children():
                if id(m) not in walk:
                    m.train(mode)
        finally:
            if top:
                walk.clear()
        return self

    def eval(self) -> "Module":
        """Set evaluation mode; same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to zeros in place)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call fn on every submodule (children first) and then on self, e.g. for custom initialisation."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- state_dict ---------------------------------------------------------------------------------------
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by PyTorch's key names, as tensors sharing the module's memory."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._own_parameters():
            out[prefix + name] = p if keep_vars else Tensor(p._data)
        for name, b in self._own_buffers(persistent_only=True):
            out[prefix + name] = b if keep_vars else Tensor(b._data)
        # Every child, even one seen under another name: PyTorch saves a shared module under each name.
        for name, child in self._members():
            if isinstance(child, Module):
                child.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy arrays or tensors into the existing parameters and buffers in place.

        In place, because optimizers keep parameters as views into flat buffers. Shape mismatches always
        raise; missing or unexpected keys raise when strict. Nothing is copied if anything is wrong.
        With assign=True each parameter and buffer takes the given array itself (sharing its memory and
        keeping its dtype, as PyTorch's assign); a parameter keeps its requires_grad.
        """
        for name, m in list(self.named_modules()):  # lazy modules take their shapes from the state dict
            getattr(m, "_lazy_load", lambda *a: None)(state_dict, f"{name}." if name else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        sources = {}
        for key, dst in own.items():
            if key not in state_dict:
                continue
            src = state_dict[key]
            src = src._data if isinstance(src, Tensor) else backend.get_array_module(dst._data).asarray(src)
            if _shape(src) != _shape(dst._data):
                errors.append(f"size mismatch for {key}: copying a param with shape {_shape(src)} from "
                              f"checkpoint, the shape in current model is {_shape(dst._data)}.")
            sources[key] = src
        if strict:
            head = []
            if missing:
                head.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                head.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            errors = head + errors
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, src in sources.items():
            if assign:
                # Rebinding the array keeps the Parameter object, so lists and dicts holding it stay valid.
                own[key]._data = src
            else:
                own[key]._data[...] = src
        return IncompatibleKeys(missing, unexpected)

    # --- dtype and device -------------------------------------------------------------------------------
    def _convert(self, fn: Callable[[Any], Any], floating_only: bool) -> "Module":
        """Rebind every parameter's and buffer's array to fn(array), keeping the Parameter objects."""
        for t in list(self.parameters()) + list(self.buffers()):
            if floating_only and t._data.dtype.kind != "f":
                continue
            t._data = fn(t._data)
            if t.grad is not None:
                t.grad = Tensor(fn(t.grad._data))
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """Convert floating parameters and buffers to a dtype, or move all of them to 'cpu' / 'cuda'.

        This rebinds arrays (as PyTorch does), so create the optimizer after calling it.
        """
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:  # to(device), to(dtype), to(device, dtype), to(tensor), in any of PyTorch's forms
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif _device_type(a) is not None:
                device = a
            elif a is not None:
                dtype = a
        if device is not None:
            kind = _device_type(device)
            if kind is None:
                raise TypeError(f"Module.to: expected a device such as 'cpu' or 'cuda', got {device!r}")
            self._convert(_device_fn(kind), floating_only=False)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to: only floating dtypes are supported, got {dtype}")
            self._convert(lambda a: a.astype(dtype), floating_only=True)
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def half(self) -> "Module":
        return self.to(np.float16)

    def double(self) -> "Module":
        return self.to(np.float64)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self) -> "Module":
        return self.to("cuda")

    # --- repr ------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings shown inside its repr; override in subclasses."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = []
        for name, child in self.named_children():
            body = repr(child).replace("\n", "\n  ")
            children.append(f"({name}): {body}")
        if not children and len(lines) <= 1:
            return f"{self._get_name()}({extra})"
        return self._get_name() + "(\n  " + "\n  ".join(lines + children) + "\n)"


def _device_type(x: Any) -> str | None:
    """'cpu' or 'cuda' for a device string ('cuda:0') or device object, else None."""
    kind = x if isinstance(x, str) else getattr(x, "type", None)
    if isinstance(kind, str) and kind.split(":")[0] in ("cpu", "cuda", "gpu"):
        return kind.split(":")[0]
    return None


def _device_fn(device: str) -> Callable[[Any], Any]:
    if device == "cpu":
        return backend.to_numpy
    if backend.cuda_device_count() == 0:
        raise RuntimeError(f"Module.to({device!r}): no CUDA device is available (CuPy is missing or sees no "
                           f"GPU), so only 'cpu' is available")
    cuda = backend.device("cuda")
    return lambda a: backend.to_device(a, cuda)


# The containers subclass Module, so they are imported once it exists; `descend.nn.module` keeps exporting them.
from descend.nn.containers import (ModuleDict, ModuleList, ParameterDict, ParameterList,  # noqa: E402,F401
                                   Sequential)

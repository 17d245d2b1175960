"""Module and Parameter: plain classes whose state is found by walking attributes, lists and dicts."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from descend import backend
from descend.tensor import Tensor

# Bookkeeping attributes the state walker never looks into.
_INTERNAL = frozenset({"training", "_buffers", "_forward_hooks", "_forward_pre_hooks"})

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


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


class RemovableHandle:
    """Returned by hook registration; `remove()` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


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

    def _add_hook(self, table: str, hook: Callable) -> RemovableHandle:
        hooks = self.__dict__.setdefault(table, {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, args, output)` after forward; a non-None return replaces the output."""
        return self._add_hook("_forward_hooks", hook)

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, args)` before forward; a non-None return replaces the arguments."""
        return self._add_hook("_forward_pre_hooks", hook)

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

    def children(self) -> Iterator["Module"]:
        return (m for _, m in self.named_children())

    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule, depth first, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        return (m for _, m in self.named_modules())

    def _named_members(self, own: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        """(key, tensor) from each module's `own` getter, each tensor once even if shared."""
        seen: set = set()
        mods = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, own)():
                if id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its state_dict key, each shared parameter once."""
        return self._named_members("_own_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Every buffer (persistent or not) with its key, each shared buffer once."""
        return self._named_members("_own_buffers", prefix, recurse)

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

    # --- modes and gradients ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch norm uses batch statistics) here and in all submodules."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(): mode must be a bool, got {mode!r}")
        for m in self.modules():
            m.training = mode
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

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays or tensors into the existing parameters and buffers in place.

        In place, because optimizers keep parameters as views into flat buffers. Shape mismatches always
        raise; missing or unexpected keys raise when strict. Nothing is copied if anything is wrong.
        """
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
        target = kwargs.get("dtype", kwargs.get("device", args[0] if args else None))
        if target is None:
            return self
        if isinstance(target, str) and target.split(":")[0] in ("cpu", "cuda", "gpu"):
            return self._convert(_device_fn(target.split(":")[0]), floating_only=False)
        dtype = np.dtype(target)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are supported, got {dtype}")
        return self._convert(lambda a: a.astype(dtype), floating_only=True)

    def float(self) -> "Module":
        return self.to(np.float32)

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


def _device_fn(device: str) -> Callable[[Any], Any]:
    if device == "cpu":
        return backend.to_numpy
    if backend._cupy is None:
        raise RuntimeError(f"Module.to({device!r}): CuPy is not installed, so only 'cpu' is available")
    return backend._cupy.asarray


class Sequential(Module):
    """Modules applied in order; indexable, iterable, `append`-able. Children are named '0', '1', ..."""

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def _items(self) -> list[tuple[str, Module]]:
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[Module]:
        return iter([m for _, m in self._items()])

    def __getitem__(self, idx: int | slice) -> Any:
        items = self._items()
        if isinstance(idx, slice):
            return type(self)(OrderedDict(items[idx]))
        return items[_index(idx, len(items), type(self).__name__)][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        items = self._items()
        setattr(self, items[_index(idx, len(items), type(self).__name__)][0], module)

    def __delitem__(self, idx: int | slice) -> None:
        mods = [m for _, m in self._items()]
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(idx, len(mods), type(self).__name__)]
        self._renumber(mods)

    def _renumber(self, mods: list[Module]) -> None:
        """Replace the children by `mods` named '0', '1', ... (PyTorch renumbers after del and insert)."""
        for name, _ in self._items():
            delattr(self, name)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        mods = [m for _, m in self._items()]
        mods.insert(index, module)
        self._renumber(mods)
        return self

    def forward(self, x: Any) -> Any:
        for m in self:
            x = m(x)
        return x


class ModuleList(Sequential):
    """A list of modules whose parameters the parent finds; no forward of its own."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ModuleList([m for _, m in self._items()][idx])
        return super().__getitem__(idx)

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it and call its modules")


class ModuleDict(Module):
    """A dict of modules whose parameters the parent finds."""

    def __init__(self, modules: dict | None = None) -> None:
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, key: str) -> Module:
        return getattr(self, key)

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __contains__(self, key: str) -> bool:
        return isinstance(self.__dict__.get(key), Module)

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        return [k for k, v in vars(self).items() if isinstance(v, Module)]

    def values(self) -> list[Module]:
        return [getattr(self, k) for k in self.keys()]

    def items(self) -> list[tuple[str, Module]]:
        return [(k, getattr(self, k)) for k in self.keys()]


def _index(idx: int, n: int, name: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{name}: index {idx} is out of range for {n} modules")
    return idx % n

"""Containers: Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict.

Each stores its items as attributes ('0', '1', ... or the dict keys), so the state walk of `Module` finds
them with no registration, under PyTorch's state_dict keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Iterable, Iterator

from descend.nn.module import Module, Parameter
from descend._tensor import Tensor


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

    def pop(self, key: int | slice) -> Any:
        """Remove and return the module (or a container of the modules) at `key`; the rest are renumbered."""
        out = self[key]
        del self[key]
        return out

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        out = type(self)()
        for m in list(self) + list(other):
            out.append(m)
        return out

    def __iadd__(self, other: Iterable[Module]) -> "Sequential":
        return self.extend(other)

    def __mul__(self, n: int) -> "Sequential":
        """The same modules repeated n times (shared, not copied), as PyTorch's."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"Non-positive multiplication factor {n} for {type(self).__name__}")
        out = type(self)()
        for m in list(self) * n:
            out.append(m)
        return out

    __rmul__ = __mul__

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

    def __add__(self, other: Iterable[Module]) -> "ModuleList":  # type: ignore[override]
        return ModuleList(list(self) + list(other))

    def __repr__(self) -> str:
        """As PyTorch's: runs of identical modules as one line, `(0-11): 12 x Block(...)`."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return f"{type(self).__name__}()"
        runs: list[list] = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}").replace("\n", "\n  ")
                 for a, b, r in runs]
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

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

    def update(self, modules: Any) -> None:
        """Add or replace modules from a mapping or an iterable of (name, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for name, m in pairs:
            self[name] = m

    def pop(self, key: str) -> Module:
        """Remove the module named `key` and return it."""
        out = self[key]
        delattr(self, key)
        return out

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def clear(self) -> None:
        for name in self.keys():
            delattr(self, name)


def _index(idx: int, n: int, name: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{name}: index {idx} is out of range for {n} modules")
    return idx % n


def _as_parameter(value: Any) -> Any:
    """Tensors become Parameters (as PyTorch's ParameterList/Dict do); other values are kept as they are."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


class ParameterList(Module):
    """A list of parameters whose parent module finds them (state_dict keys '0', '1', ...)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return iter([getattr(self, str(i)) for i in range(self._size)])

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ParameterList([getattr(self, str(i)) for i in range(self._size)][idx])
        return getattr(self, str(_index(idx, self._size, "ParameterList")))

    def __setitem__(self, idx: int, param: Any) -> None:
        setattr(self, str(_index(idx, self._size, "ParameterList")), _as_parameter(param))

    def append(self, value: Any) -> "ParameterList":
        setattr(self, str(self._size), _as_parameter(value))
        self._size += 1
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        lines = []
        for i, p in enumerate(self):
            if isinstance(p, Tensor):
                lines.append(f"  ({i}): Parameter containing: [{p.dtype!r} of size {'x'.join(map(str, p.shape))}]")
            else:
                lines.append(f"  ({i}): Object of type: {type(p).__name__}")
        return "\n".join(lines)

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(); index it and use its parameters")


class ParameterDict(Module):
    """A dict of parameters whose parent module finds them (state_dict keys are the dict keys)."""

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        self._keys: list[str] = []
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or "." in key or not key:
            raise KeyError(f"ParameterDict: key {key!r} must be a non-empty string without '.'")
        if key not in self._keys:
            self._keys.append(key)
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        self._keys.remove(key)
        delattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def keys(self) -> list[str]:
        return list(self._keys)

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self._keys]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self._keys]

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self._keys else default

    def pop(self, key: str) -> Any:
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        for k in list(self._keys):
            del self[k]

    def update(self, parameters: Any) -> None:
        """Add (key, parameter) pairs from a dict, a ParameterDict or an iterable of pairs. A plain dict's keys
        are taken sorted, as PyTorch does (an OrderedDict or a ParameterDict keeps its order)."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = parameters
        for k, v in pairs:
            self[k] = v

    def extra_repr(self) -> str:
        # PyTorch indents these lines by two more spaces than a child module's.
        return "\n".join(f"  ({k}): Parameter containing: [{v.dtype!r} of size {'x'.join(map(str, v.shape))}]"
                         if isinstance(v, Tensor) else f"  ({k}): Object of type: {type(v).__name__}"
                         for k, v in self.items())

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ParameterDict has no forward(); index it and use its parameters")

"""`nn.utils.parametrize`: a tensor attribute computed from other parameters on every access, as PyTorch's
register_parametrization does it — the module's class becomes a subclass with a property for the name, the
original parameters live in `module.parametrizations[name]` (so state-dict keys are PyTorch's:
`parametrizations.weight.original`, or `original0`, `original1` when right_inverse returns several).

>>> import descend
>>> from descend import nn
>>> class Symmetric(nn.Module):
...     def forward(self, x):
...         return x.triu() + x.triu(1).transpose(-1, -2)
>>> m = register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
>>> bool((m.weight == m.weight.T).all()), sorted(m.state_dict())
(True, ['bias', 'parametrizations.weight.original'])
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from descend.nn.containers import ModuleDict, ModuleList
from descend.nn.module import Module, Parameter
from descend._tensor import Tensor, no_grad

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "ParametrizationList",
           "cached"]


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """PyTorch caches each parametrized tensor inside this block; descend recomputes it on each access, which
    gives the same values (only slower when a tensor is read many times)."""
    yield


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s) they start from."""

    def __init__(self, modules: list, original: Tensor, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for m in reversed(modules):  # the originals are what the chain maps to the current value
                inv = getattr(m, "right_inverse", None)
                new = inv(new) if inv is not None else new
        # A parameter's originals are parameters; a buffer's stay buffers (not trained), as in PyTorch.
        is_param = isinstance(original, Parameter)
        if isinstance(new, Tensor):
            self.is_tensor, self.ntensors = True, 1
            # The original tensor object itself, holding the right-inverse's value (PyTorch: set_()).
            original._data = new._data if new is not original else original._data
            self._keep("original", original, is_param)
        else:
            self.is_tensor, self.ntensors = False, len(new)
            for i, t in enumerate(new):
                self._keep(f"original{i}", Parameter(t.detach(), requires_grad=original.requires_grad)
                           if is_param else t.detach(), is_param)

    def _keep(self, name: str, t: Tensor, is_param: bool) -> None:
        if is_param:
            setattr(self, name, t)
        else:
            self.register_buffer(name, t)

    def right_inverse(self, value: Tensor) -> None:
        """Set the originals so the parametrized tensor equals value (through each right_inverse)."""
        with no_grad():
            for m in reversed(list(self)):
                inv = getattr(m, "right_inverse", None)
                value = inv(value) if inv is not None else value
            if self.is_tensor:
                self.original._data[...] = value._data
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}")._data[...] = t._data

    def forward(self) -> Tensor:
        mods = list(self)
        x = mods[0](self.original) if self.is_tensor else \
            mods[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in mods[1:]:
            x = m(x)
        return x


def _inject(module: Module, name: str) -> None:
    """Give the module a class of its own (once) with a property computing `name`."""
    cls = type(module)
    if not getattr(cls, "_is_parametrized_class", False):
        cls = type(f"Parametrized{cls.__name__}", (cls,), {"_is_parametrized_class": True,
                                                            "__module__": cls.__module__})
        module.__class__ = cls

    def get(self: Module) -> Tensor:
        return self.parametrizations[name]()

    def put(self: Module, value: Tensor) -> None:
        self.parametrizations[name].right_inverse(value)

    setattr(cls, name, property(get, put))


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Compute `module.<tensor_name>` as parametrization(original) on every access; a second registration on
    the same name is applied after the first."""
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        return module
    original = getattr(module, tensor_name, None)
    if not isinstance(original, Tensor):
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element "
                         f"with name '{tensor_name}'")
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if "parametrizations" not in module.__dict__:
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    _inject(module, tensor_name)
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    found = module.__dict__.get("parametrizations")
    if not isinstance(found, ModuleDict):
        return False
    return len(found) > 0 if tensor_name is None else tensor_name in found


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Back to a plain parameter: the current (parametrized) value, or the original with leave_parametrized=False."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        with no_grad():
            value = getattr(module, tensor_name)
        if plist.is_tensor:
            plist.original._data = value._data.copy()
            param = plist.original
        else:
            param = Parameter(value.detach())
    else:
        if not plist.is_tensor:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                             "parametrized in terms of a sequence of tensors.")
        param = plist.original
    cls = type(module)
    delattr(cls, tensor_name)
    delattr(module.parametrizations, tensor_name)
    if not is_parametrized(module):
        del module.parametrizations
        module.__class__ = cls.__bases__[0]
    setattr(module, tensor_name, param)
    return module

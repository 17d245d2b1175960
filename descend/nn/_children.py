"""`module._modules`: PyTorch's name -> child mapping, as a live view over the attributes descend walks."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Iterator


class ChildrenView(MutableMapping):
    """The module's direct submodules by name; reading, assigning and deleting go to its attributes, so code
    written against PyTorch's `model._modules` (iterating it, or `model._modules["fc"] = nn.Linear(...)`) works."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def _names(self) -> list[str]:
        return [name for name, _ in self._module.named_children()]

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        return getattr(self._module, name)

    def __setitem__(self, name: str, module: Any) -> None:
        self._module.add_module(name, module)

    def __delitem__(self, name: str) -> None:
        if name not in self._names():
            raise KeyError(name)
        delattr(self._module, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(dict(self.items()))

"""Tensor methods bound in one place: each is the top-level function of the same name (`x.prod(1)` is
`descend.prod(x, 1)`), so the method and the function can never drift apart.

tensor.py defines the engine and the hot-path methods itself; everything else is bound here at import.
"""

from __future__ import annotations

from descend.tensor import Tensor


def bind(names: list[str], namespace: dict) -> None:
    """Set Tensor.<name> = namespace[name] for each name that Tensor does not define itself."""
    for name in names:
        if name not in Tensor.__dict__:
            setattr(Tensor, name, namespace[name])

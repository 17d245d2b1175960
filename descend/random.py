"""`descend.random`: torch.random's functions over descend's global generator (one stream for initialisation,
dropout and shuffling, seeded with `manual_seed`), and `fork_rng` to draw without moving it.

>>> import descend
>>> with descend.random.fork_rng():
...     _ = descend.rand(3)
>>> isinstance(descend.random.initial_seed(), int)
True
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from descend.ops.random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state

__all__ = ["manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state", "fork_rng"]


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda") -> Iterator[None]:
    """Run the block, then put the global generator back where it was."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)

"""`descend.amp` (and `descend.cuda.amp`): PyTorch's mixed-precision entry points, so scripts written for them
run unchanged. descend computes in the tensors' own dtype (float32 or float64), where neither the speed-up nor
the underflow that float16 training guards against exists, so:

- `autocast(...)` is a context manager and decorator that changes nothing (results are float32, as PyTorch's
  would be outside autocast: more precise than bfloat16/float16 ones, not bit-identical to them);
- `GradScaler` keeps the scale at 1.0: `scale(loss)` is the loss, `unscale_` does nothing, and `step` skips the
  optimizer step when a gradient is inf or NaN, as PyTorch's does.

>>> import descend
>>> with descend.autocast("cpu", dtype=descend.bfloat16):
...     y = descend.ones(2) * 3
>>> y.dtype
descend.float32
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from descend import backend

__all__ = ["autocast", "GradScaler", "is_autocast_available"]


class autocast:
    """Accepted for PyTorch code; computation stays in the tensors' own dtype."""

    def __init__(self, device_type: str = "cuda", dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type, self.fast_dtype, self._enabled = device_type, dtype, bool(enabled)

    def __enter__(self) -> "autocast":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_available(device_type: str) -> bool:
    return True


class GradScaler:
    """PyTorch's loss scaler with the scale held at 1.0 (see the module's docstring)."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._enabled = bool(enabled)
        self._growth_factor, self._backoff_factor, self._growth_interval = growth_factor, backoff_factor, \
            growth_interval

    def scale(self, outputs: Any) -> Any:
        return outputs

    def unscale_(self, optimizer: Any) -> None:
        return None

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """optimizer.step(), unless a gradient holds an inf or NaN (then the step is skipped, as PyTorch's)."""
        if self._enabled:
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None and not np.isfinite(backend.to_numpy(p.grad._data)).all():
                        return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        return None

    def get_scale(self) -> float:
        return 1.0

    def is_enabled(self) -> bool:
        return self._enabled

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def state_dict(self) -> dict:
        return {"scale": 1.0, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": 0} if self._enabled else {}

    def load_state_dict(self, state_dict: dict) -> None:
        return None

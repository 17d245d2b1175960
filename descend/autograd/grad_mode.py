"""Grad modes: whether ops record the graph (`no_grad`, `enable_grad`, `set_grad_enabled`, `inference_mode`)."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Callable


import descend._tensor as _t  # the module: its _epoch and hooks change at run time



def _decorate(fn: Any, mode: Callable[[], Any]) -> Any:
    """fn run inside `mode()`; a generator function has each of its resumptions run inside it (and the caller's
    code between them outside it), as PyTorch's grad-mode decorators do."""
    if not inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return wrapper

    @functools.wraps(fn)
    def generator(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        try:
            with mode():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with mode():
                        gen.close()
                    raise
                except BaseException:
                    with mode():
                        response = gen.throw(*sys.exc_info()[1:2])
                else:
                    with mode():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value

    return generator


class _GradMode:
    """Sets the recording flag on enter and restores it on exit; usable as a decorator too."""

    _mode = False

    def __enter__(self) -> None:
        self._prev = _t._grad_enabled
        _t._grad_enabled = self._mode

    def __exit__(self, *exc: Any) -> None:
        _t._grad_enabled = self._prev

    def __call__(self, fn: Any) -> Any:
        return _decorate(fn, type(self))

    def clone(self) -> "_GradMode":
        return type(self)()


class _NoArgGradMode(_GradMode):
    """A mode without arguments, so that the bare decorator works too (`@no_grad` as well as `@no_grad()`)."""

    def __new__(cls, orig_func: Any = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoArgGradMode):
    """Context manager (and decorator) that stops ops from recording the graph.

    >>> import descend
    >>> x = descend.ones(2, requires_grad=True)
    >>> with descend.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _mode = False


class enable_grad(_NoArgGradMode):
    """Context manager that turns graph recording back on inside `no_grad`."""

    _mode = True


class set_grad_enabled(_GradMode):
    """`set_grad_enabled(False)` as a call, a context manager or a decorator (PyTorch's three uses)."""

    def __init__(self, mode: bool) -> None:
        self._prev = _t._grad_enabled
        self._mode = bool(mode)
        _t._grad_enabled = self._mode  # as a plain call it takes effect at once

    def __enter__(self) -> None:
        _t._grad_enabled = self._mode

    def __call__(self, fn: Any) -> Any:
        _t._grad_enabled = self._prev  # used as a decorator: undo the call's effect
        mode = self._mode
        return _decorate(fn, lambda: set_grad_enabled(mode))

    def clone(self) -> "set_grad_enabled":
        return set_grad_enabled(self._mode)


_inference = [False]


class inference_mode(_GradMode):
    """Like `no_grad` (descend has no separate inference tensors); `inference_mode(False)` changes nothing."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # the bare decorator, @inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self._enabled = bool(mode)

    def __enter__(self) -> None:
        self._prev, self._prev_inference = _t._grad_enabled, _inference[0]
        if self._enabled:
            _t._grad_enabled = False
            _inference[0] = True

    def __exit__(self, *exc: Any) -> None:
        _t._grad_enabled = self._prev
        _inference[0] = self._prev_inference

    def __call__(self, fn: Any) -> Any:
        enabled = self._enabled
        return _decorate(fn, lambda: inference_mode(enabled))


def is_inference_mode_enabled() -> bool:
    """Whether the innermost inference_mode block is active."""
    return _inference[0]

"""The exception ops raise on bad shapes, dtypes and arguments."""

from __future__ import annotations


class OpError(RuntimeError, ValueError):
    """A bad shape, dtype or argument for an op: a RuntimeError as in PyTorch, and a ValueError as before."""


class OpTypeError(RuntimeError, TypeError):
    """A dtype an op cannot take: a RuntimeError as in PyTorch, and a TypeError as before."""


class OpIndexError(IndexError, RuntimeError):
    """An index or dim out of range: an IndexError, and a RuntimeError where PyTorch raises one."""

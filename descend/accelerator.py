"""`descend.accelerator`: PyTorch 2.6+'s device-agnostic accelerator query (CUDA through CuPy, or none)."""

from __future__ import annotations

from descend import backend, cuda


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> backend.device | None:
    """device('cuda') when a GPU is usable, else None (as PyTorch on a CPU-only machine)."""
    return backend.device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()

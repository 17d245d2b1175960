"""`descend.cuda`: whether a CUDA GPU is usable (through CuPy), as `torch.cuda` answers it."""

from __future__ import annotations

from descend import backend


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return backend.cuda_device_count() > 0


def device_count() -> int:
    return backend.cuda_device_count()


def current_device() -> int:
    if not is_available():
        raise RuntimeError("Torch not compiled with CUDA enabled: no CUDA device is available to descend")
    return int(backend._cupy.cuda.Device().id)


def manual_seed(seed: int) -> None:
    """Seeds the one generator descend uses on every device (kept for scripts that call it)."""
    backend.manual_seed(seed)


manual_seed_all = manual_seed


def synchronize(device: object = None) -> None:
    if is_available():
        backend._cupy.cuda.Device().synchronize()


def is_bf16_supported() -> bool:
    return is_available()


def empty_cache() -> None:
    """Give CuPy's cached GPU memory back (nothing to do without a GPU)."""
    if is_available():
        backend._cupy.get_default_memory_pool().free_all_blocks()


def memory_allocated(device: object = None) -> int:
    """Bytes held by tensors on the GPU (CuPy's memory pool); 0 without a GPU."""
    return int(backend._cupy.get_default_memory_pool().used_bytes()) if is_available() else 0


def max_memory_allocated(device: object = None) -> int:
    """The pool's total size, the closest CuPy keeps to a peak; 0 without a GPU."""
    return int(backend._cupy.get_default_memory_pool().total_bytes()) if is_available() else 0


def reset_peak_memory_stats(device: object = None) -> None:
    return None

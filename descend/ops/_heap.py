"""Keep freed array memory in the process heap between training steps (glibc only).

A training step frees megabytes of activations and allocates them again in the next step. With glibc's default
(dynamic) settings the freed top of the heap is handed back to the kernel once it exceeds twice the largest
array freed so far, and every step then page-faults its activations in again: on the CNN 28x28 benchmark that
is ~40% of the step (43 -> 26 ms with the settings below; PyTorch's step does not change). Peak memory is
unchanged, since what is kept is what the previous step used.

The settings are glibc's own upper limits for its dynamic thresholds: arrays below 32 MB come from the heap,
larger ones are mapped and unmapped directly; up to 256 MB of freed heap top is kept. Nothing is changed when
the user set any MALLOC_* tuning variable, off glibc, or with DESCEND_MALLOC_TUNING=0.

Importing descend changes nothing: the training loops call `tune_heap()` when they start (it is process-wide,
so it is applied once, on the first fit); a hand-written loop calls `descend.ops.tune_heap()` itself.
"""

from __future__ import annotations

import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024

applied = False


def tune_heap() -> bool:
    """Apply the settings once; True if they are in effect."""
    global applied
    if applied:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("DESCEND_MALLOC_TUNING", "1") == "0":
        return False
    if any(k.startswith("MALLOC_") for k in os.environ):
        return False  # the user tunes glibc's allocator already
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: no mallopt to call
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD,
                                                                               TRIM_THRESHOLD))
    return applied

"""The run directory: the one owner of its on-disk format and of every file operation on it.

A run directory is copied, downloaded and shared, so everything in it is untrusted input: no symlink below
its root is followed, index entries are plain names inside checkpoints/, JSON has one codec and a depth
limit, one process writes a run at a time (`RunLock`), and code in it is imported only when this user signed
it (`trust`). Only the standard library, NumPy and descend.io are imported here, so every layer may use it.
"""

from __future__ import annotations

from descend.rundir import codec, index, layout, metrics, safe, trust
from descend.rundir.codec import dumps, from_json, loads, to_json
from descend.rundir.errors import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, RunDirError, RunLocked, UntrustedCode
from descend.rundir.lock import RunLock, holder
from descend.rundir.safe import check_below, inside, remove_temp_files

__all__ = [
    "EXIT_BAD_INPUT", "EXIT_ENVIRONMENT", "RunDirError", "RunLock", "RunLocked", "UntrustedCode",
    "check_below", "codec", "dumps", "from_json", "holder", "index", "inside", "layout", "loads", "metrics",
    "remove_temp_files", "safe", "to_json", "trust",
]

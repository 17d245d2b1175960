"""One writer per run: an exclusive flock on <run>/.lock, held until the run is closed (or the process dies,
when the kernel releases it, so a SIGKILL never leaves a stale lock). Readers do not lock."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from descend.rundir import layout
from descend.rundir.errors import RunLocked
from descend.rundir.safe import inside, open_fd

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not protected there
    fcntl = None  # type: ignore[assignment]

# This process's locks by run directory: a process may open its own run more than once (the API, tests).
_held: dict[str, list] = {}


class RunLock:
    """The lock of one run directory, held by this process; `release()` (or exit) gives it back."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.key = os.path.realpath(run_dir)
        self.released = False
        if self.key in _held:
            _held[self.key][1] += 1
            return
        path = inside(run_dir, layout.LOCK)
        fd = open_fd(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise RunLocked(f"{run_dir}: the run is being written by {holder}; wait for it to finish (or "
                                f"stop it) before writing to this run") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({' '.join(sys.argv)[:200]})\n".encode(), 0)
        _held[self.key] = [fd, 1]

    def release(self) -> None:
        """Give the lock back (once; the file stays, so the next writer opens the same inode)."""
        if self.released:
            return
        self.released = True
        entry = _held.get(self.key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.key]
            os.close(entry[0])  # closing the last descriptor releases the flock


def holder(run_dir: str | os.PathLike) -> str | None:
    """Who writes the run now ("process PID (command)"), or None when nobody holds its lock."""
    path = Path(run_dir) / layout.LOCK
    if fcntl is None or not path.is_file() or path.is_symlink():
        return None
    fd = open_fd(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
    finally:
        os.close(fd)

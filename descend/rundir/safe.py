"""File operations inside a run directory that never follow a symlink below the run's root.

A run directory is copied, downloaded and shared, so it is untrusted input: a `metrics.jsonl` that is a link
to ~/.bashrc must not be truncated, a `checkpoints/` that is a link must not be pruned, and a FIFO named as a
file must not hang a reader. The run's root itself may be a symlink (users link runs around).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from descend import io
from descend.rundir.errors import RunDirError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TEMP = re.compile(r"^\..+\.tmp$")  # io.atomic_write's temporary files: .<name>.<random>.tmp


def check_name(name: object, where: str) -> str:
    """A plain file name (no directory part, not '.' or '..', no NUL), else RunDirError naming `where`."""
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
            or "\0" in name):
        raise RunDirError(f"{where}: {name!r} is not a plain file name")
    return name


def inside(root: str | os.PathLike, *names: str) -> Path:
    """root/names..., checking that each name is plain and that no existing component below root is a
    symlink (RunDirError naming it)."""
    path = Path(root)
    for name in names:
        check_name(name, str(path))
        path = path / name
        if path.is_symlink():
            raise RunDirError(f"{path}: is a symbolic link; a run directory's files must be real files "
                              f"(links are never followed inside a run)")
    return path


def check_below(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """`path`, which must lie below `root` with no symlink among its components below root."""
    root, path = Path(root), Path(path)
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise RunDirError(f"{path}: not inside the run directory {root}") from None
    return inside(root, *rel.parts) if rel.parts else root


def open_fd(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symlink (O_NOFOLLOW) and anything but a regular file (a FIFO never blocks)."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as e:
        if e.errno == getattr(os, "ELOOP", None) or (os.path.islink(path)):
            raise RunDirError(f"{path}: is a symbolic link; links are never followed inside a run") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise RunDirError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return fd


def read_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of a regular file (no symlink); RunDirError when larger than `limit`."""
    fd = open_fd(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise RunDirError(f"{path}: {size} bytes, more than the {limit} allowed for this file")
        return f.read()


def read_text(path: str | os.PathLike, limit: int | None = None) -> str:
    """UTF-8 text of a regular file (RunDirError naming the byte when it is not UTF-8)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path}: not a UTF-8 text file (byte {e.start})") from None


def open_append(path: str | os.PathLike):  # noqa: ANN201 (a text file object)
    """A text file opened for appending (created if absent), refusing a symlink or a non-regular file."""
    fd = open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "a", encoding="utf-8")


def truncate(path: str | os.PathLike, size: int) -> None:
    """Cut a regular file back to `size` bytes (never through a symlink)."""
    fd = open_fd(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(root: str | os.PathLike, *names: str, text: str) -> Path:
    """Write root/names atomically (a temporary file renamed over it: a symlink there is replaced, never
    followed), after checking that no directory on the way is a symlink."""
    path = inside(root, *names)
    io.atomic_write_text(path, text)
    return path


def remove_temp_files(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted atomic write left (.<name>.<random>.tmp) in the run and in
    its checkpoints/ (call only while holding the run's lock); returns what was removed."""
    removed = []
    for directory in (Path(run_dir), Path(run_dir) / "checkpoints"):
        if directory.is_symlink() or not directory.is_dir():
            continue
        for entry in os.scandir(directory):
            if _TEMP.match(entry.name) and (entry.is_symlink() or entry.is_file(follow_symlinks=False)):
                os.unlink(entry.path)  # unlinking a link removes the link, never its target
                removed.append(Path(entry.path))
    return removed

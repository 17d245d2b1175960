"""The errors of the run-directory layer: each is one line, with the exit status the CLI returns."""

from __future__ import annotations

EXIT_ENVIRONMENT = 1  # the disk, permissions, another process: not the user's input
EXIT_BAD_INPUT = 2


class RunDirError(ValueError):
    """A run directory (or a file in it) that cannot be used as it is: bad input, exit status 2."""

    status = EXIT_BAD_INPUT


class RunLocked(RunDirError):
    """Another process is writing the run: an environment problem, exit status 1."""

    status = EXIT_ENVIRONMENT


class UntrustedCode(RunDirError):
    """A code file from a run directory that this user has not signed."""

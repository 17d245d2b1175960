"""The exceptions every layer shares, and the exit statuses the command line gives them."""

from __future__ import annotations

EXIT_USAGE = 2     # bad input: config, flags, data files, run directories
EXIT_DIVERGED = 3  # `descend train`: the run diverged (its run directory is complete all the same)


class UsageError(Exception):
    """Bad user input (config, flags, data files, run directories): the CLI prints it as one line, exit 2."""

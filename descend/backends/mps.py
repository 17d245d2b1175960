"""Apple's Metal backend: descend has none, so it is never available (as PyTorch on Linux)."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False

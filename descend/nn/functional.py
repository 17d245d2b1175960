"""`descend.nn.functional`, PyTorch's spelling of `descend.functional` (`import descend.nn.functional as F`)."""

from descend import functional as _functional

# Mirror descend.functional's public names, so the two spellings can never drift apart.
__all__ = list(_functional.__all__)
globals().update({name: getattr(_functional, name) for name in __all__})

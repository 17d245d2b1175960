"""`descend.backends`: the flags PyTorch scripts query (`torch.backends.mps.is_available()`, cudnn settings)."""

from descend.backends import cudnn, mps

__all__ = ["cudnn", "mps"]

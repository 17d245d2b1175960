"""`descend.backends`: the flags PyTorch scripts query (`torch.backends.mps.is_available()`, cudnn settings)."""

from descend.backends import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]

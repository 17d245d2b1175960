"""PyTorch's `torch.utils` import paths: `descend.utils.data` is `descend.data`'s datasets and loaders."""

from descend.utils import data

__all__ = ["data"]

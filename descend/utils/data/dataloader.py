"""`torch.utils.data.dataloader` under its PyTorch name, for code that imports from there: the same objects as
`descend.data`."""

from descend.data import DataLoader, default_collate, default_convert, get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

"""`torch.utils.data.distributed`: DistributedSampler (descend.distributed's, the same class)."""

from descend.distributed.sampler import DistributedSampler

__all__ = ["DistributedSampler"]

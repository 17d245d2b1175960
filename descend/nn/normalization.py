"""Batch, layer and group normalisation, with PyTorch's running-statistics rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend.nn import init
from descend.nn.module import Module, Parameter
from descend._tensor import Tensor
from descend.ops.errors import OpError


class _BatchNorm(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        xp, dt = backend.xp, backend.default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(xp.ones(num_features, dtype=dt)) if affine else None
        self.bias = Parameter(xp.zeros(num_features, dtype=dt)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", xp.zeros(num_features, dtype=dt))
            self.register_buffer("running_var", xp.ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Running mean 0, running variance 1, weight 1, bias 0 (PyTorch's defaults)."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check(self, x: Tensor) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            # momentum=None means a cumulative moving average: the k-th batch gets weight 1/k.
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        # Batch statistics in training, or whenever there are no running statistics to use.
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _name(self) -> str:
        return f"{type(self).__name__}({self.num_features})"


class BatchNorm1d(_BatchNorm):
    """Normalise each of C features over the batch (and length): input (N, C) or (N, C, L)."""

    def _check(self, x: Tensor) -> None:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise OpError(f"{self._name()}: expected input (N, {self.num_features}) or "
                          f"(N, {self.num_features}, L), got {tuple(x.shape)}")


class BatchNorm2d(_BatchNorm):
    """Normalise each of C channels over the batch and both spatial dims: input (N, C, H, W)."""

    def _check(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise OpError(f"{self._name()}: expected input (N, {self.num_features}, H, W), "
                          f"got {tuple(x.shape)}")


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` dims of each sample, then scale and shift."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        xp, dt = backend.xp, backend.default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(xp.ones(self.normalized_shape, dtype=dt)) if elementwise_affine else None
        self.bias = Parameter(xp.zeros(self.normalized_shape, dtype=dt)) if elementwise_affine and bias \
            else None
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - n:]) != self.normalized_shape or x.ndim < n:
            raise OpError(f"LayerNorm({self.normalized_shape}): expected input (..., "
                          f"{', '.join(map(str, self.normalized_shape))}), got {tuple(x.shape)}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each sample over `num_groups` groups of channels (and all positions), then scale and shift
    per channel; the same in training and evaluation (no running statistics)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        xp, dt = backend.xp, backend.default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(xp.ones(num_channels, dtype=dt)) if affine else None
        self.bias = Parameter(xp.zeros(num_channels, dtype=dt)) if affine and bias else None
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise OpError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected input "
                          f"(N, {self.num_channels}, ...), got {tuple(x.shape)}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")

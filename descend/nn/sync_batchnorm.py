"""SyncBatchNorm: batch normalisation whose statistics are computed over the batches of all ranks.

nn sits below descend.distributed, so it does not import it: `descend.distributed.init()` installs the
all-reduce through `set_all_reduce`. Without one (a single process) SyncBatchNorm is exactly BatchNorm, as
PyTorch's is outside a process group.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend.backend import get_array_module, to_numpy
from descend.nn.module import Module
from descend.nn.normalization import _BatchNorm
from descend._tensor import Function, Tensor
from descend.ops.errors import OpError

_all_reduce: Callable[[Any], Any] | None = None  # sums a float64 array over all ranks (in place or returned)


def set_all_reduce(fn: Callable[[Any], Any] | None) -> None:
    """Install the sum-over-ranks that SyncBatchNorm uses (descend.distributed.init does this)."""
    global _all_reduce
    _all_reduce = fn


class _SyncBatchNormFn(Function):
    """Batch norm over the union of every rank's batch: the forward all-reduces (count, sum, sum of squares)
    per channel, the backward the sums of the output gradient and of its product with the normalised input."""

    def forward(self, x, w, b, running_mean=None, running_var=None, momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        self.axes, self.shape = axes, (1, c) + (1,) * (x.ndim - 2)
        x64 = x.astype(np.float64)
        # The statistics travel through host memory (MPI is not assumed to read device arrays).
        local = np.concatenate([[x.size // c], to_numpy(x64.sum(axis=axes)),
                                to_numpy((x64 * x64).sum(axis=axes))])
        total = _all_reduce(local)
        n = total[0]
        if n <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks, got {n:.0f}")
        mean = total[1:c + 1] / n
        var = np.maximum(total[c + 1:] / n - mean * mean, 0.0)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += xp.asarray((momentum * mean).astype(running_mean.dtype))
            running_var *= 1 - momentum
            running_var += xp.asarray((momentum * var * n / (n - 1)).astype(running_var.dtype))
        self.n = n
        self.invstd = xp.asarray((1 / np.sqrt(var + eps)).astype(x.dtype).reshape(self.shape))
        self.xhat = (x - xp.asarray(mean.astype(x.dtype).reshape(self.shape))) * self.invstd
        self.w = w
        y = self.xhat if w is None else self.xhat * w.reshape(self.shape)
        return y if b is None else y + b.reshape(self.shape)

    def backward(self, g):
        c = self.xhat.shape[1]
        gw = g if self.w is None else g * self.w.reshape(self.shape)
        xp = get_array_module(g)
        sums = np.concatenate([to_numpy(gw.sum(axis=self.axes, dtype=np.float64)),
                               to_numpy((gw * self.xhat).sum(axis=self.axes, dtype=np.float64))])
        sums = _all_reduce(sums)
        mean_g = xp.asarray((sums[:c] / self.n).astype(g.dtype).reshape(self.shape))
        mean_gx = xp.asarray((sums[c:] / self.n).astype(g.dtype).reshape(self.shape))
        dx = self.invstd * (gw - mean_g - self.xhat * mean_gx)
        dw = (g * self.xhat).sum(axis=self.axes) if self.w is not None else None
        db = g.sum(axis=self.axes)
        return dx, dw, db


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, ...) inputs whose training statistics are reduced over all ranks of the job.

    Gradients flow through the shared statistics as if the ranks' batches were one batch (PyTorch's
    SyncBatchNorm); in eval mode, or in a single process, it is BatchNorm.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group: Any = None,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group  # accepted for PyTorch code: the group is always COMM_WORLD

    def _check(self, x: Tensor) -> None:
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise OpError(f"{self._name()}: expected input (N, {self.num_features}, ...), "
                          f"got {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        if _all_reduce is None or not self.training:
            return super().forward(x)
        self._check(x)
        factor = 0.0 if self.momentum is None else self.momentum
        track = self.track_running_stats
        if track:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        return _SyncBatchNormFn.apply(x, self.weight, self.bias,
                                      running_mean=self.running_mean._data if track else None,
                                      running_var=self.running_var._data if track else None,
                                      momentum=factor, eps=self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """`module` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm holding the same state."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            return _converted(module, process_group)
        for name, value in list(vars(module).items()):
            new = _convert_value(value, process_group)
            if new is not value:
                object.__setattr__(module, name, new)
        return module


def _converted(bn: _BatchNorm, process_group: Any) -> SyncBatchNorm:
    sync = SyncBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats,
                         process_group)
    # The same Parameter objects, so an optimizer built before the conversion still updates them.
    sync.weight, sync.bias = bn.weight, bn.bias
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        setattr(sync, name, getattr(bn, name))
    sync.training = bn.training
    return sync


def _convert_value(value: Any, process_group: Any) -> Any:
    """A converted module, or a container converted element by element (the same object when unchanged)."""
    if isinstance(value, Module):
        return SyncBatchNorm.convert_sync_batchnorm(value, process_group)
    if isinstance(value, list):
        for i, v in enumerate(value):
            value[i] = _convert_value(v, process_group)
        return value
    if isinstance(value, tuple):
        new = tuple(_convert_value(v, process_group) for v in value)
        return value if all(a is b for a, b in zip(new, value)) else new
    if isinstance(value, dict):
        for k, v in list(value.items()):
            value[k] = _convert_value(v, process_group)
        return value
    return value

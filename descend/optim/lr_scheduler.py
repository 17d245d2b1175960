"""PyTorch-named learning-rate schedulers: thin objects over the pure schedules in `descend.optim.schedules`.

A scheduler evaluates `lr(last_epoch)` for each param group and writes it into the group (CyclicLR and
OneCycleLR also write the momentum, or Adam's beta1); the optimizer reads the group's lr at every step.
ReduceLROnPlateau reacts to a metric, so it is stateful by nature.

Where this differs from PyTorch: PyTorch's StepLR, MultiStepLR, ExponentialLR, LinearLR and CosineAnnealingLR
update the lr recursively from the group's current lr ("chainable" form). In normal use that gives the
closed-form values up to rounding (a few ulps; the tests hold them to rtol 1e-12 over 300 steps). They differ
when (a) the group's lr is edited by hand between steps (PyTorch compounds the edit; here the next step
overwrites it), (b) two schedulers drive one optimizer at once (PyTorch multiplies their factors; here the last
one to step wins: use SequentialLR, ChainedScheduler or compose schedules), (c) a scheduler is built with
last_epoch >= 0 (here: the closed form at last_epoch + 1), (d) OneCycleLR, which rewrites 'initial_lr',
follows another scheduler inside SequentialLR.
"""

from __future__ import annotations

import math
import types
from collections import Counter
from typing import Callable, Iterable, Sequence

from descend.optim import schedules
from descend.optim._lr_compose import ChainedScheduler, ReduceLROnPlateau, SequentialLR
from descend.optim._lr_cyclic import CyclicLR, OneCycleLR
from descend.optim._scheduler_base import LRScheduler, _check_optimizer, _per_group
from descend.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
           "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]
_ = (_per_group, ChainedScheduler, CyclicLR, OneCycleLR, ReduceLROnPlateau, SequentialLR)  # re-exported


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), one lambda per group or one for all."""

    _unsaved = LRScheduler._unsaved + ("lr_lambdas",)

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.scaled(base_lr, self.lr_lambdas[i])

    def state_dict(self) -> dict:
        state = super().state_dict()
        # Functions cannot be saved; callable objects save their attributes (as PyTorch does).
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)
        super().load_state_dict(state)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size).

    >>> import descend
    >>> opt = descend.optim.SGD([descend.nn.Parameter(descend.zeros(1))], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(sched.get_last_lr()[0])
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.step_decay(base_lr, self.step_size, self.gamma)


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones reached)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.multistep_decay(base_lr, list(self.milestones.elements()), self.gamma)


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.exponential(base_lr, self.gamma)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (SGDR without restarts)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.cosine(base_lr, self.T_max, self.eta_min)


class LinearLR(LRScheduler):
    """lr = initial_lr * factor, the factor going linearly from start_factor to end_factor over total_iters."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.linear(base_lr, self.start_factor, self.end_factor, self.total_iters)


class MultiplicativeLR(LambdaLR):
    """lr = initial_lr * Π_{e=1..epoch} lr_lambda(e) (PyTorch multiplies the current lr at every step)."""

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.multiplicative(base_lr, self.lr_lambdas[i])


class ConstantLR(LRScheduler):
    """lr = initial_lr * factor until total_iters steps have passed, then initial_lr."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if factor > 1.0 or factor < 0:
            raise ValueError(f"ConstantLR: constant multiplicative factor expected to be between 0 and 1, "
                             f"got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.constant_then(base_lr, self.factor, self.total_iters)


class PolynomialLR(LRScheduler):
    """lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.polynomial(base_lr, self.total_iters, self.power)


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter 2017): cosine from initial_lr down to eta_min over T_i steps, then a restart;
    the first period is T_0 and each next one T_mult times longer. `step(epoch)` takes fractional epochs."""

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a positive integer T_0, got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a float eta_min, got {eta_min!r}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        self.T_i, self.T_cur = T_0, last_epoch
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return schedules.cosine_restarts(base_lr, self.T_0, self.T_mult, self.eta_min)

    def _apply(self, epoch: float) -> None:
        super()._apply(epoch)
        self.T_cur, self.T_i = schedules.restart_position(epoch, self.T_0, self.T_mult)
        self.last_epoch = math.floor(epoch)

"""Schedulers over other schedulers (SequentialLR, ChainedScheduler) and the metric-driven ReduceLROnPlateau."""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, Sequence

from descend.optim._scheduler_base import LRScheduler, _check_optimizer, _per_group
from descend.optim.optimizer import Optimizer


class _OverSchedulers(LRScheduler):
    """A scheduler over other schedulers of one optimizer; its state dict holds theirs."""

    _unsaved = LRScheduler._unsaved + ("_schedulers",)

    def _take(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None) -> None:
        """Keep `schedulers`, checked: some, none metric-driven, all of `optimizer` (or of the first's)."""
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler")
        optimizer = optimizer or schedulers[0].optimizer
        _check_optimizer(optimizer)
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"{name} does not support ReduceLROnPlateau (index {i}): its step needs a "
                                 f"metric")
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"{name}: scheduler {i} ({type(s).__name__}) belongs to another optimizer")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)

    def _build(self) -> None:
        pass

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        subs = state.pop("_schedulers")
        self.__dict__.update(state)
        for s, sd in zip(self._schedulers, subs):
            s.load_state_dict(sd)


class SequentialLR(_OverSchedulers):
    """Run schedulers one after another: scheduler i from milestones[i-1] on, restarted at its step 0 there.

    A linear warm-up over three steps, then halving each step:

    >>> import descend
    >>> from descend.optim.lr_scheduler import ExponentialLR, LinearLR
    >>> opt = descend.optim.SGD([descend.nn.Parameter(descend.zeros(1))], lr=1.0)
    >>> warmup = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> sched = SequentialLR(opt, [warmup, ExponentialLR(opt, gamma=0.5)], milestones=[3])
    >>> lrs = []
    >>> for step in range(6):
    ...     lrs.append(sched.get_last_lr()[0])
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self._take(schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers: got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self._step_count = 0
        # Undo what the schedulers wrote when they were built, then start the one that runs at step 0.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        for s in self._schedulers:
            s.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._step_count = 0
        first.step()
        self._last_lr = first.get_last_lr()

    def _route(self, epoch: int) -> tuple[LRScheduler, int]:
        i = bisect_right(self._milestones, epoch)
        return self._schedulers[i], epoch - (self._milestones[i - 1] if i > 0 else 0)

    def lr_at(self, epoch: int) -> list[float]:
        sched, local = self._route(epoch)
        return sched.lr_at(local)

    def _apply(self, epoch: int) -> None:
        self.last_epoch = epoch
        sched, local = self._route(epoch)
        sched._step_count += 1
        sched._apply(local)
        self._last_lr = sched.get_last_lr()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` when the metric has not improved for more than `patience` steps.

    Improvement is relative (threshold_mode='rel': better than best * (1 -/+ threshold)) or absolute ('abs');
    after a reduction, `cooldown` steps pass before bad steps count again; lr never goes below min_lr, and
    reductions smaller than eps are skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        _check_optimizer(optimizer)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("min_lr", optimizer, list(min_lr))
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._step_count = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _build(self) -> None:
        pass

    def lr_at(self, epoch: int) -> list[float]:
        raise TypeError("ReduceLROnPlateau has no lr(step) function: its lr depends on the metrics it was fed")

    def get_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value `a` improves on `best` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Feed one metric value (e.g. the validation loss)."""
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._step_count += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps during cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer now has {len(groups)} param groups but "
                                   f"min_lr has {len(self.min_lrs)} values; update `min_lrs`")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class ChainedScheduler(_OverSchedulers):
    """Step several schedulers together; the lr is initial_lr times the product of their factors.

    Each scheduler's factor is its lr(step) / initial_lr, so this equals PyTorch's chaining (each scheduler
    multiplying the lr left by the previous one) for the multiplicative schedulers (StepLR, MultiStepLR,
    ExponentialLR, ConstantLR, LinearLR, PolynomialLR, MultiplicativeLR, and CosineAnnealingLR with eta_min=0).
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        self._take(schedulers, optimizer)
        self.base_lrs = [group["initial_lr"] for group in self.optimizer.param_groups]
        self.last_epoch = 0
        self._step_count = 0
        self._write()

    def _write(self) -> None:
        lrs = list(self.base_lrs)
        for s in self._schedulers:
            for g, (lr, base) in enumerate(zip(s.lr_at(s.last_epoch), s.base_lrs)):
                lrs[g] *= lr / base if base != 0 else 0.0
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def step(self, epoch: int | None = None) -> None:
        """Step every scheduler, then write the product of their factors."""
        self._step_count += 1
        self.last_epoch += 1
        for s in self._schedulers:
            s.step()
        self._write()

    def lr_at(self, epoch: int) -> list[float]:
        raise TypeError("ChainedScheduler has no single lr(step): its schedulers keep their own step counts")

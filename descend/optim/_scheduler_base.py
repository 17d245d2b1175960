"""The scheduler base class: `step()` evaluates each group's pure schedule at last_epoch and writes it."""

from __future__ import annotations

from typing import Any

from descend.optim import schedules
from descend.optim.optimizer import Optimizer


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list:
    """A value per param group: a list/tuple of the right length, or one value repeated."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one value per param group: got {len(value)} values for {n} "
                             f"groups")
        return list(value)
    return [value] * n


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base: `step()` advances last_epoch and writes each group's schedule value into group['lr']."""

    # Attributes that are not plain data: rebuilt by _build() instead of saved.
    _unsaved: tuple[str, ...] = ("optimizer", "_schedules", "_momenta")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch}; load the optimizer's state first")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._build()
        self.step()

    # --- the schedule ----------------------------------------------------------------------------------
    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build(self) -> None:
        """Make the per-group schedules from the (saved) attributes."""
        self._schedules = [self._schedule(i, base) for i, base in enumerate(self.base_lrs)]
        self._momenta: list | None = None

    def lr_at(self, epoch: int) -> list[float]:
        """Each group's learning rate at `epoch` (pure: changes nothing)."""
        return [s(epoch) for s in self._schedules]

    def get_lr(self) -> list[float]:
        """Each group's learning rate at last_epoch."""
        return self.lr_at(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The learning rates written at the last step."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one step (or jump to `epoch`) and write the learning rates into the param groups."""
        self._step_count += 1
        self._apply(self.last_epoch + 1 if epoch is None else epoch)

    def _apply(self, epoch: int) -> None:
        self.last_epoch = epoch
        lrs = self.get_lr()
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        if self._momenta is not None:
            for group, m in zip(groups, self._momenta):
                value = m(epoch)
                if self.use_beta1:
                    group["betas"] = (value, *group["betas"][1:])
                else:
                    group["momentum"] = value
        self._last_lr = list(lrs)

    # --- checkpoints -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The scheduler's attributes (not the optimizer), as in PyTorch."""
        return {k: v for k, v in self.__dict__.items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by `state_dict`."""
        self.__dict__.update(state_dict)
        self._build()

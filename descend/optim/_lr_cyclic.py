"""Cyclical schedulers that also drive the momentum: CyclicLR and OneCycleLR."""

from __future__ import annotations

import types
from typing import Any, Callable

from descend.optim import schedules
from descend.optim._scheduler_base import LRScheduler, _check_optimizer, _per_group
from descend.optim.optimizer import Optimizer


def _momentum_setup(sched: Any, optimizer: Optimizer, base_momentum: Any, max_momentum: Any,
                    last_epoch: int) -> None:
    """Validate and initialise momentum cycling (CyclicLR, OneCycleLR): SGD/RMSprop momentum or Adam beta1."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{type(sched).__name__}: optimizer {type(optimizer).__name__} has neither momentum "
                         f"nor betas; pass cycle_momentum=False")
    sched.use_beta1 = "betas" in optimizer.defaults
    bases = _per_group("base_momentum", optimizer, base_momentum)
    maxes = _per_group("max_momentum", optimizer, max_momentum)
    if last_epoch == -1:
        for m_max, m_base, group in zip(maxes, bases, optimizer.param_groups):
            if sched.use_beta1:
                group["betas"] = (m_max, *group["betas"][1:])
            else:
                group["momentum"] = m_max
            group["max_momentum"] = m_max
            group["base_momentum"] = m_base
    sched.base_momentums, sched.max_momentums = bases, maxes


class CyclicLR(LRScheduler):
    """Cyclical learning rate between base_lr and max_lr (Smith 2017); momentum cycles inversely.

    Modes 'triangular', 'triangular2', 'exp_range', or a custom scale_fn with scale_mode 'cycle'/'iterations'.
    With cycle_momentum (default) the optimizer's momentum (SGD, RMSprop) or beta1 (Adam) goes from
    max_momentum down to base_momentum as the lr rises.
    """

    _unsaved = LRScheduler._unsaved + ("_scale_fn_custom",)

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float = 0.8, max_momentum: float = 0.9,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode {mode!r} is invalid and scale_fn is None")
        self.step_size_up = float(step_size_up)
        self.step_size_down = float(step_size_down) if step_size_down is not None else self.step_size_up
        self.total_size = self.step_size_up + self.step_size_down
        self.step_ratio = self.step_size_up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else (
            "iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _momentum_setup(self, optimizer, base_momentum, max_momentum, last_epoch)
        # As in PyTorch, step 0 is computed from the groups' initial_lr; base_lr is used from then on.
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs
        self._build()

    def _cyclic(self, low: float, high: float) -> schedules.Schedule:
        return schedules.cyclic(low, high, self.step_size_up, self.step_size_down, self.mode, self.gamma,
                                self._scale_fn_custom, self.scale_mode)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        return self._cyclic(base_lr, self.max_lrs[i])

    def _build(self) -> None:
        super()._build()
        if self.cycle_momentum:
            self._momenta = [self._cyclic(hi, lo) for lo, hi in zip(self.base_momentums, self.max_momentums)]

    def state_dict(self) -> dict:
        state = super().state_dict()
        fn = self._scale_fn_custom
        plain = fn is None or isinstance(fn, types.FunctionType)
        state["_scale_fn_custom"] = None if plain else dict(fn.__dict__)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        attrs = state.pop("_scale_fn_custom", None)
        if attrs is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(attrs)
        super().load_state_dict(state)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2017): lr from max_lr/div_factor up to max_lr, then annealed down to
    max_lr/(div_factor*final_div_factor); momentum (or beta1) cycles the other way."""

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer total_steps, got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer epochs, got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer steps_per_epoch, got "
                                 f"{steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: define either total_steps or (epochs and steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected a float pct_start in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.three_phase = three_phase
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _momentum_setup(self, optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _schedule(self, i: int, base_lr: float) -> schedules.Schedule:
        g = self.optimizer.param_groups[i]
        return schedules.one_cycle_values(self.total_steps, g["initial_lr"], g["max_lr"], g["min_lr"],
                                          self.pct_start, self.anneal_strategy, self.three_phase)

    def _build(self) -> None:
        super()._build()
        if self.cycle_momentum:
            self._momenta = [schedules.one_cycle_values(self.total_steps, g["max_momentum"], g["base_momentum"],
                                                        g["max_momentum"], self.pct_start, self.anneal_strategy,
                                                        self.three_phase)
                             for g in self.optimizer.param_groups]

    def lr_at(self, epoch: int) -> list[float]:
        if epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {epoch} times; the specified number of total steps is "
                             f"{self.total_steps}")
        return super().lr_at(epoch)

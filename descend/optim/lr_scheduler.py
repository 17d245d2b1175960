"""PyTorch-named learning-rate schedulers: thin objects over the pure schedules in `descend.optim.schedules`.

A scheduler evaluates `lr(last_epoch)` for each param group and writes it into the group (CyclicLR and
OneCycleLR also write the momentum, or Adam's beta1); the optimizer reads the group's lr at every step.
ReduceLROnPlateau reacts to a metric, so it is stateful by nature.

Where this differs from PyTorch: PyTorch's StepLR, MultiStepLR, ExponentialLR, LinearLR and CosineAnnealingLR
update the lr recursively from the group's current lr ("chainable" form). In normal use that gives the
closed-form values up to rounding (a few ulps; the tests hold them to rtol 1e-12 over 300 steps). They differ
when (a) the group's lr is edited by hand between steps (PyTorch compounds the edit; here the next step
overwrites it), (b) two schedulers drive one optimizer at once (PyTorch multiplies their factors; here the last
one to step wins: use SequentialLR or compose schedules), (c) a scheduler is built with last_epoch >= 0 (here:
the closed form at last_epoch + 1), (d) OneCycleLR, which rewrites 'initial_lr', follows another scheduler
inside SequentialLR.
"""

from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from descend.optim import schedules
from descend.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
           "CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR"]


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
    """lr = initial_lr * gamma ** (epoch // step_size)."""

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


class SequentialLR(LRScheduler):
    """Run schedulers one after another: scheduler i from milestones[i-1] on, restarted at its step 0 there."""

    _unsaved = LRScheduler._unsaved + ("_schedulers",)

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR does not support ReduceLROnPlateau (index {i}): its step needs "
                                 f"a metric")
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} ({type(s).__name__}) belongs to another "
                                 f"optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers: got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
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

    def _build(self) -> None:
        pass

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

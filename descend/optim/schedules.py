"""Learning-rate schedules as pure functions `step -> value` (optax style).

Each builder returns a plain function of the step count. They can be used directly (`lr = schedule(step)`),
joined (`join([warmup, decay], [100])`), or through the PyTorch-named classes in `descend.optim.lr_scheduler`,
which evaluate them at `last_epoch`. The formulas are PyTorch's closed forms, in the same order of
floating-point operations, so the values equal PyTorch's scheduler outputs (see lr_scheduler's docstring for
where PyTorch's recursive updates differ from its closed forms in the last bits).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Callable, Sequence

Schedule = Callable[[int], float]


def constant(value: float) -> Schedule:
    """The same value at every step."""
    return lambda step: value


def scaled(init_value: float, factor: Callable[[int], float]) -> Schedule:
    """init_value * factor(step) (PyTorch's LambdaLR)."""
    return lambda step: init_value * factor(step)


def step_decay(init_value: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """init_value * gamma ** (step // step_size) (StepLR)."""
    return lambda step: init_value * gamma ** (step // step_size)


def multistep_decay(init_value: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """init_value * gamma ** (number of milestones <= step); a repeated milestone counts twice (MultiStepLR)."""
    ms = sorted(milestones)
    return lambda step: init_value * gamma ** bisect_right(ms, step)


def exponential(init_value: float, gamma: float) -> Schedule:
    """init_value * gamma ** step (ExponentialLR)."""
    return lambda step: init_value * gamma ** step


def cosine(init_value: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """eta_min + (init_value - eta_min) * (1 + cos(pi * step / T_max)) / 2, periodic in 2 * T_max."""
    return lambda step: eta_min + (init_value - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


def linear(init_value: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
           total_iters: int = 5) -> Schedule:
    """init_value times a factor going linearly from start_factor to end_factor over total_iters (LinearLR)."""
    def f(step: int) -> float:
        return init_value * (start_factor + (end_factor - start_factor) * min(total_iters, step) / total_iters)
    return f


def constant_then(init_value: float, factor: float, total_iters: int) -> Schedule:
    """init_value * factor before step total_iters, init_value from then on (ConstantLR)."""
    return lambda step: init_value * (factor + (step >= total_iters) * (1 - factor))


def polynomial(init_value: float, total_iters: int, power: float = 1.0) -> Schedule:
    """init_value * (1 - min(step, total_iters) / total_iters) ** power (PolynomialLR)."""
    return lambda step: init_value * (1.0 - min(total_iters, step) / total_iters) ** power


def multiplicative(init_value: float, factor: Callable[[int], float]) -> Schedule:
    """init_value * factor(1) * ... * factor(step) (MultiplicativeLR); the products are cached."""
    products = [init_value]

    def f(step: int) -> float:
        while len(products) <= step:
            products.append(products[-1] * factor(len(products)))
        return products[step]
    return f


def restart_position(step: float, T_0: int, T_mult: int = 1) -> tuple[float, int]:
    """(steps into the current period, the period's length) for SGDR's periods T_0, T_0 T_mult, ..."""
    t_cur, t_i = step, T_0
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= T_mult
    return t_cur, t_i


def cosine_restarts(init_value: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> Schedule:
    """Cosine from init_value to eta_min over each period, restarting at init_value (CosineAnnealingWarmRestarts)."""
    def f(step: float) -> float:
        t_cur, t_i = restart_position(step, T_0, T_mult)
        return eta_min + (init_value - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
    return f


def linear_warmup(peak_value: float, warmup_steps: int, start_factor: float = 0.0) -> Schedule:
    """From start_factor * peak_value at step 0 up to peak_value at warmup_steps, then constant."""
    return linear(peak_value, start_factor, 1.0, warmup_steps)


def cyclic(base_value: float, max_value: float, step_size_up: int = 2000, step_size_down: int | None = None,
           mode: str = "triangular", gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
           scale_mode: str = "cycle") -> Schedule:
    """Cyclical value between base_value and max_value (CyclicLR; Smith 2017).

    mode 'triangular' (constant amplitude), 'triangular2' (amplitude halved each cycle) or 'exp_range'
    (amplitude gamma ** step). A custom scale_fn(x) replaces the mode; x is the cycle number
    (scale_mode='cycle') or the step ('iterations'). With base_value > max_value the cycle is inverted (how
    momentum cycles).
    """
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    total = up + down
    ratio = up / total
    if scale_fn is None:
        if mode == "triangular":
            scale_fn, scale_mode = (lambda x: 1.0), "cycle"
        elif mode == "triangular2":
            scale_fn, scale_mode = (lambda x: 1 / (2.0 ** (x - 1))), "cycle"
        elif mode == "exp_range":
            scale_fn, scale_mode = (lambda x: gamma ** x), "iterations"
        else:
            raise ValueError(f"cyclic: mode must be 'triangular', 'triangular2' or 'exp_range' when no "
                             f"scale_fn is given, got {mode!r}")
    if scale_mode not in ("cycle", "iterations"):
        raise ValueError(f"cyclic: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
    fn, by_cycle = scale_fn, scale_mode == "cycle"

    def f(step: int) -> float:
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        height = (max_value - base_value) * factor
        return base_value + height * fn(cycle if by_cycle else step)
    return f


def _anneal_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def piecewise_anneal(phases: Sequence[tuple[float, float, float]], anneal_strategy: str = "cos") -> Schedule:
    """Anneal through phases (end_step, start_value, end_value); the last phase extends past its end."""
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    anneal = _anneal_cos if anneal_strategy == "cos" else _anneal_linear
    phases = list(phases)

    def f(step: int) -> float:
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                return anneal(start, end, (step - start_step) / (end_step - start_step))
            start_step = end_step
        raise AssertionError("unreachable")
    return f


def one_cycle(total_steps: int, max_value: float, pct_start: float = 0.3, anneal_strategy: str = "cos",
              div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False) -> Schedule:
    """The 1cycle learning rate (OneCycleLR): max_value / div_factor up to max_value, then down to
    max_value / div_factor / final_div_factor (three_phase: back to the initial value first)."""
    initial = max_value / div_factor
    return one_cycle_values(total_steps, initial, max_value, initial / final_div_factor, pct_start,
                            anneal_strategy, three_phase)


def one_cycle_values(total_steps: int, initial: float, peak: float, final: float, pct_start: float = 0.3,
                     anneal_strategy: str = "cos", three_phase: bool = False) -> Schedule:
    """The 1cycle shape through explicit values: initial -> peak -> final (three_phase: -> initial -> final).

    One-cycle momentum is one_cycle_values(total, max_momentum, base_momentum, max_momentum).
    """
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, initial, peak),
                  (float(2 * pct_start * total_steps) - 2, peak, initial),
                  (total_steps - 1, initial, final)]
    else:
        phases = [(float(pct_start * total_steps) - 1, initial, peak),
                  (total_steps - 1, peak, final)]
    return piecewise_anneal(phases, anneal_strategy)


def one_cycle_momentum(total_steps: int, base_momentum: float = 0.85, max_momentum: float = 0.95,
                       pct_start: float = 0.3, anneal_strategy: str = "cos",
                       three_phase: bool = False) -> Schedule:
    """The momentum that goes with one_cycle: max_momentum down to base_momentum and back (OneCycleLR)."""
    return one_cycle_values(total_steps, max_momentum, base_momentum, max_momentum, pct_start, anneal_strategy,
                            three_phase)


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Schedule i from boundaries[i-1] on, restarted at step 0 there (optax join_schedules, SequentialLR)."""
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"join: expected {len(schedules) - 1} boundaries for {len(schedules)} schedules, "
                         f"got {len(boundaries)}")
    schedules, boundaries = list(schedules), list(boundaries)

    def f(step: int) -> float:
        i = bisect_right(boundaries, step)
        return schedules[i](step - boundaries[i - 1] if i > 0 else step)
    return f


def warmup_cosine(peak_value: float, warmup_steps: int, decay_steps: int, start_factor: float = 1e-3,
                  end_value: float = 0.0) -> Schedule:
    """Linear warm-up to peak_value over warmup_steps, then cosine decay to end_value over decay_steps."""
    warmup = linear_warmup(peak_value, warmup_steps, start_factor)
    return join([warmup, cosine(peak_value, decay_steps, end_value)], [warmup_steps])

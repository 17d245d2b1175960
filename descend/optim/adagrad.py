"""Adagrad with learning-rate decay (PyTorch's formulas)."""

from __future__ import annotations

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, _Flat, noop_options


class Adagrad(Optimizer):
    """Adagrad: clr = lr / (1 + (t - 1) * lr_decay); sum += g * g; p -= clr * g / (sqrt(sum) + eps).

    The accumulator starts at `initial_accumulator_value` (state exists from construction, as in PyTorch).
    `weight_decay` adds weight_decay * p to the gradient, `l1` adds l1 * sign(p) (descend's lasso option),
    `maximize` negates the gradient first. foreach, fused, capturable and differentiable are accepted for
    PyTorch code and change nothing.
    """

    _state_names = ("sum",)
    _eager_state = True

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None,
                 capturable: bool = False, l1: float = 0.0) -> None:
        _check(lr >= 0.0, f"Adagrad: invalid learning rate: {lr}")
        _check(lr_decay >= 0.0, f"Adagrad: invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Adagrad: invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Adagrad: invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(eps >= 0.0, f"Adagrad: invalid epsilon value: {eps}")
        _check(l1 >= 0.0, f"Adagrad: invalid l1 value: {l1}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize, l1=l1,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    def _init_state(self, group: dict, flat: _Flat, seg: slice = slice(None)) -> None:
        flat.buffer("sum")[seg] = group["initial_accumulator_value"]

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g = blk.p, blk.g
        tmp, tmp2 = blk.tmp(0), blk.tmp(1)
        step = count + 1
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = blk.state("sum")
        xp.multiply(g, g, out=tmp)
        state_sum += tmp
        xp.sqrt(state_sum, out=tmp)
        tmp += group["eps"]
        xp.multiply(g, -clr, out=tmp2)
        tmp2 /= tmp
        p += tmp2
        return step

"""Adadelta (PyTorch's formulas)."""

from __future__ import annotations

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, noop_options


class Adadelta(Optimizer):
    """Adadelta: v = rho v + (1 - rho) g²; delta = sqrt(u + eps) / sqrt(v + eps) * g;
    u = rho u + (1 - rho) delta²; p -= lr * delta.

    `weight_decay` adds weight_decay * p to the gradient, `maximize` negates it first. foreach, fused,
    capturable and differentiable are accepted for PyTorch code and change nothing.
    """

    _state_names = ("square_avg", "acc_delta")

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        _check(lr >= 0.0, f"Adadelta: invalid learning rate: {lr}")
        _check(0.0 <= rho <= 1.0, f"Adadelta: invalid rho value: {rho}")
        _check(eps >= 0.0, f"Adadelta: invalid epsilon value: {eps}")
        _check(weight_decay >= 0.0, f"Adadelta: invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g = blk.p, blk.g
        tmp, tmp2 = blk.tmp(0), blk.tmp(1)
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        v, u = blk.state("square_avg"), blk.state("acc_delta")
        v *= rho
        xp.multiply(g, 1 - rho, out=tmp)
        tmp *= g
        v += tmp
        xp.add(v, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)  # std
        xp.add(u, eps, out=tmp2)
        xp.sqrt(tmp2, out=tmp2)
        tmp2 /= tmp
        tmp2 *= g  # delta
        u *= rho
        xp.multiply(tmp2, 1 - rho, out=tmp)
        tmp *= tmp2
        u += tmp
        tmp2 *= lr
        p -= tmp2
        return count + 1

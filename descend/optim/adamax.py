"""Adamax, Adam with the infinity norm (PyTorch's formulas)."""

from __future__ import annotations

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, _lerp_, noop_options


class Adamax(Optimizer):
    """Adamax: m = lerp(m, g, 1 - b1); u = max(b2 u, |g| + eps); p -= lr / (1 - b1^t) * m / u.

    `weight_decay` adds weight_decay * p to the gradient, `maximize` negates it first. foreach, fused,
    capturable and differentiable are accepted for PyTorch code and change nothing.
    """

    _state_names = ("exp_avg", "exp_inf")

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False,
                 fused: bool | None = None) -> None:
        _check(lr >= 0.0, f"Adamax: invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Adamax: invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Adamax: invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Adamax: invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Adamax: invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g, tmp = blk.p, blk.g, blk.tmp(0)
        (beta1, beta2), eps = group["betas"], group["eps"]
        step = count + 1
        m, u = blk.state("exp_avg"), blk.state("exp_inf")
        _lerp_(m, g, 1 - beta1, tmp)
        u *= beta2
        xp.abs(g, out=tmp)
        tmp += eps
        xp.maximum(u, tmp, out=u)
        clr = group["lr"] / (1 - beta1 ** step)
        xp.divide(m, u, out=tmp)
        tmp *= -clr
        p += tmp
        return step

"""Averaged SGD (PyTorch's formulas)."""

from __future__ import annotations

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, noop_options, scalar_f32


class ASGD(Optimizer):
    """ASGD (Polyak & Juditsky 1992): p *= 1 - lambd * eta; p -= eta * g; ax averages p from step t0 on.

    eta_t = lr / (1 + lambd * lr * t)^alpha and mu_t = 1 / max(1, t - t0), as PyTorch computes them after
    each step (in float32). Here they are derived from the step count with the group's current lr, so an lr
    changed mid-run takes effect one step earlier than in PyTorch. `weight_decay` adds weight_decay * p to
    the gradient, `maximize` negates it; foreach, fused, capturable and differentiable change nothing.
    """

    _state_names = ("ax",)

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False,
                 fused: bool | None = None) -> None:
        _check(lr >= 0.0, f"ASGD: invalid learning rate: {lr}")
        _check(weight_decay >= 0.0, f"ASGD: invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    @staticmethod
    def _eta_mu(group: dict, count: int) -> tuple[float, float]:
        """(eta, mu) after `count` completed steps."""
        lr = group["lr"]
        if count == 0:
            return scalar_f32(lr), 1.0
        eta = lr / ((1 + group["lambd"] * lr * count) ** group["alpha"])
        return scalar_f32(eta), scalar_f32(1 / max(1, count - group["t0"]))

    def _scalar_state(self, group: dict, count: int) -> dict:
        eta, mu = self._eta_mu(group, count)
        return {"eta": eta, "mu": mu}

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g, tmp = blk.p, blk.g, blk.tmp(0)
        eta, mu = self._eta_mu(group, count)
        p *= 1 - group["lambd"] * eta
        xp.multiply(g, eta, out=tmp)
        p -= tmp
        ax = blk.state("ax")
        if mu != 1:
            xp.subtract(p, ax, out=tmp)
            tmp *= mu
            ax += tmp
        else:
            ax[...] = p
        return count + 1

"""RMSprop, optionally centered and with momentum (PyTorch's formulas: eps added outside the sqrt)."""

from __future__ import annotations

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, _lerp_, noop_options


class RMSprop(Optimizer):
    """RMSprop: v = alpha * v + (1 - alpha) * g * g; avg = sqrt(v - ga^2 if centered else v) + eps;
    buf = momentum * buf + g / avg; p -= lr * buf   (without momentum: p -= lr * g / avg).

    `weight_decay` adds weight_decay * p to the gradient, `l1` adds l1 * sign(p) (descend's lasso option),
    `maximize` negates the gradient first. foreach, fused, capturable and differentiable are accepted for
    PyTorch code and change nothing.
    """

    _state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, *, fused: bool | None = None, l1: float = 0.0) -> None:
        _check(lr >= 0.0, f"RMSprop: invalid learning rate: {lr}")
        _check(eps >= 0.0, f"RMSprop: invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"RMSprop: invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"RMSprop: invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"RMSprop: invalid alpha value: {alpha}")
        _check(l1 >= 0.0, f"RMSprop: invalid l1 value: {l1}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize, l1=l1,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g = blk.p, blk.g
        tmp, tmp2 = blk.tmp(0), blk.tmp(1)
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        v = blk.state("square_avg")
        v *= alpha
        xp.multiply(g, 1 - alpha, out=tmp)
        tmp *= g
        v += tmp
        if group["centered"]:
            grad_avg = blk.state("grad_avg")
            _lerp_(grad_avg, g, 1 - alpha, tmp)
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += eps
        if momentum > 0:
            buf = blk.state("momentum_buffer")
            buf *= momentum
            xp.divide(g, tmp, out=tmp2)
            buf += tmp2
            xp.multiply(buf, lr, out=tmp2)
            p -= tmp2
        else:
            xp.multiply(g, -lr, out=tmp2)
            tmp2 /= tmp
            p += tmp2
        return count + 1

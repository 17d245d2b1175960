"""Stochastic gradient descent with momentum, dampening and Nesterov momentum (PyTorch's formulas)."""

from __future__ import annotations

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, noop_options


class SGD(Optimizer):
    """SGD: buf = momentum * buf + (1 - dampening) * g (buf = g on its first step); p -= lr * buf.

    With nesterov, p -= lr * (g + momentum * buf). `weight_decay` adds weight_decay * p to the gradient,
    `l1` adds l1 * sign(p) (descend's lasso option; PyTorch has none), `maximize` negates the gradient first.
    foreach, fused and differentiable are accepted for PyTorch code and change nothing.

    >>> import descend
    >>> w = descend.nn.Parameter(descend.tensor([1.0, -2.0]))
    >>> opt = SGD([w], lr=0.25)
    >>> (w * w).sum().backward()  # gradient 2w
    >>> opt.step()  # w - 0.25 * 2w
    >>> w
    Parameter containing:
    tensor([ 0.5, -1. ], requires_grad=True)
    """

    _state_names = ("momentum_buffer",)
    _has_step = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
                 l1: float = 0.0) -> None:
        _check(lr >= 0.0, f"SGD: invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"SGD: invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"SGD: invalid weight_decay value: {weight_decay}")
        _check(l1 >= 0.0, f"SGD: invalid l1 value: {l1}")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               f"SGD: Nesterov momentum requires a momentum and zero dampening, got momentum={momentum}, "
               f"dampening={dampening}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, l1=l1,
                        **noop_options(foreach, fused, False, differentiable))
        super().__init__(params, defaults)

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g, tmp = blk.p, blk.g, blk.tmp(0)
        momentum, dampening = group["momentum"], group["dampening"]
        if momentum != 0:
            buf = blk.state("momentum_buffer")
            if count == 0:
                buf[...] = g
            else:
                buf *= momentum
                if dampening == 0:
                    buf += g
                else:
                    xp.multiply(g, 1 - dampening, out=tmp)
                    buf += tmp
            if group["nesterov"]:
                xp.multiply(buf, momentum, out=tmp)
                g += tmp
            else:
                g = buf
            count = 1
        xp.multiply(g, group["lr"], out=tmp)
        p -= tmp
        return count

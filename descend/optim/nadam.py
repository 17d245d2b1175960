"""NAdam and RAdam, two Adam variants (PyTorch's formulas, including decoupled weight decay)."""

from __future__ import annotations

import math

from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, _lerp_, noop_options, scalar_f32


class _AdamFamily(Optimizer):
    _state_names = ("exp_avg", "exp_avg_sq")

    def _check_args(self, lr: float, betas: tuple, eps: float, weight_decay: float) -> None:
        name = type(self).__name__
        _check(lr >= 0.0, f"{name}: invalid learning rate: {lr}")
        _check(eps >= 0.0, f"{name}: invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"{name}: invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"{name}: invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"{name}: invalid weight_decay value: {weight_decay}")

    def _moments(self, group: dict, blk: _Block) -> tuple:
        """Decoupled decay, then m = lerp(m, g, 1 - b1) and v = b2 v + (1 - b2) g²; returns (m, v)."""
        xp = blk.flat.xp
        p, g, tmp = blk.p, blk.g, blk.tmp(0)
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        if wd != 0 and group["decoupled_weight_decay"]:
            p *= 1 - group["lr"] * wd
        m, v = blk.state("exp_avg"), blk.state("exp_avg_sq")
        _lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        xp.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp
        return m, v


class NAdam(_AdamFamily):
    """Adam with Nesterov momentum (Dozat 2016) and the momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)):
    p -= lr (1 - mu_t) / (1 - Π mu) * g / d + lr mu_{t+1} / (1 - Π mu · mu_{t+1}) * m / d,
    d = sqrt(v / (1 - b2^t)) + eps.

    `weight_decay` is L2 added to the gradient, or with `decoupled_weight_decay` p *= 1 - lr * wd (NAdamW);
    `maximize` negates the gradient. foreach, fused, capturable and differentiable change nothing.
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        self._check_args(lr, betas, eps, weight_decay)
        _check(momentum_decay >= 0.0, f"NAdam: invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize, **noop_options(foreach, fused, capturable, differentiable))
        self._mu_cache: dict = {}
        super().__init__(params, defaults)

    @staticmethod
    def _mu(beta1: float, momentum_decay: float, step: int) -> float:
        return beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))

    def _mu_product(self, group: dict, step: int) -> float:
        """Π_{s <= step} mu_s, accumulated with PyTorch's float32 rounding and cached per (beta1, decay)."""
        beta1, decay = group["betas"][0], group["momentum_decay"]
        products = self._mu_cache.setdefault((beta1, decay), [1.0])
        while len(products) <= step:
            products.append(scalar_f32(products[-1] * scalar_f32(self._mu(beta1, decay, len(products)))))
        return products[step]

    def _scalar_state(self, group: dict, count: int) -> dict:
        return {"mu_product": self._mu_product(group, count)}

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g = blk.p, blk.g
        tmp, tmp2 = blk.tmp(0), blk.tmp(1)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        step = count + 1
        bias_correction2 = 1 - beta2 ** step
        mu = self._mu(beta1, group["momentum_decay"], step)
        mu_next = self._mu(beta1, group["momentum_decay"], step + 1)
        mu_product = self._mu_product(group, step)
        m, v = self._moments(group, blk)
        xp.divide(v, bias_correction2, out=tmp)
        xp.sqrt(tmp, out=tmp)
        tmp += eps
        xp.divide(g, tmp, out=tmp2)
        tmp2 *= -lr * (1.0 - mu) / (1.0 - mu_product)
        p += tmp2
        xp.divide(m, tmp, out=tmp2)
        tmp2 *= (-lr * mu_next) / (1.0 - mu_product * mu_next)
        p += tmp2
        return step


class RAdam(_AdamFamily):
    """Rectified Adam (Liu et al. 2019): Adam's step scaled by the variance rectification term r_t while the
    approximated SMA length rho_t > 5, plain bias-corrected momentum SGD before that.

    `weight_decay` is L2 added to the gradient, or with `decoupled_weight_decay` p *= 1 - lr * wd (RAdamW);
    `maximize` negates the gradient. foreach, fused, capturable and differentiable change nothing.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        self._check_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p = blk.p
        tmp, tmp2 = blk.tmp(0), blk.tmp(1)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        step = count + 1
        m, v = self._moments(group, blk)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        xp.divide(m, bias_correction1, out=tmp2)
        tmp2 *= lr
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            xp.sqrt(v, out=tmp)
            tmp += eps
            xp.divide(bias_correction2 ** 0.5, tmp, out=tmp)  # the adaptive learning rate
            tmp2 *= tmp
            tmp2 *= rect
        p -= tmp2
        return step

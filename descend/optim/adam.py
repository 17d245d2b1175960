"""Adam and AdamW (PyTorch's formulas: bias-corrected step size, eps added after the bias-corrected sqrt)."""

from __future__ import annotations

from descend.ops import kernels
from descend.optim.optimizer import Optimizer, ParamsT, _Block, _check, _lerp_, noop_options


class Adam(Optimizer):
    """Adam: m = lerp(m, g, 1 - b1); v = b2 * v + (1 - b2) * g * g;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   (amsgrad: v replaced by its running max).

    `weight_decay` is L2 added to the gradient, or with `decoupled_weight_decay` (AdamW) p *= 1 - lr * wd before
    the update. `l1` adds l1 * sign(p) to the gradient (descend's lasso option); `maximize` negates it first.
    foreach, fused, capturable and differentiable are accepted for PyTorch code and change nothing.
    """

    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _grad_read_only = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None, decoupled_weight_decay: bool = False,
                 l1: float = 0.0) -> None:
        name = type(self).__name__
        _check(lr >= 0.0, f"{name}: invalid learning rate: {lr}")
        _check(eps >= 0.0, f"{name}: invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"{name}: invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"{name}: invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"{name}: invalid weight_decay value: {weight_decay}")
        _check(l1 >= 0.0, f"{name}: invalid l1 value: {l1}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay, l1=l1,
                        **noop_options(foreach, fused, capturable, differentiable))
        super().__init__(params, defaults)

    def _update(self, group: dict, blk: _Block, count: int) -> int:
        xp = blk.flat.xp
        p, g = blk.p, blk.g
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        step = count + 1
        wd = group["weight_decay"]
        decoupled = wd != 0 and group["decoupled_weight_decay"]
        m, v = blk.state("exp_avg"), blk.state("exp_avg_sq")
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        compiled = (kernels.get("adam", blk.flat.data, g) if not group["amsgrad"] and g.dtype == p.dtype
                    else None)
        if compiled is not None:
            # One pass instead of twelve, rounded step by step as the NumPy path below (bitwise equal).
            f = p.dtype.type
            low = beta1 > 0.5
            w = f(1 - beta1) if low else f(1) - f(1 - beta1)
            compiled(p, g, m, v, f(1 - lr * wd) if decoupled else f(1), w, low, f(beta2), f(1 - beta2),
                     f(eps * bias_correction2_sqrt), f(-step_size * bias_correction2_sqrt))
            return step
        tmp, tmp2 = blk.tmp(0), blk.tmp(1)
        if decoupled:
            p *= 1 - lr * wd
        if beta1 > 0.5:  # _lerp_'s first form, inlined (a call less per block)
            xp.subtract(g, m, out=tmp)
            tmp *= 1 - beta1
            m += tmp
        else:
            _lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        xp.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp
        if group["amsgrad"]:
            v_max = blk.state("max_exp_avg_sq")
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        # step_size * m / (sqrt(v) / bc2 + eps) computed as (step_size * bc2) * m / (sqrt(v) + eps * bc2):
        # the same value with one pass less over the buffers.
        xp.sqrt(v, out=tmp)
        tmp += eps * bias_correction2_sqrt
        xp.multiply(m, -step_size * bias_correction2_sqrt, out=tmp2)
        tmp2 /= tmp
        p += tmp2
        return step


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): p *= 1 - lr * weight_decay before the Adam update."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None, l1: float = 0.0) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, l1=l1, foreach=foreach, capturable=capturable,
                         differentiable=differentiable, fused=fused)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

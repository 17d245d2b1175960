"""Sharpness: the largest eigenvalue of the training loss's Hessian, and what it says about the learning rate.

Gradient descent on a quadratic with curvature λ is stable only while lr·λ < 2 (heavy-ball momentum β moves
the limit to 2(1 + β)); past it the step overshoots along the sharpest direction and the loss oscillates or
diverges. Cohen et al. (2021, "Gradient descent on neural networks typically occurs at the edge of
stability") show full-batch training drives λmax up to 2/lr and hovers there. The monitor measures λmax by
power iteration on Hessian-vector products (double backward) every N steps on the step's batch; the rule
turns `lr·λmax` against the limit into words, as the explanation of a divergence or an oscillation.

>>> import numpy as np, descend
>>> from descend import nn
>>> _ = descend.manual_seed(0)
>>> model, x, y = nn.Linear(3, 1), descend.randn(8, 3), descend.randn(8, 1)
>>> lam = max_hessian_eigenvalue(model, nn.MSELoss(), (x, y), iters=200, tol=1e-9)
>>> a = np.c_[x.numpy(), np.ones(8)]  # MSE of a linear layer: the Hessian is 2 AᵀA / n
>>> bool(abs(lam - np.linalg.eigvalsh(2 * a.T @ a / 8).max()) < 1e-3 * lam)
True
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from descend import backend
from descend.autograd import grad
from descend._tensor import Tensor
from descend.train.callbacks import Callback


def max_hessian_eigenvalue(model: Any, loss_fn: Callable, batch: tuple, iters: int = 20, tol: float = 1e-3,
                           seed: int = 0) -> float:
    """λmax of d²loss/dθ² at the model's parameters on one batch, by power iteration on Hessian-vector
    products (the gradient graph is built once with create_graph=True and reused for every product).

    The forward pass runs in the model's current mode; the global RNG state and the buffers (BatchNorm's
    running statistics) are restored afterwards, so training is not disturbed.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("max_hessian_eigenvalue: the model has no parameter that requires grad")
    rng_state = backend.get_rng_state()
    buffers = [(b, b._data.copy()) for _, b in model.named_buffers()]
    try:
        inputs, targets = batch
        loss = loss_fn(model(inputs), targets)
        grads = grad(loss, params, create_graph=True, allow_unused=True)
    finally:
        backend.set_rng_state(rng_state)
        for b, saved in buffers:
            b._data[...] = saved
    live = [(p, g) for p, g in zip(params, grads) if g is not None and g.requires_grad]
    if not live:
        return 0.0  # the loss is linear in every parameter: no curvature
    r = np.random.default_rng(seed)
    v = [r.standard_normal(p.shape).astype(p._data.dtype) for p, _ in live]
    lam = 0.0
    for i in range(iters):
        norm = math.sqrt(sum(float((a * a).sum()) for a in v))
        if norm == 0.0 or not math.isfinite(norm):
            return float("nan") if not math.isfinite(norm) else 0.0
        v = [a / norm for a in v]
        dot = sum((g * Tensor(a)).sum() for (_, g), a in zip(live, v))
        hv = grad(dot, [p for p, _ in live], retain_graph=True, allow_unused=True)
        hv = [np.zeros_like(a) if h is None else backend.to_numpy(h._data) for h, a in zip(hv, v)]
        new = sum(float((a * h).sum()) for a, h in zip(v, hv))  # Rayleigh quotient v·Hv with |v| = 1
        v = hv
        if i and abs(new - lam) <= tol * max(abs(new), 1e-12):
            return new
        lam = new
    return lam


def stability_limit(optimizer: Any) -> tuple[float, str]:
    """The largest lr·λ at which the optimizer's step is stable on a quadratic, and the optimizer's name."""
    name = type(optimizer).__name__
    group = optimizer.param_groups[0]
    momentum = float(group.get("momentum", 0.0) or 0.0)
    if name == "SGD" and momentum:
        # Heavy ball: stable iff lr·λ < 2(1 + β) (Polyak); Nesterov's limit is lower, (2 + 2β)/(1 + 2β).
        if group.get("nesterov"):
            return (2 + 2 * momentum) / (1 + 2 * momentum), "SGD (Nesterov momentum)"
        return 2 * (1 + momentum), "SGD (momentum)"
    return 2.0, name


class SharpnessMonitor(Callback):
    """Every `every` steps, measure λmax on the step's batch and log `sharpness` and `lr_sharpness`
    (lr·λmax divided by the optimizer's stability limit: above 1 the step is unstable along the sharpest
    direction). Opt-in: each measurement costs ~`iters` double-backward passes."""

    def __init__(self, every: int = 100, iters: int = 20) -> None:
        if every < 1:
            raise ValueError(f"SharpnessMonitor: every must be >= 1, got {every}")
        self.every, self.iters = every, iters
        self.rows: list[tuple[int, float, float]] = []  # (step, λmax, lr·λmax / limit)

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        # The first step too, so a run that diverges at once has a measurement to be explained by.
        if (trainer.step % self.every and trainer.step != 1) or trainer.last_batch is None:
            return
        lam = max_hessian_eigenvalue(trainer.model, trainer.loss_fn, trainer.last_batch, self.iters,
                                     seed=trainer.step)
        limit, _ = stability_limit(trainer.optimizer)
        lr = float(trainer.optimizer.param_groups[0]["lr"])
        logs["sharpness"] = lam
        logs["lr_sharpness"] = lr * lam / limit
        self.rows.append((trainer.step, lam, lr * lam / limit))

    def state_dict(self) -> dict:
        return {"rows": [list(r) for r in self.rows]}

    def load_state_dict(self, state: dict) -> None:
        self.rows = [tuple(r) for r in state.get("rows", [])]


def explain(rows: list, optimizer: Any, kind: str) -> str | None:
    """A sentence that explains a divergence or an oscillation by lr·λmax, or None without the evidence.

    rows: the monitor's (step, λmax, lr·λmax / limit) measurements up to the diagnosis. Only for SGD with or
    without momentum: an adaptive optimizer's step is preconditioned, so lr·λmax says nothing about it.
    Unstable means lr·λmax above the limit in at least two of the last three measurements (in the one
    measurement there is, for a run that diverged at once).
    """
    limit, name = stability_limit(optimizer)
    if type(optimizer).__name__ != "SGD":
        return None
    recent = [r for r in rows[-3:] if math.isfinite(r[2])]
    if not recent:
        return None
    step, lam, ratio = recent[-1]
    lr = ratio * limit / lam if lam else float("nan")
    if sum(r[2] > 1.0 for r in recent) >= min(2, len(recent)):
        return (f"The loss's sharpest curvature is λmax = {lam:.3g} (step {step}), so lr·λmax = {lr * lam:.3g} "
                f"is {ratio:.2f}x the stability limit of {name} ({limit:g}): each step overshoots along that "
                f"direction, which is what makes the loss {kind}. Lower the learning rate below "
                f"{limit / lam:.3g} (= limit / λmax), or add warm-up.")
    momentum = float(optimizer.param_groups[0].get("momentum", 0.0) or 0.0)
    if kind == "oscillate" and momentum > 0:
        return (f"The step is stable along the sharpest direction (lr·λmax = {lr * lam:.3g}, below {name}'s "
                f"limit {limit:g}), so the oscillation is momentum's: with β = {momentum:g} every direction "
                f"rings and decays only by √β = {math.sqrt(momentum):.3g} per step. Lower the momentum "
                f"(e.g. 0.9).")
    return None

"""Op-registry cases for the nn surface of issue 20: activations, distances, losses and the backward-hook op.

Loaded by tests/op_registry.py; tests/test_ops.py gradchecks each case in float64 and compares it with
PyTorch in float32. Inputs are kept away from kinks (gradcheck is meaningless there).
"""

from __future__ import annotations

import numpy as np

import descend
import descend.nn.functional as F
from descend.ops.hooks import pass_through
from tests.op_registry import TF, N, P, V, away, case

_rng = np.random.default_rng(2026)


def _torch():
    import torch
    return torch


# ---- activations (composed from registered ops; cases check formulas and PyTorch's gradient choices) ----

case("elu", F.elu, lambda a: TF().elu(a), away(N(3, 4, scale=2)))
case("elu[alpha]", lambda a: F.elu(a, alpha=0.5), lambda a: TF().elu(a, alpha=0.5), away(N(2, 5, scale=3)))
case("elu[large]", F.elu, lambda a: TF().elu(a), V([-200.0, -3.0, 0.7, 150.0]))
case("selu", F.selu, lambda a: TF().selu(a), away(N(3, 4, scale=2)))
case("celu", lambda a: F.celu(a, alpha=2.0), lambda a: TF().celu(a, alpha=2.0), away(N(3, 4, scale=2)))
case("silu", F.silu, lambda a: TF().silu(a), N(3, 4, scale=3))
case("hardtanh", F.hardtanh, lambda a: TF().hardtanh(a), away(N(3, 4, scale=2), (-1.0, 1.0)))
case("hardtanh[bounds]", lambda a: F.hardtanh(a, -0.5, 2.0), lambda a: TF().hardtanh(a, -0.5, 2.0),
     V([-1.0, -0.5, 0.0, 2.0, 3.0]), gradcheck=False)
case("relu6", F.relu6, lambda a: TF().relu6(a), away(N(3, 4, scale=5), (0.0, 6.0)))
case("hardswish", F.hardswish, lambda a: TF().hardswish(a), away(N(3, 4, scale=4), (-3.0, 3.0)))
case("hardsigmoid", F.hardsigmoid, lambda a: TF().hardsigmoid(a), away(N(3, 4, scale=4), (-3.0, 3.0)))
case("mish", F.mish, lambda a: TF().mish(a), N(3, 4, scale=3))
case("softmin", lambda a: F.softmin(a, dim=1), lambda a: TF().softmin(a, dim=1), N(3, 5))
case("softsign", F.softsign, lambda a: TF().softsign(a), away(N(3, 4, scale=2)))
case("tanhshrink", F.tanhshrink, lambda a: TF().tanhshrink(a), N(3, 4))
case("logsigmoid", F.logsigmoid, lambda a: TF().logsigmoid(a), N(3, 4, scale=5))
case("logsigmoid[large]", F.logsigmoid, lambda a: TF().logsigmoid(a), V([-120.0, -30.0, 0.0, 30.0, 120.0]))
case("softshrink", F.softshrink, lambda a: TF().softshrink(a), away(N(3, 4), (-0.5, 0.5)))
case("hardshrink", lambda a: F.hardshrink(a, 0.3), lambda a: TF().hardshrink(a, 0.3), away(N(3, 4), (-0.3, 0.3)))
case("threshold", lambda a: F.threshold(a, 0.2, -1.0), lambda a: TF().threshold(a, 0.2, -1.0),
     away(N(3, 4), (0.2,)))
case("glu", F.glu, lambda a: TF().glu(a), N(3, 6))
case("glu[dim0]", lambda a: F.glu(a, 0), lambda a: TF().glu(a, 0), N(4, 3, layout="t"))
case("prelu", F.prelu, lambda a, w: TF().prelu(a, w), away(N(2, 3, 4)), V([0.25, -0.1, 0.6]))
case("prelu[single]", F.prelu, lambda a, w: TF().prelu(a, w), away(N(5, 2)), V([0.3]))

# ---- normalisation and distances ------------------------------------------------------------------------

case("normalize", F.normalize, lambda a: TF().normalize(a), N(3, 4))
case("normalize[p1 dim0]", lambda a: F.normalize(a, p=1.0, dim=0), lambda a: TF().normalize(a, p=1.0, dim=0),
     away(N(3, 4)))
case("cosine_similarity", F.cosine_similarity, lambda a, b: TF().cosine_similarity(a, b), N(3, 5), N(3, 5))
case("cosine_similarity[broadcast]", lambda a, b: F.cosine_similarity(a, b, dim=-1),
     lambda a, b: TF().cosine_similarity(a, b, dim=-1), N(2, 3, 4), N(3, 4))
case("pairwise_distance", F.pairwise_distance, lambda a, b: TF().pairwise_distance(a, b), N(4, 3), N(4, 3))
case("pairwise_distance[p3 keepdim]", lambda a, b: F.pairwise_distance(a, b, p=3.0, keepdim=True),
     lambda a, b: TF().pairwise_distance(a, b, p=3.0, keepdim=True), N(4, 3), N(4, 3))

# ---- losses -------------------------------------------------------------------------------------------------

_pm1 = np.where(_rng.standard_normal(5) > 0, 1.0, -1.0)
_pm1[:2] = [1.0, -1.0]
_pm1_4 = np.array([1.0, -1.0, -1.0, 1.0])
_t = _rng.standard_normal((3, 4))


def _away_diff(base: np.ndarray, points: tuple, margin: float = 0.05) -> np.ndarray:
    """Inputs whose difference from `base` stays `margin` away from the kinks of |d| at `points`."""
    d = _rng.standard_normal(base.shape) * 1.5
    for p in points:
        for sign in (1, -1):
            near = np.abs(d - sign * p) < margin
            d[near] = sign * p + np.where(d[near] >= sign * p, margin, -margin)
    return base + d


case("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b), lambda a, b: TF().smooth_l1_loss(a, b),
     V(_away_diff(_t, (1.0, 0.0))), V(_t))
case("smooth_l1_loss[beta sum]", lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
     lambda a, b: TF().smooth_l1_loss(a, b, reduction="sum", beta=0.5), V(_away_diff(_t, (0.5, 0.0))), V(_t))
case("huber_loss", lambda a, b: F.huber_loss(a, b, delta=0.7), lambda a, b: TF().huber_loss(a, b, delta=0.7),
     V(_away_diff(_t, (0.7,))), V(_t))
case("huber_loss[none]", lambda a, b: F.huber_loss(a, b, reduction="none"),
     lambda a, b: TF().huber_loss(a, b, reduction="none"), V(_away_diff(_t, (1.0,))), V(_t))
_logp = np.log(np.exp(_rng.standard_normal((3, 4))) / np.exp(_rng.standard_normal((3, 4))).sum())
_q = np.exp(_rng.standard_normal((3, 4)))
_q[0, 1] = 0.0
_q /= _q.sum(1, keepdims=True)
case("kl_div[batchmean]", lambda a, b: F.kl_div(a, b, reduction="batchmean"),
     lambda a, b: TF().kl_div(a, b, reduction="batchmean"), V(_logp), V(_q, grad=False))
case("kl_div[log_target sum]", lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True),
     lambda a, b: TF().kl_div(a, b, reduction="sum", log_target=True), N(3, 4), V(np.log(_q + 0.1)))
case("cosine_embedding_loss",
     lambda a, b: F.cosine_embedding_loss(a, b, descend.tensor(_pm1_4, dtype=a.dtype), margin=0.1),
     lambda a, b: TF().cosine_embedding_loss(a, b, _torch().tensor(_pm1_4, dtype=a.dtype), margin=0.1),
     N(4, 3), N(4, 3))
case("margin_ranking_loss", lambda a, b: F.margin_ranking_loss(a, b, descend.tensor(_pm1, dtype=a.dtype), margin=0.2),
     lambda a, b: TF().margin_ranking_loss(a, b, _torch().tensor(_pm1, dtype=a.dtype), margin=0.2),
     V([0.3, 1.2, -0.4, 2.0, 0.0]), V([1.0, 0.2, 0.5, -1.0, 0.9]))
case("soft_margin_loss", lambda a: F.soft_margin_loss(a, descend.tensor(_pm1, dtype=a.dtype)),
     lambda a: TF().soft_margin_loss(a, _torch().tensor(_pm1, dtype=a.dtype)), N(5, scale=3))
case("poisson_nll_loss", lambda a: F.poisson_nll_loss(a, descend.tensor([0.0, 1.0, 3.0, 2.0], dtype=a.dtype)),
     lambda a: TF().poisson_nll_loss(a, _torch().tensor([0.0, 1.0, 3.0, 2.0], dtype=a.dtype)), N(4))
case("poisson_nll_loss[rate full]",
     lambda a: F.poisson_nll_loss(a, descend.tensor([0.0, 1.0, 3.0, 7.0], dtype=a.dtype), log_input=False, full=True),
     lambda a: TF().poisson_nll_loss(a, _torch().tensor([0.0, 1.0, 3.0, 7.0], dtype=a.dtype), log_input=False,
                                     full=True), P(4))
case("gaussian_nll_loss", F.gaussian_nll_loss, lambda a, b, v: TF().gaussian_nll_loss(a, b, v),
     N(3, 4), N(3, 4), P(3, 4))
case("gaussian_nll_loss[var per row full]", lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True),
     lambda a, b, v: TF().gaussian_nll_loss(a, b, v, full=True), N(3, 4), N(3, 4), P(3))
case("triplet_margin_loss", F.triplet_margin_loss, lambda a, p, n: TF().triplet_margin_loss(a, p, n),
     N(4, 3), N(4, 3), N(4, 3, scale=0.5))
case("triplet_margin_loss[swap p1]",
     lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True, reduction="sum"),
     lambda a, p, n: TF().triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True, reduction="sum"),
     N(4, 3), N(4, 3), N(4, 3))

# ---- the identity op behind module backward hooks -------------------------------------------------------

case("backward_hook_identity", lambda a, b: (lambda x, y: x * y.sum())(*pass_through([a, b], lambda g: g)),
     lambda a, b: a * b.sum(), N(3, 4), N(2, 3))
case("backward_hook_identity[single]", lambda a: pass_through([a], lambda g: g)[0].tanh(),
     lambda a: a.tanh(), N(3, 4, layout="t"))


def _doubling_hook(module, grad_input, grad_output):
    return tuple(None if g is None else g * 2 for g in grad_input)


def _hooked_linear(x, w):
    m = descend.nn.Module()
    m.forward = lambda inp: F.linear(inp, w)
    m.register_full_backward_hook(_doubling_hook)
    return m(x).tanh()


def _torch_hooked_linear(x, w):
    torch = _torch()
    m = torch.nn.Module()
    m.forward = lambda inp: TF().linear(inp, w)
    m.register_full_backward_hook(_doubling_hook)
    return m(x).tanh()


case("module_full_backward_hook", _hooked_linear, _torch_hooked_linear, N(3, 4), N(2, 4), gradcheck=False)

"""Regression, ranking and embedding losses with PyTorch's names, formulas and reductions.

Composed from differentiable ops (the hot classification losses are fused ops in descend.ops.loss).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops import elementwise as _ew
from descend.ops.distance import clamp_min_keep_grad, pairwise_distance
from descend.ops.errors import OpError
from descend.ops.loss import check_reduction
from descend._tensor import Tensor

__all__ = ["smooth_l1_loss", "huber_loss", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
           "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss", "triplet_margin_loss"]


def _legacy(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated size_average/reduce flags mapped onto `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    check_reduction(op, reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _where(cond: Any, a: Any, b: Any) -> Tensor:
    return _ew.Where.apply(cond, a, b)


def _check_same(op: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"{op}: input {input.shape} and target {target.shape} cannot be broadcast "
                             "together") from None
        warnings.warn(f"{op}: using a target size {target.shape} that is different to the input size "
                      f"{input.shape}; they will be broadcast", stacklevel=3)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target; beta = 0 is L1)."""
    if beta < 0:
        raise OpError(f"smooth_l1_loss does not support negative values for beta (got {beta})")
    _check_same("smooth_l1_loss", input, target)
    d = input - target
    a = _ew.Abs.apply(d)
    loss = a if beta == 0 else _where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d² where |d| < delta, else delta (|d| - 0.5 delta)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _check_same("huber_loss", input, target)
    d = input - target
    a = _ew.Abs.apply(d)
    loss = _where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def _xlogy(x: Tensor) -> Tensor:
    """x * log(x), 0 where x == 0 (the entropy term of KL)."""
    pos = x > 0
    return _where(pos, x * _ew.Log.apply(_where(pos, x, 1.0)), 0.0)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Σ target * (log target - input): input holds log-probabilities (and target too with log_target).

    reduction 'batchmean' divides the sum by the batch size, the mathematically correct KL; 'mean'
    averages over every element, as in PyTorch (which warns about it).
    """
    reduction = _legacy(size_average, reduce, reduction)
    if log_target:
        loss = _ew.Exp.apply(target) * (target - input)
    else:
        loss = _xlogy(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math "
                      "definition. 'mean' will be changed to behave the same as 'batchmean' in the next "
                      "major release.", stacklevel=2)
    return _reduce(loss, reduction, "kl_div")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos - margin) where it is -1 (cos along the last dim)."""
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: expected inputs of the same 1-D or 2-D shape, got "
                         f"{input1.shape} and {input2.shape}")
    eps = 1e-12  # ATen's EPSILON, added to the squared magnitudes
    prod = (input1 * input2).sum(-1)
    mag1 = (input1 * input1).sum(-1) + eps
    mag2 = (input2 * input2).sum(-1) + eps
    cos = prod / _ew.Sqrt.apply(mag1 * mag2)
    pos = _where(target == 1, 1.0 - cos, 0.0)
    neg = _where(target == -1, _ew.Clamp.apply(cos - margin, lo=0.0), 0.0)
    return _reduce(pos + neg, _legacy(size_average, reduce, reduction), "cosine_embedding_loss")


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise ValueError(f"margin_ranking_loss: input1 {input1.shape}, input2 {input2.shape} and target "
                         f"{target.shape} must have the same number of dims")
    loss = _ew.Clamp.apply(-target * (input1 - input2) + margin, lo=0.0)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "margin_ranking_loss")


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)), for targets of ±1."""
    _check_same("soft_margin_loss", input, target)
    loss = _ew.Softplus.apply(-target * input, beta=1.0, threshold=math.inf)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "soft_margin_loss")


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """exp(input) - target * input (log_input), or input - target * log(input + eps); full adds Stirling's
    approximation of log(target!) where target > 1."""
    if log_input:
        loss = _ew.Exp.apply(input) - target * input
    else:
        loss = input - target * _ew.Log.apply(input + eps)
    if full:
        big = target > 1
        t = _where(big, target, 1.0)
        stirling = t * _ew.Log.apply(t) - t + _ew.Log.apply(t * (2 * math.pi)) * 0.5
        loss = loss + _where(big, stirling, 0.0)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "poisson_nll_loss")


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (input - target)² / max(var, eps)); full adds 0.5 log(2π).

    var is the same shape as input, or input's without the last dim, or with a last dim of 1. As in
    PyTorch, the clamp at eps does not block the gradient to var.
    """
    if not isinstance(var, Tensor):
        var = Tensor(get_array_module(input._data).full(input.shape, float(var), dtype=input._data.dtype))
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.shape[:-1] == var.shape[:-1] and var.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var {var.shape} is of incorrect size for input "
                             f"{input.shape}")
    check_reduction("gaussian_nll_loss", reduction)
    if bool((var._data < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    v = clamp_min_keep_grad(var, eps)
    d = input - target
    loss = (_ew.Log.apply(v) + d * d / v) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the pairwise p-distance; swap uses min(d(a,n), d(p,n))."""
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"triplet_margin_loss: anchor {anchor.shape}, positive {positive.shape} and negative "
                         f"{negative.shape} must have the same number of dims")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be positive, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _ew.Minimum.apply(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = _ew.Clamp.apply(d_pos - d_neg + margin, lo=0.0)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "triplet_margin_loss")

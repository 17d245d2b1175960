"""L1 and L2 penalties to add to a loss (PyTorch has no built-in L1 regulariser)."""

from __future__ import annotations

from typing import Any, Iterable

from descend.nn.module import Module
from descend._tensor import Tensor


def _selected(module_or_params: Module | Iterable[Tensor], weights_only: bool) -> list[Tensor]:
    params = module_or_params.parameters() if isinstance(module_or_params, Module) else module_or_params
    chosen = []
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"penalty: expected a Module or an iterable of tensors, got an element of type "
                            f"{type(p).__name__}")
        # Biases and normalisation scales/shifts are 1-D; weight matrices, filters and embeddings are not.
        if p.requires_grad and (not weights_only or p.ndim >= 2):
            chosen.append(p)
    return chosen


def l1_penalty(module_or_params: Module | Iterable[Tensor], weights_only: bool = False) -> Any:
    """Σ|θ| over every trainable parameter, or only over weights (ndim ≥ 2) with weights_only=True.

    Add `lam * l1_penalty(model)` to the loss; its gradient is lam·sign(θ), which drives weights to zero.
    """
    total: Any = 0.0
    for p in _selected(module_or_params, weights_only):
        total = total + p.abs().sum()
    return total


def l2_penalty(module_or_params: Module | Iterable[Tensor], weights_only: bool = False) -> Any:
    """Σθ² over every trainable parameter, or only over weights (ndim ≥ 2) with weights_only=True.

    `loss + wd / 2 * l2_penalty(model)` has the gradient of SGD's `weight_decay=wd` (which covers all
    parameters, hence the default here); note Adam's weight_decay is the same gradient, AdamW's is not.
    """
    total: Any = 0.0
    for p in _selected(module_or_params, weights_only):
        total = total + (p * p).sum()
    return total

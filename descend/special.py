"""`descend.special`: PyTorch's torch.special names for the special functions descend has."""

from __future__ import annotations

import math
from typing import Any

from descend.ops.api import (digamma, erf, exp2, expm1, log1p, log_softmax, logsumexp, round, sigmoid, sinc,
                             softmax, xlogy)
from descend.ops.transcendental import erfc, erfinv, lgamma, logit, polygamma
from descend._tensor import Tensor

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "ndtr", "ndtri", "psi", "round", "sinc", "softmax", "xlogy"]

expit = sigmoid
gammaln = lgamma
psi = digamma


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF."""
    return 0.5 * (1 + erf(input * (1 / math.sqrt(2))))


def log_ndtr(input: Tensor) -> Tensor:
    """log of the standard normal CDF."""
    return ndtr(input).log()


def ndtri(input: Tensor) -> Tensor:
    """The inverse of the standard normal CDF."""
    return erfinv(2 * input - 1) * math.sqrt(2)


def entr(input: Any) -> Tensor:
    """-x log x (0 at 0, -inf for x < 0)."""
    return -xlogy(input, input)

"""Dropout layers beyond plain Dropout: channel dropout (PyTorch's Dropout1d and Dropout2d: whole feature maps
are zeroed together) and alpha dropout for SELU networks (AlphaDropout, FeatureAlphaDropout)."""

from __future__ import annotations

from descend import functional as F
from descend.nn.module import Module
from descend._tensor import Tensor


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                             f"but got {p}")
        # `inplace` is accepted for PyTorch code; the result is the same computed out of place.
        self.p, self.inplace = float(p), inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero each channel of (N, C, L) or (C, L) with probability p in training, scaling the rest by 1/(1-p)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero each channel of (N, C, H, W) or (C, H, W) with probability p in training (scaled by 1/(1-p))."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks (`F.alpha_dropout`): mean and variance kept; identity in eval.

    >>> import descend
    >>> AlphaDropout(0.2).eval()(descend.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (`F.feature_alpha_dropout`)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)

"""Softmax2d, distance modules, RReLU, power-average pooling, max unpooling, local response norm, channel
shuffle, circular padding and three losses, with PyTorch's constructor arguments and defaults (over
descend.functional)."""

from __future__ import annotations

from typing import Any, Callable

from descend import backend
from descend import functional as F
from descend.nn.loss import _Loss, _WeightedLoss
from descend.nn.layers import Linear, _empty
from descend.nn.module import Module, Parameter
from descend._tensor import Tensor

__all__ = ["CTCLoss", "LazyLinear", "RMSNorm", "Softmax2d", "CosineSimilarity", "PairwiseDistance", "RReLU", "LPPool1d", "LPPool2d", "MaxUnpool1d",
           "MaxUnpool2d", "LocalResponseNorm", "ChannelShuffle", "CircularPad1d", "CircularPad2d",
           "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "TripletMarginWithDistanceLoss"]


def _ints(v: Any, n: int) -> tuple:
    """PyTorch's _single/_pair/_quadruple: an int repeated n times; a sequence as a tuple."""
    return (int(v),) * n if isinstance(v, int) else tuple(v)


# ---- lazy linear layer -------------------------------------------------------------------------------------

class LazyLinear(Linear):
    """A Linear layer whose in_features is read from its first input; it then becomes a Linear (initialised as
    one), as PyTorch's. Run one forward pass before building the optimizer, as PyTorch's documentation asks.

    >>> import descend
    >>> m = LazyLinear(3)
    >>> _ = m(descend.ones(2, 5))
    >>> type(m).__name__, m.weight.shape
    ('Linear', descend.Size([3, 5]))
    """

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        Module.__init__(self)
        self.in_features, self.out_features = 0, out_features
        self.weight = Parameter(_empty(0, dtype=dtype))
        self.bias = Parameter(_empty(0, dtype=dtype)) if bias else None
        self._lazy = (device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._materialize(int(x.shape[-1]) if x.ndim else 1)
        return Linear.forward(self, x)

    def _lazy_load(self, state_dict: dict, prefix: str) -> None:
        """Before a state dict is loaded into a model holding this layer: take in_features from its weight."""
        weight = state_dict.get(prefix + "weight")
        if weight is not None and len(weight.shape) == 2:
            self._materialize(int(weight.shape[1]))

    def _materialize(self, in_features: int) -> None:
        device, dtype = self._lazy
        self.in_features = in_features
        self.weight = _empty(self.out_features, self.in_features, dtype=dtype)
        if self.bias is not None:
            self.bias = _empty(self.out_features, dtype=dtype)
        self.reset_parameters()
        if device is not None:
            self.to(device)
        del self._lazy
        self.__class__ = Linear


# ---- RMS normalisation -----------------------------------------------------------------------------------

class RMSNorm(Module):
    """x / sqrt(mean(x², trailing `normalized_shape` dims) + eps) · weight (weight starts at ones).

    >>> import descend
    >>> RMSNorm(2)(descend.tensor([[3.0, 4.0]])).shape
    descend.Size([1, 2])
    """

    def __init__(self, normalized_shape: Any, eps: float | None = None, elementwise_affine: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = (int(normalized_shape),) if isinstance(normalized_shape, int) else \
            tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = Parameter(backend.xp.ones(self.normalized_shape, dtype=backend.default_dtype())) \
            if elementwise_affine else None
        if self.weight is not None and (device is not None or dtype is not None):
            self.weight = Parameter(self.weight.to(device=device, dtype=dtype))

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ---- activations and distances -------------------------------------------------------------------------

class Softmax2d(Module):
    """Softmax over the channels at each location of (N, C, H, W) or (C, H, W).

    >>> import descend
    >>> Softmax2d()(descend.zeros(2, 1, 1)).flatten().tolist()
    [0.5, 0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along dim, each norm clamped below at eps.

    >>> import descend
    >>> CosineSimilarity()(descend.tensor([[1.0, 0.0]]), descend.tensor([[2.0, 0.0]])).tolist()
    [1.0]
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim.

    >>> import descend
    >>> PairwiseDistance(eps=0.0)(descend.tensor([[3.0, 0.0]]), descend.tensor([[0.0, 4.0]])).tolist()
    [5.0]
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class RReLU(Module):
    """Randomized leaky ReLU: slopes U(lower, upper) per element in training, (lower + upper) / 2 in eval.

    >>> import descend
    >>> RReLU(0.1, 0.3).eval()(descend.tensor([-1.0, 2.0])).tolist()
    [-0.20000000298023224, 2.0]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training)  # out of place, as the other modules

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


# ---- pooling -------------------------------------------------------------------------------------------

class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """(Σ x^p)^(1/p) over windows of (N, C, L).

    >>> import descend
    >>> LPPool1d(1, 2)(descend.tensor([[1.0, 2.0, 3.0, 4.0]])).tolist()
    [[3.0, 7.0]]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool1d(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """(Σ x^p)^(1/p) over windows of (N, C, H, W).

    >>> import descend
    >>> LPPool2d(2, 2)(descend.ones(1, 1, 2, 2)).tolist()
    [[[[2.0]]]]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class _MaxUnpoolNd(Module):
    _dims = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = _ints(kernel_size, self._dims)
        self.stride = _ints(stride if stride is not None else kernel_size, self._dims)
        self.padding = _ints(padding, self._dims)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The inverse of MaxPool1d: values put back at the indices it returned, zeros elsewhere.

    >>> import descend, descend.nn as nn
    >>> y, idx = nn.MaxPool1d(2, return_indices=True)(descend.tensor([[1.0, 3.0, 4.0, 2.0]]))
    >>> MaxUnpool1d(2)(y, idx).tolist()
    [[0.0, 3.0, 4.0, 0.0]]
    """

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool2d(_MaxUnpoolNd):
    """The inverse of MaxPool2d: values put back at the flat H * W indices it returned, zeros elsewhere.

    >>> import descend, descend.nn as nn
    >>> y, idx = nn.MaxPool2d(2, return_indices=True)(descend.tensor([[[1.0, 2.0], [5.0, 3.0]]]))
    >>> MaxUnpool2d(2)(y, idx).tolist()
    [[[0.0, 0.0], [5.0, 0.0]]]
    """

    _dims = 2

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


# ---- normalisation and shuffling -----------------------------------------------------------------------

class LocalResponseNorm(Module):
    """x / (k + alpha / size * Σ x²)^beta over `size` neighbouring channels (AlexNet's normalisation).

    >>> import descend
    >>> LocalResponseNorm(1, alpha=3.0, beta=0.5)(descend.ones(1, 1, 2)).tolist()
    [[[0.5, 0.5]]]
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class ChannelShuffle(Module):
    """Interleave the channels of `groups` groups (ShuffleNet).

    >>> import descend
    >>> ChannelShuffle(2)(descend.arange(4.0).reshape(1, 4, 1)).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


# ---- circular padding ----------------------------------------------------------------------------------

class CircularPad1d(Module):
    """Pad the last dim by (left, right), wrapping around: the left pad copies the end of the input.

    >>> import descend
    >>> CircularPad1d(1)(descend.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[3.0, 1.0, 2.0, 3.0, 1.0]]
    """

    _dims = 1

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _ints(padding, 2 * self._dims)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"expected {self._dims + 1}D or {self._dims + 2}D input (got {input.ndim}D input)")
        return F.pad(input, self.padding, "circular")

    def extra_repr(self) -> str:
        return f"{self.padding}"


class CircularPad2d(CircularPad1d):
    """Pad the last two dims by (left, right, top, bottom), wrapping around.

    >>> import descend
    >>> CircularPad2d((0, 0, 1, 0))(descend.tensor([[[1.0], [2.0]]])).flatten().tolist()
    [2.0, 1.0, 2.0]
    """

    _dims = 2


# ---- losses --------------------------------------------------------------------------------------------

class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss over -1-terminated label lists (see F.multilabel_margin_loss).

    >>> import descend
    >>> x = descend.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(MultiLabelMarginLoss()(x, descend.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class logistic loss averaged over classes, for 0/1 multi-label targets.

    >>> import descend
    >>> round(MultiLabelSoftMarginLoss()(descend.zeros(1, 2), descend.tensor([[1.0, 0.0]])).item(), 4)
    0.6931
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """max(d(a, p) - d(a, n) + margin, 0) with any distance d (PairwiseDistance() by default).

    >>> import descend
    >>> a, p, n = descend.zeros(1, 2), descend.tensor([[3.0, 4.0]]), descend.tensor([[0.0, 1.0]])
    >>> loss = TripletMarginWithDistanceLoss(distance_function=lambda x, y: (x - y).abs().sum(-1))
    >>> loss(a, p, n).item()
    7.0
    """

    def __init__(self, *, distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
                 margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             "instead")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss over (T, N, C) log-probabilities (see F.ctc_loss).

    >>> import descend
    >>> lp = descend.zeros(3, 1, 2).log_softmax(2)
    >>> round(CTCLoss(reduction="sum")(lp, descend.tensor([[1]]), [3], [1]).item(), 4)
    0.2877
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)

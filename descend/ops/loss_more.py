"""Multi-label margin losses, the triplet loss with any distance, and pairwise distances within one set.

PyTorch's names, arguments, defaults and errors (F.multilabel_margin_loss, F.multilabel_soft_margin_loss,
F.triplet_margin_with_distance_loss, F.pdist), composed from differentiable ops.
Part of `descend.functional` / `descend.nn.functional`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from descend import backend
from descend.ops import elementwise as _ew
from descend.ops.activations import logsigmoid
from descend.ops.distance import pairwise_distance
from descend.ops.errors import OpError, OpTypeError
from descend.ops.loss_functional import _legacy, _reduce
from descend.ops.movement import cat, stack
from descend.ops.stats import VectorNorm
from descend._tensor import Tensor

__all__ = ["multilabel_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_with_distance_loss",
           "pdist", "ctc_loss"]


def _host(a: Any) -> np.ndarray:
    """An array as NumPy (the label sets are laid out on the host)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _label_sets(op: str, input: Tensor, target: Any) -> tuple:
    """(labels clamped to valid classes, label-slot mask, target-class mask) from -1-terminated target rows."""
    y = _host(target._data if isinstance(target, Tensor) else target)
    if y.dtype.kind not in "iu":
        raise OpTypeError(f"{op}: target must hold integer class indices, got dtype {y.dtype}")
    if input.ndim > 2 or tuple(y.shape) != tuple(input.shape):
        raise OpError(f"{op}: inconsistent target size: {list(y.shape)} for input of size: {list(input.shape)}")
    y = y.reshape(-1, input.shape[-1] if input.ndim else 1).astype(np.int64)
    c = y.shape[1]
    if y.size and (int(y.min()) < -1 or int(y.max()) >= c):
        raise OpError(f"{op}: argument #2 'target' is out of range: class indices must be in [-1, {c})")
    # Each row lists its classes up to the first -1; what follows is ignored.
    slot = np.cumprod(y >= 0, axis=1).astype(bool)
    labels = np.where(slot, y, 0)
    is_target = np.zeros(y.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(y.shape[0])[:, None], y.shape)
    is_target[rows[slot], labels[slot]] = True
    return labels, slot, is_target


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Σ over labels j and non-labels i of max(0, 1 - (x[y_j] - x[i])) / C; target rows end at the first -1.

    >>> import descend
    >>> x = descend.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(multilabel_margin_loss(x, descend.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """
    op = "multilabel_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    labels, slot, is_target = _label_sets(op, input, target)
    xp = backend.get_array_module(input._data)
    dt = input._data.dtype
    x = input.reshape((-1, labels.shape[1]))
    x_label = x.gather(1, Tensor(xp.asarray(labels)))  # (N, C): x[y_j] per label slot j
    hinge = (1 - (x_label.unsqueeze(2) - x.unsqueeze(1))).relu()  # (N, j, i)
    pairs = slot[:, :, None] & ~is_target[:, None, :]
    loss = (hinge * Tensor(xp.asarray(pairs.astype(dt)))).sum((1, 2)) / labels.shape[1]
    loss = loss.reshape(input.shape[:-1]) if input.ndim else loss.reshape(())
    return _reduce(loss, reduction, op)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-mean over classes of weight * (y log σ(x) + (1 - y) log σ(-x)), per sample.

    >>> import descend
    >>> round(multilabel_soft_margin_loss(descend.zeros(1, 2), descend.tensor([[1.0, 0.0]])).item(), 4)
    0.6931
    """
    op = "multilabel_soft_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: {reduction} is not valid")
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(input.ndim - 1) / input.shape[-1]
    return _reduce(loss, reduction, op)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) for any distance d (pairwise_distance by default).

    >>> import descend
    >>> a, p, n = descend.zeros(1, 2), descend.tensor([[3.0, 4.0]]), descend.tensor([[0.0, 1.0]])
    >>> round(triplet_margin_with_distance_loss(a, p, n).item(), 4)
    5.0
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise OpError("The anchor, positive, and negative tensors are expected to have the same number of "
                      f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                      f"{negative.ndim}D inputs")
    distance = pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = _ew.Minimum.apply(dist_neg, distance(positive, negative))
    loss = (margin + dist_pos - dist_neg).clamp_min(0)
    return _reduce(loss, reduction, "triplet_margin_with_distance_loss")


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distances between every pair of rows i < j of an (N, M) input, as N (N - 1) / 2 values.

    >>> import descend
    >>> pdist(descend.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])).tolist()
    [5.0, 4.0, 3.0]
    """
    if input.ndim != 2:
        raise OpError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise OpError("pdist only supports non-negative p values")
    if input.dtype.kind != "f":
        raise OpTypeError(f"pdist only supports floating-point dtypes, got {input.dtype}")
    i, j = np.triu_indices(input.shape[0], 1)
    xp = backend.get_array_module(input._data)
    diff = input[xp.asarray(i)] - input[xp.asarray(j)]
    # VectorNorm's gradient is 0 where a distance is 0, as PyTorch's pdist backward.
    return VectorNorm.apply(diff, ord=float(p), dim=-1)


_IMPOSSIBLE = -1e30  # a log-probability standing for -inf that keeps logsumexp's gradient finite


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification (Graves et al. 2006): -log of the total probability of every
    alignment of the targets to the (T, N, C) log-probabilities, by the forward recursion in log space over
    differentiable ops. targets are (N, S) padded or 1-D concatenated; reduction "mean" divides each loss by its
    target length first, as PyTorch's. The gradient with respect to logits under log_softmax is PyTorch's (its
    gradient with respect to log_probs themselves adds exp(log_probs), which log_softmax's backward cancels).

    >>> import descend
    >>> lp = descend.zeros(3, 1, 2).log_softmax(2)  # uniform over {blank, 1}
    >>> round(ctc_loss(lp, descend.tensor([[1]]), [3], [1], reduction="sum").item(), 4)  # 6 of 8 paths -> 1
    0.2877
    """
    op = "ctc_loss"
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.ndim != 3:
        raise OpError(f"{op}: expected log_probs (T, N, C) or (T, C), got {list(log_probs.shape)}")
    t_max, n, c = lp.shape
    in_len = _host(input_lengths._data if isinstance(input_lengths, Tensor) else input_lengths).reshape(-1)
    tg_len = _host(target_lengths._data if isinstance(target_lengths, Tensor) else target_lengths).reshape(-1)
    tg = _host(targets._data if isinstance(targets, Tensor) else targets).astype(np.int64)
    if unbatched:
        tg = tg.reshape(1, -1)
    if len(in_len) != n or len(tg_len) != n:
        raise OpError(f"{op}: expected {n} input and target lengths, got {len(in_len)} and {len(tg_len)}")
    if (in_len > t_max).any() or (in_len < 0).any():
        raise OpError(f"{op}: input lengths must lie in [0, {t_max}], got {in_len.tolist()}")
    s_max = int(tg_len.max()) if n else 0
    labels = np.zeros((n, s_max), np.int64)
    if tg.ndim == 1:  # concatenated targets
        starts = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
        for i in range(n):
            labels[i, :tg_len[i]] = tg[starts[i]:starts[i] + tg_len[i]]
    else:
        if tg.shape[1] < s_max:
            raise OpError(f"{op}: targets of shape {list(tg.shape)} are shorter than a target length {s_max}")
        labels = tg[:, :s_max].copy()
    width = 2 * s_max + 1
    ext = np.full((n, width), blank, np.int64)
    ext[:, 1::2] = labels
    # A step from s - 2 to s skips a blank: allowed between two different labels.
    skip = np.zeros((n, width), bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    valid = np.arange(width)[None, :] < (2 * tg_len + 1)[:, None]
    xp = backend.get_array_module(lp._data)
    dt = lp._data.dtype
    index = Tensor(xp.asarray(np.broadcast_to(ext[None], (t_max, n, width)).copy()))
    emit = lp.gather(2, index)  # (T, N, width): the log-probability of each extended label
    masked = Tensor(xp.asarray(np.where(valid, 0.0, _IMPOSSIBLE).astype(dt)))
    start = np.full((n, width), _IMPOSSIBLE, dt)
    start[:, 0] = 0
    if width > 1:
        start[tg_len > 0, 1] = 0
    alpha = emit[0] + Tensor(xp.asarray(start)) + masked
    no_skip = Tensor(xp.asarray(np.where(skip, 0.0, _IMPOSSIBLE).astype(dt)))
    pad = Tensor(xp.full((n, 1), _IMPOSSIBLE, dtype=dt))
    for t in range(1, t_max):
        one = cat([pad, alpha[:, :-1]], dim=1)
        two = cat([pad, pad, alpha[:, :-2]], dim=1) + no_skip if width > 1 else pad
        step = stack([alpha, one, two[:, :width]]).logsumexp(0) + emit[t] + masked
        live = Tensor(xp.asarray((t < in_len)[:, None].astype(dt)))
        alpha = step * live + alpha * (1 - live)
    ends = np.stack([2 * tg_len, np.maximum(2 * tg_len - 1, 0)], axis=1)
    last = alpha.gather(1, Tensor(xp.asarray(ends)))
    last = last + Tensor(xp.asarray(np.where(tg_len[:, None] > 0, [[0.0, 0.0]], [[0.0, _IMPOSSIBLE]]).astype(dt)))
    loss = -last.logsumexp(1)
    # No input frames: the empty target has probability 1, any other none.
    empty_input = Tensor(xp.asarray((in_len == 0).astype(dt)))
    loss = loss * (1 - empty_input) + Tensor(xp.asarray(np.where((in_len == 0) & (tg_len > 0), -_IMPOSSIBLE,
                                                                  0.0).astype(dt)))
    impossible = Tensor(xp.asarray((backend.to_numpy(loss._data) > -_IMPOSSIBLE / 10).astype(dt)))
    if zero_infinity:
        loss = loss * (1 - impossible)
    elif bool((backend.to_numpy(impossible._data) > 0).any()):
        loss = loss + Tensor(xp.asarray(np.where(backend.to_numpy(impossible._data) > 0, np.inf, 0.0).astype(dt)))
    if reduction == "mean":
        return (loss / Tensor(xp.asarray(np.maximum(tg_len, 1).astype(dt)))).mean()
    if reduction == "sum":
        return loss.sum()
    if reduction != "none":
        raise OpError(f"{op}: {reduction} is not a valid value for reduction")
    return loss.reshape(()) if unbatched else loss

"""Normal, Uniform, Bernoulli and Categorical, composed from differentiable descend ops, and their KL
divergences (see the package docstring)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend._tensor import Tensor, no_grad

__all__ = ["Distribution", "Normal", "Uniform", "Bernoulli", "Categorical", "kl_divergence"]


def _t(x: Any) -> Tensor:
    """A parameter as a tensor (Python numbers in the default float dtype)."""
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=backend.default_dtype()))


def _broadcast(*params: Any) -> list[Tensor]:
    """The parameters as tensors broadcast to one shape (the batch shape)."""
    ts = [_t(p) for p in params]
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in ts))
    return [t.expand(*shape) for t in ts]


def _shape(sample_shape: Any) -> tuple:
    return tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)


class Distribution:
    """The shared surface: shapes, `sample` as `rsample` without gradient, stddev from the variance."""

    has_rsample = False

    def __init__(self, batch_shape: tuple = (), event_shape: tuple = (), validate_args: bool | None = None) -> None:
        self.batch_shape, self.event_shape = tuple(batch_shape), tuple(event_shape)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    _shown: tuple[str, ...] = ()  # the parameters repr() shows, as PyTorch's

    def _extended(self, sample_shape: Any) -> tuple:
        return _shape(sample_shape) + self.batch_shape + self.event_shape

    def _check(self, name: str, ok: Any, constraint: str, validate_args: bool | None) -> None:
        """PyTorch's argument validation (on unless validate_args=False): a ValueError naming the constraint."""
        if validate_args is not False and not bool(backend.to_numpy(ok).all()):
            value = getattr(self, name)
            raise ValueError(f"Expected parameter {name} (Tensor of shape {tuple(value.shape)}) of distribution "
                             f"{self!r} to satisfy the constraint {constraint}, but found invalid values:\n{value}")

    def __repr__(self) -> str:
        parts = []
        for name in self._shown:
            v = self.__dict__.get(name)
            if v is not None:
                shown = v.item() if v.ndim == 0 else v if v.numel() == 1 else v.shape
                parts.append(f"{name}: {shown!r}" if v.numel() != 1 else f"{name}: {shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


class Normal(Distribution):
    """N(loc, scale²), elementwise."""

    has_rsample = True
    _shown = ("loc", "scale")

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = _broadcast(loc, scale)
        super().__init__(tuple(self.loc.shape))
        self._check("scale", self.scale._data > 0, "GreaterThan(lower_bound=0.0)", validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self.scale * self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended(sample_shape)
        eps = backend.rng().standard_normal(shape).astype(self.loc._data.dtype)
        return self.loc + Tensor(backend.xp.asarray(eps)) * self.scale

    def log_prob(self, value: Any) -> Tensor:
        value = _t(value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value: Any) -> Tensor:
        return 0.5 * (1 + ((_t(value) - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value: Any) -> Tensor:
        return self.loc + self.scale * (2 * _t(value) - 1).erfinv() * math.sqrt(2)

    @property
    def mode(self) -> Tensor:
        return self.loc


class Uniform(Distribution):
    """U[low, high), elementwise."""

    has_rsample = True
    _shown = ("low", "high")

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = _broadcast(low, high)
        super().__init__(tuple(self.low.shape))
        self._check("low", self.low._data < self.high._data, "LessThan(upper_bound=high)", validate_args)

    @property
    def mean(self) -> Tensor:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        u = backend.rng().random(self._extended(sample_shape)).astype(self.low._data.dtype)
        return self.low + Tensor(backend.xp.asarray(u)) * (self.high - self.low)

    def log_prob(self, value: Any) -> Tensor:
        value = _t(value)
        inside = ((value >= self.low) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()


class Bernoulli(Distribution):
    """1 with probability `probs` (or sigmoid(`logits`)), else 0."""

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = _t(probs)
            eps = float(np.finfo(self.probs._data.dtype).eps)
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (1 - p).log()
            self._check("probs", (self.probs._data >= 0) & (self.probs._data <= 1), "Interval(lower_bound=0.0, "
                        "upper_bound=1.0)", validate_args)
        else:
            self.logits = _t(logits)
            self.probs = self.logits.sigmoid()
        self._shown = ("probs",) if probs is not None else ("logits",)
        super().__init__(tuple(self.logits.shape))

    @property
    def mode(self) -> Tensor:
        return (self.probs > 0.5).to(self.probs.dtype)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        u = backend.rng().random(self._extended(sample_shape))
        p = backend.to_numpy(self.probs._data)
        return Tensor(backend.xp.asarray((u < p).astype(self.probs._data.dtype)))

    def log_prob(self, value: Any) -> Tensor:
        logits, value = _broadcast(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value.to(logits.dtype), reduction="none")

    def entropy(self) -> Tensor:
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


class Categorical(Distribution):
    """One of K categories (the last dim of `probs` or `logits`) with the given (unnormalised) weights."""

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = _t(probs)
            if validate_args is not False and not bool(backend.to_numpy(probs._data >= 0).all()):
                raise ValueError(f"Expected parameter probs (Tensor of shape {tuple(probs.shape)}) of distribution "
                                 f"Categorical to satisfy the constraint Simplex(), but found invalid values:\n{probs}")
            self.probs = probs / probs.sum(-1, keepdim=True)
            eps = float(np.finfo(self.probs._data.dtype).eps)
            self.logits = self.probs.clamp(eps, 1 - eps).log()
        else:
            logits = _t(logits)
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = int(self.logits.shape[-1])
        self._shown = ("probs",) if probs is not None else ("logits",)
        super().__init__(tuple(self.logits.shape[:-1]))

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def param_shape(self) -> tuple:
        return tuple(self.logits.shape)

    @property
    def mean(self) -> Tensor:
        return Tensor(backend.xp.full(self.batch_shape, np.nan, dtype=self.probs._data.dtype))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = _shape(sample_shape) + self.batch_shape
        p = backend.to_numpy(self.probs._data).reshape(-1, self._num_events).astype(np.float64)
        u = backend.rng().random((int(np.prod(_shape(sample_shape), dtype=np.int64)), p.shape[0]))
        # Inverse CDF per row: the first category whose cumulative probability exceeds u.
        cdf = np.cumsum(p, axis=1)
        idx = (u[..., None] >= cdf[None] / cdf[None, :, -1:]).sum(-1)
        return Tensor(backend.xp.asarray(np.minimum(idx, self._num_events - 1).reshape(shape).astype(np.int64)))

    def log_prob(self, value: Any) -> Tensor:
        value = value if isinstance(value, Tensor) else Tensor(np.asarray(value, dtype=np.int64))
        shape = np.broadcast_shapes(tuple(value.shape), self.batch_shape)
        logits = self.logits.expand(*(shape + (self._num_events,)))
        return logits.gather(-1, value.long().expand(*shape).unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> Tensor:
        eps = float(np.finfo(self.probs._data.dtype).tiny)
        return -(self.probs * self.logits.clamp(min=math.log(eps))).sum(-1)


def _fill(t: Tensor, mask: Tensor, value: float) -> Tensor:
    """t with `value` where mask (broadcast) holds; no gradient flows there."""
    mask = mask.expand(*t.shape) if tuple(mask.shape) != tuple(t.shape) else mask
    return t.masked_fill(mask, value) if bool(mask.any()) else t


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p ‖ q) for two distributions of the same family, elementwise over the batch."""
    if isinstance(p, Normal) and isinstance(q, Normal):
        ratio = (p.scale / q.scale) ** 2
        return 0.5 * (ratio + ((p.loc - q.loc) / q.scale) ** 2 - 1 - ratio.log())
    # As PyTorch: mass of p where q has none makes KL infinite; terms where p has no mass are 0.
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        t = p.probs * (p.logits - q.logits)
        t = _fill(t, q.probs == 0, math.inf)
        return _fill(t, p.probs == 0, 0.0).sum(-1)
    if isinstance(p, Bernoulli) and isinstance(q, Bernoulli):
        t1 = p.probs * (F.softplus(-q.logits) - F.softplus(-p.logits))
        t1 = _fill(_fill(t1, q.probs == 0, math.inf), p.probs == 0, 0.0)
        t2 = (1 - p.probs) * (F.softplus(q.logits) - F.softplus(p.logits))
        t2 = _fill(_fill(t2, q.probs == 1, math.inf), p.probs == 1, 0.0)
        return t1 + t2
    if isinstance(p, Uniform) and isinstance(q, Uniform):
        out = ((q.high - q.low) / (p.high - p.low)).log()
        return _fill(out, (q.low > p.low) | (q.high < p.high), math.inf)
    raise NotImplementedError(f"kl_divergence: no rule for {type(p).__name__} and {type(q).__name__}")

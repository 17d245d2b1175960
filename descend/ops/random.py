"""Generators and sampling: `descend.Generator`, the default generator over `backend.rng()`, and the
samplers that take `generator=` (multinomial, bernoulli, normal, poisson).

Global-stream calls draw exactly what they drew before, so checkpoints resume to the same numbers.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from descend import backend
from descend.ops.errors import OpError
from descend.ops.logic import raw
from descend._tensor import Tensor


class Generator:
    """A random number generator of its own (PCG64), as torch.Generator: seed it, save and restore it."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = backend.device(device)
        self._seed = 67280421310721  # PyTorch's default seed for a new generator
        self._rng = np.random.default_rng(self._seed)

    def numpy(self) -> np.random.Generator:
        """The NumPy generator that draws the numbers."""
        return self._rng

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed; returns self so `Generator().manual_seed(0)` can be passed along."""
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        s = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed last set."""
        return self._seed

    def get_state(self) -> Tensor:
        """The state as a uint8 tensor (JSON of the bit generator's state), for `set_state`."""
        return _encode(self.numpy().bit_generator.state, self.initial_seed())

    def set_state(self, new_state: Tensor) -> "Generator":
        """Restore a state from `get_state`."""
        state, seed = _decode(new_state)
        self.numpy().bit_generator.state = state
        self._seed = seed
        return self

    def __getattr__(self, name: str) -> Any:
        # Code written against NumPy's Generator (nn.init, samplers) can take a descend.Generator as is.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.numpy(), name)

    def __repr__(self) -> str:
        return f"<descend.Generator device={self.device}>"


class _DefaultGenerator(Generator):
    """The global generator: a view of `backend.rng()`, which backend.manual_seed replaces."""

    def __init__(self) -> None:
        self.device = backend.device("cpu")

    def numpy(self) -> np.random.Generator:
        return backend.rng()

    def manual_seed(self, seed: int) -> "Generator":
        backend.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
        return self

    def initial_seed(self) -> int:
        return int(backend.rng().bit_generator.seed_seq.entropy)

    def set_state(self, new_state: Tensor) -> "Generator":
        state, seed = _decode(new_state)
        backend.manual_seed(seed)  # so initial_seed() reports the seed the restored stream started from
        backend.set_rng_state(state)
        return self


default_generator = _DefaultGenerator()


def _encode(state: dict, seed: int) -> Tensor:
    blob = json.dumps({"state": state, "seed": seed}).encode()
    return Tensor(np.frombuffer(blob, dtype=np.uint8).copy())


def _decode(t: Any) -> tuple:
    try:
        d = json.loads(bytes(np.asarray(raw(t), dtype=np.uint8)).decode())
        return d["state"], int(d["seed"])
    except (ValueError, KeyError, TypeError) as e:
        raise OpError(f"set_state: not a state from get_state ({e})") from None


def rng_of(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator to draw from: the given one, or the global stream."""
    if generator is None:
        return backend.rng()
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a descend.Generator, got {type(generator).__name__}")
    return generator.numpy()


# ---- the global stream -----------------------------------------------------------------------------------

def manual_seed(seed: int) -> Generator:
    """Seed the global generator (initialisation, dropout, shuffling); returns it, as torch.manual_seed."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global generator from the operating system's entropy; returns the seed."""
    s = int.from_bytes(os.urandom(8), "little") >> 1
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The global generator's seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The global generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the global generator from `get_rng_state`."""
    default_generator.set_state(new_state)


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded for PyTorch compatibility; descend's ops are deterministic whatever the setting."""
    _deterministic["mode"], _deterministic["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["warn_only"]


# ---- samplers ------------------------------------------------------------------------------------------

def _float_out(p: Any) -> Any:
    return p.dtype if p.dtype.kind == "f" else backend.default_dtype()


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices drawn from rows of non-negative weights (int64), with or without replacement."""
    w = np.asarray(backend.to_numpy(raw(input)), dtype=np.float64)
    if w.ndim not in (1, 2):
        raise OpError(f"multinomial: expected a 1-D or 2-D tensor of weights, got shape {w.shape}")
    rows = w.reshape(1, -1) if w.ndim == 1 else w
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise OpError("multinomial: weights must be finite and non-negative")
    if (rows.sum(axis=1) <= 0).any():
        raise OpError("multinomial: each row of weights must have a positive sum")
    n = rows.shape[1]
    if not replacement and num_samples > n:
        raise OpError(f"multinomial: cannot draw {num_samples} samples without replacement from {n} categories")
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise OpError("multinomial: fewer non-zero weights than samples requested without replacement")
    gen = rng_of(generator)
    p = rows / rows.sum(axis=1, keepdims=True)
    if replacement:
        cdf = np.cumsum(p, axis=1)
        u = gen.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
        out = np.minimum(out, n - 1)
    else:
        # Exponential races: the k smallest of E_i / p_i are a weighted sample without replacement.
        with np.errstate(divide="ignore"):
            keys = gen.standard_exponential(rows.shape) / p
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return Tensor(backend.xp.asarray(out[0] if w.ndim == 1 else out))


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability input (or p) elementwise, else 0, in input's dtype."""
    probs = raw(input) if p is None else p
    a = raw(input)
    u = rng_of(generator).random(a.shape)
    out = (u < backend.to_numpy(probs)).astype(_float_out(a))
    return Tensor(backend.xp.asarray(out))


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal samples with the given mean and std (tensors broadcast; floats need `size`)."""
    m, s = raw(mean), raw(std)
    if size is not None:
        shape = tuple(size)
    else:
        if not hasattr(m, "shape") and not hasattr(s, "shape"):
            raise OpError("normal: give size= when mean and std are both numbers")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    if np.any(np.asarray(backend.to_numpy(s)) < 0):
        raise OpError("normal: std must be non-negative")
    dt = np.dtype(dtype) if dtype is not None else next(
        (x.dtype for x in (m, s) if hasattr(x, "dtype") and x.dtype.kind == "f"), backend.default_dtype())
    z = rng_of(generator).standard_normal(shape)
    out = (backend.to_numpy(m) + backend.to_numpy(s) * z).astype(dt)
    return Tensor(backend.xp.asarray(out), requires_grad=requires_grad)


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Poisson samples with rates `input`, in input's dtype."""
    rates = backend.to_numpy(raw(input))
    out = rng_of(generator).poisson(rates).astype(_float_out(rates))
    return Tensor(backend.xp.asarray(out))

"""Elman RNN and the single-step cells (RNNCell, GRUCell) with PyTorch's parameter names and equations.

Composed from differentiable ops one step at a time, so their gradients follow from the ops'. The weight
layout is PyTorch's: weight_ih (G*H, in), weight_hh (G*H, H) with the GRU gates stacked as (r, z, n).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend.nn import init
from descend.nn.module import Module, Parameter
from descend.nn.rnn import _RNNBase
from descend.ops import elementwise as _ew
from descend.ops.movement import cat, stack
from descend._tensor import Tensor
from descend.ops.errors import OpError


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return Tensor(backend.get_array_module(like._data).zeros(shape, dtype=like._data.dtype))


def _activation(name: str, nonlinearity: str) -> Any:
    if nonlinearity == "tanh":
        return F.tanh
    if nonlinearity == "relu":
        return F.relu
    raise ValueError(f"{name}: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")


class _CellBase(Module):
    """weight_ih (gates*H, in), weight_hh (gates*H, H), bias_ih and bias_hh, all from U(±1/√H)."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{type(self).__name__}: input_size ({input_size}) and hidden_size "
                             f"({hidden_size}) must be >= 1")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
        g = self._gates * hidden_size
        self.weight_ih = Parameter(backend.xp.zeros((g, input_size), dt))
        self.weight_hh = Parameter(backend.xp.zeros((g, hidden_size), dt))
        self.bias_ih = Parameter(backend.xp.zeros(g, dt)) if bias else None
        self.bias_hh = Parameter(backend.xp.zeros(g, dt)) if bias else None
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(±1/√hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _inputs(self, input: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor, bool]:
        name = type(self).__name__
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise OpError(f"{name}: expected input (N, {self.input_size}) or ({self.input_size},), got "
                          f"{tuple(input.shape)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            return x, _zeros((x.shape[0], self.hidden_size), x), unbatched
        h = hx.unsqueeze(0) if unbatched and hx.ndim == 1 else hx
        if tuple(h.shape) != (x.shape[0], self.hidden_size):
            raise OpError(f"{name}: expected hx ({x.shape[0]}, {self.hidden_size}) for input "
                          f"{tuple(input.shape)}, got {tuple(hx.shape)}")
        return x, h, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(_CellBase):
    """h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act tanh or relu."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        self._act = _activation("RNNCell", nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, unbatched = self._inputs(input, hx)
        out = self._act(F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
        return out.squeeze(0) if unbatched else out


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step from the input projection gi = x W_ihᵀ + b_ih (N, 3H) and the state h (N, H)."""
    hid = h.shape[-1]
    gh = F.linear(h, w_hh, b_hh)
    rz = _ew.Sigmoid.apply(gi[:, :2 * hid] + gh[:, :2 * hid])
    r, z = rz[:, :hid], rz[:, hid:]
    n = _ew.Tanh.apply(gi[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return n + z * (h - n)


class GRUCell(_CellBase):
    """r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h' = (1 - z) n + z h."""

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, unbatched = self._inputs(input, hx)
        out = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return out.squeeze(0) if unbatched else out


class RNN(_RNNBase):
    """Multi-layer Elman RNN; `forward(input, hx=None)` returns (output, h_n) like PyTorch.

    input: (L, N, input_size), (N, L, input_size) with batch_first, unbatched (L, input_size), or a
    PackedSequence (then output is one too, and h_n holds each sequence's state at its own last step).
    """

    mode = "RNN"
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        self._act = _activation("RNN", nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)

    def _direction(self, x: Tensor, h: Tensor, sfx: str, reverse: bool, mask: Any) -> tuple[Tensor, Tensor]:
        """Run one layer in one direction over x (T, N, in); mask (T, N, 1) marks valid steps (or None)."""
        w_hh, b_hh = getattr(self, "weight_hh" + sfx), getattr(self, "bias_hh" + sfx, None)
        gi = F.linear(x, getattr(self, "weight_ih" + sfx), getattr(self, "bias_ih" + sfx, None))
        outs: list = [None] * x.shape[0]
        for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
            new = self._act(gi[t] + F.linear(h, w_hh, b_hh))
            if mask is not None:  # past a sequence's end its state is frozen and its output is zero
                m = Tensor(mask[t])
                h = _ew.Where.apply(m, new, h)
                outs[t] = new * m
            else:
                h = new
                outs[t] = new
        return stack(outs, 0), h

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple[Any, Tensor]:
        from descend.nn.utils.rnn import PackedSequence, pad_packed_sequence, repack
        packed = isinstance(input, PackedSequence)
        mask = None
        if packed:  # padded in the caller's batch order, where hx and h_n are too (as in PyTorch)
            x, lengths = pad_packed_sequence(input)
            valid = (np.arange(x.shape[0])[:, None] < lengths._data[None, :])[..., None]
            mask = backend.get_array_module(x._data).asarray(valid)  # on the input's device
            unbatched = False
        else:
            x, unbatched = self._layout(input)
        hx = self._state(hx, x, unbatched, "hx")
        dirs = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                seq, h = self._direction(x, hx[layer * dirs + d], sfx, d == 1, mask)
                outs.append(seq)
                finals.append(h)
            x = self._between_layers(outs[0] if dirs == 1 else cat(outs, dim=-1), layer)
        h_n = stack(finals, dim=0)
        if packed:
            return repack(x, input), h_n
        return self._output(x, unbatched), (h_n.squeeze(1) if unbatched else h_n)

"""GRU and LSTM with PyTorch's parameter names, gate orders (r, z, n) and (i, f, g, o), and equations."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend.nn import init
from descend.nn.module import Module, Parameter
from descend.nn.rnn_packed import run_packed
from descend.nn.utils.rnn import PackedSequence, pad_packed_sequence, repack
from descend.ops.movement import cat, stack
from descend.ops.recurrent import GRURecurrence, LSTMRecurrence
from descend._tensor import Tensor
from descend.ops.errors import OpError


class _RNNBase(Module):
    """Layers x directions of one recurrence; parameters named and ordered as PyTorch's."""

    mode = ""
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        mode = self.mode
        if not 0 <= dropout <= 1:
            raise ValueError(f"{mode}: dropout must be in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{mode}: dropout={dropout} has no effect with num_layers=1 (it is applied between "
                          "layers)")
        if num_layers < 1 or hidden_size < 1:
            raise ValueError(f"{mode}: num_layers ({num_layers}) and hidden_size ({hidden_size}) must be >= 1")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        dirs = 2 if bidirectional else 1
        dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
        rows = self.gates * hidden_size
        # Assignment order is PyTorch's: per layer, per direction, weight_ih, weight_hh, bias_ih, bias_hh.
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                setattr(self, "weight_ih" + sfx, Parameter(backend.xp.zeros((rows, layer_in), dt)))
                setattr(self, "weight_hh" + sfx, Parameter(backend.xp.zeros((rows, hidden_size), dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(backend.xp.zeros(rows, dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(backend.xp.zeros(rows, dt)))
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(±1/√hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op, kept for PyTorch code (there is no cuDNN weight layout to compact)."""

    def _name(self) -> str:
        return f"{self.mode}({self.input_size}→{self.hidden_size})"

    def _layout(self, input: Tensor) -> tuple[Tensor, bool]:
        """(input as (L, N, input_size), whether it was unbatched), or a ValueError naming the layer."""
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
            raise OpError(f"{self._name()}: expected input {layout.format(self.input_size)} or "
                          f"(L, {self.input_size}), got {tuple(input.shape)}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        return x, unbatched

    def _unpack(self, input: Any) -> tuple[Tensor, bool, np.ndarray | None]:
        """(input as (L, N, input_size), unbatched, None), or for a PackedSequence its padded batch in the
        caller's order and the lengths (as in PyTorch, hx and h_n are in that order too)."""
        if isinstance(input, PackedSequence):
            x, lengths = pad_packed_sequence(input)
            if x.shape[-1] != self.input_size:
                raise OpError(f"{self._name()}: expected packed input of size {self.input_size}, got "
                              f"{tuple(x.shape)}")
            return x, False, backend.to_numpy(lengths._data).astype(np.int64)
        return self._layout(input) + (None,)

    def _state(self, state: Tensor | None, x: Tensor, unbatched: bool, name: str) -> Tensor:
        """An initial state shaped (D·num_layers, N, hidden_size): zeros, or the given one checked."""
        dirs = 2 if self.bidirectional else 1
        want = (self.num_layers * dirs, x.shape[1], self.hidden_size)
        if state is None:
            return Tensor(backend.get_array_module(x._data).zeros(want, dtype=x.dtype))
        if unbatched:
            state = state.unsqueeze(1)
        if tuple(state.shape) != want:
            shown = want[::2] if unbatched else want
            raise OpError(f"{self._name()}: expected {name} {shown}, got {tuple(state.shape)}")
        return state

    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        return (getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                getattr(self, "bias_ih" + sfx, None), getattr(self, "bias_hh" + sfx, None))

    def _between_layers(self, x: Tensor, layer: int) -> Tensor:
        if self.dropout > 0 and self.training and layer < self.num_layers - 1:
            return F.dropout(x, self.dropout, True)
        return x

    def _output(self, x: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            return x.squeeze(1)
        return x.transpose(0, 1) if self.batch_first else x

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class GRU(_RNNBase):
    """Multi-layer gated recurrent unit; `forward(input, hx=None)` returns (output, h_n) like PyTorch.

    input: (L, N, input_size), or (N, L, input_size) with batch_first, or unbatched (L, input_size), or a
    PackedSequence (then output is one too, and h_n holds each sequence's state at its own last step).
    output: (L, N, D·hidden_size) with D = 2 if bidirectional; h_n: (D·num_layers, N, hidden_size).
    """

    mode = "GRU"
    gates = 3

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple[Any, Tensor]:
        dirs = 2 if self.bidirectional else 1
        x, unbatched, lengths = self._unpack(input)
        hx = self._state(hx, x, unbatched, "hx")
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                gi = F.linear(x, w_ih, b_ih)

                def run(g: Tensor, states: tuple, reverse: bool) -> tuple:
                    seq = GRURecurrence.apply(g, states[0], w_hh, b_hh, reverse=reverse)
                    return seq, (seq[0] if reverse else seq[-1],)

                seq, (h,) = run(gi, (hx[layer * dirs + d],), d == 1) if lengths is None else \
                    run_packed(run, gi, (hx[layer * dirs + d],), lengths, d == 1)
                outs.append(seq)
                finals.append(h)
            x = self._between_layers(outs[0] if dirs == 1 else cat(outs, dim=-1), layer)
        h_n = stack(finals, dim=0)
        if lengths is not None:
            return repack(x, input), h_n
        return self._output(x, unbatched), (h_n.squeeze(1) if unbatched else h_n)


class LSTM(_RNNBase):
    """Multi-layer long short-term memory; `forward(input, (h0, c0)=None)` returns (output, (h_n, c_n)).

    Shapes as GRU's; c0 and c_n are shaped like h0 and h_n. `proj_size` other than 0 is not supported.

    >>> import descend
    >>> out, (h_n, c_n) = LSTM(3, 4, num_layers=2, bidirectional=True)(descend.ones(5, 2, 3))
    >>> out.shape, h_n.shape, c_n.shape
    (descend.Size([5, 2, 8]), descend.Size([4, 2, 4]), descend.Size([4, 2, 4]))
    """

    mode = "LSTM"
    gates = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        if proj_size != 0:
            raise NotImplementedError(f"LSTM: proj_size={proj_size} is not supported (only 0)")
        self.proj_size = 0
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)

    def forward(self, input: Any, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Any, tuple[Tensor, Tensor]]:
        dirs = 2 if self.bidirectional else 1
        x, unbatched, lengths = self._unpack(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"{self._name()}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
        h0 = self._state(None if hx is None else hx[0], x, unbatched, "h0")
        c0 = self._state(None if hx is None else hx[1], x, unbatched, "c0")
        h_finals, c_finals = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                k = layer * dirs + d
                gi = F.linear(x, w_ih, b_ih)

                def run(g: Tensor, states: tuple, reverse: bool) -> tuple:
                    steps = g.shape[0]  # the recurrence returns the steps' h, then the last c
                    seq = LSTMRecurrence.apply(g, states[0], states[1], w_hh, b_hh, reverse=reverse)
                    return seq[:steps], (seq[0] if reverse else seq[steps - 1], seq[steps])

                seq, (h, c) = run(gi, (h0[k], c0[k]), d == 1) if lengths is None else \
                    run_packed(run, gi, (h0[k], c0[k]), lengths, d == 1)
                outs.append(seq)
                h_finals.append(h)
                c_finals.append(c)
            x = self._between_layers(outs[0] if dirs == 1 else cat(outs, dim=-1), layer)
        h_n, c_n = stack(h_finals, dim=0), stack(c_finals, dim=0)
        if lengths is not None:
            return repack(x, input), (h_n, c_n)
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._output(x, unbatched), (h_n, c_n)


class LSTMCell(Module):
    """One LSTM step: `forward(input, (h, c)=None)` returns (h', c'); PyTorch's names and gate order."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
        self.weight_ih = Parameter(backend.xp.zeros((4 * hidden_size, input_size), dt))
        self.weight_hh = Parameter(backend.xp.zeros((4 * hidden_size, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(backend.xp.zeros(4 * hidden_size, dt))
            self.bias_hh = Parameter(backend.xp.zeros(4 * hidden_size, dt))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(±1/√hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise OpError(f"LSTMCell({self.input_size}→{self.hidden_size}): expected input "
                          f"(N, {self.input_size}) or ({self.input_size},), got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        want = (x.shape[0], self.hidden_size)
        if hx is None:
            zeros = backend.get_array_module(x._data).zeros(want, dtype=x.dtype)
            h, c = Tensor(zeros), Tensor(zeros)
        else:
            h, c = (t.unsqueeze(0) if unbatched else t for t in hx)
            for name, t in (("h", h), ("c", c)):
                if tuple(t.shape) != want:
                    raise ValueError(f"LSTMCell: expected {name} {want}, got {tuple(t.shape)}")
        gi = F.linear(x, self.weight_ih, self.bias_ih).unsqueeze(0)
        seq = LSTMRecurrence.apply(gi, h, c, self.weight_hh, self.bias_hh)
        h1, c1 = seq[0], seq[1]
        return (h1.squeeze(0), c1.squeeze(0)) if unbatched else (h1, c1)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

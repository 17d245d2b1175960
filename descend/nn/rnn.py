"""GRU with PyTorch's parameter names, gate order (r, z, n) and equations."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend.backend import get_array_module
from descend.nn import init
from descend.nn.module import Module, Parameter
from descend.ops.constants import ones_vector
from descend.ops.movement import cat, stack
from descend.tensor import Function, Tensor


def _sigmoid_(a: Any) -> Any:
    """a <- 1 / (1 + exp(-a)) in place; exp overflows to inf for very negative a, giving the correct 0."""
    xp = get_array_module(a)
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)
    return a


class GRURecurrence(Function):
    """The sequential part of one GRU layer in one direction, with a hand-written backward through time.

    Inputs: gi (T, N, 3H) = x W_ihᵀ + b_ih for every step (computed outside, one big matmul), h0 (N, H),
    W_hh (3H, H), b_hh (3H,) or None. Output: every hidden state (T, N, H). Per step, in PyTorch's terms:
        r = σ(gi_r + W_hr h + b_hr),  z = σ(gi_z + W_hz h + b_hz),
        n = tanh(gi_n + r ⊙ (W_hn h + b_hn)),  h' = n + z ⊙ (h − n)   (= (1 − z) ⊙ n + z ⊙ h).
    `reverse` walks t = T-1 … 0 (the backward direction of a bidirectional layer). Every step writes into
    preallocated (T, ...) buffers, so the loop is a dozen small in-place array ops and one GEMM.
    """

    def forward(self, gi, h0, w_hh, b_hh, reverse=False):
        xp = get_array_module(gi, h0, w_hh)
        steps, n_batch, h3 = gi.shape
        hid = h3 // 3
        out = xp.empty((steps, n_batch, hid), dtype=gi.dtype)
        rz = xp.empty((steps, n_batch, 2 * hid), dtype=gi.dtype)  # the r and z gates side by side
        cand = xp.empty_like(out)  # n
        gh = xp.empty((steps, n_batch, h3), dtype=gi.dtype)  # W_hh h + b_hh
        w_t = w_hh.T
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        h = h0
        with np.errstate(over="ignore"):
            for t in order:
                ght, gates, n, o = gh[t], rz[t], cand[t], out[t]
                xp.matmul(h, w_t, out=ght)
                if b_hh is not None:
                    ght += b_hh
                xp.add(gi[t, :, :2 * hid], ght[:, :2 * hid], out=gates)
                _sigmoid_(gates)
                xp.multiply(gates[:, :hid], ght[:, 2 * hid:], out=n)
                n += gi[t, :, 2 * hid:]
                xp.tanh(n, out=n)
                xp.subtract(h, n, out=o)
                o *= gates[:, hid:]
                o += n
                h = o
        self.out, self.rz, self.n, self.gh = out, rz, cand, gh
        self.h0, self.w_hh, self.reverse = h0, w_hh, reverse
        self.has_bias = b_hh is not None
        return out

    def backward(self, g):
        xp = get_array_module(g)
        out, w_hh = self.out, self.w_hh
        steps, n_batch, hid = out.shape
        # The state each step started from: h0, then the previous output in walking order.
        if self.reverse:
            h_prev = xp.concatenate([out[1:], self.h0[None]], axis=0)
        else:
            h_prev = xp.concatenate([self.h0[None], out[:-1]], axis=0)
        r, z, n = self.rz[..., :hid], self.rz[..., hid:], self.n
        # Local derivatives that do not depend on the incoming gradient, for all steps at once:
        # d(pre-tanh n) = dh * a_n, d(pre-σ z) = dh * a_z, d(pre-σ r) = d(pre-tanh n) * a_r.
        one_minus_z = 1 - z
        a_n = one_minus_z * (1 - n * n)
        a_z = (h_prev - n) * z * one_minus_z
        a_r = self.gh[..., 2 * hid:] * r * (1 - r)
        dgh = xp.empty((steps, n_batch, 3 * hid), dtype=g.dtype)
        dan = xp.empty((steps, n_batch, hid), dtype=g.dtype)
        dh = xp.zeros((n_batch, hid), dtype=g.dtype)
        order = range(steps) if self.reverse else range(steps - 1, -1, -1)
        for t in order:
            dh += g[t]
            d, dn = dgh[t], dan[t]
            xp.multiply(dh, a_n[t], out=dn)
            xp.multiply(dn, a_r[t], out=d[:, :hid])
            xp.multiply(dh, a_z[t], out=d[:, hid:2 * hid])
            xp.multiply(dn, r[t], out=d[:, 2 * hid:])
            dh *= z[t]
            dh += d @ w_hh
        dgi = xp.empty_like(dgh)
        dgi[..., :2 * hid] = dgh[..., :2 * hid]
        dgi[..., 2 * hid:] = dan
        flat = dgh.reshape(-1, 3 * hid)
        dw_hh = flat.T @ h_prev.reshape(-1, hid) if self.needs_input_grad[2] else None
        db_hh = None
        if self.has_bias and self.needs_input_grad[3]:  # a GEMV sums the (T*N, 3H) rows ~8x faster than sum
            db_hh = ones_vector(xp, flat.shape[0], flat.dtype) @ flat
        return dgi, dh, dw_hh, db_hh


class GRU(Module):
    """Multi-layer gated recurrent unit; `forward(input, hx=None)` returns (output, h_n) like PyTorch.

    input: (L, N, input_size), or (N, L, input_size) with batch_first, or unbatched (L, input_size).
    output: (L, N, D·hidden_size) with D = 2 if bidirectional; h_n: (D·num_layers, N, hidden_size).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"GRU: dropout must be in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"GRU: dropout={dropout} has no effect with num_layers=1 (it is applied between "
                          "layers)")
        if num_layers < 1 or hidden_size < 1:
            raise ValueError(f"GRU: num_layers ({num_layers}) and hidden_size ({hidden_size}) must be >= 1")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        dirs = 2 if bidirectional else 1
        dt = backend.default_dtype() if dtype is None else np.dtype(dtype)
        # Assignment order is PyTorch's: per layer, per direction, weight_ih, weight_hh, bias_ih, bias_hh.
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                setattr(self, "weight_ih" + sfx, Parameter(backend.xp.zeros((3 * hidden_size, layer_in), dt)))
                setattr(self, "weight_hh" + sfx, Parameter(backend.xp.zeros((3 * hidden_size, hidden_size), dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(backend.xp.zeros(3 * hidden_size, dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(backend.xp.zeros(3 * hidden_size, dt)))
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
        return f"GRU({self.input_size}→{self.hidden_size})"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        dirs = 2 if self.bidirectional else 1
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
            raise ValueError(f"{self._name()}: expected input {layout.format(self.input_size)} or "
                             f"(L, {self.input_size}), got {tuple(input.shape)}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        n_batch = x.shape[1]
        want = (self.num_layers * dirs, n_batch, self.hidden_size)
        if hx is None:
            hx = Tensor(backend.get_array_module(x._data).zeros(want, dtype=x.dtype))
        else:
            if unbatched:
                hx = hx.unsqueeze(1)
            if tuple(hx.shape) != want:
                shown = want[::2] if unbatched else want
                raise ValueError(f"{self._name()}: expected hx {shown}, got {tuple(hx.shape)}")
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
                b_ih, b_hh = getattr(self, "bias_ih" + sfx, None), getattr(self, "bias_hh" + sfx, None)
                gi = F.linear(x, w_ih, b_ih)
                seq = GRURecurrence.apply(gi, hx[layer * dirs + d], w_hh, b_hh, reverse=d == 1)
                outs.append(seq)
                finals.append(seq[0] if d == 1 else seq[-1])
            x = outs[0] if dirs == 1 else cat(outs, dim=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = stack(finals, dim=0)
        if unbatched:
            return x.squeeze(1), h_n.squeeze(1)
        return (x.transpose(0, 1) if self.batch_first else x), h_n

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

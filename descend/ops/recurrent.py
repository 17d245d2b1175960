"""The sequential parts of recurrent layers (GRU, LSTM), each one op with a hand-written backward through time.

The input projections x W_ihᵀ + b_ih of every step are one big matmul outside these ops; inside, each step is
one GEMM against W_hh and a dozen small in-place array ops on preallocated (T, ...) buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.backend import get_array_module
from descend.ops.constants import ones_vector
from descend._tensor import Function


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


class LSTMRecurrence(Function):
    """The sequential part of one LSTM layer in one direction, with a hand-written backward through time.

    Inputs: gi (T, N, 4H) = x W_ihᵀ + b_ih for every step, h0 (N, H), c0 (N, H), W_hh (4H, H), b_hh (4H,) or
    None. Per step, in PyTorch's gate order (i, f, g, o):
        i, f, o = σ(·), g = tanh(·) of gi_t + W_hh h + b_hh,  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c').
    Output (T + 1, N, H): the hidden state of every step in time order, then the final cell state c_n as one
    extra row, so a single op hands both on (slice [:T] and [T]). `reverse` walks t = T-1 … 0.
    """

    def forward(self, gi, h0, c0, w_hh, b_hh, reverse=False):
        xp = get_array_module(gi, h0, c0, w_hh)
        steps, n_batch, h4 = gi.shape
        hid = h4 // 4
        dt = gi.dtype
        # All four activations in one tanh per step: σ(z) = ½ + ½·tanh(z/2), so the i, f, o columns are
        # halved before (folded into W_hh and the inputs, once) and mapped by ½t + ½ after; g keeps tanh(z).
        half = np.full(h4, 0.5, dtype=dt)
        half[2 * hid:3 * hid] = 1
        shift = np.full(h4, 0.5, dtype=dt)
        shift[2 * hid:3 * hid] = 0
        half, shift = xp.asarray(half), xp.asarray(shift)
        gib = (gi if b_hh is None else gi + b_hh) * half
        w_t = (w_hh * half[:, None]).T
        out = xp.empty((steps + 1, n_batch, hid), dtype=dt)
        gates = xp.empty((steps, n_batch, h4), dtype=dt)  # i, f, g, o after their activations
        cells = xp.empty((steps, n_batch, hid), dtype=dt)
        tanh_c = xp.empty_like(cells)
        ig = xp.empty((n_batch, hid), dtype=dt)
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        h, c = h0, c0
        for t in order:
            gt, ct, tc = gates[t], cells[t], tanh_c[t]
            xp.matmul(h, w_t, out=gt)
            gt += gib[t]
            xp.tanh(gt, out=gt)
            gt *= half
            gt += shift
            xp.multiply(gt[:, hid:2 * hid], c, out=ct)
            xp.multiply(gt[:, :hid], gt[:, 2 * hid:3 * hid], out=ig)
            ct += ig
            xp.tanh(ct, out=tc)
            xp.multiply(gt[:, 3 * hid:], tc, out=out[t])
            h, c = out[t], ct
        out[steps] = c
        self.out, self.gates, self.cells, self.tanh_c = out, gates, cells, tanh_c
        self.h0, self.c0, self.w_hh, self.reverse = h0, c0, w_hh, reverse
        self.has_bias = b_hh is not None
        return out

    def backward(self, g):
        xp = get_array_module(g)
        w_hh, gates, cells, tc = self.w_hh, self.gates, self.cells, self.tanh_c
        steps, n_batch, hid = cells.shape
        hs = self.out[:steps]
        # The state each step started from: (h0, c0), then the previous step's in walking order.
        if self.reverse:
            h_prev = xp.concatenate([hs[1:], self.h0[None]], axis=0)
            c_prev = xp.concatenate([cells[1:], self.c0[None]], axis=0)
        else:
            h_prev = xp.concatenate([self.h0[None], hs[:-1]], axis=0)
            c_prev = xp.concatenate([self.c0[None], cells[:-1]], axis=0)
        i, f, gg, o = (gates[..., k * hid:(k + 1) * hid] for k in range(4))
        # Local derivatives that do not depend on the incoming gradient, for all steps at once.
        a_c = o * (1 - tc * tc)          # dh -> dc
        a_o = tc * o * (1 - o)           # dh -> d(pre-σ o)
        a_ifg = xp.empty((steps, n_batch, 3, hid), dtype=g.dtype)  # dc -> d(pre-activation i, f, g)
        a_ifg[:, :, 0] = gg * i * (1 - i)
        a_ifg[:, :, 1] = c_prev * f * (1 - f)
        a_ifg[:, :, 2] = i * (1 - gg * gg)
        dgates = xp.empty((steps, n_batch, 4 * hid), dtype=g.dtype)
        dh = xp.zeros((n_batch, hid), dtype=g.dtype)
        dc = g[steps].copy()
        tmp = xp.empty_like(dh)
        order = range(steps) if self.reverse else range(steps - 1, -1, -1)
        for t in order:
            dh += g[t]
            d = dgates[t]
            xp.multiply(dh, a_c[t], out=tmp)
            dc += tmp
            xp.multiply(dc[:, None, :], a_ifg[t], out=d[:, :3 * hid].reshape(n_batch, 3, hid))
            xp.multiply(dh, a_o[t], out=d[:, 3 * hid:])
            dc *= f[t]
            xp.matmul(d, w_hh, out=dh)
        flat = dgates.reshape(-1, 4 * hid)
        dw_hh = flat.T @ h_prev.reshape(-1, hid) if self.needs_input_grad[3] else None
        db_hh = None
        if self.has_bias and self.needs_input_grad[4]:
            db_hh = ones_vector(xp, flat.shape[0], flat.dtype) @ flat
        return dgates, dh, dc, dw_hh, db_hh

"""Registry cases for attention and the recurrences (descend/ops/attention.py, descend/ops/recurrent.py).

Loaded by tests/op_registry.py; tests/test_ops.py gradchecks each case in float64 and compares forward and
gradients with PyTorch. The recurrences are checked against the equations written step by step in torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import descend
import descend.nn.functional as F
from descend import backend
from descend.ops.linear import dropout_mask
from descend.ops.recurrent import GRURecurrence, LSTMRecurrence
from tests.op_registry import TF, N, case

_rng = np.random.default_rng(20240611)


def _torch():
    import torch
    return torch


def _sdpa(**kw: Any) -> tuple:
    return (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
            lambda q, k, v: TF().scaled_dot_product_attention(q, k, v, **kw))


case("scaled_dot_product_attention", *_sdpa(), N(2, 3, 4, 5), N(2, 3, 6, 5), N(2, 3, 6, 3))
case("scaled_dot_product_attention[causal]", *_sdpa(is_causal=True), N(2, 5, 4), N(2, 5, 4), N(2, 5, 4))
case("scaled_dot_product_attention[causal rectangular]", *_sdpa(is_causal=True), N(1, 3, 4), N(1, 5, 4),
     N(1, 5, 2))
case("scaled_dot_product_attention[scale transposed]", *_sdpa(scale=0.3), N(3, 4, layout="t"),
     N(5, 4, layout="s"), N(5, 2, layout="t"))
case("scaled_dot_product_attention[broadcast batch]", *_sdpa(), N(2, 2, 3, 4), N(1, 2, 5, 4), N(2, 1, 5, 4))

_keep = _rng.random((3, 5)) > 0.3
_keep[1] = False  # a query that sees no key: PyTorch's SDPA gives zeros for that row, not NaN
_keep[:, 0] |= np.arange(3) != 1


def _bool_mask(q: Any, k: Any, v: Any) -> Any:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=descend.tensor(_keep))


def _bool_mask_ref(q: Any, k: Any, v: Any) -> Any:
    return TF().scaled_dot_product_attention(q, k, v, attn_mask=_torch().from_numpy(_keep))


case("scaled_dot_product_attention[bool mask, dead row]", _bool_mask, _bool_mask_ref, N(2, 3, 4), N(2, 5, 4),
     N(2, 5, 3))
# A float mask is an input like the others: it gets a gradient, summed over the dims it was broadcast along.
case("scaled_dot_product_attention[float mask]",
     lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
     lambda q, k, v, m: TF().scaled_dot_product_attention(q, k, v, attn_mask=m),
     N(2, 2, 3, 4), N(2, 2, 5, 4), N(2, 2, 5, 3), N(2, 1, 3, 5))


def _dropout(q: Any, k: Any, v: Any) -> Any:
    descend.manual_seed(11)  # the same mask on every call, so finite differences see one function
    return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)


def _dropout_ref(q: Any, k: Any, v: Any) -> Any:
    torch = _torch()
    descend.manual_seed(11)
    keep = dropout_mask(backend.rng(), (2, 3, 5), 0.4, np.dtype(np.float32), np)
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return (p * torch.from_numpy(keep)) @ v


case("scaled_dot_product_attention[dropout]", _dropout, _dropout_ref, N(2, 3, 4), N(2, 5, 4), N(2, 5, 3))


def _gqa(q: Any, k: Any, v: Any) -> Any:
    return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


def _gqa_ref(q: Any, k: Any, v: Any) -> Any:
    return TF().scaled_dot_product_attention(q, k, v, enable_gqa=True)


case("scaled_dot_product_attention[gqa]", _gqa, _gqa_ref, N(1, 4, 3, 2), N(1, 2, 5, 2), N(1, 2, 5, 2))


# ---- recurrences ---------------------------------------------------------------------------------------------

def _lstm_ref(gi: Any, h: Any, c: Any, w: Any, b: Any, reverse: bool = False) -> Any:
    """The LSTM equations step by step in torch: the op's (T + 1, N, H) output (hidden states, then c_n)."""
    torch = _torch()
    steps, hid = gi.shape[0], h.shape[-1]
    outs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        z = gi[t] + h @ w.T + b
        i, f = torch.sigmoid(z[:, :hid]), torch.sigmoid(z[:, hid:2 * hid])
        g, o = torch.tanh(z[:, 2 * hid:3 * hid]), torch.sigmoid(z[:, 3 * hid:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        outs[t] = h
    return torch.cat([torch.stack(outs), c[None]])


def _gru_ref(gi: Any, h: Any, w: Any, b: Any, reverse: bool = False) -> Any:
    """The GRU equations step by step in torch (PyTorch's r, z, n order)."""
    torch = _torch()
    steps, hid = gi.shape[0], h.shape[-1]
    outs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        gh = h @ w.T + b
        r = torch.sigmoid(gi[t, :, :hid] + gh[:, :hid])
        z = torch.sigmoid(gi[t, :, hid:2 * hid] + gh[:, hid:2 * hid])
        n = torch.tanh(gi[t, :, 2 * hid:] + r * gh[:, 2 * hid:])
        h = (1 - z) * n + z * h
        outs[t] = h
    return torch.stack(outs)


case("lstm", lambda gi, h, c, w, b: LSTMRecurrence.apply(gi, h, c, w, b), _lstm_ref,
     N(4, 2, 12), N(2, 3), N(2, 3), N(12, 3, scale=0.5), N(12))
case("lstm[reverse, strided]", lambda gi, h, c, w, b: LSTMRecurrence.apply(gi, h, c, w, b, reverse=True),
     lambda *a: _lstm_ref(*a, reverse=True), N(3, 2, 8, layout="s"), N(2, 2), N(2, 2, layout="t"),
     N(8, 2, layout="t"), N(8))
case("lstm[no bias]", lambda gi, h, c, w: LSTMRecurrence.apply(gi, h, c, w, None),
     lambda gi, h, c, w: _lstm_ref(gi, h, c, w, 0.0), N(3, 1, 4), N(1, 1), N(1, 1), N(4, 1))
case("gru", lambda gi, h, w, b: GRURecurrence.apply(gi, h, w, b), _gru_ref,
     N(4, 2, 9), N(2, 3), N(9, 3, scale=0.5), N(9))
case("gru[reverse]", lambda gi, h, w, b: GRURecurrence.apply(gi, h, w, b, reverse=True),
     lambda *a: _gru_ref(*a, reverse=True), N(3, 2, 6, layout="t"), N(2, 2), N(6, 2), N(6))
case("gru[no bias]", lambda gi, h, w: GRURecurrence.apply(gi, h, w, None),
     lambda gi, h, w: _gru_ref(gi, h, w, 0.0), N(2, 1, 3), N(1, 1), N(3, 1))

"""Attention, Transformer encoder and LSTM layers against PyTorch with identical weights (train and eval),
state_dict keys, shapes and round trips into torch, and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pytest

import descend
import descend.nn as dnn

torch = pytest.importorskip("torch")


def _copy_from_torch(ours: dnn.Module, theirs) -> None:
    """Load torch's state_dict into ours; keys and shapes must agree exactly."""
    sd = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(sd), "state_dict keys (and their order) differ from torch's"
    for k, v in ours.state_dict().items():
        assert tuple(v.shape) == sd[k].shape, k
    ours.load_state_dict({k: descend.tensor(v) for k, v in sd.items()})


def _grads_match(ours: dnn.Module, theirs, atol: float = 2e-5) -> None:
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), atol=atol, rtol=1e-4, err_msg=name)


def _run_both(ours, theirs, inputs: list[np.ndarray], call=lambda m, *a: m(*a), pick=lambda o: o,
              atol: float = 2e-5) -> None:
    """Forward both, compare outputs; backward a fixed cotangent, compare input and parameter gradients."""
    xs = [descend.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    ts = [torch.from_numpy(x).requires_grad_(x.dtype.kind == "f") for x in inputs]
    a, b = pick(call(ours, *xs)), pick(call(theirs, *ts))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-4)
    cot = np.random.default_rng(1).standard_normal(a.shape).astype(np.float32)
    a.backward(descend.tensor(cot))
    b.backward(torch.from_numpy(cot))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=1e-4)
    _grads_match(ours, theirs, atol)


_rng = np.random.default_rng(0)


def _x(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape).astype(np.float32)


# ---- MultiheadAttention --------------------------------------------------------------------------------------

_pad = np.zeros((2, 5), dtype=bool)
_pad[0, 3:] = True
_causal_bool = np.triu(np.ones((5, 5), dtype=bool), 1)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kw", [
    dict(),
    dict(need_weights=False),
    dict(key_padding_mask=_pad),
    dict(attn_mask=_causal_bool, need_weights=False),
    dict(attn_mask=_causal_bool, is_causal=True, need_weights=False),
    dict(attn_mask=_x(5, 5), average_attn_weights=False),
    dict(attn_mask=_x(2 * 4, 5, 5), key_padding_mask=_pad, need_weights=False),
], ids=["weights", "no-weights", "padding", "bool-mask", "causal-hint", "float-mask-per-head", "3d-mask+pad"])
def test_multihead_attention_matches_torch(batch_first: bool, kw: dict) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(16, 4, batch_first=batch_first)
    ours = dnn.MultiheadAttention(16, 4, batch_first=batch_first)
    _copy_from_torch(ours, theirs)
    q, k = _x(2, 5, 16), _x(2, 5, 16)
    if not batch_first:
        q, k = q.transpose(1, 0, 2).copy(), k.transpose(1, 0, 2).copy()

    def call(m, q, k):
        conv = descend.tensor if m is ours else torch.from_numpy
        extra = {key: conv(v) if isinstance(v, np.ndarray) else v for key, v in kw.items()}
        out, w = m(q, k, k, **extra)
        return out if w is None else out.sum() + (w * w).sum() * 3  # gradients through both outputs

    _run_both(ours, theirs, [q, k], call=call)


def test_multihead_attention_kdim_vdim_unbatched_and_dropout_eval() -> None:
    torch.manual_seed(1)
    theirs = torch.nn.MultiheadAttention(8, 2, dropout=0.5, kdim=6, vdim=3).eval()
    ours = dnn.MultiheadAttention(8, 2, dropout=0.5, kdim=6, vdim=3).eval()
    assert list(ours.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                       "out_proj.weight", "out_proj.bias"]
    _copy_from_torch(ours, theirs)
    q, k, v = _x(4, 8), _x(7, 6), _x(7, 3)
    _run_both(ours, theirs, [q, k, v], call=lambda m, q, k, v: m(q, k, v)[0])
    w_ours = ours(*(descend.tensor(a) for a in (q, k, v)))[1]
    w_theirs = theirs(*(torch.from_numpy(a) for a in (q, k, v)))[1]
    np.testing.assert_allclose(w_ours.detach().numpy(), w_theirs.detach().numpy(), atol=1e-6)


def test_multihead_attention_dropout_in_training_is_random_and_unbiased() -> None:
    descend.manual_seed(0)
    m = dnn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = descend.tensor(_x(3, 6, 8))
    a, w = m(x, x, x)
    b, _ = m(x, x, x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    m.eval()
    _, w_eval = m(x, x, x)
    # the dropped weights average to the undropped ones (each row of w_eval sums to 1)
    means = [m.train()(x, x, x)[1].detach().numpy() for _ in range(200)]
    np.testing.assert_allclose(np.mean(means, axis=0), w_eval.detach().numpy(), atol=0.05)


# ---- Transformer encoder -------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch_eval(norm_first: bool, activation: str) -> None:
    torch.manual_seed(2)
    theirs = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, activation=activation,
                                              batch_first=True, norm_first=norm_first).eval()
    ours = dnn.TransformerEncoderLayer(16, 4, dim_feedforward=32, activation=activation, batch_first=True,
                                       norm_first=norm_first).eval()
    _copy_from_torch(ours, theirs)
    _run_both(ours, theirs, [_x(3, 6, 16)])


def test_encoder_layer_train_with_dropout_zero_matches_torch_and_masks() -> None:
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(12, 3, dim_feedforward=20, dropout=0.0)
    ours = dnn.TransformerEncoderLayer(12, 3, dim_feedforward=20, dropout=0.0)
    _copy_from_torch(ours, theirs)
    pad = np.zeros((2, 5), dtype=bool)
    pad[1, 4] = True
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5).numpy()

    def call(m, x):
        conv = descend.tensor if m is ours else torch.from_numpy
        return m(x, src_mask=conv(mask), src_key_padding_mask=conv(pad))

    _run_both(ours, theirs, [_x(5, 2, 12)], call=call)


def test_encoder_stack_with_norm_and_callable_activation() -> None:
    torch.manual_seed(4)
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                             activation=torch.nn.GELU(), norm_first=True)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    ours = dnn.TransformerEncoder(dnn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                                              batch_first=True, activation=dnn.GELU(),
                                                              norm_first=True), 2, norm=dnn.LayerNorm(8))
    _copy_from_torch(ours, theirs)
    causal = np.triu(np.full((7, 7), -np.inf, dtype=np.float32), 1)
    conv = {id(ours): descend.tensor, id(theirs): torch.from_numpy}
    _run_both(ours, theirs, [_x(2, 7, 8)], call=lambda m, x: m(x, mask=conv[id(m)](causal)))
    # the copies are independent: layers do not share parameters
    p0, p1 = ours.layers[0].linear1.weight, ours.layers[1].linear1.weight
    assert p0 is not p1 and len(list(ours.parameters())) == 2 * 12 + 2


def test_encoder_state_dict_round_trip_into_torch() -> None:
    ours = dnn.TransformerEncoder(dnn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True), 2)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16,
                                                                           batch_first=True), 2,
                                         enable_nested_tensor=False)
    sd = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd)  # strict: same keys and shapes
    ours.eval()
    theirs.eval()
    x = _x(2, 4, 8)
    np.testing.assert_allclose(ours(descend.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               atol=2e-5)


def test_sdpa_dropout_mask_keeps_expectation() -> None:
    descend.manual_seed(0)
    q = descend.tensor(_x(1, 4, 8))
    v = descend.tensor(_x(1, 4, 8))
    ref = descend.nn.functional.scaled_dot_product_attention(q, q, v).numpy()
    outs = [descend.nn.functional.scaled_dot_product_attention(q, q, v, dropout_p=0.3).numpy() for _ in range(400)]
    assert not np.allclose(outs[0], ref)
    np.testing.assert_allclose(np.mean(outs, axis=0), ref, atol=0.1)


# ---- LSTM ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True, bias=False),
                                dict(num_layers=2, dropout=0.0)])
def test_lstm_matches_torch(kw: dict) -> None:
    torch.manual_seed(5)
    theirs = torch.nn.LSTM(3, 5, **kw)
    ours = dnn.LSTM(3, 5, **kw)
    _copy_from_torch(ours, theirs)
    dirs = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    x = _x(4, 6, 3)
    h0, c0 = _x(dirs * layers, 4 if kw.get("batch_first") else 6, 5), _x(dirs * layers,
                                                                          4 if kw.get("batch_first") else 6, 5)

    def call(m, x, h, c):
        out, (hn, cn) = m(x, (h, c))
        return out.sum() * 0.5 + (hn * hn).sum() + (cn * 2.0).sum() + (out * out).sum()

    _run_both(ours, theirs, [x, h0, c0], call=call, atol=5e-5)


def test_lstm_unbatched_default_state_and_cell() -> None:
    torch.manual_seed(6)
    theirs, ours = torch.nn.LSTM(2, 3), dnn.LSTM(2, 3)
    _copy_from_torch(ours, theirs)
    _run_both(ours, theirs, [_x(5, 2)], call=lambda m, x: m(x)[0])
    cell_t, cell = torch.nn.LSTMCell(4, 3), dnn.LSTMCell(4, 3)
    _copy_from_torch(cell, cell_t)
    _run_both(cell, cell_t, [_x(2, 4), _x(2, 3), _x(2, 3)],
              call=lambda m, x, h, c: (lambda hc: hc[0] * 2 + hc[1])(m(x, (h, c))))


def test_lstm_state_dict_keys_and_init_range() -> None:
    m = dnn.LSTM(3, 4, num_layers=2, bidirectional=True)
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(t.state_dict())
    assert all(tuple(m.state_dict()[k].shape) == tuple(v.shape) for k, v in t.state_dict().items())
    assert all(np.abs(p.detach().numpy()).max() <= 0.5 for p in m.parameters())


# ---- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, call, message", [
    (lambda: dnn.MultiheadAttention(10, 3), None, r"embed_dim \(10\) must be a positive multiple of num_heads"),
    (lambda: dnn.MultiheadAttention(8, 2), lambda m: m(*(descend.ones(3, 2, 6),) * 3),
     r"feature dims must be embed_dim=8"),
    (lambda: dnn.MultiheadAttention(8, 2), lambda m: m(*(descend.ones(3, 2, 8),) * 3,
                                                       key_padding_mask=descend.tensor(np.ones((3, 2), dtype=bool))),
     r"key_padding_mask must be \(2, 3\), got \(3, 2\)"),
    (lambda: dnn.LSTM(3, 4), lambda m: m(descend.ones(5, 2, 4)), r"LSTM\(3→4\): expected input \(L, N, 3\)"),
    (lambda: dnn.LSTM(3, 4), lambda m: m(descend.ones(5, 2, 3), (descend.zeros(1, 2, 4), descend.zeros(2, 2, 4))),
     r"LSTM\(3→4\): expected c0 \(1, 2, 4\), got \(2, 2, 4\)"),
    (lambda: None, lambda m: descend.nn.functional.scaled_dot_product_attention(
        descend.ones(2, 3, 4), descend.ones(2, 5, 3), descend.ones(2, 5, 4)),
     r"query and key must have the same last dim \(query \(2, 3, 4\), key \(2, 5, 3\)"),
    (lambda: None, lambda m: descend.nn.functional.scaled_dot_product_attention(
        descend.ones(2, 3, 4), descend.ones(2, 5, 4), descend.ones(2, 5, 4), attn_mask=descend.ones(3, 4)),
     r"attn_mask \(3, 4\) does not broadcast to the attention scores \(2, 3, 5\)"),
])
def test_bad_input_names_layer_and_shapes(make, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        m = make()
        call(m)

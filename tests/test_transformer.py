"""Attention, Transformer encoder and LSTM layers against PyTorch with identical weights (train and eval),
state_dict keys, shapes and round trips into torch, and the errors bad input gets."""

from __future__ import annotations

import math

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


# ---- models and the text task ---------------------------------------------------------------------------------

def test_gpt_is_causal_and_generate_is_seeded_and_greedy_with_top_k_1() -> None:
    from descend.models.transformer import GPT

    descend.manual_seed(0)
    model = GPT(11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0).eval()
    idx = np.random.default_rng(0).integers(0, 11, (2, 8))
    changed = idx.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % 11
    with descend.no_grad():
        a, b = model(descend.tensor(idx)).numpy(), model(descend.tensor(changed)).numpy()
    np.testing.assert_allclose(a[:, :5], b[:, :5], atol=1e-6)  # earlier positions never see later tokens
    assert not np.allclose(a[:, 5:], b[:, 5:])
    start = descend.tensor(idx[:, :3])
    one = model.generate(start, 10, top_k=4, generator=7).numpy()
    assert np.array_equal(one, model.generate(start, 10, top_k=4, generator=7).numpy())
    assert one.shape == (2, 13) and np.array_equal(one[:, :3], idx[:, :3])
    greedy = model.generate(start, 6, top_k=1).numpy()
    ids = idx[:, :3]
    for _ in range(6):  # argmax decoding written out
        nxt = model(descend.tensor(ids[:, -8:])).detach().numpy()[:, -1].argmax(-1)
        ids = np.concatenate([ids, nxt[:, None]], axis=1)
    assert np.array_equal(greedy, ids)
    assert model.head.weight is model.tok_emb.weight


def test_transformer_classifier_learns_a_toy_task() -> None:
    from descend import models

    descend.manual_seed(0)
    model = models.build("transformer", (40,), 2, dropout=0.0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 40)).astype(np.float32)
    y = (x[:, :20].mean(axis=1) > x[:, 20:].mean(axis=1)).astype(np.int64)
    opt = descend.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = descend.nn.functional.cross_entropy(model(descend.tensor(x)), descend.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_text_data_split_windows_and_errors(tmp_path) -> None:
    import gzip

    from descend.data import DataError
    from descend.data.text import load_text

    text = "".join(chr(97 + i % 7) for i in range(1000)) + "XYZ"
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    data = load_text(path, context=10)
    assert data.vocab.chars == sorted(set(text)) and data.chars == len(text)
    x, y = data.train.arrays
    assert x.shape == (90, 10) and np.array_equal(x[:, 1:], y[:, :-1])
    assert data.vocab.decode(x[0]) == text[:10] and data.vocab.decode(y[-1]) == text[891:901]
    vx, _ = data.val.arrays
    assert data.vocab.decode(vx[0]) == text[902:912]  # validation starts where training ends (90 %)
    gz = tmp_path / "t.txt.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert np.array_equal(load_text(gz, 10).train.arrays[0], x)
    (tmp_path / "bad.txt").write_bytes(b"ok \xff no")
    with pytest.raises(DataError, match=r"bad.txt: not UTF-8 text \(byte 3"):
        load_text(tmp_path / "bad.txt", 4)
    with pytest.raises(DataError, match=r"1003 characters are too few for --context 200"):
        load_text(path, 200)
    with pytest.raises(DataError, match="text file not found"):
        load_text(tmp_path / "missing.txt", 4)


def test_cli_trains_gpt_on_text_reports_bpc_and_stores_samples(tmp_path, capsys) -> None:
    import json

    from descend import cli

    line = "And God said, Let there be light: and there was light.\n"
    (tmp_path / "book.txt").write_text(line * 40, encoding="utf-8")
    argv = ["train", "--model", "gpt", "--data", f"text:{tmp_path / 'book.txt'}", "--context", "16",
            "--batch-size", "16", "--epochs", "1", "--lr", "3e-3", "--out", str(tmp_path / "runs"), "--quiet"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "book-gpt"
    assert "bits/char" in out and (run / "samples.txt").read_text(encoding="utf-8").startswith("--- epoch 1")
    records = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    epoch = [r for r in records if r["kind"] == "epoch"][-1]
    assert epoch["val_bpc"] == pytest.approx(epoch["val_loss"] / np.log(2))
    assert epoch["val_bpc"] < np.log2(len(set(line)))  # better than guessing uniformly
    assert cli.main(["evaluate", str(run), "--checkpoint", "latest", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["val_bpc"] == pytest.approx(epoch["val_bpc"], rel=1e-5)


def test_cli_rejects_gpt_on_signals_and_text_too_short(tmp_path, capsys) -> None:
    from descend import cli

    assert cli.main(["train", "--model", "gpt", "--data", "mnist1d", "--out", str(tmp_path)]) == 2
    assert "GPT: token ids must be integers, got" in capsys.readouterr().err
    (tmp_path / "tiny.txt").write_text("abc", encoding="utf-8")
    assert cli.main(["train", "--model", "gpt", "--data", f"text:{tmp_path / 'tiny.txt'}", "--out",
                     str(tmp_path)]) == 2
    assert "3 characters are too few for --context 128" in capsys.readouterr().err


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer_matches_torch(norm_first: bool) -> None:
    torch.manual_seed(7)
    kw = dict(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=24, dropout=0.0,
              batch_first=True, norm_first=norm_first)
    theirs, ours = torch.nn.Transformer(**kw), dnn.Transformer(**kw)
    _copy_from_torch(ours, theirs)
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(dnn.Transformer.generate_square_subsequent_mask(4).numpy(), tgt_mask)
    pad = np.zeros((2, 6), dtype=bool)
    pad[1, 5] = True

    def call(m, src, tgt):
        conv = descend.tensor if m is ours else torch.from_numpy
        return m(src, tgt, tgt_mask=conv(tgt_mask), src_key_padding_mask=conv(pad),
                 memory_key_padding_mask=conv(pad))

    _run_both(ours, theirs, [_x(2, 6, 16), _x(2, 4, 16)], call=call, atol=5e-5)


def test_multihead_attention_unbatched_with_padding_mask_array() -> None:
    torch.manual_seed(8)
    theirs, ours = torch.nn.MultiheadAttention(8, 2), dnn.MultiheadAttention(8, 2)
    _copy_from_torch(ours, theirs)
    pad = np.array([False, False, True, False])
    q, k = _x(3, 8), _x(4, 8)
    a, wa = ours(descend.tensor(q), descend.tensor(k), descend.tensor(k), key_padding_mask=pad)
    b, wb = theirs(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(k),
                   key_padding_mask=torch.from_numpy(pad))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(wa.detach().numpy(), wb.detach().numpy(), atol=2e-6)
    assert np.all(wa.detach().numpy()[:, 2] == 0)


def test_text_samples_every_n_steps_and_at_epoch_end() -> None:
    import io
    from types import SimpleNamespace

    from descend.data.text import CharVocab, TextSamples
    from descend.models.transformer import GPT

    vocab = CharVocab(list("\nab"))
    stream = io.StringIO()
    cb = TextSamples(vocab, length=5, every=2, stream=stream)
    trainer = SimpleNamespace(model=GPT(3, 4, n_layer=1, n_embd=8), epoch=0, step=1, run=None)
    logs = {"loss": math.log(2)}
    cb.on_step_end(trainer, logs)
    assert logs["bpc"] == pytest.approx(1.0) and stream.getvalue() == ""
    trainer.step = 2
    cb.on_step_end(trainer, {"loss": 1.0})
    epoch_logs = {"train_loss": 2 * math.log(2), "val_loss": math.log(2)}
    cb.on_epoch_end(trainer, epoch_logs)
    assert epoch_logs["train_bpc"] == pytest.approx(2.0) and epoch_logs["val_bpc"] == pytest.approx(1.0)
    chunks = stream.getvalue().split("--- ")
    assert chunks[1].startswith("epoch 1, step 2, train 1.443 bits/char")
    assert chunks[2].startswith("epoch 1, step 2, val 1.000 bits/char")
    assert all(len(c.split("---\n", 1)[1].strip("\n")) <= 5 for c in chunks[1:])


def test_sdpa_mask_with_more_batch_dims_than_the_scores_is_refused() -> None:
    q = descend.ones(3, 2, 4)
    with pytest.raises(ValueError, match=r"attn_mask \(2, 3, 2, 2\) does not broadcast to the attention scores "
                                         r"\(3, 2, 2\)"):
        descend.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=descend.zeros(2, 3, 2, 2))

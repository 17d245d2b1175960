"""ONNX export: every built-in model and every layer kind, run in onnxruntime with another batch size than
the traced one (dynamic batch axis), against descend's own forward pass."""

from __future__ import annotations

import io

import numpy as np
import pytest

import descend
from descend import models, nn

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _run_both(model, make_input, traced_batch=2, run_batch=3):
    buf = io.BytesIO()
    descend.onnx.export(model, make_input(traced_batch), buf, input_names=["x"], output_names=["y"],
                        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    x = make_input(run_batch)
    model.eval()
    with descend.no_grad():
        ref = model(x)
    ref = (ref[0] if isinstance(ref, tuple) else ref).numpy()
    got = ort.InferenceSession(buf.getvalue()).run(None, {"x": x.numpy()})[0]
    return got, ref


def _close(got, ref):
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("name, shape", [
    ("logistic", (40,)), ("mlp", (40,)), ("cnn", (40,)), ("gru", (40,)), ("mlp28", (1, 28, 28)),
    ("cnn28", (1, 28, 28)), ("transformer", (40,)), ("resnet20", (1, 28, 28)),
])
def test_builtin_models_match_onnxruntime(name, shape) -> None:
    descend.manual_seed(0)
    model = models.build(name, shape, 10)
    _close(*_run_both(model, lambda n: descend.randn(n, *shape)))


def test_gpt_on_token_ids() -> None:
    descend.manual_seed(0)
    model = models.build("gpt", (32,), 10)
    _close(*_run_both(model, lambda n: descend.randint(0, 10, (n, 32))))


class _Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.lstm = nn.LSTM(6, 5, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.lstm(self.emb(x))[0]


def _seq(*layers):
    return nn.Sequential(*layers)


LAYERS = [
    ("linear+activations", lambda: _seq(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8), nn.LeakyReLU(0.2),
                                        nn.Linear(8, 4), nn.Tanh(), nn.Softplus(), nn.Sigmoid()), (8,)),
    ("conv1d+pools", lambda: _seq(nn.Conv1d(2, 4, 3, padding=1, stride=2), nn.ReLU(), nn.MaxPool1d(2),
                                  nn.Conv1d(4, 4, 3, groups=2, dilation=2), nn.AvgPool1d(2)), (2, 30)),
    ("conv2d+bn+pools", lambda: _seq(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                     nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(6, 6, 3, groups=6),
                                     nn.AvgPool2d(2, padding=1), nn.Flatten(), nn.Dropout(0.5)), (3, 11, 11)),
    ("conv transpose + upsample + groupnorm", lambda: _seq(
        nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), nn.GroupNorm(3, 3), nn.SiLU() if hasattr(nn, "SiLU")
        else nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.AdaptiveAvgPool2d((5, 3))), (4, 5, 5)),
    ("layernorm + attention", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                                                 norm_first=True), (7, 8)),
    ("instance norm + adaptive max pooling", lambda: _seq(
        nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4, affine=True), nn.ReLU(), nn.InstanceNorm2d(4),
        nn.AdaptiveMaxPool2d((4, 3))), (3, 9, 9)),
    ("instance norm 1d + adaptive max pooling 1d", lambda: _seq(
        nn.Conv1d(2, 3, 3), nn.InstanceNorm1d(3, affine=True), nn.AdaptiveMaxPool1d(3)), (2, 12)),
    ("instance norm with running statistics (eval)", lambda: _seq(
        nn.InstanceNorm2d(2, affine=True, track_running_stats=True), nn.AdaptiveMaxPool2d(1)), (2, 5, 5)),
    ("gru", lambda: nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True), (6, 3)),
]


@pytest.mark.parametrize("name, build, shape", LAYERS, ids=[n for n, _, _ in LAYERS])
def test_layers_match_onnxruntime(name, build, shape) -> None:
    descend.manual_seed(1)
    model = build()
    for m in model.modules():  # non-trivial running statistics, so BatchNorm's eval form is exercised
        if getattr(m, "running_var", None) is not None:
            m.running_mean._data[...] = np.linspace(-0.5, 0.5, m.running_mean.shape[0])
            m.running_var._data[...] = np.linspace(0.5, 2.0, m.running_var.shape[0])
    _close(*_run_both(model, lambda n: descend.randn(n, *shape)))


def test_batch_statistics_left_in_an_eval_forward() -> None:
    """F.batch_norm(training=True) inside forward normalises by the batch's own statistics in eval() too; the
    export computes them in the graph."""
    class BatchStats(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight, self.bias = nn.Parameter(descend.randn(3)), nn.Parameter(descend.randn(3))

        def forward(self, x):
            return descend.nn.functional.batch_norm(x, None, None, self.weight, self.bias, training=True)

    descend.manual_seed(4)
    _close(*_run_both(BatchStats(), lambda n: descend.randn(n, 3, 4, 5) * 3 + 1))


def test_embedding_and_lstm_on_token_ids() -> None:
    descend.manual_seed(2)
    _close(*_run_both(_Tokens(), lambda n: descend.randint(0, 11, (n, 9))))


def test_export_to_a_path_and_a_clear_error_for_an_op_without_onnx_form(tmp_path) -> None:
    model = nn.Linear(3, 2)
    path = tmp_path / "m.onnx"
    descend.onnx.export(model, descend.randn(1, 3), str(path))
    assert path.stat().st_size > 0

    class Odd(nn.Module):
        def forward(self, x):
            return x.cumsum(1)

    with pytest.raises(descend.onnx.ExportError, match="CumSum"):
        descend.onnx.export(Odd(), descend.randn(2, 3), io.BytesIO())


def test_nested_example_inputs_and_outputs() -> None:
    """A language model called as model(tokens, (h0, c0)) returning (log-probs, (h, c)): inputs and outputs
    are flattened in order, as torch.onnx.export does."""
    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.lstm, self.dec = nn.Embedding(20, 8), nn.LSTM(8, 6, 2), nn.Linear(6, 20)

        def forward(self, x, hidden):
            out, hidden = self.lstm(self.emb(x), hidden)
            return self.dec(out).log_softmax(-1), hidden

    descend.manual_seed(3)
    model, x = LM(), descend.randint(0, 20, (5, 3))
    buf = io.BytesIO()
    descend.onnx.export(model, (x, (descend.zeros(2, 3, 6), descend.zeros(2, 3, 6))), buf)
    h = (descend.randn(2, 3, 6), descend.randn(2, 3, 6))
    got = ort.InferenceSession(buf.getvalue()).run(None, {"input_0": x.numpy(), "input_1": h[0].numpy(),
                                                          "input_2": h[1].numpy()})
    model.eval()
    with descend.no_grad():
        logp, (hn, cn) = model(x, h)
    for a, b in zip(got, (logp, hn, cn)):
        _close(a, b.numpy())

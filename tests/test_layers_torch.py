"""Every descend.nn layer against torch.nn: identical weights, forward and all gradients, train and eval.

Each case is one factory `lambda nn: nn.Layer(...)` called once with torch.nn and once with descend.nn, so
both frameworks build the layer from the same source; weights go from descend to torch through state_dict.
"""

import warnings

import numpy as np
import pytest

import descend
import descend.nn as dnn

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


def _perturb(module, seed=0):
    """Random (not default) parameters and running statistics, so every weight's role is exercised."""
    rng = np.random.default_rng(seed)
    for name, p in module.named_parameters():
        p._data[...] = rng.normal(0, 0.7, p.shape)
    for name, b in module.named_buffers():
        if name.endswith("running_var"):
            b._data[...] = rng.uniform(0.5, 2.0, b.shape)
        elif name.endswith("running_mean"):
            b._data[...] = rng.normal(0, 0.5, b.shape)


def _sync(d, t):
    """Load descend's state_dict into the torch module via NumPy arrays (keys and shapes must match)."""
    sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in d.state_dict().items()}
    t.load_state_dict(sd, strict=True)


def _flat(out):
    return list(out) if isinstance(out, tuple) else [out]


def _build(factory, dtype, seed=0):
    d, t = factory(dnn), factory(tnn)
    if dtype == "float64":
        d.double()
        t.double()
    _perturb(d, seed)
    _sync(d, t)
    return d, t


def _run(d, t, inputs, grad_inputs, dtype, train, seed=1):
    """Forward both, backpropagate the same random output gradients, compare outputs and every gradient."""
    tol = TOL[dtype]
    d.train(train)
    t.train(train)
    d_in = [descend.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(inputs)]
    t_in = [torch.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(inputs)]
    d_outs, t_outs = _flat(d(*d_in)), _flat(t(*t_in))
    assert len(d_outs) == len(t_outs)
    rng = np.random.default_rng(seed)
    d_loss = t_loss = 0
    for do, to in zip(d_outs, t_outs):
        assert tuple(do.shape) == tuple(to.shape)
        assert do.dtype == np.dtype(dtype)
        np.testing.assert_allclose(do._data, to.detach().numpy(), **tol)
        g = rng.normal(size=to.shape).astype(dtype)
        if to.requires_grad:
            d_loss = d_loss + (do * descend.tensor(g)).sum()
            t_loss = t_loss + (to * torch.tensor(g)).sum()
    if isinstance(t_loss, int):
        return
    d_loss.backward()
    t_loss.backward()
    for i in grad_inputs:
        np.testing.assert_allclose(d_in[i].grad._data, t_in[i].grad.numpy(), **tol, err_msg=f"input {i}")
    t_params = dict(t.named_parameters())
    for name, p in d.named_parameters():
        tg = t_params[name].grad
        if tg is None:
            assert p.grad is None or not np.any(p.grad._data), name
        else:
            np.testing.assert_allclose(p.grad._data, tg.numpy(), **tol, err_msg=name)


LAYERS = {
    "linear": (lambda nn: nn.Linear(5, 3), [(4, 5)]),
    "linear_nobias_3d": (lambda nn: nn.Linear(5, 3, bias=False), [(2, 4, 5)]),
    "conv1d": (lambda nn: nn.Conv1d(3, 4, 3), [(2, 3, 10)]),
    "conv1d_opts": (lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), [(2, 4, 11)]),
    "conv1d_same_even": (lambda nn: nn.Conv1d(2, 3, 4, padding="same", bias=False), [(2, 2, 9)]),
    "conv1d_unbatched": (lambda nn: nn.Conv1d(2, 3, 3, padding=1), [(2, 7)]),
    "conv2d": (lambda nn: nn.Conv2d(3, 4, 3), [(2, 3, 7, 6)]),
    "conv2d_opts": (lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                         groups=2), [(2, 4, 9, 8)]),
    "conv2d_same": (lambda nn: nn.Conv2d(3, 2, (4, 3), padding="same", dilation=(1, 2)), [(2, 3, 8, 9)]),
    "conv2d_valid_unbatched": (lambda nn: nn.Conv2d(3, 2, 3, padding="valid"), [(3, 6, 6)]),
    "conv1d_reflect": (lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"), [(2, 2, 8)]),
    "conv2d_circular_same": (lambda nn: nn.Conv2d(2, 3, (4, 3), padding="same", padding_mode="circular"),
                             [(2, 2, 6, 7)]),
    "conv2d_replicate": (lambda nn: nn.Conv2d(2, 3, 3, stride=2, padding=(1, 2), padding_mode="replicate"),
                         [(2, 2, 7, 6)]),
    "conv2d_depthwise": (lambda nn: nn.Conv2d(4, 8, 3, padding=1, groups=4, bias=False), [(2, 4, 5, 5)]),
    "maxpool1d": (lambda nn: nn.MaxPool1d(3, stride=2, padding=1), [(2, 3, 11)]),
    "maxpool2d": (lambda nn: nn.MaxPool2d(2), [(2, 3, 8, 8)]),
    "maxpool2d_opts": (lambda nn: nn.MaxPool2d(3, stride=2, padding=1), [(2, 3, 9, 10)]),
    "maxpool2d_ceil": (lambda nn: nn.MaxPool2d(2, ceil_mode=True), [(2, 3, 7, 7)]),
    "avgpool1d": (lambda nn: nn.AvgPool1d(3, stride=2, padding=1), [(2, 3, 11)]),
    "avgpool2d": (lambda nn: nn.AvgPool2d(2), [(2, 3, 8, 8)]),
    "avgpool2d_opts": (lambda nn: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                       [(2, 3, 9, 10)]),
    "flatten": (lambda nn: nn.Flatten(), [(2, 3, 4, 5)]),
    "flatten_0_1": (lambda nn: nn.Flatten(0, 1), [(2, 3, 4)]),
    "identity": (lambda nn: nn.Identity(54, unused=True), [(3, 4)]),
    "dropout_p0": (lambda nn: nn.Dropout(0.0), [(4, 6)]),
    "layernorm": (lambda nn: nn.LayerNorm(6), [(3, 4, 6)]),
    "layernorm_2d_noaffine": (lambda nn: nn.LayerNorm((4, 6), elementwise_affine=False), [(3, 4, 6)]),
    "layernorm_nobias": (lambda nn: nn.LayerNorm(6, eps=1e-3, bias=False), [(5, 6)]),
    "bn1d": (lambda nn: nn.BatchNorm1d(5), [(8, 5)]),
    "bn1d_3d": (lambda nn: nn.BatchNorm1d(4, momentum=None), [(3, 4, 7)]),
    "bn2d": (lambda nn: nn.BatchNorm2d(3, eps=1e-3, momentum=0.3), [(4, 3, 5, 5)]),
    "bn2d_noaffine": (lambda nn: nn.BatchNorm2d(3, affine=False), [(4, 3, 5, 5)]),
    "bn2d_untracked": (lambda nn: nn.BatchNorm2d(3, track_running_stats=False), [(4, 3, 5, 5)]),
    "relu": (lambda nn: nn.ReLU(), [(4, 6)]),
    "leaky_relu": (lambda nn: nn.LeakyReLU(0.2), [(4, 6)]),
    "tanh": (lambda nn: nn.Tanh(), [(4, 6)]),
    "sigmoid": (lambda nn: nn.Sigmoid(), [(4, 6)]),
    "gelu": (lambda nn: nn.GELU(), [(4, 6)]),
    "gelu_tanh": (lambda nn: nn.GELU(approximate="tanh"), [(4, 6)]),
    "softmax": (lambda nn: nn.Softmax(dim=1), [(4, 6)]),
    "softmax_dim0": (lambda nn: nn.Softmax(dim=0), [(4, 6, 2)]),
    "log_softmax": (lambda nn: nn.LogSoftmax(dim=-1), [(3, 4, 6)]),
    "sequential": (lambda nn: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3)),
                   [(3, 2, 4, 4)]),
}


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on its own even-kernel copy
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_matches_torch(case, train, dtype):
    factory, shapes = LAYERS[case]
    d, t = _build(factory, dtype)
    rng = np.random.default_rng(7)
    inputs = [rng.normal(size=s).astype(dtype) for s in shapes]
    _run(d, t, inputs, grad_inputs=(0,), dtype=dtype, train=train)


@pytest.mark.parametrize("case", list(LAYERS))
def test_repr_and_state_dict_keys_match_torch(case):
    d, t = LAYERS[case][0](dnn), LAYERS[case][0](tnn)
    assert repr(d) == repr(t)
    d_sd, t_sd = d.state_dict(), t.state_dict()
    assert list(d_sd) == list(t_sd)
    assert [tuple(v.shape) for v in d_sd.values()] == [tuple(v.shape) for v in t_sd.values()]
    assert [k for k, _ in d.named_parameters()] == [k for k, _ in t.named_parameters()]


# ---- batch norm running statistics over several steps --------------------------------------------------

@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("kind,shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (3, 4, 5)),
                                        ("BatchNorm2d", (3, 4, 3, 3))])
def test_batchnorm_running_stats(kind, shape, momentum):
    d, t = _build(lambda nn: getattr(nn, kind)(4, momentum=momentum), "float64")
    rng = np.random.default_rng(3)
    for step in range(5):
        x = rng.normal(1.5, 2.0, shape)
        _run(d, t, [x], (0,), "float64", train=True, seed=step)
        for name, tb in t.named_buffers():
            np.testing.assert_allclose(getattr(d, name)._data, tb.numpy(), rtol=1e-12, err_msg=name)
    assert int(d.num_batches_tracked.item()) == 5
    _run(d, t, [rng.normal(size=shape)], (0,), "float64", train=False)


# ---- GRU --------------------------------------------------------------------------------------------------

GRUS = {
    "single": (lambda nn: nn.GRU(5, 7), (6, 3, 5), None),
    "two_layer_bidir_h0": (lambda nn: nn.GRU(5, 7, num_layers=2, bidirectional=True), (6, 3, 5), (4, 3, 7)),
    "batch_first_bidir_h0": (lambda nn: nn.GRU(5, 7, batch_first=True, bidirectional=True), (3, 6, 5),
                             (2, 3, 7)),
    "batch_first_two_layer_nobias": (lambda nn: nn.GRU(4, 6, num_layers=2, bias=False, batch_first=True),
                                     (2, 5, 4), (2, 2, 6)),
    "unbatched_h0": (lambda nn: nn.GRU(5, 7, num_layers=2), (6, 5), (2, 7)),
    "dropout_eval": (lambda nn: nn.GRU(5, 7, num_layers=2, dropout=0.5), (4, 2, 5), None),
    # p = 1 drops every unit between the layers in both frameworks: inter-layer dropout in training,
    # compared exactly without sharing masks.
    "dropout_one_train": (lambda nn: nn.GRU(5, 7, num_layers=2, dropout=1.0), (4, 2, 5), (2, 2, 7)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(GRUS))
def test_gru_matches_torch(case, dtype):
    factory, x_shape, h_shape = GRUS[case]
    d, t = _build(factory, dtype)
    rng = np.random.default_rng(5)
    inputs = [rng.normal(size=x_shape).astype(dtype)]
    if h_shape is not None:
        inputs.append(rng.normal(size=h_shape).astype(dtype))
    train = case != "dropout_eval"
    _run(d, t, inputs, grad_inputs=tuple(range(len(inputs))), dtype=dtype, train=train)
    assert repr(d) == repr(t)
    assert list(d.state_dict()) == list(t.state_dict())


# ---- embedding ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_matches_torch(padding_idx):
    d, t = _build(lambda nn: nn.Embedding(10, 4, padding_idx=padding_idx), "float64")
    idx = np.array([[0, 3, 9, 3], [9, 9, 1, 0]], dtype=np.int64)
    d_out, t_out = d(descend.tensor(idx)), t(torch.tensor(idx))
    np.testing.assert_allclose(d_out._data, t_out.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(0).normal(size=t_out.shape)
    (d_out * descend.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(d.weight.grad._data, t.weight.grad.numpy(), rtol=1e-12)
    assert repr(d) == repr(t)


def test_embedding_default_padding_row_is_zero():
    e = dnn.Embedding(6, 3, padding_idx=2)
    assert np.all(e.weight._data[2] == 0) and np.all(e.weight._data[[0, 1, 3, 4, 5]] != 0)


# ---- losses ---------------------------------------------------------------------------------------------

def _targets(kind, n, c, rng):
    if kind == "index":
        return rng.integers(0, c, n).astype(np.int64)
    if kind == "index_ignored":
        t = rng.integers(0, c, n).astype(np.int64)
        t[::3] = 1
        return t
    if kind == "prob":
        p = rng.random((n, c))
        return p / p.sum(1, keepdims=True)
    if kind == "binary":
        return (rng.random((n, c)) > 0.5).astype(np.float64)
    return rng.normal(size=(n, c))


LOSSES = {
    "ce": (lambda nn, T: nn.CrossEntropyLoss(), "index"),
    "ce_sum": (lambda nn, T: nn.CrossEntropyLoss(reduction="sum"), "index"),
    "ce_none": (lambda nn, T: nn.CrossEntropyLoss(reduction="none"), "index"),
    "ce_weight_ignore": (lambda nn, T: nn.CrossEntropyLoss(weight=T([0.5, 1.0, 2.0, 1.5]), ignore_index=1),
                         "index_ignored"),
    "ce_smoothing": (lambda nn, T: nn.CrossEntropyLoss(label_smoothing=0.1), "index"),
    "ce_prob": (lambda nn, T: nn.CrossEntropyLoss(), "prob"),
    "nll": (lambda nn, T: nn.NLLLoss(), "index"),
    "nll_weight_ignore": (lambda nn, T: nn.NLLLoss(weight=T([0.5, 1.0, 2.0, 1.5]), ignore_index=1),
                          "index_ignored"),
    "mse": (lambda nn, T: nn.MSELoss(), "real"),
    "mse_sum": (lambda nn, T: nn.MSELoss(reduction="sum"), "real"),
    "l1": (lambda nn, T: nn.L1Loss(), "real"),
    "l1_none": (lambda nn, T: nn.L1Loss(reduction="none"), "real"),
    "bce_logits": (lambda nn, T: nn.BCEWithLogitsLoss(), "binary"),
    "bce_logits_weights": (lambda nn, T: nn.BCEWithLogitsLoss(weight=T([1.0, 2.0, 0.5, 1.0]),
                                                              pos_weight=T([3.0, 1.0, 0.2, 2.0])), "binary"),
}


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_matches_torch(case):
    factory, kind = LOSSES[case]
    d = factory(dnn, lambda v: descend.tensor(np.array(v, dtype=np.float64)))
    t = factory(tnn, lambda v: torch.tensor(v, dtype=torch.float64))
    rng = np.random.default_rng(11)
    x = rng.normal(size=(6, 4)) * 3
    if case.startswith("nll"):
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
    y = _targets(kind, 6, 4, rng)
    dx, tx = descend.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    d_out, t_out = d(dx, descend.tensor(y)), t(tx, torch.tensor(y))
    np.testing.assert_allclose(d_out._data, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=t_out.shape)
    (d_out * descend.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(dx.grad._data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(d) == repr(t)
    assert list(d.state_dict()) == list(t.state_dict())


def test_legacy_reduction_flags_match_torch():
    for kwargs in [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}, {}]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns that the flags are deprecated
            want = tnn.MSELoss(**kwargs).reduction
        assert dnn.MSELoss(**kwargs).reduction == want

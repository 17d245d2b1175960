"""state_dict / load_state_dict: PyTorch's keys and shapes, round trips through torch, in-place loading, errors."""

import numpy as np
import pytest

import descend
import descend.nn as dnn

torch = pytest.importorskip("torch")


# One source per model, built with either framework's nn.
def make_mlp(nn):
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))


def make_cnn(nn):
    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                          nn.MaxPool2d(2))
            self.drop = nn.Dropout(0.25)
            self.fc = nn.Linear(4 * 4 * 4, 10)
            self.bn = nn.BatchNorm1d(10)

        def forward(self, x):
            return self.bn(self.fc(self.drop(self.features(x).flatten(1))))

    return CNN()


def make_gru(nn):
    class GRUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 6, padding_idx=0)
            self.gru = nn.GRU(6, 8, num_layers=2, batch_first=True, bidirectional=True)
            self.norm = nn.LayerNorm(16)
            self.head = nn.Linear(16, 3)

        def forward(self, idx):
            out, h = self.gru(self.emb(idx))
            return self.head(self.norm(out[:, -1])) + h.sum()

    return GRUNet()


def _input(name, rng):
    if name == "mlp":
        return rng.normal(size=(5, 12)).astype(np.float32)
    if name == "cnn":
        return rng.normal(size=(6, 1, 8, 8)).astype(np.float32)
    return rng.integers(0, 20, (4, 7)).astype(np.int64)


MODELS = {"mlp": make_mlp, "cnn": make_cnn, "gru": make_gru}


@pytest.mark.parametrize("name", list(MODELS))
def test_keys_shapes_and_dtypes_match_torch(name):
    d_sd, t_sd = MODELS[name](dnn).state_dict(), MODELS[name](torch.nn).state_dict()
    assert list(d_sd) == list(t_sd)
    for k in t_sd:
        assert tuple(d_sd[k].shape) == tuple(t_sd[k].shape), k
        assert d_sd[k].dtype == t_sd[k].numpy().dtype, k


@pytest.mark.parametrize("name", list(MODELS))
def test_descend_to_torch_and_back(name):
    rng = np.random.default_rng(0)
    d, t = MODELS[name](dnn), MODELS[name](torch.nn)
    x = _input(name, rng)
    if name == "cnn":  # a few training steps so running statistics and num_batches_tracked are non-trivial
        d.train()
        for _ in range(3):
            d(descend.tensor(rng.normal(1.0, 2.0, x.shape).astype(np.float32)))
    d.eval()
    t.eval()
    # descend -> torch through NumPy arrays.
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in d.state_dict().items()})
    np.testing.assert_allclose(d(descend.tensor(x))._data, t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # torch (re-initialised) -> a fresh descend model, as NumPy arrays and as descend tensors.
    for p in t.parameters():
        torch.nn.init.normal_(p, 0, 0.3)
    for fmt in ("numpy", "tensor"):
        d2 = MODELS[name](dnn).eval()
        sd = {k: v.numpy().copy() for k, v in t.state_dict().items()}
        if fmt == "tensor":
            sd = {k: descend.tensor(v) for k, v in sd.items()}
        assert d2.load_state_dict(sd) == ([], [])
        np.testing.assert_allclose(d2(descend.tensor(x))._data, t(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_torch_tensors_load_directly():
    t = make_mlp(torch.nn)
    d = make_mlp(dnn)
    d.load_state_dict(t.state_dict())
    np.testing.assert_array_equal(d[0].weight._data, t[0].weight.detach().numpy())


def test_load_is_in_place_into_views():
    m = make_mlp(dnn)
    # Rebind every parameter to a view into one flat buffer, as descend.optim does.
    flat = np.zeros(sum(p._data.size for p in m.parameters()), np.float32)
    offset = 0
    for p in m.parameters():
        n = p._data.size
        view = flat[offset:offset + n].reshape(p.shape)
        view[...] = p._data
        p._data = view
        offset += n
    arrays = [p._data for p in m.parameters()]
    src = {k: np.full(v.shape, i + 1.0) for i, (k, v) in enumerate(m.state_dict().items())}
    m.load_state_dict(src)
    for (k, p), a in zip(m.named_parameters(), arrays):
        assert p._data is a and np.shares_memory(p._data, flat)
        np.testing.assert_array_equal(p._data, src[k])
    assert flat.min() >= 1.0


def test_state_dict_shares_memory_and_detaches():
    m = dnn.Linear(3, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and np.shares_memory(sd["weight"]._data, m.weight._data)
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_batchnorm_counter_is_int64_scalar():
    sd = dnn.BatchNorm2d(3).state_dict()
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].shape == ()
    bn = dnn.BatchNorm2d(3)
    bn.load_state_dict({**{k: v.numpy() for k, v in sd.items()}, "num_batches_tracked": np.array(17)})
    assert int(bn.num_batches_tracked.item()) == 17


def test_untracked_batchnorm_and_no_bias_keys_match_torch():
    for f in (lambda nn: nn.BatchNorm1d(3, track_running_stats=False, affine=False),
              lambda nn: nn.Conv2d(2, 3, 3, bias=False), lambda nn: nn.GRU(3, 4, bias=False)):
        assert list(f(dnn).state_dict()) == list(f(torch.nn).state_dict())


def test_shared_module_listed_under_both_names_like_torch():
    def build(nn):
        lin = nn.Linear(2, 2)
        return nn.Sequential(lin, nn.ReLU(), lin)
    d, t = build(dnn), build(torch.nn)
    assert list(d.state_dict()) == list(t.state_dict())
    assert [k for k, _ in d.named_parameters()] == [k for k, _ in t.named_parameters()]


def test_non_persistent_buffer_is_left_out():
    m = dnn.Module()
    m.register_buffer("kept", np.ones(2))
    m.register_buffer("scratch", np.ones(2), persistent=False)
    assert list(m.state_dict()) == ["kept"] and [k for k, _ in m.named_buffers()] == ["kept", "scratch"]


# ---- errors ---------------------------------------------------------------------------------------------

def test_error_lists_missing_unexpected_and_shape_mismatch():
    m = make_mlp(dnn)
    sd = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    del sd["2.bias"]
    sd["3.weight"] = np.zeros((1, 1))
    sd["0.weight"] = np.zeros((16, 10), np.float32)
    before = m[2].weight._data.copy()
    sd["2.weight"] = before + 1
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "3.weight".' in msg
    assert ("size mismatch for 0.weight: copying a param with shape (16, 10) from checkpoint, the shape in "
            "current model is (16, 12).") in msg
    # Nothing was copied: a failed load leaves the model as it was.
    np.testing.assert_array_equal(m[2].weight._data, before)


def test_non_strict_reports_keys_but_still_rejects_shapes():
    m = make_mlp(dnn)
    sd = {k: v.numpy() + 1 for k, v in m.state_dict().items() if k != "2.bias"}
    sd["extra"] = np.zeros(3)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m[0].bias._data, sd["0.bias"])
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.bias: .*shape \(3,\) .* is \(16,\)"):
        m.load_state_dict({"0.bias": np.zeros(3)}, strict=False)


def test_load_casts_to_the_model_dtype():
    m = dnn.Linear(2, 2).double()
    m.load_state_dict({"weight": np.ones((2, 2), np.float32), "bias": np.zeros(2, np.float32)})
    assert m.weight.dtype == np.float64 and np.all(m.weight._data == 1)

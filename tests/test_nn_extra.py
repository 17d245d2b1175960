"""The layers of descend/nn/layers_extra.py against PyTorch's on the same weights: outputs, input and
parameter gradients, running statistics and state_dict keys; plus Embedding(max_norm=),
load_state_dict(assign=True) and mse_loss's promotion of an integer target."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import descend
import descend.nn as nn
import descend.nn.functional as F

torch = pytest.importorskip("torch")


def _copy_params(mine: Any, ref: Any) -> None:
    """Give the torch module the descend module's parameter values, key by key."""
    theirs = dict(ref.named_parameters())
    ours = dict(mine.named_parameters())
    assert list(ours) == list(theirs)
    with torch.no_grad():
        for name, p in ours.items():
            theirs[name].copy_(torch.from_numpy(p._data.copy()))


def _compare(mine: Any, ref: Any, *inputs: np.ndarray, train: bool = True, grad: bool = True,
             atol: float = 1e-6) -> None:
    """Forward and backward of a weighted sum, under both libraries, on the same weights and inputs."""
    modules = hasattr(mine, "named_parameters")  # else two functions (a loss with its target bound)
    if modules:
        _copy_params(mine, ref)
        mine.train(train)
        ref.train(train)
    xs = [descend.tensor(a, requires_grad=grad) for a in inputs]
    ts = [torch.tensor(a, requires_grad=grad) for a in inputs]
    y, yt = mine(*xs), ref(*ts)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), atol=atol)
    assert y.dtype.name == str(yt.dtype).replace("torch.", "")
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(y._data.dtype)
    (y * descend.tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    for x, t in zip(xs, ts):
        if grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol)
    for (name, p), (_, q) in zip(mine.named_parameters(), ref.named_parameters()) if modules else ():
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=atol, err_msg=name)


def _x(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- pooling -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda n: n.AdaptiveMaxPool2d(1), (1, 2, 4, 4)),
    (lambda n: n.AdaptiveMaxPool2d((3, None)), (2, 3, 7, 5)),
    (lambda n: n.AdaptiveMaxPool2d(4), (2, 6, 5)),
    (lambda n: n.AdaptiveMaxPool1d(3), (2, 3, 8)),
])
def test_adaptive_max_pool_matches_torch(make: Callable, shape: tuple) -> None:
    _compare(make(nn), make(torch.nn), _x(*shape))


def test_adaptive_max_pool_return_indices() -> None:
    x = _x(2, 3, 7, 5)
    y, idx = nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(descend.tensor(x))
    yt, it = torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    assert idx.dtype.name == "int64"
    np.testing.assert_allclose(y.numpy(), yt.numpy())
    with pytest.raises(ValueError, match="adaptive_max_pool2d"):
        F.adaptive_max_pool2d(descend.tensor(_x(5, 5)), 2)


# ---- bilinear ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(bias: bool) -> None:
    descend.manual_seed(0)
    m = nn.Bilinear(3, 4, 2, bias=bias)
    assert [k for k in m.state_dict()] == (["weight", "bias"] if bias else ["weight"])
    assert tuple(m.weight.shape) == (2, 3, 4)
    bound = 1 / np.sqrt(3)
    assert np.abs(m.weight.detach().numpy()).max() <= bound  # PyTorch's U(±1/√in1_features)
    _compare(m, torch.nn.Bilinear(3, 4, 2, bias=bias), _x(2, 5, 3), _x(2, 5, 4, seed=1))
    with pytest.raises(ValueError, match="bilinear"):
        m(descend.tensor(_x(2, 4)), descend.tensor(_x(2, 4)))


# ---- embedding bags ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_offsets_matches_torch(mode: str) -> None:
    idx, off = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 2, 2, 5])
    descend.manual_seed(0)
    m = nn.EmbeddingBag(10, 3, mode=mode, padding_idx=2)
    assert np.all(m.weight.detach().numpy()[2] == 0)
    ref = torch.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=2)
    _copy_params(m, ref)
    y = m(descend.tensor(idx), descend.tensor(off))
    yt = ref(torch.tensor(idx), torch.tensor(off))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), atol=1e-6)
    w = _x(*yt.shape, seed=3)
    (y * descend.tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), ref.weight.grad.numpy(), atol=1e-6)


def test_embedding_bag_2d_weights_and_last_offset() -> None:
    idx = np.array([[0, 1, 3], [4, 4, 2]])
    m, ref = nn.EmbeddingBag(5, 2, mode="sum"), torch.nn.EmbeddingBag(5, 2, mode="sum")
    _copy_params(m, ref)
    psw = _x(2, 3, seed=2)
    p, pt = descend.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    y, yt = m(descend.tensor(idx), per_sample_weights=p), ref(torch.tensor(idx), per_sample_weights=pt)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), atol=1e-6)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), atol=1e-6)
    flat, off = idx.reshape(-1), np.array([0, 2, 6])
    y = m(descend.tensor(flat), descend.tensor(off))
    yt = ref(torch.tensor(flat), torch.tensor(off))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), atol=1e-6)
    last = nn.EmbeddingBag(5, 2, mode="sum", include_last_offset=True)
    last.weight._data[...] = m.weight._data
    assert tuple(last(descend.tensor(flat), descend.tensor(off)).shape) == (2, 2)
    with pytest.raises(ValueError, match="offsets"):
        m(descend.tensor(flat))
    with pytest.raises(ValueError, match="per_sample_weights"):
        nn.EmbeddingBag(5, 2)(descend.tensor(idx), per_sample_weights=p)


# ---- instance norm -------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, shape", [("InstanceNorm2d", (2, 3, 4, 5)), ("InstanceNorm1d", (4, 3, 6)),
                                        ("InstanceNorm2d", (3, 4, 5))])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_matches_torch(cls: str, shape: tuple, affine: bool) -> None:
    m, ref = getattr(nn, cls)(3, affine=affine), getattr(torch.nn, cls)(3, affine=affine)
    assert list(m.state_dict()) == list(ref.state_dict())
    if affine:
        m.weight._data[...] = [0.5, 1.5, -1.0]
        m.bias._data[...] = [0.1, -0.2, 0.3]
    _compare(m, ref, _x(*shape), atol=1e-5)


def test_instance_norm_running_stats_train_then_eval() -> None:
    m = nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3)
    ref = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3)
    assert list(m.state_dict()) == list(ref.state_dict())
    for seed in range(2):
        _compare(m, ref, _x(2, 3, 4, 4, seed=seed), atol=1e-5)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(m, name).numpy(), getattr(ref, name).numpy(), atol=1e-6)
    _compare(m, ref, _x(2, 3, 4, 4, seed=5), train=False, atol=1e-5)


# ---- pixel shuffle and padding -------------------------------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda n: n.PixelShuffle(2), (1, 4, 2, 2)),
    (lambda n: n.PixelShuffle(3), (2, 18, 2, 3)),
    (lambda n: n.PixelUnshuffle(2), (2, 3, 4, 6)),
    (lambda n: n.ZeroPad2d(1), (1, 1, 2, 2)),
    (lambda n: n.ZeroPad2d((1, 0, 2, 3)), (2, 3, 3)),
    (lambda n: n.ZeroPad1d((2, 1)), (2, 3, 4)),
    (lambda n: n.ConstantPad2d((0, 1, 1, 0), 2.5), (1, 2, 3, 3)),
    (lambda n: n.ConstantPad1d(2, -1.0), (2, 3, 4)),
    (lambda n: n.ReflectionPad2d((1, 2, 2, 1)), (1, 2, 4, 4)),
    (lambda n: n.ReflectionPad1d(2), (2, 3, 5)),
    (lambda n: n.ReplicationPad2d(2), (1, 2, 3, 3)),
    (lambda n: n.ReplicationPad1d((0, 3)), (2, 3, 4)),
])
def test_shuffle_and_pad_match_torch(make: Callable, shape: tuple) -> None:
    _compare(make(nn), make(torch.nn), _x(*shape))


def test_pixel_shuffle_round_trip_and_errors() -> None:
    x = descend.tensor(_x(2, 8, 3, 5))
    np.testing.assert_array_equal(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(x)).numpy(), x.numpy())
    with pytest.raises(ValueError, match="pixel_shuffle"):
        nn.PixelShuffle(2)(descend.tensor(_x(1, 6, 2, 2)))


# ---- losses --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hinge_embedding_loss_matches_torch(reduction: str) -> None:
    signs = np.where(np.random.default_rng(4).random((3, 4)) > 0.5, 1.0, -1.0).astype(np.float32)
    mine = nn.HingeEmbeddingLoss(margin=0.5, reduction=reduction)
    ref = torch.nn.HingeEmbeddingLoss(margin=0.5, reduction=reduction)
    _compare(lambda x: mine(x, descend.tensor(signs)), lambda x: ref(x, torch.tensor(signs)), _x(3, 4))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(p: int, weighted: bool) -> None:
    target = np.array([0, 3, 2, 4])
    w = np.array([0.5, 1.0, 2.0, 0.3, 1.5], dtype=np.float32) if weighted else None
    mine = nn.MultiMarginLoss(p=p, margin=0.8, weight=None if w is None else descend.tensor(w))
    ref = torch.nn.MultiMarginLoss(p=p, margin=0.8, weight=None if w is None else torch.tensor(w))
    assert list(mine.state_dict()) == list(ref.state_dict())
    _compare(lambda x: mine(x, descend.tensor(target)), lambda x: ref(x, torch.tensor(target)), _x(4, 5))
    with pytest.raises(ValueError, match="multi_margin_loss"):
        mine(descend.tensor(_x(4, 5)), descend.tensor(np.array([0, 5, 1, 1])))


# ---- Embedding(max_norm=), load_state_dict(assign=True), mse_loss promotion ----------------------------

def test_embedding_max_norm_renormalises_rows_in_place() -> None:
    m, ref = nn.Embedding(4, 3, max_norm=0.5), torch.nn.Embedding(4, 3, max_norm=0.5)
    _copy_params(m, ref)
    before = m.weight.detach().numpy().copy()
    _compare(lambda i: m(i), lambda i: ref(i), np.array([0, 2, 2]), grad=False)
    np.testing.assert_allclose(m.weight.detach().numpy(), ref.weight.detach().numpy(), atol=1e-6)
    np.testing.assert_array_equal(m.weight.detach().numpy()[[1, 3]], before[[1, 3]])  # untouched rows
    np.testing.assert_allclose(m.weight.grad.numpy(), ref.weight.grad.numpy(), atol=1e-6)


def test_load_state_dict_assign_takes_the_given_arrays() -> None:
    m = nn.Linear(2, 1)
    w = descend.ones(1, 2, dtype=descend.float64)
    m.load_state_dict({"weight": w, "bias": descend.zeros(1, dtype=descend.float64)}, assign=True)
    assert type(m.weight).__name__ == "Parameter" and m.weight.requires_grad
    assert m.weight.dtype == descend.float64  # assign keeps the state dict's dtype, as PyTorch
    w._data[0, 0] = 7.0
    assert m.weight._data[0, 0] == 7.0  # shares the given tensor's memory
    kept = nn.Linear(2, 1)
    kept.load_state_dict({"weight": w, "bias": descend.zeros(1)})
    w._data[0, 0] = 3.0
    assert kept.weight._data[0, 0] == 7.0  # the default still copies
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict({"weight": descend.ones(2, 2), "bias": descend.zeros(1)}, assign=True)


def test_mse_loss_integer_target_keeps_input_dtype() -> None:
    x = _x(3)
    out = F.mse_loss(descend.tensor(x), descend.tensor(np.array([1, 0, 2])))
    ref = torch.nn.functional.mse_loss(torch.tensor(x), torch.tensor([1, 0, 2]))
    assert out.dtype == descend.float32 and str(ref.dtype) == "torch.float32"
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)


# ---- ONNX: the layers composed of reshapes, permutes and pads export through the existing converters ------

@pytest.mark.parametrize("make, shape", [
    (lambda: nn.PixelShuffle(2), (4, 2, 2)), (lambda: nn.PixelUnshuffle(2), (1, 4, 4)),
    (lambda: nn.ZeroPad2d((1, 0, 2, 1)), (1, 3, 3)), (lambda: nn.ReflectionPad2d(1), (2, 3, 3)),
])
def test_shuffle_and_pad_export_to_onnx(make: Callable, shape: tuple) -> None:
    import io
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    m, x = make(), descend.tensor(_x(2, *shape))
    buf = io.BytesIO()
    descend.onnx.export(m, x, buf, input_names=["x"], output_names=["y"])
    got = ort.InferenceSession(buf.getvalue()).run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got, m(x).numpy(), atol=1e-6)


def test_alpha_dropout_keeps_selu_statistics_and_matches_pytorch():
    """Eval: the identity. Training: kept units scaled by a, dropped ones set to a's affine image of SELU's
    saturation, so a standard normal input keeps mean 0 and variance 1 (PyTorch's formula); the gradient is a on
    kept units, 0 on dropped ones; p = 1 gives zeros."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(400_000).astype(np.float32)
    assert nn.AlphaDropout(0.2).eval()(descend.tensor(x)).numpy().tolist() == \
        torch.nn.AlphaDropout(0.2).eval()(torch.from_numpy(x)).numpy().tolist()
    t = descend.tensor(x, requires_grad=True)
    y = nn.AlphaDropout(0.2)(t)
    y.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    kept = t.grad.numpy() != 0
    np.testing.assert_allclose(t.grad.numpy()[kept], a, rtol=1e-6)
    assert abs(kept.mean() - 0.8) < 0.005
    np.testing.assert_allclose(y.detach().numpy()[kept], a * x[kept] + 1.7580993408473766 * a * 0.2, rtol=1e-5,
                               atol=1e-6)
    ours, theirs = y.detach().numpy(), torch.nn.AlphaDropout(0.2)(torch.from_numpy(x)).numpy()
    for stat in (np.mean, np.std):
        assert abs(stat(ours) - stat(theirs)) < 0.01
    assert not nn.AlphaDropout(1.0)(descend.tensor(x)).numpy().any()


def test_feature_alpha_dropout_drops_whole_channels():
    x = descend.tensor(np.random.default_rng(1).standard_normal((8, 6, 5, 5)).astype(np.float32),
                       requires_grad=True)
    nn.FeatureAlphaDropout(0.5)(x).sum().backward()
    g = x.grad.numpy().reshape(8, 6, -1)
    assert (g == g[:, :, :1]).all() and (g[:, :, 0] == 0).any() and (g[:, :, 0] != 0).any()


def test_unfold_and_fold_modules_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 5)).astype(np.float32)
    ours = nn.Unfold((2, 3), dilation=1, padding=1, stride=2)(descend.tensor(x))
    theirs = torch.nn.Unfold((2, 3), dilation=1, padding=1, stride=2)(torch.from_numpy(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    back = nn.Fold((6, 5), (2, 3), padding=1, stride=2)(ours)
    np.testing.assert_allclose(back.numpy(), torch.nn.Fold((6, 5), (2, 3), padding=1, stride=2)(theirs).numpy(),
                               rtol=1e-6)
    assert repr(nn.Fold((6, 5), 2)) == repr(torch.nn.Fold((6, 5), 2))

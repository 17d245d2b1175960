"""descend.functional beyond single-op gradients: state, randomness, layouts and small networks vs PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import descend
import descend.functional
import descend.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def test_nn_functional_is_descend_functional() -> None:
    for name in descend.functional.__all__:
        assert getattr(F, name) is getattr(descend.functional, name)
        assert hasattr(TF, name) or hasattr(torch, name), f"{name} is not a PyTorch name"


def test_small_cnn_matches_torch_end_to_end() -> None:
    """conv -> relu -> max_pool -> conv -> batch_norm -> relu -> avg_pool -> flatten -> linear -> cross_entropy."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 12, 12))
    params = {"w1": rng.standard_normal((6, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(6) * 0.1,
              "w2": rng.standard_normal((8, 6, 3, 3)) * 0.2, "b2": rng.standard_normal(8) * 0.1,
              "g": rng.uniform(0.5, 1.5, 8), "beta": rng.standard_normal(8) * 0.1,
              "w3": rng.standard_normal((5, 8 * 3 * 3)) * 0.2, "b3": rng.standard_normal(5) * 0.1}
    y = np.array([0, 3, 4, 1])

    def net(lib, fn, p, inp, target):
        h = fn.max_pool2d(fn.relu(fn.conv2d(inp, p["w1"], p["b1"], padding=1)), 2)
        h = fn.conv2d(h, p["w2"], p["b2"], padding="same")
        h = fn.relu(fn.batch_norm(h, None, None, p["g"], p["beta"], training=True))
        h = fn.avg_pool2d(h, 2).flatten(1)
        return fn.cross_entropy(fn.linear(h, p["w3"], p["b3"]), target, label_smoothing=0.1)

    ours = {k: descend.tensor(v, dtype=np.float64, requires_grad=True) for k, v in params.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xi = descend.tensor(x, dtype=np.float64, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    loss = net(descend, F, ours, xi, descend.tensor(y))
    ref = net(torch, TF, theirs, xt, torch.tensor(y))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    loss.backward()
    ref.backward()
    for k in params:
        np.testing.assert_allclose(ours[k].grad.numpy(), theirs[k].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_conv_output_layout_is_invisible() -> None:
    """The conv output is channels-last in memory; reshapes, indexing and numpy() see plain NCHW."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    ours = F.conv2d(descend.tensor(x), descend.tensor(w))
    ref = TF.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(ours.flatten(1).numpy(), ref.reshape(2, -1), rtol=1e-12)
    np.testing.assert_allclose(ours.view(2, 4, -1).numpy(), ref.reshape(2, 4, -1), rtol=1e-12)
    np.testing.assert_allclose(ours[:, 1].numpy(), ref[:, 1], rtol=1e-12)
    assert ours.numpy().shape == (2, 4, 3, 3)


def test_dropout_semantics() -> None:
    x = descend.ones(200, 500)
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 0.0) is x
    descend.manual_seed(0)
    out = F.dropout(x, 0.3).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    zeros = descend.ones(5, requires_grad=True)
    y = F.dropout(zeros, 1.0)
    assert (y.detach().numpy() == 0).all()
    y.sum().backward()
    assert (zeros.grad.numpy() == 0).all()
    d = descend.ones(4, dtype="float64", requires_grad=True)
    assert F.dropout(d, 0.5).dtype == np.float64


def test_dropout_gradient_uses_the_forward_mask() -> None:
    x = descend.randn(50, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (y.detach().numpy() != 0) * 2.0)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_running_stats_match_torch(shape: tuple) -> None:
    rng = np.random.default_rng(2)
    rm0, rv0 = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    ours_m, ours_v = descend.tensor(rm0), descend.tensor(rv0)
    ref_m, ref_v = torch.tensor(rm0), torch.tensor(rv0)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        a = F.batch_norm(descend.tensor(x), ours_m, ours_v, training=True, momentum=0.3)
        b = TF.batch_norm(torch.tensor(x), ref_m, ref_v, training=True, momentum=0.3)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours_m.numpy(), ref_m.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours_v.numpy(), ref_v.numpy(), rtol=1e-12)  # unbiased batch variance
    x = rng.standard_normal(shape)
    a = F.batch_norm(descend.tensor(x), ours_m, ours_v, training=False)
    b = TF.batch_norm(torch.tensor(x), ref_m, ref_v, training=False)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)


def test_batch_norm_float32_stats_stay_float32() -> None:
    rm, rv = descend.zeros(3), descend.ones(3)
    F.batch_norm(descend.randn(8, 3), rm, rv, training=True)
    assert rm.dtype == np.float32 and rv.dtype == np.float32
    assert not np.allclose(rv.numpy(), 1.0)


def test_embedding_max_norm_renormalises_in_place_like_torch() -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 4)) * 3
    idx = np.array([[0, 2], [2, 5]])
    ours, ref = descend.tensor(w), torch.tensor(w)
    a = F.embedding(descend.tensor(idx), ours, max_norm=1.0)
    b = TF.embedding(torch.tensor(idx), ref, max_norm=1.0)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)


def test_embedding_accumulates_repeated_indices() -> None:
    w = descend.zeros(4, 2, requires_grad=True)
    F.embedding(descend.tensor([1, 1, 3, 1]), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_one_hot_matches_torch() -> None:
    idx = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(descend.tensor(idx)).numpy(), TF.one_hot(torch.tensor(idx)).numpy())
    np.testing.assert_array_equal(F.one_hot(descend.tensor(idx), 6).numpy(),
                                  TF.one_hot(torch.tensor(idx), 6).numpy())


def test_max_pool_return_indices_match_torch() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 6))
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
               dict(kernel_size=(2, 3), stride=1, dilation=(2, 1))):
        a, ia = F.max_pool2d(descend.tensor(x), return_indices=True, **kw)
        b, ib = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(ia.numpy(), ib.numpy())
    a, ia = F.max_pool1d(descend.tensor(x[0]), 3, 2, return_indices=True)
    b, ib = TF.max_pool1d(torch.tensor(x[0]), 3, 2, return_indices=True)
    np.testing.assert_array_equal(ia.numpy(), ib.numpy())


def test_unbatched_inputs() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 8))
    w = rng.standard_normal((2, 3, 3, 3))
    cases = [
        (F.conv2d(descend.tensor(x), descend.tensor(w), padding=1), TF.conv2d(torch.tensor(x), torch.tensor(w),
                                                                               padding=1)),
        (F.max_pool2d(descend.tensor(x), 2), TF.max_pool2d(torch.tensor(x), 2)),
        (F.avg_pool1d(descend.tensor(x[0]), 4), TF.avg_pool1d(torch.tensor(x[0]), 4)),
        (F.cross_entropy(descend.tensor(x[0, 0]), descend.tensor(2), reduction="none"),
         TF.cross_entropy(torch.tensor(x[0, 0]), torch.tensor(2), reduction="none")),
    ]
    for ours, ref in cases:
        assert ours.shape == tuple(ref.shape)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10)


def test_cross_entropy_all_ignored_is_nan_like_torch() -> None:
    x = np.zeros((2, 3))
    t = np.array([-100, -100])
    with np.errstate(invalid="ignore"):
        ours = F.cross_entropy(descend.tensor(x), descend.tensor(t)).item()
    assert np.isnan(ours) and np.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(t)).item())


def test_softmax_without_dim_warns_and_uses_the_legacy_dim() -> None:
    x = np.random.default_rng(6).standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ours = F.softmax(descend.tensor(x))
    np.testing.assert_allclose(ours.numpy(), torch.tensor(x).softmax(1).numpy(), rtol=1e-12)


def test_mse_loss_broadcast_warns() -> None:
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(descend.ones(3, 2), descend.ones(2))


def test_max_pool_with_nan_matches_torch() -> None:
    x = np.array([[[[1.0, np.nan, 3.0, 4.0], [2.0, 0.0, np.nan, np.nan], [5, 5, 1, 2], [0, 5, 2, 2]]]])
    ours = descend.tensor(x, requires_grad=True)
    ref = torch.tensor(x, requires_grad=True)
    a, b = F.max_pool2d(ours, 2), TF.max_pool2d(ref, 2)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    a.backward(np.ones(a.shape))
    b.backward(torch.ones_like(b))
    np.testing.assert_array_equal(ours.grad.numpy(), ref.grad.numpy())

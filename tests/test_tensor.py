"""Autograd engine semantics: accumulation, fan-out, deep chains, no_grad, detach, retain_graph, dtypes, seeds."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import descend
import descend.nn.functional as F
from descend import backend


@pytest.fixture
def default_float64():
    previous = backend.default_dtype()
    descend.set_default_dtype(np.float64)
    yield
    descend.set_default_dtype(previous)


def test_reused_tensor_accumulates() -> None:
    x = descend.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, -2.0, 3.0]) + 1)
    (x * 3).sum().backward()  # a second graph adds into .grad, as in PyTorch
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, -2.0, 3.0]) + 4)


def test_fan_out_diamond_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    v = np.array([[0.3, -1.2], [2.0, 0.7]])

    def graph(lib, x):
        a = x.exp()
        b = a * x
        c = (a + b).tanh()
        d = b.sigmoid() * c + a.sum() * c.mean()
        return (d * a).sum()

    x = descend.tensor(v, dtype=np.float64, requires_grad=True)
    graph(descend, x).backward()
    xt = torch.tensor(v, requires_grad=True)
    graph(torch, xt).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_ten_thousand_op_chain_does_not_recurse() -> None:
    x = descend.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_no_grad_and_enable_grad() -> None:
    x = descend.ones(3, requires_grad=True)
    with descend.no_grad():
        y = x * 2
        assert not descend.is_grad_enabled()
        with descend.enable_grad():
            z = x * 2
    assert descend.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @descend.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert (x * 2).requires_grad


def test_ops_on_constants_do_not_record() -> None:
    a, b = descend.ones(2), descend.ones(2)
    out = (a * b).exp().sum()
    assert not out.requires_grad and out.grad_fn is None


def test_detach_shares_data_and_stops_gradient() -> None:
    x = descend.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d._data, x._data)
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])  # d is a constant: no second term


def test_retain_graph_allows_a_second_backward() -> None:
    x = descend.tensor([0.5, 1.5], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_graph_is_released_after_backward() -> None:
    x = descend.tensor([0.5, 1.5], requires_grad=True)
    e = x.exp()
    y = (e * x).sum()
    y.backward()
    for node in (y, e):
        assert node.grad_fn.parents is None  # the saved arrays and links are gone


def test_leaf_and_non_leaf_grads() -> None:
    x = descend.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    kept = x * 4
    kept.retain_grad()
    (h.sum() + (kept * kept).sum()).backward()
    assert x.is_leaf and not h.is_leaf
    assert h.grad is None
    np.testing.assert_allclose(kept.grad.numpy(), 2 * kept.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * 16 * np.array([1.0, 2.0]))


def test_explicit_grad_for_non_scalar_output() -> None:
    x = descend.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (x * x).backward(descend.tensor([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0], [3.0, 16.0]])


def test_broadcast_gradients_are_summed_to_input_shape() -> None:
    a = descend.ones(3, 1, requires_grad=True)
    b = descend.ones(4, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), 4.0)
    np.testing.assert_allclose(b.grad.numpy(), 3.0)


def test_default_dtypes() -> None:
    assert descend.tensor([1.0]).dtype == np.float32
    assert descend.tensor([1]).dtype == np.int64
    assert descend.tensor(np.zeros(2)).dtype == np.float64  # arrays keep their dtype
    for make in (descend.zeros, descend.ones, descend.empty, descend.randn, descend.rand):
        assert make(2, 3).dtype == np.float32 and make(2, 3).shape == (2, 3)
    assert descend.arange(3).dtype == np.int64 and descend.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert descend.full((2,), 7).dtype == np.int64 and descend.full((2,), 0.5).dtype == np.float32
    assert descend.linspace(0, 1, 5).dtype == np.float32 and descend.eye(3).dtype == np.float32
    x = descend.ones(2)
    assert (x * 2.5).dtype == np.float32 and (x / 3).dtype == np.float32 and x.exp().dtype == np.float32


def test_set_default_dtype_float64_throughout(default_float64) -> None:
    assert descend.tensor([1.0]).dtype == np.float64
    assert descend.randn(2).dtype == np.float64 and descend.zeros(1).dtype == np.float64
    x = descend.randn(4, 3, requires_grad=True)
    w = descend.randn(5, 3, requires_grad=True)
    logits = F.linear(x, w).relu()
    loss = F.cross_entropy(logits, descend.tensor([0, 1, 2, 4]))
    loss.backward()
    assert loss.dtype == np.float64 and x.grad.dtype == np.float64 and w.grad.dtype == np.float64


def test_float64_conv_pool_chain_keeps_dtype() -> None:
    x = descend.randn(2, 1, 8, 8, dtype="float64", requires_grad=True)
    w = descend.randn(3, 1, 3, 3, dtype="float64", requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1).relu(), 2)
    y = F.batch_norm(y, None, None, training=True)
    y.sum().backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float64 and w.grad.dtype == np.float64


def test_manual_seed_determinism() -> None:
    descend.manual_seed(123)
    a = descend.randn(5)
    b = descend.rand(3)
    m = F.dropout(descend.ones(10), 0.5)
    i = descend.randint(0, 10, (4,))
    descend.manual_seed(123)
    np.testing.assert_array_equal(a.numpy(), descend.randn(5).numpy())
    np.testing.assert_array_equal(b.numpy(), descend.rand(3).numpy())
    np.testing.assert_array_equal(m.numpy(), F.dropout(descend.ones(10), 0.5).numpy())
    np.testing.assert_array_equal(i.numpy(), descend.randint(0, 10, (4,)).numpy())
    state = backend.get_rng_state()
    c = descend.randn(3)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(c.numpy(), descend.randn(3).numpy())


def test_creators_match_torch() -> None:
    torch = pytest.importorskip("torch")
    pairs = [
        (descend.arange(2, 11, 3), torch.arange(2, 11, 3)),
        (descend.arange(5), torch.arange(5)),
        (descend.linspace(-1, 1, 7), torch.linspace(-1, 1, 7)),
        (descend.eye(3, 4), torch.eye(3, 4)),
        (descend.full((2, 3), 1.5), torch.full((2, 3), 1.5)),
        (descend.zeros_like(descend.ones(2, 2, dtype="float64")), torch.zeros_like(torch.ones(2, 2).double())),
        (descend.ones_like(descend.zeros(3)), torch.ones_like(torch.zeros(3))),
    ]
    for ours, ref in pairs:
        assert str(ours.dtype).replace("descend.", "") == str(ref.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
    r = descend.randint(3, 7, (1000,)).numpy()
    assert r.dtype == np.int64 and r.min() == 3 and r.max() == 6
    assert descend.randint(5, (2, 2)).shape == (2, 2)
    u = descend.rand(10_000).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert sorted(descend.randperm(6).numpy().tolist()) == list(range(6))


def test_top_level_functions_equal_methods() -> None:
    x = descend.randn(3, 4)
    y = descend.randn(3, 4)
    pairs = [
        (descend.exp(x), x.exp()), (descend.log(x.abs()), x.abs().log()), (descend.sum(x, 1), x.sum(1)),
        (descend.mean(x), x.mean()), (descend.maximum(x, y), x.maximum(y)), (descend.max(x, y), x.maximum(y)),
        (descend.clamp(x, -0.1, 0.2), x.clamp(-0.1, 0.2)), (descend.where(x > 0, x, y), x.relu() + (x <= 0) * y),
        (descend.softmax(x, 1), x.softmax(1)), (descend.log_softmax(x, 0), x.log_softmax(0)),
        (descend.logsumexp(x, 1), x.logsumexp(1)), (descend.sigmoid(x), x.sigmoid()), (descend.tanh(x), x.tanh()),
        (descend.relu(x), x.relu()), (descend.matmul(x, y.T), x @ y.T), (descend.var(x, 0), x.var(0)),
        (descend.std(x), x.std()), (descend.amax(x, 1), x.amax(1)), (descend.cat([x, y]), descend.cat((x, y), 0)),
        (descend.stack([x, y], 1)[:, 0], x), (descend.square(x), x * x), (x.t(), x.T),
        (x.masked_fill(x > 0, 0.0), descend.where(x > 0, 0.0, x)),
        (descend.ones(4).expand_as(x), descend.ones(3, 4)),
        (x.view_as(y.reshape(4, 3)), x.reshape(4, 3)), (descend.erf(x), x.erf()),
        (descend.add(x, y, alpha=2), x + 2 * y), (descend.sub(x, y), x - y), (descend.pow(x, 2), x ** 2),
    ]
    for ours, ref in pairs:
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
    values, indices = descend.max(x, 1)
    np.testing.assert_array_equal(indices.numpy(), x.numpy().argmax(1))
    np.testing.assert_array_equal(descend.argmin(x, 0).numpy(), x.numpy().argmin(0))


def test_comparisons_are_outside_the_graph() -> None:
    x = descend.ones(3, requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad


def test_op_hooks_see_every_forward_in_order_and_stop_when_removed():
    from descend._tensor import detect_anomaly, register_op_hook

    seen, other = [], []
    h1 = register_op_hook(lambda cls, out, args: seen.append((cls.__name__, out.shape)))
    x = descend.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = (x * 2.0).sum()
    h2 = register_op_hook(lambda cls, out, args: other.append(cls.__name__))
    with detect_anomaly():  # a third hook, stacked and removed on exit
        (x + 1.0).exp()
    h1.remove()
    (x - 1.0).relu()
    h2.remove()
    x.tanh()
    names = [n for n, _ in seen]
    assert names == ["Mul", "Sum", "Add", "Exp"] and seen[0][1] == (2, 3) and seen[1][1] == ()
    assert other == ["Add", "Exp", "Sub", "ReLU"]
    y.backward()  # hooks are forward-only; the graph is untouched
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0, np.float32))
    assert importlib.import_module("descend._tensor")._anomaly_check is None

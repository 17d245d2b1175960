"""Numerical stability at extreme inputs, and our erf against the C library's."""

from __future__ import annotations

import math

import numpy as np
import pytest

import descend
import descend.nn.functional as F


@pytest.fixture(autouse=True)
def _no_floating_point_warnings():
    """Overflow or invalid operations inside an op would mean the stable formulation was lost."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield


def test_cross_entropy_is_shift_invariant_at_1e8() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 30, (16, 10)).astype(np.float32)
    # float32 spacing at 1e8 is 8, so first round the logits to values that survive the shift exactly;
    # then logits + 1e8 is exact and the only difference left is how the op handles the offset.
    logits = (raw + np.float32(1e8)) - np.float32(1e8)
    shifted = logits + np.float32(1e8)
    assert np.array_equal(shifted - np.float32(1e8), logits)
    target = descend.tensor(rng.integers(0, 10, 16))
    a = descend.tensor(logits, requires_grad=True)
    b = descend.tensor(shifted, requires_grad=True)
    la, lb = F.cross_entropy(a, target), F.cross_entropy(b, target)
    assert la.dtype == np.float32 and np.isfinite(la.item()) and la.item() > 1.0
    assert abs(lb.item() - la.item()) <= 1e-5 * abs(la.item())
    la.backward()
    lb.backward()
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-7)
    for smoothing in (0.1,):
        lsa = F.cross_entropy(a, target, label_smoothing=smoothing).item()
        lsb = F.cross_entropy(b, target, label_smoothing=smoothing).item()
        assert abs(lsb - lsa) <= 1e-5 * abs(lsa)


def test_cross_entropy_matches_torch_on_wide_logits() -> None:
    torch = pytest.importorskip("torch")
    logits = np.array([[1e4, 0.0, -1e4], [50.0, 60.0, 70.0], [-1e30, 1e30, 0.0]], dtype=np.float32)
    target = np.array([2, 0, 1])
    ours = F.cross_entropy(descend.tensor(logits), descend.tensor(target), reduction="none").numpy()
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target), reduction="none").numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert np.isfinite(ours).all()


def test_cross_entropy_with_masked_logits() -> None:
    # -inf logits (masked classes) are fine as long as the target class is not masked.
    logits = descend.tensor([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 2.0]], requires_grad=True)
    loss = F.cross_entropy(logits, descend.tensor([2, 1]))
    assert np.isfinite(loss.item())
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all()
    assert logits.grad.numpy()[0, 1] == 0 and logits.grad.numpy()[1, 0] == 0


@pytest.mark.parametrize("x", [1e4, -1e4])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_bce_with_logits_is_finite_with_exact_gradient(x: float, y: float) -> None:
    for dtype in (np.float32, np.float64):
        inp = descend.tensor([x], dtype=dtype, requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(inp, descend.tensor([y], dtype=dtype), reduction="sum")
        assert np.isfinite(loss.item())
        # the loss itself: softplus(x) - x*y, which is x*(1-y) for x >> 0 and -x*y for x << 0
        expected = x * (1 - y) if x > 0 else -x * y
        assert loss.item() == pytest.approx(expected, rel=1e-6)
        loss.backward()
        sigmoid = 1.0 if x > 0 else 0.0
        assert inp.grad.numpy()[0] == pytest.approx(sigmoid - y, abs=1e-7)


def test_bce_with_logits_pos_weight_at_extremes() -> None:
    x = descend.tensor([1e4, -1e4, 0.0], requires_grad=True)
    y = descend.tensor([1.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=descend.tensor([3.0]), reduction="sum")
    assert loss.item() == pytest.approx(3 * (1e4 + math.log(2)), rel=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, -3.0, -1.5], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_is_finite_for_finite_input(dtype: type) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1e30, 1e30, (50, 7)).astype(dtype)
    x[0] = [0, 1e4, -1e4, 1e30, -1e30, 3, 3]
    t = descend.tensor(x, requires_grad=True)
    out = F.log_softmax(t, 1)
    assert np.isfinite(out.detach().numpy()).all()
    assert (out.detach().numpy() <= 0).all()
    out.sum().backward()
    assert np.isfinite(t.grad.numpy()).all()
    assert np.isfinite(descend.log_softmax(descend.tensor([[-1e4, 0.0, 1e4]], dtype=dtype), 1).numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e4, 1e30])
def test_softmax_sums_to_one_for_huge_inputs(dtype: type, scale: float) -> None:
    rng = np.random.default_rng(2)
    x = descend.tensor(rng.standard_normal((8, 6)) * scale, dtype=dtype)
    p = descend.softmax(x, 1).numpy()
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    same = descend.softmax(descend.tensor([[1e30, 1e30]], dtype=dtype), 1).numpy()
    np.testing.assert_allclose(same, [[0.5, 0.5]])


def test_logsumexp_of_huge_equal_values() -> None:
    x = descend.tensor([[1e30, 1e30, 1e30, 1e30]], dtype=np.float64)
    assert descend.logsumexp(x, 1).item() == pytest.approx(1e30 + math.log(4), rel=1e-15)
    y = descend.tensor([[700.0, 700.0]], dtype=np.float64)
    assert descend.logsumexp(y, 1).item() == pytest.approx(700 + math.log(2), rel=1e-15)


def test_sigmoid_and_softplus_at_extremes() -> None:
    x = descend.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=np.float64, requires_grad=True)
    s = descend.sigmoid(x)
    np.testing.assert_allclose(s.detach().numpy(), [0.0, math.exp(-50) / (1 + math.exp(-50)), 0.5,
                                                    1 / (1 + math.exp(-50)), 1.0], rtol=1e-15)
    sp = F.softplus(x, threshold=1e9)  # no linear shortcut: the log1p form alone must be stable
    np.testing.assert_allclose(sp.detach().numpy(), [0.0, math.log1p(math.exp(-50)), math.log(2),
                                                     50 + math.log1p(math.exp(-50)), 1e4], rtol=1e-15)
    (s.sum() + sp.sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_binary_cross_entropy_clamps_logs_at_minus_100() -> None:
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    with np.errstate(divide="ignore"):  # log(0) is taken and then clamped, as in PyTorch
        ours = F.binary_cross_entropy(descend.tensor(p), descend.tensor(y), reduction="none").numpy()
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert ours[0] == pytest.approx(100.0)


def test_erf_matches_math_erf_to_1e_14_on_a_dense_grid() -> None:
    grid = np.concatenate([np.linspace(-8, 8, 400_001), np.geomspace(1e-300, 1e-2, 2000),
                           -np.geomspace(1e-12, 1.0, 2000)])
    ref = np.array([math.erf(v) for v in grid])
    ours = descend.erf(descend.tensor(grid, dtype=np.float64)).numpy()
    assert np.abs(ours - ref).max() < 1e-14
    tiny = (np.abs(grid) < 1e-2) & (grid != 0)
    rel = np.abs(ours[tiny] - ref[tiny]) / np.abs(ref[tiny])
    assert rel.max() < 1e-14  # relative accuracy near 0, where erf(x) ~ 2x/sqrt(pi)
    special = descend.erf(descend.tensor([0.0, -0.0, np.inf, -np.inf, 6.5, -30.0], dtype=np.float64)).numpy()
    assert special.tolist() == [0.0, -0.0, 1.0, -1.0, 1.0, -1.0]
    assert math.copysign(1, special[1]) == -1
    with np.errstate(invalid="ignore"):
        assert np.isnan(descend.erf(descend.tensor([np.nan], dtype=np.float64)).numpy()).all()


def test_erf_float32() -> None:
    grid = np.linspace(-7, 7, 100_001).astype(np.float32)
    ref = np.array([math.erf(v) for v in grid.astype(np.float64)])
    ours = descend.erf(descend.tensor(grid)).numpy()
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 2e-7


def test_exact_gelu_against_the_formula() -> None:
    grid = np.linspace(-10, 10, 20_001)
    ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in grid])
    ours = F.gelu(descend.tensor(grid, dtype=np.float64)).numpy()
    # atol: in the far left tail 1 + erf(x) cancels, so both formulas are only good to ~1e-16 absolute
    np.testing.assert_allclose(ours, ref, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_of_infinite_logits_matches_torch(reduction):
    """A row with a +inf logit gives NaN loss and gradient (as PyTorch), a -inf logit is a zero-probability
    class with a finite loss; other rows are untouched."""
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, np.inf, 0.0], [0.5, 0.2, 0.1], [-np.inf, 0.0, 1.0]], np.float32)
    y = np.array([0, 1, 2])
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(y), reduction=reduction)
    tl.sum().backward()
    dx = descend.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        dl = F.cross_entropy(dx, descend.tensor(y), reduction=reduction)
        dl.sum().backward()
    np.testing.assert_allclose(dl.detach().numpy(), tl.detach().numpy(), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7, equal_nan=True)
    assert np.isnan(dx.grad.numpy()[0]).all() and np.isfinite(dx.grad.numpy()[1:]).all()


BLOCKING = {
    "relu": lambda lib, x: lib.relu(x),
    "clamp_min": lambda lib, x: lib.clamp(x, min=0),
    "clamp_both": lambda lib, x: x.clamp(0, 3),
    "clamp_tensor_bounds": lambda lib, x: lib.clamp(x, min=lib.zeros(4, dtype=x.dtype), max=lib.full((4,), 3.0, dtype=x.dtype)),
    "maximum": lambda lib, x: lib.maximum(x, lib.zeros(4, dtype=x.dtype)),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", sorted(BLOCKING))
def test_sqrt_of_a_blocked_gradient_stays_finite_as_in_torch(name: str, create_graph: bool) -> None:
    """sqrt(relu(x)) and its kin: sqrt's gradient at 0 is inf, and where relu/clamp/maximum block the gradient
    PyTorch gives 0 (a where(), not a product with the mask, which would make it NaN); the differentiable
    (create_graph) rules block the same way."""
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, 0.0, 4.0, 9.0], np.float32)
    grads = []
    for lib in (descend, torch):
        t = lib.tensor(x, requires_grad=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            g, = lib.autograd.grad(lib.sqrt(BLOCKING[name](lib, t)).sum(), t, create_graph=create_graph)
        grads.append(g.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert np.isfinite(grads[0][0])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_and_minimum_pass_the_gradient_to_both_sides_of_a_nan(op: str, create_graph: bool) -> None:
    torch = pytest.importorskip("torch")
    got = []
    for lib in (descend, torch):
        a = lib.tensor([float("nan"), 1.0, 2.0, 0.0], requires_grad=True)
        b = lib.tensor([1.0, 0.0, 2.0, float("nan")], requires_grad=True)
        with np.errstate(invalid="ignore"):
            ga, gb = lib.autograd.grad((getattr(lib, op)(a, b) * 2).sum(), (a, b), create_graph=create_graph)
        got.append((ga.detach().numpy(), gb.detach().numpy()))
    for m, r in zip(*got):
        np.testing.assert_array_equal(m, r)


@pytest.mark.parametrize("channels_last", [False, True])
def test_broadcast_operand_gradients_are_sums_in_any_layout(channels_last: bool) -> None:
    """An operand broadcast over a batch or over H, W (a bias, a time embedding) gets the sum of the output's
    gradient, taken as a product with ones where the summed axes are one run in memory: against float64 and
    PyTorch, and inf + -inf gives NaN as a sum does."""
    rng = np.random.default_rng(3)
    n, c, h, w = 8, 16, 9, 7
    g = rng.normal(size=(n, c, h, w)).astype(np.float32)
    g[0, 1, 2, 3], g[0, 1, 4, 5] = np.inf, -np.inf
    if channels_last:
        g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    x = descend.zeros(n, c, h, w, requires_grad=True)
    bias = descend.zeros(1, c, 1, 1, requires_grad=True)
    emb = descend.zeros(n, c, 1, 1, requires_grad=True)
    row = descend.zeros(w, requires_grad=True)
    g64 = g.astype(np.float64)
    with np.errstate(invalid="ignore"):  # the inf + -inf this test puts in
        (x + bias + emb + row).backward(descend.tensor(g))
        for t, axes in ((bias, (0, 2, 3)), (emb, (2, 3)), (row, (0, 1, 2))):
            want = g64.sum(axis=axes, keepdims=True).reshape(t.shape)
            np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-5, atol=1e-5)
    assert np.isnan(emb.grad.numpy()[0, 1, 0, 0]) and np.isnan(bias.grad.numpy()[0, 1, 0, 0])
    torch = pytest.importorskip("torch")
    ts = [torch.zeros(s, requires_grad=True) for s in ((n, c, h, w), (1, c, 1, 1), (n, c, 1, 1), (w,))]
    with np.errstate(invalid="ignore"):
        (ts[0] + ts[1] + ts[2] + ts[3]).backward(torch.tensor(g))
    for mine, theirs in zip((bias, emb, row), ts[1:]):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_a_scalar_parameter_gets_a_pairwise_sum_of_a_long_gradient() -> None:
    """A (1, 1) parameter broadcast over (4000, 1000): the summed axes are innermost, where NumPy's pairwise
    sum is ~50x more accurate in float32 than a product with ones (PyTorch's error is NumPy's)."""
    g = np.random.default_rng(5).standard_normal((4000, 1000)).astype(np.float32) + 1
    p = descend.zeros(1, 1, requires_grad=True)
    (descend.zeros(4000, 1000) + p).backward(descend.tensor(g))
    want = g.astype(np.float64).sum()
    assert abs(float(p.grad.numpy()[0, 0]) - want) / abs(want) < 1e-7

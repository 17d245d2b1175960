"""Gradient clipping and parameter<->vector helpers against torch.nn.utils."""

import math

import numpy as np
import pytest

import descend
from descend.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3,), (2, 5)]


def pair(scale=1.0, seed=0):
    """The same parameters with the same grads in descend and torch."""
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [(rng.normal(size=s) * scale).astype(np.float32) for s in SHAPES]
    dp = [descend.tensor(v, requires_grad=True) for v in values]
    tp = [torch.tensor(v, requires_grad=True) for v in values]
    for d, t, g in zip(dp, tp, grads):
        d.grad, t.grad = descend.tensor(g), torch.tensor(g)
    return dp, tp, grads


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    dp, tp, grads = pair()
    d_total = clip_grad_norm_(dp, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert isinstance(d_total, descend.Tensor) and d_total.dtype == np.float32
    assert d_total.item() == pytest.approx(t_total.item(), rel=1e-6)
    for d, t in zip(dp, tp):
        np.testing.assert_allclose(d.grad._data, t.grad.numpy(), rtol=1e-6, atol=1e-8)
    # The returned value is the norm BEFORE clipping, checked by hand.
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    if norm_type == math.inf:
        by_hand = np.abs(flat).max()
    else:
        by_hand = (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    assert d_total.item() == pytest.approx(by_hand, rel=1e-6)
    after = clip_grad_norm_(dp, 1e9, norm_type=norm_type).item()
    assert after == pytest.approx(min(by_hand, max_norm), rel=1e-5)


def test_clip_grad_norm_replaces_grads_instead_of_writing_into_them():
    dp, _, grads = pair()
    shared = dp[0].grad._data
    keep = shared.copy()
    clip_grad_norm_(dp, 0.1)
    np.testing.assert_array_equal(shared, keep)
    assert dp[0].grad._data is not shared


def test_clip_grad_norm_skips_missing_grads_and_accepts_one_tensor():
    dp, tp, _ = pair()
    dp[1].grad, tp[1].grad = None, None
    d = clip_grad_norm_(iter(dp), 0.5)
    t = torch.nn.utils.clip_grad_norm_(iter(tp), 0.5)
    assert d.item() == pytest.approx(t.item(), rel=1e-6)
    assert dp[1].grad is None
    before = float(np.linalg.norm(dp[0].grad._data))
    single = clip_grad_norm_(dp[0], 0.01)
    assert single.item() == pytest.approx(before, rel=1e-6)
    assert np.linalg.norm(dp[0].grad._data) == pytest.approx(0.01, rel=1e-4)
    assert clip_grad_norm_([descend.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    dp, tp, _ = pair()
    dp[2].grad._data[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        clip_grad_norm_(dp, 1.0, error_if_nonfinite=True)
    with torch.no_grad():
        tp[2].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    # Without the flag, NaN spreads to every grad, as in PyTorch.
    assert math.isnan(clip_grad_norm_(dp, 1.0).item())
    torch.nn.utils.clip_grad_norm_(tp, 1.0)
    for d, t in zip(dp, tp):
        np.testing.assert_array_equal(np.isnan(d.grad._data), np.isnan(t.grad.numpy()))
    dp, tp, _ = pair()
    dp[0].grad._data[1, 1] = np.inf
    with torch.no_grad():
        tp[0].grad[1, 1] = float("inf")
    assert clip_grad_norm_(dp, 1.0).item() == math.inf
    torch.nn.utils.clip_grad_norm_(tp, 1.0)
    for d, t in zip(dp, tp):
        np.testing.assert_array_equal(d.grad._data, t.grad.numpy())


def test_clip_grad_value_matches_torch():
    dp, tp, grads = pair(scale=2.0)
    keep = dp[0].grad._data.copy()
    shared = dp[0].grad._data
    clip_grad_value_(dp, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for d, t in zip(dp, tp):
        np.testing.assert_array_equal(d.grad._data, t.grad.numpy())
    assert np.abs(dp[0].grad._data).max() == pytest.approx(0.7) and np.abs(keep).max() > 0.7
    np.testing.assert_array_equal(shared, keep)


def test_parameters_to_vector_and_back():
    dp, tp, _ = pair()
    dv, tv = parameters_to_vector(dp), torch.nn.utils.parameters_to_vector(tp)
    np.testing.assert_array_equal(dv._data, tv.detach().numpy())
    # Differentiable, as in PyTorch.
    for p in dp:
        p.grad = None
    (dv * dv).sum().backward()
    for p in dp:
        np.testing.assert_allclose(p.grad._data, 2 * p._data, rtol=1e-6)
    new = np.arange(dv.shape[0], dtype=np.float32)
    arrays = [p._data for p in dp]
    vector_to_parameters(descend.tensor(new), dp)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tp)
    for d, t, a in zip(dp, tp, arrays):
        np.testing.assert_array_equal(d._data, t.detach().numpy())
        assert d._data is a  # copied in place (parameters may live in an optimizer's flat buffer)
    with pytest.raises(ValueError, match="the vector has 5 elements, the parameters need 25"):
        vector_to_parameters(descend.tensor(np.zeros(5, np.float32)), dp)

"""oneDNN's element-wise primitives (descend/ops/onednn_eltwise.py) where SiLU takes them, against float64
and PyTorch, in the layouts a convolution hands over; and the conditions under which they run at all."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import descend
import descend.nn.functional as F
from descend.ops import kernels, onednn, onednn_eltwise

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) not installed")


def _input(shape: tuple, channels_last: bool, scale: float = 4.0) -> np.ndarray:
    x = (np.random.default_rng(1).normal(size=shape) * scale).astype(np.float32)
    x.flat[:6] = [0.0, -0.0, 90.0, -90.0, 1e-30, -1e-30]  # saturated and tiny values
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return x


def _silu(x: np.ndarray, g: np.ndarray, on, compiled=None) -> tuple:
    t = descend.tensor(x, requires_grad=True)
    with onednn.forced(on), kernels.forced(compiled):
        y = F.silu(t)
        y.backward(descend.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 16, 12, 12)])
def test_silu_through_onednn_matches_float64_and_torch(shape, channels_last: bool, compiled: bool) -> None:
    """oneDNN's sigmoid, then the product and the backward in NumPy or in the compiled kernels."""
    x = _input(shape, channels_last)
    g = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    with onednn.forced(True):
        assert onednn_eltwise.plan("logistic", x) is not None
    y, gx = _silu(x, g, True, compiled)
    assert y.strides == x.strides  # the layout is kept
    y64, gx64 = _silu(x.astype(np.float64), g.astype(np.float64), False)
    np.testing.assert_allclose(y, y64, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(gx, gx64, rtol=2e-6, atol=1e-6)
    assert np.array_equal(np.signbit(y[np.abs(x) < 1e-20]), np.signbit(y64[np.abs(x) < 1e-20]))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.silu(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=2e-6, atol=1e-6)


def test_silu_non_finite_inputs_as_the_numpy_path() -> None:
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 1.0] * 4, np.float32)
    g = np.ones_like(x)
    y1, g1 = _silu(x, g, True)
    y0, g0 = _silu(x, g, False)
    np.testing.assert_array_equal(np.isnan(y1), np.isnan(y0))
    np.testing.assert_array_equal(y1[~np.isnan(y1)], y0[~np.isnan(y0)])
    np.testing.assert_array_equal(np.isnan(g1), np.isnan(g0))


def test_silu_second_order_through_onednn() -> None:
    x = _input((2, 4, 6, 6), True, 2.0)
    gs = []
    for on, dtype in ((True, np.float32), (False, np.float64)):
        t = descend.tensor(x.astype(dtype), requires_grad=True)
        with onednn.forced(on):
            (gx,) = descend.autograd.grad(F.silu(t).sum(), t, create_graph=True)
            (gx * gx).sum().backward()
        gs.append(t.grad.numpy())
    np.testing.assert_allclose(gs[0], gs[1], rtol=1e-5, atol=1e-5)


def test_only_large_float32_feature_maps_take_it_whatever_ran_before() -> None:
    big = np.ones((4, 16, 32, 16), np.float32)
    assert big.size == onednn.MIN_SIZE
    with onednn.forced(False):
        assert onednn_eltwise.plan("logistic", big) is None
    assert onednn_eltwise.plan("logistic", big.astype(np.float64)) is None
    assert onednn_eltwise.plan("logistic", big[:, :, :, 1:]) is None  # one element short
    assert onednn_eltwise.plan("logistic", big.reshape(64, -1)) is None  # not a feature map
    # In a fresh process: an MLP's SiLU neither loads oneDNN nor hands OpenBLAS's threads over, and a feature
    # map's SiLU computes the same before and after a convolution has run (a resumed run computes as the
    # original did).
    code = ("import numpy as np, descend, descend.nn.functional as F\n"
            "from descend.ops import onednn\n"
            "F.silu(descend.tensor(np.ones((64, 2048), np.float32)))\n"
            "assert not onednn._state['lib']\n"
            "x = descend.tensor(np.random.default_rng(0).normal(size=(4, 16, 32, 16)).astype(np.float32) * 4)\n"
            "before = F.silu(x).numpy()\n"
            "F.conv2d(descend.ones(8, 16, 32, 32), descend.ones(16, 16, 3, 3))\n"
            "assert np.array_equal(F.silu(x).numpy(), before)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

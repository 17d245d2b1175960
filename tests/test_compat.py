"""PyTorch's mixed-precision, compile and RNG entry points: scripts that call them run, and what they promise
that still means something here (GradScaler skipping a step with inf/NaN gradients, fork_rng restoring the
stream) is checked against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import descend


def _scaler_run(lib, bad: bool):
    p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
    opt = lib.optim.SGD([p], lr=0.1)
    scaler = lib.amp.GradScaler("cpu")
    loss = (p * p).sum() * (float("inf") if bad else 1.0)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    return p.detach().numpy().tolist()


@pytest.mark.parametrize("bad", [False, True])
def test_grad_scaler_steps_or_skips_as_torch(bad: bool) -> None:
    torch = pytest.importorskip("torch")
    assert _scaler_run(descend, bad) == _scaler_run(torch, bad)
    np.testing.assert_allclose(_scaler_run(descend, bad), [1.0, 2.0] if bad else [0.8, 1.6], rtol=1e-6)


def test_autocast_and_compile_change_nothing() -> None:
    lin = descend.nn.Linear(2, 3)
    x = descend.ones(4, 2)
    with descend.autocast("cpu", dtype=descend.bfloat16):
        y = lin(x)
    assert y.dtype == descend.float32 and np.array_equal(y.detach().numpy(), lin(x).detach().numpy())
    assert descend.compile(lin) is lin and descend.compile(backend="eager")(lin) is lin
    assert descend.cuda.amp.GradScaler is descend.amp.GradScaler
    with pytest.raises(RuntimeError):
        descend.set_float32_matmul_precision("fastest")


def test_fork_rng_puts_the_stream_back() -> None:
    descend.manual_seed(3)
    with descend.random.fork_rng():
        inside = descend.rand(4).numpy()
    after = descend.rand(4).numpy()
    assert np.array_equal(inside, after)


def test_assert_close_compares_a_tensor_with_a_tensor_only_as_torch() -> None:
    torch = pytest.importorskip("torch")
    for lib in (descend, torch):
        for a, b in [(lib.ones(2), [1.0, 1.0]), ([1.0], lib.ones(1)), (lib.ones(1), 1.0)]:
            with pytest.raises(TypeError):
                lib.testing.assert_close(a, b)
        lib.testing.assert_close([lib.ones(1)], [lib.ones(1)])
        with pytest.raises(AssertionError, match="not close"):
            lib.testing.assert_close(lib.ones(3), lib.zeros(3))

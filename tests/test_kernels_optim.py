"""The optimizers' compiled updates (descend/ops/_loops.py, taken by descend.optim) against their NumPy paths,
bit for bit, and against torch.optim with the kernels forced on at the small sizes of tests/test_optim.py."""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend import optim
from descend.ops import kernels
from tests import test_optim
from tests.test_kernels import spy_kernels

pytest.importorskip("numba")

# Three parameters whose 80,012 elements span two float32 blocks of the flat buffer (65,536 each; three float64
# blocks), one block holding pieces of all three, so both a borrowed and a copied gradient reach the kernel.
SHAPES = [(300, 200), (20000,), (4, 3)]
ADAM_OPTIONS = [
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.3, 0.9))),
    ("Adam", dict(lr=1e-3, weight_decay=0.1)),
    ("Adam", dict(lr=1e-3, maximize=True, l1=1e-3)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.3)),
    ("AdamW", dict(lr=1e-2, betas=(0.5, 0.99), eps=1e-3)),
]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    """Names of the compiled kernels run inside the test (sizes gated as usual)."""
    return spy_kernels(monkeypatch)


def _run(name: str, kwargs: dict, dtype: str, on: bool, steps: int = 4) -> tuple[list, dict]:
    """Parameters and optimizer state after `steps` updates with gradients that hold NaN, ±inf and zeros."""
    rng = np.random.default_rng(3)
    params = [descend.tensor(rng.normal(size=s), dtype=dtype, requires_grad=True) for s in SHAPES]
    opt = getattr(optim, name)(params, **kwargs)
    with kernels.forced(on), np.errstate(invalid="ignore"):
        for k in range(steps):
            for p in params:
                g = rng.normal(size=p.shape) * (1 + k)
                g.reshape(-1)[:3] = (np.nan, np.inf, -np.inf) if k == 2 else 0.0
                p.grad = descend.tensor(g, dtype=dtype)
            opt.step()
    return [p.detach().numpy().copy() for p in params], opt.state_dict()["state"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", ADAM_OPTIONS, ids=[f"{n}-{k}" for n, k in ADAM_OPTIONS])
def test_adam_kernel_is_bitwise_the_numpy_path(name: str, kwargs: dict, dtype: str, calls: list) -> None:
    p0, s0 = _run(name, kwargs, dtype, on=False)
    assert calls == []
    p1, s1 = _run(name, kwargs, dtype, on=True)
    size, block = sum(int(np.prod(s)) for s in SHAPES), (256 * 1024) // np.dtype(dtype).itemsize
    assert calls.count("adam") == 4 * -(-size // block)  # every block of every step
    for a, b in zip(p0, p1):
        np.testing.assert_array_equal(a, b)
    for i in s0:
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(s0[i][key].numpy(), s1[i][key].numpy())
    assert np.isnan(p1[0].reshape(-1)[0])  # the NaN gradient reached the parameter on both paths


def test_amsgrad_keeps_the_numpy_path(calls: list) -> None:
    _run("Adam", dict(lr=1e-2, amsgrad=True), "float32", on=True)
    assert "adam" not in calls


def test_adam_kernel_runs_for_large_parameter_sets_only(calls: list) -> None:
    big = [descend.zeros(kernels.MIN_SIZE, requires_grad=True)]
    small = [descend.zeros(kernels.MIN_SIZE // 2, requires_grad=True)]
    for params in (small, big):
        opt = optim.Adam(params)
        params[0].grad = descend.ones(params[0].shape)
        opt.step()
    assert calls.count("adam") == 2  # the big flat's two float32 blocks; the small one ran NumPy


@pytest.mark.parametrize("name, kwargs", [c for c in test_optim.CONFIGS if c[0].startswith("Adam")
                                          and not c[1].get("amsgrad")],
                         ids=lambda c: str(c))
def test_adam_kernel_matches_torch(name: str, kwargs: dict, calls: list) -> None:
    with kernels.forced(True):
        test_optim.test_optimizer_matches_torch(name, kwargs)
        test_optim.test_update_rule_float64_given_grads(name, kwargs)
    assert "adam" in calls

"""Second-order gradients: every registry op's backward is itself differentiable (create_graph=True), checked
by finite differences (gradgradcheck, float64) and against PyTorch's double backward; Hessian-vector products
of small networks equal PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend.autograd import higher
from descend.gradcheck import gradgradcheck
from tests.op_registry import CASES
from tests.test_ops import _descend_args, _function_classes

GRAD_CASES = [c for c in CASES if c.gradcheck]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradgradcheck(case) -> None:
    args = _descend_args(case, np.float64)
    assert gradgradcheck(case.fn, args, eps=1e-6, atol=1e-5, rtol=1e-3)


def _double_backward(lib, fn, args, seed=0):
    """d/dx <grad(<fn(x), v>, x), w> for fixed random v, w: what a gradient penalty differentiates."""
    rng = np.random.default_rng(seed)
    out = fn(*args)
    wrt = [a for a in args if getattr(a, "requires_grad", False)]
    v = lib.tensor(rng.standard_normal(tuple(out.shape)))
    grads = lib.autograd.grad(out, wrt, v, create_graph=True, allow_unused=True)
    total = 0
    for g, a in zip(grads, wrt):
        if g is not None:
            total = total + (g * lib.tensor(rng.standard_normal(tuple(a.shape)))).sum()
    if not getattr(total, "requires_grad", False):
        return [np.zeros(tuple(a.shape)) for a in wrt]
    second = lib.autograd.grad(total, wrt, allow_unused=True)
    # PyTorch answers "no dependence" with None or an unmaterialised zero tensor.
    return [np.zeros(tuple(a.shape)) if s is None or getattr(s, "_is_zerotensor", lambda: False)()
            else s.detach().numpy() for s, a in zip(second, wrt)]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_double_backward_matches_torch(case) -> None:
    torch = pytest.importorskip("torch")
    if "dropout" in case.name:
        pytest.skip("the reference draws its dropout mask in float32 only; gradgradcheck covers this case")
    ours = _descend_args(case, np.float64)
    theirs = [torch.from_numpy(a.materialise(np.float64)).requires_grad_(a.grad and a.value.dtype.kind == "f")
              for a in case.args]
    try:
        want = _double_backward(torch, case.ref, theirs)
    except RuntimeError as e:
        if "not implemented" in str(e):
            pytest.skip(f"PyTorch has no double backward here ({e}); gradgradcheck covers it")
        raise
    got = _double_backward(descend, case.fn, ours)
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8, err_msg=f"{case.name}: input {i}")


def test_every_op_has_a_differentiable_backward() -> None:
    higher._load_rules()
    missing = sorted(c.__name__ for c in _function_classes() if c not in higher.RULES)
    assert not missing, f"ops without a create_graph rule (descend/autograd/rules_*.py): {missing}"


def _mlp(lib, params, x, y):
    w1, b1, w2, b2 = params
    F = lib.nn.functional
    return F.cross_entropy(F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2), y)


def _cnn(lib, params, x, y):
    w1, b1, w2, b2, g, b = params
    F = lib.nn.functional
    h = F.conv2d(x, w1, b1, stride=1, padding=1)
    h = F.batch_norm(h, None, None, g, b, training=True)
    h = F.avg_pool2d(F.max_pool2d(h.relu(), 2), 1)
    return F.cross_entropy(F.linear(h.flatten(1), w2, b2), y)


@pytest.mark.parametrize("model, shapes, x_shape", [
    (_mlp, [(8, 5), (8,), (3, 8), (3,)], (6, 5)),
    (_cnn, [(4, 2, 3, 3), (4,), (3, 4 * 3 * 3), (3,), (4,), (4,)], (5, 2, 6, 6)),
])
def test_hessian_vector_products_equal_pytorch(model, shapes, x_shape) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    values = [rng.standard_normal(s) * 0.5 for s in shapes]
    vectors = [rng.standard_normal(s) for s in shapes]
    x, y = rng.standard_normal(x_shape), rng.integers(0, 3, x_shape[0])

    def hvp(lib):
        params = [lib.tensor(v, requires_grad=True) for v in values]
        loss = model(lib, params, lib.tensor(x), lib.tensor(y))
        grads = lib.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * lib.tensor(v)).sum() for g, v in zip(grads, vectors))
        return [h.detach().numpy() for h in lib.autograd.grad(dot, params)]

    for ours, theirs in zip(hvp(descend), hvp(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-10)


def test_backward_create_graph_accumulates_a_differentiable_grad() -> None:
    x = descend.tensor([0.5, -1.0, 2.0], dtype=descend.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad.clone()
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.0, 2.0]))  # d/dx sum(3x^2) = 6x

"""Every op in tests/op_registry.py: float64 finite-difference gradcheck, and forward + gradient vs PyTorch."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import descend
import descend.ops
from descend._tensor import Function
from tests.op_registry import CASES, Case

IDS = [c.name for c in CASES]
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
GRAD_CASES = [c for c in CASES if c.gradcheck]

# Every op named in issue 2 must have at least one registry case under that name.
ISSUE_OPS = """
add sub mul div neg pow exp log sqrt abs clamp maximum minimum where relu leaky_relu sigmoid tanh gelu softplus
sum mean max min var std matmul reshape view transpose permute flatten squeeze unsqueeze expand getitem cat stack
pad softmax log_softmax logsumexp linear conv1d conv2d max_pool1d max_pool2d avg_pool1d avg_pool2d dropout
embedding cross_entropy nll_loss mse_loss l1_loss binary_cross_entropy_with_logits binary_cross_entropy
batch_norm layer_norm erf
""".split()


def _descend_args(case: Case, dtype: type) -> list:
    return [descend.Tensor(a.materialise(dtype), requires_grad=a.grad and a.value.dtype.kind == "f")
            for a in case.args]


def _one_output(out):
    assert isinstance(out, descend.Tensor), "registry functions return one Tensor"
    return out


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradcheck(case: Case) -> None:
    args = _descend_args(case, np.float64)
    assert any(a.requires_grad for a in args), f"{case.name}: no differentiable argument"
    assert descend.gradcheck(case.fn, args, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case: Case) -> None:
    torch = pytest.importorskip("torch")
    ours = _descend_args(case, np.float32)
    theirs = []
    for a in case.args:
        t = torch.from_numpy(a.materialise(np.float32))
        theirs.append(t.requires_grad_() if a.grad and a.value.dtype.kind == "f" else t)
    out = _one_output(case.fn(*ours))
    ref = case.ref(*theirs)
    assert out.shape == tuple(ref.shape), f"{case.name}: shape {out.shape} vs torch {tuple(ref.shape)}"
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", "")), f"{case.name}: dtype {out.dtype}"
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=case.rtol, atol=case.atol,
                               err_msg=f"{case.name}: forward")
    cot = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    out.backward(cot)
    ref.backward(torch.from_numpy(cot))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not b.requires_grad:
            continue
        ga = np.zeros(a.shape, a.dtype) if a.grad is None else a.grad.numpy()
        gb = b.grad.numpy() if b.grad is not None else np.zeros(a.shape, a.dtype)
        assert ga.shape == gb.shape
        np.testing.assert_allclose(ga, gb, rtol=case.rtol, atol=case.atol, err_msg=f"{case.name}: grad of arg {i}")


def _function_classes() -> set:
    """Every Function subclass defined in descend.ops.* and descend.functional."""
    modules = [importlib.import_module("descend.functional")]
    for info in pkgutil.iter_modules(descend.ops.__path__):
        modules.append(importlib.import_module(f"descend.ops.{info.name}"))
    found = set()
    for mod in modules:
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, Function) and obj is not Function and obj.__module__ == mod.__name__:
                found.add(obj)
    return found


def test_every_function_has_a_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every case's forward, recording which Function classes it applies; none may be missing."""
    used = set()
    original = Function.apply.__func__

    def recording_apply(cls, *args, **kwargs):
        used.add(cls)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Function, "apply", classmethod(recording_apply))
    for case in CASES:
        case.fn(*_descend_args(case, np.float64))
    classes = _function_classes()
    assert len(classes) > 40
    missing = sorted(c.__name__ for c in classes - used)
    assert not missing, f"Function subclasses with no registry case: {missing}"
    # and every differentiable class is exercised by a gradcheck case too
    used.clear()
    for case in GRAD_CASES:
        case.fn(*_descend_args(case, np.float64))
    missing = sorted(c.__name__ for c in classes - used)
    assert not missing, f"Function subclasses never gradchecked: {missing}"


def test_issue_ops_are_registered() -> None:
    ops = {c.op for c in CASES}
    missing = [name for name in ISSUE_OPS if name not in ops]
    assert not missing, f"ops from the issue without a registry case: {missing}"


def test_cases_cover_layouts_and_kinks() -> None:
    layouts = {a.layout for c in CASES for a in c.args}
    assert layouts == {"c", "t", "s"}
    kinks = {c.op for c in CASES if not c.gradcheck}
    assert {"relu", "abs", "clamp", "maximum", "max", "max_pool2d", "l1_loss"} <= kinks
    # non-contiguous inputs really are non-contiguous
    for c in CASES:
        for a in c.args:
            if a.layout != "c" and sum(n > 1 for n in a.value.shape) >= 2:
                assert not a.materialise(np.float64).flags.c_contiguous, c.name


@pytest.mark.parametrize("name, attr", [("exp", "Exp"), ("conv2d[stride padding]", "ConvNd"),
                                        ("cross_entropy[weight smoothing ignore]", "CrossEntropy"),
                                        ("max_pool2d[overlap pad ceil]", "MaxPool")])
def test_gradcheck_catches_a_backward_off_by_one_percent(monkeypatch: pytest.MonkeyPatch, name: str,
                                                         attr: str) -> None:
    case = next(c for c in CASES if c.name == name)
    cls = next(c for c in _function_classes() if c.__name__ == attr)
    args = _descend_args(case, np.float64)
    assert descend.gradcheck(case.fn, args)
    original = cls.backward

    def scaled(self, g):
        grads = original(self, g)
        if isinstance(grads, tuple):
            return tuple(None if x is None else x * 1.01 for x in grads)
        return grads * 1.01

    monkeypatch.setattr(cls, "backward", scaled)
    assert descend.gradcheck(case.fn, args, raise_exception=False) is False
    with pytest.raises(AssertionError, match=r"input 0, element \(.*analytic gradient .* vs numeric"):
        descend.gradcheck(case.fn, args)


def test_conv_cases_exercise_both_im2col_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    from descend.ops.conv import ConvNd

    seen = set()
    original = ConvNd.forward

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        seen.add(self.rows)
        return out

    monkeypatch.setattr(ConvNd, "forward", spy)
    for case in CASES:
        if case.op.startswith("conv"):
            case.fn(*_descend_args(case, np.float64))
    assert seen == {True, False}

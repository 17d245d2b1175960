"""oneDNN's convolutions (descend/ops/onednn.py) against descend's NumPy lowering in float64 (the path the
float64 gradchecks of tests/test_ops.py cover) and against PyTorch in float32, with the plans forced on at
test sizes: forward, input, weight and bias gradients, for the geometries the models use and the odd ones."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import descend
import descend.nn.functional as F
from descend.ops import onednn

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) not installed")

# (N, C, H, W), (O, C, kh, kw), options: ResNet's 3x3 stride 1 and 2 and 1x1 shortcut, a first layer's three
# channels, asymmetric padding, dilation, a non-square kernel, no bias.
CONV = [
    ((4, 16, 12, 12), (16, 16, 3, 3), dict(padding=1)),
    ((3, 16, 11, 11), (32, 16, 3, 3), dict(stride=2, padding=1)),
    ((3, 16, 11, 11), (32, 16, 1, 1), dict(stride=2)),
    ((2, 3, 9, 10), (8, 3, 5, 5), dict(padding=2)),
    ((2, 8, 9, 11), (5, 8, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ((2, 8, 10, 10), (16, 8, 3, 3), dict(dilation=2, padding=2, bias=False)),
    ((2, 64, 7, 7), (1, 64, 7, 7), dict()),
    ((4, 1, 12, 12), (8, 1, 4, 4), dict(stride=2, padding=1)),  # a DCGAN discriminator's image layer
]
# (N, C_in, H, W), (C_in, C_out, kh, kw), options: DCGAN's 4x4 stride 2, output padding, dilation.
TRANSPOSED = [
    ((4, 16, 7, 7), (16, 8, 4, 4), dict(stride=2, padding=1)),
    ((2, 8, 5, 6), (8, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 8, 5, 5), (8, 4, 3, 3), dict(dilation=2, padding=1, bias=False)),
    ((2, 4, 4, 4), (4, 16, 3, 3), dict(stride=3, output_padding=2)),
]


def _run(op, x: np.ndarray, w: np.ndarray, b, g: np.ndarray, on: bool, kw: dict) -> list:
    """Output and the gradients of x, w and b (when present) for the upstream gradient g."""
    ts = [descend.tensor(a, requires_grad=True) for a in (x, w)]
    bias = descend.tensor(b, requires_grad=True) if b is not None else None
    with onednn.forced(on):
        y = op(ts[0], ts[1], bias, **kw)
        y.backward(descend.tensor(g))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts + ([bias] if bias is not None else [])]


def _inputs(x_shape, w_shape, kw: dict, channels_last: bool, out_channels: int):
    rng = np.random.default_rng(0)
    kw = dict(kw)
    bias = kw.pop("bias", True)
    x = rng.normal(size=x_shape).astype(np.float32)
    if channels_last:  # as a previous convolution hands it over
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w = (rng.normal(size=w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    b = rng.normal(size=out_channels).astype(np.float32) if bias else None
    return x, w, b, kw


def _torch():
    try:
        import torch
    except ImportError:  # the float64 comparison still runs
        return None
    return torch


def _check(op, x, w, b, kw: dict, torch_op: str) -> None:
    with onednn.forced(False):
        y_shape = tuple(op(descend.tensor(x), descend.tensor(w), None, **kw).shape)
    g = np.random.default_rng(1).normal(size=y_shape).astype(np.float32)
    calls: list = []
    forward, data = onednn.ConvPlan.forward, onednn.ConvPlan.backward_data

    def spy(name, fn):
        return lambda *a, **k: (calls.append(name), fn(*a, **k))[1]

    onednn.ConvPlan.forward, onednn.ConvPlan.backward_data = spy("fwd", forward), spy("data", data)
    try:
        got = _run(op, x, w, b, g, True, kw)
    finally:
        onednn.ConvPlan.forward, onednn.ConvPlan.backward_data = forward, data
    assert sorted(set(calls)) == ["data", "fwd"]  # both ways round ran on oneDNN
    ref = _run(op, *(None if a is None else a.astype(np.float64) for a in (x, w, b, g)), False, kw)
    for a, r in zip(got, ref, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(r).max()))
    torch = _torch()
    if torch is not None:
        ts = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (x, w, b) if a is not None]
        y = getattr(torch.nn.functional, torch_op)(ts[0], ts[1], ts[2] if b is not None else None, **kw)
        y.backward(torch.tensor(g))
        for a, t in zip(got, [y] + [t.grad for t in ts], strict=True):
            np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-4, atol=1e-4 * max(1.0, np.abs(a).max()))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("x_shape, w_shape, kw", CONV, ids=[str(c) for c in CONV])
def test_conv2d_matches_the_float64_lowering_and_torch(x_shape, w_shape, kw, channels_last: bool) -> None:
    x, w, b, kw = _inputs(x_shape, w_shape, kw, channels_last, w_shape[0])
    _check(F.conv2d, x, w, b, kw, "conv2d")


@pytest.mark.parametrize("x_shape, w_shape, kw", TRANSPOSED, ids=[str(c) for c in TRANSPOSED])
def test_conv_transpose2d_matches_the_float64_lowering_and_torch(x_shape, w_shape, kw) -> None:
    x, w, b, kw = _inputs(x_shape, w_shape, kw, True, w_shape[1])
    _check(F.conv_transpose2d, x, w, b, kw, "conv_transpose2d")


@pytest.mark.parametrize("x_shape, w_shape, stride, want", [
    ((4, 1, 12, 12), (8, 1, 4, 4), 2, {"backward_data": b"x64:gemm:jit"}),
    ((4, 32, 12, 12), (64, 32, 3, 3), 2, {"backward_data": b"jit:avx512_core"}),
    ((4, 16, 12, 12), (16, 16, 3, 3), 1, {"forward": b"jit:avx512_core", "backward_data": b"jit:avx512_core"}),
])
def test_the_preferred_implementations_are_the_ones_run(x_shape, w_shape, stride, want: dict) -> None:
    """The fixed rules of ConvPlan._preferred name implementations this oneDNN offers, and the plans get them
    (a renamed implementation would silently fall back to the first-ranked one)."""
    plan = onednn.ConvPlan(onednn._lib(), x_shape, w_shape, (x_shape[0], w_shape[0], 6, 6) if stride == 2 else
                           (x_shape[0], w_shape[0]) + x_shape[2:], (stride, stride), ((1, 1), (1, 1)), (1, 1), True)
    plan.backward_data(np.ones(onednn._cl(plan.y_shape), np.float32), np.ones(w_shape, np.float32))
    for kind, name in want.items():
        pd = (plan.fwd if kind == "forward" else plan.bwd_data)[0].pd
        got = onednn.C.c_char_p()
        plan.lib.dnnl_primitive_desc_query(pd, onednn._IMPL_INFO, 0, onednn.C.byref(got))
        assert got.value == name, (kind, got.value)


def _served(x_shape, w_shape, dtype=np.float32, groups: int = 1, **kw) -> bool:
    """Whether conv2d of these shapes ran on oneDNN (sizes as usual: no forcing)."""
    calls: list = []
    forward = onednn.ConvPlan.forward
    onednn.ConvPlan.forward = lambda *a, **k: (calls.append(1), forward(*a, **k))[1]
    try:
        x = descend.tensor(np.ones(x_shape, dtype))
        w = descend.tensor(np.ones(w_shape, dtype))
        F.conv2d(x, w, groups=groups, **kw)
    finally:
        onednn.ConvPlan.forward = forward
    return bool(calls)


def test_only_large_float32_convolutions_without_groups_take_onednn() -> None:
    big = (8, 16, 28, 28)  # 100,352 elements: just over MIN_SIZE
    assert np.prod(big) >= onednn.MIN_SIZE
    assert _served(big, (16, 16, 3, 3), padding=1)
    assert not _served((2, 16, 28, 28), (16, 16, 3, 3), padding=1)  # small: NumPy, and no library load
    assert not _served(big, (16, 16, 3, 3), dtype=np.float64)  # float64 keeps the gradchecked path
    assert not _served(big, (16, 8, 3, 3), groups=2)
    with onednn.forced(False):
        assert not _served(big, (16, 16, 3, 3))


def test_frozen_weight_and_input_without_grad() -> None:
    """Only the gradients asked for are computed; a bias of a frozen weight still gets its gradient."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 6, 6)).astype(np.float32)
    w = rng.normal(size=(3, 4, 3, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    out = {}
    for on in (False, True):
        xt, wt, bt = descend.tensor(x), descend.tensor(w), descend.tensor(b, requires_grad=True)
        with onednn.forced(on):
            F.conv2d(xt, wt, bt, padding=1).square().sum().backward()
        assert xt.grad is None and wt.grad is None
        out[on] = bt.grad.numpy()
    np.testing.assert_allclose(out[True], out[False], rtol=1e-5)


def test_second_order_gradients_through_onednn() -> None:
    """create_graph=True: the gradient of a gradient norm equals the NumPy path's."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 6, 6)).astype(np.float32)
    w = rng.normal(size=(5, 4, 3, 3)).astype(np.float32)
    got = []
    for on in (False, True):
        xt, wt = descend.tensor(x, requires_grad=True), descend.tensor(w, requires_grad=True)
        with onednn.forced(on):
            y = F.conv2d(xt, wt, padding=1).tanh().sum()
            (gx,) = descend.autograd.grad(y, [xt], create_graph=True)
            gx.square().sum().backward()
        got.append(wt.grad.numpy())
    np.testing.assert_allclose(got[1], got[0], rtol=1e-4, atol=1e-5 * np.abs(got[0]).max())


def test_descend_onednn_0_switches_it_off() -> None:
    code = "from descend.ops import onednn; print(onednn.available())"
    env = dict(os.environ, DESCEND_ONEDNN="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_float64_upstream_gradient_is_cast_as_pytorch_casts_it() -> None:
    """backward(g) with a float64 g for a float32 output: oneDNN reads float32 buffers, so g is cast first."""
    rng = np.random.default_rng(5)
    x0, w0 = rng.normal(size=(2, 6, 12, 10)).astype(np.float32), rng.normal(size=(8, 6, 3, 3)).astype(np.float32)
    g64 = rng.normal(size=(2, 8, 12, 10))
    grads = []
    for on in (False, True):
        x, w = descend.tensor(x0, requires_grad=True), descend.tensor(w0, requires_grad=True)
        with onednn.forced(on):
            F.conv2d(x, w, padding=1).backward(descend.tensor(g64))
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())


def test_a_forked_child_computes_its_convolutions() -> None:
    """GNU OpenMP hangs in a forked child once the parent's team ran: the child takes the NumPy lowering."""
    code = """if True:
        import os, numpy as np, descend, descend.nn.functional as F
        from descend.ops import onednn
        x = descend.tensor(np.random.default_rng(0).random((8, 16, 32, 32), dtype=np.float32))
        w = descend.tensor(np.random.default_rng(1).random((16, 16, 3, 3), dtype=np.float32))
        y = F.conv2d(x, w, padding=1).numpy()
        assert onednn.available()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if np.allclose(F.conv2d(x, w, padding=1).numpy(), y, rtol=1e-5) else 3)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """
    env = dict(os.environ, DESCEND_ONEDNN="1", OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_a_plan_dropped_from_the_cache_still_serves_the_graph_that_holds_it(monkeypatch) -> None:
    """More geometries than the cache keeps between a forward and its backward: the held plan stays alive."""
    monkeypatch.setattr(onednn, "_CACHE_SIZE", 2)
    rng = np.random.default_rng(6)
    w0 = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    x0 = rng.normal(size=(2, 3, 16, 16)).astype(np.float32)
    grads = []
    for on in (False, True):
        x, w = descend.tensor(x0, requires_grad=True), descend.tensor(w0, requires_grad=True)
        with onednn.forced(on):
            F.conv2d(x, w, padding=1).sum().backward()  # backward primitives exist: a freed one would crash
            y = F.conv2d(x, w, padding=1)
            with descend.no_grad():
                for size in range(5, 10):  # five other geometries push the held plan out of the cache
                    F.conv2d(descend.tensor(np.ones((1, 3, size, size), np.float32)), w, padding=1)
            x.grad = w.grad = None
            y.sum().backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())


def test_threads_running_the_same_geometry_get_their_own_results() -> None:
    import threading
    rng = np.random.default_rng(7)
    w = descend.tensor((rng.normal(size=(8, 4, 3, 3)) * 0.3).astype(np.float32))
    xs = [rng.normal(size=(4, 4, 16, 16)).astype(np.float32) for _ in range(4)]
    with onednn.forced(False):
        ref = [F.conv2d(descend.tensor(x), w, padding=1).numpy() for x in xs]
    wrong: list = []

    def work(i: int) -> None:
        for _ in range(25):
            y = F.conv2d(descend.tensor(xs[i]), w, padding=1).numpy()
            if not np.allclose(y, ref[i], rtol=1e-4, atol=1e-4):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    # Forced once, here: the switch is process state, and threads entering and leaving it would race.
    with onednn.forced(True):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert wrong == []


def test_set_num_threads_sets_the_pools_as_torch_set_num_threads() -> None:
    """n threads for oneDNN's OpenMP team (new plans) and, with oneDNN at one thread, for OpenBLAS; with
    oneDNN at several, OpenBLAS keeps one. PyTorch's error for n <= 0."""
    blas = onednn._openblas()
    before = (onednn._state.get("threads"), blas[0]() if blas else None, onednn._omp().omp_get_max_threads())
    onednn.available()  # the library loaded
    try:
        descend.set_num_threads(1)
        assert descend.get_num_threads() == 1 and onednn._omp().omp_get_max_threads() == 1
        if blas:
            assert blas[0]() == 1
        x = descend.tensor(np.ones((8, 16, 32, 32), np.float32))
        y = F.conv2d(x, descend.tensor(np.ones((16, 16, 3, 3), np.float32)), padding=1)
        assert float(y[0, 0, 5, 5]) == 144.0
        descend.set_num_threads(2)
        assert descend.get_num_threads() == 2 and onednn._omp().omp_get_max_threads() == 2
        if blas:
            assert blas[0]() == 1  # handed over to oneDNN's team
        with pytest.raises(RuntimeError):
            descend.set_num_threads(0)
    finally:
        onednn._state["threads"] = before[0]
        onednn._omp().omp_set_num_threads(before[2])
        if blas:
            blas[1](before[1])
        onednn._state["plans"].clear()

"""The compiled kernels (descend/ops/kernels.py) against the NumPy paths they replace, float64 gradchecks and
PyTorch: every registry case of the ops that use them runs again with the kernels forced on at any size."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import descend
import descend.nn.functional as F
from descend.ops import conv, kernels
from tests.op_registry import CASES
from tests import test_ops

pytest.importorskip("numba")

KERNEL_OPS = ("relu", "silu", "leaky_relu", "max_pool2d", "batch_norm", "group_norm", "conv2d", "conv_transpose2d",
              "amax", "amin", "max", "min")
KERNEL_CASES = [c for c in CASES if c.op in KERNEL_OPS]
IDS = [c.name for c in KERNEL_CASES]


def spy_kernels(monkeypatch: pytest.MonkeyPatch) -> list:
    """The list that the names of the compiled kernels run from now on (within the test) are appended to."""
    seen: list = []

    def spy(loops: dict, name: str):
        return lambda *a: (seen.append(name), loops[name](*a))[1]

    for variant in ("compiled", "parallel"):  # serial, and parallel once oneDNN runs several threads
        loops = kernels._state[variant] if variant == "parallel" else kernels._compile()
        if loops:
            monkeypatch.setitem(kernels._state, variant, {name: spy(loops, name) for name in loops})
    return seen


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    """Names of the compiled kernels run inside the test, forced on for any array size."""
    seen = spy_kernels(monkeypatch)
    with kernels.forced(True):
        yield seen


@pytest.mark.parametrize("case", [c for c in KERNEL_CASES if c.gradcheck], ids=lambda c: c.name)
def test_gradcheck_compiled(case, calls: list) -> None:
    test_ops.test_gradcheck(case)


@pytest.mark.parametrize("case", KERNEL_CASES, ids=IDS)
def test_matches_torch_compiled(case, calls: list) -> None:
    test_ops.test_matches_torch(case)


LAYOUT_CASES = [
    ("batch_norm[train channels-last]", {"channel_moments", "scale_shift", "grad_sums", "grad_input"}),
    ("batch_norm[eval channels-last]", {"scale_shift", "grad_sums", "grad_input"}),
    ("batch_norm[train 2d]", {"channel_moments", "scale_shift", "grad_sums", "grad_input"}),
    ("group_norm[channels-last]", {"channel_moments", "scale_shift", "grad_sums", "grad_input"}),
    ("max_pool2d[channels-last leftover]", {"max_pool_tiles", "max_pool_tiles_backward"}),
    ("max_pool2d[channels-last 3x2]", {"max_pool_tiles", "max_pool_tiles_backward"}),
    ("relu[channels-last]", {"relu", "relu_backward"}),
    ("silu[channels-last]", {"silu_backward"}),  # (the forward takes its kernel with oneDNN only)
    ("conv2d[strip resnet 3x3 channels-last]", {"im2col"}),
    ("conv2d[strip wide padding channels-last]", {"im2col", "col2im"}),
    ("conv2d[kernel the input's size channels-last]", {"im2col"}),
    ("conv_transpose2d[dcgan k4 s2 p1]", {"col2im"}),
    ("conv_transpose2d[dcgan k4 s2 p1 8 channels channels-last]", {"col2im"}),
    ("leaky_relu[channels-last]", {"leaky_relu", "leaky_relu_backward"}),
    ("leaky_relu", {"leaky_relu", "leaky_relu_backward"}),  # the gradient copied into the output's layout first
    ("amax[ties]", {"amax_rows", "amax_rows_backward"}),
    ("amin", {"amax_rows", "amax_rows_backward"}),
]


@pytest.mark.parametrize("name, expected", LAYOUT_CASES)
def test_the_layouts_reach_the_kernels(name: str, expected: set, calls: list) -> None:
    """The cases above would pass on the NumPy paths too; these ones must have run the compiled loops."""
    test_ops.test_matches_torch(next(c for c in CASES if c.name == name))
    assert set(calls) == expected


def _case_results(case) -> list:
    """A registry case's output and input gradients (float32, the kernels forced on) as raw bytes."""
    ins = test_ops._descend_args(case, np.float32)
    out = test_ops._one_output(case.fn(*ins))
    out.backward(np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype))
    return [out.detach().numpy().tobytes()] + [t.grad.numpy().tobytes() for t in ins
                                               if isinstance(t, descend.Tensor) and t.grad is not None]


@pytest.mark.parametrize("case", KERNEL_CASES, ids=IDS)
def test_parallel_loops_give_the_serial_results_bit_for_bit(case, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads (numba's parallel loops on GNU OpenMP, as once oneDNN runs two) change nothing: sums are
    taken over pieces fixed by the shape. Skipped where numba has no OpenMP layer."""
    results = []
    for threads in (1, 2):
        monkeypatch.setitem(kernels._state, "threads", threads)
        if threads > 1 and not kernels._parallel():
            pytest.skip("numba's parallel loops do not run on GNU OpenMP here")
        seen = spy_kernels(monkeypatch)
        with kernels.forced(True):
            results.append(_case_results(case))
        assert seen or case.name not in dict(LAYOUT_CASES), "the compiled loops did not run"
    assert results[0] == results[1]


def _run_both(fn, *arrays):
    """fn's outputs and input gradients with the kernels off, then forced on."""
    results = []
    for on in (False, True):
        with kernels.forced(on):
            ts = [descend.tensor(a, requires_grad=True) for a in arrays]
            out = fn(*ts)
            cot = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
            out.backward(descend.tensor(cot))
            results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    return results


def test_max_pool_nan_and_ties_follow_pytorch_on_both_paths() -> None:
    """The first maximum of a window gets the gradient, or its last NaN; NaN propagates forward."""
    x = np.where(np.random.default_rng(0).standard_normal((3, 8, 6, 4)) > 0.3, 1.0, -1.0).astype(np.float32)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = np.nan
    x[1, 2, 2, 1] = np.nan
    off, on = _run_both(lambda t: F.max_pool2d(t.permute(0, 3, 1, 2), 2), x)
    for a, b in zip(off, on):
        np.testing.assert_array_equal(a, b)
    torch = pytest.importorskip("torch")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_()
    y = torch.nn.functional.max_pool2d(xt, 2)
    y.backward(torch.from_numpy(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)))
    np.testing.assert_array_equal(on[1], xt.grad.permute(0, 2, 3, 1).numpy())


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0])
def test_leaky_relu_is_bitwise_pytorch_on_nan_and_signed_zero(slope: float) -> None:
    torch = pytest.importorskip("torch")
    x = np.array([np.nan, -0.0, 0.0, -1e-30, 3.0, -np.inf, np.inf, -2.5] * 3, np.float32).reshape(2, 3, 4)
    g = np.array([1.0, -2.0, 3.0, np.nan, 0.5, 1.0, -1.0, 2.0] * 3, np.float32).reshape(2, 3, 4)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.leaky_relu(xt, slope)
    yt.backward(torch.from_numpy(g))
    with kernels.forced(True):
        xd = descend.tensor(x, requires_grad=True)
        yd = F.leaky_relu(xd, slope)
        yd.backward(descend.tensor(g))
    for ours, theirs in ((yd.detach().numpy(), yt.detach().numpy()), (xd.grad.numpy(), xt.grad.numpy())):
        assert ours.tobytes() == theirs.tobytes()


@pytest.mark.parametrize("stride, padding, dilation", [(2, 1, 1), (3, 2, 1), (2, 0, 2)])
def test_col2im_gather_is_bitwise_the_numpy_scatter(stride: int, padding: int, dilation: int) -> None:
    """Transposed convolution forward and a strided convolution's input gradient: the compiled gather adds the
    kernel offsets in the NumPy path's order, so the results are identical, not just close."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 9, 10, 8)).astype(np.float32)  # channels-last, as our layers pass it on
    w = rng.standard_normal((8, 4, 4, 3)).astype(np.float32)

    def convt(t, wt):
        return F.conv_transpose2d(t.permute(0, 3, 1, 2), wt, stride=stride, padding=padding, dilation=dilation)

    def conv(t, wt):
        return F.conv2d(t.permute(0, 3, 1, 2), wt.permute(1, 0, 2, 3), stride=stride, padding=padding,
                        dilation=dilation)

    for fn in (convt, conv):
        off, on = _run_both(fn, x, w)
        for a, b in zip(off, on):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("padding, dilation", [(1, 1), ((2, 1), (2, 1)), (0, 1)])
def test_strip_kernels_are_bitwise_the_numpy_path(padding, dilation) -> None:
    """Stride-1 convolution (forward and the flipped-kernel input gradient): the strip copied with its border
    in one pass gives the NumPy path's numbers exactly."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 9, 8, 16)).astype(np.float32)
    w = rng.standard_normal((12, 16, 3, 3)).astype(np.float32)
    off, on = _run_both(lambda t, wt: F.conv2d(t.permute(0, 3, 1, 2), wt, padding=padding, dilation=dilation), x, w)
    for a, b in zip(off, on):
        np.testing.assert_array_equal(a, b)


STRIP_CASES = [c for c in CASES if c.name.startswith("conv2d[strip")]


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("case", STRIP_CASES, ids=[c.name for c in STRIP_CASES])
def test_strip_weight_gradient_both_ways_round(case, threads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The strip's weight gradient is taken g^T @ strip with one BLAS thread and strip^T @ g otherwise: both
    orders against float64 finite differences and PyTorch."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", threads)
    assert conv._one_blas_thread() is (threads == "1")
    test_ops.test_gradcheck(case)
    test_ops.test_matches_torch(case)


@pytest.mark.parametrize("mean, spread", [(50, 3), (1e4, 0.5), (-3e5, 40)])
def test_batch_norm_paths_agree_at_training_size(mean: float, spread: float) -> None:
    """A ResNet-sized float32 batch with a large mean: the compiled path (one pass of float64 sums shifted by
    a sample) is at least as close to the float64 result as the NumPy one, for the output and every gradient."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((16, 14, 14, 32)) * spread + mean).astype(np.float32)
    w, b = rng.uniform(0.5, 2, 32).astype(np.float32), rng.standard_normal(32).astype(np.float32)

    def bn(t, wt, bt):
        return F.batch_norm(t.permute(0, 3, 1, 2), None, None, wt, bt, training=True)

    exact = _run_both(bn, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))[0]
    off, on = _run_both(bn, x, w, b)
    for e, a, c in zip(exact, off, on):
        err_numpy, err_kernel = np.abs(a - e).max(), np.abs(c - e).max()
        assert err_kernel <= max(err_numpy, 1e-6 * np.abs(e).max()), (err_kernel, err_numpy)


def test_group_norm_one_pass_moments_with_channels_far_apart() -> None:
    """GroupNorm's compiled moments (each channel's sums about its own first value, combined per group): with
    channels of one group centred far apart and a large common offset, the output and gradients stay at least as
    close to float64 as the NumPy path's."""
    rng = np.random.default_rng(4)
    offsets = np.array([1e3, -2e3, 5e2, 0.0] * 4, np.float64)  # 16 channels, 4 groups of 4
    x = (rng.standard_normal((4, 15, 15, 16)) * 2 + offsets + 3e3).astype(np.float32)
    w, b = rng.uniform(0.5, 2, 16).astype(np.float32), rng.standard_normal(16).astype(np.float32)

    def gn(t, wt, bt):
        return F.group_norm(t.permute(0, 3, 1, 2), 4, wt, bt)

    exact = _run_both(gn, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))[0]
    off, on = _run_both(gn, x, w, b)
    for e, a, c in zip(exact, off, on):
        err_numpy, err_kernel = np.abs(a - e).max(), np.abs(c - e).max()
        assert err_kernel <= max(err_numpy, 1e-6 * np.abs(e).max()), (err_kernel, err_numpy)


def test_running_statistics_are_the_same_on_both_paths() -> None:
    x = np.random.default_rng(3).standard_normal((8, 6, 6, 5)).astype(np.float32)
    stats = []
    for on in (False, True):
        with kernels.forced(on):
            layer = descend.nn.BatchNorm2d(5)
            layer(descend.tensor(x).permute(0, 3, 1, 2))
            stats.append((layer.running_mean.numpy(), layer.running_var.numpy()))
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-5)


def test_kernels_run_only_for_large_numpy_arrays() -> None:
    big, small = np.ones(kernels.MIN_SIZE, np.float32), np.ones(8, np.float32)
    assert kernels.get("relu_backward", big) is not None
    assert kernels.get("relu_backward", small) is None
    assert kernels.get("relu_backward", big, small.tolist()) is None  # not an ndarray: not ours to compile
    for dtype in (np.float16, np.int64, np.complex64, np.dtype(">f4")):  # not compiled for: NumPy's paths
        assert kernels.get("relu_backward", big.astype(dtype)) is None
    with kernels.forced(False):
        assert kernels.get("relu_backward", big) is None


def test_float16_layers_take_the_numpy_paths_at_any_size() -> None:
    """BatchNorm, ReLU and max pooling on a large float16 batch: no kernel is compiled for it, the NumPy paths
    run and agree with float32 to float16's precision."""
    x = np.random.default_rng(6).standard_normal((8, 40, 40, 16)).astype(np.float16)
    assert x.size >= kernels.MIN_SIZE
    outs = []
    for dtype in (np.float16, np.float32):
        t = descend.tensor(x.astype(dtype), requires_grad=True)
        y = F.max_pool2d(F.relu(F.batch_norm(t.permute(0, 3, 1, 2), None, None, training=True)), 2)
        y.sum().backward()
        outs.append((y.detach().numpy().astype(np.float32), t.grad.numpy().astype(np.float32)))
    for half, single in zip(*outs):
        np.testing.assert_allclose(half, single, atol=2e-2, rtol=1e-2)


def test_dense_flat_lines_up_strided_layouts() -> None:
    a = np.arange(24.0).reshape(2, 3, 4).transpose(0, 2, 1)
    b = np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1) * 2  # same strides as a
    fa, fb = kernels.dense_flat(a, b)
    np.testing.assert_array_equal(fb, 2 * fa)
    assert kernels.dense_flat(a, np.ascontiguousarray(a)) is None  # different strides
    assert kernels.dense_flat(a[:, ::2]) is None  # not dense


def test_descend_numba_0_switches_the_kernels_off() -> None:
    code = "from descend.ops import kernels; print(kernels.available())"
    env = dict(os.environ, DESCEND_NUMBA="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, DESCEND_NUMBA="1"))
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("size", [8, kernels.MIN_SIZE])
def test_leaky_relu_output_may_be_written_in_place(size: int) -> None:
    """PyTorch saves leaky_relu's input, not its output: y.mul_(2) before backward is fine on both paths."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(7).standard_normal(size).astype(np.float32)
    a = descend.tensor(x, requires_grad=True)
    y = F.leaky_relu(a * 1, 0.2)
    y.mul_(2)
    y.sum().backward()
    at = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.leaky_relu(at * 1, 0.2)
    yt.mul_(2)
    yt.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), at.grad.numpy())


@pytest.mark.parametrize("on", [False, True])
@pytest.mark.parametrize("g", [[1.0, 3.0, 1.0, -2.0, 5.0, 7.0], [1.0, np.inf, 1.0, np.nan, np.inf, np.nan]])
def test_relu_backward_is_pytorchs_threshold_on_nan_and_inf(on: bool, g: list) -> None:
    """g passes where the output is NaN; an inf or NaN g where the output is <= 0 gives +0, as PyTorch's, on
    both paths (a product with the mask would give NaN there)."""
    torch = pytest.importorskip("torch")
    x = np.array([np.nan, -1.0, 2.0, -1.0, 0.0, -0.0], np.float32)
    g = np.array(g, np.float32)
    with kernels.forced(on):
        a = descend.tensor(x, requires_grad=True)
        F.relu(a).backward(descend.tensor(g))
    at = torch.tensor(x, requires_grad=True)
    torch.relu(at).backward(torch.from_numpy(g))
    np.testing.assert_array_equal(a.grad.numpy(), at.grad.numpy())
    assert np.array_equal(np.signbit(a.grad.numpy()), np.signbit(at.grad.numpy()))


def test_silu_of_a_zero_dimensional_tensor() -> None:
    torch = pytest.importorskip("torch")
    a = descend.tensor(1.5, dtype=descend.float64, requires_grad=True)
    y = F.silu(a)
    y.backward()
    at = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    yt = torch.nn.functional.silu(at)
    yt.backward()
    assert abs(float(y) - float(yt)) < 1e-15 and abs(float(a.grad) - float(at.grad)) < 1e-15


def test_eval_batch_norm_backward_uses_its_forwards_statistics_on_both_paths() -> None:
    """An eval forward, then a training forward (which moves the running statistics in place), then the eval
    output's backward: both paths take the statistics the eval forward used."""
    x = np.random.default_rng(8).standard_normal((2, 8, 8, 16)).astype(np.float32) * 3 + 5
    grads = []
    for on in (False, True):
        with kernels.forced(on):
            layer = descend.nn.BatchNorm2d(16)
            layer.running_mean = descend.tensor(np.full(16, 1.0, np.float32))
            layer.eval()
            y = layer(descend.tensor(x).permute(0, 3, 1, 2))
            layer.train()
            layer(descend.tensor(x).permute(0, 3, 1, 2))
            y.sum().backward()
            grads.append(layer.weight.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_nearest_upsampling_keeps_a_nan_in_its_own_block(channels_last: bool) -> None:
    """Integer-factor nearest upsampling copies (as PyTorch): a NaN fills its 2x3 block and nothing else, and
    the gradient is each block's sum, in the input's layout."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(9).standard_normal((2, 3, 4, 5)).astype(np.float32)
    x[0, 1, 2, 3] = np.nan
    t = descend.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2) if channels_last \
        else descend.tensor(x)
    t.requires_grad_()
    y = F.interpolate(t, scale_factor=(2, 3))
    assert y._data.transpose(0, 2, 3, 1).flags.c_contiguous is channels_last
    g = np.random.default_rng(10).standard_normal(y.shape).astype(np.float32)
    y.backward(descend.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=(2, 3))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())  # NaNs in the same 6 places
    np.testing.assert_allclose(t.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_batch_norm_running_mean_with_inf_as_a_channels_first_value() -> None:
    """The one-pass moments shift each channel by its first value: an inf there must not turn the mean into
    NaN (PyTorch's running mean is inf, as when the inf sits anywhere else in the channel)."""
    x = np.random.default_rng(8).standard_normal((8, 6, 6, 5)).astype(np.float32)
    means = []
    for where in ((0, 0, 0, 2), (3, 4, 1, 2)):  # the channel's first element, then one inside it
        xi = x.copy()
        xi[where] = np.inf
        with kernels.forced(True), np.errstate(invalid="ignore"):
            layer = descend.nn.BatchNorm2d(5)
            layer(descend.tensor(xi).permute(0, 3, 1, 2))
        means.append(layer.running_mean.numpy()[2])
    assert means == [np.inf, np.inf]


@pytest.mark.parametrize("sign", [1, -1])
def test_maxout_reduction_is_bitwise_the_numpy_path(sign: int) -> None:
    """amax/amin over a short last axis (Maxout's pieces) in one compiled pass: values and gradients equal the
    NumPy path's bit for bit, NaN rows, a NaN piece, ties of equal values and of ±0 included."""
    a = np.random.default_rng(9).standard_normal((100, 200, 5)).astype(np.float32)
    a[0, 0, :] = np.nan
    a[1, 1, 2] = np.nan
    a[2, 2, :3], a[2, 2, 3:] = 1.5 * sign, 0.5 * sign
    a[3, 3, :], a[3, 3, 1] = 0.0, -0.0
    g = np.random.default_rng(10).standard_normal((100, 200)).astype(np.float32)
    got = []
    for on in (False, True):
        t = descend.tensor(a, requires_grad=True)
        with kernels.forced(on), np.errstate(divide="ignore", invalid="ignore"):
            y = t.amax(-1) if sign > 0 else t.amin(-1)
            y.backward(descend.tensor(g))
        got.append((y.detach().numpy(), t.grad.numpy()))
    for x, z in zip(*got):
        np.testing.assert_array_equal(x, z)
    assert np.isnan(got[1][0][0, 0]) and np.isnan(got[1][0][1, 1])
    np.testing.assert_array_equal(got[1][1][2, 2, :3], g[2, 2] / 3)


def test_an_in_place_edit_of_the_maxout_output_does_not_move_its_ties() -> None:
    a = np.random.default_rng(11).standard_normal((4, 6, 5)).astype(np.float32)
    grads = []
    for on in (False, True):
        t = descend.tensor(a, requires_grad=True)
        with kernels.forced(on):
            y = t.amax(-1)
            z = y * 1.0
            y.detach().numpy()[...] += 1.0  # the caller writes into the output's memory
            z.sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_second_order_gradients_through_the_maxout_kernel() -> None:
    """create_graph=True through amax on the compiled path (a WGAN-GP or R1 penalty on a Maxout critic)."""
    a = np.random.default_rng(12).standard_normal((6, 7, 5))
    grads = []
    for on in (False, True):
        t = descend.tensor(a, requires_grad=True)
        with kernels.forced(on):
            (g,) = descend.autograd.grad((t.amax(-1) ** 3).sum(), [t], create_graph=True)
            (g * g).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_relu_of_a_view_whose_layout_empty_like_does_not_reproduce() -> None:
    """x[:, None] is dense, but np.empty_like gives its new axis another stride: the NumPy path serves it."""
    x = np.random.default_rng(0).standard_normal((30, 40)).astype(np.float32)
    with kernels.forced(True):
        for view in (lambda t: t[:, None], lambda t: t[None], lambda t: t[..., None]):
            y = F.relu(view(descend.tensor(x)))
            np.testing.assert_array_equal(y.numpy(), np.maximum(view(x), 0))

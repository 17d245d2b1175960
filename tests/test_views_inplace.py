"""In-place ops through views, checked against PyTorch: values, gradients, version counters and errors.

A view shares its base's memory and version counter; an in-place op on a view of a tensor in the graph is
recorded on the base (PyTorch's CopySlices), so backward sees it; PyTorch's refusals are matched.
"""

from __future__ import annotations

import numpy as np
import pytest

import descend

torch = pytest.importorskip("torch")

X = np.arange(12, dtype=np.float64).reshape(3, 4) / 4 - 1
W = np.linspace(-2, 3, 12).reshape(3, 4)

VIEWS = {
    "slice": lambda y: y[1:3],
    "slice_step": lambda y: y[:, ::2],
    "select": lambda y: y[1],
    "int_index": lambda y: y[1, 2],
    "select_fn": lambda y: y.select(1, 2),
    "narrow": lambda y: y.narrow(1, 1, 2),
    "transpose": lambda y: y.transpose(0, 1),
    "t_then_slice": lambda y: y.t()[1:],
    "view": lambda y: y.view(12),
    "reshape": lambda y: y.reshape(2, 6),
    "unsqueeze": lambda y: y.unsqueeze(0),
    "squeeze": lambda y: y.unsqueeze(1).squeeze(1),
    "flatten": lambda y: y.flatten(),
    "permute_select": lambda y: y.permute(1, 0)[2],
    "diagonal": lambda y: y.diagonal(),
    "diagonal_offset": lambda y: y.diagonal(1),
    "split": lambda y: y.split(2, dim=1)[1],
    "unbind": lambda y: y.unbind(0)[2],
    "chain": lambda y: y[1:].t()[1:3][:, 0],
    "expand_same_shape": lambda y: y.expand(3, 4),
}

INPLACE = {
    "add_tensor": lambda v, k: v.add_(k),
    "add_alpha": lambda v, k: v.add_(k, alpha=-2),
    "mul_tensor": lambda v, k: v.mul_(k),
    "mul_scalar": lambda v, k: v.mul_(3.0),
    "div_tensor": lambda v, k: v.div_(k),
    "pow_": lambda v, k: v.pow_(2),
    "copy_": lambda v, k: v.copy_(k * 2),
    "zero_": lambda v, k: v.zero_(),
    "fill_scalar": lambda v, k: v.fill_(2.5),
    "fill_tensor": lambda v, k: v.fill_(k),
    "setitem_all": lambda v, k: v.__setitem__(..., k * 3),
    "clamp_": lambda v, k: v.clamp_(min=-0.3, max=0.6),
    "relu_": lambda v, k: v.sub_(0.2).relu_(),
    "sigmoid_": lambda v, k: v.sigmoid_(),
    "iadd": lambda v, k: v.__iadd__(k),
}


def _run(lib, view, op):
    x = lib.tensor(X, requires_grad=True)
    k = lib.tensor(1.5, dtype=x.dtype, requires_grad=True)
    y = x * 2 + 0.5
    v = view(y)
    op(v, k)
    loss = (y * lib.tensor(W)).sum() + (v * v).sum()
    loss.backward()
    grad_k = None if k.grad is None else k.grad.detach().numpy().copy()
    return (y.detach().numpy().copy(), v.detach().numpy().copy(), x.grad.numpy().copy(), grad_k,
            y._version == v._version)


@pytest.mark.parametrize("op", sorted(INPLACE))
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_inplace_on_view_of_nonleaf_matches_torch(view: str, op: str) -> None:
    mine, ref = _both(lambda lib: _run(lib, VIEWS[view], INPLACE[op]))
    if ref[0] is RuntimeError:  # PyTorch refuses (in-place on an output of split/unbind): so must descend
        assert mine[0] is RuntimeError, f"descend accepted what PyTorch refuses: {ref[1]}"
        return
    for name, a, b in zip(["base", "view", "x.grad", "k.grad", "shared version"], mine, ref):
        if b is None or isinstance(b, bool):
            assert a == b, name
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"{view} {op}: {name}")


def _both(fn):
    """fn(lib) for descend and torch: (result or exception type) each."""
    out = []
    for lib in (descend, torch):
        try:
            out.append(fn(lib))
        except RuntimeError as e:
            out.append((RuntimeError, str(e)[:60]))
    return out


def _raises_in_both(fn) -> None:
    mine, ref = _both(fn)
    assert isinstance(ref, tuple) and ref[0] is RuntimeError, "the reference should raise"
    assert isinstance(mine, tuple) and mine[0] is RuntimeError, f"descend returned {mine!r}"


def test_inplace_through_view_of_saved_tensor_is_detected() -> None:
    def fn(lib):
        a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = a * 1
        c = b * b  # saves b
        b[0:1].add_(1)
        c.sum().backward()
    _raises_in_both(fn)


def test_inplace_through_detached_view_is_detected() -> None:
    def fn(lib):
        a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = a.exp()  # saves its output
        b.detach()[1:].zero_()
        b.sum().backward()
    _raises_in_both(fn)


@pytest.mark.parametrize("view", ["slice", "select", "transpose", "view", "diagonal", "chain"])
def test_inplace_on_view_of_leaf_raises(view: str) -> None:
    def fn(lib):
        w = lib.tensor(X, requires_grad=True)
        VIEWS[view](w).mul_(2)
    _raises_in_both(fn)


def test_inplace_on_view_of_leaf_under_no_grad_writes_the_leaf() -> None:
    def fn(lib):
        w = lib.tensor(X, requires_grad=True)
        with lib.no_grad():
            w[0:2].mul_(2)
            w.diagonal().zero_()
        return w.detach().numpy().copy(), w._version
    mine, ref = _both(fn)
    np.testing.assert_array_equal(mine[0], ref[0])
    assert mine[1] == ref[1]


def test_view_made_under_no_grad_then_written_with_grad_raises() -> None:
    def fn(lib):
        y = lib.tensor(X, requires_grad=True) * 2
        with lib.no_grad():
            v = y[1]
        v.zero_()
    _raises_in_both(fn)


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 4, 1)])
def test_inplace_on_expanded_view_raises(shape: tuple) -> None:
    def fn(lib):
        y = lib.tensor(X[0], requires_grad=True) * 1
        e = y.expand(2, 4) if shape == (3, 4, 1) else y.expand(3, 4)
        e.add_(1)
    _raises_in_both(fn)

    def no_grad_fn(lib):
        e = lib.ones(4).expand(3, 4)
        e.mul_(2)
    _raises_in_both(no_grad_fn)


def test_version_is_shared_by_base_and_views() -> None:
    def fn(lib):
        x = lib.ones(4)
        v = x.view(2, 2)
        w = v[1]
        seen = [(x._version, v._version, w._version)]
        v.add_(1)
        seen.append((x._version, v._version, w._version))
        w.mul_(2)
        x[0] = 5.0
        seen.append((x._version, v._version, w._version))
        d = w.detach()
        d.zero_()
        seen.append((x._version, v._version, w._version, d._version))
        return seen, x.tolist()
    mine, ref = _both(fn)
    assert mine == ref


def test_integer_index_is_a_view() -> None:
    def fn(lib):
        n = lib.zeros((2, 2), dtype=lib.int32)
        n[0, 1] += 1
        e = n[1, 0]
        e.add_(7)
        return n.tolist(), n._version
    mine, ref = _both(fn)
    assert mine == ref


SCENARIOS = {
    # a sibling view made before the write and used after it sees the new values and history
    "sibling_used_after": lambda lib, y, k: (y[1].mul_(k), (y[0:2] ** 2).sum())[1],
    # the base written directly; a view made before and used after follows it
    "base_written_view_used_after": lambda lib, y, k: (lambda v: (y.mul_(k), (v * v).sum())[1])(y[1]),
    # two writes through different views, then the base
    "two_views": lambda lib, y, k: (y[:, 0].mul_(k), y.t()[1].add_(k), y.diagonal().clamp_(max=1.0),
                                    (y ** 3).sum())[3],
    # a view of a tensor that does not require grad, written with one that does
    "no_grad_base_grad_value": lambda lib, y, k: (lambda z: (z[1:].copy_(y[0, :3] * k), (z * z).sum())[1])(
        lib.zeros(4, dtype=y.dtype)),
    # setitem on a view
    "setitem_on_view": lambda lib, y, k: (y.t()[1].__setitem__(slice(0, 2), k * 4), (y * y).sum())[1],
    # a base laid out column-major (clone keeps a transposed input's strides), written through a view
    "column_major_base": lambda lib, y, k: (lambda z: (z[1:, 1].mul_(k), z.diagonal().add_(k),
                                                       (z * z).sum() + (y * 1).sum())[2])(y.t().clone()),
    # a fill through a view: no gradient flows to the replaced elements
    "fill_view_from_value": lambda lib, y, k: (y[2].fill_(0.25), (y * y).sum())[1],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_view_scenarios_match_torch(name: str) -> None:
    def fn(lib):
        x = lib.tensor(X, requires_grad=True)
        k = lib.tensor(1.5, dtype=x.dtype, requires_grad=True)
        y = x * 2 + 0.5
        SCENARIOS[name](lib, y, k).backward()
        return x.grad.numpy().copy(), None if k.grad is None else k.grad.numpy().copy()
    mine, ref = _both(fn)
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-12)
    assert (mine[1] is None) == (ref[1] is None)
    if ref[1] is not None:
        np.testing.assert_allclose(mine[1], ref[1], rtol=1e-12)


# Programs reading the written tensor while writing it; PyTorch refuses some of them (memory overlap, saved
# values), so its reference runs the same program with the read cloned first (same values and gradients).
SELF_READS = {
    "mul_self": (lambda y, c: y.mul_(c(y))),
    "add_own_element": (lambda y, c: y.add_(c(y[0]))),
    "view_add_other_view": (lambda y, c: y[0].add_(c(y[1]))),
    "setitem_shift": (lambda y, c: y.__setitem__(slice(1, None), c(y[:-1]))),
    "view_copy_shift": (lambda y, c: y[1:].copy_(c(y[:-1]))),
    "clamp_by_view": (lambda y, c: y[1:].clamp_(min=c(y[0]))),
    "transpose_add": (lambda y, c: y.view(2, 2).t()[0].add_(c(y.view(2, 2)[0]))),
}


@pytest.mark.parametrize("name", sorted(SELF_READS))
def test_inplace_reading_the_written_tensor(name: str) -> None:
    def fn(lib, clone):
        x = lib.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
        y = x * 1.5
        SELF_READS[name](y, clone)
        (y * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return y.detach().numpy().copy(), x.grad.numpy().copy()
    mine = fn(descend, lambda t: t)
    ref = fn(torch, lambda t: t.clone())
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(mine[1], ref[1], rtol=1e-6)


def _rnn_like(lib, x, scale=1.0):
    out = lib.zeros(4, 3, dtype=x.dtype)
    out[0] = x[:3]
    for i in range(1, 4):
        out[i] = out[i - 1] * scale + x[1:]
    return (out * out).sum()


def _view_rewritten_between_uses(lib, x, y):
    v = y[:2]
    first = v + 0.0  # reads v's values before the write below
    y[:2] = x[2:] * 3  # rewrites those very elements
    return first.sum() * 7 + ((v * 2) ** 2).sum()  # v read again: the new values and their history


# A tensor read before a write to its memory and the result used after it: the read's gradient goes to the
# history the tensor had when it was read (PyTorch keeps that grad_fn), a later read's to the new one.
READ_BEFORE_WRITE = {
    "sum_of_view_then_write_view": lambda lib, x, y: (lambda s: (y[1].mul_(3), s)[1])(y[1:].sum()),
    "sum_of_view_then_write_base": lambda lib, x, y: (lambda s: (y.mul_(2), s + y.sum())[1])(y[0:2].sum()),
    "setitem_from_product_of_view": lambda lib, x, y: (y.__setitem__(slice(1, None), y[:-1] * 1), y.sum())[1],
    "rnn_like_setitem_loop": lambda lib, x, y: _rnn_like(lib, x),
    "rnn_like_scaled_loop": lambda lib, x, y: _rnn_like(lib, x, 0.5),  # mul by a constant saves no input
    "view_rewritten_between_uses": _view_rewritten_between_uses,
    "tensor_rewritten_after_use": lambda lib, x, y: (lambda z: (y.mul_(2), z.sum() + 10 * y.sum())[1])(y + 1),
    # advanced indexing copies (it is not a view): its gradient goes to the values read, before the write
    "gather_then_write": lambda lib, x, y: (lambda b: (y.mul_(2), b.sum() + y.sum())[1])(y[lib.tensor([2, 0])]),
    "mask_then_write": lambda lib, x, y: (lambda b: (y.add_(x), (b * b).sum())[1])(y[y > 1.5]),
    "permuted_setitem_loop": lambda lib, x, y: _permuted_loop(lib, x),
}


def _permuted_loop(lib, x):
    out = lib.zeros(4, 4, dtype=x.dtype)
    perm = lib.tensor([2, 0, 3, 1])
    for i in range(1, 4):
        out[i] = out[i - 1][perm] * 0.5 + x
    return (out * out).sum()


@pytest.mark.parametrize("p, training", [(0.5, False), (0.0, True)])
def test_inplace_dropout_that_changes_nothing_keeps_the_graph(p: float, training: bool) -> None:
    """F.dropout(x, inplace=True) that returns x itself: no write, the same gradient as PyTorch."""
    def fn(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = w * 2
        y = x * 3
        lib.nn.functional.dropout(x, p, training=training, inplace=True)
        (y.sum() + x.sum()).backward()
        return w.grad.numpy().copy()
    mine, ref = _both(fn)
    np.testing.assert_allclose(mine, ref)


@pytest.mark.parametrize("name", sorted(READ_BEFORE_WRITE))
def test_read_before_write_matches_torch(name: str) -> None:
    def fn(lib):
        x = lib.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
        y = x * 2
        READ_BEFORE_WRITE[name](lib, x, y).backward()
        return x.grad.numpy().copy()
    mine, ref = _both(fn)
    assert not isinstance(ref, tuple), "the reference computes these programs"
    assert not isinstance(mine, tuple), f"descend refuses: {mine}"
    np.testing.assert_allclose(mine, ref, rtol=1e-6)


def test_double_backward_through_a_setitem_loop_matches_torch() -> None:
    def fn(lib):
        x = lib.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True, dtype=lib.float64)
        y = x * 2
        out = lib.zeros(4, 3, dtype=x.dtype)
        out[0] = x[:3]
        for i in range(1, 4):
            out[i] = out[i - 1] * 0.5 + y[1:] ** 2
        g, = lib.autograd.grad((out * out).sum(), x, create_graph=True)
        (g ** 2).sum().backward()
        return g.detach().numpy().copy(), x.grad.numpy().copy()
    mine, ref = _both(fn)
    for a, b in zip(mine, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_saved_view_rewritten_by_a_setitem_loop_is_refused_as_in_torch() -> None:
    """h[i] = tanh(h[i - 1] @ W): the product saved h[i - 1], whose memory the next write changes; PyTorch
    refuses at backward, and so does descend (build a list and stack it instead)."""
    def fn(lib):
        w = lib.tensor(np.eye(3) * 0.5, requires_grad=True)
        h = lib.zeros(4, 3, dtype=w.dtype)
        h[0] = lib.ones(3, dtype=w.dtype)
        for i in range(1, 4):
            h[i] = lib.tanh(h[i - 1] @ w)
        h.sum().backward()
        return w.grad.numpy().copy()
    mine, ref = _both(fn)
    assert isinstance(ref, tuple) and isinstance(mine, tuple), (mine, ref)


def test_gradcheck_of_inplace_through_chained_views() -> None:
    """Finite differences (float64) of a function writing through a chain of views of a non-leaf."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 4))

    def f(arr, track=False):
        x = descend.tensor(arr, requires_grad=track)
        y = x * 2 + x.sin()  # (exp would save its output, which the writes below then modify)
        y.t()[1:3][:, 1].mul_(1.7)
        y[0].add_(0.5)
        y.diagonal().pow_(2)
        return (y * descend.tensor(W)).sum(), x

    loss, x = f(x0, True)
    loss.backward()
    eps, num = 1e-6, np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = eps
        num[i] = (f(x0 + d)[0].item() - f(x0 - d)[0].item()) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-5, atol=1e-6)


def test_double_backward_through_inplace_on_view() -> None:
    def fn(lib):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * x
        y[0:2].mul_(x[1:])
        y[2:].add_(x[0] * x[2])
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        return g.tolist(), h.tolist()
    mine, ref = _both(fn)
    np.testing.assert_allclose(mine[0], ref[0])
    np.testing.assert_allclose(mine[1], ref[1])


# ---- custom autograd.Function with several outputs ------------------------------------------------------

def _sort_fn(lib):
    class SortIdx(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x, idx)
            return values, idx

        @staticmethod
        def backward(ctx, gv, gi):
            x, idx = ctx.saved_tensors
            assert gi is not None and float(gi.abs().sum()) == 0  # materialized zeros
            out = lib.zeros_like(x)
            out[idx] = gv
            return out
    return SortIdx


def test_multi_output_function_with_non_differentiable_output() -> None:
    def fn(lib):
        x = lib.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
        v, i = _sort_fn(lib).apply(x)
        (v * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return v.tolist(), i.tolist(), i.requires_grad, v.requires_grad, x.grad.tolist()
    mine, ref = _both(fn)
    assert mine == ref


@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("use", ["first", "second", "both", "first_twice"])
def test_multi_output_function_grads_per_output(materialize: bool, use: str) -> None:
    def fn(lib):
        calls = []

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.set_materialize_grads(materialize)
                ctx.save_for_backward(x, w)
                return x * w, x.exp(), "note"

            @staticmethod
            def backward(ctx, g1, g2, g3):
                x, w = ctx.saved_tensors
                calls.append((g1 is None, g2 is None, g3 is None))
                gx = lib.zeros_like(x)
                gw = None
                if g1 is not None:
                    gx = gx + g1 * w
                    gw = g1 * x
                if g2 is not None:
                    gx = gx + g2 * x.exp()
                return gx, gw

        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        w = lib.tensor([2.0, 3.0, -1.0], requires_grad=True)
        a, b, note = Two.apply(x, w)
        loss = {"first": lambda: a.sum(), "second": lambda: (b * b).sum(), "both": lambda: (a * b).sum(),
                "first_twice": lambda: a.sum() + (a * a).sum()}[use]()
        loss.backward()
        return calls, x.grad.tolist(), None if w.grad is None else w.grad.tolist(), note
    mine, ref = _both(fn)
    assert mine[0] == ref[0] and mine[3] == ref[3]
    np.testing.assert_allclose(mine[1], ref[1], rtol=1e-6)
    assert (mine[2] is None) == (ref[2] is None)
    if ref[2] is not None:
        np.testing.assert_allclose(mine[2], ref[2], rtol=1e-6)


def test_multi_output_function_returning_an_input_and_setup_context() -> None:
    def fn(lib):
        class Same(lib.autograd.Function):
            @staticmethod
            def forward(x):
                return x * 3, x

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.k = 3

            @staticmethod
            def backward(ctx, g1, g2):
                return g1 * ctx.k + g2

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = Same.apply(x)
        (a + b * b).sum().backward()
        return x.grad.tolist(), b is x, b.requires_grad
    mine, ref = _both(fn)
    assert mine == ref


def test_multi_output_function_second_backward_needs_retain_graph() -> None:
    def fn(lib):
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                (x,) = ctx.saved_tensors
                return 2 * g1 + 3 * g2 * x / x

        x = lib.tensor([1.0], requires_grad=True)
        a, b = Two.apply(x)
        (a + b).sum().backward()
        (a + b).sum().backward()
    _raises_in_both(fn)


def test_channels_last_memory_format_as_in_pytorch() -> None:
    """contiguous/clone/to(memory_format=channels_last) give NHWC memory behind (N, C, H, W) indexing, and
    is_contiguous answers for either format, as PyTorch's; a convolution reads such input unchanged."""
    torch = pytest.importorskip("torch")
    import descend.nn.functional as F
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = []
    for lib in (torch, descend):
        t = lib.tensor(a, requires_grad=True)
        cl = t.contiguous(memory_format=lib.channels_last)
        row = [cl.stride(), cl.is_contiguous(), cl.is_contiguous(memory_format=lib.channels_last),
               t.is_contiguous(memory_format=lib.channels_last), t.to(memory_format=lib.channels_last).stride(),
               t.clone(memory_format=lib.channels_last).stride(), cl.contiguous().stride(), cl.clone().stride(),
               (cl * 2).stride(), cl.contiguous(memory_format=lib.channels_last) is cl,
               t[:, :1].contiguous(memory_format=lib.channels_last).is_contiguous()]
        (cl * cl).sum().backward()
        row.append(np.round(t.grad.numpy(), 5).tolist())
        with pytest.raises(RuntimeError):
            t.reshape(6, 20).contiguous(memory_format=lib.channels_last)
        got.append(row)
    assert got[0] == got[1]
    w = descend.tensor(np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32))
    x = descend.tensor(a)
    np.testing.assert_allclose(F.conv2d(x.contiguous(memory_format=descend.channels_last), w, padding=1).numpy(),
                               F.conv2d(x, w, padding=1).numpy(), rtol=1e-5, atol=1e-5)


def test_like_factories_keep_or_set_the_layout_as_in_pytorch() -> None:
    """zeros_like(p, memory_format=preserve_format) is PyTorch's optimizers' idiom; a channels_last or
    transposed input's layout is kept by default, and channels_last/contiguous_format are honoured."""
    torch = pytest.importorskip("torch")
    got = []
    for lib in (torch, descend):
        x = lib.ones(2, 3, 4, 5).contiguous(memory_format=lib.channels_last)
        t = lib.ones(3, 4).t()
        row = []
        for f in (lib.zeros_like, lib.ones_like, lib.empty_like, lib.rand_like, lib.randn_like):
            row += [f(x).stride(), f(x, memory_format=lib.preserve_format).stride(),
                    f(x, memory_format=lib.contiguous_format).stride(), f(t).stride()]
        row += [lib.full_like(x, 2.0).stride(), lib.empty(2, 3, 4, 5, memory_format=lib.channels_last).stride(),
                lib.ones(2, 3, 4, 5).contiguous(memory_format=lib.preserve_format).stride()]
        with pytest.raises(RuntimeError):
            t.contiguous(memory_format=lib.preserve_format)
        got.append([tuple(v) for v in row])
    assert got[0] == got[1]


def test_set_num_threads_takes_numpy_integers_as_pytorch_does() -> None:
    before = descend.get_num_threads()
    try:
        descend.set_num_threads(np.int64(1))
        assert descend.get_num_threads() == 1
        for bad in (0, -1, 1.5, True):
            with pytest.raises((RuntimeError, TypeError)):
                descend.set_num_threads(bad)
    finally:
        descend.set_num_threads(before)


def test_max_of_a_tensor_with_nan_sends_the_gradient_to_the_nan_as_pytorch() -> None:
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (torch, descend):
        for op in ("max", "min", "amax"):
            x = lib.tensor([1.0, float("nan"), 3.0, float("nan")], requires_grad=True)
            getattr(x, op)().backward()
            grads.append(np.nan_to_num(x.grad.numpy(), nan=-7.0).tolist())
    assert grads[:3] == grads[3:]

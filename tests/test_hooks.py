"""Module hooks against PyTorch: forward pre-hooks and forward hooks (with kwargs, prepend, always_call,
return values that replace args/outputs) and full backward (pre-)hooks (what they see, and replacing
grad_input / grad_output)."""

from __future__ import annotations

import numpy as np
import pytest

import descend
import descend.nn as dnn

torch = pytest.importorskip("torch")
tnn = torch.nn

_rng = np.random.default_rng(3)
W = _rng.standard_normal((3, 4))
B = _rng.standard_normal(3)
X = _rng.standard_normal((5, 4))


def pair():
    """The same Linear(4, 3) in both frameworks, and the same input (float64, requiring grad)."""
    d, t = dnn.Linear(4, 3).double(), tnn.Linear(4, 3).double()
    d.weight._data[...] = W
    d.bias._data[...] = B
    with torch.no_grad():
        t.weight.copy_(torch.tensor(W))
        t.bias.copy_(torch.tensor(B))
    return d, t, descend.tensor(X, dtype=np.float64, requires_grad=True), torch.tensor(X, requires_grad=True)


def arr(x):
    if x is None:
        return None
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def close(a, b):
    np.testing.assert_allclose(arr(a), arr(b), rtol=1e-10, atol=1e-12)


class Two(dnn.Module):
    """Two inputs, two outputs, so grad_input / grad_output are tuples of two."""

    def forward(self, a, b, scale=1.0):
        return a * b * scale, (a + b).tanh()


class TTwo(tnn.Module):
    def forward(self, a, b, scale=1.0):
        return a * b * scale, (a + b).tanh()


def test_forward_pre_hook_replaces_args_like_torch():
    d, t, dx, tx = pair()
    for m in (d, t):
        m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # a single value is wrapped in a tuple
    close(d(dx), t(tx))


def test_forward_pre_hook_with_kwargs_and_forward_hook_with_kwargs():
    a, b = _rng.standard_normal((2, 3)), _rng.standard_normal((2, 3))
    outs = []
    for mod, lib in ((Two(), descend), (TTwo(), torch)):
        seen = []

        def pre(m, args, kwargs):
            return (args[0], args[1] + 1), {"scale": kwargs.get("scale", 1.0) * 3}

        def post(m, args, kwargs, out):
            seen.append(kwargs["scale"])
            return out[0] - 1, out[1]

        mod.register_forward_pre_hook(pre, with_kwargs=True)
        mod.register_forward_hook(post, with_kwargs=True)
        out = mod(lib.tensor(a), lib.tensor(b), scale=2.0)
        outs.append((out, seen))
    (d_out, d_seen), (t_out, t_seen) = outs
    assert d_seen == t_seen == [6.0]
    close(d_out[0], t_out[0])
    close(d_out[1], t_out[1])


def test_hook_order_prepend_and_removal_like_torch():
    logs = []
    for m in (dnn.Identity(), tnn.Identity()):
        log = []
        m.register_forward_hook(lambda mod, a, o: log.append("first"))
        h = m.register_forward_hook(lambda mod, a, o: log.append("second"))
        m.register_forward_hook(lambda mod, a, o: log.append("prepended"), prepend=True)
        m.register_forward_pre_hook(lambda mod, a: log.append("pre"))
        m.register_forward_pre_hook(lambda mod, a: log.append("pre-prepended"), prepend=True)
        m(descend.zeros(1) if isinstance(m, dnn.Module) else torch.zeros(1))
        h.remove()
        m(descend.zeros(1) if isinstance(m, dnn.Module) else torch.zeros(1))
        logs.append(log)
    assert logs[0] == logs[1]
    assert logs[0][:5] == ["pre-prepended", "pre", "prepended", "first", "second"]


def test_handle_is_a_context_manager():
    m = dnn.Identity()
    calls = []
    with m.register_forward_hook(lambda mod, a, o: calls.append(1)):
        m(descend.zeros(1))
    m(descend.zeros(1))
    assert calls == [1]


def test_always_call_hook_runs_when_forward_raises():
    class Boom(dnn.Module):
        def forward(self, x):
            raise ValueError("boom")

    calls = []
    m = Boom()
    m.register_forward_hook(lambda mod, a, o: calls.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, a, o: calls.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(descend.zeros(1))
    assert calls == ["always"]


def test_full_backward_hook_sees_torchs_grads():
    d, t, dx, tx = pair()
    seen = {}
    for name, m in (("d", d), ("t", t)):
        m.register_full_backward_hook(lambda mod, gi, go, name=name: seen.__setitem__(name, (gi, go)))
    (d(dx) ** 2).sum().backward()
    (t(tx) ** 2).sum().backward()
    (dgi, dgo), (tgi, tgo) = seen["d"], seen["t"]
    assert len(dgi) == len(tgi) == 1 and len(dgo) == len(tgo) == 1
    close(dgi[0], tgi[0])
    close(dgo[0], tgo[0])
    close(dx.grad, tx.grad)
    close(d.weight.grad, t.weight.grad)


def test_full_backward_hook_replaces_grad_input():
    d, t, dx, tx = pair()
    for m in (d, t):
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3,))
    d(dx).tanh().sum().backward()
    t(tx).tanh().sum().backward()
    close(dx.grad, tx.grad)
    close(d.weight.grad, t.weight.grad)  # parameters are not inputs: their grads are untouched


def test_backward_pre_hook_replaces_grad_output():
    d, t, dx, tx = pair()
    seen = []
    for m in (d, t):
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * -2,))
        m.register_full_backward_hook(lambda mod, gi, go: seen.append(arr(go[0])))
    d(dx).tanh().sum().backward()
    t(tx).tanh().sum().backward()
    close(dx.grad, tx.grad)
    close(d.weight.grad, t.weight.grad)
    close(seen[0], seen[1])  # the full hook sees the replaced grad_output


def test_backward_hooks_with_two_inputs_and_two_outputs():
    a, b = _rng.standard_normal((2, 3)), _rng.standard_normal((2, 3))
    results = []
    for mod, lib in ((Two(), descend), (TTwo(), torch)):
        seen = []
        mod.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)) or (gi[0], gi[1] * 0.5))
        ta = lib.tensor(a, requires_grad=True)
        tb = lib.tensor(b, requires_grad=True)
        o1, o2 = mod(ta, tb)
        (o1 * 2 + o2 ** 2).sum().backward()
        results.append((seen, ta.grad, tb.grad))
    (ds, dag, dbg), (ts, tag, tbg) = results
    assert len(ds) == len(ts) == 1
    for dg, tg in zip(ds[0][0] + ds[0][1], ts[0][0] + ts[0][1]):
        close(dg, tg)
    close(dag, tag)
    close(dbg, tbg)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_backward_hook_when_no_input_requires_grad():
    seen = []
    for m, x in ((dnn.Linear(4, 3), descend.tensor(X, dtype=np.float32)),
                 (tnn.Linear(4, 3), torch.tensor(X, dtype=torch.float32))):
        m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
        m(x).sum().backward()
    assert seen[0][0] == seen[1][0] == (None,)
    assert tuple(seen[0][1]) == tuple(seen[1][1]) == (5, 3)


def test_hooks_in_a_model_fire_in_torchs_order():
    logs = []
    for lib, nn in ((descend, dnn), (torch, tnn)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
        log = []
        for name, m in model.named_children():
            m.register_full_backward_hook(lambda mod, gi, go, name=name: log.append(name))
            m.register_full_backward_pre_hook(lambda mod, go, name=name: log.append("pre" + name))
        x = lib.tensor(X[:, :4].astype(np.float32), requires_grad=True)
        model(x).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1]


def test_no_hook_no_extra_graph_nodes():
    """The backward-hook identity is only inserted while hooks are registered (and under grad)."""
    d, _, dx, _ = pair()
    h = d.register_full_backward_hook(lambda *a: None)
    with descend.no_grad():
        out = d(dx)
    assert not out.requires_grad
    h.remove()
    out = d(dx)
    assert type(out._ctx).__name__ == "Linear"
    assert not d._forward_hooks and not d._backward_hooks


@pytest.mark.parametrize("create_graph", [False, True])
def test_post_accumulate_grad_hook_runs_on_both_backward_paths(create_graph):
    x = descend.ones(3, requires_grad=True)
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.detach().numpy().tolist()))
    (x * x).sum().backward(create_graph=create_graph)
    (x * 3).sum().backward()
    assert seen == [[2.0, 2.0, 2.0], [5.0, 5.0, 5.0]]
    handle.remove()
    (x * 3).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_grad_modes_work_as_bare_decorators():
    x = descend.ones(2, requires_grad=True)

    @descend.no_grad
    def f(t):
        return t * 2

    @descend.inference_mode
    def g(t):
        return t * 2

    @descend.enable_grad
    def h(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    with descend.no_grad():
        assert h(x).requires_grad
    assert f.__name__ == "f"


def _generator_modes(lib):
    """What grad mode each resumption of decorated generators sees, and the caller between them."""
    x = lib.ones(2, requires_grad=True)

    @lib.no_grad()
    def counted():
        for _ in range(2):
            yield (x * 2).requires_grad

    @lib.no_grad
    def echo():
        got = yield (x * 2).requires_grad
        yield got, (x * 2).requires_grad

    @lib.enable_grad()
    def inside():
        yield (x * 2).requires_grad

    @lib.set_grad_enabled(False)
    def off():
        yield (x * 2).requires_grad

    seen = [(v, (x * 2).requires_grad) for v in counted()]
    g = echo()
    seen += [next(g), g.send(5), (x * 3).requires_grad, list(off())]
    with lib.no_grad():
        seen.append(list(inside()))
    return seen


def test_grad_mode_decorators_on_generators_match_torch():
    """Each resumption runs under the mode and the caller's code between them does not, as in PyTorch."""
    assert _generator_modes(descend) == _generator_modes(torch)
    assert _generator_modes(descend)[:2] == [(False, True), (False, True)]

"""Probes: backward options, grad modes, retain_grad, micrograd checks."""

from tests.probes.harness import probe, probes


def _leaf(torch, *values):
    return torch.tensor(list(values) if values else [1.0, -2.0, 3.0], requires_grad=True)


# ---- backward ----

@probe("backward")
def scalar_backward(torch):
    x = _leaf(torch)
    (x * x).sum().backward()
    return x.grad


@probe("backward")
def gradient_argument(torch):
    x = _leaf(torch)
    y = x * 2
    y.backward(gradient=torch.tensor([1.0, 0.1, 0.01]))
    return x.grad


@probe("backward")
def gradient_positional(torch):
    x = _leaf(torch)
    (x ** 2).backward(torch.ones(3))
    return x.grad


@probe("backward", raises=True)
def nonscalar_without_gradient_raises(torch):
    (_leaf(torch) * 2).backward()


@probe("backward")
def accumulates(torch):
    x = _leaf(torch)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    return x.grad


@probe("backward")
def retain_graph_twice(torch):
    x = _leaf(torch)
    y = (x.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


@probe("backward", raises=True)
def second_backward_raises(torch):
    x = _leaf(torch)
    y = (x.exp() * x).sum()
    y.backward()
    y.backward()


@probe("backward")
def grad_none_before(torch):
    return _leaf(torch).grad is None


@probe("backward")
def grad_none_reset(torch):
    x = _leaf(torch)
    x.sum().backward()
    x.grad = None
    (2 * x).sum().backward()
    return x.grad


@probe("backward")
def grad_zero_(torch):
    x = _leaf(torch)
    x.sum().backward()
    x.grad.zero_()
    return x.grad


@probe("backward")
def grad_attr_of_nonleaf_is_none(torch):
    x = _leaf(torch)
    y = x * 2
    y.sum().backward()
    return y.grad is None


@probe("backward")
def retain_grad(torch):
    x = _leaf(torch)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    return y.grad, y.retains_grad


@probe("backward")
def fan_out_accumulates(torch):
    a = _leaf(torch, 2.0)
    b = a * a + a * 3
    b.backward()
    return a.grad


@probe("backward")
def broadcast_grad(torch):
    w = _leaf(torch, 1.0, 2.0)
    x = torch.ones(3, 2)
    (x * w).sum().backward()
    return w.grad


@probe("backward")
def backward_on_0d(torch):
    x = torch.tensor(3.0, requires_grad=True)
    (x ** 3).backward()
    return x.grad


@probe("backward")
def backward_no_requires_grad_raises(torch):
    try:
        torch.ones(2).sum().backward()
    except RuntimeError:
        return "raised RuntimeError"
    return "no error"


@probe("backward")
def torch_autograd_backward(torch):
    x = _leaf(torch)
    torch.autograd.backward((x * x).sum())
    return x.grad


@probe("backward")
def autograd_grad(torch):
    x = _leaf(torch)
    (g,) = torch.autograd.grad((x ** 2).sum(), x)
    return g, x.grad is None


@probe("backward")
def autograd_grad_create_graph(torch):
    x = _leaf(torch, 2.0)
    (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
    g.backward()
    return g, x.grad


@probe("backward")
def integer_tensor_requires_grad_raises(torch):
    try:
        torch.tensor([1, 2], requires_grad=True)
    except RuntimeError:
        return "raised RuntimeError"
    return "no error"


@probe("backward")
def grad_dtype_matches(torch):
    x = torch.ones(2, dtype=torch.float64, requires_grad=True)
    (x * 2).sum().backward()
    return x.grad


@probe("backward")
def detach_blocks(torch):
    x = _leaf(torch)
    y = x.detach() * x
    y.sum().backward()
    return x.grad


@probe("backward")
def requires_grad_setter(torch):
    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    (x * x).backward()
    return x.grad


@probe("backward")
def micrograd_sanity(torch):
    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return y.data.item(), x.grad.item()


@probe("backward")
def micrograd_more_ops(torch):
    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    return g.data.item(), a.grad.item(), b.grad.item()


# ---- grad modes ----

probes("gradmode", {
    "no_grad_ctx": lambda torch: _in(torch.no_grad(), lambda: (_leaf(torch) * 2).requires_grad),
    "enable_grad_inside_no_grad": lambda torch: (
        _in(torch.no_grad(),
            lambda: _in(torch.enable_grad(), lambda: (_leaf(torch) * 2).requires_grad))),
    "is_grad_enabled": lambda torch: (
        (torch.is_grad_enabled(), _in(torch.no_grad(), torch.is_grad_enabled))),
    "set_grad_enabled_ctx": lambda torch: (
        _in(torch.set_grad_enabled(False), lambda: (_leaf(torch) * 2).requires_grad)),
    "set_grad_enabled_true": lambda torch: (
        _in(torch.set_grad_enabled(True), lambda: (_leaf(torch) * 2).requires_grad)),
    "set_grad_enabled_call": lambda torch: (
        (torch.set_grad_enabled(False), torch.is_grad_enabled(), torch.set_grad_enabled(True))[1]),
    "inference_mode": lambda torch: (
        _in(torch.inference_mode(), lambda: (_leaf(torch) * 2).requires_grad)),
    "inference_mode_false": lambda torch: (
        _in(torch.inference_mode(False), lambda: (_leaf(torch) * 2).requires_grad)),
    "is_inference_mode_enabled": lambda torch: (
        _in(torch.inference_mode(), torch.is_inference_mode_enabled)),
    "no_grad_restores": lambda torch: (
        (_in(torch.no_grad(), lambda: None), torch.is_grad_enabled())[1]),
    "no_grad_values": lambda torch: _in(torch.no_grad(), lambda: _leaf(torch) * 2),
    "no_grad_leaf_creation": lambda torch: (
        _in(torch.no_grad(), lambda: torch.ones(2, requires_grad=True).requires_grad)),
    "autograd_no_grad_path": lambda torch: _in(torch.autograd.no_grad(), torch.is_grad_enabled),
    "autograd_set_grad_enabled": lambda torch: (
        _in(torch.autograd.set_grad_enabled(False), torch.is_grad_enabled)),
})


def _in(ctx, fn):
    with ctx:
        return fn()


@probe("gradmode")
def no_grad_decorator(torch):
    @torch.no_grad()
    def evaluate(x):
        return x * 2, torch.is_grad_enabled()
    y, enabled = evaluate(_leaf(torch))
    return y.requires_grad, enabled, torch.is_grad_enabled()


@probe("gradmode")
def inference_mode_decorator(torch):
    @torch.inference_mode()
    def evaluate(x):
        return x.sum()
    return evaluate(_leaf(torch)).requires_grad


@probe("gradmode")
def no_grad_bare_decorator(torch):
    @torch.no_grad
    def f(x):
        return x * 2
    return f(_leaf(torch)).requires_grad


@probe("gradmode")
def no_grad_exception_restores(torch):
    try:
        with torch.no_grad():
            raise KeyError("x")
    except KeyError:
        pass
    return torch.is_grad_enabled()


@probe("gradmode")
def eval_loop_idiom(torch):
    # blitz: correct += (predicted == labels).sum().item() under no_grad
    outputs = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = torch.tensor([1, 0, 0])
    correct = 0
    with torch.no_grad():
        _, predicted = torch.max(outputs, 1)
        correct += (predicted == labels).sum().item()
    return correct, predicted



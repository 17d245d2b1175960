"""Probes: backward options, grad modes, hooks, retain_grad, custom autograd.Function, micrograd checks."""

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
    "enable_grad_inside_no_grad": lambda torch: _in(torch.no_grad(), lambda: _in(torch.enable_grad(), lambda: (_leaf(torch) * 2).requires_grad)),
    "is_grad_enabled": lambda torch: (torch.is_grad_enabled(), _in(torch.no_grad(), torch.is_grad_enabled)),
    "set_grad_enabled_ctx": lambda torch: _in(torch.set_grad_enabled(False), lambda: (_leaf(torch) * 2).requires_grad),
    "set_grad_enabled_true": lambda torch: _in(torch.set_grad_enabled(True), lambda: (_leaf(torch) * 2).requires_grad),
    "set_grad_enabled_call": lambda torch: (torch.set_grad_enabled(False), torch.is_grad_enabled(), torch.set_grad_enabled(True))[1],
    "inference_mode": lambda torch: _in(torch.inference_mode(), lambda: (_leaf(torch) * 2).requires_grad),
    "inference_mode_false": lambda torch: _in(torch.inference_mode(False), lambda: (_leaf(torch) * 2).requires_grad),
    "is_inference_mode_enabled": lambda torch: _in(torch.inference_mode(), torch.is_inference_mode_enabled),
    "no_grad_restores": lambda torch: (_in(torch.no_grad(), lambda: None), torch.is_grad_enabled())[1],
    "no_grad_values": lambda torch: _in(torch.no_grad(), lambda: _leaf(torch) * 2),
    "no_grad_leaf_creation": lambda torch: _in(torch.no_grad(), lambda: torch.ones(2, requires_grad=True).requires_grad),
    "autograd_no_grad_path": lambda torch: _in(torch.autograd.no_grad(), torch.is_grad_enabled),
    "autograd_set_grad_enabled": lambda torch: _in(torch.autograd.set_grad_enabled(False), torch.is_grad_enabled),
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


# ---- hooks ----

@probe("hooks")
def tensor_hook_sees_grad(torch):
    seen = []
    x = _leaf(torch)
    x.register_hook(lambda g: seen.append(g.clone()))
    (x * 3).sum().backward()
    return seen


@probe("hooks")
def tensor_hook_replaces_grad(torch):
    x = _leaf(torch)
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    return x.grad


@probe("hooks")
def nonleaf_hook(torch):
    x = _leaf(torch)
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    return x.grad


@probe("hooks")
def hook_handle_remove(torch):
    x = _leaf(torch)
    h = x.register_hook(lambda g: g * 0)
    h.remove()
    x.sum().backward()
    return x.grad


@probe("hooks")
def hook_on_no_grad_tensor_raises(torch):
    try:
        torch.ones(2).register_hook(lambda g: g)
    except RuntimeError:
        return "raised RuntimeError"
    return "no error"


@probe("hooks")
def forward_hook(torch):
    lin = torch.nn.Linear(2, 2)
    shapes = []
    lin.register_forward_hook(lambda m, inp, out: shapes.append((type(inp).__name__, tuple(out.shape))))
    lin(torch.ones(3, 2))
    return shapes


@probe("hooks")
def forward_hook_replaces_output(torch):
    lin = torch.nn.Identity()
    lin.register_forward_hook(lambda m, inp, out: out * 2)
    return lin(torch.ones(2))


@probe("hooks")
def forward_pre_hook(torch):
    m = torch.nn.Identity()
    m.register_forward_pre_hook(lambda mod, inp: (inp[0] + 1,))
    return m(torch.zeros(2))


@probe("hooks")
def forward_hook_remove(torch):
    m = torch.nn.Identity()
    calls = []
    h = m.register_forward_hook(lambda *a: calls.append(1))
    m(torch.ones(1))
    h.remove()
    m(torch.ones(1))
    return len(calls)


@probe("hooks")
def full_backward_hook(torch):
    lin = torch.nn.Linear(2, 1)
    seen = []
    lin.register_full_backward_hook(lambda m, gin, gout: seen.append((len(gin), tuple(gout[0].shape))))
    x = torch.ones(4, 2, requires_grad=True)
    lin(x).sum().backward()
    return seen


@probe("hooks")
def full_backward_hook_grad_output(torch):
    m = torch.nn.Tanh()
    grads = []
    m.register_full_backward_hook(lambda mod, gin, gout: grads.append(gout[0].clone()))
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    (m(x) * torch.tensor([2.0, 3.0])).sum().backward()
    return grads


@probe("hooks")
def forward_hook_with_kwargs(torch):
    m = torch.nn.Identity()
    seen = []
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(sorted(kwargs)), with_kwargs=True)
    m(torch.ones(1))
    return seen


@probe("hooks")
def activation_capture_idiom(torch):
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    acts = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ReLU):
            mod.register_forward_hook(lambda m, i, o, name=name: acts.__setitem__(name, o.shape))
    model(torch.ones(5, 2))
    return acts


# ---- custom autograd.Function ----

def _exp_fn(torch):
    class MyExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y
    return MyExp


@probe("function")
def custom_function_forward_backward(torch):
    x = _leaf(torch)
    y = _exp_fn(torch).apply(x)
    y.sum().backward()
    return y, x.grad


@probe("function")
def custom_function_grad_fn(torch):
    y = _exp_fn(torch).apply(_leaf(torch))
    return y.requires_grad, y.grad_fn is not None


@probe("function")
def custom_function_no_grad_input(torch):
    return _exp_fn(torch).apply(torch.zeros(2)).requires_grad


@probe("function")
def custom_function_two_inputs(torch):
    class Mul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a
    a, b = _leaf(torch), torch.tensor([2.0, 2.0, 2.0], requires_grad=True)
    Mul.apply(a, b).sum().backward()
    return a.grad, b.grad


@probe("function")
def custom_function_needs_input_grad(torch):
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            ctx_flags.append(tuple(ctx.needs_input_grad))
            return g, None
    ctx_flags = []
    a = _leaf(torch)
    F.apply(a, torch.ones(3)).sum().backward()
    return ctx_flags, a.grad


@probe("function")
def custom_function_non_tensor_arg(torch):
    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None
    x = _leaf(torch)
    Scale.apply(x, 4.0).sum().backward()
    return x.grad


@probe("function")
def custom_function_mark_non_differentiable(torch):
    class SortIdx(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return values, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            out = torch.zeros_like(gv)
            out[idx] = gv
            return out
    x = _leaf(torch)
    v, i = SortIdx.apply(x)
    (v * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    return v, i, i.requires_grad, x.grad


@probe("function")
def custom_function_once_differentiable_style(torch):
    class Clamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x > 0).float()
    x = _leaf(torch)
    Clamp.apply(x * 1).sum().backward()
    return x.grad


@probe("function")
def custom_function_in_module(torch):
    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class M(torch.nn.Module):
        def forward(self, x):
            return Double.apply(x)
    x = _leaf(torch)
    M()(x).sum().backward()
    return x.grad


@probe("function")
def function_subclass_is_class(torch):
    return isinstance(_exp_fn(torch), type), issubclass(_exp_fn(torch), torch.autograd.Function)


@probe("function")
def set_materialize_grads(torch):
    class Two(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 + 2 * g2
    x = _leaf(torch)
    a, _ = Two.apply(x)
    a.sum().backward()
    return x.grad

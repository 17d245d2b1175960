"""Probes: tensor and module hooks, custom autograd.Function."""

from tests.probes.harness import probe


def _leaf(torch, *values):
    return torch.tensor(list(values) if values else [1.0, -2.0, 3.0], requires_grad=True)


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
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(sorted(kwargs)),
                            with_kwargs=True)
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


@probe("hooks")
def handle_as_context_manager(torch):
    m = torch.nn.Identity()
    calls = []
    with m.register_forward_hook(lambda *a: calls.append(1)):
        m(torch.ones(1))
    m(torch.ones(1))
    return len(calls)


@probe("hooks")
def full_backward_hook_replaces_grad_input(torch):
    lin = torch.nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda m, gin, gout: (gin[0] * 0,))
    x = torch.ones(3, 2, requires_grad=True)
    lin(x).sum().backward()
    return x.grad


@probe("hooks")
def full_backward_pre_hook(torch):
    m = torch.nn.Sigmoid()
    m.register_full_backward_pre_hook(lambda mod, gout: (gout[0] * 2,))
    x = torch.zeros(2, requires_grad=True)
    m(x).sum().backward()
    return x.grad


@probe("hooks")
def forward_pre_hook_with_kwargs(torch):
    class M(torch.nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale
    m = M()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 3.0}), with_kwargs=True)
    return m(torch.ones(2), scale=2.0)


@probe("hooks")
def hooks_on_every_layer(torch):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    order = []
    for name, mod in model.named_children():
        mod.register_forward_hook(lambda m, i, o, name=name: order.append((name, tuple(o.shape))))
    model(torch.ones(5, 3))
    return order


@probe("hooks")
def forward_hook_always_call_and_prepend(torch):
    m = torch.nn.Identity()
    order = []
    m.register_forward_hook(lambda *a: order.append("first"))
    m.register_forward_hook(lambda *a: order.append("prepended"), prepend=True)
    m(torch.ones(1))
    return order


@probe("hooks")
def tensor_post_accumulate_grad_hook(torch):
    p = torch.nn.Parameter(torch.ones(2))
    seen = []
    p.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
    (p * 3).sum().backward()
    return seen

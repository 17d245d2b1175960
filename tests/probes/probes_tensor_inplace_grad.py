"""Probes: autograd through in-place ops, views and detach — where the version counter and view
tracking decide whether gradients are right or backward must refuse."""

from tests.probes.harness import probe


def _leaf(torch, *values):
    return torch.tensor(list(values) if values else [1.0, -2.0, 3.0], requires_grad=True)


@probe("inplace_grad")
def mul_inplace_nonleaf(torch):
    x = _leaf(torch)
    y = x * 2
    y.mul_(torch.tensor([1.0, 10.0, 100.0]))
    y.sum().backward()
    return y, x.grad


@probe("inplace_grad")
def mul_inplace_broadcast_other_grad(torch):
    x = torch.ones(2, 3, requires_grad=True)
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y.mul_(w)
    y.sum().backward()
    return x.grad, w.grad


@probe("inplace_grad")
def inplace_on_view_of_nonleaf(torch):
    x = torch.ones(2, 3, requires_grad=True)
    y = x * 1
    y[:, 0].mul_(5)
    y.sum().backward()
    return y, x.grad


@probe("inplace_grad")
def inplace_on_view_then_use_base(torch):
    x = _leaf(torch)
    y = x.clone()
    v = y[1:]
    v.add_(10)
    (y * y).sum().backward()
    return y, x.grad


@probe("inplace_grad")
def setitem_tensor_value_grad(torch):
    x = _leaf(torch)
    w = torch.tensor(4.0, requires_grad=True)
    y = x * 1
    y[0] = w * w
    y.sum().backward()
    return x.grad, w.grad


@probe("inplace_grad")
def masked_fill_inplace_grad(torch):
    x = _leaf(torch)
    y = x * 3
    y.masked_fill_(x < 0, 0.0)
    y.sum().backward()
    return x.grad


@probe("inplace_grad")
def clamp_inplace_grad(torch):
    x = _leaf(torch, 0.5, -2.0, 3.0)
    y = x * 1
    y.clamp_(min=0.0, max=1.0)
    y.sum().backward()
    return x.grad


@probe("inplace_grad")
def add_inplace_alpha_grad(torch):
    x, z = _leaf(torch), _leaf(torch, 1.0, 1.0, 1.0)
    y = x * 1
    y.add_(z, alpha=-3)
    y.sum().backward()
    return x.grad, z.grad


@probe("inplace_grad")
def chain_of_inplace(torch):
    x = _leaf(torch)
    y = x + 0
    y.mul_(2).add_(1).pow_(2)
    y.sum().backward()
    return y, x.grad


@probe("inplace_grad")
def iadd_nonleaf_grad(torch):
    x = _leaf(torch)
    y = x * x
    y += x
    y.sum().backward()
    return x.grad


@probe("inplace_grad", raises=True)
def detach_shares_version(torch):
    a = _leaf(torch)
    b = a.exp()
    b.detach().zero_()
    b.sum().backward()


@probe("inplace_grad", raises=True)
def view_inplace_on_saved(torch):
    a = _leaf(torch)
    b = a * 1
    c = b * b
    b[0:1].add_(1)
    c.sum().backward()


@probe("inplace_grad", raises=True)
def inplace_on_leaf_view_raises(torch):
    w = _leaf(torch)
    w[0:2].mul_(2)


@probe("inplace_grad", raises=True)
def requires_grad_on_nonleaf_false_raises(torch):
    y = _leaf(torch) * 2
    y.requires_grad_(False)


@probe("inplace_grad")
def data_change_does_not_raise(torch):
    a = _leaf(torch)
    b = a.exp()
    b.data.zero_()
    b.sum().backward()
    return a.grad


@probe("inplace_grad")
def retain_graph_twice_after_inplace_elsewhere(torch):
    a = _leaf(torch)
    b = (a * 2).sum()
    b.backward(retain_graph=True)
    c = a.detach().clone()
    c.add_(1)
    b.backward()
    return a.grad, c


@probe("inplace_grad")
def clone_then_inplace_keeps_leaf_grad(torch):
    x = _leaf(torch)
    y = x.clone()
    y[0] = 0.0
    (y * y).sum().backward()
    return x.grad


@probe("inplace_grad")
def expanded_param_grad(torch):
    b = torch.tensor([0.5, -0.5], requires_grad=True)
    out = b.expand(3, 2) * torch.arange(6.0).view(3, 2)
    out.sum().backward()
    return b.grad


@probe("inplace_grad")
def no_grad_section_in_forward(torch):
    x = _leaf(torch)
    with torch.no_grad():
        scale = x.abs().max()
    y = x / scale
    y.sum().backward()
    return scale.requires_grad, x.grad


@probe("inplace_grad")
def grad_through_index_put_accumulate(torch):
    x = _leaf(torch)
    out = torch.zeros(2)
    out = out.index_put((torch.tensor([0, 0, 1]),), x, accumulate=True)
    (out * torch.tensor([1.0, 10.0])).sum().backward()
    return out, x.grad


@probe("inplace_grad")
def relu_inplace_module_in_sequential_grad(torch):
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(3))
        lin.bias.zero_()
    net = torch.nn.Sequential(lin, torch.nn.ReLU(inplace=True))
    x = _leaf(torch)
    net(x).sum().backward()
    return x.grad, lin.weight.grad


@probe("inplace_grad")
def version_after_optimizer_step(torch):
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    before = p._version
    opt.step()
    return p._version > before

"""Probes: Tensor.data, in-place methods and operators, item assignment, the version counter."""

from tests.probes.harness import probe, probes


def _x(torch):
    return torch.tensor([1.0, -2.0, 3.0])


def _same(torch, method, *args, **kwargs):
    """x.<method>_(...) returns x itself and changes it: (returned-is-x, x)."""
    x = _x(torch)
    y = getattr(x, method)(*args, **kwargs)
    return y is x, x


probes("inplace", {
    "add_": lambda torch: _same(torch, "add_", 2),
    "add_tensor": lambda torch: _same(torch, "add_", torch.ones(3)),
    "add_alpha": lambda torch: _same(torch, "add_", torch.ones(3), alpha=-0.5),
    "sub_": lambda torch: _same(torch, "sub_", 1.5),
    "sub_alpha": lambda torch: _same(torch, "sub_", torch.ones(3), alpha=2),
    "mul_": lambda torch: _same(torch, "mul_", 3),
    "mul_tensor_broadcast": lambda torch: (
        (lambda x: (x.mul_(torch.tensor([2.0])), x)[1])(torch.ones(2, 2))),
    "div_": lambda torch: _same(torch, "div_", 4),
    "pow_": lambda torch: _same(torch, "pow_", 2),
    "neg_": lambda torch: _same(torch, "neg_"),
    "abs_": lambda torch: _same(torch, "abs_"),
    "exp_": lambda torch: _same(torch, "exp_"),
    "sqrt_abs": lambda torch: (lambda x: (x.abs_().sqrt_(), x)[1])(_x(torch)),
    "clamp_": lambda torch: _same(torch, "clamp_", -1, 1),
    "clamp_min_": lambda torch: _same(torch, "clamp_", min=0),
    "clamp_min_method": lambda torch: _same(torch, "clamp_min_", 0.5),
    "clip_": lambda torch: _same(torch, "clip_", max=2),
    "zero_": lambda torch: _same(torch, "zero_"),
    "fill_": lambda torch: _same(torch, "fill_", 7),
    "fill_tensor": lambda torch: _same(torch, "fill_", torch.tensor(2.0)),
    "copy_": lambda torch: _same(torch, "copy_", torch.tensor([9.0, 8.0, 7.0])),
    "copy_broadcast": lambda torch: (
        (lambda x: (x.copy_(torch.tensor([1.0, 2.0])), x)[1])(torch.zeros(2, 2))),
    "copy_casts": lambda torch: (lambda x: (x.copy_(torch.tensor([1, 2])), x)[1])(torch.zeros(2)),
    "masked_fill_": lambda torch: (
        _same(torch, "masked_fill_", torch.tensor([True, False, True]), 0.0)),
    "masked_fill_neg_inf": lambda torch: (
        (lambda x: x.masked_fill_(x < 0, float("-inf")))(_x(torch))),
    "relu_": lambda torch: _same(torch, "relu_"),
    "sigmoid_": lambda torch: _same(torch, "sigmoid_"),
    "tanh_": lambda torch: _same(torch, "tanh_"),
    "floor_": lambda torch: _same(torch, "floor_"),
    "round_": lambda torch: _same(torch, "round_"),
    "sign_": lambda torch: _same(torch, "sign_"),
    "addcmul_": lambda torch: (
        _same(torch, "addcmul_", torch.ones(3), torch.full((3,), 2.0), value=0.5)),
    "addcdiv_": lambda torch: (
        _same(torch, "addcdiv_", torch.ones(3), torch.full((3,), 4.0), value=-1)),
    "lerp_": lambda torch: _same(torch, "lerp_", torch.zeros(3), 0.25),
    "mul_add_chain": lambda torch: (
        (lambda x: x.mul_(0.9).add_(torch.ones(3), alpha=0.1))(_x(torch))),
    "unsqueeze_": lambda torch: (lambda x: (x.unsqueeze_(0) is x, x.shape))(_x(torch)),
    "squeeze_": lambda torch: (lambda x: (x.squeeze_() is x, x.shape))(torch.ones(1, 3)),
    "t_": lambda torch: (lambda x: (x.t_(), x.shape)[1])(torch.ones(2, 3)),
    "transpose_": lambda torch: (
        (lambda x: (x.transpose_(0, 1), x)[1])(torch.arange(6.0).view(2, 3))),
    "normal_shape": lambda torch: (
        (lambda x: (x.normal_(0, 0.02) is x, x.shape, x.dtype))(torch.empty(3, 2))),
    "normal_moments": lambda torch: (
        (lambda x: abs(x.normal_(1.0, 0.1).mean().item() - 1) < 0.05)(torch.empty(2000))),
    "uniform_range": lambda torch: (
        (lambda x: bool(((x >= -0.1) & (x < 0.1)).all()))(torch.empty(100).uniform_(-0.1, 0.1))),
    "uniform_returns_self": lambda torch: (lambda x: x.uniform_(-1, 1) is x)(torch.empty(3)),
    "bernoulli_": lambda torch: torch.empty(4).bernoulli_(1.0),
    "exponential_positive": lambda torch: bool((torch.empty(20).exponential_() >= 0).all()),
    "random_int": lambda torch: bool((torch.empty(10, dtype=torch.int64).random_(0, 3) < 3).all()),
    "index_fill_": lambda torch: torch.zeros(3).index_fill_(0, torch.tensor([0, 2]), 1.0),
    "index_add_": lambda torch: (
        torch.zeros(3).index_add_(0, torch.tensor([0, 0, 2]), torch.ones(3))),
    "scatter_": lambda torch: torch.zeros(2, 3).scatter_(1, torch.tensor([[0], [2]]), 1.0),
    "scatter_add_": lambda torch: (
        torch.zeros(3).scatter_add_(0, torch.tensor([0, 0, 1]), torch.ones(3))),
    "masked_scatter_": lambda torch: (
        torch.zeros(3).masked_scatter_(torch.tensor([True, False, True]), torch.tensor([5.0, 6.0]))),
    "clamp_int": lambda torch: torch.tensor([-5, 0, 5]).clamp_(-1, 1),
    "set_requires_grad_": lambda torch: (
        (lambda x: (x.requires_grad_() is x, x.requires_grad))(torch.ones(2))),
    "requires_grad_false": lambda torch: (
        torch.ones(2, requires_grad=True).requires_grad_(False).requires_grad),
    "detach_": lambda torch: (
        (lambda y: (y.detach_() is y, y.requires_grad, y.grad_fn is None))(
            torch.ones(2, requires_grad=True) * 2)),
})


# ---- in-place operators really are in place ----

@probe("inplace")
def iadd_keeps_identity(torch):
    x = torch.zeros(2)
    alias = x
    x += 1
    return x is alias, alias


@probe("inplace")
def imul_view_updates_base(torch):
    base = torch.ones(2, 3)
    row = base[0]
    row *= 5
    return base


@probe("inplace")
def isub_on_view_of_view(torch):
    base = torch.zeros(4)
    base.view(2, 2)[1] -= 3
    return base


@probe("inplace")
def itruediv(torch):
    x = torch.tensor([2.0, 4.0])
    y = x
    x /= 2
    return y


@probe("inplace")
def ifloordiv_int(torch):
    x = torch.tensor([5, 7])
    x //= 2
    return x


@probe("inplace")
def imatmul_not_inplace_shape(torch):
    x = torch.eye(2)
    x @= torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    return x


@probe("inplace")
def ipow(torch):
    x = torch.tensor([2.0, 3.0])
    x **= 2
    return x


@probe("inplace")
def iand_bool(torch):
    m = torch.tensor([True, True, False])
    m &= torch.tensor([True, False, True])
    return m


@probe("inplace")
def add_shares_with_detach(torch):
    x = torch.ones(3)
    d = x.detach()
    d.add_(1)
    return x


@probe("inplace")
def view_shares_memory(torch):
    x = torch.zeros(6)
    v = x.view(2, 3)
    v[1, 2] = 4.0
    return x


@probe("inplace")
def reshape_contiguous_shares(torch):
    x = torch.zeros(4)
    x.reshape(2, 2)[0, 0] = 1.0
    return x


@probe("inplace")
def slice_shares_memory(torch):
    x = torch.arange(5.0)
    x[1:3].zero_()
    return x


@probe("inplace")
def transpose_shares(torch):
    x = torch.zeros(2, 3)
    x.t()[2, 1] = 5.0
    return x


@probe("inplace")
def unsqueeze_shares(torch):
    x = torch.zeros(3)
    x.unsqueeze(0)[0, 1] = 1.0
    return x


@probe("inplace")
def expand_shares_read(torch):
    x = torch.tensor([1.0, 2.0])
    e = x.expand(3, 2)
    x[0] = 9.0
    return e


@probe("inplace")
def fancy_index_copies(torch):
    x = torch.zeros(3)
    y = x[torch.tensor([0, 1])]
    y += 1
    return x


# ---- item assignment ----

probes("setitem", {
    "int_index": lambda torch: (lambda x: (x.__setitem__(1, 5.0), x)[1])(torch.zeros(3)),
    "slice": lambda torch: (lambda x: (x.__setitem__(slice(1, None), 2.0), x)[1])(torch.zeros(3)),
    "bool_mask_scalar": lambda torch: (lambda x: (x.__setitem__(x < 0, 0.0), x)[1])(_x(torch)),
    "bool_mask_tensor": lambda torch: (
        (lambda x: (x.__setitem__(x < 0, torch.tensor([7.0])), x)[1])(_x(torch))),
    "tensor_index": lambda torch: (
        (lambda x: (x.__setitem__(torch.tensor([0, 2]), torch.tensor([1.0, 2.0])), x)[1])(
            torch.zeros(3))),
    "list_index": lambda torch: (lambda x: (x.__setitem__([0, 2], 4.0), x)[1])(torch.zeros(3)),
    "row": lambda torch: (lambda x: (x.__setitem__(0, torch.ones(3)), x)[1])(torch.zeros(2, 3)),
    "ellipsis": lambda torch: (lambda x: (x.__setitem__(Ellipsis, 1.0), x)[1])(torch.zeros(2)),
    "tuple_index": lambda torch: (lambda x: (x.__setitem__((1, 0), 3.0), x)[1])(torch.zeros(2, 2)),
    "column_step": lambda torch: (
        (lambda x: (x.__setitem__((slice(None), slice(0, None, 2)), 1.0), x)[1])(torch.zeros(2, 4))),
    "int_tensor_value_cast": lambda torch: (
        (lambda x: (x.__setitem__(0, 2.7), x)[1])(torch.zeros(2, dtype=torch.int64))),
    "makemore_pad": lambda torch: (
        (lambda x: (x.__setitem__(slice(3, None), -1), x)[1])(torch.zeros(5, dtype=torch.long))),
    "topk_mask_neg_inf": lambda torch: _topk_mask(torch),
})


def _topk_mask(torch):
    # makemore sampling: logits[logits < v[:, [-1]]] = -float('Inf')
    logits = torch.tensor([[1.0, 3.0, 2.0]])
    v, _ = torch.topk(logits, 2)
    logits[logits < v[:, [-1]]] = -float("Inf")
    return logits


@probe("setitem")
def nonleaf_setitem_grad(torch):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y[1] = 0.0
    y.sum().backward()
    return y, x.grad


@probe("setitem")
def nonleaf_setitem_value_grad(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor(3.0, requires_grad=True)
    y = x.clone()
    y[0] = v * 2
    (y * torch.tensor([1.0, 10.0])).sum().backward()
    return x.grad, v.grad


@probe("setitem")
def zeros_then_slice_assign_grad(torch):
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    out = torch.zeros(3)
    out[1:] = w * w
    out.sum().backward()
    return out.requires_grad, w.grad


@probe("setitem", raises=True)
def leaf_setitem_raises(torch):
    x = torch.ones(3, requires_grad=True)
    x[0] = 2.0


@probe("setitem")
def leaf_setitem_no_grad_ok(torch):
    x = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        x[0] = 2.0
    return x


# ---- .data ----

probes("dotdata", {
    "is_tensor": lambda torch: isinstance(torch.ones(2).data, torch.Tensor),
    "no_requires_grad": lambda torch: torch.ones(2, requires_grad=True).data.requires_grad,
    "values": lambda torch: torch.tensor([1.0, 2.0], requires_grad=True).data,
    "item": lambda torch: torch.tensor([2.5], requires_grad=True).data.item(),
    "numpy": lambda torch: torch.tensor([1.0], requires_grad=True).data.numpy(),
    "shares_memory": lambda torch: (
        (lambda x: (x.data.mul_(2), x)[1])(torch.ones(2, requires_grad=True))),
    "iadd_grad": lambda torch: (lambda w: (w.sum().backward(), w.data.__iadd__(-0.5 * w.grad), w)[2])(
        torch.ones(2, requires_grad=True)),
    "assign": lambda torch: (
        (lambda x: (setattr(x, "data", torch.zeros(2)), x)[1])(torch.ones(2, requires_grad=True))),
    "assign_new_shape": lambda torch: (
        (lambda x: (setattr(x, "data", torch.zeros(3, 1)), x.shape)[1])(torch.ones(2))),
    "param_data_add_": lambda torch: (
        (lambda p: (p.data.add_(torch.ones(2), alpha=-0.1), p)[1])(torch.nn.Parameter(torch.ones(2)))),
    "uniform_init": lambda torch: (
        (lambda w: (w.data.uniform_(-0.1, 0.1), bool((w.abs() <= 0.1).all()))[1])(
            torch.nn.Embedding(5, 3).weight)),
    "data_does_not_bump_version": lambda torch: (
        (lambda x: (x.data.add_(1), x._version)[1])(torch.ones(2, requires_grad=True))),
})


# ---- the version counter ----

@probe("version")
def version_starts_zero(torch):
    return torch.ones(2)._version


@probe("version")
def version_bumps(torch):
    x = torch.ones(2)
    x.add_(1)
    x.mul_(2)
    x[0] = 3.0
    return x._version


@probe("version")
def view_shares_version(torch):
    x = torch.ones(4)
    v = x.view(2, 2)
    v.add_(1)
    return x._version, v._version


@probe("version", raises=True)
def saved_tensor_modified_raises(torch):
    a = torch.ones(2, requires_grad=True)
    b = a * 2
    c = b * b
    b.add_(1)
    c.sum().backward()


@probe("version", raises=True)
def saved_output_modified_raises(torch):
    a = torch.ones(2, requires_grad=True)
    b = a.exp()
    b.mul_(2)
    b.sum().backward()


@probe("version", raises=True)
def sigmoid_output_modified_raises(torch):
    a = torch.ones(2, requires_grad=True)
    s = torch.sigmoid(a)
    s += 1
    s.sum().backward()


@probe("version")
def add_then_inplace_is_fine(torch):
    a = torch.ones(2, requires_grad=True)
    b = a + 1
    b.mul_(3)
    b.sum().backward()
    return a.grad


@probe("version")
def relu_inplace_grad(torch):
    a = torch.tensor([-1.0, 2.0], requires_grad=True)
    b = a * 1
    b.relu_()
    b.sum().backward()
    return a.grad


@probe("version", raises=True)
def leaf_inplace_raises(torch):
    w = torch.ones(2, requires_grad=True)
    w.add_(1)


@probe("version", raises=True)
def leaf_iadd_raises(torch):
    w = torch.ones(2, requires_grad=True)
    w += 1


@probe("version", raises=True)
def param_inplace_raises(torch):
    torch.nn.Linear(2, 2).weight.mul_(2)


@probe("version")
def leaf_update_under_no_grad(torch):
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    return w, w.requires_grad, w.is_leaf


@probe("version")
def leaf_update_sub_under_no_grad(torch):
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w ** 3).sum().backward()
    with torch.no_grad():
        w.sub_(w.grad, alpha=0.5)
        w.grad.zero_()
    return w, w.grad


@probe("version")
def manual_sgd_loop(torch):
    # regression.py: parameters updated through .data; micrograd-style W.data += -lr * W.grad
    w = torch.tensor([[0.5, -0.5]], requires_grad=True)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for _ in range(3):
        loss = ((x @ w.t()) ** 2).mean()
        w.grad = None
        loss.backward()
        w.data += -0.01 * w.grad
    return w, loss.item()

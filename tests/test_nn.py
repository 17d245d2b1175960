"""Module mechanics, containers, modes, dtype conversion, hooks, shape errors, dropout and penalties."""

import copy

import numpy as np
import pytest

import descend
import descend.nn as dnn


class Net(dnn.Module):
    """Own parameter, nested Sequential, a plain list and a dict of modules, a buffer, a plain tensor."""

    def __init__(self):
        super().__init__()
        self.body = dnn.Sequential(dnn.Linear(3, 4), dnn.ReLU(), dnn.Linear(4, 2))
        self.heads = [dnn.Linear(2, 1), dnn.Linear(2, 1, bias=False)]
        self.extra = {"norm": dnn.LayerNorm(2)}
        self.scale = dnn.Parameter(np.ones(1, np.float32))
        self.register_buffer("steps", np.zeros((), np.int64))
        self.not_state = descend.tensor([1.0, 2.0])  # a plain tensor attribute is not state

    def forward(self, x):
        h = self.extra["norm"](self.body(x))
        return sum(head(h) for head in self.heads) * self.scale


def test_walk_finds_parameters_in_definition_order():
    names = [k for k, _ in Net().named_parameters()]
    # Own parameters first, then children in assignment order (PyTorch's registration order).
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "extra.norm.weight", "extra.norm.bias"]
    assert list(Net().state_dict())[:2] == ["scale", "steps"]
    assert [k for k, _ in Net().named_buffers()] == ["steps"]


def test_children_and_modules():
    net = Net()
    assert [k for k, _ in net.named_children()] == ["body", "heads.0", "heads.1", "extra.norm"]
    names = [k for k, _ in net.named_modules()]
    assert names[:5] == ["", "body", "body.0", "body.1", "body.2"]
    assert len(list(net.modules())) == len(names) == 8
    assert net.get_submodule("body.2") is net.body[2]


def test_gradients_reach_every_parameter_and_zero_grad():
    net = Net()
    net(descend.tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad._data) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_eval_apply_requires_grad():
    net = Net()
    assert net.training and net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 4
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_double_and_float_keep_parameter_objects():
    net = Net()
    params = list(net.parameters())
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert net.steps.dtype == np.int64  # integer buffers are left alone
    out = net(descend.tensor(np.ones((2, 3))))
    assert out.dtype == np.float64
    net.to(descend.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to("cpu")
    with pytest.raises(TypeError, match="only floating dtypes"):
        net.to("int64")


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    twin.body[0].weight._data[...] = 0
    assert np.any(net.body[0].weight._data) and len(list(twin.parameters())) == len(list(net.parameters()))


def test_parameter_is_a_tensor_that_requires_grad():
    p = dnn.Parameter(descend.tensor([1.0, 2.0]))
    assert isinstance(p, descend.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not dnn.Parameter(np.zeros(2, np.float32), requires_grad=False).requires_grad


def test_repr_like_pytorch():
    model = dnn.Sequential(dnn.Linear(784, 10), dnn.ReLU())
    assert repr(model) == ("Sequential(\n  (0): Linear(in_features=784, out_features=10, bias=True)\n"
                           "  (1): ReLU()\n)")


def test_sequential_container_operations():
    seq = dnn.Sequential(dnn.Linear(2, 3), dnn.ReLU())
    seq.append(dnn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], dnn.Linear) and [type(m) for m in seq][1] is dnn.ReLU
    assert isinstance(seq[1:], dnn.Sequential) and len(seq[1:]) == 2
    assert list(seq[1:].state_dict()) == ["2.weight", "2.bias"]  # slices keep names, as in PyTorch
    seq.insert(0, dnn.Identity())
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Identity", "ReLU", "Linear"]
    assert list(seq.state_dict()) == ["2.weight", "2.bias"]
    assert seq(descend.tensor(np.ones((4, 3), np.float32))).shape == (4, 1)
    with pytest.raises(IndexError, match="index 5 is out of range for 3 modules"):
        seq[5]
    named = dnn.Sequential({"fc": dnn.Linear(2, 2), "act": dnn.Tanh()})
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_and_dict():
    ml = dnn.ModuleList([dnn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and list(ml.state_dict())[-1] == "2.bias"
    assert isinstance(ml[:2], dnn.ModuleList)
    md = dnn.ModuleDict({"a": dnn.Linear(1, 1)})
    md["b"] = dnn.Linear(1, 2)
    assert "b" in md and list(md) == ["a", "b"] and list(md.state_dict()) == ["a.weight", "a.bias",
                                                                               "b.weight", "b.bias"]


def test_forward_hooks():
    lin = dnn.Linear(2, 2)
    seen = []
    h1 = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    h2 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    out = lin(descend.tensor(np.ones((3, 2), np.float32)))
    np.testing.assert_allclose(out._data, np.broadcast_to(lin.bias._data, (3, 2)))
    h1.remove()
    h2.remove()
    lin(descend.tensor(np.ones((3, 2), np.float32)))
    assert seen == [(3, 2)]


# ---- shape errors name the layer ------------------------------------------------------------------------

@pytest.mark.parametrize("layer,shape,message", [
    (lambda: dnn.Linear(784, 10), (64, 100), "Linear(784→10): expected input (..., 784), got (64, 100)"),
    (lambda: dnn.Conv2d(1, 32, 3), (64, 3, 28, 28), "Conv2d(1→32, k=3): expected input (N, 1, H, W), "
                                                   "got (64, 3, 28, 28)"),
    (lambda: dnn.Conv2d(1, 32, 3), (28, 28), "Conv2d(1→32, k=3): expected input (N, 1, H, W), got (28, 28)"),
    (lambda: dnn.Conv1d(4, 8, (5,)), (2, 3, 10), "Conv1d(4→8, k=5): expected input (N, 4, L), got (2, 3, 10)"),
    (lambda: dnn.BatchNorm2d(8), (2, 4, 3, 3), "BatchNorm2d(8): expected input (N, 8, H, W), got (2, 4, 3, 3)"),
    (lambda: dnn.BatchNorm1d(8), (2, 8, 3, 3), "BatchNorm1d(8): expected input (N, 8) or (N, 8, L), got "
                                               "(2, 8, 3, 3)"),
    (lambda: dnn.LayerNorm(5), (2, 4), "LayerNorm((5,)): expected input (..., 5), got (2, 4)"),
    (lambda: dnn.GRU(10, 20), (5, 3, 7), "GRU(10→20): expected input (L, N, 10) or (L, 10), got (5, 3, 7)"),
    (lambda: dnn.GRU(10, 20, batch_first=True), (5, 7), "GRU(10→20): expected input (N, L, 10)"),
    (lambda: dnn.MaxPool2d(2), (4, 4), "MaxPool2d(kernel_size=2): expected input (N, C, H, W)"),
])
def test_shape_errors_name_the_layer(layer, shape, message):
    with pytest.raises(ValueError) as err:
        layer()(descend.tensor(np.zeros(shape, np.float32)))
    assert message in str(err.value)


def test_gru_hidden_shape_error():
    gru = dnn.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"GRU\(3→4\): expected hx \(2, 5, 4\), got \(1, 5, 4\)"):
        gru(descend.tensor(np.zeros((6, 5, 3), np.float32)), descend.tensor(np.zeros((1, 5, 4), np.float32)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        dnn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        dnn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        dnn.Dropout(1.5)
    with pytest.raises(TypeError, match="integer indices"):
        dnn.Embedding(4, 2)(descend.tensor([0.0, 1.0]))


def test_softmax_without_dim_warns_and_uses_pytorch_rule():
    x = descend.tensor(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = dnn.Softmax()(x)
    np.testing.assert_allclose(out._data.sum(1), 1, rtol=1e-6)


# ---- dropout ---------------------------------------------------------------------------------------------

def test_dropout_train_masks_and_scales():
    descend.manual_seed(0)
    p = 0.3
    drop = dnn.Dropout(p)
    x = descend.tensor(np.full((200, 500), 2.0, np.float32), requires_grad=True)
    out = drop(x)
    kept = out._data != 0
    # Survivors are scaled by exactly 1/(1-p); the dropped fraction is p within 5 standard errors.
    np.testing.assert_allclose(out._data[kept], 2.0 / (1 - p), rtol=1e-6)
    se = np.sqrt(p * (1 - p) / kept.size)
    assert abs((1 - kept.mean()) - p) < 5 * se
    out.sum().backward()
    np.testing.assert_allclose(x.grad._data, kept / (1 - p), rtol=1e-6)  # the same mask in backward
    # Masks are fresh each call but reproducible from the seed.
    assert not np.array_equal(kept, drop(x)._data != 0)
    descend.manual_seed(0)
    np.testing.assert_array_equal(dnn.Dropout(p)(x)._data != 0, kept)


def test_dropout_eval_is_identity_and_extremes():
    x = descend.tensor(np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32))
    np.testing.assert_array_equal(dnn.Dropout(0.9).eval()(x)._data, x._data)
    np.testing.assert_array_equal(dnn.Dropout(0.0)(x)._data, x._data)
    assert not np.any(dnn.Dropout(1.0)(x)._data)


# ---- penalties ------------------------------------------------------------------------------------------

def test_l1_and_l2_penalties_values_and_gradients():
    model = dnn.Sequential(dnn.Linear(3, 2), dnn.BatchNorm1d(2))
    params = list(model.parameters())
    l1 = dnn.l1_penalty(model)
    l2 = dnn.l2_penalty(model)
    assert l1.item() == pytest.approx(sum(np.abs(p._data).sum() for p in params), rel=1e-6)
    assert l2.item() == pytest.approx(sum((p._data.astype(np.float64) ** 2).sum() for p in params), rel=1e-6)
    (0.5 * l2 + l1).backward()
    for p in params:  # d/dθ (½Σθ² + Σ|θ|) = θ + sign(θ)
        np.testing.assert_allclose(p.grad._data, p._data + np.sign(p._data), rtol=1e-6)


def test_penalty_weights_only_skips_biases_and_norm_parameters():
    model = dnn.Sequential(dnn.Linear(3, 2), dnn.BatchNorm1d(2), dnn.Conv1d(2, 2, 3))
    want = np.abs(model[0].weight._data).sum() + np.abs(model[2].weight._data).sum()
    assert dnn.l1_penalty(model, weights_only=True).item() == pytest.approx(want, rel=1e-6)
    # An iterable of parameters works too; frozen parameters are skipped.
    model[0].weight.requires_grad_(False)
    assert dnn.l2_penalty([model[0].weight, model[0].bias]).item() == \
        pytest.approx((model[0].bias._data ** 2).sum(), rel=1e-6)
    with pytest.raises(TypeError, match="Module or an iterable of tensors"):
        dnn.l1_penalty([np.ones(3)])


def test_reassigned_buffer_stays_a_buffer():
    m = dnn.Module()
    m.register_buffer("mask", None)
    assert list(m.state_dict()) == []
    m.mask = np.ones(3, np.float32)
    assert isinstance(m.mask, descend.Tensor) and list(m.state_dict()) == ["mask"]


def test_train_reaches_children_through_their_own_train_as_pytorch():
    """A submodule overriding train() (a frozen batch norm kept in eval) is obeyed when its parent switches,
    and a module shared by two parents is switched too."""
    class FrozenBN(dnn.BatchNorm1d):
        def train(self, mode=True):
            return super().train(False)

    shared = dnn.Linear(2, 2)
    net = dnn.Sequential(dnn.Linear(2, 2), FrozenBN(2), dnn.Sequential(shared, dnn.Dropout()), shared)
    net.train()
    assert net.training and not net[1].training and net[2][1].training and shared.training
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert [m.training for m in net.modules()] == [True, True, False, True, True, True]


def test_train_survives_a_child_that_refers_back_to_its_parent():
    """descend finds children inside plain lists, so a back-reference kept in one (PyTorch's way to hold an
    unregistered parent) makes a cycle: train() and eval() visit each module once, as modules() does."""
    class Net(dnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = dnn.Linear(2, 2)
            self.fc.owner = [self]

    net = Net().eval()
    assert [m.training for m in net.modules()] == [False, False]
    assert all(m.training for m in net.train().modules())


def test_module_to_channels_last_is_accepted_and_keeps_values_and_outputs():
    """model.to(memory_format=channels_last), PyTorch's CNN idiom: accepted; parameters keep their values and
    contiguous layout (README), and the model's outputs are the same up to float32 rounding."""
    torch = pytest.importorskip("torch")
    net = dnn.Sequential(dnn.Conv2d(3, 8, 3, padding=1), dnn.BatchNorm2d(8), dnn.ReLU())
    x = descend.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32))
    before = [p.detach().numpy().copy() for p in net.parameters()]
    y0 = net(x).detach().numpy()
    assert net.to(memory_format=descend.channels_last) is net
    assert all(np.array_equal(p.detach().numpy(), b) and p.is_contiguous() for p, b in zip(net.parameters(), before))
    y1 = net(x.to(memory_format=descend.channels_last)).detach().numpy()  # another lowering: float32 rounding
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-6)
    tnet = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU())
    tnet.to(memory_format=torch.channels_last)  # the same call runs under PyTorch

"""Probes: the nn.Module API — parameters, buffers, state dicts, containers, modes, traversal."""

import copy
from collections import OrderedDict

from tests.probes.harness import arr, fill, probe, probes, raised


def _net(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)
            self.fc1 = nn.Linear(8, 4)
            self.fc2 = nn.Linear(4, 3)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv1(x))), 2)
            x = self.drop(torch.flatten(x, 1))
            return self.fc2(torch.relu(self.fc1(x)))
    torch.manual_seed(0)
    return fill(torch, Net())


def _mlp(torch):
    nn = torch.nn
    torch.manual_seed(0)
    return fill(torch, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)))


probes("module", {
    "named_parameters": lambda torch: [(n, p.shape) for n, p in _net(torch).named_parameters()],
    "parameters_count": lambda torch: sum(p.numel() for p in _net(torch).parameters()),
    "parameters_trainable": lambda torch: (
        sum(p.numel() for p in _net(torch).parameters() if p.requires_grad)),
    "parameters_is_generator": lambda torch: type(_net(torch).parameters()).__name__,
    "parameters_no_recurse": lambda torch: list(_net(torch).parameters(recurse=False)),
    "param_is_parameter": lambda torch: (
        isinstance(next(_net(torch).parameters()), torch.nn.Parameter)),
    "param_requires_grad": lambda torch: _net(torch).fc1.weight.requires_grad,
    "param_repr_type": lambda torch: type(_net(torch).fc1.weight).__name__,
    "buffers": lambda torch: [(n, b) for n, b in _net(torch).named_buffers()],
    "state_dict_keys": lambda torch: list(_net(torch).state_dict().keys()),
    "state_dict_type": lambda torch: type(_net(torch).state_dict()).__name__,
    "state_dict_values": lambda torch: _mlp(torch).state_dict(),
    "state_dict_detached": lambda torch: _mlp(torch).state_dict()["0.weight"].requires_grad,
    "state_dict_shares_memory": lambda torch: (
        _act(_mlp(torch), lambda m: m.state_dict()["0.bias"].zero_(), lambda m: m[0].bias)),
    "state_dict_prefix_nested": lambda torch: list(torch.nn.Sequential(_mlp(torch)).state_dict()),
    "load_state_dict_roundtrip": lambda torch: _load_roundtrip(torch),
    "load_state_dict_result": lambda torch: (
        _keys(_mlp(torch).load_state_dict(_mlp(torch).state_dict()))),
    "load_state_dict_non_strict": lambda torch: (
        _keys(_mlp(torch).load_state_dict({"0.weight": torch.zeros(4, 3), "junk": torch.ones(1)},
                                          strict=False))),
    "load_state_dict_copies": lambda torch: _load_copies(torch),
    "children": lambda torch: [type(c).__name__ for c in _net(torch).children()],
    "named_children": lambda torch: [n for n, _ in _net(torch).named_children()],
    "modules": lambda torch: [type(m).__name__ for m in _mlp(torch).modules()],
    "named_modules": lambda torch: [n for n, _ in _net(torch).named_modules()],
    "training_default": lambda torch: _net(torch).training,
    "eval_sets_children": lambda torch: (
        _act(_net(torch), lambda m: m.eval(),
             lambda m: (m.training, m.fc1.training, m.drop.training))),
    "eval_returns_self": lambda torch: (lambda m: m.eval() is m)(_net(torch)),
    "train_false": lambda torch: (
        _act(_net(torch), lambda m: m.train(False), lambda m: m.bn.training)),
    "forward_train": lambda torch: _net(torch).eval()(torch.tensor(arr(2, 1, 6, 6))),
    "forward_batchnorm_running": lambda torch: (
        _act(_net(torch), lambda m: m(torch.tensor(arr(2, 1, 6, 6))),
             lambda m: (m.bn.running_mean, m.bn.running_var, m.bn.num_batches_tracked))),
    "call_forward_directly": lambda torch: _mlp(torch).forward(torch.tensor(arr(2, 3))),
    "zero_grad_sets_none": lambda torch: _zero_grad(torch, None),
    "zero_grad_set_to_none_false": lambda torch: _zero_grad(torch, False),
    "requires_grad_false": lambda torch: (
        [p.requires_grad for p in _mlp(torch).requires_grad_(False).parameters()]),
    "freeze_layer": lambda torch: _freeze(torch),
    "apply_init": lambda torch: _apply(torch),
    "add_module": lambda torch: (
        _act(_mlp(torch), lambda m: m.add_module("extra", torch.nn.ReLU()), _child_names)),
    "register_module": lambda torch: (
        _act(_mlp(torch), lambda m: m.register_module("extra", torch.nn.ReLU()), len)),
    "setattr_registers": lambda torch: (
        _act(_mlp(torch), lambda m: setattr(m, "head", torch.nn.Linear(2, 1)),
             lambda m: len(list(m.parameters())))),
    "register_buffer": lambda torch: _buffer(torch, True),
    "register_buffer_non_persistent": lambda torch: _buffer(torch, False),
    "register_parameter": lambda torch: (
        _act(torch.nn.Module(),
             lambda m: m.register_parameter("scale", torch.nn.Parameter(torch.ones(1))),
             lambda m: list(m.state_dict()))),
    "register_parameter_none": lambda torch: (
        _act(torch.nn.Module(), lambda m: m.register_parameter("bias", None),
             lambda m: (m.bias, list(m.parameters())))),
    "get_submodule": lambda torch: type(_net(torch).get_submodule("fc2")).__name__,
    "get_submodule_nested": lambda torch: (
        torch.nn.Sequential(_mlp(torch)).get_submodule("0.2").out_features),
    "get_submodule_missing": lambda torch: raised(lambda: _net(torch).get_submodule("nope")),
    "get_parameter": lambda torch: _net(torch).get_parameter("fc1.bias"),
    "get_buffer": lambda torch: _net(torch).get_buffer("bn.running_mean"),
    "delattr_module": lambda torch: _act(_net(torch), lambda m: delattr(m, "drop"), _child_names),
    "linear_attrs": lambda torch: (
        _attrs(torch.nn.Linear(3, 5), "in_features", "out_features", "weight.shape", "bias.shape")),
    "conv_attrs": lambda torch: (
        _attrs(torch.nn.Conv2d(3, 8, 5, padding=2), "in_channels", "out_channels", "kernel_size",
               "stride", "padding")),
    "bn_attrs": lambda torch: (
        _attrs(torch.nn.BatchNorm1d(4), "num_features", "eps", "momentum", "affine",
               "track_running_stats")),
    "dropout_p": lambda torch: torch.nn.Dropout(0.3).p,
    "layernorm_attrs": lambda torch: (
        (lambda ln: (ln.normalized_shape, ln.eps))(torch.nn.LayerNorm(5))),
    "linear_repr": lambda torch: repr(torch.nn.Linear(2, 3)),
    "relu_repr": lambda torch: repr(torch.nn.ReLU()),
    "double_module": lambda torch: _mlp(torch).double()(torch.ones(1, 3, dtype=torch.float64)),
    "half_dtype": lambda torch: _mlp(torch).half()[0].weight.dtype,
    "float_module": lambda torch: _mlp(torch).double().float()[2].bias.dtype,
    "deepcopy": lambda torch: _deepcopy_independent(torch),
    "tied_weights_once": lambda torch: _tied(torch),
    "parameter_default_requires_grad": lambda torch: (
        torch.nn.Parameter(torch.zeros(2)).requires_grad),
    "parameter_no_grad": lambda torch: (
        torch.nn.Parameter(torch.zeros(2), requires_grad=False).requires_grad),
    "parameter_arith_is_tensor": lambda torch: type(torch.nn.Parameter(torch.ones(2)) * 2).__name__,
    "parameter_is_leaf": lambda torch: torch.nn.Parameter(torch.ones(2)).is_leaf,
    "parameter_data_type": lambda torch: type(torch.nn.Parameter(torch.ones(2)).data).__name__,
    "isinstance_module": lambda torch: isinstance(_mlp(torch), torch.nn.Module),
    "extra_repr_custom": lambda torch: _extra_repr(torch),
})



def _act(obj, action, read):
    """Apply action(obj) for its effect, then return read(obj)."""
    action(obj)
    return read(obj)


def _child_names(module):
    return [name for name, _ in module.named_children()]


def _keys(result):
    return sorted(result.missing_keys), result.unexpected_keys


def _attrs(obj, *names):
    """The values of dotted attribute names of obj."""
    out = []
    for name in names:
        value = obj
        for part in name.split("."):
            value = getattr(value, part)
        out.append(value)
    return tuple(out)


def _deepcopy_independent(torch):
    m = _mlp(torch)
    c = copy.deepcopy(m)
    c[0].weight.data.zero_()
    return m[0].weight


def _load_roundtrip(torch):
    src = _mlp(torch)
    dst = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    dst.load_state_dict(src.state_dict())
    x = torch.tensor(arr(2, 3))
    return torch.equal(src(x), dst(x)), dst[2].bias


def _load_copies(torch):
    m = torch.nn.Linear(2, 1)
    sd = {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}
    m.load_state_dict(sd)
    sd["weight"].add_(1)
    return m.weight, m.weight.requires_grad, type(m.weight).__name__


def _zero_grad(torch, set_to_none):
    m = _mlp(torch)
    m(torch.ones(1, 3)).sum().backward()
    if set_to_none is None:
        m.zero_grad()
    else:
        m.zero_grad(set_to_none=set_to_none)
    return [p.grad for p in m.parameters()]


def _freeze(torch):
    m = _mlp(torch)
    for p in m[0].parameters():
        p.requires_grad = False
    m(torch.ones(2, 3)).sum().backward()
    return [p.grad is None for p in m.parameters()]


def _apply(torch):
    def init(mod):
        if isinstance(mod, torch.nn.Linear):
            torch.nn.init.constant_(mod.weight, 0.5)
            torch.nn.init.zeros_(mod.bias)
    m = _mlp(torch)
    out = m.apply(init)
    return out is m, m(torch.ones(1, 3))


def _buffer(torch, persistent):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mask", torch.tril(torch.ones(2, 2)), persistent=persistent)
            self.lin = torch.nn.Linear(2, 2)
    m = M()
    return list(m.state_dict()), [n for n, _ in m.named_buffers()], m.mask, m.mask.requires_grad


def _tied(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(4, 3)
            self.out = torch.nn.Linear(3, 4, bias=False)
            self.out.weight = self.emb.weight
    m = M()
    return len(list(m.parameters())), list(m.state_dict()), [n for n, _ in m.named_parameters()]


def _extra_repr(torch):
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.k = 2

        def extra_repr(self):
            return f"k={self.k}"
    return repr(Scale())


# ---- containers ----

probes("container", {
    "sequential_len_index": lambda torch: (
        (lambda s: (len(s), type(s[1]).__name__, type(s[-1]).__name__))(_mlp(torch))),
    "sequential_slice": lambda torch: (lambda s: (type(s[:2]).__name__, len(s[:2])))(_mlp(torch)),
    "sequential_iter": lambda torch: [type(m).__name__ for m in _mlp(torch)],
    "sequential_ordered_dict": lambda torch: (
        list(torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2)),
                                              ("act", torch.nn.ReLU())])).state_dict())),
    "sequential_named_attr": lambda torch: (
        type(torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2))])).fc).__name__),
    "sequential_append": lambda torch: (
        (lambda s: (s.append(torch.nn.ReLU()), len(s))[1])(_mlp(torch))),
    "sequential_empty_identity": lambda torch: torch.nn.Sequential()(torch.ones(2)),
    "sequential_star_list": lambda torch: (
        len(torch.nn.Sequential(*[torch.nn.ReLU() for _ in range(3)]))),
    "modulelist": lambda torch: _modulelist(torch),
    "modulelist_append_extend": lambda torch: (
        _act(torch.nn.ModuleList(),
             lambda ml: (ml.append(torch.nn.ReLU()), ml.extend([torch.nn.Tanh()])), len)),
    "modulelist_index_slice": lambda torch: (
        (lambda ml: (type(ml[0]).__name__, len(ml[1:])))(
            torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.ReLU()]))),
    "modulelist_insert": lambda torch: (
        _act(torch.nn.ModuleList([torch.nn.ReLU()]), lambda ml: ml.insert(0, torch.nn.Tanh()),
             lambda ml: type(ml[0]).__name__)),
    "moduledict": lambda torch: _moduledict(torch),
    "moduledict_items": lambda torch: (
        [(k, type(v).__name__)
         for k, v in torch.nn.ModuleDict({"a": torch.nn.ReLU(), "b": torch.nn.Tanh()}).items()]),
    "moduledict_keys_in": lambda torch: (
        (lambda d: (list(d.keys()), "a" in d, len(d)))(torch.nn.ModuleDict({"a": torch.nn.ReLU()}))),
    "moduledict_setitem": lambda torch: (
        _act(torch.nn.ModuleDict(), lambda d: d.__setitem__("x", torch.nn.Linear(1, 1)),
             lambda d: list(d.state_dict()))),
    "parameterlist": lambda torch: _parameterlist(torch),
    "parameterlist_append": lambda torch: (
        _act(torch.nn.ParameterList(), lambda pl: pl.append(torch.nn.Parameter(torch.ones(1))), len)),
    "parameterlist_wraps_tensor": lambda torch: (
        type(torch.nn.ParameterList([torch.ones(2)])[0]).__name__),
    "parameterdict": lambda torch: _parameterdict(torch),
    "parameterdict_keys": lambda torch: (
        list(torch.nn.ParameterDict({"w": torch.nn.Parameter(torch.ones(1)),
                                     "b": torch.nn.Parameter(torch.zeros(1))}).keys())),
    "parameterdict_setitem": lambda torch: (
        _act(torch.nn.ParameterDict(),
             lambda pd: pd.__setitem__("s", torch.nn.Parameter(torch.ones(2))),
             lambda pd: (pd["s"], len(pd)))),
})


def _modulelist(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    torch.manual_seed(0)
    m = fill(torch, M())
    return list(m.state_dict()), len(m.layers), m(torch.ones(1, 2))


def _moduledict(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = torch.nn.ModuleDict(dict(wte=torch.nn.Embedding(4, 2),
                                                        ln_f=torch.nn.LayerNorm(2)))

        def forward(self, idx):
            return self.transformer.ln_f(self.transformer.wte(idx))
    torch.manual_seed(0)
    m = fill(torch, M())
    return list(m.state_dict()), m(torch.tensor([[1, 3]]))


def _parameterlist(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.full((2,), float(i))) for i in range(3)])

        def forward(self, x):
            for w in self.ws:
                x = x * w
            return x
    m = M()
    y = m(torch.ones(2) * 2)
    y.sum().backward()
    return list(m.state_dict()), len(list(m.parameters())), [w.grad for w in m.ws]


def _parameterdict(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict({"scale": torch.nn.Parameter(torch.ones(2) * 3),
                                             "shift": torch.nn.Parameter(torch.ones(2))})

        def forward(self, x):
            return x * self.p["scale"] + self.p["shift"]
    m = M()
    m(torch.ones(2)).sum().backward()
    return list(m.state_dict()), [(n, p.grad) for n, p in m.named_parameters()]


@probe("module")
def training_loop_mnist_style(torch):
    # mnist: eval(), loss.item() accumulation, argmax(dim=1, keepdim=True) correctness count
    net = _net(torch)
    x = torch.tensor(arr(4, 1, 6, 6))
    target = torch.tensor([0, 2, 1, 2])
    net.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        output = torch.nn.functional.log_softmax(net(x), dim=1)
        test_loss += torch.nn.functional.nll_loss(output, target, reduction="sum").item()
        pred = output.argmax(dim=1, keepdim=True)
        correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / 4, correct


@probe("module")
def custom_init_weights_idiom(torch):
    # word_language_model: init_weights with uniform_/zeros_ on .weight
    torch.manual_seed(0)
    enc = torch.nn.Embedding(5, 3)
    dec = torch.nn.Linear(3, 5)
    initrange = 0.1
    torch.nn.init.uniform_(enc.weight, -initrange, initrange)
    torch.nn.init.zeros_(dec.bias)
    torch.nn.init.uniform_(dec.weight, -initrange, initrange)
    return bool((enc.weight.abs() <= initrange).all()), dec.bias, enc.weight.requires_grad


probes("module", {
    "state_dict_keep_vars": lambda torch: (
        [v.requires_grad for v in _mlp(torch).state_dict(keep_vars=True).values()]),
    "state_dict_prefix_arg": lambda torch: list(_mlp(torch).state_dict(prefix="model.")),
    "named_parameters_prefix": lambda torch: (
        [n for n, _ in _mlp(torch).named_parameters(prefix="net")]),
    "named_parameters_no_recurse": lambda torch: (
        [n for n, _ in _mlp(torch).named_parameters(recurse=False)]),
    "load_state_dict_assign": lambda torch: (
        _act(torch.nn.Linear(2, 1),
             lambda m: m.load_state_dict({"weight": torch.ones(1, 2), "bias": torch.zeros(1)},
                                         assign=True),
             lambda m: (m.weight, type(m.weight).__name__))),
    "to_dtype_converts_buffers": lambda torch: (
        _attrs(torch.nn.BatchNorm1d(2).to(torch.float64), "running_mean.dtype",
               "num_batches_tracked.dtype")),
    "buffers_count": lambda torch: len(list(_net(torch).buffers())),
    "set_param_none": lambda torch: (
        _act(fill(torch, torch.nn.Linear(2, 1)), lambda m: setattr(m, "bias", None),
             lambda m: ([n for n, _ in m.named_parameters()], m(torch.ones(1, 2))))),
    "sequential_repr_lines": lambda torch: (
        repr(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())).splitlines()),
    "module_getattr_buffer": lambda torch: _net(torch).bn.running_var,
    "train_mode_returns_self": lambda torch: (lambda m: m.train() is m)(_mlp(torch)),
    "modules_dedup_shared": lambda torch: (
        (lambda r: len(list(torch.nn.Sequential(r, r).modules())))(torch.nn.ReLU())),
    "parameters_dedup_shared": lambda torch: (
        (lambda l: len(list(torch.nn.Sequential(l, l).parameters())))(torch.nn.Linear(2, 2))),
})

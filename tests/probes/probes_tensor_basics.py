"""Probes: import paths, devices, factories and basic Tensor attributes."""

import importlib
import math

import numpy as np

from tests.probes.harness import arr, grad, probe, probes


def _mod(torch, path):
    return importlib.import_module(f"{torch.__name__}.{path}")


# ---- import paths a script writes ----

probes("import", {
    "utils_data": lambda torch: _mod(torch, "utils.data").DataLoader.__name__,
    "utils_data_attr": lambda torch: torch.utils.data.TensorDataset.__name__,
    "utils_data_dataset": lambda torch: _mod(torch, "utils.data").Dataset.__name__,
    "nn_functional": lambda torch: _mod(torch, "nn.functional").relu.__name__,
    "nn_utils_rnn": lambda torch: _mod(torch, "nn.utils.rnn").pad_sequence.__name__,
    "nn_utils_clip": lambda torch: torch.nn.utils.clip_grad_norm_.__name__,
    "nn_init": lambda torch: _mod(torch, "nn.init").zeros_.__name__,
    "optim_lr_scheduler": lambda torch: _mod(torch, "optim.lr_scheduler").StepLR.__name__,
    "optim_attr": lambda torch: torch.optim.Adadelta.__name__,
    "autograd": lambda torch: _mod(torch, "autograd").Function.__name__,
    "autograd_attr": lambda torch: torch.autograd.Function.__name__,
    "from_nn_import": lambda torch: (
        [c.__name__ for c in (torch.nn.Module, torch.nn.Linear, torch.nn.Parameter)]),
    "tensor_class": lambda torch: torch.Tensor.__name__,
    "nn_parameter_is_tensor": lambda torch: issubclass(torch.nn.Parameter, torch.Tensor),
    "cuda_is_available": lambda torch: torch.cuda.is_available(),
    "cuda_device_count": lambda torch: torch.cuda.device_count(),
    "accelerator_is_available": lambda torch: torch.accelerator.is_available(),
    "mps_is_available": lambda torch: torch.backends.mps.is_available(),
    "manual_seed_all": lambda torch: (torch.cuda.manual_seed_all(0), 1)[1],
    "is_tensor": lambda torch: (torch.is_tensor(torch.ones(1)), torch.is_tensor([1.0])),
    "numel_fn": lambda torch: torch.numel(torch.ones(2, 3)),
})


@probe("import")
def device_pick_idiom(torch):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return str(device), device.type


@probe("import")
def accelerator_idiom(torch):
    # pytorch/examples mnist: the accelerator or the CPU.
    use = torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use else torch.device("cpu")
    return device.type


# ---- devices ----

probes("device", {
    "device_str": lambda torch: str(torch.device("cpu")),
    "device_type": lambda torch: torch.device("cpu").type,
    "device_eq": lambda torch: torch.device("cpu") == torch.device("cpu"),
    "device_index": lambda torch: torch.device("cpu").index,
    "cuda_device_str": lambda torch: str(torch.device("cuda:0")),
    "cuda_device_index": lambda torch: torch.device("cuda", 1).index,
    "tensor_device": lambda torch: torch.ones(2).device,
    "tensor_device_type": lambda torch: torch.ones(2).device.type,
    "param_device": lambda torch: torch.nn.Linear(2, 2).weight.device,
    "is_cuda": lambda torch: torch.ones(2).is_cuda,
    "to_device_obj": lambda torch: torch.ones(2).to(torch.device("cpu")),
    "to_device_str": lambda torch: torch.ones(2).to("cpu"),
    "to_device_kw": lambda torch: torch.ones(2).to(device="cpu"),
    "to_dtype": lambda torch: torch.ones(2).to(torch.float64),
    "to_dtype_kw": lambda torch: torch.ones(2).to(dtype=torch.int64),
    "to_device_dtype": lambda torch: torch.ones(2).to("cpu", torch.float64),
    "to_non_blocking": lambda torch: torch.ones(2).to("cpu", non_blocking=True),
    "to_other_tensor": lambda torch: torch.ones(2).to(torch.zeros(1, dtype=torch.float64)),
    "to_same_is_self": lambda torch: (lambda x: x.to("cpu") is x)(torch.ones(2)),
    "cpu_method": lambda torch: torch.arange(3).cpu(),
    "factory_device": lambda torch: torch.zeros(2, device="cpu").device,
    "factory_device_obj": lambda torch: torch.ones(2, device=torch.device("cpu")),
    "tensor_device_kw": lambda torch: torch.tensor([1, 2], device="cpu"),
    "arange_device": lambda torch: torch.arange(4, device="cpu"),
    "randn_device": lambda torch: torch.randn(2, 3, device="cpu").shape,
    "module_to_device": lambda torch: torch.nn.Linear(2, 2).to("cpu").weight.device,
    "module_to_returns_self": lambda torch: (
        (lambda m: m.to(torch.device("cpu")) is m)(torch.nn.Linear(2, 2))),
    "module_cpu": lambda torch: (lambda m: m.cpu() is m)(torch.nn.Linear(2, 2)),
    "module_to_dtype": lambda torch: torch.nn.Linear(2, 2).to(torch.float64).weight.dtype,
    "module_double": lambda torch: torch.nn.Linear(2, 2).double().bias.dtype,
    "cuda_unavailable_raises_or_ok": lambda torch: torch.cuda.is_available() or "no cuda",
})


@probe("device", raises=True)
def to_bad_device_raises(torch):
    return torch.ones(2).to("nodevice")


@probe("device")
def to_device_in_loop(torch):
    device = torch.device("cpu")
    data, target = torch.ones(2, 3), torch.tensor([0, 1])
    data, target = data.to(device), target.to(device)
    return data.device, target.dtype


# ---- factories ----

probes("factory", {
    "tensor_list": lambda torch: torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
    "tensor_int_list": lambda torch: torch.tensor([1, 2, 3]),
    "tensor_bool_list": lambda torch: torch.tensor([True, False]),
    "tensor_scalar": lambda torch: torch.tensor(3.5),
    "tensor_int_scalar": lambda torch: torch.tensor(3),
    "tensor_dtype_kw": lambda torch: torch.tensor([1, 2], dtype=torch.float32),
    "tensor_requires_grad": lambda torch: torch.tensor([1.0, 2.0], requires_grad=True),
    "tensor_from_numpy_f64": lambda torch: torch.tensor(np.array([1.0, 2.0])),
    "tensor_from_numpy_f32": lambda torch: torch.tensor(arr(2, 2)),
    "tensor_from_numpy_int": lambda torch: torch.tensor(np.arange(3, dtype=np.int32)),
    "from_numpy": lambda torch: torch.from_numpy(np.arange(4.0)),
    "from_numpy_shares": lambda torch: (
        (lambda a: (torch.from_numpy(a).add_(1), a[0])[1])(np.zeros(2))),
    "as_tensor": lambda torch: torch.as_tensor([1.0, 2.0]),
    "as_tensor_dtype": lambda torch: torch.as_tensor(np.arange(3), dtype=torch.float32),
    "Tensor_ctor_list": lambda torch: torch.Tensor([-4.0]),
    "Tensor_ctor_double": lambda torch: torch.Tensor([-4.0]).double(),
    "Tensor_ctor_ints": lambda torch: torch.Tensor([1, 2]),
    "FloatTensor": lambda torch: torch.FloatTensor([1, 2]),
    "LongTensor": lambda torch: torch.LongTensor([1, 2]),
    "zeros": lambda torch: torch.zeros(2, 3),
    "zeros_tuple": lambda torch: torch.zeros((2, 3)),
    "zeros_long": lambda torch: torch.zeros(3, dtype=torch.long),
    "ones_int": lambda torch: torch.ones(2, dtype=torch.int32),
    "ones_bool": lambda torch: torch.ones(2, dtype=torch.bool),
    "zeros_size": lambda torch: torch.zeros(torch.ones(2, 3).size()),
    "full": lambda torch: torch.full((2, 2), 7.0),
    "full_int": lambda torch: torch.full((2,), 7),
    "full_bool": lambda torch: torch.full((2,), True),
    "full_neg_inf": lambda torch: torch.full((2,), float("-inf")),
    "empty_shape": lambda torch: torch.empty(3, 4).shape,
    "eye": lambda torch: torch.eye(3),
    "eye_rect": lambda torch: torch.eye(2, 3),
    "arange_int": lambda torch: torch.arange(5),
    "arange_start": lambda torch: torch.arange(2, 8, 2),
    "arange_float": lambda torch: torch.arange(0, 1, 0.25),
    "arange_float_dtype": lambda torch: torch.arange(0, 6, 2, dtype=torch.float),
    "arange_float_end": lambda torch: torch.arange(3.0),
    "linspace": lambda torch: torch.linspace(0, 1, 5),
    "logspace": lambda torch: torch.logspace(0, 2, 3),
    "zeros_like": lambda torch: torch.zeros_like(torch.ones(2, dtype=torch.int64)),
    "ones_like_dtype": lambda torch: torch.ones_like(torch.ones(2), dtype=torch.float64),
    "full_like": lambda torch: torch.full_like(torch.ones(2, 2), 3.0),
    "empty_like_shape": lambda torch: torch.empty_like(torch.ones(2, 5)).shape,
    "rand_shape_dtype": lambda torch: (torch.rand(2, 3).shape, torch.rand(2, 3).dtype),
    "rand_range": lambda torch: bool(((torch.rand(100) >= 0) & (torch.rand(100) < 1)).all()),
    "randn_tuple_shape": lambda torch: torch.randn((4, 2)).shape,
    "randn_like_shape": lambda torch: torch.randn_like(torch.ones(3, dtype=torch.float64)).dtype,
    "rand_like_dtype": lambda torch: torch.rand_like(torch.ones(3)).shape,
    "randint": lambda torch: (torch.randint(0, 10, (5,)).dtype, torch.randint(0, 10, (5,)).shape),
    "randint_range": lambda torch: (
        bool(((torch.randint(3, 5, (50,)) >= 3) & (torch.randint(3, 5, (50,)) < 5)).all())),
    "randint_high_only": lambda torch: torch.randint(4, (2, 2)).shape,
    "randperm": lambda torch: sorted(torch.randperm(6).tolist()),
    "randperm_dtype": lambda torch: torch.randperm(4).dtype,
    "randn_requires_grad": lambda torch: torch.randn(2, requires_grad=True).requires_grad,
    "zeros_requires_grad": lambda torch: torch.zeros(2, requires_grad=True),
    "tensor_of_tensors_scalar": lambda torch: torch.tensor([torch.tensor(1.0).item(), 2.0]),
    "stack_scalars": lambda torch: torch.stack([torch.tensor(1.0), torch.tensor(2.0)]),
    "tril_ones": lambda torch: torch.tril(torch.ones(3, 3)),
    "tensor_nested_ints_float": lambda torch: torch.tensor([[1, 2.5], [3, 4]]),
})


@probe("factory")
def manual_seed_reproducible(torch):
    torch.manual_seed(42)
    a = torch.randn(3)
    torch.manual_seed(42)
    b = torch.randn(3)
    return torch.equal(a, b)


@probe("factory")
def generator_reproducible(torch):
    g = torch.Generator().manual_seed(2147483647)
    a = torch.rand(4, generator=g)
    g = torch.Generator().manual_seed(2147483647)
    return torch.equal(a, torch.rand(4, generator=g))


@probe("factory")
def generator_randn_kw(torch):
    g = torch.Generator().manual_seed(0)
    w = torch.randn((27, 27), generator=g, requires_grad=True)
    return w.shape, w.requires_grad, w.is_leaf


@probe("factory")
def generator_manual_seed_returns_generator(torch):
    g = torch.Generator()
    return type(g.manual_seed(1)).__name__


@probe("factory")
def generator_state_roundtrip(torch):
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    a = torch.rand(2, generator=g)
    g.set_state(state)
    return torch.equal(a, torch.rand(2, generator=g))


@probe("factory")
def rng_state_roundtrip(torch):
    state = torch.get_rng_state()
    a = torch.rand(3)
    torch.set_rng_state(state)
    return torch.equal(a, torch.rand(3))


@probe("factory")
def initial_seed(torch):
    torch.manual_seed(123)
    return torch.initial_seed()


@probe("factory")
def multinomial_generator(torch):
    g = torch.Generator().manual_seed(2147483647)
    p = torch.tensor([0.0, 1.0, 0.0])
    return torch.multinomial(p, num_samples=1, replacement=True, generator=g)


@probe("factory")
def multinomial_rows(torch):
    probs = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    return torch.multinomial(probs, num_samples=3, replacement=True)


@probe("factory")
def multinomial_no_replacement(torch):
    out = torch.multinomial(torch.tensor([0.2, 0.3, 0.5]), 3)
    return sorted(out.tolist()), out.dtype


@probe("factory")
def deterministic_algorithms(torch):
    torch.use_deterministic_algorithms(True)
    on = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    return on, torch.are_deterministic_algorithms_enabled()


@probe("factory")
def positional_encoding(torch):
    # word_language_model: sinusoidal table written with slicing assignment.
    max_len, d_model = 5, 4
    pe = torch.zeros(max_len, d_model)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.unsqueeze(0).transpose(0, 1)


# ---- attributes of a tensor ----

probes("attr", {
    "shape": lambda torch: torch.ones(2, 3).shape,
    "size": lambda torch: torch.ones(2, 3).size(),
    "size_dim": lambda torch: torch.ones(2, 3).size(1),
    "size_neg": lambda torch: torch.ones(2, 3).size(-1),
    "size_is_tuple": lambda torch: isinstance(torch.ones(2).size(), tuple),
    "shape_index": lambda torch: torch.ones(2, 3).shape[0],
    "dim": lambda torch: torch.ones(2, 3, 4).dim(),
    "ndim": lambda torch: torch.ones(2, 3).ndim,
    "numel": lambda torch: torch.ones(2, 3).numel(),
    "nelement": lambda torch: torch.ones(2, 3).nelement(),
    "len": lambda torch: len(torch.ones(4, 2)),
    "dtype": lambda torch: torch.ones(1).dtype,
    "item_float": lambda torch: torch.tensor([2.5]).item(),
    "item_int": lambda torch: torch.tensor(3).item(),
    "item_bool": lambda torch: torch.tensor(True).item(),
    "tolist": lambda torch: torch.tensor([[1, 2], [3, 4]]).tolist(),
    "tolist_float": lambda torch: torch.tensor([0.5, 1.5]).tolist(),
    "tolist_scalar": lambda torch: torch.tensor(2.0).tolist(),
    "numpy": lambda torch: torch.tensor([1.0, 2.0]).numpy(),
    "numpy_int": lambda torch: torch.arange(3).numpy(),
    "numpy_shares_memory": lambda torch: (
        (lambda t: (t.numpy().__setitem__(0, 5.0), t)[1])(torch.zeros(2))),
    "float_builtin": lambda torch: float(torch.tensor(2.5)),
    "int_builtin": lambda torch: int(torch.tensor(7)),
    "bool_builtin": lambda torch: bool(torch.tensor(1.0)),
    "iterate": lambda torch: [t.item() for t in torch.tensor([1.0, 2.0])],
    "iterate_rows": lambda torch: [r for r in torch.arange(4).view(2, 2)],
    "unpack": lambda torch: (lambda a, b: (a, b))(*torch.tensor([3, 4])),
    "in_operator": lambda torch: 2 in torch.tensor([1, 2, 3]),
    "is_leaf": lambda torch: (
        (torch.ones(2, requires_grad=True).is_leaf, (torch.ones(2, requires_grad=True) * 2).is_leaf)),
    "grad_fn_none": lambda torch: torch.ones(2).grad_fn is None,
    "grad_fn_set": lambda torch: (torch.ones(2, requires_grad=True) * 2).grad_fn is not None,
    "element_size": lambda torch: (
        (torch.ones(1).element_size(), torch.ones(1, dtype=torch.float64).element_size())),
    "is_floating_point": lambda torch: (
        (torch.ones(1).is_floating_point(), torch.arange(2).is_floating_point())),
    "is_contiguous": lambda torch: (
        (torch.ones(2, 3).is_contiguous(), torch.ones(2, 3).t().is_contiguous())),
    "contiguous_values": lambda torch: torch.arange(6).view(2, 3).t().contiguous(),
    "stride": lambda torch: torch.ones(2, 3).stride(),
    "data_ptr_shared": lambda torch: (
        (lambda t: t.view(3, 2).data_ptr() == t.data_ptr())(torch.ones(6))),
    "clone": lambda torch: torch.tensor([1.0, 2.0]).clone(),
    "clone_independent": lambda torch: (lambda t: (t.clone().add_(1), t)[1])(torch.zeros(2)),
    "str_repr_type": lambda torch: type(repr(torch.ones(1))).__name__,
    "format_item": lambda torch: f"{torch.tensor(0.5).item():.3f}",
    "format_tensor_scalar": lambda torch: f"{torch.tensor(0.5):.3f}",
    "math_exp_of_tensor": lambda torch: math.exp(torch.tensor(1.0)),
    "sum_of_numel": lambda torch: sum(p.numel() for p in torch.nn.Linear(3, 2).parameters()),
    "hash_usable": lambda torch: len({torch.ones(1), torch.ones(1)}),
    "new_zeros": lambda torch: torch.ones(2, dtype=torch.float64).new_zeros(3),
    "new_ones": lambda torch: torch.ones(2).new_ones((2, 2)),
    "new_full": lambda torch: torch.ones(2).new_full((2,), 5.0),
    "new_tensor": lambda torch: torch.ones(2, dtype=torch.float64).new_tensor([1, 2]),
    "new_empty_shape": lambda torch: torch.ones(2).new_empty(4).shape,
})

probes("attr", {
    "numpy_requires_grad_raises": lambda torch: torch.ones(2, requires_grad=True).numpy(),
    "bool_of_many_raises": lambda torch: bool(torch.ones(2)),
    "item_of_many_raises": lambda torch: torch.ones(3).item(),
}, raises=True)


def _same_draws(torch, draw):
    """Two draws from generators seeded alike are equal; the shape and dtype of one."""
    a = draw(torch.Generator().manual_seed(7))
    b = draw(torch.Generator().manual_seed(7))
    return torch.equal(a, b), a.shape, a.dtype


probes("generator", {
    "randn": lambda torch: _same_draws(torch, lambda g: torch.randn(2, 3, generator=g)),
    "rand": lambda torch: _same_draws(torch, lambda g: torch.rand(4, generator=g)),
    "randint": lambda torch: _same_draws(torch, lambda g: torch.randint(0, 9, (5,), generator=g)),
    "randperm": lambda torch: _same_draws(torch, lambda g: torch.randperm(6, generator=g)),
    "multinomial": lambda torch: (
        _same_draws(torch, lambda g: torch.multinomial(torch.ones(5), 3, generator=g))),
    "normal_method": lambda torch: (
        _same_draws(torch, lambda g: torch.empty(4).normal_(generator=g))),
    "uniform_method": lambda torch: (
        _same_draws(torch, lambda g: torch.empty(4).uniform_(-1, 1, generator=g))),
    "bernoulli": lambda torch: (
        _same_draws(torch, lambda g: torch.bernoulli(torch.full((6,), 0.5), generator=g))),
    "normal_fn": lambda torch: (
        _same_draws(torch, lambda g: torch.normal(torch.zeros(3), torch.ones(3), generator=g))),
    "init_normal": lambda torch: (
        _same_draws(torch, lambda g: torch.nn.init.normal_(torch.empty(3), generator=g))),
    "seed_method": lambda torch: torch.Generator().manual_seed(5).initial_seed(),
    "generator_device": lambda torch: torch.Generator().device,
    "default_generator": lambda torch: isinstance(torch.default_generator, torch.Generator),
    "global_seed_affects_randn": lambda torch: (
        (torch.manual_seed(1), torch.randn(2).shape, torch.manual_seed(1))[1]),
    "manual_seed_returns_generator": lambda torch: (
        isinstance(torch.manual_seed(0), torch.Generator)),
    "cuda_guarded_move": lambda torch: (
        (lambda x: x.cuda() if torch.cuda.is_available() else x)(torch.ones(2))),
})


probes("device", {
    "to_device_dtype_kw": lambda torch: torch.ones(2).to("cpu", dtype=torch.float64),
    "to_all_kw_copy": lambda torch: (
        (lambda x: (lambda y: (y is x, y.dtype))(x.to(device="cpu", dtype=torch.int32, copy=True)))(
            torch.ones(2))),
    "to_dtype_non_blocking_positional": lambda torch: torch.ones(2).to(torch.float64, True),
    "to_tensor_non_blocking": lambda torch: (
        torch.ones(2).to(torch.ones(1, dtype=torch.int32), non_blocking=True)),
    "to_device_copy_is_new": lambda torch: (lambda x: x.to("cpu", copy=True) is x)(torch.ones(2)),
    "to_keeps_grad_graph": lambda torch: (
        grad(lambda x: x.to(torch.float64).sum(), torch.ones(2, requires_grad=True))),
    "module_to_device_dtype": lambda torch: (
        torch.nn.Linear(2, 2).to("cpu", torch.float64).weight.dtype),
    "module_to_kw": lambda torch: (
        torch.nn.Linear(2, 2).to(device=torch.device("cpu"), dtype=torch.float64).bias.dtype),
    "module_to_tensor": lambda torch: (
        torch.nn.Linear(2, 2).to(torch.zeros(1, dtype=torch.float64)).weight.dtype),
    "device_of_device": lambda torch: torch.device(torch.device("cpu")),
    "device_compare_str": lambda torch: torch.ones(1).device == torch.device("cpu"),
    "device_str_of_tensor": lambda torch: str(torch.ones(1).device),
    "get_device_cpu": lambda torch: torch.ones(1).get_device(),
    "factory_like_device": lambda torch: (
        (lambda x: torch.zeros_like(x, device=x.device).device)(torch.ones(2))),
    "empty_on_tensor_device": lambda torch: (
        (lambda x: torch.empty(3, device=x.device).shape)(torch.ones(2))),
    "device_in_set": lambda torch: len({torch.device("cpu"), torch.device("cpu")}),
    "device_repr": lambda torch: repr(torch.device("cpu")),
    "is_cpu": lambda torch: torch.ones(1).is_cpu,
    "param_to_keeps_parameter": lambda torch: type(torch.nn.Linear(2, 2).to("cpu").weight).__name__,
})

"""Probes: dtypes as objects, promotion rules, conversions."""

import numpy as np

from tests.probes.harness import grad, probe, probes, raised


def _i(torch):
    return torch.tensor([1, 2, 3])


def _f(torch):
    return torch.tensor([1.0, 2.0, 3.0])


probes("dtype", {
    "float32_name": lambda torch: str(torch.float32).split(".")[-1],
    "objects": lambda torch: (
        [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64]),
    "ints": lambda torch: [torch.int8, torch.int16, torch.int32, torch.uint8],
    "aliases": lambda torch: (torch.float == torch.float32, torch.double == torch.float64,
                              torch.long == torch.int64, torch.int == torch.int32,
                              torch.half == torch.float16),
    "bool_dtype": lambda torch: torch.bool,
    "eq_tensor_dtype": lambda torch: torch.ones(1).dtype == torch.float32,
    "ne_tensor_dtype": lambda torch: torch.ones(1).dtype != torch.float64,
    "dtype_is_floating_point": lambda torch: (
        (torch.float32.is_floating_point, torch.int64.is_floating_point)),
    "dtype_itemsize": lambda torch: (torch.float64.itemsize, torch.int8.itemsize),
    "dtype_in_dict": lambda torch: {torch.float32: "f"}[torch.ones(1).dtype],
    "is_floating_point_fn": lambda torch: (
        (torch.is_floating_point(_f(torch)), torch.is_floating_point(_i(torch)))),
    "default_dtype": lambda torch: torch.get_default_dtype(),
    "finfo_eps": lambda torch: torch.finfo(torch.float32).eps,
    "finfo_max": lambda torch: torch.finfo(torch.float32).max,
    "finfo_tiny": lambda torch: torch.finfo(torch.float64).tiny,
    "finfo_min_f16": lambda torch: torch.finfo(torch.float16).min,
    "finfo_default": lambda torch: torch.finfo().bits,
    "iinfo_max": lambda torch: torch.iinfo(torch.int64).max,
    "iinfo_min": lambda torch: torch.iinfo(torch.int8).min,
    "iinfo_uint8": lambda torch: torch.iinfo(torch.uint8).max,
    "promote_types": lambda torch: torch.promote_types(torch.int32, torch.float32),
    "promote_types_ints": lambda torch: torch.promote_types(torch.uint8, torch.int8),
    "result_type_scalar": lambda torch: torch.result_type(_i(torch), 1.0),
    "result_type_tensors": lambda torch: (
        torch.result_type(_i(torch), torch.ones(1, dtype=torch.float64))),
    "can_cast": lambda torch: (
        (torch.can_cast(torch.float64, torch.int32), torch.can_cast(torch.int32, torch.float32))),
    "int_list_dtype": lambda torch: torch.tensor([1, 2]).dtype,
    "float_list_dtype": lambda torch: torch.tensor([1.0]).dtype,
    "numpy_f64_kept": lambda torch: torch.tensor(np.zeros(2)).dtype,
    "numpy_f64_from_numpy": lambda torch: torch.from_numpy(np.zeros(2)).dtype,
    "numpy_int32_kept": lambda torch: torch.tensor(np.zeros(2, dtype=np.int32)).dtype,
    "numpy_bool_kept": lambda torch: torch.tensor(np.array([True])).dtype,
    "numpy_uint8_kept": lambda torch: torch.tensor(np.zeros(2, dtype=np.uint8)).dtype,
    "arange_float_dtype": lambda torch: torch.arange(0.0, 2.0).dtype,
    "linspace_dtype": lambda torch: torch.linspace(0, 1, 3).dtype,
    "randint_dtype_kw": lambda torch: torch.randint(0, 3, (2,), dtype=torch.int32).dtype,
    "zeros_default": lambda torch: torch.zeros(1).dtype,
    "full_float_fill": lambda torch: torch.full((1,), 2.5).dtype,
    "full_dtype_kw": lambda torch: torch.full((2,), 1, dtype=torch.float32),
})


@probe("dtype")
def set_default_dtype_float64(torch):
    torch.set_default_dtype(torch.float64)
    out = (torch.zeros(1).dtype, torch.tensor([1.0]).dtype, torch.arange(3).dtype,
           torch.tensor([1]) / 2)
    torch.set_default_dtype(torch.float32)
    return out


@probe("dtype")
def set_default_dtype_restores(torch):
    torch.set_default_dtype(torch.float64)
    torch.set_default_dtype(torch.float32)
    return torch.get_default_dtype(), torch.ones(1).dtype


@probe("dtype")
def default_dtype_affects_int_division(torch):
    torch.set_default_dtype(torch.float64)
    out = (torch.tensor([1, 2]) * 0.5).dtype
    torch.set_default_dtype(torch.float32)
    return out


@probe("dtype", raises=True)
def set_default_dtype_int_raises(torch):
    torch.set_default_dtype(torch.int64)


# ---- promotion ----

probes("promote", {
    "int_plus_float_scalar": lambda torch: _i(torch) + 1.5,
    "int_times_float_scalar": lambda torch: _i(torch) * 0.5,
    "int_plus_int_scalar": lambda torch: _i(torch) + 1,
    "int_div_int": lambda torch: _i(torch) / 2,
    "int_div_tensor": lambda torch: _i(torch) / _i(torch),
    "int_truediv_fn": lambda torch: torch.div(_i(torch), 2),
    "int_floordiv": lambda torch: _i(torch) // 2,
    "int_floordiv_neg": lambda torch: torch.tensor([-3, 3]) // 2,
    "int_mod_neg": lambda torch: torch.tensor([-3, 3]) % 2,
    "float_mod_neg": lambda torch: torch.tensor([-3.5, 3.5]) % 2,
    "div_rounding_floor": lambda torch: torch.div(torch.tensor([-7, 7]), 2, rounding_mode="floor"),
    "div_rounding_trunc": lambda torch: torch.div(torch.tensor([-7, 7]), 2, rounding_mode="trunc"),
    "int_pow_int": lambda torch: _i(torch) ** 2,
    "int_pow_float": lambda torch: _i(torch) ** 0.5,
    "int_sqrt": lambda torch: torch.sqrt(_i(torch)),
    "int_exp": lambda torch: torch.exp(torch.tensor([0, 1])),
    "int_sigmoid": lambda torch: torch.sigmoid(torch.tensor([0])),
    "bool_plus_bool": lambda torch: torch.tensor([True]) + torch.tensor([True]),
    "bool_plus_int": lambda torch: torch.tensor([True, False]) + 1,
    "bool_times_float": lambda torch: torch.tensor([True, False]) * 2.5,
    "bool_sum": lambda torch: torch.tensor([True, True, False]).sum(),
    "bool_float_tensor": lambda torch: torch.tensor([True]) + torch.ones(1),
    "f32_plus_f64_scalar_tensor": lambda torch: _f(torch) + torch.tensor(1.0, dtype=torch.float64),
    "f32_times_py_float": lambda torch: _f(torch) * 1e-3,
    "f32_plus_f64_tensor": lambda torch: _f(torch) + torch.ones(3, dtype=torch.float64),
    "int_times_0d_float": lambda torch: _i(torch) * torch.tensor(0.5, dtype=torch.float64),
    "int32_plus_int64": lambda torch: (
        torch.ones(2, dtype=torch.int32) + torch.ones(2, dtype=torch.int64)),
    "int32_plus_py_int": lambda torch: (torch.ones(2, dtype=torch.int32) + 1).dtype,
    "int64_0d_plus_int32": lambda torch: (torch.tensor(1) + torch.ones(2, dtype=torch.int32)).dtype,
    "uint8_plus_int8": lambda torch: (
        (torch.ones(1, dtype=torch.uint8) + torch.ones(1, dtype=torch.int8)).dtype),
    "f16_plus_f32": lambda torch: (torch.ones(1, dtype=torch.float16) + torch.ones(1)).dtype,
    "f16_plus_py_float": lambda torch: (torch.ones(1, dtype=torch.float16) + 1.5).dtype,
    "matmul_f64": lambda torch: (
        (torch.ones(2, 2, dtype=torch.float64) @ torch.ones(2, dtype=torch.float64)).dtype),
    "sum_int_is_int64": lambda torch: torch.ones(3, dtype=torch.int32).sum(),
    "sum_bool_is_int64": lambda torch: torch.ones(3, dtype=torch.bool).sum().dtype,
    "sum_uint8_is_int64": lambda torch: torch.ones(3, dtype=torch.uint8).sum().dtype,
    "sum_dtype_kw": lambda torch: torch.ones(3, dtype=torch.int32).sum(dtype=torch.float32),
    "prod_int": lambda torch: torch.tensor([2, 3]).prod(),
    "cumsum_int": lambda torch: torch.tensor([1, 2, 3], dtype=torch.int32).cumsum(0).dtype,
    "max_int_stays": lambda torch: _i(torch).max(),
    "mean_float": lambda torch: _f(torch).mean(),
    "mean_dtype_kw": lambda torch: _i(torch).mean(dtype=torch.float32),
    "argmax_dtype": lambda torch: _f(torch).argmax().dtype,
    "comparison_bool": lambda torch: (_f(torch) > 1).dtype,
    "eq_int_float": lambda torch: _i(torch) == _f(torch),
    "where_scalar_promotes": lambda torch: torch.where(_i(torch) > 1, _i(torch), 0.5),
    "clamp_int_float_bound": lambda torch: torch.clamp(_i(torch), min=1.5).dtype,
    "abs_int": lambda torch: torch.abs(torch.tensor([-2, 3])),
    "neg_int": lambda torch: -_i(torch),
    "maximum_mixed": lambda torch: torch.maximum(_i(torch), _f(torch)).dtype,
    "cat_mixed": lambda torch: torch.cat([_i(torch), _f(torch)]).dtype,
    "iadd_float_into_float32": lambda torch: (
        (lambda x: (x.__iadd__(torch.ones(3, dtype=torch.float64)), x.dtype)[1])(_f(torch))),
    "rsub_int": lambda torch: 1 - _i(torch),
    "rdiv_int": lambda torch: 1 / torch.tensor([2, 4]),
    "rpow": lambda torch: 2 ** _i(torch),
    "rpow_float": lambda torch: 2.0 ** _i(torch),
})

probes("promote", {
    "mean_int_raises": lambda torch: torch.tensor([1, 2, 3]).mean(),
    "int_iadd_float_raises": lambda torch: torch.tensor([1, 2]).add_(0.5),
    "int_imul_float_tensor_raises": lambda torch: (
        torch.tensor([1, 2]).mul_(torch.tensor([0.5, 1.0]))),
    "bool_minus_raises": lambda torch: torch.tensor([True]) - torch.tensor([False]),
    "bool_neg_raises": lambda torch: -torch.tensor([True]),
    "std_int_raises": lambda torch: torch.tensor([1, 2]).std(),
}, raises=True)


# ---- conversions ----

probes("convert", {
    "int": lambda torch: torch.tensor([1.7, -1.7]).int(),
    "long": lambda torch: torch.tensor([1.7, -2.5]).long(),
    "float": lambda torch: torch.tensor([1, 2]).float(),
    "double": lambda torch: torch.tensor([1, 2]).double(),
    "half": lambda torch: torch.tensor([1.5, 2.0]).half(),
    "bfloat16": lambda torch: torch.tensor([1.5, 2.0]).bfloat16().dtype,
    "bool": lambda torch: torch.tensor([0.0, 2.0]).bool(),
    "byte": lambda torch: torch.tensor([1, 2]).byte(),
    "char": lambda torch: torch.tensor([1, 2]).char().dtype,
    "short": lambda torch: torch.tensor([1, 2]).short().dtype,
    "type_dtype": lambda torch: torch.tensor([1.5]).type(torch.int64),
    "type_noarg": lambda torch: torch.tensor([1.5]).type().split(".")[-1],
    "type_string": lambda torch: torch.tensor([1, 2]).type("torch.FloatTensor"),
    "to_float64": lambda torch: torch.tensor([1, 2]).to(torch.float64),
    "to_same_dtype_is_self": lambda torch: (lambda x: x.to(torch.float32) is x)(torch.ones(1)),
    "float_same_is_self": lambda torch: (lambda x: x.float() is x)(torch.ones(1)),
    "to_copy_true": lambda torch: (lambda x: x.to(torch.float32, copy=True) is x)(torch.ones(1)),
    "float_of_grad_tensor": lambda torch: (
        torch.ones(2, dtype=torch.float64, requires_grad=True).float().requires_grad),
    "double_grad_flows": lambda torch: (
        grad(lambda x: x.double().sum(), torch.ones(2, requires_grad=True))),
    "long_no_grad": lambda torch: torch.ones(2, requires_grad=True).long().requires_grad,
    "type_as": lambda torch: torch.tensor([1, 2]).type_as(torch.ones(1, dtype=torch.float64)),
    "one_hot_float": lambda torch: (
        torch.nn.functional.one_hot(torch.tensor([0, 2]), num_classes=3).float()),
    "one_hot_dtype": lambda torch: torch.nn.functional.one_hot(torch.tensor([1]), 3).dtype,
    "bool_mask_float": lambda torch: (torch.tensor([1.0, -1.0]) > 0).float(),
    "eq_sum_item": lambda torch: torch.tensor([1, 2, 3]).eq(torch.tensor([1, 0, 3])).sum().item(),
    "float_to_int_trunc": lambda torch: torch.tensor([-0.5, 0.5, 2.9]).to(torch.int32),
    "tensor_dtype_cast_list": lambda torch: torch.tensor([1.9, 2.1], dtype=torch.int64),
    "numpy_roundtrip_dtype": lambda torch: (
        torch.tensor([1, 2], dtype=torch.int32).numpy().dtype.name),
    "half_arith": lambda torch: torch.tensor([1.0, 2.0]).half() * 2,
    "dtype_of_item_f64": lambda torch: (
        type(torch.tensor([1.0], dtype=torch.float64).item()).__name__),
})


probes("promote", {
    "where_int_float_tensors": lambda torch: (
        torch.where(torch.tensor([True, False]), _i(torch)[:2], _f(torch)[:2])),
    "stack_mixed": lambda torch: torch.stack([_i(torch), _f(torch)]).dtype,
    "float_plus_int_tensor": lambda torch: (_f(torch) + _i(torch)).dtype,
    "int_sum_div_n": lambda torch: _i(torch).sum() / 3,
    "int_tensor_times_bool": lambda torch: _i(torch) * True,
    "f16_times_0d_f64": lambda torch: (
        (torch.ones(2, dtype=torch.float16) * torch.tensor(2.0, dtype=torch.float64)).dtype),
    "int_plus_numpy_float_scalar": lambda torch: _i(torch) + np.float64(1.5),
    "float_times_numpy_int_scalar": lambda torch: (_f(torch) * np.int64(2)).dtype,
    "tensor_of_numpy_scalar": lambda torch: torch.tensor(np.float64(1.0)).dtype,
    "tensor_of_numpy_f32_list": lambda torch: (
        torch.tensor([np.float32(1.0), np.float32(2.0)]).dtype),
    "tensor_big_int": lambda torch: torch.tensor(2 ** 40),
    "tensor_float_to_int_dtype": lambda torch: torch.tensor(3.7, dtype=torch.int64),
    "as_tensor_0d_numpy": lambda torch: torch.as_tensor(np.array(1.0)).dtype,
    "arange_int_step_float": lambda torch: torch.arange(0, 3, 1.0).dtype,
    "int_matmul_int": lambda torch: torch.tensor([[1, 2]]) @ torch.tensor([[3], [4]]),
    "bool_mean_raises_class": lambda torch: raised(lambda: torch.tensor([True, False]).mean()),
    "int_pow_negative_raises_class": lambda torch: raised(lambda: torch.tensor([2, 3]) ** -1),
    "int_pow_negative_float_ok": lambda torch: torch.tensor([2, 4]) ** -1.0,
    "linear_on_int_raises_class": lambda torch: (
        raised(lambda: torch.nn.Linear(2, 1)(torch.tensor([[1, 2]])))),
    "max_of_bool": lambda torch: torch.tensor([False, True]).max(),
    "cumsum_bool": lambda torch: torch.tensor([True, True, False]).cumsum(0),
    "abs_of_uint8": lambda torch: torch.tensor([3], dtype=torch.uint8).abs(),
})

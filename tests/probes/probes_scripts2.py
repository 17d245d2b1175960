"""Probes: more idioms from real training scripts and tutorials — creation and conversion corners,
indexing, reductions, shape ops, nn.functional options, module/optimizer/data idioms — that the
other probe files do not cover."""

import collections
import copy
import math

import numpy as np

from tests.probes.harness import arr, fill, probe, probes, raised


def _m(torch, *shape, seed=0):
    return torch.tensor(arr(*shape, seed=seed))


def _shapes(ts):
    return [tuple(t.shape) for t in ts]


# ---------------------------------------------------------------- creation and conversion

def _from_numpy_writes_back(torch):
    a = np.zeros(3, dtype=np.float32)
    t = torch.from_numpy(a)
    t[1] = 7.0
    t.add_(1)
    return a


def _as_tensor_numpy_shares(torch):
    a = np.zeros(3, dtype=np.float32)
    t = torch.as_tensor(a)
    a[0] = 5.0
    return t


def _as_tensor_numpy_dtype_copies(torch):
    a = np.zeros(3, dtype=np.float32)
    t = torch.as_tensor(a, dtype=torch.float64)
    a[0] = 5.0
    return t


def _tensor_copies_numpy(torch):
    a = np.zeros(3, dtype=np.float32)
    t = torch.tensor(a)
    a[0] = 5.0
    return t


def _numpy_of_tensor_shares(torch):
    t = torch.zeros(3)
    a = t.numpy()
    t[0] = 2.0
    return a


probes("scripts2_create", {
    "as_tensor_list_dtype": lambda torch: torch.as_tensor([1, 2, 3], dtype=torch.float64),
    "as_tensor_tensor_is_same": lambda torch: (lambda t: torch.as_tensor(t) is t)(torch.ones(2)),
    "as_tensor_tensor_new_dtype": lambda torch: (
        (lambda t: (torch.as_tensor(t, dtype=torch.float64) is t,
                    torch.as_tensor(t, dtype=torch.float64)))(torch.ones(2))),
    "as_tensor_device_kw": lambda torch: torch.as_tensor([1.5, 2.5], device="cpu"),
    "as_tensor_numpy_shares": _as_tensor_numpy_shares,
    "as_tensor_numpy_dtype_copies": _as_tensor_numpy_dtype_copies,
    "as_tensor_scalar": lambda torch: torch.as_tensor(3.5),
    "tensor_copies_numpy": _tensor_copies_numpy,
    "from_numpy_writes_back": _from_numpy_writes_back,
    "numpy_of_tensor_shares": _numpy_of_tensor_shares,
    "from_numpy_transposed": lambda torch: torch.from_numpy(np.arange(6).reshape(2, 3).T),
    "from_numpy_negative_stride_raises": lambda torch: (
        raised(lambda: torch.from_numpy(np.arange(4)[::-1]))),
    "from_numpy_float16": lambda torch: torch.from_numpy(np.array([1.5, 2.0], dtype=np.float16)),
    "from_numpy_bool": lambda torch: torch.from_numpy(np.array([True, False])),
    "from_numpy_int16": lambda torch: torch.from_numpy(np.array([1, -2], dtype=np.int16)),
    "tensor_of_0d_tensors": lambda torch: torch.tensor([torch.tensor(1.0), torch.tensor(2.5)]),
    "tensor_of_1d_tensors_raises": lambda torch: (
        raised(lambda: torch.tensor([torch.ones(2), torch.ones(2)]))),
    "tensor_of_0d_int_tensors": lambda torch: torch.tensor([torch.tensor(1), torch.tensor(4)]),
    "tensor_int_float_mix": lambda torch: torch.tensor([1, 2.5]),
    "tensor_bool_int_mix": lambda torch: torch.tensor([True, 2]),
    "tensor_empty_list": lambda torch: torch.tensor([]),
    "tensor_nested_empty": lambda torch: torch.tensor([[], []]),
    "tensor_from_range": lambda torch: torch.tensor(range(4)),
    "tensor_from_tuple_of_lists": lambda torch: torch.tensor(([1, 2], [3, 4])),
    "tensor_numpy_int32": lambda torch: torch.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor_numpy_with_dtype": lambda torch: torch.tensor(np.arange(3), dtype=torch.float32),
    "tensor_list_of_numpy_arrays": lambda torch: (
        torch.tensor(np.stack([np.ones(2, np.float32), np.zeros(2, np.float32)]))),
    "tensor_of_tensor_copy": lambda torch: (
        (lambda t: (torch.tensor(t).add_(1), t))(torch.ones(2))),
    "tensor_complex": lambda torch: torch.tensor([1 + 2j]).dtype,
    "tensor_large_float_list_f64": lambda torch: torch.tensor([1e40]).dtype,
    "legacy_Tensor_list": lambda torch: torch.Tensor([1, 2]),
    "legacy_Tensor_sizes": lambda torch: (lambda t: (t.shape, t.dtype))(torch.Tensor(2, 3)),
    "legacy_LongTensor": lambda torch: torch.LongTensor([1, 2]),
    "legacy_FloatTensor": lambda torch: torch.FloatTensor([[1, 2]]),
    "scalar_tensor": lambda torch: torch.scalar_tensor(3),
    "full_int_fill_dtype": lambda torch: torch.full((2,), 3).dtype,
    "full_bool_fill_dtype": lambda torch: torch.full((2,), True).dtype,
    "full_like_int_float_fill": lambda torch: torch.full_like(torch.tensor([1, 2]), 2.7),
    "full_like_dtype": lambda torch: torch.full_like(torch.tensor([1, 2]), 2.5, dtype=torch.float32),
    "zeros_like_dtype": lambda torch: torch.zeros_like(torch.ones(2, 2), dtype=torch.long),
    "ones_like_int_to_float": lambda torch: torch.ones_like(torch.tensor([1, 2]), dtype=torch.float64),
    "empty_like_dtype_shape": lambda torch: (
        (lambda t: (t.shape, t.dtype))(torch.empty_like(torch.ones(2, 3), dtype=torch.int32))),
    "rand_like_int_raises": lambda torch: raised(lambda: torch.rand_like(torch.tensor([1, 2]))),
    "randint_like": lambda torch: (
        (lambda t: (t.shape, t.dtype, bool(((t >= 0) & (t < 5)).all())))(
            torch.randint_like(torch.zeros(3, 2), 5))),
    "arange_float_step_len": lambda torch: torch.arange(0, 1, 0.1).shape,
    "arange_half_step": lambda torch: torch.arange(1, 2.5, 0.5),
    "arange_negative_step": lambda torch: torch.arange(10, 0, -3),
    "arange_float_start_int_end": lambda torch: torch.arange(0.5, 3),
    "arange_tensor_end": lambda torch: torch.arange(torch.tensor(4)),
    "arange_dtype_float_from_ints": lambda torch: torch.arange(4, dtype=torch.float32),
    "arange_0_3_step_third": lambda torch: torch.arange(0.0, 1.0, 0.3),
    "linspace_five": lambda torch: torch.linspace(0, 1, 5),
    "linspace_one_step": lambda torch: torch.linspace(2, 5, 1),
    "linspace_int_dtype": lambda torch: torch.linspace(0, 10, 4, dtype=torch.int64),
    "linspace_reverse": lambda torch: torch.linspace(1, -1, 3),
    "logspace_base10": lambda torch: torch.logspace(0, 2, 3),
    "logspace_base2": lambda torch: torch.logspace(0, 3, 4, base=2),
    "eye_rect_n_m": lambda torch: torch.eye(2, 3),
    "eye_int_dtype": lambda torch: torch.eye(2, dtype=torch.int64),
    "eye_bool": lambda torch: torch.eye(2, dtype=torch.bool),
    "tril_indices": lambda torch: torch.tril_indices(3, 3),
    "triu_indices_offset": lambda torch: torch.triu_indices(3, 4, 1),
    "tril_indices_negative_offset": lambda torch: torch.tril_indices(3, 3, -1),
    "zeros_bool": lambda torch: torch.zeros((2, 2), dtype=torch.bool),
    "empty_zero_size": lambda torch: torch.empty(0).shape,
    "zeros_size_obj": lambda torch: torch.zeros(torch.Size([2, 3])).shape,
    "ones_list_shape": lambda torch: torch.ones([2, 1]).shape,
})

probes("scripts2_convert", {
    "tolist_bool": lambda torch: torch.tensor([True, False]).tolist(),
    "tolist_int_2d": lambda torch: torch.tensor([[1, 2], [3, 4]]).tolist(),
    "tolist_float16": lambda torch: torch.tensor([0.5, 1.5], dtype=torch.float16).tolist(),
    "tolist_0d_int": lambda torch: torch.tensor(3).tolist(),
    "tolist_empty": lambda torch: torch.zeros(2, 0).tolist(),
    "tolist_uint8": lambda torch: torch.tensor([255, 1], dtype=torch.uint8).tolist(),
    "item_bool": lambda torch: torch.tensor([True]).item(),
    "item_1x1": lambda torch: torch.tensor([[2.5]]).item(),
    "item_float16": lambda torch: torch.tensor(0.5, dtype=torch.float16).item(),
    "item_empty_raises": lambda torch: raised(lambda: torch.tensor([]).item()),
    "int_of_float_tensor_truncates": lambda torch: int(torch.tensor(3.9)),
    "int_of_negative_float": lambda torch: int(torch.tensor(-3.9)),
    "float_of_1elem_int": lambda torch: float(torch.tensor([2])),
    "int_of_many_raises": lambda torch: raised(lambda: int(torch.tensor([1, 2]))),
    "bool_of_empty_raises": lambda torch: raised(lambda: bool(torch.tensor([]))),
    "range_of_int_tensor": lambda torch: list(range(torch.tensor(3))),
    "index_method_float_raises": lambda torch: raised(lambda: [1, 2, 3][torch.tensor(1.0)]),
    "round_builtin_raises": lambda torch: raised(lambda: round(torch.tensor(2.6))),
    "round_builtin_item": lambda torch: round(torch.tensor(2.666).item(), 1),
    "math_sqrt_tensor": lambda torch: math.sqrt(torch.tensor(4.0)),
    "np_array_of_tensor": lambda torch: np.array(torch.tensor([1.0, 2.0])),
    "np_asarray_int": lambda torch: np.asarray(torch.tensor([1, 2])),
    "np_array_dtype_arg": lambda torch: np.array(torch.tensor([1, 2]), dtype=np.float64),
    "sorted_tensor": lambda torch: sorted(torch.tensor([3, 1, 2])),
    "list_of_2d_rows": lambda torch: list(torch.tensor([[1, 2], [3, 4]])),
    "max_builtin_of_tensor": lambda torch: max(torch.tensor([3, 7, 2])),
    "sum_builtin_list_of_tensors": lambda torch: sum([torch.tensor(1.0), torch.tensor(2.0)]),
    "len_0d_raises": lambda torch: raised(lambda: len(torch.tensor(3))),
    "iter_0d_raises": lambda torch: raised(lambda: list(torch.tensor(3))),
    "tensor_in_list_membership": lambda torch: (lambda t: t in [t])(torch.tensor([1, 2])),
    "scalar_in_tensor": lambda torch: (2 in torch.tensor([1, 2, 3]), 5 in torch.tensor([1, 2])),
    "detach_cpu_numpy_dtype": lambda torch: (
        torch.ones(2, requires_grad=True).detach().cpu().numpy().dtype.name),
    "size_plus_tuple": lambda torch: torch.ones(2, 3).shape + (4,),
    "size_slice_type": lambda torch: type(torch.ones(2, 3, 4).shape[1:]).__name__,
    "size_numel": lambda torch: torch.ones(2, 3, 4).shape.numel(),
    "size_eq_tuple": lambda torch: (torch.ones(2, 3).size() == (2, 3),
                                    torch.ones(2, 3).size() == [2, 3]),
    "dtype_is_signed": lambda torch: (torch.int64.is_signed, torch.uint8.is_signed,
                                      torch.float32.is_floating_point),
    "is_complex": lambda torch: (torch.is_complex(torch.ones(1)), torch.ones(1).is_complex()),
    "get_default_dtype": lambda torch: torch.get_default_dtype(),
    "view_as_dtype_reinterpret": lambda torch: torch.tensor([1.0]).view(torch.int32),
    "float_to_bool": lambda torch: torch.tensor([0.0, 0.1, -2.0]).bool(),
    "float_to_uint8_negative_wraps": lambda torch: torch.tensor([300.0, 2.0]).to(torch.uint8)[1],
    "int_tensor_to_float16": lambda torch: torch.tensor([1, 70000]).half(),
    "type_float_string": lambda torch: torch.tensor([1, 2]).type("torch.FloatTensor"),
    "autograd_variable_legacy": lambda torch: (
        torch.autograd.Variable(torch.ones(2), requires_grad=True).requires_grad),
    "clone_detach_requires_grad": lambda torch: (
        torch.ones(2, requires_grad=True).clone().detach().requires_grad),
    "to_float64_not_leaf": lambda torch: (
        torch.ones(2, requires_grad=True).to(torch.float64).is_leaf),
    "testing_assert_close_ok": lambda torch: torch.testing.assert_close(torch.ones(2), torch.ones(2)),
    "testing_assert_close_fails": lambda torch: (
        raised(lambda: torch.testing.assert_close(torch.ones(2), torch.zeros(2)))),
})


# ---------------------------------------------------------------- indexing

def _a34(torch):
    return torch.arange(12.0).view(3, 4)


def _set(t, fn):
    fn(t)
    return t


probes("scripts2_index", {
    "mask_2d_assign_zero": lambda torch: _set(_m(torch, 3, 4), lambda t: t.__setitem__(t < 0, 0.0)),
    "mask_rows_1d": lambda torch: _a34(torch)[torch.tensor([True, False, True])],
    "mask_columns": lambda torch: _a34(torch)[:, torch.tensor([True, False, False, True])],
    "mask_list_of_bools": lambda torch: _a34(torch)[[True, False, True]],
    "mask_assign_tensor_values": lambda torch: (
        _set(torch.zeros(4), lambda t: t.__setitem__(torch.tensor([True, False, True, False]),
                                                     torch.tensor([5.0, 6.0])))),
    "mask_2d_on_3d": lambda torch: (
        torch.arange(24.0).view(2, 3, 4)[torch.tensor([[True, False, True], [False, True, False]])]),
    "mask_shape_mismatch_raises": lambda torch: (
        raised(lambda: _a34(torch)[torch.tensor([True, False])])),
    "mask_broadcast_expand_as": lambda torch: (
        _a34(torch)[torch.tensor([True, False, True])[:, None].expand_as(_a34(torch))]),
    "rows_assign_broadcast_row": lambda torch: (
        _set(torch.zeros(3, 3), lambda t: t.__setitem__([0, 2], torch.tensor([1.0, 2.0, 3.0])))),
    "pairs_assign": lambda torch: (
        _set(torch.zeros(2, 3), lambda t: t.__setitem__(([0, 1], [1, 2]), torch.tensor([5.0, 6.0])))),
    "dup_index_iadd_no_accumulate": lambda torch: (
        _set(torch.zeros(3), lambda t: t.__setitem__(torch.tensor([0, 0, 2]),
                                                     t[torch.tensor([0, 0, 2])] + 1))),
    "index_put_accumulate_dups": lambda torch: (
        torch.zeros(3).index_put_((torch.tensor([0, 0, 2]),), torch.tensor([1.0, 2.0, 3.0]),
                                  accumulate=True)),
    "broadcast_advanced_idx": lambda torch: (
        _a34(torch)[torch.tensor([0, 2])[:, None], torch.tensor([1, 3])]),
    "advanced_then_slice": lambda torch: _a34(torch)[[0, 2], 1:3],
    "slice_then_advanced": lambda torch: _a34(torch)[1:, [0, 3]],
    "separated_advanced_moves_front": lambda torch: (
        torch.arange(24).view(2, 3, 4)[[0, 1], :, [1, 2]].shape),
    "idx_2d_tensor_shape": lambda torch: _a34(torch)[torch.tensor([[0, 1], [2, 2]])].shape,
    "zero_d_tensor_index": lambda torch: _a34(torch)[torch.tensor(1)],
    "ellipsis_none": lambda torch: torch.ones(2, 3)[..., None].shape,
    "none_ellipsis_index": lambda torch: torch.arange(6).view(2, 3)[None, ..., 0],
    "none_middle": lambda torch: torch.ones(2, 3)[:, None, :, None].shape,
    "ellipsis_step": lambda torch: torch.arange(8).view(2, 4)[..., ::2],
    "neg_slice_last_two": lambda torch: _a34(torch)[:, -2:],
    "step_slice_assign": lambda torch: _set(torch.zeros(6), lambda t: t.__setitem__(slice(None, None, 2), 1.0)),
    "ellipsis_assign": lambda torch: _set(torch.zeros(2, 3), lambda t: t.__setitem__((Ellipsis, 0), 1.0)),
    "negative_step_raises": lambda torch: raised(lambda: torch.arange(4)[::-1]),
    "index_list_out_of_range_raises": lambda torch: raised(lambda: torch.arange(4)[[0, 4]]),
    "index_select_neg_dim": lambda torch: _a34(torch).index_select(-1, torch.tensor([3, 0])),
    "gather_neg_dim": lambda torch: _a34(torch).gather(-1, torch.tensor([[0], [3], [1]])),
    "gather_dim0": lambda torch: _a34(torch).gather(0, torch.tensor([[2, 1, 0, 0]])),
    "scatter_one_hot": lambda torch: torch.zeros(3, 4).scatter_(1, torch.tensor([[1], [3], [0]]), 1.0),
    "scatter_neg_dim_src": lambda torch: (
        torch.zeros(2, 3).scatter_(-1, torch.tensor([[2, 0], [1, 1]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))),
    "scatter_reduce_add_arg": lambda torch: (
        torch.ones(3).scatter_(0, torch.tensor([0, 0, 2]), torch.tensor([1.0, 2.0, 3.0]), reduce="add")),
    "scatter_add_neg_dim": lambda torch: (
        torch.zeros(2, 3).scatter_add(-1, torch.tensor([[0, 0], [2, 2]]), torch.ones(2, 2))),
    "scatter_reduce_amax_include_self_false": lambda torch: (
        torch.zeros(3).scatter_reduce(0, torch.tensor([0, 0, 1]), torch.tensor([-1.0, -5.0, 2.0]),
                                      reduce="amax", include_self=False)),
    "scatter_reduce_mean": lambda torch: (
        torch.zeros(2).scatter_reduce(0, torch.tensor([0, 0, 1]), torch.tensor([2.0, 4.0, 3.0]),
                                      reduce="mean")),
    "nonzero_as_tuple_2d": lambda torch: torch.tensor([[0, 1], [2, 0]]).nonzero(as_tuple=True),
    "nonzero_2d": lambda torch: torch.nonzero(torch.tensor([[0, 1], [2, 0]])),
    "where_single_2d": lambda torch: torch.where(torch.tensor([[True, False], [False, True]])),
    "masked_select_broadcast": lambda torch: (
        torch.masked_select(_a34(torch), torch.tensor([True, False, False, True]))),
    "take_along_dim_argsort": lambda torch: (
        torch.take_along_dim(_m(torch, 3, 4), _m(torch, 3, 4).argsort(dim=1), dim=1)),
    "take_along_dim_flat": lambda torch: torch.take_along_dim(_a34(torch), torch.tensor([0, 5, 11])),
    "take_along_dim_argmax_keepdim": lambda torch: (
        torch.take_along_dim(_m(torch, 3, 4), _m(torch, 3, 4).argmax(1, keepdim=True), dim=1)),
    "flat_index_argmax": lambda torch: (lambda t: t.view(-1)[t.argmax()])(_m(torch, 3, 4)),
    "unravel_index": lambda torch: torch.unravel_index(torch.tensor([5, 7]), (3, 4)),
    "index_copy_neg_dim": lambda torch: (
        torch.zeros(2, 3).index_copy_(-1, torch.tensor([2, 0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))),
    "index_fill_neg_dim": lambda torch: _a34(torch).index_fill(-1, torch.tensor([0, 2]), -1.0),
    "index_add_alpha": lambda torch: (
        torch.zeros(3).index_add_(0, torch.tensor([0, 0, 2]), torch.tensor([1.0, 2.0, 3.0]), alpha=2)),
    "masked_fill_0d_tensor_value": lambda torch: (
        torch.zeros(3).masked_fill(torch.tensor([True, False, True]), torch.tensor(4.0))),
    "setitem_int_tensor_into_float": lambda torch: (
        _set(torch.zeros(3), lambda t: t.__setitem__(1, torch.tensor(7)))),
    "setitem_float_into_int_truncates": lambda torch: (
        _set(torch.zeros(3, dtype=torch.long), lambda t: t.__setitem__(0, 2.9))),
    "setitem_list_value": lambda torch: (
        _set(torch.zeros(2, 2), lambda t: t.__setitem__(0, torch.tensor([1.0, 2.0])))),
    "index_with_long_list_of_lists": lambda torch: _a34(torch)[[[0, 1], [2, 0]]].shape,
    "bool_scalar_true_index": lambda torch: torch.arange(3)[True].shape,
    "index_with_numpy_array": lambda torch: _a34(torch)[np.array([2, 0])],
    "index_with_numpy_bool": lambda torch: _a34(torch)[np.array([True, False, True])],
    "index_with_int32_tensor": lambda torch: _a34(torch)[torch.tensor([2, 0], dtype=torch.int32)],
    "index_with_uint8_mask_like": lambda torch: torch.arange(3)[torch.tensor([1, 0, 1]).bool()],
})


# ---------------------------------------------------------------- reductions, sorting, counting

def _ties(torch):
    return torch.tensor([3.0, 1.0, 2.0, 1.0, 3.0, 2.0])


probes("scripts2_reduce", {
    "topk_smallest": lambda torch: torch.topk(torch.tensor([4.0, 1.0, 3.0, 2.0]), 2, largest=False),
    "topk_dim0": lambda torch: _m(torch, 4, 3).topk(2, dim=0),
    "topk_int": lambda torch: torch.tensor([5, 1, 9, 3]).topk(3),
    "topk_k0": lambda torch: torch.tensor([5.0, 1.0]).topk(0),
    "sort_stable_descending": lambda torch: torch.sort(_ties(torch), descending=True, stable=True),
    "argsort_stable": lambda torch: torch.argsort(_ties(torch), stable=True),
    "sort_int_dim0": lambda torch: torch.tensor([[3, 1], [1, 2], [2, 0]]).sort(dim=0),
    "sort_bool": lambda torch: torch.tensor([True, False, True]).sort().values,
    "kthvalue_keepdim": lambda torch: torch.kthvalue(_m(torch, 3, 4), 2, dim=1, keepdim=True),
    "median_even_lower": lambda torch: torch.median(torch.tensor([1.0, 4.0, 2.0, 3.0])),
    "median_int": lambda torch: torch.tensor([5, 1, 4, 2]).median(),
    "median_dim_keepdim": lambda torch: torch.tensor([[1.0, 4.0, 2.0, 3.0]]).median(dim=1, keepdim=True),
    "mode_values": lambda torch: torch.mode(torch.tensor([1, 2, 2, 3, 3])).values,
    "mode_dim": lambda torch: torch.tensor([[1, 1, 2], [3, 2, 2]]).mode(dim=1).values,
    "unique_dim0": lambda torch: torch.unique(torch.tensor([[1, 2], [3, 4], [1, 2]]), dim=0),
    "unique_inverse_counts": lambda torch: (
        torch.unique(torch.tensor([3, 1, 3, 2, 1, 3]), return_inverse=True, return_counts=True)),
    "unique_dim_inverse": lambda torch: (
        torch.unique(torch.tensor([[1, 2], [3, 4], [1, 2]]), dim=0, return_inverse=True)),
    "unique_float": lambda torch: torch.tensor([0.5, 0.25, 0.5]).unique(),
    "unique_consecutive": lambda torch: (
        torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)),
    "cumsum_dtype_f64": lambda torch: torch.tensor([1, 2, 3]).cumsum(0, dtype=torch.float64),
    "cumsum_2d_dim1": lambda torch: torch.cumsum(_a34(torch), dim=1),
    "cumprod_neg_dim": lambda torch: torch.tensor([[1.0, 2.0, 3.0]]).cumprod(-1),
    "cummin": lambda torch: torch.cummin(torch.tensor([3.0, 1.0, 2.0, 0.5]), 0),
    "cummax_indices": lambda torch: torch.tensor([1, 3, 3, 2]).cummax(0).indices,
    "std_correction0": lambda torch: torch.std(_m(torch, 5), correction=0),
    "var_correction2_dim": lambda torch: torch.var(_m(torch, 3, 5), dim=1, correction=2),
    "std_unbiased_positional": lambda torch: _m(torch, 5).std(0, False),
    "std_single_nan": lambda torch: torch.tensor([1.0]).std(),
    "var_mean_correction": lambda torch: torch.var_mean(_m(torch, 3, 4), dim=0, correction=0),
    "nanmean_dim": lambda torch: torch.tensor([[1.0, float("nan")], [3.0, 4.0]]).nanmean(dim=1),
    "nansum_dim": lambda torch: torch.nansum(torch.tensor([[1.0, float("nan")], [3.0, 4.0]]), dim=0),
    "count_nonzero_tuple_dims": lambda torch: (
        torch.count_nonzero(torch.tensor([[[0, 1], [2, 0]], [[1, 1], [0, 0]]]), dim=(1, 2))),
    "aminmax_dim": lambda torch: torch.aminmax(_m(torch, 3, 4), dim=1),
    "aminmax_keepdim": lambda torch: torch.aminmax(_m(torch, 3, 4), dim=0, keepdim=True),
    "histc_bins": lambda torch: torch.histc(torch.tensor([1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=4),
    "histc_auto_range": lambda torch: torch.histc(torch.tensor([1.0, 2.0, 1.0, 4.0]), bins=3),
    "histogram_edges": lambda torch: torch.histogram(torch.tensor([1.0, 2.0, 1.0, 4.0]), bins=3),
    "bincount_weights": lambda torch: (
        torch.bincount(torch.tensor([0, 1, 1, 3]), weights=torch.tensor([0.5, 1.0, 1.0, 2.0]))),
    "bincount_minlength": lambda torch: torch.bincount(torch.tensor([0, 1, 1]), minlength=5),
    "bincount_empty_minlength": lambda torch: torch.bincount(torch.tensor([], dtype=torch.long), minlength=3),
    "bincount_weights_f64": lambda torch: (
        torch.bincount(torch.tensor([0, 2]), weights=torch.tensor([1.0, 2.0], dtype=torch.float64))),
    "bucketize_right": lambda torch: (
        torch.bucketize(torch.tensor([1.0, 2.0, 3.5]), torch.tensor([1.0, 2.0, 3.0]), right=True)),
    "bucketize_int32": lambda torch: (
        torch.bucketize(torch.tensor([1.5]), torch.tensor([1.0, 2.0]), out_int32=True)),
    "searchsorted_side_right": lambda torch: (
        torch.searchsorted(torch.tensor([1, 2, 2, 3]), torch.tensor([2, 4]), side="right")),
    "searchsorted_2d": lambda torch: (
        torch.searchsorted(torch.tensor([[1, 3, 5], [2, 4, 6]]), torch.tensor([[3], [3]]))),
    "searchsorted_scalar": lambda torch: torch.searchsorted(torch.tensor([1.0, 2.0, 3.0]), 2.5),
    "argmax_2d_flat": lambda torch: torch.tensor([[1, 5], [7, 2]]).argmax(),
    "max_int_dim": lambda torch: torch.tensor([[1, 5], [7, 2]]).max(dim=0),
    "max_namedtuple_fields": lambda torch: torch.tensor([[1.0, 5.0]]).max(dim=1).indices,
    "min_keepdim_shape": lambda torch: torch.min(_m(torch, 2, 3), 1, keepdim=True).values.shape,
    "all_int_returns_bool": lambda torch: (torch.tensor([1, 2]).all(), torch.tensor([0, 2]).any()),
    "any_dim_keepdim": lambda torch: torch.tensor([[0, 1], [0, 0]]).any(dim=1, keepdim=True),
    "mean_list_dims": lambda torch: _m(torch, 2, 3, 4).mean([0, 2]),
    "sum_list_dims_keepdim": lambda torch: _m(torch, 2, 3, 4).sum(dim=[1, 2], keepdim=True).shape,
    "prod_int_dtype": lambda torch: torch.tensor([2, 3], dtype=torch.int32).prod(),
    "amax_int": lambda torch: torch.tensor([[1, 5], [7, 2]]).amax(dim=1),
    "quantile_lower": lambda torch: torch.quantile(torch.tensor([1.0, 2.0, 3.0, 4.0]), 0.4, interpolation="lower"),
    "quantile_midpoint": lambda torch: (
        torch.quantile(torch.tensor([1.0, 2.0, 3.0, 4.0]), 0.4, interpolation="midpoint")),
    "quantile_nearest": lambda torch: (
        torch.quantile(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.1, 0.6]), interpolation="nearest")),
    "nanquantile": lambda torch: torch.nanquantile(torch.tensor([1.0, float("nan"), 3.0]), 0.5),
    "diff_n2": lambda torch: torch.diff(torch.tensor([1, 4, 9, 16]), n=2),
    "diff_prepend": lambda torch: torch.diff(torch.tensor([1.0, 3.0]), prepend=torch.tensor([0.0])),
    "trapezoid": lambda torch: torch.trapezoid(torch.tensor([1.0, 2.0, 3.0])),
    "trapezoid_x": lambda torch: torch.trapezoid(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 3.0])),
    "cov": lambda torch: torch.cov(_m(torch, 2, 5)),
    "corrcoef": lambda torch: torch.corrcoef(_m(torch, 3, 6)),
    "logsumexp_dims_tuple": lambda torch: torch.logsumexp(_m(torch, 2, 3, 2), dim=(0, 2)),
    "norm_fro_string": lambda torch: _m(torch, 3, 3).norm(p="fro"),
    "norm_dim_tuple": lambda torch: torch.norm(_m(torch, 2, 3, 4), dim=(1, 2)),
    "max_of_0d": lambda torch: torch.tensor(2.0).max(),
    "max_dim_of_0d": lambda torch: torch.tensor(2.0).max(dim=0),
    "sum_of_bool_mask_item": lambda torch: (torch.tensor([1, 2, 3]) > 1).sum().item(),
    "mean_of_bool_float": lambda torch: (torch.tensor([1, 2, 3]) > 1).float().mean(),
})


# ---------------------------------------------------------------- shape ops

probes("scripts2_shape", {
    "flatten_middle": lambda torch: torch.ones(2, 3, 4, 5).flatten(1, 2).shape,
    "flatten_neg_start": lambda torch: torch.ones(2, 3, 4).flatten(-2).shape,
    "flatten_0d": lambda torch: torch.tensor(3.0).flatten(),
    "unflatten_neg_one": lambda torch: torch.ones(2, 12).unflatten(1, (3, -1)).shape,
    "unflatten_neg_dim": lambda torch: torch.arange(6).view(1, 6).unflatten(-1, (2, 3)),
    "movedim_multi": lambda torch: torch.ones(2, 3, 4).movedim((0, 1), (2, 0)).shape,
    "moveaxis_alias": lambda torch: torch.moveaxis(torch.ones(2, 3, 4), -1, 0).shape,
    "swapdims": lambda torch: torch.swapdims(torch.ones(2, 3, 4), 0, 2).shape,
    "einsum_bmm": lambda torch: torch.einsum("bij,bjk->bik", _m(torch, 2, 3, 4), _m(torch, 2, 4, 2, seed=1)),
    "einsum_diag": lambda torch: torch.einsum("ii->i", _m(torch, 3, 3)),
    "einsum_dot": lambda torch: torch.einsum("i,i->", torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])),
    "einsum_sum_all": lambda torch: torch.einsum("ij->", _m(torch, 2, 3)),
    "einsum_ellipsis_transpose": lambda torch: torch.einsum("...ij->...ji", _m(torch, 2, 3, 4)).shape,
    "einsum_attention_4d": lambda torch: (
        torch.einsum("bhqd,bhkd->bhqk", _m(torch, 1, 2, 3, 4), _m(torch, 1, 2, 5, 4, seed=1))),
    "einsum_implicit_output": lambda torch: torch.einsum("ij,jk", _m(torch, 2, 3), _m(torch, 3, 2, seed=1)),
    "einsum_spaces": lambda torch: torch.einsum("i j , j -> i", _m(torch, 2, 3), _m(torch, 3, seed=1)),
    "einsum_outer_broadcast": lambda torch: torch.einsum("bi,bj->bij", _m(torch, 2, 3), _m(torch, 2, 2, seed=1)),
    "einsum_bilinear": lambda torch: (
        torch.einsum("bn,anm,bm->ba", _m(torch, 2, 3), _m(torch, 4, 3, 2, seed=1), _m(torch, 2, 2, seed=2))),
    "tensordot_dims2": lambda torch: torch.tensordot(_m(torch, 2, 3, 4), _m(torch, 3, 4, 2, seed=1), dims=2),
    "tensordot_dims_lists": lambda torch: (
        torch.tensordot(_m(torch, 3, 4), _m(torch, 4, 3, seed=1), dims=([0], [1]))),
    "tensordot_dims0": lambda torch: torch.tensordot(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), dims=0),
    "chunk_uneven_10_3": lambda torch: _shapes(torch.arange(10).chunk(3)),
    "chunk_5_into_4_gives_3": lambda torch: _shapes(torch.arange(5).chunk(4)),
    "chunk_6_into_4": lambda torch: _shapes(torch.arange(6).chunk(4)),
    "chunk_more_than_size": lambda torch: _shapes(torch.arange(2).chunk(5)),
    "split_sizes_list": lambda torch: torch.arange(6).split([1, 2, 3]),
    "split_sizes_mismatch_raises": lambda torch: raised(lambda: torch.arange(6).split([1, 2])),
    "split_int_uneven": lambda torch: _shapes(torch.arange(7).split(3)),
    "split_returns_tuple": lambda torch: type(torch.arange(4).split(2)).__name__,
    "split_dim1_sizes": lambda torch: _shapes(torch.ones(2, 5).split([2, 3], dim=1)),
    "hsplit_vsplit": lambda torch: (_shapes(torch.ones(4, 6).hsplit(3)), _shapes(torch.ones(4, 6).vsplit(2))),
    "repeat_interleave_tensor_repeats": lambda torch: (
        torch.tensor([1, 2, 3]).repeat_interleave(torch.tensor([2, 0, 1]))),
    "repeat_interleave_2d_no_dim": lambda torch: torch.tensor([[1, 2], [3, 4]]).repeat_interleave(2),
    "repeat_interleave_single_arg": lambda torch: torch.repeat_interleave(torch.tensor([1, 2, 3])),
    "repeat_interleave_dim_tensor": lambda torch: (
        torch.repeat_interleave(torch.tensor([[1, 2], [3, 4]]), torch.tensor([1, 2]), dim=0)),
    "roll_multi_dims": lambda torch: torch.roll(_a34(torch), shifts=(1, -1), dims=(0, 1)),
    "roll_no_dims_flattens": lambda torch: torch.roll(_a34(torch), 1),
    "roll_negative": lambda torch: torch.arange(5).roll(-2),
    "flip_tuple_dims": lambda torch: torch.flip(_a34(torch), (0, 1)),
    "flipud": lambda torch: torch.flipud(_a34(torch)),
    "rot90_default": lambda torch: torch.rot90(_a34(torch)),
    "rot90_k_neg": lambda torch: torch.rot90(_a34(torch), -1),
    "rot90_k2_dims": lambda torch: torch.rot90(torch.arange(8).view(2, 2, 2), 2, dims=(1, 2)),
    "meshgrid_default_ij": lambda torch: torch.meshgrid(torch.tensor([1, 2]), torch.tensor([3, 4, 5])),
    "meshgrid_list_arg_xy": lambda torch: (
        _shapes(torch.meshgrid([torch.arange(2), torch.arange(3)], indexing="xy"))),
    "block_diag": lambda torch: torch.block_diag(torch.ones(1, 2), 2 * torch.ones(2, 1)),
    "combinations": lambda torch: torch.combinations(torch.tensor([1, 2, 3])),
    "combinations_with_replacement": lambda torch: (
        torch.combinations(torch.tensor([1, 2]), with_replacement=True)),
    "cartesian_prod_three": lambda torch: (
        torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3]), torch.tensor([4, 5]))),
    "stack_neg_dim": lambda torch: torch.stack([torch.ones(2, 3), torch.zeros(2, 3)], dim=-1).shape,
    "cat_with_legacy_empty": lambda torch: torch.cat([torch.tensor([]), torch.ones(2, 2)]),
    "cat_generator_arg": lambda torch: torch.cat(tuple(torch.ones(1, 2) * i for i in range(3))),
    "view_noncontig_raises": lambda torch: raised(lambda: torch.ones(2, 3).t().view(-1)),
    "expand_neg_one_3d": lambda torch: torch.ones(1, 3, 1).expand(2, -1, 4).shape,
    "expand_adds_leading": lambda torch: torch.ones(3).expand(2, 2, 3).shape,
    "repeat_adds_dims": lambda torch: torch.ones(2, 3).repeat(2, 1, 1).shape,
    "squeeze_non_one_noop": lambda torch: torch.squeeze(torch.ones(2, 3), 0).shape,
    "mT_3d": lambda torch: _m(torch, 2, 3, 4).mT.shape,
    "T_1d": lambda torch: torch.tensor([1, 2]).T,
    "atleast_1d_0d": lambda torch: torch.atleast_1d(torch.tensor(2.0)),
    "atleast_3d": lambda torch: torch.atleast_3d(torch.ones(2, 3)).shape,
    "column_stack": lambda torch: torch.column_stack([torch.tensor([1, 2]), torch.tensor([[3], [4]])]),
    "dstack": lambda torch: torch.dstack([torch.ones(2, 3), torch.zeros(2, 3)]).shape,
    "row_stack": lambda torch: torch.row_stack([torch.tensor([1, 2]), torch.tensor([3, 4])]),
    "diagflat": lambda torch: torch.diagflat(torch.tensor([[1, 2], [3, 4]])),
    "diag_offset": lambda torch: torch.diag(torch.tensor([1, 2]), 1),
    "triu_neg_diagonal": lambda torch: torch.triu(torch.ones(3, 3), diagonal=-1),
    "tril_rect": lambda torch: torch.tril(torch.ones(2, 4), 1),
    "unbind_dim1": lambda torch: torch.arange(6).view(2, 3).unbind(1),
    "narrow_neg_dim": lambda torch: _a34(torch).narrow(-1, 1, 2),
    "reshape_size_args_tuple": lambda torch: _a34(torch).reshape((2, -1)).shape,
    "view_size_obj": lambda torch: torch.arange(6).view(torch.Size([3, 2])).shape,
    "flatten_end_dim": lambda torch: torch.ones(2, 3, 4, 5).flatten(end_dim=1).shape,
    "transpose_neg": lambda torch: torch.ones(2, 3, 4).transpose(-1, -2).shape,
    "permute_neg_dims": lambda torch: torch.ones(2, 3, 4).permute(-1, 0, 1).shape,
    "broadcast_tensors_shapes": lambda torch: _shapes(torch.broadcast_tensors(torch.ones(3, 1), torch.ones(1, 4))),
    "F_unfold_im2col": lambda torch: (
        torch.nn.functional.unfold(torch.arange(16.0).view(1, 1, 4, 4), kernel_size=2, stride=2)),
    "F_fold_roundtrip": lambda torch: (
        torch.nn.functional.fold(torch.nn.functional.unfold(torch.arange(16.0).view(1, 1, 4, 4), 2, stride=2),
                                 (4, 4), 2, stride=2)),
    "tensor_unfold_windows": lambda torch: torch.arange(7).unfold(0, 3, 2),
})


# ---------------------------------------------------------------- nn.functional options

def _F(torch):
    return torch.nn.functional


def _img(torch, seed=0):
    return _m(torch, 1, 2, 3, 3, seed=seed)


def _emb_pad_grad(torch):
    w = torch.tensor(arr(4, 2), requires_grad=True)
    out = _F(torch).embedding(torch.tensor([[0, 2], [2, 1]]), w, padding_idx=2)
    (out * torch.tensor([1.0, 2.0])).sum().backward()
    return w.grad


def _embedding_module_pad_grad(torch):
    emb = torch.nn.Embedding(4, 2, padding_idx=0)
    emb(torch.tensor([0, 1, 0, 3])).sum().backward()
    return emb.weight.grad, emb.weight[0]


def _gumbel(torch, hard):
    torch.manual_seed(0)
    y = _F(torch).gumbel_softmax(_m(torch, 3, 4), tau=0.5, hard=hard)
    return y.shape, y.sum(-1), ((y == 0) | (y == 1)).all().item() if hard else None


def _sdpa_bool_mask(torch):
    q, k, v = _m(torch, 1, 3, 4), _m(torch, 1, 5, 4, seed=1), _m(torch, 1, 5, 4, seed=2)
    mask = torch.tensor([[True, True, False, False, True]] * 3)
    return _F(torch).scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _sdpa_float_mask(torch):
    q, k, v = _m(torch, 1, 2, 3, 4), _m(torch, 1, 2, 3, 4, seed=1), _m(torch, 1, 2, 3, 4, seed=2)
    mask = torch.triu(torch.full((3, 3), float("-inf")), diagonal=1)
    return _F(torch).scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _sdpa_causal_vs_manual(torch):
    q, k, v = _m(torch, 2, 4, 3), _m(torch, 2, 4, 3, seed=1), _m(torch, 2, 4, 3, seed=2)
    out = _F(torch).scaled_dot_product_attention(q, k, v, is_causal=True)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(3)
    att = att.masked_fill(torch.tril(torch.ones(4, 4)) == 0, float("-inf"))
    return out, torch.softmax(att, -1) @ v


def _sdpa_scale_grad(torch):
    q = torch.tensor(arr(1, 3, 4), requires_grad=True)
    out = _F(torch).scaled_dot_product_attention(q, _m(torch, 1, 3, 4, seed=1), _m(torch, 1, 3, 4, seed=2),
                                                 scale=0.25, is_causal=True)
    out.sum().backward()
    return out, q.grad


def _ce_ignore_none(torch):
    return _F(torch).cross_entropy(_m(torch, 4, 3), torch.tensor([0, -100, 2, 1]), reduction="none")


probes("scripts2_functional", {
    "one_hot_2d": lambda torch: _F(torch).one_hot(torch.tensor([[0, 2], [1, 0]]), num_classes=3),
    "one_hot_neg_one_classes": lambda torch: _F(torch).one_hot(torch.tensor([1, 3]), -1),
    "one_hot_negative_raises": lambda torch: raised(lambda: _F(torch).one_hot(torch.tensor([-1, 0]))),
    "one_hot_too_small_raises": lambda torch: (
        raised(lambda: _F(torch).one_hot(torch.tensor([0, 3]), num_classes=2))),
    "one_hot_float_input_raises": lambda torch: raised(lambda: _F(torch).one_hot(torch.tensor([0.0, 1.0]))),
    "normalize_p1_last": lambda torch: _F(torch).normalize(_m(torch, 2, 3), p=1, dim=-1),
    "normalize_zero_vector": lambda torch: _F(torch).normalize(torch.zeros(1, 3)),
    "normalize_default_dim1_3d": lambda torch: _F(torch).normalize(_m(torch, 2, 3, 2)),
    "interp_size_bilinear_ac_true": lambda torch: (
        _F(torch).interpolate(_img(torch), size=(4, 5), mode="bilinear", align_corners=True)),
    "interp_size_bilinear_ac_false": lambda torch: (
        _F(torch).interpolate(_img(torch), size=(4, 5), mode="bilinear", align_corners=False)),
    "interp_scale_bilinear_1_5": lambda torch: (
        _F(torch).interpolate(_img(torch), scale_factor=1.5, mode="bilinear")),
    "interp_scale_nearest_2": lambda torch: _F(torch).interpolate(_img(torch), scale_factor=2),
    "interp_size_nearest_downsample": lambda torch: (
        _F(torch).interpolate(torch.arange(25.0).view(1, 1, 5, 5), size=(2, 3), mode="nearest")),
    "interp_nearest_exact": lambda torch: (
        _F(torch).interpolate(torch.arange(25.0).view(1, 1, 5, 5), size=(2, 3), mode="nearest-exact")),
    "interp_bicubic": lambda torch: (
        _F(torch).interpolate(_img(torch), size=(5, 4), mode="bicubic", align_corners=False)),
    "interp_linear_1d": lambda torch: (
        _F(torch).interpolate(_m(torch, 1, 2, 4), size=7, mode="linear", align_corners=False)),
    "interp_area": lambda torch: _F(torch).interpolate(_m(torch, 1, 1, 4, 6), size=(2, 3), mode="area"),
    "interp_recompute_scale": lambda torch: (
        _F(torch).interpolate(_img(torch), scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    "interp_trilinear": lambda torch: (
        _F(torch).interpolate(_m(torch, 1, 1, 2, 2, 2), scale_factor=2, mode="trilinear")),
    "interp_scale_tuple": lambda torch: _F(torch).interpolate(_img(torch), scale_factor=(2, 1)).shape,
    "upsample_module_bilinear": lambda torch: (
        torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)(_img(torch))),
    "pad_constant_value": lambda torch: _F(torch).pad(torch.ones(2, 2), (1, 0, 0, 1), value=9.0),
    "pad_negative_crops": lambda torch: _F(torch).pad(torch.arange(12.0).view(1, 3, 4), (-1, -1)),
    "pad_reflect_1d": lambda torch: _F(torch).pad(torch.arange(4.0).view(1, 1, 4), (2, 1), mode="reflect"),
    "pad_replicate_2d": lambda torch: _F(torch).pad(torch.arange(4.0).view(1, 1, 2, 2), (1, 1, 0, 1), mode="replicate"),
    "pad_circular_1d": lambda torch: _F(torch).pad(torch.arange(4.0).view(1, 1, 4), (1, 2), mode="circular"),
    "pad_int_tensor": lambda torch: _F(torch).pad(torch.tensor([1, 2]), (1, 1)),
    "pad_3d_last_dims_6": lambda torch: _F(torch).pad(torch.ones(1, 1, 1, 1, 1), (1, 1, 0, 0, 2, 0)).shape,
    "embedding_padding_idx_grad": _emb_pad_grad,
    "embedding_module_padding_grad": _embedding_module_pad_grad,
    "ce_none_ignore_index_zero": _ce_ignore_none,
    "ce_3d_ignore_index": lambda torch: (
        _F(torch).cross_entropy(_m(torch, 2, 3, 4), torch.tensor([[0, 1, -100, 2], [2, -100, 0, 0]]))),
    "ce_3d_weights_mean": lambda torch: (
        _F(torch).cross_entropy(_m(torch, 2, 3, 4), torch.tensor([[0, 1, 1, 2], [2, 1, 0, 0]]),
                                weight=torch.tensor([1.0, 2.0, 0.5]))),
    "ce_unbatched": lambda torch: _F(torch).cross_entropy(torch.tensor([1.0, 2.0, 0.5]), torch.tensor(1)),
    "ce_prob_target_3d": lambda torch: (
        _F(torch).cross_entropy(_m(torch, 2, 3, 4), torch.softmax(_m(torch, 2, 3, 4, seed=1), dim=1))),
    "ce_smoothing_none": lambda torch: (
        _F(torch).cross_entropy(_m(torch, 3, 4), torch.tensor([0, 3, 1]), label_smoothing=0.2,
                                reduction="none")),
    "ce_f64": lambda torch: (
        _F(torch).cross_entropy(_m(torch, 3, 4).double(), torch.tensor([0, 3, 1]))),
    "ce_int32_target": lambda torch: (
        raised(lambda: _F(torch).cross_entropy(_m(torch, 3, 4), torch.tensor([0, 3, 1], dtype=torch.int32)))),
    "nll_4d_weights": lambda torch: (
        _F(torch).nll_loss(torch.log_softmax(_m(torch, 2, 3, 2, 2), 1),
                           torch.tensor([[[0, 1], [2, 2]], [[1, 0], [0, 2]]]), weight=torch.tensor([0.2, 1.0, 3.0]))),
    "nll_3d_sum": lambda torch: (
        _F(torch).nll_loss(torch.log_softmax(_m(torch, 2, 3, 4), 1), torch.tensor([[0, 1, 1, 2], [2, 1, 0, 0]]),
                           reduction="sum")),
    "bce_logits_pos_weight_none": lambda torch: (
        _F(torch).binary_cross_entropy_with_logits(_m(torch, 2, 3), torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
                                                   pos_weight=torch.tensor([1.0, 2.0, 3.0]), reduction="none")),
    "bce_logits_soft_targets": lambda torch: (
        _F(torch).binary_cross_entropy_with_logits(_m(torch, 4), torch.tensor([0.1, 0.9, 0.5, 0.0]))),
    "bce_target_shape_mismatch_raises": lambda torch: (
        raised(lambda: _F(torch).binary_cross_entropy_with_logits(_m(torch, 4, 1), torch.ones(4)))),
    "kl_div_log_target_sum": lambda torch: (
        _F(torch).kl_div(torch.log_softmax(_m(torch, 2, 3), 1), torch.log_softmax(_m(torch, 2, 3, seed=1), 1),
                         reduction="sum", log_target=True)),
    "kl_div_none": lambda torch: (
        _F(torch).kl_div(torch.log_softmax(_m(torch, 2, 3), 1), torch.softmax(_m(torch, 2, 3, seed=1), 1),
                         reduction="none")),
    "mse_none_broadcast_same": lambda torch: _F(torch).mse_loss(_m(torch, 2, 3), torch.zeros(2, 3), reduction="none"),
    "mse_broadcast_target": lambda torch: _F(torch).mse_loss(_m(torch, 3, 1), _m(torch, 3, seed=1)),
    "l1_int_raises": lambda torch: raised(lambda: _F(torch).l1_loss(torch.tensor([1, 2]), torch.tensor([0, 0]))),
    "softmax_dtype_f64_from_f32": lambda torch: _F(torch).softmax(_m(torch, 2, 3), dim=-1, dtype=torch.float64),
    "log_softmax_dtype": lambda torch: _F(torch).log_softmax(_m(torch, 2, 3), dim=1, dtype=torch.float64).dtype,
    "softmax_implicit_dim_2d": lambda torch: _F(torch).softmax(_m(torch, 2, 3)),
    "softmax_implicit_dim_3d": lambda torch: _F(torch).softmax(_m(torch, 2, 3, 2)),
    "softmax_int_raises": lambda torch: raised(lambda: torch.softmax(torch.tensor([1, 2]), 0)),
    "gumbel_softmax_soft": lambda torch: _gumbel(torch, False),
    "gumbel_softmax_hard": lambda torch: _gumbel(torch, True),
    "sdpa_bool_mask": _sdpa_bool_mask,
    "sdpa_float_mask_4d": _sdpa_float_mask,
    "sdpa_causal_matches_manual": _sdpa_causal_vs_manual,
    "sdpa_scale_causal_grad": _sdpa_scale_grad,
    "sdpa_causal_rect": lambda torch: (
        _F(torch).scaled_dot_product_attention(_m(torch, 1, 2, 3), _m(torch, 1, 4, 3, seed=1),
                                               _m(torch, 1, 4, 3, seed=2), is_causal=True)),
    "sdpa_mask_and_causal_raises": lambda torch: (
        raised(lambda: _F(torch).scaled_dot_product_attention(
            _m(torch, 1, 2, 3), _m(torch, 1, 2, 3), _m(torch, 1, 2, 3),
            attn_mask=torch.ones(2, 2, dtype=torch.bool), is_causal=True))),
    "dropout_training_false_identity": lambda torch: _F(torch).dropout(_m(torch, 3), p=0.5, training=False),
    "dropout_structure": lambda torch: (
        (lambda x, y: bool(((y == 0) | (y == 2 * x)).all()))(torch.ones(100), _F(torch).dropout(torch.ones(100), 0.5))),
    "leaky_relu_slope": lambda torch: _F(torch).leaky_relu(torch.tensor([-2.0, 3.0]), negative_slope=0.2),
    "hardtanh_bounds": lambda torch: _F(torch).hardtanh(torch.tensor([-3.0, 0.5, 3.0]), min_val=-2.0, max_val=2.0),
    "softplus_threshold": lambda torch: _F(torch).softplus(torch.tensor([-1.0, 1.0, 30.0]), beta=2, threshold=10),
    "relu_inplace_functional": lambda torch: (lambda x: (_F(torch).relu(x, inplace=True), x))(torch.tensor([-1.0, 2.0])),
    "cosine_similarity_broadcast": lambda torch: _F(torch).cosine_similarity(_m(torch, 1, 3), _m(torch, 4, 3, seed=1)),
    "cosine_similarity_zero_eps": lambda torch: _F(torch).cosine_similarity(torch.zeros(1, 3), torch.ones(1, 3)),
    "avg_pool2d_count_include_pad_false": lambda torch: (
        _F(torch).avg_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 3, stride=2, padding=1, count_include_pad=False)),
    "max_pool1d_indices": lambda torch: (
        _F(torch).max_pool1d(torch.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2, return_indices=True)),
    "adaptive_max_pool1d": lambda torch: _F(torch).adaptive_max_pool1d(_m(torch, 1, 2, 7), 3),
    "adaptive_avg_pool2d_none": lambda torch: _F(torch).adaptive_avg_pool2d(_m(torch, 1, 1, 4, 6), (None, 2)).shape,
    "layer_norm_fn_weight": lambda torch: (
        _F(torch).layer_norm(_m(torch, 2, 4), (4,), weight=torch.tensor([1.0, 2.0, 0.5, 1.0]), bias=torch.ones(4))),
    "group_norm_fn": lambda torch: _F(torch).group_norm(_m(torch, 2, 4, 3), 2),
    "batch_norm_fn_training": lambda torch: (
        (lambda rm, rv: (_F(torch).batch_norm(_m(torch, 4, 3), rm, rv, training=True, momentum=0.5), rm, rv))(
            torch.zeros(3), torch.ones(3))),
    "instance_norm_fn": lambda torch: _F(torch).instance_norm(_m(torch, 2, 3, 5)),
    "rms_norm_fn": lambda torch: _F(torch).rms_norm(_m(torch, 2, 4), (4,)),
    "rmsnorm_module": lambda torch: torch.nn.RMSNorm(4)(_m(torch, 2, 4)),
    "affine_grid_identity": lambda torch: (
        _F(torch).affine_grid(torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), (1, 1, 2, 3), align_corners=False)),
    "grid_sample_identity": lambda torch: (
        _F(torch).grid_sample(_m(torch, 1, 1, 3, 4),
                              _F(torch).affine_grid(torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]),
                                                    (1, 1, 3, 4), align_corners=False), align_corners=False)),
    "pixel_unshuffle": lambda torch: _F(torch).pixel_unshuffle(torch.arange(16.0).view(1, 1, 4, 4), 2),
    "ctc_loss": lambda torch: (
        _F(torch).ctc_loss(torch.log_softmax(_m(torch, 6, 2, 4), 2), torch.tensor([[1, 2], [3, 3]]),
                           torch.tensor([6, 5]), torch.tensor([2, 2]))),
    "linear_fn_no_bias": lambda torch: _F(torch).linear(_m(torch, 2, 3), _m(torch, 4, 3, seed=1)),
    "silu_fn": lambda torch: _F(torch).silu(torch.tensor([-1.0, 0.0, 2.0])),
    "mish_fn": lambda torch: _F(torch).mish(torch.tensor([-1.0, 0.0, 2.0])),
    "multilabel_soft_margin": lambda torch: (
        _F(torch).multilabel_soft_margin_loss(_m(torch, 2, 3), torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))),
    "logsigmoid_fn": lambda torch: _F(torch).logsigmoid(torch.tensor([-30.0, 0.0, 5.0])),
})


# ---------------------------------------------------------------- modules

def _nested(torch):
    nn = torch.nn
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.ReLU())])
            self.heads = nn.ModuleDict({"cls": nn.Linear(2, 3), "reg": nn.Linear(2, 1)})
            self.norm = nn.LayerNorm(2)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            x = self.norm(x)
            return self.heads["cls"](x), self.heads["reg"](x)
    return fill(torch, nn.Sequential(Block(), ))


def _apply_order(torch):
    seen = []
    _nested(torch).apply(lambda m: seen.append(type(m).__name__))
    return seen


def _apply_init_counts(torch):
    counts = collections.Counter()

    def init(m):
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
            counts["linear"] += 1
        elif isinstance(m, torch.nn.LayerNorm):
            counts["norm"] += 1
    model = _nested(torch)
    model.apply(init)
    return dict(sorted(counts.items())), [b.abs().sum().item() for n, b in model.named_parameters() if n.endswith("bias")]


def _load_result_str(torch):
    m = _nested(torch)
    return str(m.load_state_dict(m.state_dict()))


def _load_nonstrict_fields(torch):
    m = _nested(torch)
    sd = m.state_dict()
    del sd["0.norm.bias"]
    sd["extra.weight"] = torch.ones(1)
    r = m.load_state_dict(sd, strict=False)
    return r.missing_keys, r.unexpected_keys, len(r)


def _load_strict_error_msg_type(torch):
    m = _nested(torch)
    sd = m.state_dict()
    del sd["0.norm.bias"]
    return raised(lambda: m.load_state_dict(sd))


def _load_shape_mismatch_nonstrict(torch):
    m = torch.nn.Linear(2, 2)
    return raised(lambda: m.load_state_dict({"weight": torch.ones(3, 2), "bias": torch.ones(2)}, strict=False))


def _frozen_optimizer(torch):
    m = _nested(torch)
    m[0].layers.requires_grad_(False)
    opt = torch.optim.SGD(filter(lambda p: p.requires_grad, m.parameters()), lr=0.1)
    return len(opt.param_groups[0]["params"]), sum(p.numel() for p in m.parameters() if p.requires_grad)


def _frozen_step(torch):
    m = _nested(torch)
    for p in m[0].layers.parameters():
        p.requires_grad = False
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    before = m[0].layers[0].weight.clone()
    out = m(torch.ones(2, 2))
    (out[0].sum() + out[1].sum()).backward()
    opt.step()
    return torch.equal(before, m[0].layers[0].weight), m[0].layers[0].weight.grad is None, m[0].norm.weight


def _add_param_group_defaults(torch):
    a = torch.nn.Parameter(torch.ones(2))
    b = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    g = opt.param_groups[1]
    return g["lr"], g["momentum"], isinstance(g["params"], list)


def _add_param_group_duplicate(torch):
    a = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([a], lr=0.1)
    return raised(lambda: opt.add_param_group({"params": [a]}))


def _param_groups_two_lrs(torch):
    m = _nested(torch)
    opt = torch.optim.Adam([{"params": m[0].layers.parameters()},
                            {"params": m[0].heads.parameters(), "lr": 1e-2}], lr=1e-3)
    return [g["lr"] for g in opt.param_groups], [len(g["params"]) for g in opt.param_groups]


def _no_decay_groups(torch):
    m = _nested(torch)
    decay, no_decay = [], []
    for n, p in m.named_parameters():
        (no_decay if n.endswith("bias") or "norm" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    return [(len(g["params"]), g["weight_decay"]) for g in opt.param_groups]


def _clip_return(torch):
    m = _nested(torch)
    out = m(torch.ones(2, 2))
    (out[0].sum() * 10 + out[1].sum()).backward()
    total = torch.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
    after = torch.sqrt(sum((p.grad ** 2).sum() for p in m.parameters()))
    return type(total).__name__, total.dim(), after


def _clip_value(torch):
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    (p * torch.tensor([5.0, -0.1, -4.0])).sum().backward()
    r = torch.nn.utils.clip_grad_value_([p], clip_value=1.0)
    return r, p.grad


def _zero_grad_false(torch):
    m = torch.nn.Linear(2, 1)
    m(torch.ones(1, 2)).sum().backward()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    opt.zero_grad(set_to_none=False)
    a = m.weight.grad
    opt.zero_grad()
    return a, m.weight.grad


def _vec_roundtrip(torch):
    m = _nested(torch)
    v = torch.nn.utils.parameters_to_vector(m.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(float(v.numel())), m.parameters())
    return v.shape, m[0].heads["reg"].bias


def _deepcopy_optim(torch):
    m = torch.nn.Linear(2, 1)
    c = copy.deepcopy(m)
    with torch.no_grad():
        c.weight.fill_(3.0)
    return c.weight is m.weight, bool((m.weight == 3.0).all()), type(c).__name__


def _deepcopy_ema(torch):
    torch.manual_seed(0)
    model = fill(torch, torch.nn.Linear(2, 2))
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.mul_(0.9).add_(pm.detach() * 2.0, alpha=0.1)
    return list(ema.parameters())


def _buffers_non_persistent_to(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("pe", torch.ones(2), persistent=False)
            self.register_buffer("steps", torch.zeros(1, dtype=torch.long))
            self.lin = torch.nn.Linear(2, 2)
    m = M().double()
    return (m.pe.dtype, m.steps.dtype, list(m.state_dict()), [n for n, _ in m.named_buffers()])


def _named_modules_prefix(torch):
    return [n for n, _ in _nested(torch).named_modules(prefix="model")]


def _named_modules_shared(torch):
    lin = torch.nn.Linear(2, 2)
    seq = torch.nn.Sequential(lin, torch.nn.ReLU(), lin)
    return ([n for n, _ in seq.named_modules()],
            [n for n, _ in seq.named_modules(remove_duplicate=False)])


def _named_params_tied(torch):
    emb = torch.nn.Embedding(4, 2)
    head = torch.nn.Linear(2, 4, bias=False)
    head.weight = emb.weight
    m = torch.nn.ModuleDict({"emb": emb, "head": head})
    return ([n for n, _ in m.named_parameters()],
            [n for n, _ in m.named_parameters(remove_duplicate=False)],
            list(m.state_dict()))


def _sequential_mutations(torch):
    nn = torch.nn
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    s.append(nn.Tanh())
    s.insert(1, nn.Dropout())
    s.extend([nn.Sigmoid()])
    popped = s.pop(0)
    del s[0]
    return [type(m).__name__ for m in s], type(popped).__name__, list(s._modules)


def _modulelist_ops(torch):
    nn = torch.nn
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU(), nn.Tanh()])
    ml += nn.ModuleList([nn.Sigmoid()])
    sub = ml[1:3]
    return type(sub).__name__, [type(m).__name__ for m in ml[-2:]], len(ml), list(ml._modules)


def _moduledict_ops(torch):
    nn = torch.nn
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
    md.update({"c": nn.Sigmoid()})
    popped = md.pop("b")
    return list(md.keys()), type(popped).__name__, "a" in md, len(md)


def _lazy_linear(torch):
    m = torch.nn.LazyLinear(3)
    y = m(torch.ones(2, 5))
    return y.shape, m.weight.shape, type(m).__name__


def _flatten_unflatten_modules(torch):
    nn = torch.nn
    x = torch.ones(2, 3, 4, 5)
    return (nn.Flatten()(x).shape, nn.Flatten(0, 1)(x).shape, nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape)


def _transformer_mask(torch):
    return torch.nn.Transformer.generate_square_subsequent_mask(3)


def _encoder_layer(torch):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, batch_first=True)
    fill(torch, layer)
    layer.eval()
    return [n for n, _ in layer.named_parameters()], layer(_m(torch, 2, 3, 4))


def _encoder_stack(torch):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0)
    enc = torch.nn.TransformerEncoder(layer, num_layers=2)
    fill(torch, enc)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(3)
    return len(list(enc.parameters())), enc(_m(torch, 3, 2, 4), mask=mask)


def _weight_norm_names(torch):
    m = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2))
    return sorted(n for n, _ in m.named_parameters()), m.weight.shape


def _spectral_norm_shape(torch):
    m = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(3, 2))
    return m(torch.ones(1, 3)).shape


def _hook_grad_module_order(torch):
    order = []
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    for i, layer in enumerate(m):
        layer.register_forward_hook(lambda mod, inp, out, i=i: order.append(i))
    m(torch.ones(1, 2))
    return order


probes("scripts2_module", {
    "apply_visit_order": _apply_order,
    "apply_init_counts": _apply_init_counts,
    "state_dict_keys_nested": lambda torch: list(_nested(torch).state_dict()),
    "named_modules_prefix": _named_modules_prefix,
    "named_modules_shared": _named_modules_shared,
    "named_parameters_tied": _named_params_tied,
    "children_order": lambda torch: [type(c).__name__ for c in _nested(torch)[0].children()],
    "load_result_str": _load_result_str,
    "load_nonstrict_fields": _load_nonstrict_fields,
    "load_strict_missing_raises": _load_strict_error_msg_type,
    "load_shape_mismatch_nonstrict_raises": _load_shape_mismatch_nonstrict,
    "frozen_filter_optimizer": _frozen_optimizer,
    "frozen_step": _frozen_step,
    "vector_roundtrip": _vec_roundtrip,
    "deepcopy_independent": _deepcopy_optim,
    "deepcopy_ema_update": _deepcopy_ema,
    "non_persistent_buffer_double": _buffers_non_persistent_to,
    "sequential_mutations": _sequential_mutations,
    "sequential_neg_index": lambda torch: type(torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU())[-1]).__name__,
    "modulelist_ops": _modulelist_ops,
    "moduledict_ops": _moduledict_ops,
    "lazy_linear": _lazy_linear,
    "flatten_unflatten_modules": _flatten_unflatten_modules,
    "transformer_square_mask": _transformer_mask,
    "encoder_layer_batch_first": _encoder_layer,
    "encoder_stack_causal": _encoder_stack,
    "weight_norm_parametrization": _weight_norm_names,
    "spectral_norm_parametrization": _spectral_norm_shape,
    "forward_hooks_order": _hook_grad_module_order,
    "eval_propagates_nested": lambda torch: (
        (lambda m: [x.training for x in m.modules()])(_nested(torch).eval())),
    "train_after_eval": lambda torch: (
        (lambda m: m[0].heads["cls"].training)(_nested(torch).eval().train())),
    "requires_grad_returns_self": lambda torch: (lambda m: m.requires_grad_(False) is m)(_nested(torch)),
    "num_trainable": lambda torch: sum(p.numel() for p in _nested(torch).parameters() if p.requires_grad),
    "repr_conv2d": lambda torch: repr(torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)),
    "repr_conv2d_bias_false": lambda torch: repr(torch.nn.Conv2d(3, 8, (3, 5), bias=False)),
    "repr_batchnorm2d": lambda torch: repr(torch.nn.BatchNorm2d(8)),
    "repr_dropout": lambda torch: repr(torch.nn.Dropout(0.2)),
    "repr_embedding": lambda torch: repr(torch.nn.Embedding(10, 4, padding_idx=0)),
    "repr_lstm": lambda torch: repr(torch.nn.LSTM(4, 8, num_layers=2, batch_first=True)),
    "repr_layernorm": lambda torch: repr(torch.nn.LayerNorm(4)),
    "repr_maxpool": lambda torch: repr(torch.nn.MaxPool2d(2)),
    "repr_modulelist_lines": lambda torch: repr(torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU()])).splitlines(),
    "repr_nested_lines": lambda torch: repr(_nested(torch)).splitlines(),
    "repr_gelu_tanh": lambda torch: repr(torch.nn.GELU(approximate="tanh")),
    "repr_leaky_relu": lambda torch: repr(torch.nn.LeakyReLU(0.2, inplace=True)),
    "softmax2d_module": lambda torch: torch.nn.Softmax2d()(_m(torch, 1, 3, 2, 2)).sum(1),
    "conv_transpose_output_padding": lambda torch: (
        torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)(torch.ones(1, 1, 4, 4)).shape),
    "conv_transpose_output_size": lambda torch: (
        torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)(torch.ones(1, 1, 4, 4), output_size=[8, 8]).shape),
    "constant_pad_module": lambda torch: torch.nn.ConstantPad1d((1, 2), 3.5)(torch.ones(1, 1, 2)),
    "reflection_pad2d_module": lambda torch: torch.nn.ReflectionPad2d(1)(torch.arange(4.0).view(1, 1, 2, 2)),
    "identity_args_ignored": lambda torch: torch.nn.Identity(54, unused="x")(torch.ones(2)),
    "cosine_similarity_module": lambda torch: torch.nn.CosineSimilarity(dim=0)(_m(torch, 3, 2), _m(torch, 3, 2, seed=1)),
    "parameter_requires_grad_false": lambda torch: torch.nn.Parameter(torch.ones(2), requires_grad=False).requires_grad,
    "module_buffers_to_half": lambda torch: [b.dtype for b in torch.nn.BatchNorm1d(2).half().buffers()],
})


# ---------------------------------------------------------------- optimizer and scheduler idioms

def _sched_seq(torch, make, n=6):
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = make(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(round(sched.get_last_lr()[0], 6))
    return out


def _warmup_cosine(torch):
    return _sched_seq(torch, lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=2),
            s.CosineAnnealingLR(o, T_max=4)], milestones=[2]), n=7)


def _chained_step_exp(torch):
    return _sched_seq(torch, lambda s, o: s.ChainedScheduler(
        [s.StepLR(o, step_size=2, gamma=0.5), s.ExponentialLR(o, gamma=0.9)]))


def _warmup_lambda(torch):
    warm = 3
    return _sched_seq(torch, lambda s, o: s.LambdaLR(o, lambda step: min(1.0, (step + 1) / warm)))


def _plateau_max(torch):
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    out = []
    for acc in [0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7]:
        sched.step(acc)
        out.append(opt.param_groups[0]["lr"])
    return out, sched.get_last_lr()


def _sched_two_groups(torch):
    a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    opt.step()
    sched.step()
    return [round(x, 8) for x in sched.get_last_lr()], [g["initial_lr"] for g in opt.param_groups]


def _onecycle_total(torch):
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.AdamW([p], lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=10)
    lrs = []
    for _ in range(9):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


def _opt_state_after_step(torch):
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.Adam([p], lr=0.1)
    (p ** 2).sum().backward()
    opt.step()
    st = opt.state[p]
    return sorted(st.keys()), float(st["step"]), st["exp_avg"]


def _opt_zero_grad_none_then_step(torch):
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    q = torch.nn.Parameter(torch.tensor([1.0]))
    opt = torch.optim.Adam([p, q], lr=0.1)
    (p ** 2).sum().backward()
    opt.step()
    return q, len(opt.state), p


def _sgd_lr_change_midway(torch):
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    for i in range(3):
        opt.zero_grad()
        (p * 2).sum().backward()
        opt.step()
        if i == 0:
            for g in opt.param_groups:
                g["lr"] *= 0.1
    return p, opt.state[p]["momentum_buffer"]


def _opt_state_dict_params(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.SGD([{"params": m[0].parameters()}, {"params": m[1].parameters(), "lr": 0.5}], lr=0.1)
    return [g["params"] for g in opt.state_dict()["param_groups"]]


def _grad_accumulation(torch):
    torch.manual_seed(0)
    m = fill(torch, torch.nn.Linear(3, 1))
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.tensor(arr(4, 3))
    for i in range(4):
        loss = m(x[i:i + 1]).pow(2).mean() / 2
        loss.backward()
        if (i + 1) % 2 == 0:
            opt.step()
            opt.zero_grad()
    return m.weight, m.bias


def _autocast_cpu(torch):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = torch.nn.Linear(2, 2)(torch.ones(1, 2))
    return y.dtype


def _autocast_disabled(torch):
    with torch.autocast(device_type="cpu", enabled=False):
        y = torch.nn.Linear(2, 2)(torch.ones(1, 2))
    return y.dtype


def _grad_scaler_disabled(torch):
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss = (p ** 2).sum()
    scaled = scaler.scale(loss)
    scaled.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    return scaled, p, scaler.is_enabled()


probes("scripts2_optim", {
    "seq_lr_warmup_cosine": _warmup_cosine,
    "chained_step_exp": _chained_step_exp,
    "warmup_lambda": _warmup_lambda,
    "plateau_max_patience": _plateau_max,
    "sched_two_groups": _sched_two_groups,
    "onecycle_total_steps": _onecycle_total,
    "adam_state_keys": _opt_state_after_step,
    "unused_param_no_state": _opt_zero_grad_none_then_step,
    "sgd_lr_change_midway": _sgd_lr_change_midway,
    "state_dict_param_ids": _opt_state_dict_params,
    "grad_accumulation": _grad_accumulation,
    "add_param_group_defaults": _add_param_group_defaults,
    "add_param_group_duplicate_raises": _add_param_group_duplicate,
    "param_groups_two_lrs": _param_groups_two_lrs,
    "no_decay_groups": _no_decay_groups,
    "clip_grad_norm_return": _clip_return,
    "clip_grad_value_return": _clip_value,
    "zero_grad_set_to_none_false_then_true": _zero_grad_false,
    "optimizer_repr_first_line": lambda torch: (
        repr(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)).splitlines()[0]),
    "optimizer_defaults_lr": lambda torch: torch.optim.Adam([torch.nn.Parameter(torch.ones(1))]).defaults["lr"],
    "sgd_requires_lr_kw_ok": lambda torch: torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], 0.01).param_groups[0]["lr"],
    "autocast_cpu_bf16": _autocast_cpu,
    "grad_scaler_disabled": _grad_scaler_disabled,
    "set_float32_matmul_precision": lambda torch: torch.set_float32_matmul_precision("highest"),
    "cudnn_benchmark_flag": lambda torch: setattr(torch.backends.cudnn, "benchmark", False),
    "allow_tf32_flag": lambda torch: isinstance(torch.backends.cuda.matmul.allow_tf32, bool),
    "cuda_empty_cache_noop": lambda torch: torch.cuda.empty_cache(),
    "get_num_threads_int": lambda torch: isinstance(torch.get_num_threads(), int),
    "compile_eager_backend": lambda torch: torch.compile(lambda x: x * 2 + 1, backend="eager")(torch.ones(2)),
    "random_manual_seed_type": lambda torch: type(torch.random.manual_seed(0)).__name__,
})


# ---------------------------------------------------------------- data

Pair = collections.namedtuple("Pair", ["x", "y"])


def _ud(torch):
    return torch.utils.data


def _ds(torch, items):
    class DS(_ud(torch).Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            return items[i]
    return DS()


def _collate_namedtuple(torch):
    items = [Pair(torch.tensor([float(i)]), i) for i in range(4)]
    b = next(iter(_ud(torch).DataLoader(_ds(torch, items), batch_size=2)))
    return type(b).__name__, b.x, b.y


def _collate_list_of_lists(torch):
    return _ud(torch).default_collate([[1, 2], [3, 4], [5, 6]])


def _collate_tuple_str_int(torch):
    items = [("a", 1), ("b", 2), ("c", 3)]
    return list(_ud(torch).DataLoader(items, batch_size=2))


def _collate_ragged_raises(torch):
    items = [torch.ones(2), torch.ones(3)]
    return raised(lambda: next(iter(_ud(torch).DataLoader(items, batch_size=2))))


def _batch_none_types(torch):
    items = [(np.float32(1.5), 2), (np.float32(2.5), 3)]
    return list(_ud(torch).DataLoader(items, batch_size=None))


def _drop_last_len(torch):
    ds = _ud(torch).TensorDataset(torch.arange(10))
    return (len(_ud(torch).DataLoader(ds, batch_size=3, drop_last=True)),
            len(_ud(torch).DataLoader(ds, batch_size=3)),
            [b[0].shape[0] for b in _ud(torch).DataLoader(ds, batch_size=3, drop_last=True)])


def _random_split_fractions_sizes(torch):
    ds = _ud(torch).TensorDataset(torch.arange(11))
    parts = _ud(torch).random_split(ds, [0.7, 0.2, 0.1], generator=torch.Generator().manual_seed(0))
    return [len(p) for p in parts], sorted(int(i) for p in parts for i in p.indices)


def _random_split_ints(torch):
    ds = list(range(10))
    a, b = _ud(torch).random_split(ds, [8, 2])
    return len(a), len(b), type(a).__name__, sorted(list(a) + list(b)) == ds


def _concat_indexing(torch):
    a = _ud(torch).TensorDataset(torch.arange(3))
    b = _ud(torch).TensorDataset(torch.arange(10, 12))
    c = _ud(torch).ConcatDataset([a, b])
    return len(c), c[3], c[-1], c.cumulative_sizes


def _concat_out_of_range(torch):
    c = _ud(torch).ConcatDataset([list(range(3)), list(range(2))])
    return raised(lambda: c[5]), raised(lambda: c[-6])


def _weighted_sampler_structure(torch):
    s = _ud(torch).WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=20, replacement=True,
                                         generator=torch.Generator().manual_seed(0))
    idx = list(s)
    return len(s), len(idx), sorted(set(int(i) for i in idx)) <= [1, 3], type(idx[0]).__name__


def _weighted_sampler_tensor_weights(torch):
    labels = torch.tensor([0, 0, 0, 1])
    class_w = 1.0 / torch.bincount(labels).float()
    s = _ud(torch).WeightedRandomSampler(class_w[labels], num_samples=4)
    return len(list(s))


def _subset_of_subset(torch):
    ds = list(range(10, 20))
    s = _ud(torch).Subset(_ud(torch).Subset(ds, [1, 3, 5, 7]), [0, 2])
    return [s[i] for i in range(len(s))], s.indices


def _chain_dataset(torch):
    class It(_ud(torch).IterableDataset):
        def __init__(self, lo, hi):
            self.lo, self.hi = lo, hi

        def __iter__(self):
            return iter(range(self.lo, self.hi))
    return list(_ud(torch).ChainDataset([It(0, 2), It(5, 7)]))


def _stack_dataset(torch):
    ds = _ud(torch).StackDataset(torch.arange(3), torch.arange(3) * 10)
    return ds[1], len(ds)


def _loader_dict_of_tensors_batch(torch):
    items = [{"input_ids": torch.tensor([i, i + 1]), "label": torch.tensor(i)} for i in range(3)]
    b = next(iter(_ud(torch).DataLoader(items, batch_size=3)))
    return list(b), b["input_ids"], b["label"]


def _loader_sampler_and_shuffle_raises(torch):
    ds = list(range(4))
    return raised(lambda: _ud(torch).DataLoader(ds, shuffle=True, sampler=_ud(torch).SequentialSampler(ds)))


def _loader_shuffle_is_permutation(torch):
    g = torch.Generator().manual_seed(0)
    batches = list(_ud(torch).DataLoader(list(range(7)), batch_size=3, shuffle=True, generator=g))
    return [len(b) for b in batches], sorted(int(v) for b in batches for v in b)


def _pad_collate(torch):
    def collate(batch):
        xs = [b[0] for b in batch]
        return (torch.nn.utils.rnn.pad_sequence(xs, batch_first=True, padding_value=-1),
                torch.tensor([len(x) for x in xs]))
    items = [(torch.arange(n) + 1, n) for n in (2, 4, 1)]
    return next(iter(_ud(torch).DataLoader(items, batch_size=3, collate_fn=collate)))


def _pad_packed_roundtrip(torch):
    rnn = torch.nn.utils.rnn
    seqs = [torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[4.0]])]
    padded = rnn.pad_sequence(seqs, batch_first=True)
    packed = rnn.pack_padded_sequence(padded, torch.tensor([3, 1]), batch_first=True, enforce_sorted=True)
    out, lens = rnn.pad_packed_sequence(packed, batch_first=True)
    return out, lens, packed.batch_sizes


def _pack_unsorted(torch):
    rnn = torch.nn.utils.rnn
    padded = torch.tensor([[[4.0], [0.0], [0.0]], [[1.0], [2.0], [3.0]]])
    packed = rnn.pack_padded_sequence(padded, [1, 3], batch_first=True, enforce_sorted=False)
    out, lens = rnn.pad_packed_sequence(packed, batch_first=True)
    return out, lens, packed.data.shape


probes("scripts2_data", {
    "collate_namedtuple": _collate_namedtuple,
    "collate_list_of_lists_transposes": _collate_list_of_lists,
    "collate_tuple_str_int": _collate_tuple_str_int,
    "collate_ragged_raises": _collate_ragged_raises,
    "batch_none_numpy_scalar": _batch_none_types,
    "drop_last_len": _drop_last_len,
    "random_split_fraction_sizes": _random_split_fractions_sizes,
    "random_split_list": _random_split_ints,
    "concat_indexing": _concat_indexing,
    "concat_out_of_range": _concat_out_of_range,
    "weighted_sampler_structure": _weighted_sampler_structure,
    "weighted_sampler_tensor_weights": _weighted_sampler_tensor_weights,
    "subset_of_subset": _subset_of_subset,
    "chain_dataset": _chain_dataset,
    "stack_dataset": _stack_dataset,
    "loader_dict_of_tensors": _loader_dict_of_tensors_batch,
    "loader_sampler_and_shuffle_raises": _loader_sampler_and_shuffle_raises,
    "loader_shuffle_is_permutation": _loader_shuffle_is_permutation,
    "pad_sequence_collate_fn": _pad_collate,
    "pad_packed_roundtrip": _pad_packed_roundtrip,
    "pack_unsorted": _pack_unsorted,
})


# ---------------------------------------------------------------- autograd, distributions, functorch

def _jacobian(torch):
    return torch.autograd.functional.jacobian(lambda x: x ** 2 + x.sum(), torch.tensor([1.0, 2.0]))


def _grad_allow_unused(torch):
    x = torch.tensor(1.0, requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    return torch.autograd.grad(x * 2, [x, y], allow_unused=True)


def _grad_unused_raises(torch):
    x = torch.tensor(1.0, requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    return raised(lambda: torch.autograd.grad(x * 2, [x, y]))


def _gradcheck(torch):
    x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    return torch.autograd.gradcheck(lambda t: (t.sin() * t).sum(), (x,))


def _grad_penalty(torch):
    x = torch.tensor(arr(2, 3), requires_grad=True)
    w = torch.tensor(arr(3, 1, seed=1), requires_grad=True)
    out = torch.tanh(x @ w)
    g, = torch.autograd.grad(out.sum(), x, create_graph=True)
    penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()
    return penalty, w.grad


def _detect_anomaly(torch):
    with torch.autograd.detect_anomaly():
        x = torch.tensor([1.0], requires_grad=True)
        (x * 2).sum().backward()
    return x.grad


def _vmap_dot(torch):
    return torch.vmap(torch.dot)(_m(torch, 3, 2), _m(torch, 3, 2, seed=1))


def _func_grad(torch):
    return torch.func.grad(lambda x: (x ** 2).sum())(torch.tensor([1.0, 3.0]))


def _dist(torch):
    return torch.distributions


probes("scripts2_autograd", {
    "jacobian": _jacobian,
    "grad_allow_unused": _grad_allow_unused,
    "grad_unused_raises": _grad_unused_raises,
    "gradcheck": _gradcheck,
    "gradient_penalty": _grad_penalty,
    "detect_anomaly": _detect_anomaly,
    "vmap_dot": _vmap_dot,
    "func_grad": _func_grad,
    "normal_log_prob": lambda torch: (
        _dist(torch).Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0])).log_prob(torch.tensor([0.5, 0.5]))),
    "kl_normal_normal": lambda torch: (
        _dist(torch).kl_divergence(_dist(torch).Normal(torch.tensor([0.0]), torch.tensor([1.0])),
                                   _dist(torch).Normal(torch.tensor([1.0]), torch.tensor([2.0])))),
    "categorical_logits_log_prob": lambda torch: (
        _dist(torch).Categorical(logits=torch.tensor([[1.0, 2.0, 0.5]])).log_prob(torch.tensor([1]))),
    "categorical_sample_shape": lambda torch: (
        (lambda s: (s.shape, s.dtype))(_dist(torch).Categorical(logits=torch.zeros(4, 3)).sample())),
})

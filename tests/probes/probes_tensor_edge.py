"""Probes: edge cases scripts meet — NaN/inf, ties, empty tensors, extremes, non-contiguous inputs."""

from tests.probes.harness import arr, grad, probes

_NAN = float("nan")
_INF = float("inf")


def _nan(torch):
    return torch.tensor([1.0, _NAN, 3.0, -1.0])


def _ties(torch):
    return torch.tensor([[2.0, 5.0, 5.0, 1.0], [7.0, 7.0, 0.0, 7.0]])


probes("edge", {
    "max_propagates_nan": lambda torch: _nan(torch).max(),
    "min_propagates_nan": lambda torch: torch.min(_nan(torch)),
    "argmax_nan": lambda torch: _nan(torch).argmax(),
    "max_dim_nan": lambda torch: _nan(torch).view(2, 2).max(dim=1),
    "sum_nan": lambda torch: _nan(torch).sum(),
    "sort_nan_last": lambda torch: torch.sort(_nan(torch)),
    "relu_nan": lambda torch: torch.relu(_nan(torch)),
    "clamp_nan": lambda torch: _nan(torch).clamp(0, 2),
    "nan_eq_nan": lambda torch: _nan(torch) == _nan(torch),
    "softmax_all_neg_inf": lambda torch: torch.softmax(torch.tensor([-_INF, -_INF]), 0),
    "softmax_masked_row": lambda torch: torch.softmax(torch.tensor([[0.0, -_INF, 1.0]]), -1),
    "softmax_large": lambda torch: torch.softmax(torch.tensor([1000.0, 1001.0]), 0),
    "log_softmax_large": lambda torch: torch.log_softmax(torch.tensor([1000.0, 0.0]), 0),
    "logsumexp_neg_inf": lambda torch: torch.logsumexp(torch.tensor([-_INF, -_INF]), 0),
    "logsumexp_inf": lambda torch: torch.logsumexp(torch.tensor([_INF, 1.0]), 0),
    "sigmoid_extremes": lambda torch: torch.sigmoid(torch.tensor([-100.0, 100.0])),
    "tanh_extremes": lambda torch: torch.tanh(torch.tensor([-50.0, 50.0])),
    "exp_overflow": lambda torch: torch.exp(torch.tensor([100.0])),
    "log_zero": lambda torch: torch.log(torch.tensor([0.0, -1.0])),
    "div_by_zero_float": lambda torch: torch.tensor([1.0, -1.0, 0.0]) / 0,
    "int_div_by_zero_true": lambda torch: torch.tensor([1, 0]) / 0,
    "sqrt_negative": lambda torch: torch.sqrt(torch.tensor([-1.0])),
    "pow_zero_zero": lambda torch: torch.tensor([0.0]) ** 0,
    "pow_negative_fraction": lambda torch: torch.tensor([-8.0]) ** (1 / 3),
    "cross_entropy_large_logits": lambda torch: (
        torch.nn.functional.cross_entropy(torch.tensor([[1000.0, 0.0], [0.0, 1000.0]]),
                                          torch.tensor([1, 1]))),
    "bce_logits_extreme": lambda torch: (
        torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([50.0, -50.0]),
                                                             torch.tensor([1.0, 1.0]))),
    "norm_zero_grad": lambda torch: (
        grad(lambda x: x.norm(), torch.zeros(3, requires_grad=True))),
    "sqrt_zero_grad": lambda torch: (
        grad(lambda x: x.sqrt().sum(), torch.zeros(2, requires_grad=True))),
    "abs_zero_grad": lambda torch: (
        grad(lambda x: x.abs().sum(), torch.zeros(2, requires_grad=True))),
    "relu_zero_grad": lambda torch: (
        grad(lambda x: x.relu().sum(), torch.zeros(2, requires_grad=True))),
    "clamp_boundary_grad": lambda torch: (
        grad(lambda x: x.clamp(0, 1).sum(), torch.tensor([0.0, 1.0, 0.5], requires_grad=True))),
    "max_binary_tie_grad": lambda torch: (
        grad(lambda x: torch.maximum(x, torch.ones(2)).sum(), torch.ones(2, requires_grad=True))),
    "argmax_ties_first": lambda torch: _ties(torch).argmax(dim=1),
    "argmin_ties_first": lambda torch: torch.tensor([3.0, 1.0, 1.0]).argmin(),
    "max_dim_ties_index": lambda torch: _ties(torch).max(dim=1).indices,
    "topk_ties": lambda torch: _ties(torch).topk(2, dim=1).values,
    "sort_stable_ties": lambda torch: torch.sort(_ties(torch), dim=1, stable=True).indices,
    "unique_sorted": lambda torch: torch.unique(torch.tensor([2, 2, 1])),
    "round_half_even": lambda torch: torch.round(torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])),
    "neg_zero_sign": lambda torch: torch.sign(torch.tensor([-0.0, 0.0])),
    "empty_cat": lambda torch: torch.cat([torch.zeros(0, 3), torch.ones(2, 3)]),
    "empty_matmul": lambda torch: torch.zeros(0, 3) @ torch.ones(3, 2),
    "empty_sum_dim": lambda torch: torch.zeros(0, 3).sum(0),
    "empty_amax_other_dim": lambda torch: torch.zeros(3, 0).amax(dim=0),
    "empty_index": lambda torch: torch.arange(5)[torch.tensor([], dtype=torch.long)],
    "empty_mask": lambda torch: torch.arange(3.0)[torch.zeros(3, dtype=torch.bool)],
    "empty_softmax": lambda torch: torch.softmax(torch.zeros(0, 4), -1).shape,
    "slice_beyond_end": lambda torch: torch.arange(5)[3:10],
    "slice_empty": lambda torch: torch.arange(5)[4:2],
    "zero_size_linear": lambda torch: torch.nn.Linear(3, 2)(torch.zeros(0, 3)).shape,
    "noncontig_sum": lambda torch: torch.tensor(arr(3, 4)).t().sum(0),
    "noncontig_matmul": lambda torch: torch.tensor(arr(3, 4)).t() @ torch.tensor(arr(3, 2, seed=1)),
    "noncontig_reshape_values": lambda torch: torch.tensor(arr(2, 3)).t().reshape(6),
    "noncontig_inplace": lambda torch: (lambda x: (x.t().mul_(2), x)[1])(torch.tensor(arr(2, 3))),
    "step_slice_grad": lambda torch: (
        grad(lambda x: x[::2].sum(), torch.ones(5, requires_grad=True))),
    "negative_step_flip_grad": lambda torch: (
        grad(lambda x: (x.flip(0) * torch.arange(3.0)).sum(), torch.ones(3, requires_grad=True))),
    "expand_then_contiguous": lambda torch: torch.tensor([1.0, 2.0]).expand(2, 2).contiguous(),
    "broadcast_inplace_target": lambda torch: (
        (lambda x: (x.add_(torch.tensor([1.0, 2.0])), x)[1])(torch.zeros(2, 2))),
    "scalar_tensor_arith": lambda torch: torch.tensor(2.0) * 3 + 1,
    "zero_dim_index_list": lambda torch: torch.tensor(5.0).reshape(1)[0],
    "zero_dim_item_int_type": lambda torch: type(torch.tensor(3).item()).__name__,
    "uint8_wraparound": lambda torch: torch.tensor([250], dtype=torch.uint8) + 10,
    "int_overflow_mul": lambda torch: torch.tensor([2 ** 62]) * 2,
    "int8_sum_promotes": lambda torch: torch.tensor([100, 100], dtype=torch.int8).sum(),
    "float16_precision": lambda torch: torch.tensor([1.0001], dtype=torch.float16),
    "float16_sum": lambda torch: torch.ones(2000, dtype=torch.float16).sum(),
    "f64_preserved_in_ops": lambda torch: (torch.ones(2, dtype=torch.float64) * 0.1).exp().dtype,
    "long_arange_large": lambda torch: torch.arange(2 ** 33, 2 ** 33 + 2),
    "var_single_element": lambda torch: torch.tensor([3.0]).var(),
    "std_single_unbiased_false": lambda torch: torch.tensor([3.0]).std(unbiased=False),
    "sum_dim_none_keepdim": lambda torch: torch.ones(2, 3).sum(dim=None, keepdim=True).shape,
    "cumsum_empty": lambda torch: torch.zeros(0).cumsum(0),
    "where_nan_grad": lambda torch: (
        grad(lambda x: torch.where(x > 0, x.sqrt(), torch.zeros(2)),
             torch.tensor([4.0, 1.0], requires_grad=True))),
    "nan_to_num_grad": lambda torch: (
        grad(lambda x: torch.nan_to_num(x * 1).sum(), torch.tensor([1.0, 2.0], requires_grad=True))),
    "isfinite_all_item": lambda torch: torch.isfinite(torch.tensor([1.0, _INF])).all().item(),
    "inf_comparison": lambda torch: torch.tensor([_INF, -_INF]) > 1e38,
})

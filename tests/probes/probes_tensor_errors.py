"""Probes: the exception class PyTorch raises for common mistakes (descend must raise the same)."""

from tests.probes.harness import probes

def _clip_inf_grad(torch):
    p = torch.nn.Parameter(torch.ones(1))
    p.grad = torch.tensor([float("inf")])
    torch.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


probes("errors", {
    "add_shape_mismatch": lambda torch: torch.ones(2, 3) + torch.ones(4),
    "mul_shape_mismatch": lambda torch: torch.ones(3) * torch.ones(2),
    "matmul_mismatch": lambda torch: torch.ones(2, 3) @ torch.ones(2, 3),
    "mm_mismatch": lambda torch: torch.mm(torch.ones(2, 3), torch.ones(4, 2)),
    "mm_1d": lambda torch: torch.mm(torch.ones(3), torch.ones(3, 2)),
    "bmm_2d": lambda torch: torch.bmm(torch.ones(2, 3), torch.ones(3, 2)),
    "dot_2d": lambda torch: torch.dot(torch.ones(2, 2), torch.ones(2, 2)),
    "mm_dtype_mismatch": lambda torch: (
        torch.mm(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.float64))),
    "matmul_int_float": lambda torch: torch.ones(2, 2, dtype=torch.int64) @ torch.ones(2, 2),
    "view_wrong_numel": lambda torch: torch.ones(6).view(4, 2),
    "view_noncontiguous": lambda torch: torch.ones(2, 3).t().view(6),
    "view_two_neg": lambda torch: torch.ones(6).view(-1, -1),
    "reshape_wrong_numel": lambda torch: torch.ones(6).reshape(5),
    "item_many": lambda torch: torch.ones(2).item(),
    "bool_ambiguous": lambda torch: bool(torch.tensor([1.0, 0.0])),
    "if_tensor_ambiguous": lambda torch: 1 if torch.ones(2) > 0 else 0,
    "int_many": lambda torch: int(torch.ones(2)),
    "float_many": lambda torch: float(torch.ones(3)),
    "cat_shape_mismatch": lambda torch: torch.cat([torch.ones(2, 3), torch.ones(2, 4)]),
    "cat_empty_list": lambda torch: torch.cat([]),
    "cat_dim_out_of_range": lambda torch: torch.cat([torch.ones(2), torch.ones(2)], dim=1),
    "stack_shape_mismatch": lambda torch: torch.stack([torch.ones(2), torch.ones(3)]),
    "index_out_of_range": lambda torch: torch.ones(3)[3],
    "index_too_many": lambda torch: torch.ones(3)[0, 0],
    "index_tensor_out_of_range": lambda torch: torch.ones(3)[torch.tensor([5])],
    "index_float_tensor": lambda torch: torch.ones(3)[torch.tensor([0.0])],
    "index_float": lambda torch: torch.ones(3)[1.0],
    "dim_out_of_range_sum": lambda torch: torch.ones(2, 3).sum(2),
    "dim_out_of_range_softmax": lambda torch: torch.softmax(torch.ones(2), dim=1),
    "dim_out_of_range_unsqueeze": lambda torch: torch.ones(2).unsqueeze(3),
    "transpose_bad_dim": lambda torch: torch.ones(2, 3).transpose(0, 2),
    "permute_wrong_len": lambda torch: torch.ones(2, 3).permute(0),
    "permute_repeated": lambda torch: torch.ones(2, 3).permute(0, 0),
    "expand_bad": lambda torch: torch.ones(3).expand(2, 4),
    "squeeze_bad_dim": lambda torch: torch.ones(2).squeeze(2),
    "gather_bad_index": lambda torch: torch.ones(2, 2).gather(1, torch.tensor([[2], [0]])),
    "gather_float_index": lambda torch: torch.ones(2, 2).gather(1, torch.tensor([[0.0], [1.0]])),
    "index_select_non_long": lambda torch: torch.ones(3).index_select(0, torch.tensor([0.0])),
    "split_size_zero": lambda torch: torch.ones(3).split(0),
    "chunk_zero": lambda torch: torch.ones(3).chunk(0),
    "topk_too_large": lambda torch: torch.ones(3).topk(4),
    "multinomial_negative": lambda torch: torch.multinomial(torch.tensor([-1.0, 2.0]), 1),
    "multinomial_too_many": lambda torch: torch.multinomial(torch.tensor([0.5, 0.5]), 3),
    "randint_low_high": lambda torch: torch.randint(5, 2, (2,)),
    "arange_bad_step": lambda torch: torch.arange(0, 5, 0),
    "zeros_negative": lambda torch: torch.zeros(-1),
    "tensor_ragged": lambda torch: torch.tensor([[1, 2], [3]]),
    "tensor_of_string": lambda torch: torch.tensor("abc"),
    "tensor_of_none": lambda torch: torch.tensor([None]),
    "requires_grad_int": lambda torch: torch.tensor([1, 2]).requires_grad_(),
    "backward_non_scalar": lambda torch: (torch.ones(2, requires_grad=True) * 2).backward(),
    "backward_no_grad": lambda torch: torch.ones(2).sum().backward(),
    "backward_gradient_shape": lambda torch: (
        (torch.ones(2, requires_grad=True) * 2).backward(torch.ones(3))),
    "numpy_of_requires_grad": lambda torch: torch.ones(1, requires_grad=True).numpy(),
    "grad_shape_assign": lambda torch: (
        setattr(torch.ones(2, requires_grad=True), "grad", torch.ones(3))),
    "mean_of_long": lambda torch: torch.arange(3).mean(),
    "var_of_long": lambda torch: torch.arange(3).var(),
    "sqrt_of_bool_sub": lambda torch: torch.tensor([True]) - 1,
    "inplace_int_float": lambda torch: torch.arange(3).mul_(1.5),
    "inplace_broadcast_grow": lambda torch: torch.ones(3).add_(torch.ones(2, 3)),
    "copy_shape_mismatch": lambda torch: torch.ones(3).copy_(torch.ones(4)),
    "masked_fill_non_bool": lambda torch: torch.ones(2).masked_fill(torch.tensor([1, 0]), 0.0),
    "masked_fill_shape": lambda torch: (
        torch.ones(2).masked_fill(torch.tensor([True, False, True]), 0.0)),
    "where_shape": lambda torch: (
        torch.where(torch.tensor([True, False]), torch.ones(3), torch.zeros(3))),
    "setitem_shape_mismatch": lambda torch: torch.zeros(3).__setitem__(slice(None), torch.ones(2)),
    "to_bad_dtype": lambda torch: torch.ones(1).to("float99"),
    "sum_bad_dim_type": lambda torch: torch.ones(2).sum("0"),
    "ones_bad_arg": lambda torch: torch.ones("3"),
    "add_tensor_str": lambda torch: torch.ones(2) + "a",
    "matmul_scalar": lambda torch: torch.matmul(torch.ones(2), 2.0),
    "cross_entropy_bad_target_dtype": lambda torch: (
        torch.nn.functional.cross_entropy(torch.ones(2, 3), torch.tensor([0.0, 1.0, 2.0]))),
    "cross_entropy_batch_mismatch": lambda torch: (
        torch.nn.functional.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1, 2]))),
    "cross_entropy_target_out_of_range": lambda torch: (
        torch.nn.functional.cross_entropy(torch.ones(2, 3), torch.tensor([0, 3]))),
    "nll_loss_bad_target": lambda torch: (
        torch.nn.functional.nll_loss(torch.ones(2, 3), torch.tensor([0, 5]))),
    "linear_shape_mismatch": lambda torch: torch.nn.Linear(3, 2)(torch.ones(4, 5)),
    "conv2d_channels_mismatch": lambda torch: torch.nn.Conv2d(3, 4, 3)(torch.ones(1, 2, 5, 5)),
    "conv2d_too_small": lambda torch: torch.nn.Conv2d(1, 1, 5)(torch.ones(1, 1, 3, 3)),
    "embedding_out_of_range": lambda torch: torch.nn.Embedding(3, 2)(torch.tensor([3])),
    "embedding_float_index": lambda torch: torch.nn.Embedding(3, 2)(torch.tensor([1.0])),
    "batchnorm_channels": lambda torch: torch.nn.BatchNorm1d(3)(torch.ones(4, 5)),
    "batchnorm_single_sample_train": lambda torch: torch.nn.BatchNorm1d(3)(torch.ones(1, 3)),
    "layernorm_shape": lambda torch: torch.nn.LayerNorm(4)(torch.ones(2, 3)),
    "load_state_dict_missing": lambda torch: (
        torch.nn.Linear(2, 2).load_state_dict({"weight": torch.ones(2, 2)})),
    "load_state_dict_shape": lambda torch: (
        torch.nn.Linear(2, 2).load_state_dict({"weight": torch.ones(3, 2), "bias": torch.ones(2)})),
    "load_state_dict_unexpected": lambda torch: torch.nn.Linear(1, 1).load_state_dict(
        {"weight": torch.ones(1, 1), "bias": torch.ones(1), "extra": torch.ones(1)}),
    "module_attr_missing": lambda torch: torch.nn.Linear(2, 2).nonexistent,
    "module_assign_tensor_to_param": lambda torch: (
        setattr(torch.nn.Linear(2, 2), "weight", torch.ones(2, 2))),
    "sequential_bad_index": lambda torch: torch.nn.Sequential(torch.nn.ReLU())[3],
    "optimizer_empty_params": lambda torch: torch.optim.SGD([], lr=0.1),
    "optimizer_negative_lr": lambda torch: (
        torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=-1)),
    "adam_bad_beta": lambda torch: (
        torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], betas=(1.5, 0.9))),
    "optimizer_tensor_params": lambda torch: (
        torch.optim.SGD(torch.nn.Parameter(torch.ones(1)), lr=0.1)),
    "dataloader_bad_batch_size": lambda torch: torch.utils.data.DataLoader([1, 2], batch_size=0),
    "random_split_bad_lengths": lambda torch: torch.utils.data.random_split(range(5), [2, 2]),
    "clip_grad_nonfinite": lambda torch: _clip_inf_grad(torch),
}, raises=True)

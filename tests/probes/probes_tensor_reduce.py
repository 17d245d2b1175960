"""Probes: reductions, sorting and selection, and their gradients."""

from tests.probes.harness import arr, grad, probes, raised


def _m(torch, *shape, seed=0):
    return torch.tensor(arr(*shape, seed=seed))


def _t(torch):
    return torch.tensor([[3.0, 1.0, 2.0], [-1.0, 5.0, 5.0]])


def _g(torch, fn):
    x = torch.tensor([[3.0, 1.0, 2.0], [-1.0, 5.0, 4.0]], requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y, x.grad


probes("reduce", {
    "sum": lambda torch: _t(torch).sum(),
    "sum_dim": lambda torch: _t(torch).sum(1),
    "sum_dim_kw": lambda torch: _t(torch).sum(dim=0),
    "sum_keepdim": lambda torch: _t(torch).sum(1, keepdim=True),
    "sum_keepdims_numpy_kw": lambda torch: _t(torch).sum(1, keepdims=True),
    "sum_tuple_dims": lambda torch: _m(torch, 2, 3, 4).sum((0, 2)),
    "sum_neg_dim": lambda torch: _t(torch).sum(-1),
    "sum_fn_axis": lambda torch: torch.sum(_t(torch), axis=0),
    "mean": lambda torch: _t(torch).mean(),
    "mean_dim": lambda torch: torch.mean(_t(torch), dim=1),
    "mean_dims_keepdim": lambda torch: _m(torch, 2, 3, 4).mean(dim=(1, 2), keepdim=True),
    "prod": lambda torch: _t(torch).prod(),
    "prod_dim": lambda torch: torch.prod(_t(torch), 1),
    "var": lambda torch: _t(torch).var(),
    "var_dim_unbiased_false": lambda torch: _t(torch).var(1, unbiased=False),
    "var_correction": lambda torch: torch.var(_t(torch), dim=0, correction=0),
    "std": lambda torch: _t(torch).std(),
    "std_dim_keepdim": lambda torch: _t(torch).std(dim=1, keepdim=True),
    "var_mean": lambda torch: torch.var_mean(_t(torch), dim=1),
    "std_mean": lambda torch: torch.std_mean(_t(torch)),
    "norm": lambda torch: _t(torch).norm(),
    "norm_p1_dim": lambda torch: _t(torch).norm(p=1, dim=1),
    "norm_fn_2": lambda torch: torch.norm(_t(torch), 2, dim=0),
    "norm_inf": lambda torch: _t(torch).norm(float("inf")),
    "norm_dim_keepdim": lambda torch: _t(torch).norm(dim=1, keepdim=True),
    "cumsum": lambda torch: _t(torch).cumsum(1),
    "cumsum_fn_dim_kw": lambda torch: torch.cumsum(_t(torch), dim=0),
    "cumprod": lambda torch: torch.cumprod(_t(torch), 1),
    "cummax": lambda torch: torch.cummax(torch.tensor([1.0, 3.0, 2.0, 4.0]), 0),
    "logcumsumexp": lambda torch: torch.logcumsumexp(torch.tensor([0.0, 1.0, 2.0]), 0),
    "all": lambda torch: (_t(torch) > 0).all(),
    "all_dim": lambda torch: (_t(torch) > 0).all(dim=1),
    "any": lambda torch: torch.any(_t(torch) > 4),
    "any_dim": lambda torch: (_t(torch) > 4).any(1),
    "all_float": lambda torch: torch.all(torch.tensor([1.0, 0.0])),
    "amax": lambda torch: torch.amax(_t(torch), dim=1),
    "amax_dims": lambda torch: _m(torch, 2, 3, 4).amax(dim=(0, 2)),
    "amin": lambda torch: _t(torch).amin(0),
    "max_all": lambda torch: _t(torch).max(),
    "min_all": lambda torch: torch.min(_t(torch)),
    "max_dim": lambda torch: _t(torch).max(1),
    "max_dim_keepdim": lambda torch: _t(torch).max(dim=1, keepdim=True),
    "max_dim_values_indices": lambda torch: (lambda r: (r.values, r.indices))(_t(torch).max(dim=0)),
    "max_dim_unpack": lambda torch: (lambda v, i: (v, i))(*torch.max(_t(torch), 1)),
    "max_dim_index0": lambda torch: _t(torch).max(1)[0],
    "min_dim": lambda torch: torch.min(_t(torch), dim=0),
    "argmax": lambda torch: _t(torch).argmax(),
    "argmax_dim": lambda torch: _t(torch).argmax(dim=1),
    "argmax_keepdim": lambda torch: _t(torch).argmax(dim=1, keepdim=True),
    "argmin_dim": lambda torch: torch.argmin(_t(torch), 0),
    "aminmax": lambda torch: torch.aminmax(_t(torch)),
    "topk": lambda torch: torch.topk(torch.tensor([1.0, 5.0, 3.0, 4.0]), 2),
    "topk_dim_smallest": lambda torch: _t(torch).topk(1, dim=1, largest=False),
    "topk_values_indices": lambda torch: (lambda r: (r.values, r.indices))(_m(torch, 3, 5).topk(3)),
    "topk_unpack_v": lambda torch: (lambda v, _: v[:, [-1]])(*torch.topk(_m(torch, 2, 5), 2)),
    "sort": lambda torch: torch.sort(torch.tensor([3.0, 1.0, 2.0])),
    "sort_descending": lambda torch: _m(torch, 2, 4).sort(dim=1, descending=True),
    "sort_values_attr": lambda torch: torch.sort(torch.tensor([2, 1, 3])).values,
    "argsort": lambda torch: torch.argsort(torch.tensor([3.0, 1.0, 2.0])),
    "argsort_desc": lambda torch: _m(torch, 2, 4).argsort(dim=1, descending=True),
    "msort_stable": lambda torch: torch.sort(torch.tensor([2, 1, 2, 1]), stable=True).indices,
    "kthvalue": lambda torch: torch.kthvalue(torch.tensor([4.0, 1.0, 3.0, 2.0]), 2),
    "kthvalue_dim": lambda torch: _m(torch, 2, 5).kthvalue(3, dim=1),
    "median": lambda torch: torch.tensor([4.0, 1.0, 3.0, 2.0]).median(),
    "median_dim": lambda torch: torch.median(_m(torch, 2, 5), dim=1),
    "nanmedian": lambda torch: torch.nanmedian(torch.tensor([1.0, float("nan"), 3.0])),
    "quantile": lambda torch: torch.quantile(torch.tensor([1.0, 2.0, 3.0, 4.0]), 0.5),
    "quantile_tensor_q": lambda torch: torch.quantile(_m(torch, 8), torch.tensor([0.25, 0.75])),
    "quantile_dim": lambda torch: _m(torch, 3, 4).quantile(0.9, dim=1),
    "count_nonzero": lambda torch: torch.count_nonzero(torch.tensor([0, 1, 2, 0])),
    "count_nonzero_dim": lambda torch: torch.tensor([[0, 1], [2, 3]]).count_nonzero(dim=0),
    "logsumexp": lambda torch: torch.logsumexp(_t(torch), dim=1),
    "logsumexp_keepdim": lambda torch: _t(torch).logsumexp(1, keepdim=True),
    "logsumexp_large": lambda torch: torch.logsumexp(torch.tensor([1000.0, 1000.0]), 0),
    "nansum": lambda torch: torch.nansum(torch.tensor([1.0, float("nan")])),
    "nanmean": lambda torch: torch.nanmean(torch.tensor([1.0, float("nan"), 3.0])),
    "unique": lambda torch: torch.unique(torch.tensor([3, 1, 3, 2])),
    "unique_counts": lambda torch: torch.unique(torch.tensor([3, 1, 3, 2]), return_counts=True),
    "unique_inverse": lambda torch: torch.tensor([3, 1, 3]).unique(return_inverse=True),
    "bincount": lambda torch: torch.bincount(torch.tensor([0, 1, 1, 3])),
    "histc": lambda torch: torch.histc(torch.tensor([0.1, 0.5, 0.9, 0.5]), bins=2, min=0, max=1),
    "diff": lambda torch: torch.diff(torch.tensor([1.0, 4.0, 9.0])),
    "max_of_empty_raises_type": lambda torch: raised(lambda: torch.zeros(0).max()),
    "sum_empty": lambda torch: torch.zeros(0).sum(),
    "mean_empty_nan": lambda torch: torch.zeros(0).mean(),
    "probs_normalise": lambda torch: (lambda c: c / c.sum(1, keepdim=True))(_t(torch).exp()),
    "loss_item_accumulate": lambda torch: sum(torch.tensor(float(i)).item() for i in range(4)) / 4,
})



probes("reduce_grad", {
    "sum": lambda torch: _g(torch, lambda x: x.sum(1)),
    "mean_keepdim": lambda torch: _g(torch, lambda x: x.mean(0, keepdim=True) * x),
    "prod": lambda torch: _g(torch, lambda x: x.prod(1)),
    "prod_with_zero": lambda torch: (
        grad(lambda x: x.prod(), torch.tensor([0.0, 2.0, 3.0], requires_grad=True))),
    "var": lambda torch: _g(torch, lambda x: x.var(1)),
    "std": lambda torch: _g(torch, lambda x: x.std()),
    "norm": lambda torch: _g(torch, lambda x: x.norm(dim=1)),
    "vector_norm": lambda torch: _g(torch, lambda x: torch.linalg.vector_norm(x)),
    "cumsum": lambda torch: _g(torch, lambda x: x.cumsum(1) * torch.tensor([1.0, 2.0, 3.0])),
    "cumprod": lambda torch: _g(torch, lambda x: x.cumprod(1)),
    "amax": lambda torch: _g(torch, lambda x: x.amax(1)),
    "amax_ties": lambda torch: (
        grad(lambda x: x.amax(), torch.tensor([5.0, 5.0, 1.0], requires_grad=True))),
    "max_dim": lambda torch: _g(torch, lambda x: x.max(1).values),
    "max_all_ties": lambda torch: (
        grad(lambda x: x.max(), torch.tensor([5.0, 5.0, 1.0], requires_grad=True))),
    "min_dim": lambda torch: _g(torch, lambda x: x.min(dim=0)[0]),
    "topk": lambda torch: _g(torch, lambda x: x.topk(2, dim=1).values * 3),
    "sort": lambda torch: _g(torch, lambda x: x.sort(1).values * torch.tensor([1.0, 2.0, 3.0])),
    "kthvalue": lambda torch: _g(torch, lambda x: x.kthvalue(2, dim=1).values),
    "median": lambda torch: _g(torch, lambda x: x.median(dim=1).values),
    "logsumexp": lambda torch: _g(torch, lambda x: torch.logsumexp(x, dim=1)),
    "quantile": lambda torch: _g(torch, lambda x: torch.quantile(x, 0.25, dim=1)),
    "var_mean": lambda torch: _g(torch, lambda x: sum(torch.var_mean(x, dim=1))),
})

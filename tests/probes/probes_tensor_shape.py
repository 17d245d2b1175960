"""Probes: shape and movement ops, indexing and gathering."""

from tests.probes.harness import arr, probes, raised


def _a(torch):
    return torch.arange(12.0).view(3, 4)


def _m(torch, *shape, seed=0):
    return torch.tensor(arr(*shape, seed=seed))


def _g(torch, fn, shape=(3, 4)):
    x = torch.tensor(arr(*shape), requires_grad=True)
    y = fn(x)
    (y * torch.arange(float(y.numel())).view(y.shape)).sum().backward()
    return y, x.grad


probes("shape", {
    "view": lambda torch: _a(torch).view(2, 6),
    "view_neg": lambda torch: _a(torch).view(-1),
    "view_tuple": lambda torch: _a(torch).view((4, -1)),
    "view_size": lambda torch: _a(torch).view(torch.Size([2, 6])),
    "view_as": lambda torch: _a(torch).view_as(torch.ones(6, 2)),
    "reshape": lambda torch: _a(torch).reshape(2, -1),
    "reshape_fn": lambda torch: torch.reshape(_a(torch), (6, 2)),
    "reshape_noncontig": lambda torch: _a(torch).t().reshape(-1),
    "flatten": lambda torch: torch.flatten(_m(torch, 2, 3, 4), 1),
    "flatten_method_range": lambda torch: _m(torch, 2, 3, 4).flatten(0, 1).shape,
    "unflatten": lambda torch: _a(torch).unflatten(1, (2, 2)),
    "t": lambda torch: _a(torch).t(),
    "T": lambda torch: _a(torch).T,
    "mT": lambda torch: _m(torch, 2, 3, 4).mT.shape,
    "transpose": lambda torch: _m(torch, 2, 3, 4).transpose(1, 2),
    "transpose_fn_neg": lambda torch: torch.transpose(_m(torch, 2, 3, 4), -1, -2).shape,
    "swapaxes": lambda torch: torch.swapaxes(_a(torch), 0, 1),
    "permute": lambda torch: _m(torch, 2, 3, 4).permute(2, 0, 1),
    "permute_tuple": lambda torch: _m(torch, 2, 3, 4).permute((1, 0, 2)).shape,
    "movedim": lambda torch: torch.movedim(_m(torch, 2, 3, 4), 0, -1).shape,
    "squeeze": lambda torch: torch.ones(1, 3, 1).squeeze().shape,
    "squeeze_dim": lambda torch: torch.ones(1, 3, 1).squeeze(-1).shape,
    "squeeze_tuple": lambda torch: torch.ones(1, 3, 1).squeeze((0, 2)).shape,
    "squeeze_nonunit_noop": lambda torch: torch.ones(2, 3).squeeze(0).shape,
    "unsqueeze": lambda torch: torch.ones(3).unsqueeze(0).shape,
    "unsqueeze_neg": lambda torch: torch.unsqueeze(torch.ones(3), -1).shape,
    "none_index": lambda torch: torch.ones(3)[None, :, None].shape,
    "expand": lambda torch: torch.tensor([[1.0], [2.0]]).expand(2, 3),
    "expand_neg": lambda torch: torch.tensor([[1.0], [2.0]]).expand(-1, 4).shape,
    "expand_as": lambda torch: torch.tensor([1.0, 2.0]).expand_as(torch.ones(3, 2)),
    "broadcast_to": lambda torch: torch.broadcast_to(torch.tensor([1, 2]), (2, 2)),
    "broadcast_tensors": lambda torch: (
        [t.shape for t in torch.broadcast_tensors(torch.ones(3, 1), torch.ones(4))]),
    "broadcast_shapes": lambda torch: torch.broadcast_shapes((3, 1), (1, 4)),
    "repeat": lambda torch: torch.tensor([1, 2]).repeat(2, 2),
    "repeat_interleave": lambda torch: torch.tensor([1, 2]).repeat_interleave(2),
    "repeat_interleave_dim": lambda torch: torch.repeat_interleave(_a(torch), 2, dim=0).shape,
    "tile": lambda torch: torch.tile(torch.tensor([1, 2]), (2,)),
    "flip": lambda torch: torch.flip(_a(torch), [0]),
    "flip_method_dims": lambda torch: _a(torch).flip(0, 1),
    "fliplr": lambda torch: torch.fliplr(_a(torch)),
    "roll": lambda torch: torch.roll(torch.arange(5), 2),
    "roll_dims": lambda torch: _a(torch).roll(1, dims=1),
    "tril": lambda torch: torch.tril(_a(torch)),
    "tril_diag": lambda torch: _a(torch).tril(-1),
    "triu": lambda torch: torch.triu(_a(torch), diagonal=1),
    "narrow": lambda torch: _a(torch).narrow(1, 1, 2),
    "narrow_fn": lambda torch: torch.narrow(_a(torch), 0, 0, 2),
    "select": lambda torch: _a(torch).select(1, 2),
    "diag_vec": lambda torch: torch.diag(torch.tensor([1.0, 2.0])),
    "diag_mat": lambda torch: torch.diag(_a(torch)),
    "diagonal": lambda torch: _a(torch).diagonal(),
    "diag_embed": lambda torch: torch.diag_embed(torch.tensor([[1.0, 2.0]])),
    "cat": lambda torch: torch.cat([_a(torch), _a(torch)], dim=0).shape,
    "cat_tuple_dim1": lambda torch: torch.cat((torch.ones(2, 1), torch.zeros(2, 2)), 1),
    "cat_neg_dim": lambda torch: torch.cat([torch.ones(2, 1), torch.zeros(2, 2)], dim=-1).shape,
    "concat": lambda torch: torch.concat([torch.ones(1), torch.zeros(2)]),
    "concatenate": lambda torch: torch.concatenate([torch.ones(1), torch.zeros(2)]),
    "cat_idx_next": lambda torch: (
        torch.cat((torch.zeros(2, 1, dtype=torch.long), torch.ones(2, 1, dtype=torch.long)), dim=1)),
    "stack": lambda torch: torch.stack([torch.ones(2), torch.zeros(2)]),
    "stack_dim1": lambda torch: torch.stack([torch.ones(2), torch.zeros(2)], dim=1),
    "hstack": lambda torch: torch.hstack([torch.ones(2), torch.zeros(1)]),
    "vstack": lambda torch: torch.vstack([torch.ones(2), torch.zeros(2)]),
    "split_size": lambda torch: torch.arange(5).split(2),
    "split_sizes": lambda torch: torch.split(torch.arange(5), [1, 4]),
    "split_dim": lambda torch: [t.shape for t in _m(torch, 2, 6).split(3, dim=1)],
    "chunk": lambda torch: torch.arange(5).chunk(2),
    "chunk_dim": lambda torch: [t.shape for t in torch.chunk(_a(torch), 4, dim=1)],
    "unbind": lambda torch: _a(torch).unbind(1),
    "unbind_fn": lambda torch: torch.unbind(torch.tensor([[1, 2], [3, 4]])),
    "tensor_split": lambda torch: torch.tensor_split(torch.arange(7), 3),
    "tensor_split_indices": lambda torch: torch.arange(6).tensor_split([1, 4]),
    "meshgrid_ij": lambda torch: torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij"),
    "meshgrid_xy": lambda torch: torch.meshgrid(torch.arange(2), torch.arange(3), indexing="xy"),
    "cartesian_prod": lambda torch: (
        torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3, 4]))),
    "atleast_2d": lambda torch: torch.atleast_2d(torch.tensor(1.0)).shape,
    "contiguous": lambda torch: _a(torch).t().contiguous().view(-1),
    "zeros_0d_shape": lambda torch: torch.tensor(5.0).shape,
    "numel_empty": lambda torch: torch.zeros(0, 3).numel(),
})

probes("index", {
    "int": lambda torch: _a(torch)[1],
    "neg_int": lambda torch: _a(torch)[-1, -1],
    "slice": lambda torch: _a(torch)[1:, ::2],
    "neg_slice": lambda torch: _a(torch)[:, -2:],
    "ellipsis": lambda torch: _m(torch, 2, 3, 4)[..., 0].shape,
    "none": lambda torch: _a(torch)[:, None].shape,
    "list": lambda torch: _a(torch)[[0, 2]],
    "tensor_long": lambda torch: _a(torch)[torch.tensor([2, 0])],
    "two_tensors": lambda torch: _a(torch)[torch.tensor([0, 1, 2]), torch.tensor([3, 2, 1])],
    "arange_gather": lambda torch: _a(torch)[torch.arange(3), torch.tensor([0, 1, 3])],
    "bool_mask_rows": lambda torch: _a(torch)[torch.tensor([True, False, True])],
    "bool_mask_2d": lambda torch: _a(torch)[_a(torch) > 6],
    "scalar_tensor_index": lambda torch: _a(torch)[torch.tensor(1)],
    "embedding_like": lambda torch: _m(torch, 5, 2)[torch.tensor([[0, 1], [4, 4]])].shape,
    "last_token": lambda torch: _m(torch, 2, 3, 4)[:, -1, :],
    "column_keep": lambda torch: _a(torch)[:, [-1]],
    "mixed_slice_list": lambda torch: _a(torch)[1:, [0, 3]],
    "index_0d_item": lambda torch: _a(torch)[1, 2].item(),
    "out_of_range_raises": lambda torch: raised(lambda: _a(torch)[5]),
    "index_select": lambda torch: torch.index_select(_a(torch), 1, torch.tensor([0, 3])),
    "index_select_method": lambda torch: _a(torch).index_select(0, torch.tensor([2])),
    "gather": lambda torch: torch.gather(_a(torch), 1, torch.tensor([[0], [1], [3]])),
    "gather_method": lambda torch: _a(torch).gather(0, torch.tensor([[2, 1, 0, 0]])),
    "take_along_dim": lambda torch: (
        torch.take_along_dim(_a(torch), torch.tensor([[1], [0], [2]]), dim=1)),
    "take": lambda torch: torch.take(_a(torch), torch.tensor([0, 5, 11])),
    "scatter": lambda torch: torch.zeros(2, 4).scatter(1, torch.tensor([[1], [3]]), 1.0),
    "scatter_src": lambda torch: (
        torch.zeros(3).scatter(0, torch.tensor([2, 0]), torch.tensor([5.0, 6.0]))),
    "scatter_add": lambda torch: (
        torch.scatter_add(torch.zeros(3), 0, torch.tensor([0, 2, 0]), torch.tensor([1.0, 2.0, 3.0]))),
    "scatter_reduce": lambda torch: (
        torch.zeros(2).scatter_reduce(0, torch.tensor([0, 0, 1]), torch.tensor([1.0, 4.0, 2.0]),
                                      reduce="amax")),
    "index_add": lambda torch: (
        torch.zeros(3).index_add(0, torch.tensor([1, 1]), torch.tensor([1.0, 2.0]))),
    "index_put": lambda torch: torch.zeros(3).index_put((torch.tensor([0, 2]),), torch.tensor(1.0)),
    "nonzero": lambda torch: torch.nonzero(torch.tensor([[0, 1], [1, 1]])),
    "nonzero_as_tuple": lambda torch: torch.tensor([0, 3, 0, 4]).nonzero(as_tuple=True),
    "argwhere": lambda torch: torch.argwhere(torch.tensor([0, 3, 0, 4])),
    "searchsorted": lambda torch: (
        torch.searchsorted(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([2.0, 6.0]))),
    "bucketize": lambda torch: (
        torch.bucketize(torch.tensor([2.0, 6.0]), torch.tensor([1.0, 3.0, 5.0]))),
    "one_hot": lambda torch: (
        torch.nn.functional.one_hot(torch.tensor([[0, 2], [1, 1]]), num_classes=3)),
    "one_hot_infer": lambda torch: torch.nn.functional.one_hot(torch.tensor([0, 3])),
})



probes("shape_grad", {
    "view": lambda torch: _g(torch, lambda x: x.view(2, 6)),
    "t": lambda torch: _g(torch, lambda x: x.t()),
    "permute": lambda torch: _g(torch, lambda x: x.view(3, 2, 2).permute(2, 0, 1)),
    "expand": lambda torch: _g(torch, lambda x: x[:, :1].expand(3, 5)),
    "repeat": lambda torch: _g(torch, lambda x: x.repeat(2, 1)),
    "repeat_interleave": lambda torch: _g(torch, lambda x: x.repeat_interleave(2, dim=1)),
    "tile": lambda torch: _g(torch, lambda x: torch.tile(x, (1, 2))),
    "flip": lambda torch: _g(torch, lambda x: x.flip(1)),
    "roll": lambda torch: _g(torch, lambda x: x.roll(1, 0)),
    "tril": lambda torch: _g(torch, lambda x: x.tril()),
    "triu": lambda torch: _g(torch, lambda x: torch.triu(x, 1)),
    "narrow": lambda torch: _g(torch, lambda x: x.narrow(1, 1, 2)),
    "select": lambda torch: _g(torch, lambda x: x.select(0, 1)),
    "split": lambda torch: _g(torch, lambda x: x.split(2, dim=1)[1]),
    "chunk": lambda torch: _g(torch, lambda x: torch.cat(x.chunk(2, 1)[::-1], 1)),
    "unbind": lambda torch: _g(torch, lambda x: torch.stack(x.unbind(0)[::-1])),
    "cat": lambda torch: _g(torch, lambda x: torch.cat([x, x * 2], 0)),
    "stack": lambda torch: _g(torch, lambda x: torch.stack([x, x], 1)),
    "index_tensor": lambda torch: _g(torch, lambda x: x[torch.tensor([0, 0, 2])]),
    "index_pairs": lambda torch: _g(torch, lambda x: x[torch.arange(3), torch.tensor([1, 1, 0])]),
    "bool_mask": lambda torch: _g(torch, lambda x: x[x > 0]),
    "index_select": lambda torch: _g(torch, lambda x: x.index_select(1, torch.tensor([3, 3, 0]))),
    "gather": lambda torch: (
        _g(torch, lambda x: x.gather(1, torch.tensor([[0, 0], [1, 3], [2, 2]])))),
    "take_along_dim": lambda torch: (
        _g(torch, lambda x: torch.take_along_dim(x, torch.tensor([[1], [0], [3]]), 1))),
    "scatter_src": lambda torch: (
        _g(torch, lambda x: torch.zeros(3, 5).scatter(1, torch.tensor([[0, 1, 2, 3]] * 3), x))),
    "scatter_add": lambda torch: (
        _g(torch, lambda x: torch.zeros(3, 2).scatter_add(1, torch.tensor([[0, 1, 0, 1]] * 3), x))),
    "diag": lambda torch: _g(torch, lambda x: torch.diag(x[:, :3])),
    "movedim": lambda torch: _g(torch, lambda x: torch.movedim(x.view(3, 2, 2), 0, 2)),
    "unflatten": lambda torch: _g(torch, lambda x: x.unflatten(1, (2, 2))),
    "squeeze_unsqueeze": lambda torch: _g(torch, lambda x: x.unsqueeze(0).squeeze(0)),
    "einsum_transpose": lambda torch: _g(torch, lambda x: torch.einsum("ij->ji", x)),
    "where_mask": lambda torch: _g(torch, lambda x: x.where(x > 0, torch.zeros(()))),
    "masked_fill_inf_softmax": lambda torch: (
        _g(torch, lambda x: torch.softmax(x.masked_fill(torch.ones(3, 4).tril() == 0, float("-inf")),
                                          -1))),
})

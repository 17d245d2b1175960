"""Probes: a third round of tutorial and training-script idioms — utils.data corners, scheduler
trajectories and state dicts, nn.init deterministic quantities, everyday Tensor methods, the Module
API and layer reprs, and losses with unusual arguments — that the other probe files cover thinly."""

import collections
import math

import numpy as np

from tests.probes.harness import arr, fill, probes, raised


def _m(torch, *shape, seed=0, **kw):
    return torch.tensor(arr(*shape, seed=seed, **kw))


def _ud(torch):
    return torch.utils.data


def _F(torch):
    return torch.nn.functional


# Probes that pass alike are bundled: each group is one probe returning {member: result}, so a
# difference still names its member (result['member']).
_GROUPS = {
    "scripts3_data": {
        "loader_constructor_errors": [
            "iterable_shuffle_raises", "iterable_sampler_raises", "batch_sampler_with_batch_size_raises",
            "batch_sampler_with_drop_last_raises", "batch_sampler_with_shuffle_raises",
            "prefetch_without_workers_raises", "negative_workers_raises", "persistent_without_workers_raises",
            "batch_size_zero_raises"],
        "collate_numpy_scalars": ["collate_numpy_int64_scalars", "collate_numpy_bool_scalars",
                                  "collate_numpy_float32_scalars"],
        "collate_errors": ["collate_numpy_str_array_raises", "collate_none_raises", "collate_ragged_lists_raises",
                           "collate_tensor_shape_mismatch_raises"],
        "sampler_errors": ["batch_sampler_zero_raises", "batch_sampler_bad_drop_last_raises",
                           "random_sampler_num_samples_zero_raises", "random_sampler_bad_replacement_raises",
                           "weighted_no_repl_too_many_raises", "weighted_negative_raises"],
        "random_split_odd_sizes": ["random_split_zero_length", "random_split_fraction_remainder",
                                   "random_split_bad_sum_raises"],
    },
    "scripts3_sched": {
        "constructor_errors": [
            "warm_restarts_bad_t0_raises", "warm_restarts_float_tmult_raises", "cyclic_bad_mode_raises",
            "cyclic_no_momentum_raises", "one_cycle_no_total_raises", "one_cycle_bad_strategy_raises",
            "linear_bad_start_raises", "constant_bad_factor_raises", "plateau_bad_mode_raises",
            "plateau_bad_factor_raises", "sequential_bad_milestones_raises", "chained_with_plateau_raises"],
        "lambda_and_multiplicative": ["lambda_warmup", "lambda_inverse_sqrt", "multiplicative_095",
                                      "multiplicative_epoch_dependent"],
        "linear_constant_polynomial": ["linear_defaults", "linear_warmup_up", "constant_defaults",
                                       "polynomial_defaults", "polynomial_power_half"],
        "state_keys": ["state_keys_cosine", "state_keys_multistep"],
    },
    "scripts3_init": {
        "gain_params": ["gain_leaky_default", "gain_leaky_int", "gain_relu_param_ignored", "gain_unknown_raises",
                        "gain_leaky_bool_raises"],
        "fans": ["fan_linear", "fan_conv2d", "fan_conv1d", "fan_1d_raises"],
        "shape_errors": ["kaiming_1d_raises", "kaiming_bad_mode_raises", "xavier_1d_raises", "orthogonal_1d_raises",
                         "eye_3d_raises", "dirac_2d_raises"],
    },
    "scripts3_tensor": {
        "numpy_basics": ["numpy_requires_grad_raises", "numpy_detach_ok", "numpy_dtype_long", "numpy_bool"],
        "index_oob_errors": ["size_index_oob_raises", "stride_index_oob_raises", "item_multi_raises",
                             "masked_fill_float_mask_raises", "masked_fill_1d_value_raises"],
    },
    "scripts3_repr": {
        "conv": ["conv2d_full", "conv2d_groups", "conv2d_same", "conv2d_reflect", "conv2d_default", "conv1d",
                 "conv_transpose2d"],
        "norm": ["batchnorm2d_momentum_none", "batchnorm1d_no_affine", "batchnorm2d_eps", "layernorm_no_affine",
                 "layernorm_eps", "groupnorm"],
        "rnn": ["lstm_bidir_dropout", "lstm_plain", "gru_batch_first", "gru_no_bias", "rnn_relu", "lstm_cell",
                "gru_cell"],
        "embedding_dropout_linear": ["embedding_pad_maxnorm", "embedding_neg_pad", "embedding_plain",
                                     "dropout_inplace", "dropout_default", "dropout2d", "linear_no_bias",
                                     "bilinear", "embedding_bag"],
        "pool_shape": ["avgpool2d", "maxpool2d_full", "maxpool1d", "adaptive_avg", "adaptive_avg_int", "flatten",
                       "unflatten", "pixel_shuffle", "zero_pad", "upsample", "upsample_bilinear"],
        "activations": ["softmax", "log_softmax", "relu_inplace", "elu", "hardtanh", "prelu", "silu", "tanh",
                        "sigmoid", "identity", "softplus"],
        "losses": ["cross_entropy_loss", "mse_loss"],
    },
    "scripts3_loss": {
        "argument_errors": ["ce_target_oob_raises", "ce_float_target_wrong_shape_raises", "ce_bad_reduction_raises",
                            "ce_weight_wrong_size_raises", "bce_shape_mismatch_raises", "bce_out_of_range_raises",
                            "bcel_shape_mismatch_raises", "gaussian_negative_var_raises"],
        "poisson": ["poisson_no_log_input", "poisson_no_log_full", "poisson_log_full_none"],
        "gaussian": ["gaussian_full", "gaussian_var_broadcast", "gaussian_eps_sum"],
        "triplet": ["triplet_swap", "triplet_p1_swap_none", "triplet_eps_margin"],
        "kl_log_target": ["kl_batchmean_log_target", "kl_mean_log_target", "kl_none_log_target"],
        "nll_log_softmax": ["nll_log_softmax_weight", "nll_log_softmax_sum_ignore", "nll_log_softmax_none"],
    },
}


def _reg(area, table):
    """Register `table` under `area`, bundling the members of _GROUPS[area] into one probe each."""
    table = dict(table)
    for group, members in _GROUPS.get(area, {}).items():
        funcs = {m: table.pop(m) for m in members}
        table[group] = (lambda fs: lambda torch: {m: f(torch) for m, f in fs.items()})(funcs)
    probes(area, table)


# ================================================================ utils.data

def _pairs(torch, n=7):
    class Pairs(_ud(torch).Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return torch.tensor([float(i), -float(i)]), i % 3
    return Pairs()


def _nested_ds(torch):
    class Nested(_ud(torch).Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"img": {"pix": torch.full((2,), float(i)), "id": i},
                    "meta": (f"s{i}", np.float32(i) / 2), "arr": np.arange(3) + i}
    return Nested()


def _stream(torch, n=7, with_len=True):
    base = _ud(torch).IterableDataset

    class Stream(base):
        def __iter__(self):
            return iter(torch.tensor([float(i)]) for i in range(n))

    if with_len:
        Stream.__len__ = lambda self: n
    return Stream()


def _all(loader):
    return [b for b in loader]


def _loader_shapes(loader):
    out = []
    for b in loader:
        if isinstance(b, (list, tuple)):
            out.append([tuple(t.shape) if hasattr(t, "shape") else t for t in b])
        else:
            out.append(tuple(b.shape))
    return out


def _shuffled_epochs(torch):
    g = torch.Generator().manual_seed(7)
    dl = _ud(torch).DataLoader(list(range(10)), batch_size=4, shuffle=True, generator=g)
    e1 = [b.tolist() for b in dl]
    e2 = [b.tolist() for b in dl]
    return ([len(b) for b in e1], sorted(sum(e1, [])), sorted(sum(e2, [])))


def _shuffle_drop_last(torch):
    g = torch.Generator().manual_seed(1)
    dl = _ud(torch).DataLoader(list(range(10)), batch_size=3, shuffle=True, drop_last=True, generator=g)
    batches = [b.tolist() for b in dl]
    flat = sum(batches, [])
    return len(dl), [len(b) for b in batches], len(set(flat)), all(0 <= i < 10 for i in flat)


def _random_sampler_gen_loader(torch):
    ds = _pairs(torch, 9)
    s = _ud(torch).RandomSampler(ds, generator=torch.Generator().manual_seed(3))
    dl = _ud(torch).DataLoader(ds, batch_size=4, sampler=s)
    ys = [b[1].tolist() for b in dl]
    return len(dl), [len(y) for y in ys], sorted(sum(ys, []))


def _replacement_loader_len(torch):
    ds = _pairs(torch, 5)
    s = _ud(torch).RandomSampler(ds, replacement=True, num_samples=10)
    dl = _ud(torch).DataLoader(ds, batch_size=3, sampler=s)
    return len(dl), [len(b[1]) for b in dl]


def _batch_sampler_loader(torch):
    ds = _pairs(torch, 7)
    bs = _ud(torch).BatchSampler(_ud(torch).SequentialSampler(ds), batch_size=3, drop_last=True)
    dl = _ud(torch).DataLoader(ds, batch_sampler=bs)
    return len(dl), [b[1].tolist() for b in dl], dl.batch_size, dl.drop_last


def _custom_batch_sampler_class(torch):
    class EvenOdd(_ud(torch).Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            yield list(range(0, self.n, 2))
            yield list(range(1, self.n, 2))

        def __len__(self):
            return 2
    dl = _ud(torch).DataLoader(_pairs(torch, 6), batch_sampler=EvenOdd(6))
    return len(dl), [b[1].tolist() for b in dl]


def _custom_sampler_class(torch):
    class Reverse(_ud(torch).Sampler):
        def __init__(self, data_source):
            self.n = len(data_source)

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self):
            return self.n
    ds = _pairs(torch, 5)
    dl = _ud(torch).DataLoader(ds, batch_size=2, sampler=Reverse(ds))
    return len(dl), [b[1].tolist() for b in dl]


def _worker_init_accepted(torch):
    seen = []
    dl = _ud(torch).DataLoader(list(range(5)), batch_size=2, num_workers=0,
                               worker_init_fn=lambda wid: seen.append(wid))
    return [b.tolist() for b in dl], seen


def _pin_memory_true(torch):
    dl = _ud(torch).DataLoader(_pairs(torch, 3), batch_size=2, pin_memory=True)
    return [b[0] for b in dl]


def _collate_passthrough(torch):
    dl = _ud(torch).DataLoader(_pairs(torch, 3), batch_size=2, collate_fn=lambda b: b)
    out = _all(dl)
    return [len(b) for b in out], type(out[0]).__name__, type(out[0][0]).__name__


def _collate_zip(torch):
    def collate(batch):
        xs, ys = zip(*batch)
        return torch.stack(xs), torch.tensor(ys)
    return _all(_ud(torch).DataLoader(_pairs(torch, 5), batch_size=2, collate_fn=collate))


def _stream_loader(torch, **kw):
    return _all(_ud(torch).DataLoader(_stream(torch), **kw))


def _iterable_worker_info(torch):
    class Info(_ud(torch).IterableDataset):
        def __iter__(self):
            info = _ud(torch).get_worker_info()
            yield info is None
    return _all(_ud(torch).DataLoader(Info(), batch_size=None))


def _subset_list_index(torch):
    ds = _ud(torch).TensorDataset(torch.arange(10.0), torch.arange(10) * 2)
    return _ud(torch).Subset(ds, [1, 3, 5, 7])[[0, 2]]


def _subset_tensor_indices(torch):
    s = _ud(torch).Subset(list(range(10, 20)), torch.tensor([3, 5]))
    return len(s), int(s[1])


def _subset_numpy_indices(torch):
    s = _ud(torch).Subset(list(range(10, 20)), np.array([8, 1]))
    return len(s), int(s[0])


def _concat_info(torch):
    c = _ud(torch).ConcatDataset([list(range(3)), list(range(10, 15)), [99]])
    return c.cumulative_sizes, len(c), c[-1], c[-2], c[3], len(c.datasets)


def _concat_iterable_raises(torch):
    return raised(lambda: _ud(torch).ConcatDataset([_stream(torch)]))


def _random_split_gen(torch):
    g = torch.Generator().manual_seed(0)
    parts = _ud(torch).random_split(range(20), [0.5, 0.3, 0.2], generator=g)
    idx = [list(p.indices) for p in parts]
    flat = sum(idx, [])
    return ([len(p) for p in parts], sorted(flat) == list(range(20)),
            type(parts[0]).__name__, parts[0].dataset == range(20))


def _random_split_bad_sum(torch):
    return raised(lambda: _ud(torch).random_split(range(10), [3, 3]))


def _random_split_dataset_items(torch):
    ds = _ud(torch).TensorDataset(torch.arange(6.0))
    a, b = _ud(torch).random_split(ds, [4, 2], generator=torch.Generator().manual_seed(1))
    vals = sorted([float(a[i][0]) for i in range(len(a))] + [float(b[i][0]) for i in range(len(b))])
    return vals, type(a[0]).__name__


def _random_sampler_more_than_n(torch):
    s = _ud(torch).RandomSampler(range(3), num_samples=7)
    out = list(s)
    c = collections.Counter(out)
    return len(s), len(out), sorted(c), sorted(c.values())


def _weighted_no_repl_too_many(torch):
    return raised(lambda: list(_ud(torch).WeightedRandomSampler([0.5, 0.5], 3, replacement=False)))


def _dataset_base_getitem(torch):
    return raised(lambda: _ud(torch).Dataset()[0])


def _no_len_loader(torch):
    class NoLen(_ud(torch).Dataset):
        def __getitem__(self, i):
            return i
    dl = _ud(torch).DataLoader(NoLen(), batch_size=2, sampler=[0, 1, 2])
    return [b.tolist() for b in dl], len(dl)


def _loader_attrs(torch):
    ds = _pairs(torch, 4)
    a = _ud(torch).DataLoader(ds, batch_size=2)
    b = _ud(torch).DataLoader(ds, batch_size=2, shuffle=True)
    return (type(a.sampler).__name__, type(b.sampler).__name__, type(a.batch_sampler).__name__,
            a.num_workers, a.drop_last, a.batch_sampler.batch_size, a.pin_memory)


def _loader_batch_none_attrs(torch):
    dl = _ud(torch).DataLoader(_pairs(torch, 3), batch_size=None)
    return dl.batch_size, dl.batch_sampler is None, len(dl), _all(dl)[2]


def _empty_loader(torch):
    dl = _ud(torch).DataLoader([], batch_size=2)
    return len(dl), _all(dl), raised(lambda: next(iter(dl)))


def _eval_accuracy_loop(torch):
    x = _m(torch, 12, 4)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    dl = _ud(torch).DataLoader(_ud(torch).TensorDataset(x, y), batch_size=5)
    model = fill(torch, torch.nn.Linear(4, 3))
    model.eval()
    correct, total, test_loss = 0, 0, 0.0
    with torch.no_grad():
        for X, Y in dl:
            pred = model(X)
            test_loss += torch.nn.functional.cross_entropy(pred, Y).item()
            correct += (pred.argmax(1) == Y).type(torch.float).sum().item()
            total += Y.size(0)
    return correct, total, test_loss / len(dl), correct / total


def _distributed_sampler(torch, **kw):
    from importlib import import_module
    # `from torch.utils.data.distributed import DistributedSampler`, as DDP scripts write it
    s = import_module(torch.__name__ + ".utils.data.distributed").DistributedSampler(list(range(10)), num_replicas=3, rank=1,
                                                  shuffle=False, **kw)
    return list(s), len(s)


_reg("scripts3_data", {
    "custom_ds_batches": lambda torch: _all(_ud(torch).DataLoader(_pairs(torch), batch_size=3)),
    "custom_ds_len_loader": lambda torch: (
        [len(_ud(torch).DataLoader(_pairs(torch, n), batch_size=3, drop_last=d))
         for n in (5, 6, 7) for d in (False, True)]),
    "nested_dict_collate": lambda torch: _all(_ud(torch).DataLoader(_nested_ds(torch), batch_size=2)),
    "tensordataset_drop_last_shapes": lambda torch: (
        _loader_shapes(_ud(torch).DataLoader(_ud(torch).TensorDataset(torch.zeros(5, 3)), batch_size=2,
                                             drop_last=True))),
    "shuffled_epochs_structure": _shuffled_epochs,
    "shuffle_drop_last": _shuffle_drop_last,
    "random_sampler_gen_loader": _random_sampler_gen_loader,
    "replacement_loader_len": _replacement_loader_len,
    "batch_sampler_loader": _batch_sampler_loader,
    "custom_batch_sampler_class": _custom_batch_sampler_class,
    "custom_sampler_class": _custom_sampler_class,
    "worker_init_fn_no_workers": _worker_init_accepted,
    "pin_memory_true_cpu": _pin_memory_true,
    "collate_passthrough": _collate_passthrough,
    "collate_zip_stack": _collate_zip,
    "iterable_batches": lambda torch: _stream_loader(torch, batch_size=3),
    "iterable_drop_last": lambda torch: _stream_loader(torch, batch_size=3, drop_last=True),
    "iterable_len": lambda torch: (
        len(_ud(torch).DataLoader(_stream(torch), batch_size=3)),
        len(_ud(torch).DataLoader(_stream(torch), batch_size=3, drop_last=True))),
    "iterable_no_len_raises": lambda torch: (
        raised(lambda: len(_ud(torch).DataLoader(_stream(torch, with_len=False), batch_size=2)))),
    "iterable_shuffle_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_stream(torch), shuffle=True))),
    "iterable_sampler_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_stream(torch), sampler=[0, 1]))),
    "iterable_worker_info_none": _iterable_worker_info,
    "iterable_batch_none": lambda torch: _stream_loader(torch, batch_size=None)[:2],
    "batch_sampler_with_batch_size_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), batch_size=2, batch_sampler=[[0, 1]]))),
    "batch_sampler_with_drop_last_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), drop_last=True, batch_sampler=[[0, 1]]))),
    "batch_sampler_with_shuffle_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), shuffle=True, batch_sampler=[[0, 1]]))),
    "prefetch_without_workers_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), prefetch_factor=2))),
    "negative_workers_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), num_workers=-1))),
    "persistent_without_workers_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), persistent_workers=True))),
    "batch_size_zero_raises": lambda torch: (
        raised(lambda: _ud(torch).DataLoader(_pairs(torch), batch_size=0))),
    "loader_attrs": _loader_attrs,
    "loader_batch_none_attrs": _loader_batch_none_attrs,
    "empty_loader": _empty_loader,
    "no_len_dataset_with_sampler": _no_len_loader,
    "eval_accuracy_loop": _eval_accuracy_loop,
    "collate_nested_lists_transpose": lambda torch: _ud(torch).default_collate([[1, 2], [3, 4], [5, 6]]),
    "collate_nested_dict_tuple": lambda torch: (
        _ud(torch).default_collate([{"a": (1, "x"), "b": {"c": 1.5}}, {"a": (2, "y"), "b": {"c": 2.5}}])),
    "collate_numpy_f64": lambda torch: _ud(torch).default_collate([np.ones(2), np.zeros(2)]),
    "collate_numpy_f32_2d": lambda torch: (
        _ud(torch).default_collate([np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)])),
    "collate_numpy_int64_scalars": lambda torch: _ud(torch).default_collate([np.int64(3), np.int64(4)]),
    "collate_numpy_bool_scalars": lambda torch: _ud(torch).default_collate([np.bool_(True), np.bool_(False)]),
    "collate_numpy_float32_scalars": lambda torch: _ud(torch).default_collate([np.float32(1.5), np.float32(2)]),
    "collate_numpy_str_array_raises": lambda torch: (
        raised(lambda: _ud(torch).default_collate([np.array(["a"]), np.array(["b"])]))),
    "collate_0d_tensors": lambda torch: _ud(torch).default_collate([torch.tensor(1), torch.tensor(2)]),
    "collate_int_float_mix": lambda torch: _ud(torch).default_collate([1, 2.5]),
    "collate_none_raises": lambda torch: raised(lambda: _ud(torch).default_collate([None, None])),
    "collate_tuple_of_tuples_types": lambda torch: (
        (lambda out: (type(out).__name__, [type(o).__name__ for o in out], out))(
            _ud(torch).default_collate([(1, 2), (3, 4)]))),
    "collate_ordereddict": lambda torch: (
        (lambda out: (type(out).__name__, out))(_ud(torch).default_collate(
            [collections.OrderedDict(b=1, a=2), collections.OrderedDict(b=3, a=4)]))),
    "collate_ragged_lists_raises": lambda torch: (
        raised(lambda: _ud(torch).default_collate([[1, 2], [3]]))),
    "collate_tensor_shape_mismatch_raises": lambda torch: (
        raised(lambda: _ud(torch).default_collate([torch.ones(2), torch.ones(3)]))),
    "collate_strings_tuple": lambda torch: _ud(torch).default_collate([("a", 1), ("b", 2)]),
    "default_convert_numpy": lambda torch: _ud(torch).default_convert(np.arange(3)),
    "default_convert_list_numpy": lambda torch: (
        _ud(torch).default_convert([np.arange(2), np.ones(1, np.float32)])),
    "subset_list_index": _subset_list_index,
    "subset_tensor_indices": _subset_tensor_indices,
    "subset_numpy_indices": _subset_numpy_indices,
    "concat_info": _concat_info,
    "concat_iterable_raises": _concat_iterable_raises,
    "concat_negative_oob_raises": lambda torch: (
        raised(lambda: _ud(torch).ConcatDataset([[1, 2], [3]])[-4])),
    "concat_empty_raises": lambda torch: raised(lambda: _ud(torch).ConcatDataset([])),
    "random_split_generator_sizes": _random_split_gen,
    "random_split_bad_sum_raises": _random_split_bad_sum,
    "random_split_dataset_items": _random_split_dataset_items,
    "random_split_zero_length": lambda torch: (
        [len(s) for s in _ud(torch).random_split(range(5), [5, 0])]),
    "random_split_fraction_remainder": lambda torch: (
        [len(s) for s in _ud(torch).random_split(range(7), [0.34, 0.33, 0.33])]),
    "batch_sampler_lens": lambda torch: (
        [len(_ud(torch).BatchSampler(range(n), b, d)) for n in (0, 1, 9, 10) for b in (3, 5)
         for d in (False, True)]),
    "batch_sampler_zero_raises": lambda torch: raised(lambda: _ud(torch).BatchSampler(range(3), 0, False)),
    "batch_sampler_bad_drop_last_raises": lambda torch: (
        raised(lambda: _ud(torch).BatchSampler(range(3), 2, "yes"))),
    "batch_sampler_over_list": lambda torch: list(_ud(torch).BatchSampler([5, 3, 1, 0], 3, False)),
    "sequential_sampler_len": lambda torch: (
        (lambda s: (len(s), list(s)))(_ud(torch).SequentialSampler(_pairs(torch, 4)))),
    "random_sampler_num_samples_lens": lambda torch: (
        [len(_ud(torch).RandomSampler(range(4), replacement=True, num_samples=k)) for k in (1, 4, 9)]),
    "random_sampler_more_than_n": _random_sampler_more_than_n,
    "random_sampler_num_samples_zero_raises": lambda torch: (
        raised(lambda: _ud(torch).RandomSampler(range(3), num_samples=0))),
    "random_sampler_bad_replacement_raises": lambda torch: (
        raised(lambda: _ud(torch).RandomSampler(range(3), replacement=1))),
    "random_sampler_replacement_values": lambda torch: (
        (lambda out: (len(out), set(out) <= {0, 1}, type(out[0]).__name__))(
            list(_ud(torch).RandomSampler([7, 8], replacement=True, num_samples=20,
                                          generator=torch.Generator().manual_seed(0))))),
    "subset_random_sampler_gen": lambda torch: (
        sorted(_ud(torch).SubsetRandomSampler([9, 4, 2], generator=torch.Generator().manual_seed(0)))),
    "weighted_no_repl_too_many_raises": _weighted_no_repl_too_many,
    "weighted_negative_raises": lambda torch: (
        raised(lambda: list(_ud(torch).WeightedRandomSampler([0.5, -1.0], 2)))),
    "dataset_base_getitem_raises": _dataset_base_getitem,
    "tensordataset_size_mismatch_raises": lambda torch: (
        raised(lambda: _ud(torch).TensorDataset(torch.zeros(3), torch.zeros(4)))),
    "tensordataset_three_tensors": lambda torch: (
        _ud(torch).TensorDataset(torch.arange(3), torch.ones(3, 2), torch.zeros(3, dtype=torch.bool))[2]),
    "distributed_sampler_no_shuffle": lambda torch: _distributed_sampler(torch),
    "distributed_sampler_drop_last": lambda torch: (
        (lambda s: (list(s), len(s)))(_ud(torch).DistributedSampler(list(range(10)), num_replicas=3, rank=1,
                                                                    shuffle=False, drop_last=True))),
    "distributed_sampler_top_level": lambda torch: (
        list(_ud(torch).DistributedSampler(list(range(6)), num_replicas=2, rank=0, shuffle=False))),
})


# ================================================================ lr_scheduler

def _traj(torch, make, n=12, lr=0.1, opt="SGD", **okw):
    p = torch.nn.Parameter(torch.ones(2))
    optimizer = getattr(torch.optim, opt)([p], lr=lr, **okw)
    sched = make(torch.optim.lr_scheduler, optimizer)
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def _S(name, **kw):
    return lambda s, o: getattr(s, name)(o, **kw)


def _two_groups(torch, make, n=6):
    a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    s = make(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(n):
        opt.step()
        s.step()
        out.append(s.get_last_lr())
    return out


def _warm_restarts_fractional(torch):
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.1)
    out = []
    iters = 4
    for epoch in range(4):
        for i in range(iters):
            opt.step()
            s.step(epoch + i / iters)
            out.append(opt.param_groups[0]["lr"])
    return out, s.T_cur, s.T_i


def _cyclic_momentum(torch):
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    s = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                          base_momentum=0.8, max_momentum=0.9)
    out = [opt.param_groups[0]["momentum"]]
    for _ in range(6):
        opt.step()
        s.step()
        out.append(opt.param_groups[0]["momentum"])
    return out


def _cyclic_no_momentum_raises(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    return raised(lambda: torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1))


def _cyclic_adam_betas(torch):
    opt = torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    s = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2)
    out = [opt.param_groups[0]["betas"]]
    for _ in range(3):
        opt.step()
        s.step()
        out.append(tuple(round(b, 6) for b in opt.param_groups[0]["betas"]))
    return out


def _one_cycle_overrun(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        s.step()
    return raised(s.step)


def _one_cycle_initial(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1, momentum=0.9)
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10, div_factor=10.0)
    g = opt.param_groups[0]
    return g["lr"], g["initial_lr"], g["max_lr"], g["min_lr"], g["momentum"]


def _one_cycle_no_total_raises(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    return raised(lambda: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0))


def _one_cycle_bad_strategy(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    return raised(lambda: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5,
                                                              anneal_strategy="exp"))


def _plateau_traj(torch, vals, **kw):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = []
    for v in vals:
        opt.step()
        s.step(v)
        out.append(round(opt.param_groups[0]["lr"], 8))
    return out, s.num_bad_epochs, s.cooldown_counter


_PLATEAU_VALS = [1.0, 0.99, 0.995, 0.98, 0.97, 0.96, 0.5, 0.49, 0.495, 0.5, 0.51, 0.52]


def _plateau_attrs(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2)
    for v in [3.0, 2.0, 2.5]:
        s.step(v)
    return s.best, s.num_bad_epochs, s.patience, s.factor, s.mode, s.last_epoch


def _plateau_tensor_metric(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    for v in [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]:
        s.step(v)
    return opt.param_groups[0]["lr"]


def _plateau_min_lr_list(torch):
    a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.1}], lr=1.0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=[0.05, 0.02])
    for v in [1.0, 2.0, 3.0, 4.0]:
        s.step(v)
    return [round(g["lr"], 8) for g in opt.param_groups]


def _plateau_bad_mode(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    return raised(lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="avg"))


def _plateau_bad_factor(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    return raised(lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0))


def _plateau_state_roundtrip(torch):
    def make():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
        return opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    o1, s1 = make()
    for v in [1.0, 1.1, 1.2]:
        s1.step(v)
    o2, s2 = make()
    s2.load_state_dict(s1.state_dict())
    o2.load_state_dict(o1.state_dict())
    for v in [1.3, 1.4]:
        s2.step(v)
    return s2.best, s2.num_bad_epochs, o2.param_groups[0]["lr"]


def _resume(torch, make, k=5, n=4):
    def fresh():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
        return opt, make(torch.optim.lr_scheduler, opt)
    o1, s1 = fresh()
    for _ in range(k):
        o1.step()
        s1.step()
    o2, s2 = fresh()
    s2.load_state_dict(s1.state_dict())
    o2.load_state_dict(o1.state_dict())
    out = []
    for _ in range(n):
        o1.step()
        s1.step()
        o2.step()
        s2.step()
        out.append((s1.get_last_lr()[0], s2.get_last_lr()[0]))
    return out, s2.last_epoch


def _state_keys(torch, make):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
    return sorted(k for k in make(torch.optim.lr_scheduler, opt).state_dict() if not k.startswith("_"))


def _lambda_state(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
    sd = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** e).state_dict()
    return sd["lr_lambdas"], sd["last_epoch"], sd["base_lrs"]


def _lambda_state_callable_object(torch):
    class Warm:
        def __init__(self):
            self.k = 3

        def __call__(self, e):
            return min(1.0, (e + 1) / self.k)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
    sd = torch.optim.lr_scheduler.LambdaLR(opt, Warm()).state_dict()
    return sd["lr_lambdas"]


def _last_epoch_without_initial_lr(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
    return raised(lambda: torch.optim.lr_scheduler.StepLR(opt, 2, last_epoch=3))


def _last_epoch_resume(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
    opt.param_groups[0]["initial_lr"] = 1.0
    s = torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5, last_epoch=3)
    out = [s.last_epoch, opt.param_groups[0]["lr"]]
    for _ in range(3):
        opt.step()
        s.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def _base_lrs_and_epoch(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    s = torch.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    for _ in range(4):
        opt.step()
        s.step()
    return s.base_lrs, s.last_epoch, type(s.get_last_lr()).__name__, s.optimizer is opt


def _sched_changes_lr_manually(torch):
    # user edits the lr between steps; chainable schedulers continue from the edited value
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    s = torch.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    opt.step()
    s.step()
    opt.param_groups[0]["lr"] = 10.0
    opt.step()
    s.step()
    return opt.param_groups[0]["lr"], s.get_last_lr()


def _sequential_bad_milestones(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    s = torch.optim.lr_scheduler
    return raised(lambda: s.SequentialLR(opt, [s.ConstantLR(opt), s.ExponentialLR(opt, 0.9)],
                                         milestones=[2, 4]))


def _chained_with_plateau_raises(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    s = torch.optim.lr_scheduler
    return raised(lambda: s.ChainedScheduler([s.ReduceLROnPlateau(opt), s.ExponentialLR(opt, 0.9)]))


def _step_lr_per_batch_idiom(torch):
    # step the scheduler every batch of an epoch loop, as many scripts do
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.Adam([p], lr=1e-3)
    s = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.1)
    lrs = []
    for epoch in range(3):
        for _ in range(4):
            opt.zero_grad()
            (p * 2).sum().backward()
            opt.step()
            s.step()
        lrs.append(s.get_last_lr()[0])
    return lrs


_reg("scripts3_sched", {
    "step_4_03": lambda torch: _traj(torch, _S("StepLR", step_size=4, gamma=0.3)),
    "step_default_gamma": lambda torch: _traj(torch, _S("StepLR", step_size=3)),
    "multistep_unsorted": lambda torch: _traj(torch, _S("MultiStepLR", milestones=[8, 3], gamma=0.5)),
    "multistep_default_gamma": lambda torch: _traj(torch, _S("MultiStepLR", milestones=[2, 4, 6])),
    "exponential_099": lambda torch: _traj(torch, _S("ExponentialLR", gamma=0.99), lr=1.0),
    "cosine_12": lambda torch: _traj(torch, _S("CosineAnnealingLR", T_max=12), n=14),
    "cosine_eta_min_short": lambda torch: _traj(torch, _S("CosineAnnealingLR", T_max=4, eta_min=0.05)),
    "warm_restarts_tmult3": lambda torch: _traj(torch, _S("CosineAnnealingWarmRestarts", T_0=2, T_mult=3)),
    "warm_restarts_eta": lambda torch: (
        _traj(torch, _S("CosineAnnealingWarmRestarts", T_0=4, T_mult=1, eta_min=0.01))),
    "warm_restarts_fractional": _warm_restarts_fractional,
    "warm_restarts_bad_t0_raises": lambda torch: (
        raised(lambda: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0), T_0=0))),
    "warm_restarts_float_tmult_raises": lambda torch: (
        raised(lambda: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0), T_0=2, T_mult=1.5))),
    "cyclic_triangular_down": lambda torch: (
        _traj(torch, _S("CyclicLR", base_lr=0.001, max_lr=0.01, step_size_up=3, step_size_down=2))),
    "cyclic_triangular2_12": lambda torch: (
        _traj(torch, _S("CyclicLR", base_lr=0.0, max_lr=0.8, step_size_up=2, mode="triangular2"))),
    "cyclic_exp_range_12": lambda torch: (
        _traj(torch, _S("CyclicLR", base_lr=0.1, max_lr=1.0, step_size_up=3, mode="exp_range",
                        gamma=0.95))),
    "cyclic_scale_fn_iterations": lambda torch: (
        _traj(torch, _S("CyclicLR", base_lr=0.0, max_lr=1.0, step_size_up=2,
                        scale_fn=lambda x: 1 / (x + 1), scale_mode="iterations"))),
    "cyclic_scale_fn_cycle": lambda torch: (
        _traj(torch, _S("CyclicLR", base_lr=0.0, max_lr=1.0, step_size_up=2,
                        scale_fn=lambda x: 0.5 ** (x - 1), scale_mode="cycle"))),
    "cyclic_initial_lr_is_base": lambda torch: (
        _traj(torch, _S("CyclicLR", base_lr=0.05, max_lr=0.5), n=0, lr=123.0)),
    "cyclic_momentum": _cyclic_momentum,
    "cyclic_no_momentum_raises": _cyclic_no_momentum_raises,
    "cyclic_adam_betas": _cyclic_adam_betas,
    "cyclic_bad_mode_raises": lambda torch: (
        raised(lambda: torch.optim.lr_scheduler.CyclicLR(
            torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1, momentum=0.9),
            base_lr=0.1, max_lr=1.0, mode="sine"))),
    "one_cycle_cos_12": lambda torch: _traj(torch, _S("OneCycleLR", max_lr=0.1, total_steps=13), n=12),
    "one_cycle_linear_12": lambda torch: (
        _traj(torch, _S("OneCycleLR", max_lr=0.1, total_steps=13, anneal_strategy="linear",
                        pct_start=0.5), n=12)),
    "one_cycle_div_factors": lambda torch: (
        _traj(torch, _S("OneCycleLR", max_lr=1.0, total_steps=8, div_factor=4.0, final_div_factor=100.0),
              n=7)),
    "one_cycle_three_phase_linear": lambda torch: (
        _traj(torch, _S("OneCycleLR", max_lr=1.0, total_steps=12, three_phase=True,
                        anneal_strategy="linear"), n=11)),
    "one_cycle_momentum_traj": lambda torch: (
        _traj(torch, _S("OneCycleLR", max_lr=1.0, total_steps=8, cycle_momentum=False), n=7,
              momentum=0.9)),
    "one_cycle_initial_group": _one_cycle_initial,
    "one_cycle_overrun_raises": _one_cycle_overrun,
    "one_cycle_no_total_raises": _one_cycle_no_total_raises,
    "one_cycle_bad_strategy_raises": _one_cycle_bad_strategy,
    "lambda_warmup": lambda torch: _traj(torch, _S("LambdaLR", lr_lambda=lambda e: min(1.0, (e + 1) / 5))),
    "lambda_inverse_sqrt": lambda torch: (
        _traj(torch, _S("LambdaLR", lr_lambda=lambda e: 1.0 / math.sqrt(max(e, 1))))),
    "multiplicative_095": lambda torch: _traj(torch, _S("MultiplicativeLR", lr_lambda=lambda e: 0.95)),
    "multiplicative_epoch_dependent": lambda torch: (
        _traj(torch, _S("MultiplicativeLR", lr_lambda=lambda e: 0.5 if e % 3 == 0 else 1.0))),
    "linear_defaults": lambda torch: _traj(torch, _S("LinearLR")),
    "linear_warmup_up": lambda torch: _traj(torch, _S("LinearLR", start_factor=0.1, end_factor=1.0, total_iters=6)),
    "linear_bad_start_raises": lambda torch: (
        raised(lambda: torch.optim.lr_scheduler.LinearLR(
            torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1), start_factor=0.0))),
    "constant_defaults": lambda torch: _traj(torch, _S("ConstantLR")),
    "constant_bad_factor_raises": lambda torch: (
        raised(lambda: torch.optim.lr_scheduler.ConstantLR(
            torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1), factor=1.5))),
    "polynomial_defaults": lambda torch: _traj(torch, _S("PolynomialLR")),
    "polynomial_power_half": lambda torch: _traj(torch, _S("PolynomialLR", total_iters=8, power=0.5)),
    "sequential_constant_exp": lambda torch: (
        _traj(torch, lambda s, o: s.SequentialLR(o, [s.ConstantLR(o, factor=0.2, total_iters=4),
                                                     s.ExponentialLR(o, gamma=0.8)], milestones=[4]))),
    "sequential_linear_step": lambda torch: (
        _traj(torch, lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.5, total_iters=3),
                                                     s.StepLR(o, step_size=2, gamma=0.5)], milestones=[3]))),
    "sequential_bad_milestones_raises": _sequential_bad_milestones,
    "chained_step_exp": lambda torch: (
        _traj(torch, lambda s, o: s.ChainedScheduler([s.StepLR(o, 3, gamma=0.5), s.ExponentialLR(o, 0.9)]))),
    "chained_linear_cosine": lambda torch: (
        _traj(torch, lambda s, o: s.ChainedScheduler([s.LinearLR(o, start_factor=0.5, total_iters=3),
                                                      s.MultiplicativeLR(o, lambda e: 0.9)]))),
    "chained_with_plateau_raises": _chained_with_plateau_raises,
    "two_groups_step": lambda torch: _two_groups(torch, _S("StepLR", step_size=2, gamma=0.1)),
    "two_groups_cosine": lambda torch: _two_groups(torch, _S("CosineAnnealingLR", T_max=4, eta_min=0.001)),
    "two_groups_onecycle": lambda torch: (
        _two_groups(torch, _S("OneCycleLR", max_lr=[1.0, 0.1], total_steps=7))),
    "plateau_cooldown_rel": lambda torch: (
        _plateau_traj(torch, _PLATEAU_VALS, patience=1, cooldown=2, factor=0.5)),
    "plateau_abs_threshold": lambda torch: (
        _plateau_traj(torch, _PLATEAU_VALS, patience=1, threshold=0.02, threshold_mode="abs", factor=0.5)),
    "plateau_max_abs": lambda torch: (
        _plateau_traj(torch, [0.1, 0.2, 0.21, 0.2, 0.22, 0.5, 0.49, 0.48, 0.47, 0.6], mode="max",
                      patience=1, threshold=0.05, threshold_mode="abs", factor=0.1)),
    "plateau_max_rel_cooldown": lambda torch: (
        _plateau_traj(torch, [0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2], mode="max", patience=0, cooldown=1)),
    "plateau_eps_blocks": lambda torch: (
        _plateau_traj(torch, [1, 2, 3, 4, 5, 6], patience=0, factor=0.9999, eps=1e-3)),
    "plateau_attrs": _plateau_attrs,
    "plateau_tensor_metric": _plateau_tensor_metric,
    "plateau_min_lr_list": _plateau_min_lr_list,
    "plateau_bad_mode_raises": _plateau_bad_mode,
    "plateau_bad_factor_raises": _plateau_bad_factor,
    "plateau_state_roundtrip": _plateau_state_roundtrip,
    "resume_cosine": lambda torch: _resume(torch, _S("CosineAnnealingLR", T_max=8)),
    "resume_multistep": lambda torch: _resume(torch, _S("MultiStepLR", milestones=[3, 6, 7])),
    "resume_onecycle": lambda torch: _resume(torch, _S("OneCycleLR", max_lr=1.0, total_steps=12)),
    "resume_warm_restarts": lambda torch: _resume(torch, _S("CosineAnnealingWarmRestarts", T_0=3, T_mult=2)),
    "resume_cyclic": lambda torch: (
        _resume(torch, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3, cycle_momentum=False))),
    "resume_linear": lambda torch: _resume(torch, _S("LinearLR", start_factor=0.2, total_iters=7)),
    "state_keys_cosine": lambda torch: _state_keys(torch, _S("CosineAnnealingLR", T_max=3)),
    "state_keys_multistep": lambda torch: _state_keys(torch, _S("MultiStepLR", milestones=[1])),
    "state_keys_onecycle": lambda torch: _state_keys(torch, _S("OneCycleLR", max_lr=1.0, total_steps=4)),
    "state_multistep_milestones": lambda torch: (
        dict(torch.optim.lr_scheduler.MultiStepLR(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0),
                                                  milestones=[3, 1, 3]).state_dict()["milestones"])),
    "lambda_state_function": _lambda_state,
    "lambda_state_callable_object": _lambda_state_callable_object,
    "last_epoch_without_initial_lr_raises": _last_epoch_without_initial_lr,
    "last_epoch_resume": _last_epoch_resume,
    "base_lrs_and_epoch": _base_lrs_and_epoch,
    "manual_lr_edit_chainable": _sched_changes_lr_manually,
    "step_per_batch_idiom": _step_lr_per_batch_idiom,
})


# ================================================================ nn.init

def _fan(torch, *shape):
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def _xavier_bound_ok(torch, *shape, gain=1.0):
    w = torch.empty(*shape)
    torch.nn.init.xavier_uniform_(w, gain=gain)
    fi, fo = torch.nn.init._calculate_fan_in_and_fan_out(w)
    bound = gain * math.sqrt(6.0 / (fi + fo))
    return bool((w.abs() <= bound + 1e-6).all()), bool(w.abs().max() > 0.8 * bound)


def _kaiming_bound_ok(torch, *shape, **kw):
    w = torch.empty(*shape)
    torch.nn.init.kaiming_uniform_(w, **kw)
    fi, fo = torch.nn.init._calculate_fan_in_and_fan_out(w)
    fan = fo if kw.get("mode") == "fan_out" else fi
    gain = torch.nn.init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0))
    bound = gain * math.sqrt(3.0 / fan)
    return bool((w.abs() <= bound + 1e-6).all()), bool(w.abs().max() > 0.8 * bound)


def _orth_rows(torch, *shape, gain=1.0):
    w = torch.empty(*shape)
    torch.nn.init.orthogonal_(w, gain=gain)
    m = w.reshape(shape[0], -1)
    g = m @ m.t() if m.shape[0] <= m.shape[1] else m.t() @ m
    return torch.allclose(g, gain * gain * torch.eye(g.shape[0]), atol=1e-4), tuple(w.shape)


def _init_ret(torch, name, *shape, **kw):
    w = torch.empty(*shape)
    return getattr(torch.nn.init, name)(w, **kw) is w


def _trunc_bounds(torch, mean, std, a, b, n=2000):
    w = torch.empty(n)
    torch.nn.init.trunc_normal_(w, mean=mean, std=std, a=a, b=b)
    # The mean of n unseeded draws lies within 10 standard errors of the truncated distribution's mean;
    # round(mean, 1) disagreed between the libraries about once in a hundred runs.
    return bool(((w >= a) & (w <= b)).all()), abs(w.mean().item() - _trunc_mean(mean, std, a, b)) < 10 * std / n ** 0.5


def _trunc_mean(mean, std, a, b):
    """The mean of a normal(mean, std) truncated to [a, b]."""
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    lo, hi = (a - mean) / std, (b - mean) / std
    return mean + std * (pdf(lo) - pdf(hi)) / (cdf(hi) - cdf(lo))


def _init_keeps_requires_grad(torch):
    w = torch.empty(3, 4, requires_grad=True)
    torch.nn.init.xavier_normal_(w)
    torch.nn.init.zeros_(w)
    return w.requires_grad, w.is_leaf, w.grad_fn is None, w


def _init_int_tensor(torch):
    w = torch.empty(2, 2, dtype=torch.int64)
    torch.nn.init.constant_(w, 3)
    return w


def _init_model_apply(torch):
    def init_weights(m):
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.constant_(m.weight, 0.5)
            torch.nn.init.zeros_(m.bias)
        elif isinstance(m, torch.nn.Conv2d):
            torch.nn.init.ones_(m.weight)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1, bias=False), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    net.apply(init_weights)
    return net(torch.arange(4.0).view(1, 1, 2, 2))


_reg("scripts3_init", {
    "gain_all": lambda torch: (
        [torch.nn.init.calculate_gain(n) for n in ("conv1d", "conv2d", "conv3d", "conv_transpose2d",
                                                    "sigmoid", "tanh", "relu", "selu")]),
    "gain_leaky_default": lambda torch: torch.nn.init.calculate_gain("leaky_relu"),
    "gain_leaky_int": lambda torch: torch.nn.init.calculate_gain("leaky_relu", 1),
    "gain_relu_param_ignored": lambda torch: torch.nn.init.calculate_gain("relu", 5),
    "gain_unknown_raises": lambda torch: raised(lambda: torch.nn.init.calculate_gain("gelu")),
    "gain_leaky_bool_raises": lambda torch: raised(lambda: torch.nn.init.calculate_gain("leaky_relu", True)),
    "fan_linear": lambda torch: _fan(torch, 8, 4),
    "fan_conv2d": lambda torch: _fan(torch, 8, 4, 3, 3),
    "fan_conv1d": lambda torch: _fan(torch, 6, 2, 5),
    "fan_1d_raises": lambda torch: raised(lambda: _fan(torch, 5)),
    "xavier_bound_linear": lambda torch: _xavier_bound_ok(torch, 64, 32),
    "xavier_bound_conv": lambda torch: _xavier_bound_ok(torch, 16, 8, 3, 3, gain=2.0),
    "kaiming_bound_relu_fan_in": lambda torch: _kaiming_bound_ok(torch, 64, 32, nonlinearity="relu"),
    "kaiming_bound_fan_out_conv": lambda torch: (
        _kaiming_bound_ok(torch, 16, 8, 3, 3, mode="fan_out", nonlinearity="relu")),
    "kaiming_bound_leaky_a": lambda torch: _kaiming_bound_ok(torch, 50, 40, a=0.1),
    "kaiming_1d_raises": lambda torch: raised(lambda: torch.nn.init.kaiming_uniform_(torch.empty(4))),
    "kaiming_bad_mode_raises": lambda torch: (
        raised(lambda: torch.nn.init.kaiming_normal_(torch.empty(4, 4), mode="fan_avg"))),
    "xavier_1d_raises": lambda torch: raised(lambda: torch.nn.init.xavier_uniform_(torch.empty(4))),
    "kaiming_normal_leaky_std": lambda torch: (
        round(torch.nn.init.kaiming_normal_(torch.empty(400, 400), a=0.2, nonlinearity="leaky_relu")
              .std().item() / math.sqrt(2.0 / (1 + 0.04) / 400), 1)),
    "orthogonal_square": lambda torch: _orth_rows(torch, 5, 5),
    "orthogonal_conv": lambda torch: _orth_rows(torch, 6, 2, 2, 2),
    "orthogonal_tall_gain": lambda torch: _orth_rows(torch, 8, 3, gain=0.5),
    "orthogonal_1d_raises": lambda torch: raised(lambda: torch.nn.init.orthogonal_(torch.empty(4))),
    "eye_3d_raises": lambda torch: raised(lambda: torch.nn.init.eye_(torch.empty(2, 2, 2))),
    "eye_tall": lambda torch: torch.nn.init.eye_(torch.empty(4, 2)),
    "dirac_conv2d": lambda torch: torch.nn.init.dirac_(torch.empty(2, 3, 3, 3)),
    "dirac_more_out": lambda torch: torch.nn.init.dirac_(torch.empty(3, 2, 3)),
    "dirac_2d_raises": lambda torch: raised(lambda: torch.nn.init.dirac_(torch.empty(2, 2))),
    "dirac_conv_identity": lambda torch: (
        (lambda c, x: torch.allclose(c(x), x))(
            (lambda c: (torch.nn.init.dirac_(c.weight), c)[1])(torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)),
            _m(torch, 1, 3, 4, 4))),
    "constant_int_tensor": _init_int_tensor,
    "zeros_ones_returns": lambda torch: (
        [_init_ret(torch, n, 2, 3) for n in ("zeros_", "ones_", "eye_", "xavier_uniform_",
                                             "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                                             "orthogonal_", "trunc_normal_", "uniform_", "normal_")]),
    "trunc_normal_shifted": lambda torch: _trunc_bounds(torch, 2.0, 0.5, 1.5, 2.5),
    "trunc_normal_default_bounds": lambda torch: _trunc_bounds(torch, 0.0, 1.0, -2.0, 2.0),
    "trunc_normal_narrow": lambda torch: _trunc_bounds(torch, 0.0, 0.02, -0.04, 0.04),
    "normal_mean_std": lambda torch: (
        (lambda w: (round(w.mean().item(), 1), round(w.std().item(), 1)))(
            torch.nn.init.normal_(torch.empty(20000), mean=5.0, std=0.5))),
    "uniform_default_range": lambda torch: (
        (lambda w: bool(((w >= 0) & (w < 1)).all()))(torch.nn.init.uniform_(torch.empty(1000)))),
    "init_keeps_requires_grad": _init_keeps_requires_grad,
    "init_model_apply": _init_model_apply,
    "constant_on_parameter_grad": lambda torch: (
        (lambda lin: (torch.nn.init.constant_(lin.weight, 0.1), lin.weight.requires_grad)[1])(torch.nn.Linear(2, 2))),
})


# ================================================================ tensor methods

def _item_types(torch):
    return [type(t.item()).__name__ for t in
            (torch.tensor(3), torch.tensor(2.5), torch.tensor(True), torch.tensor([[4.0]]),
             torch.tensor(1, dtype=torch.uint8), torch.tensor(1.5, dtype=torch.float64))]


def _numpy_view_shares(torch):
    t = torch.arange(6.0).view(2, 3)
    a = t[1].numpy()
    t[1, 0] = 100.0
    return a


def _numpy_inplace_back(torch):
    t = torch.zeros(2, 2)
    a = t.numpy()
    a[0, 1] = 3.0
    return t


def _clone_detach(torch):
    x = torch.ones(2, requires_grad=True)
    c = x.clone()
    d = x.clone().detach()
    e = x.detach().clone()
    return (c.requires_grad, c.is_leaf, type(c.grad_fn).__name__, d.requires_grad, d.is_leaf,
            d.grad_fn is None, e.requires_grad)


def _detach_shares(torch):
    x = torch.ones(3, requires_grad=True)
    d = x.detach()
    d[0] = 5.0
    return x.detach(), d.requires_grad


def _strides(torch):
    t = torch.arange(24.0).view(2, 3, 4)
    return [t.stride(), t.transpose(0, 2).stride(), t.permute(1, 0, 2).stride(), t[:, 1].stride(),
            t[..., ::2].stride(), t.unsqueeze(1).stride(), t.expand(2, 2, 3, 4).stride(), t.stride(-1)]


def _offsets(torch):
    t = torch.arange(24.0).view(2, 3, 4)
    return [t.storage_offset(), t[1].storage_offset(), t[:, 1:].storage_offset(),
            t[1, 2, 3].storage_offset(), t.narrow(2, 1, 2).storage_offset(), t[1:].contiguous().storage_offset()]


def _contig(torch):
    t = torch.arange(6.0).view(2, 3)
    return [t.is_contiguous(), t.T.is_contiguous(), t.T.contiguous().is_contiguous(), t.contiguous() is t,
            t[:, :2].is_contiguous(), t[:1].is_contiguous(), t.expand(2, 2, 3).is_contiguous(),
            torch.ones(3, 1).expand(3, 4).is_contiguous()]


def _view_noncontig_raises(torch):
    return raised(lambda: torch.arange(6.0).view(2, 3).T.view(6))


def _type_strings(torch):
    # the module prefix ('torch.' / 'descend.') differs by design; compare the class part
    return [t.type().split(".")[-1] for t in
            (torch.ones(1), torch.ones(1, dtype=torch.float64), torch.ones(1, dtype=torch.long),
             torch.ones(1, dtype=torch.int32), torch.ones(1, dtype=torch.bool),
             torch.ones(1, dtype=torch.uint8), torch.ones(1, dtype=torch.float16))]


def _new_methods(torch):
    x = torch.ones(2, dtype=torch.float64)
    i = torch.ones(2, dtype=torch.int32)
    return [x.new_tensor([1, 2]), i.new_tensor([1.7, 2.2]), x.new_zeros((2, 3)), x.new_zeros(2, 3),
            x.new_ones(3, dtype=torch.int64), x.new_full((2,), 7), i.new_full((2,), 7),
            x.new_empty(4).shape, x.new_empty(4).dtype, x.new_tensor(5.0)]


def _new_tensor_requires_grad(torch):
    x = torch.ones(2, requires_grad=True)
    y = x.new_tensor(x)
    return y.requires_grad, x.new_zeros(2).requires_grad, x.new_tensor([1.0], requires_grad=True).requires_grad


def _masked_fill_bcast(torch):
    x = torch.arange(12.0).view(3, 4)
    return [x.masked_fill(torch.tensor([[True], [False], [True]]), -1.0),
            x.masked_fill(torch.tensor([True, False, False, True]), 0.5),
            x.masked_fill(x > 5, torch.tensor(9.0)),
            torch.arange(4).masked_fill(torch.tensor([True, False, True, False]), 2.7)]


def _attention_mask_idiom(torch):
    scores = _m(torch, 2, 4, 4)
    mask = torch.tril(torch.ones(4, 4)) == 0
    att = scores.masked_fill(mask, float("-inf")).softmax(-1)
    return att


def _masked_fill_inplace(torch):
    x = torch.zeros(2, 3)
    r = x.masked_fill_(torch.tensor([True, False, True]), 1.0)
    return r is x, x


def _clamp_tensors(torch):
    x = torch.tensor([[-2.0, 0.5, 3.0], [1.0, -0.5, 2.0]])
    lo = torch.tensor([-1.0, 0.0, 0.0])
    hi = torch.tensor([[0.5], [1.5]])
    y = x.clone()
    y.clamp_(min=lo, max=hi)
    return [x.clamp(lo, hi), y, x.clamp(min=lo), x.clamp(max=hi), torch.clamp(x, min=0.0, max=-1.0)]


def _clamp_int(torch):
    x = torch.tensor([-3, 0, 5])
    return [x.clamp(min=-1, max=2), x.clamp(0), x.clamp(min=0.5), x.clamp(max=torch.tensor(1))]


def _clamp_none_raises(torch):
    return raised(lambda: torch.ones(2).clamp())


def _accuracy(torch):
    logits = _m(torch, 8, 5)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    with torch.no_grad():
        pred = logits.argmax(1)
        correct = (pred == y).sum().item()
        acc = (pred == y).float().mean().item()
        acc2 = (logits.argmax(dim=1) == y).type(torch.float).mean()
        top2 = logits.topk(2, 1).indices.eq(y.view(-1, 1)).any(1).sum().item()
    return correct, acc, acc2, top2, type(correct).__name__


def _sort_stable(torch):
    x = torch.tensor([2, 1, 2, 1, 3, 1])
    s = torch.sort(x, stable=True)
    d = torch.sort(x, descending=True, stable=True)
    return s.values, s.indices, d.values, d.indices, x.sort(stable=True, dim=0).indices


def _sort_2d(torch):
    x = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    v, i = x.sort(dim=0)
    return v, i, x.sort(descending=True).indices, torch.argsort(x, dim=1, descending=True)


def _unique_struct(torch):
    x = torch.tensor([3, 1, 3, 2, 1, 3])
    u = torch.unique(x, sorted=False)
    v, inv, cnt = torch.unique(x, return_inverse=True, return_counts=True)
    return sorted(u.tolist()), u.dtype, v, inv, cnt, torch.equal(v[inv], x)


def _unique_dim(torch):
    x = torch.tensor([[1, 2], [3, 4], [1, 2]])
    return torch.unique(x, dim=0), torch.unique(x, dim=0, return_counts=True)[1]


def _unique_consecutive(torch):
    x = torch.tensor([1, 1, 2, 2, 3, 1, 1])
    return torch.unique_consecutive(x, return_counts=True)


def _where_scalars(torch):
    c = torch.tensor([True, False, True])
    x = torch.tensor([1.0, 2.0, 3.0])
    i = torch.tensor([1, 2, 3])
    return [torch.where(c, 1.0, 0.0), torch.where(c, 1, 0), torch.where(c, x, 0), torch.where(c, i, 0.5),
            torch.where(c, i, 0), torch.where(x > 1.5, x, torch.zeros(1)), torch.where(c)]


def _where_f64_scalar(torch):
    c = torch.tensor([True, False])
    return torch.where(c, torch.tensor([1.0, 2.0], dtype=torch.float64), 0.0).dtype, \
        torch.where(c, torch.tensor([1, 2], dtype=torch.int32), 5).dtype


def _cat_mixed(torch):
    return [torch.cat([torch.tensor([1, 2]), torch.tensor([0.5])]),
            torch.cat([torch.ones(1), torch.ones(1, dtype=torch.float64)]),
            torch.cat([torch.tensor([True]), torch.tensor([2])]),
            torch.cat([torch.tensor([1], dtype=torch.int32), torch.tensor([2], dtype=torch.int64)]),
            torch.cat([torch.tensor([1], dtype=torch.uint8), torch.tensor([-2], dtype=torch.int8)]),
            torch.cat([torch.ones(2, 2), torch.zeros(0)]),
            torch.cat((torch.ones(2, 1), torch.zeros(2, 2)), dim=-1)]


def _cat_raises(torch):
    return [raised(lambda: torch.cat([torch.ones(2, 2), torch.ones(2, 3)])),
            raised(lambda: torch.cat([torch.tensor(1.0), torch.tensor(2.0)])),
            raised(lambda: torch.cat([])),
            raised(lambda: torch.cat([torch.ones(2), torch.ones(2)], dim=1))]


def _stack_cases(torch):
    a, b = torch.ones(2, 3), torch.zeros(2, 3)
    return [torch.stack([a, b]).shape, torch.stack([a, b], dim=-1).shape, torch.stack([a, b], 2).shape,
            torch.stack([a, b], dim=-3).shape, torch.stack([torch.tensor(1), torch.tensor(2)]),
            torch.stack([torch.tensor([1]), torch.tensor([2.5])])]


def _stack_raises(torch):
    a, b = torch.ones(2, 3), torch.zeros(2, 3)
    return [raised(lambda: torch.stack([a, torch.ones(3, 2)])), raised(lambda: torch.stack([]))]


def _repeat_cases(torch):
    x = torch.tensor([[1, 2], [3, 4]])
    return [x.repeat(2, 1), x.repeat(1, 2, 3).shape, torch.tensor([1, 2]).repeat(3), x.repeat(1, 1),
            x.repeat((2, 2)), raised(lambda: x.repeat(2)), torch.tensor(5).repeat(2, 2)]


def _transposes(torch):
    x = _m(torch, 2, 3)
    c = torch.tensor([[1 + 2j, 3 - 1j]])
    b = _m(torch, 2, 3, 4)
    return [x.T, x.mT, x.H, torch.arange(3).T, b.mT.shape, c.H, c.mH, c.T, b.mT.stride()]


def _mt_1d_raises(torch):
    return raised(lambda: torch.arange(3).mT)


def _argmax_cases(torch):
    x = torch.tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]])
    return [x.argmax(), x.argmax(1), x.argmax(1, keepdim=True), x.argmax(dim=0, keepdim=True),
            x.argmin(keepdim=False), torch.argmax(x, dim=-1), x.max(1).indices, x.max(1, keepdim=True)[0]]


def _predicates(torch):
    ts = [torch.ones(1), torch.ones(1, dtype=torch.int64), torch.ones(1, dtype=torch.bool),
          torch.ones(1, dtype=torch.float16), torch.ones(1, dtype=torch.complex64),
          torch.ones(1, dtype=torch.bfloat16)]
    return [(t.is_floating_point(), t.is_complex(), torch.is_floating_point(t), t.dtype.is_floating_point,
             t.dtype.is_signed) for t in ts]


def _sizes(torch):
    x = torch.zeros(2, 3, 4, dtype=torch.float16)
    return [x.numel(), x.dim(), x.ndim, x.nelement(), x.size(), x.size(-1), x.shape[1:],
            x.element_size(), torch.numel(x), len(x)]


def _element_sizes(torch):
    return [torch.zeros(1, dtype=d).element_size() for d in
            (torch.int8, torch.uint8, torch.int16, torch.bool, torch.float16, torch.bfloat16, torch.int32,
             torch.complex64, torch.complex128)]


def _type_conversions(torch):
    x = torch.tensor([1.7, -2.2])
    return [x.type(torch.int32), x.type("torch.DoubleTensor"), x.type_as(torch.ones(1, dtype=torch.int16)),
            torch.tensor([1, 2]).type_as(x), x.long(), x.int(), x.short(), x.char(), x.byte(), x.bool(), x.half(),
            x.double()]


def _tolist_cases(torch):
    return [torch.tensor(3.5).tolist(), torch.arange(8).view(2, 2, 2).tolist(), torch.tensor([True, False]).tolist(),
            torch.zeros(0, 3).tolist(), torch.tensor([[1.5]], dtype=torch.float64).tolist(),
            torch.tensor([1, 2], dtype=torch.uint8).tolist(), type(torch.tensor([1.5]).tolist()[0]).__name__,
            torch.zeros(2, 0).tolist()]


def _expand_view_as(torch):
    a = torch.tensor([[1.0], [2.0]])
    b = torch.zeros(2, 3)
    return [a.expand_as(b), torch.arange(6.0).view_as(b), a.expand(-1, 4), a.expand(3, 2, 2).shape,
            raised(lambda: torch.ones(2, 2).expand(3, 2)), raised(lambda: torch.arange(5.0).view_as(b)),
            torch.arange(6.0).reshape_as(b.T)]


def _item_raises(torch):
    return raised(lambda: torch.ones(2).item())


def _no_grad_eval_loop_flags(torch):
    model = fill(torch, torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2)))
    model.eval()
    x = _m(torch, 5, 3)
    with torch.no_grad():
        out = model(x)
        loss = out.pow(2).mean()
    return out, out.requires_grad, loss.grad_fn is None, torch.is_grad_enabled()


def _inference_mode_loop(torch):
    model = fill(torch, torch.nn.Linear(3, 2))
    with torch.inference_mode():
        out = model(_m(torch, 2, 3))
    return out, out.requires_grad


_reg("scripts3_tensor", {
    "item_types": _item_types,
    "item_multi_raises": _item_raises,
    "item_values": lambda torch: [torch.tensor([[7]]).item(), torch.tensor(2.5, dtype=torch.float64).item(),
                                  torch.tensor(True).item(), torch.tensor(-3, dtype=torch.int8).item()],
    "tolist_cases": _tolist_cases,
    "numpy_view_shares": _numpy_view_shares,
    "numpy_inplace_back": _numpy_inplace_back,
    "numpy_requires_grad_raises": lambda torch: raised(lambda: torch.ones(2, requires_grad=True).numpy()),
    "numpy_detach_ok": lambda torch: torch.ones(2, requires_grad=True).detach().numpy(),
    "numpy_dtype_long": lambda torch: torch.arange(3).numpy(),
    "numpy_bool": lambda torch: (torch.arange(3) > 1).numpy(),
    "numpy_force": lambda torch: torch.ones(2, requires_grad=True).numpy(force=True),
    "clone_detach_flags": _clone_detach,
    "detach_shares": _detach_shares,
    "strides": _strides,
    "storage_offsets": _offsets,
    "contiguity": _contig,
    "view_noncontig_raises": _view_noncontig_raises,
    "reshape_noncontig_ok": lambda torch: torch.arange(6.0).view(2, 3).T.reshape(6),
    "type_strings": _type_strings,
    "type_conversions": _type_conversions,
    "new_methods": _new_methods,
    "new_tensor_requires_grad": _new_tensor_requires_grad,
    "masked_fill_broadcast": _masked_fill_bcast,
    "masked_fill_attention": _attention_mask_idiom,
    "masked_fill_inplace": _masked_fill_inplace,
    "masked_fill_float_mask_raises": lambda torch: (
        raised(lambda: torch.ones(3).masked_fill(torch.tensor([1.0, 0.0, 1.0]), 0.0))),
    "masked_fill_1d_value_raises": lambda torch: (
        raised(lambda: torch.ones(3).masked_fill(torch.tensor([True, False, True]), torch.tensor([1.0, 2.0])))),
    "clamp_tensors": _clamp_tensors,
    "clamp_int": _clamp_int,
    "clamp_none_raises": _clamp_none_raises,
    "clamp_grad_boundary": lambda torch: (
        (lambda x: (x.clamp(0.0, 1.0).sum().backward(), x.grad)[1])(
            torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True))),
    "accuracy_idioms": _accuracy,
    "sort_stable": _sort_stable,
    "sort_2d": _sort_2d,
    "sort_nan_last": lambda torch: torch.sort(torch.tensor([2.0, float("nan"), 1.0])),
    "unique_structure": _unique_struct,
    "unique_dim": _unique_dim,
    "unique_consecutive": _unique_consecutive,
    "unique_float": lambda torch: torch.unique(torch.tensor([1.5, -0.5, 1.5])),
    "where_scalars": _where_scalars,
    "where_dtype_keep": _where_f64_scalar,
    "where_broadcast_shapes": lambda torch: (
        torch.where(torch.tensor([[True], [False]]), torch.ones(3), torch.zeros(2, 1))),
    "cat_mixed_dtypes": _cat_mixed,
    "cat_raises": _cat_raises,
    "stack_cases": _stack_cases,
    "stack_raises": _stack_raises,
    "repeat_cases": _repeat_cases,
    "repeat_interleave": lambda torch: [torch.tensor([1, 2]).repeat_interleave(2),
                                        torch.tensor([[1, 2], [3, 4]]).repeat_interleave(torch.tensor([1, 2]), dim=0),
                                        torch.repeat_interleave(torch.tensor([2, 0, 1]))],
    "transposes": _transposes,
    "mT_1d_raises": _mt_1d_raises,
    "argmax_cases": _argmax_cases,
    "predicates": _predicates,
    "sizes": _sizes,
    "element_sizes": _element_sizes,
    "expand_view_as": _expand_view_as,
    "no_grad_eval_loop": _no_grad_eval_loop_flags,
    "inference_mode_loop": _inference_mode_loop,
    "size_index_oob_raises": lambda torch: raised(lambda: torch.ones(2, 3).size(2)),
    "stride_index_oob_raises": lambda torch: raised(lambda: torch.ones(2, 3).stride(-3)),
    "data_ptr_view_same_storage": lambda torch: (
        (lambda t: (t[1:].data_ptr() - t.data_ptr(), t.view(3, 2).data_ptr() == t.data_ptr()))(torch.arange(6.0))),
    "type_legacy_class_arg": lambda torch: torch.tensor([1.7, -2.2]).type(torch.LongTensor),
    "type_legacy_float_accuracy": lambda torch: (
        (torch.tensor([1, 2, 3]) == torch.tensor([1, 0, 3])).type(torch.FloatTensor).mean()),
    "ndimension": lambda torch: torch.zeros(2, 3).ndimension(),
    "nbytes_itemsize": lambda torch: (lambda x: (x.nbytes, x.itemsize))(torch.zeros(2, 3, dtype=torch.float16)),
    "cat_of_tensor_not_sequence_raises": lambda torch: raised(lambda: torch.cat(torch.ones(2))),
    "stack_dim_past_end_raises": lambda torch: raised(lambda: torch.stack([torch.ones(2, 3), torch.ones(2, 3)], dim=3)),
    "stack_dim_before_start_raises": lambda torch: (
        raised(lambda: torch.stack([torch.ones(2, 3), torch.ones(2, 3)], dim=-4))),
    "unsqueeze_dim_past_end_raises": lambda torch: raised(lambda: torch.ones(2, 3).unsqueeze(3)),
    "untyped_storage_nbytes": lambda torch: torch.arange(6.0)[2:].untyped_storage().nbytes(),
})


# ================================================================ Module API

def _cnn(torch):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(2)
            self.drop = torch.nn.Dropout(0.3)
            self.fc = torch.nn.Linear(8, 3)
            self.add_module("head", torch.nn.Identity())
            self.register_buffer("scale", torch.tensor(2.0))

        def forward(self, x):
            x = self.drop(torch.relu(self.bn(self.conv(x))))
            return self.head(self.fc(x.flatten(1))) * self.scale
    return fill(torch, Net())


def _train_false(torch):
    m = _cnn(torch)
    r = m.train(False)
    return r is m, [x.training for x in m.modules()], m.bn.training


def _train_bad_raises(torch):
    return raised(lambda: torch.nn.Linear(1, 1).train("no"))


def _requires_grad_module(torch):
    m = _cnn(torch)
    m.requires_grad_(False)
    out = m(torch.ones(1, 1, 2, 2))
    m.fc.requires_grad_()
    return ([p.requires_grad for p in m.parameters()], out.requires_grad,
            sum(p.numel() for p in m.parameters() if p.requires_grad))


def _zero_grad_false(torch):
    m = _cnn(torch)
    m(torch.ones(2, 1, 2, 2)).sum().backward()
    m.zero_grad(set_to_none=False)
    g = [p.grad for p in m.parameters()]
    m.zero_grad()
    return [bool((x == 0).all()) for x in g], [p.grad is None for p in m.parameters()]


def _named_children(torch):
    m = _cnn(torch)
    return [n for n, _ in m.named_children()], [n for n, _ in m.named_buffers()], list(m.state_dict())


def _state_dict_keep_vars(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    sd = m.state_dict(keep_vars=True)
    plain = m.state_dict()
    return ([type(v).__name__ for v in sd.values()], [v.requires_grad for v in plain.values()],
            sd["0.weight"] is m[0].weight, plain["0.weight"].data_ptr() == m[0].weight.data_ptr())


def _forward_hook_replace(torch):
    m = fill(torch, torch.nn.Linear(2, 2))
    h = m.register_forward_hook(lambda mod, inp, out: out * 0 + 1)
    a = m(torch.ones(1, 2))
    h.remove()
    b = m(torch.ones(1, 2))
    return a, b


def _forward_hook_none_keeps(torch):
    m = fill(torch, torch.nn.Linear(2, 2))
    seen = []
    m.register_forward_hook(lambda mod, inp, out: seen.append((type(inp).__name__, len(inp), tuple(out.shape))))
    return m(torch.ones(3, 2)), seen


def _pre_hook_replace(torch):
    m = fill(torch, torch.nn.Linear(2, 1))
    m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))
    return m(torch.ones(1, 2))


def _pre_hook_single(torch):
    m = fill(torch, torch.nn.Linear(2, 1))
    m.register_forward_pre_hook(lambda mod, inp: inp[0] + 1)
    return m(torch.zeros(1, 2))


def _feature_extract_hooks(torch):
    net = fill(torch, torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)))
    feats = {}
    for name, mod in net.named_children():
        mod.register_forward_hook(lambda m, i, o, name=name: feats.__setitem__(name, o.detach()))
    net(_m(torch, 2, 3))
    return list(feats), feats["1"]


def _dtype_conversions(torch):
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    out = []
    m.half()
    out.append([t.dtype for t in m.state_dict().values()])
    m.float()
    out.append([t.dtype for t in m.state_dict().values()])
    m.double()
    out.append([t.dtype for t in m.state_dict().values()])
    m.to(torch.float32)
    out.append([t.dtype for t in m.state_dict().values()])
    m.to(dtype=torch.float64)
    out.append(m[0].weight.dtype)
    return out


def _to_int_dtype_raises(torch):
    return raised(lambda: torch.nn.Linear(2, 2).to(torch.int64))


def _double_forward(torch):
    m = fill(torch, torch.nn.Linear(3, 2)).double()
    x = _m(torch, 2, 3).double()
    return m(x), raised(lambda: m(_m(torch, 2, 3)))


def _to_returns_self(torch):
    m = torch.nn.Linear(2, 2)
    return m.to(torch.float64) is m, m.double() is m, m.cpu() is m, m.to("cpu") is m, m.float() is m


def _param_counts(torch):
    nn = torch.nn
    models = [nn.Conv2d(3, 16, 3), nn.Conv2d(3, 16, 3, bias=False, groups=1), nn.Conv2d(4, 8, 3, groups=2),
              nn.LSTM(10, 20, 2), nn.LSTM(10, 20, bidirectional=True), nn.GRU(5, 7), nn.RNN(3, 4, bias=False),
              nn.Embedding(100, 16), nn.BatchNorm2d(8), nn.LayerNorm([4, 5]), nn.GroupNorm(2, 8),
              nn.MultiheadAttention(16, 4), nn.TransformerEncoderLayer(16, 2, dim_feedforward=32),
              nn.ConvTranspose2d(4, 2, 3), nn.PReLU(), nn.LSTMCell(3, 5), nn.Bilinear(2, 3, 4)]
    return [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in models]


def _rnn_param_names(torch):
    nn = torch.nn
    return ([(n, tuple(p.shape)) for n, p in nn.LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()],
            [(n, tuple(p.shape)) for n, p in nn.GRU(3, 5, batch_first=True).named_parameters()])


def _mha_param_names(torch):
    return [(n, tuple(p.shape)) for n, p in torch.nn.MultiheadAttention(8, 2).named_parameters()]


def _get_submodule(torch):
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 3)), torch.nn.ReLU())
    return (type(net.get_submodule("0.0")).__name__, tuple(net.get_parameter("0.0.bias").shape),
            raised(lambda: net.get_submodule("0.1")))


def _named_params_options(torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.Linear(3, 1)))
    return ([n for n, _ in net.named_parameters(prefix="model")], [n for n, _ in net.named_parameters(recurse=False)],
            [n for n, _ in net[1].named_parameters()], [n for n, _ in net.named_modules()])


def _non_persistent(torch):
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("a", torch.ones(1))
            self.register_buffer("b", torch.zeros(1), persistent=False)
            self.register_buffer("c", None)
    m = M()
    return list(m.state_dict()), [n for n, _ in m.named_buffers()], m.c is None


def _apply_returns_self(torch):
    m = torch.nn.Linear(1, 1)
    return m.apply(lambda x: None) is m


def _module_setattr_param(torch):
    m = torch.nn.Module()
    m.w = torch.nn.Parameter(torch.ones(2))
    m.t = torch.ones(2)
    m.sub = torch.nn.Linear(1, 1)
    return [n for n, _ in m.named_parameters()], list(m.state_dict()), hasattr(m, "t")


def _assign_tensor_to_param_raises(torch):
    m = torch.nn.Linear(1, 1)

    def go():
        m.weight = torch.ones(1, 1)
    return raised(go)


def _del_param(torch):
    m = torch.nn.Linear(2, 2)
    del m.bias
    return list(m.state_dict()), hasattr(m, "bias")


_REPRS = {
    "conv2d_full": lambda nn: nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2, groups=1, bias=False),
    "conv2d_groups": lambda nn: nn.Conv2d(4, 8, (3, 1), stride=(2, 1), padding=(1, 0), groups=4),
    "conv2d_same": lambda nn: nn.Conv2d(3, 3, 3, padding="same"),
    "conv2d_reflect": lambda nn: nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"),
    "conv2d_default": lambda nn: nn.Conv2d(1, 1, 1),
    "conv1d": lambda nn: nn.Conv1d(16, 33, 3, stride=2),
    "conv_transpose2d": lambda nn: nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, output_padding=1),
    "batchnorm2d_momentum_none": lambda nn: nn.BatchNorm2d(8, momentum=None),
    "batchnorm1d_no_affine": lambda nn: nn.BatchNorm1d(4, affine=False, track_running_stats=False),
    "batchnorm2d_eps": lambda nn: nn.BatchNorm2d(3, eps=1e-3, momentum=0.01),
    "lstm_bidir_dropout": lambda nn: nn.LSTM(10, 20, num_layers=2, dropout=0.1, bidirectional=True),
    "lstm_plain": lambda nn: nn.LSTM(4, 8),
    "gru_batch_first": lambda nn: nn.GRU(4, 8, batch_first=True),
    "gru_no_bias": lambda nn: nn.GRU(4, 8, bias=False, num_layers=3),
    "rnn_relu": lambda nn: nn.RNN(3, 5, nonlinearity="relu"),
    "lstm_cell": lambda nn: nn.LSTMCell(3, 5),
    "gru_cell": lambda nn: nn.GRUCell(3, 5, bias=False),
    "embedding_pad_maxnorm": lambda nn: nn.Embedding(100, 8, padding_idx=3, max_norm=1.0),
    "embedding_neg_pad": lambda nn: nn.Embedding(10, 4, padding_idx=-1),
    "embedding_plain": lambda nn: nn.Embedding(5, 2),
    "dropout_inplace": lambda nn: nn.Dropout(p=0.2, inplace=True),
    "dropout_default": lambda nn: nn.Dropout(),
    "dropout2d": lambda nn: nn.Dropout2d(0.1),
    "linear_no_bias": lambda nn: nn.Linear(4, 2, bias=False),
    "layernorm_no_affine": lambda nn: nn.LayerNorm([3, 4], elementwise_affine=False),
    "layernorm_eps": lambda nn: nn.LayerNorm(8, eps=1e-6),
    "groupnorm": lambda nn: nn.GroupNorm(2, 8),
    "avgpool2d": lambda nn: nn.AvgPool2d(2, stride=1, padding=1),
    "maxpool2d_full": lambda nn: nn.MaxPool2d(3, stride=2, padding=1),
    "maxpool1d": lambda nn: nn.MaxPool1d(2),
    "adaptive_avg": lambda nn: nn.AdaptiveAvgPool2d((1, 1)),
    "adaptive_avg_int": lambda nn: nn.AdaptiveAvgPool2d(7),
    "flatten": lambda nn: nn.Flatten(),
    "unflatten": lambda nn: nn.Unflatten(1, (2, 3)),
    "softmax": lambda nn: nn.Softmax(dim=1),
    "log_softmax": lambda nn: nn.LogSoftmax(dim=-1),
    "relu_inplace": lambda nn: nn.ReLU(inplace=True),
    "elu": lambda nn: nn.ELU(alpha=0.5),
    "hardtanh": lambda nn: nn.Hardtanh(-2.0, 2.0),
    "prelu": lambda nn: nn.PReLU(3),
    "silu": lambda nn: nn.SiLU(),
    "tanh": lambda nn: nn.Tanh(),
    "sigmoid": lambda nn: nn.Sigmoid(),
    "identity": lambda nn: nn.Identity(),
    "upsample": lambda nn: nn.Upsample(scale_factor=2, mode="nearest"),
    "upsample_bilinear": lambda nn: nn.Upsample(size=(4, 4), mode="bilinear", align_corners=False),
    "pixel_shuffle": lambda nn: nn.PixelShuffle(2),
    "zero_pad": lambda nn: nn.ZeroPad2d(1),
    "cross_entropy_loss": lambda nn: nn.CrossEntropyLoss(),
    "mse_loss": lambda nn: nn.MSELoss(reduction="sum"),
    "softplus": lambda nn: nn.Softplus(beta=2),
    "embedding_bag": lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
    "multihead": lambda nn: nn.MultiheadAttention(8, 2),
    "bilinear": lambda nn: nn.Bilinear(2, 3, 4),
    "instance_norm": lambda nn: nn.InstanceNorm2d(3),
}

_reg("scripts3_repr", {name: (lambda f: lambda torch: repr(f(torch.nn)).splitlines())(f)
                         for name, f in _REPRS.items()})


def _custom_module_repr(torch):
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn = torch.nn.BatchNorm2d(8)
            self.act = torch.nn.ReLU(inplace=True)
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(1, 1)})
    return repr(Block()).splitlines()


def _parameter_list_repr(torch):
    pl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3)), torch.nn.Parameter(torch.ones(1))])
    return repr(pl).replace("descend.", "torch.").splitlines()


_reg("scripts3_module", {
    "train_false": _train_false,
    "train_bad_raises": _train_bad_raises,
    "requires_grad_module": _requires_grad_module,
    "zero_grad_false_then_none": _zero_grad_false,
    "named_children_buffers_order": _named_children,
    "state_dict_keep_vars": _state_dict_keep_vars,
    "forward_hook_replace": _forward_hook_replace,
    "forward_hook_none_keeps": _forward_hook_none_keeps,
    "pre_hook_replace_tuple": _pre_hook_replace,
    "pre_hook_replace_single": _pre_hook_single,
    "feature_extract_hooks": _feature_extract_hooks,
    "dtype_conversions": _dtype_conversions,
    "bfloat16_module": lambda torch: torch.nn.Linear(2, 2).bfloat16().weight.dtype,
    "to_int_dtype_raises": _to_int_dtype_raises,
    "double_forward": _double_forward,
    "to_returns_self": _to_returns_self,
    "param_counts": _param_counts,
    "rnn_param_names": _rnn_param_names,
    "mha_param_names": _mha_param_names,
    "get_submodule": _get_submodule,
    "named_params_options": _named_params_options,
    "non_persistent_buffers": _non_persistent,
    "apply_returns_self": _apply_returns_self,
    "module_setattr_param": _module_setattr_param,
    "assign_tensor_to_param_raises": _assign_tensor_to_param_raises,
    "del_param": _del_param,
    "custom_module_repr": _custom_module_repr,
    "parameter_list_repr": _parameter_list_repr,
    "cnn_forward_eval": lambda torch: (lambda m: m.eval()(_m(torch, 2, 1, 2, 2)))(_cnn(torch)),
    "bn_num_batches_after_train": lambda torch: (
        (lambda m: (m(_m(torch, 2, 1, 2, 2)), m(_m(torch, 2, 1, 2, 2, seed=1)), m.bn.num_batches_tracked)[2])(
            _cnn(torch).train())),
    "bn_momentum_none_cumulative": lambda torch: (
        (lambda bn: ([bn(_m(torch, 4, 2, seed=s)) for s in range(3)], bn.running_mean, bn.num_batches_tracked)[1:])(
            torch.nn.BatchNorm1d(2, momentum=None))),
})


# ================================================================ losses

def _leaf(torch, *shape, seed=0, low=-1.0, high=1.0):
    return torch.tensor(arr(*shape, seed=seed, low=low, high=high), requires_grad=True)


def _lg(loss_fn, x, *rest):
    loss = loss_fn(x, *rest)
    (loss.sum() if loss.dim() else loss).backward()
    return loss, x.grad


def _ce4d(torch, **kw):
    x = _leaf(torch, 2, 3, 2, 2)
    t = torch.tensor([[[0, 1], [2, -1]], [[1, 1], [-1, 0]]])
    return _lg(torch.nn.CrossEntropyLoss(**kw), x, t)


def _ce_all(torch, reduction):
    return _ce4d(torch, weight=torch.tensor([0.5, 2.0, 1.0]), ignore_index=-1, label_smoothing=0.15,
                 reduction=reduction)


def _nll_logsoftmax(torch, **kw):
    x = _leaf(torch, 5, 4)
    return _lg(lambda a, t: torch.nn.NLLLoss(**kw)(torch.log_softmax(a, dim=1), t), x,
               torch.tensor([0, 3, 1, 2, 3]))


def _bce_weighted(torch, **kw):
    p = _leaf(torch, 3, 2, low=0.1, high=0.9)
    return _lg(torch.nn.BCELoss(**kw), p, torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.0, 0.3]]))


def _bcel_pos_weight(torch, shape, pw, **kw):
    x = _leaf(torch, *shape)
    t = torch.tensor(arr(*shape, seed=5, low=0, high=1)).round()
    return _lg(torch.nn.BCEWithLogitsLoss(pos_weight=pw, **kw), x, t)


def _kl(torch, **kw):
    inp = torch.log_softmax(_leaf(torch, 3, 4), dim=1)
    tgt = torch.log_softmax(_m(torch, 3, 4, seed=2), dim=1)
    return torch.nn.KLDivLoss(**kw)(inp, tgt)


def _cos_emb(torch, **kw):
    a, b = _leaf(torch, 4, 5), _m(torch, 4, 5, seed=3)
    y = torch.tensor([1, -1, -1, 1])
    return _lg(torch.nn.CosineEmbeddingLoss(**kw), a, b, y)


def _triplet(torch, **kw):
    a, p, n = _leaf(torch, 4, 3), _m(torch, 4, 3, seed=1), _m(torch, 4, 3, seed=2)
    return _lg(torch.nn.TripletMarginLoss(**kw), a, p, n)


def _poisson(torch, **kw):
    rate = _leaf(torch, 5, low=0.2, high=3.0)
    return _lg(torch.nn.PoissonNLLLoss(**kw), rate, torch.tensor([0.0, 1.0, 2.0, 5.0, 3.0]))


def _gauss(torch, var_shape=(4, 2), **kw):
    mu = _leaf(torch, 4, 2)
    var = torch.tensor(arr(*var_shape, seed=4, low=0.1, high=2.0))
    return _lg(lambda m, t, v: torch.nn.GaussianNLLLoss(**kw)(m, t, v), mu, _m(torch, 4, 2, seed=9), var)


_reg("scripts3_loss", {
    "ce_4d_all_args_none": lambda torch: _ce_all(torch, "none"),
    "ce_4d_all_args_mean": lambda torch: _ce_all(torch, "mean"),
    "ce_4d_all_args_sum": lambda torch: _ce_all(torch, "sum"),
    "ce_4d_ignore_only": lambda torch: _ce4d(torch, ignore_index=-1),
    "ce_4d_smoothing_ignore_none": lambda torch: _ce4d(torch, ignore_index=-1, label_smoothing=0.3, reduction="none"),
    "ce_4d_weight_ignore_mean": lambda torch: _ce4d(torch, weight=torch.tensor([1.0, 0.0, 3.0]), ignore_index=-1),
    "ce_target_oob_raises": lambda torch: (
        raised(lambda: torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5])))),
    "ce_float_target_wrong_shape_raises": lambda torch: (
        raised(lambda: torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.zeros(2)))),
    "ce_bad_reduction_raises": lambda torch: (
        raised(lambda: torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), reduction="avg"))),
    "ce_weight_wrong_size_raises": lambda torch: (
        raised(lambda: torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]),
                                                         weight=torch.ones(2)))),
    "nll_log_softmax_weight": lambda torch: _nll_logsoftmax(torch, weight=torch.tensor([1.0, 2.0, 0.5, 1.0])),
    "nll_log_softmax_sum_ignore": lambda torch: _nll_logsoftmax(torch, reduction="sum", ignore_index=3),
    "nll_log_softmax_none": lambda torch: _nll_logsoftmax(torch, reduction="none"),
    "bce_weight_broadcast": lambda torch: _bce_weighted(torch, weight=torch.tensor([2.0, 0.5])),
    "bce_weight_full_sum": lambda torch: (
        _bce_weighted(torch, weight=torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.5, 3.0]]), reduction="sum")),
    "bce_shape_mismatch_raises": lambda torch: (
        raised(lambda: torch.nn.BCELoss()(torch.full((3,), 0.5), torch.zeros(3, 1)))),
    "bce_out_of_range_raises": lambda torch: (
        raised(lambda: torch.nn.BCELoss()(torch.tensor([1.5]), torch.tensor([1.0])))),
    "bce_extremes_grad": lambda torch: _lg(torch.nn.BCELoss(), torch.tensor([0.0, 1.0, 0.5], requires_grad=True),
                                           torch.tensor([0.0, 1.0, 1.0])),
    "bcel_pos_weight_channels": lambda torch: _bcel_pos_weight(torch, (4, 3), torch.tensor([1.0, 3.0, 0.5])),
    "bcel_pos_weight_4d": lambda torch: (
        _bcel_pos_weight(torch, (2, 3, 2, 2), torch.tensor([2.0, 1.0, 4.0]).view(3, 1, 1))),
    "bcel_pos_weight_none_sum": lambda torch: (
        _bcel_pos_weight(torch, (3, 2), torch.tensor([5.0, 0.2]), reduction="sum")),
    "bcel_pos_weight_scalar_tensor": lambda torch: _bcel_pos_weight(torch, (3, 2), torch.tensor(3.0)),
    "bcel_shape_mismatch_raises": lambda torch: (
        raised(lambda: torch.nn.BCEWithLogitsLoss()(torch.zeros(4, 1), torch.zeros(4)))),
    "smoothl1_beta_2": lambda torch: _lg(torch.nn.SmoothL1Loss(beta=2.0), _leaf(torch, 6) * 3, torch.zeros(6)),
    "smoothl1_beta_sum_2d": lambda torch: (
        _lg(torch.nn.SmoothL1Loss(beta=0.3, reduction="sum"), _leaf(torch, 3, 2), _m(torch, 3, 2, seed=1))),
    "smoothl1_negative_beta_raises": lambda torch: (
        raised(lambda: torch.nn.SmoothL1Loss(beta=-1.0)(torch.ones(2), torch.zeros(2)))),
    "huber_delta_2": lambda torch: _lg(torch.nn.HuberLoss(delta=2.0), _leaf(torch, 6) * 4, torch.zeros(6)),
    "huber_vs_smoothl1": lambda torch: (
        (lambda x, t: (torch.nn.HuberLoss(delta=0.5)(x, t), torch.nn.SmoothL1Loss(beta=0.5)(x, t) * 0.5))(
            _m(torch, 8) * 2, torch.zeros(8))),
    "kl_batchmean_log_target": lambda torch: _kl(torch, reduction="batchmean", log_target=True),
    "kl_mean_log_target": lambda torch: _kl(torch, reduction="mean", log_target=True),
    "kl_none_log_target": lambda torch: _kl(torch, reduction="none", log_target=True),
    "kl_batchmean_prob_target_grad": lambda torch: (
        _lg(lambda x, t: torch.nn.KLDivLoss(reduction="batchmean")(torch.log_softmax(x, 1), t),
            _leaf(torch, 3, 4), torch.softmax(_m(torch, 3, 4, seed=2), 1))),
    "cosine_embedding_margin": lambda torch: _cos_emb(torch, margin=0.2),
    "cosine_embedding_sum": lambda torch: _cos_emb(torch, margin=-0.1, reduction="sum"),
    "cosine_embedding_1d": lambda torch: (
        torch.nn.CosineEmbeddingLoss()(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), torch.tensor(1))),
    "margin_ranking_margin": lambda torch: (
        _lg(torch.nn.MarginRankingLoss(margin=0.5), _leaf(torch, 5), _m(torch, 5, seed=1),
            torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0]))),
    "margin_ranking_none": lambda torch: (
        _lg(torch.nn.MarginRankingLoss(reduction="none"), _leaf(torch, 4), _m(torch, 4, seed=1),
            torch.tensor([1.0, 1.0, -1.0, -1.0]))),
    "triplet_swap": lambda torch: _triplet(torch, margin=1.0, swap=True),
    "triplet_p1_swap_none": lambda torch: _triplet(torch, p=1, swap=True, reduction="none"),
    "triplet_eps_margin": lambda torch: _triplet(torch, margin=0.3, eps=1e-3),
    "triplet_with_distance": lambda torch: (
        _lg(torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: 1 - torch.nn.functional.cosine_similarity(a, b),
                                                   margin=0.5), _leaf(torch, 4, 3), _m(torch, 4, 3, seed=1),
            _m(torch, 4, 3, seed=2))),
    "poisson_no_log_input": lambda torch: _poisson(torch, log_input=False),
    "poisson_no_log_full": lambda torch: _poisson(torch, log_input=False, full=True),
    "poisson_log_full_none": lambda torch: _poisson(torch, full=True, reduction="none"),
    "gaussian_full": lambda torch: _gauss(torch, full=True),
    "gaussian_var_broadcast": lambda torch: _gauss(torch, var_shape=(4, 1)),
    "gaussian_eps_sum": lambda torch: _gauss(torch, eps=0.5, reduction="sum"),
    "gaussian_negative_var_raises": lambda torch: (
        raised(lambda: torch.nn.GaussianNLLLoss()(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, -1.0])))),
    "multilabel_soft_margin_weight": lambda torch: (
        _lg(torch.nn.MultiLabelSoftMarginLoss(weight=torch.tensor([1.0, 2.0, 0.5])), _leaf(torch, 2, 3),
            torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))),
    "multilabel_margin": lambda torch: (
        _lg(torch.nn.MultiLabelMarginLoss(), _leaf(torch, 2, 4), torch.tensor([[3, 0, -1, 1], [1, 2, 3, -1]]))),
    "multi_margin_p2_weight": lambda torch: (
        _lg(torch.nn.MultiMarginLoss(p=2, margin=0.5, weight=torch.tensor([1.0, 2.0, 0.5])), _leaf(torch, 4, 3),
            torch.tensor([0, 2, 1, 1]))),
    "hinge_embedding_margin_none": lambda torch: (
        _lg(torch.nn.HingeEmbeddingLoss(margin=0.5, reduction="none"), _leaf(torch, 4),
            torch.tensor([1.0, -1.0, -1.0, 1.0]))),
    "l1_mean_3d": lambda torch: _lg(torch.nn.L1Loss(), _leaf(torch, 2, 3, 2), _m(torch, 2, 3, 2, seed=1)),
    "mse_bad_reduction_raises": lambda torch: (
        raised(lambda: torch.nn.MSELoss(reduction="elementwise_mean")(torch.ones(2), torch.zeros(2)))),
})

"""Probes: torch.utils.data — datasets, DataLoader, samplers, collation, random_split."""

import numpy as np

from tests.probes.harness import probe, probes


def _ud(torch):
    return torch.utils.data


def _tds(torch, n=6):
    x = torch.arange(n * 2, dtype=torch.float32).view(n, 2)
    y = torch.arange(n) % 3
    return _ud(torch).TensorDataset(x, y)


def _batches(loader):
    return [b for b in loader]


def _lists(loader):
    return [[t.tolist() for t in b] for b in loader]


def _squares(torch):
    class Squares(_ud(torch).Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return torch.tensor([float(i)]), i * i
    return Squares(5)


def _dicts(torch):
    class Dicts(_ud(torch).Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float32), "label": i % 2, "name": f"item{i}",
                    "w": 0.5 * i}
    return Dicts()


probes("data", {
    "tensordataset_item": lambda torch: _tds(torch)[1],
    "tensordataset_item_type": lambda torch: type(_tds(torch)[1]).__name__,
    "tensordataset_len": lambda torch: len(_tds(torch)),
    "tensordataset_tensors": lambda torch: _tds(torch).tensors[1],
    "tensordataset_single": lambda torch: _ud(torch).TensorDataset(torch.arange(3))[2],
    "tensordataset_slice": lambda torch: _tds(torch)[1:3],
    "loader_batches_are_lists": lambda torch: (
        _batches(_ud(torch).DataLoader(_tds(torch), batch_size=4))),
    "loader_batch_type": lambda torch: (
        type(next(iter(_ud(torch).DataLoader(_tds(torch), batch_size=4)))).__name__),
    "loader_len": lambda torch: (
        (len(_ud(torch).DataLoader(_tds(torch), batch_size=4)),
         len(_ud(torch).DataLoader(_tds(torch), batch_size=4, drop_last=True)))),
    "loader_drop_last": lambda torch: (
        _batches(_ud(torch).DataLoader(_tds(torch), batch_size=4, drop_last=True))),
    "loader_default_batch_1": lambda torch: next(iter(_ud(torch).DataLoader(_tds(torch)))),
    "loader_batch_none": lambda torch: (
        next(iter(_ud(torch).DataLoader(_tds(torch), batch_size=None)))),
    "loader_shuffle_permutation": lambda torch: (
        sorted(torch.cat([y for _, y in _ud(torch).DataLoader(_tds(torch, 9), batch_size=4,
                                                              shuffle=True)]).tolist())),
    "loader_shuffle_generator_repro": lambda torch: _repro(torch),
    "loader_custom_dataset": lambda torch: (
        _batches(_ud(torch).DataLoader(_squares(torch), batch_size=2))),
    "loader_dataset_attr": lambda torch: (
        len(_ud(torch).DataLoader(_squares(torch), batch_size=2).dataset)),
    "loader_batch_size_attr": lambda torch: (
        _ud(torch).DataLoader(_squares(torch), batch_size=2).batch_size),
    "loader_dicts": lambda torch: _batches(_ud(torch).DataLoader(_dicts(torch), batch_size=3)),
    "loader_numpy_items": lambda torch: (
        _batches(_ud(torch).DataLoader([np.ones(2) * i for i in range(3)], batch_size=2))),
    "loader_list_dataset_ints": lambda torch: (
        _batches(_ud(torch).DataLoader([1, 2, 3, 4, 5], batch_size=2))),
    "loader_tuple_items": lambda torch: (
        _batches(_ud(torch).DataLoader([(1, 2.0), (3, 4.0)], batch_size=2))),
    "loader_collate_fn": lambda torch: (
        _batches(_ud(torch).DataLoader([1, 2, 3], batch_size=2, collate_fn=lambda b: sum(b)))),
    "loader_collate_fn_identity_list": lambda torch: (
        _batches(_ud(torch).DataLoader(["a", "b", "c"], batch_size=2, collate_fn=list))),
    "loader_sampler": lambda torch: (
        _batches(_ud(torch).DataLoader(_squares(torch), batch_size=2,
                                       sampler=_ud(torch).SequentialSampler(range(3))))),
    "loader_sampler_list": lambda torch: (
        _batches(_ud(torch).DataLoader(_squares(torch), batch_size=2, sampler=[4, 0, 2]))),
    "loader_batch_sampler": lambda torch: (
        _batches(_ud(torch).DataLoader(_squares(torch), batch_sampler=[[0, 1], [4]]))),
    "loader_pin_memory_flags": lambda torch: (
        _batches(_ud(torch).DataLoader(_tds(torch, 2), batch_size=2, pin_memory=False,
                                       persistent_workers=False))),
    "loader_twice": lambda torch: (
        (lambda dl: (_lists(dl) == _lists(dl), len(_batches(dl))))(
            _ud(torch).DataLoader(_squares(torch), batch_size=3))),
    "loader_string_items": lambda torch: (
        _batches(_ud(torch).DataLoader(["ab", "cd", "ef"], batch_size=2))),
    "loader_enumerate_idiom": lambda torch: (
        [(i, len(d)) for i, (d, t) in enumerate(_ud(torch).DataLoader(_tds(torch, 5), batch_size=2))]),
    "loader_len_dataset_sampler": lambda torch: (
        len(_ud(torch).DataLoader(_tds(torch), batch_size=4).sampler)),
    "default_collate_tensors": lambda torch: (
        _ud(torch).default_collate([torch.ones(2), torch.zeros(2)])),
    "default_collate_numbers": lambda torch: _ud(torch).default_collate([1, 2, 3]),
    "default_collate_floats": lambda torch: _ud(torch).default_collate([1.5, 2.5]),
    "default_collate_bools": lambda torch: _ud(torch).default_collate([True, False]),
    "default_collate_numpy": lambda torch: (
        _ud(torch).default_collate([np.zeros(2, dtype=np.int32), np.ones(2, dtype=np.int32)])),
    "default_collate_numpy_scalars": lambda torch: (
        _ud(torch).default_collate([np.float64(1.0), np.float64(2.0)])),
    "default_collate_dicts": lambda torch: (
        _ud(torch).default_collate([{"a": 1, "b": torch.ones(1)}, {"a": 2, "b": torch.zeros(1)}])),
    "default_collate_nested": lambda torch: (
        _ud(torch).default_collate([(1, (2.0, torch.ones(1))), (3, (4.0, torch.zeros(1)))])),
    "default_collate_strings": lambda torch: _ud(torch).default_collate(["a", "b"]),
    "default_collate_path": lambda torch: _ud(torch).dataloader.default_collate([1, 2]),
    "subset": lambda torch: (
        (lambda s: (len(s), s[1], s.indices))(_ud(torch).Subset(_squares(torch), [4, 2]))),
    "concat_dataset": lambda torch: (
        (lambda c: (len(c), c[5], c[0]))(_ud(torch).ConcatDataset([_squares(torch), _tds(torch, 2)]))),
    "dataset_add": lambda torch: len(_squares(torch) + _squares(torch)),
    "iterable_dataset": lambda torch: (
        _batches(_ud(torch).DataLoader(_Count(torch)(5), batch_size=2))),
    "iterable_dataset_isinstance": lambda torch: (
        isinstance(_Count(torch)(1), _ud(torch).IterableDataset)),
    "get_worker_info_main": lambda torch: _ud(torch).get_worker_info() is None,
    "sequential_sampler": lambda torch: list(_ud(torch).SequentialSampler(range(4))),
    "random_sampler_perm": lambda torch: sorted(_ud(torch).RandomSampler(range(6))),
    "random_sampler_len": lambda torch: len(_ud(torch).RandomSampler(range(6))),
    "random_sampler_replacement": lambda torch: (
        (lambda s: (len(s), len(list(s)), all(0 <= i < 3 for i in s)))(
            _ud(torch).RandomSampler(range(3), replacement=True, num_samples=10))),
    "random_sampler_generator": lambda torch: (
        _sampler_repro(torch, lambda g: _ud(torch).RandomSampler(range(8), generator=g))),
    "random_sampler_item_type": lambda torch: (
        type(next(iter(_ud(torch).RandomSampler(range(3))))).__name__),
    "subset_random_sampler": lambda torch: (
        (lambda s: (sorted(s), len(s)))(_ud(torch).SubsetRandomSampler([5, 1, 3]))),
    "weighted_random_sampler": lambda torch: (
        set(_ud(torch).WeightedRandomSampler([0.0, 1.0, 0.0, 1.0], num_samples=20))),
    "weighted_no_replacement": lambda torch: (
        sorted(_ud(torch).WeightedRandomSampler([0.1, 0.5, 0.4], 3, replacement=False))),
    "weighted_len": lambda torch: (
        len(_ud(torch).WeightedRandomSampler(torch.tensor([0.5, 0.5]), 7))),
    "batch_sampler": lambda torch: (
        list(_ud(torch).BatchSampler(_ud(torch).SequentialSampler(range(7)), batch_size=3,
                                     drop_last=False))),
    "batch_sampler_drop_last": lambda torch: (
        (lambda b: (list(b), len(b)))(_ud(torch).BatchSampler(range(7), 3, True))),
    "infinite_sampler_idiom": lambda torch: _infinite_loader(torch),
    "random_split_lengths": lambda torch: (
        [len(s) for s in _ud(torch).random_split(range(10), [7, 3])]),
    "random_split_fractions": lambda torch: (
        [len(s) for s in _ud(torch).random_split(range(10), [0.8, 0.2])]),
    "random_split_fractions_rounding": lambda torch: (
        [len(s) for s in _ud(torch).random_split(range(11), [0.5, 0.25, 0.25])]),
    "random_split_partition": lambda torch: (
        sorted(i for s in _ud(torch).random_split(range(6), [3, 3]) for i in s)),
    "random_split_type": lambda torch: type(_ud(torch).random_split(range(4), [2, 2])[0]).__name__,
    "random_split_generator": lambda torch: (lambda a, b: [list(s) for s in a] == [list(s) for s in b])(
        _ud(torch).random_split(range(8), [4, 4], generator=torch.Generator().manual_seed(42)),
        _ud(torch).random_split(range(8), [4, 4], generator=torch.Generator().manual_seed(42))),
})


def _Count(torch):
    class Count(_ud(torch).IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))
    return Count


def _infinite_loader(torch):
    # makemore: a loader that never ends, sampling with replacement
    ds = _tds(torch)
    sampler = _ud(torch).RandomSampler(ds, replacement=True, num_samples=int(1e10))
    it = iter(_ud(torch).DataLoader(ds, batch_size=4, sampler=sampler))
    return [len(next(it)[0]) for _ in range(4)]


def _repro(torch):
    def order(seed):
        g = torch.Generator().manual_seed(seed)
        dl = _ud(torch).DataLoader(_tds(torch, 8), batch_size=3, shuffle=True, generator=g)
        return [y.tolist() for _, y in dl]
    return order(0) == order(0), sorted(sum(order(1), []))


def _sampler_repro(torch, make):
    a = list(make(torch.Generator().manual_seed(5)))
    b = list(make(torch.Generator().manual_seed(5)))
    return a == b, sorted(a)


@probe("data")
def workers_same_batches(torch):
    ds = _tds(torch, 7)
    serial = [b for b in _ud(torch).DataLoader(ds, batch_size=2)]
    parallel = [b for b in _ud(torch).DataLoader(ds, batch_size=2, num_workers=2)]
    return parallel, all(torch.equal(a[0], b[0]) for a, b in zip(serial, parallel))


@probe("data")
def workers_shuffle_same_order(torch):
    def order(workers):
        g = torch.Generator().manual_seed(3)
        dl = _ud(torch).DataLoader(_squares(torch), batch_size=2, shuffle=True, generator=g,
                                   num_workers=workers)
        return [b[1].tolist() for b in dl]
    return order(0) == order(2)


@probe("data")
def workers_init_fn_and_info(torch):
    ds = _Count(torch)(4)
    dl = _ud(torch).DataLoader(ds, batch_size=None, num_workers=1, worker_init_fn=lambda wid: None,
                               persistent_workers=True)
    return sorted(int(x) for x in dl), len(list(dl))


@probe("data")
def training_loop_over_loader(torch):
    torch.manual_seed(0)
    ds = _tds(torch, 8)
    model = torch.nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.1, 0.2], [0.0, -0.1], [0.3, 0.1]]))
        model.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    total = 0.0
    for batch_idx, (data, target) in enumerate(_ud(torch).DataLoader(ds, batch_size=4)):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(data), target)
        loss.backward()
        opt.step()
        total += loss.item() * len(data)
    return batch_idx, total / len(ds), model.weight

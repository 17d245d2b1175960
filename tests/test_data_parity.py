"""descend.utils.data against torch.utils.data: samplers, collation, datasets, DataLoader options and workers.

Deterministic parts (sequential order, batching, collation, dataset indexing, worker sharding of iterable
datasets) must equal PyTorch's output exactly. Random samplers draw from NumPy generators, not torch's, so the
same seed gives a different order: for them the test checks the distribution (each is compared with the
exact expected probabilities, and PyTorch's sampler is held to the same bounds). Worker processes must give
exactly the batches of num_workers=0.
"""

import collections
import json
import os
import re
import time

import numpy as np
import pytest

import descend
import descend.utils.data as dud
from descend._tensor import Tensor

torch = pytest.importorskip("torch")
tud = torch.utils.data

Point = collections.namedtuple("Point", "x label")


# --- comparing structures -------------------------------------------------------------------------------

def assert_same(ours, theirs, where="batch"):
    """Same structure (container types), same tensor values, shapes and dtypes, same plain values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, Tensor), f"{where}: expected a Tensor, got {type(ours).__name__}"
        a, b = np.asarray(ours), theirs.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where)
        return
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} vs {type(theirs).__name__}"
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (o, t) in enumerate(zip(ours, theirs)):
            assert_same(o, t, f"{where}[{i}]")
    else:
        assert ours == theirs, where


def to_torch(sample):
    """The same sample with descend Tensors replaced by torch tensors (for the reference run)."""
    if isinstance(sample, Tensor):
        return torch.from_numpy(np.array(sample))
    if isinstance(sample, dict):
        return type(sample)((k, to_torch(v)) for k, v in sample.items())
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(to_torch(v) for v in sample))
    if isinstance(sample, (list, tuple)):
        return type(sample)(to_torch(v) for v in sample)
    return sample


# --- import path ------------------------------------------------------------------------------------------

def test_utils_data_is_the_same_objects_as_descend_data():
    import descend.utils
    from descend.utils.data import DataLoader
    assert DataLoader is descend.data.DataLoader and descend.utils.data is dud
    for name in ("Dataset", "TensorDataset", "Subset", "random_split", "default_collate", "get_worker_info",
                 "RandomSampler", "BatchSampler", "IterableDataset", "ConcatDataset"):
        assert getattr(dud, name) is getattr(descend.data, name)
        assert hasattr(tud, name)  # and the name is PyTorch's
    from descend.utils.data.distributed import DistributedSampler
    assert dud.DistributedSampler is DistributedSampler and hasattr(tud, "DistributedSampler")
    sampler = DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    ref = tud.DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    assert [b.tolist() for b in dud.DataLoader(range(10), batch_size=2, sampler=sampler)] == \
        [b.tolist() for b in tud.DataLoader(range(10), batch_size=2, sampler=ref)]


# --- deterministic samplers -------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler(n):
    assert list(dud.SequentialSampler(range(n))) == list(tud.SequentialSampler(range(n)))
    assert len(dud.SequentialSampler(range(n))) == n


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                              (2, 5, True), (0, 2, False)])
def test_batch_sampler(n, bs, drop_last):
    ours = dud.BatchSampler(dud.SequentialSampler(range(n)), bs, drop_last)
    ref = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(ref) and len(ours) == len(ref)
    # Any iterable of indices works as the inner sampler.
    assert list(dud.BatchSampler([5, 3, 1, 0], 3, drop_last)) == list(tud.BatchSampler([5, 3, 1, 0], 3, drop_last))


@pytest.mark.parametrize("make", [
    lambda m: m.BatchSampler(range(3), 0, False), lambda m: m.BatchSampler(range(3), 2, 1),
    lambda m: m.RandomSampler(range(3), num_samples=0), lambda m: m.RandomSampler(range(3), replacement=1),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], 0), lambda m: m.WeightedRandomSampler([[1.0], [2.0]], 2),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement=1),
])
def test_sampler_argument_errors_are_pytorchs(make):
    with pytest.raises((ValueError, TypeError)) as ref:
        make(tud)
    with pytest.raises(ref.type, match="^" + re.escape(str(ref.value)) + "$"):
        make(dud)


# --- random samplers: the distribution (the RNG streams differ from torch's) -----------------------------

def position_frequencies(orders, n):
    freq = np.zeros((n, n))
    for order in orders:
        freq[np.arange(n), order] += 1
    return freq / len(orders)


def test_random_sampler_is_a_uniform_permutation():
    n, epochs = 5, 2000
    ours = dud.RandomSampler(range(n), generator=np.random.default_rng(0))
    ref = tud.RandomSampler(range(n), generator=torch.Generator().manual_seed(0))
    for sampler in (ours, ref):
        orders = [list(sampler) for _ in range(epochs)]
        assert all(sorted(o) == list(range(n)) for o in orders)
        # Each index at each position with probability 1/5; 4.5 sigma of a binomial proportion.
        tol = 4.5 * np.sqrt(0.2 * 0.8 / epochs)
        assert np.abs(position_frequencies(orders, n) - 0.2).max() < tol
        assert len({tuple(o) for o in orders}) > 100  # new permutations each pass


def test_random_sampler_num_samples_and_replacement():
    for m, g in ((dud, np.random.default_rng(1)), (tud, torch.Generator().manual_seed(1))):
        longer = list(m.RandomSampler(range(4), num_samples=10, generator=g))
        assert len(longer) == 10
        # Without replacement: whole permutations, then a cut one.
        assert sorted(longer[:4]) == sorted(longer[4:8]) == [0, 1, 2, 3] and len(set(longer[8:])) == 2
        drawn = list(m.RandomSampler(range(4), replacement=True, num_samples=20000, generator=g))
        counts = np.bincount(drawn, minlength=4) / 20000
        assert np.abs(counts - 0.25).max() < 4.5 * np.sqrt(0.25 * 0.75 / 20000)
        assert len(m.RandomSampler(range(4), replacement=True, num_samples=7)) == 7


def test_weighted_random_sampler_frequencies():
    w = [1.0, 2.0, 3.0, 4.0, 0.0]
    p = np.array(w) / sum(w)
    k = 20000
    for m, g in ((dud, np.random.default_rng(2)), (tud, torch.Generator().manual_seed(2))):
        drawn = list(m.WeightedRandomSampler(w, k, generator=g))
        freq = np.bincount(drawn, minlength=5) / k
        assert np.abs(freq - p).max() < 4.5 * np.sqrt(0.25 / k) and freq[4] == 0
        once = list(m.WeightedRandomSampler(w, 4, replacement=False, generator=g))
        assert sorted(once) == [0, 1, 2, 3]  # without replacement: distinct, never the zero weight
        all5 = list(m.WeightedRandomSampler(w, 5, replacement=False, generator=g))
        assert sorted(all5) == [0, 1, 2, 3, 4] and all5[-1] == 4  # the zero weight comes last
        with pytest.raises(RuntimeError):
            list(m.WeightedRandomSampler(w, 6, replacement=False))
        with pytest.raises(RuntimeError):
            list(m.WeightedRandomSampler([1.0, -2.0], 1))


def test_subset_random_sampler():
    indices = [10, 3, 7, 22]
    for m, g in ((dud, np.random.default_rng(3)), (tud, torch.Generator().manual_seed(3))):
        orders = [list(m.SubsetRandomSampler(indices, generator=g)) for _ in range(50)]
        assert all(sorted(o) == sorted(indices) for o in orders) and len({tuple(o) for o in orders}) > 5
        assert len(m.SubsetRandomSampler(indices)) == 4


def test_random_sampler_generator_none_uses_global_seed():
    descend.manual_seed(5)
    a = list(dud.RandomSampler(range(20)))
    descend.manual_seed(5)
    assert list(dud.RandomSampler(range(20))) == a


# --- default_collate and default_convert ------------------------------------------------------------------

def collate_cases():
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(3).astype(np.float32) for _ in range(2)]
    return {
        "tuple of array, int, float, bool, str": [(x[0], 1, 0.5, True, "a"), (x[1], 2, 1.5, False, "b")],
        "dict": [{"x": x[0], "y": 1}, {"x": x[1], "y": 0}],
        "ordered dict": [collections.OrderedDict(b=1, a=x[0]), collections.OrderedDict(b=2, a=x[1])],
        "nested": [{"a": (1, [2, 3]), "s": "p"}, {"a": (4, [5, 6]), "s": "q"}],
        "namedtuple": [Point(x[0], 1), Point(x[1], 2)],
        "list": [[1, 2.5], [3, 4.5]],
        "tensors": [descend.tensor([[1, 2]]), descend.tensor([[3, 4]])],
        "float64 tensors": [descend.tensor([1.5], dtype="float64"), descend.tensor([2.5], dtype="float64")],
        "numpy scalars": [np.float32(1), np.float32(2)],
        "numpy int32 scalars": [np.int32(1), np.int32(3)],
        "0-d arrays": [np.array(1.0), np.array(2.0)],
        "uint8 arrays": [np.array([1, 2], np.uint8), np.array([3, 4], np.uint8)],
        "bools": [True, False],
        "ints": [1, 2, 3],
        "floats": [0.1, 0.2],
        "bytes": [b"a", b"b"],
        "range": [range(2), range(2)],
        "tensor pairs": [(descend.tensor([1.0]), descend.tensor(0)), (descend.tensor([2.0]), descend.tensor(1))],
    }


@pytest.mark.parametrize("name", list(collate_cases()))
def test_default_collate_matches_torch(name):
    samples = collate_cases()[name]
    assert_same(dud.default_collate(samples), tud.default_collate([to_torch(s) for s in samples]), name)


@pytest.mark.parametrize("name", list(collate_cases()))
def test_default_convert_matches_torch(name):
    sample = collate_cases()[name][0]
    assert_same(dud.default_convert(sample), tud.default_convert(to_torch(sample)), name)


@pytest.mark.parametrize("samples, error", [
    ([object(), object()], TypeError),
    ([np.array(["a"]), np.array(["b"])], TypeError),
    ([[1, 2], [1]], RuntimeError),
    ([np.ones(2), np.ones(3)], RuntimeError),
])
def test_default_collate_errors_match_torch(samples, error):
    with pytest.raises(error):
        tud.default_collate(samples)
    with pytest.raises(error):
        dud.default_collate(samples)


# --- datasets ---------------------------------------------------------------------------------------------

def test_tensor_dataset_items_are_tuples_of_tensors():
    x, y = np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6)
    ours, ref = dud.TensorDataset(x, y), tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert len(ours) == len(ref)
    for i in (0, 5, -1):
        assert_same(ours[i], ref[i], f"ds[{i}]")
    assert_same(ours[[1, 3]], ref[[1, 3]], "ds[[1, 3]]")
    assert_same(ours.tensors, ref.tensors, "tensors")


def test_subset_concat_and_add_index_like_torch():
    a, b = list(range(5)), list(range(100, 103))
    ours = dud.ConcatDataset([dud.Subset(a, [4, 0, 2]), b])
    ref = tud.ConcatDataset([tud.Subset(a, [4, 0, 2]), b])
    assert len(ours) == len(ref) and ours.cumulative_sizes == ref.cumulative_sizes
    assert [ours[i] for i in range(-6, 6)] == [ref[i] for i in range(-6, 6)]
    with pytest.raises(ValueError):
        ours[-7]
    with pytest.raises(ValueError):
        dud.ConcatDataset([])

    class Squares(dud.Dataset):
        def __getitem__(self, i):
            return i * i

        def __len__(self):
            return 3

    both = Squares() + Squares()
    assert isinstance(both, dud.ConcatDataset) and [both[i] for i in range(6)] == [0, 1, 4, 0, 1, 4]


def test_stack_and_chain_datasets_like_torch():
    a, b = list(range(4)), [f"s{i}" for i in range(4)]
    for args, kwargs in (((a, b), {}), ((), {"x": a, "name": b})):
        ours, ref = dud.StackDataset(*args, **kwargs), tud.StackDataset(*args, **kwargs)
        assert len(ours) == len(ref) and [ours[i] for i in range(4)] == [ref[i] for i in range(4)]
        assert_same(list(dud.DataLoader(ours, batch_size=3)), list(tud.DataLoader(ref, batch_size=3)))
    for bad in (lambda m: m.StackDataset(a, [1]), lambda m: m.StackDataset(a, x=b)):
        with pytest.raises(ValueError):
            bad(tud)
        with pytest.raises(ValueError):
            bad(dud)
    assert list(dud.ChainDataset([Stream(3), Stream(2)])) == list(tud.ChainDataset([TorchStream(3), TorchStream(2)]))
    assert list(Stream(2) + Stream(1)) == [0, 1, 0]


def test_random_split_with_a_generator_object():
    ds = list(range(10))
    first = dud.random_split(ds, [0.3, 0.7], generator=np.random.default_rng(4))
    again = dud.random_split(ds, [0.3, 0.7], generator=np.random.default_rng(4))
    ref = tud.random_split(ds, [0.3, 0.7], generator=torch.Generator().manual_seed(4))
    assert [len(s) for s in first] == [len(s) for s in ref] == [3, 7]
    assert [list(s) for s in first] == [list(s) for s in again]
    assert sorted(first[0].indices.tolist() + first[1].indices.tolist()) == ds
    with pytest.raises(ValueError):
        dud.random_split(ds, [0.5, 0.6])


# --- DataLoader: options as PyTorch's -----------------------------------------------------------------------

class DictDataset(dud.Dataset):
    """Samples as dicts of an array, an int and a string (PyTorch's map-style idiom)."""

    def __init__(self, n=11):
        self.x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "label": i % 3, "name": f"s{i}"}


@pytest.mark.parametrize("kwargs", [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
                                    dict(batch_size=3, collate_fn=lambda b: [s["label"] for s in b])])
def test_loader_batches_equal_torchs(kwargs):
    ds = DictDataset()
    ours, ref = dud.DataLoader(ds, **kwargs), tud.DataLoader(ds, **kwargs)
    assert len(ours) == len(ref)
    assert_same(list(ours), list(ref), str(kwargs))


def test_loader_with_sampler_and_batch_sampler():
    ds = DictDataset()
    order = [9, 2, 2, 7, 0]
    assert_same(list(dud.DataLoader(ds, batch_size=2, sampler=order)),
                list(tud.DataLoader(ds, batch_size=2, sampler=order)))
    groups = [[3, 1], [0], [10, 9, 8]]
    ours, ref = dud.DataLoader(ds, batch_sampler=groups), tud.DataLoader(ds, batch_sampler=groups)
    assert len(ours) == len(ref) == 3
    assert_same(list(ours), list(ref))


def test_tensor_dataset_batches_are_lists_like_torch():
    x, y = np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5)
    ours = list(dud.DataLoader(dud.TensorDataset(x, y), batch_size=2))
    ref = list(tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=2))
    assert_same(ours, ref)


@pytest.mark.parametrize("kwargs", [
    dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]],
                                                                                        drop_last=True),
    dict(batch_size=None, drop_last=True), dict(num_workers=-1), dict(prefetch_factor=2),
    dict(persistent_workers=True), dict(timeout=-1),
])
def test_loader_argument_errors_match_torch(kwargs):
    ds = DictDataset()
    with pytest.raises(ValueError):
        tud.DataLoader(ds, **kwargs)
    with pytest.raises(ValueError):
        dud.DataLoader(ds, **kwargs)


class Stream(dud.IterableDataset):
    """range(n), each worker reading its share via get_worker_info (PyTorch's documented idiom)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = dud.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tud.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("num_workers, batch_size, drop_last", [(0, 3, False), (0, 3, True), (0, None, False),
                                                                (2, 2, False), (3, 2, False), (2, 3, True)])
def test_iterable_dataset_batches_and_worker_shards_match_torch(num_workers, batch_size, drop_last):
    ours = dud.DataLoader(Stream(11), batch_size=batch_size, drop_last=drop_last, num_workers=num_workers)
    ref = tud.DataLoader(TorchStream(11), batch_size=batch_size, drop_last=drop_last, num_workers=num_workers)
    assert_same(list(ours), list(ref))
    with pytest.raises(ValueError):
        dud.DataLoader(Stream(3), shuffle=True)


# --- worker processes ---------------------------------------------------------------------------------------

def as_lists(loader):
    return [json.dumps(to_plain(b)) for b in loader]


def to_plain(batch):
    if isinstance(batch, Tensor):
        return [str(np.asarray(batch).dtype), np.asarray(batch).tolist()]
    if isinstance(batch, dict):
        return {k: to_plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [to_plain(v) for v in batch]
    return batch


def test_workers_give_the_batches_of_num_workers_0():
    x = np.random.default_rng(0).standard_normal((37, 3)).astype(np.float32)
    for ds in (dud.TensorDataset(x, np.arange(37)), DictDataset(37)):
        for kwargs in (dict(batch_size=5, shuffle=True), dict(batch_size=4, drop_last=True),
                       dict(batch_size=None)):
            want = as_lists(dud.DataLoader(ds, generator=11, **kwargs))
            assert as_lists(dud.DataLoader(ds, generator=11, num_workers=2, **kwargs)) == want, kwargs
    # Two epochs of persistent workers, as two epochs without workers.
    plain = dud.DataLoader(DictDataset(23), batch_size=4, shuffle=True, generator=3)
    persistent = dud.DataLoader(DictDataset(23), batch_size=4, shuffle=True, generator=3, num_workers=2,
                                persistent_workers=True, prefetch_factor=1)
    assert [as_lists(plain), as_lists(plain)] == [as_lists(persistent), as_lists(persistent)]
    persistent._pool.shutdown()


def test_worker_mid_epoch_state_resumes_exactly():
    ds = DictDataset(30)
    ref = dud.DataLoader(ds, batch_size=4, shuffle=True, generator=8)
    want = as_lists(ref) + as_lists(ref)
    loader = dud.DataLoader(ds, batch_size=4, shuffle=True, generator=8, num_workers=2)
    as_lists(loader)
    it = iter(loader)
    for _ in range(3):
        next(it)
    state = json.loads(json.dumps(loader.state_dict()))
    del it
    fresh = dud.DataLoader(ds, batch_size=4, shuffle=True, generator=0, num_workers=2)
    fresh.load_state_dict(state)
    assert as_lists(fresh) == want[len(want) // 2 + 3:]


class WhoAmI(dud.Dataset):
    """Each sample records the worker that fetched it, its seed and a draw from NumPy's global state."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = dud.get_worker_info()
        return [-1 if info is None else info.id, -1 if info is None else info.seed, int(np.random.randint(2**30)),
                int(os.environ.get("DESCEND_TEST_INIT", "-1"))]


def init_worker(worker_id):
    os.environ["DESCEND_TEST_INIT"] = str(100 + worker_id)


def test_worker_info_seeds_and_init_fn():
    assert dud.get_worker_info() is None
    batches = list(dud.DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=init_worker))
    ids = [b[0].tolist() for b in batches]
    assert ids == [[0, 0], [1, 1], [0, 0], [1, 1]]  # batches go to workers in turn, as in PyTorch
    seeds = {b[0][0].item(): b[1][0].item() for b in batches}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    draws = [b[2].tolist() for b in batches]
    assert draws[0] != draws[1]  # each worker's NumPy global state is seeded differently
    assert [b[3].tolist() for b in batches] == [[100, 100], [101, 101]] * 2
    with pytest.raises(RuntimeError, match="Cannot assign"):
        dud.WorkerInfo(0, 1, 0, None).id = 3


class Failing(dud.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 7:
            raise KeyError(f"no sample {i}")
        if i == 9:
            os._exit(3)
        if i == 8:
            time.sleep(5)
        return i


def test_worker_errors_reach_the_main_process():
    with pytest.raises(KeyError, match=r"Caught KeyError in DataLoader worker process 1\.(.|\n)*no sample 7"):
        list(dud.DataLoader(Failing(), batch_size=2, sampler=range(8), num_workers=2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+ \(exit code 3\)\) exited unexpectedly"):
        list(dud.DataLoader(Failing(), sampler=[9], num_workers=1))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(dud.DataLoader(Failing(), sampler=[8], num_workers=1, timeout=0.3))
    with pytest.raises(ValueError, match="worker_init_fn"):
        list(dud.DataLoader(Failing(), sampler=[0], num_workers=1, worker_init_fn=bad_init))


def bad_init(worker_id):
    raise ValueError("no config")


def test_descend_generator_objects_drive_shuffling_and_resume():
    Generator = getattr(descend, "Generator", None)
    if Generator is None:
        pytest.skip("descend.Generator not available")
    ds = DictDataset(13)
    g = Generator().manual_seed(7)
    loader = dud.DataLoader(ds, batch_size=4, shuffle=True, generator=g)
    # The generator's own stream: its seed's first permutation, then the next (PyTorch's protocol, our RNG).
    assert as_lists(loader) == as_lists(dud.DataLoader(ds, batch_size=4, sampler=list(
        np.random.default_rng(7).permutation(13))))
    g.manual_seed(7)  # reseeding the object restarts the loader's order
    first = as_lists(loader)
    it = iter(loader)
    next(it)
    state = json.loads(json.dumps(loader.state_dict()))
    rest = [json.dumps(to_plain(b)) for b in it]
    other = dud.DataLoader(ds, batch_size=4, shuffle=True, generator=Generator().manual_seed(0))
    other.load_state_dict(state)
    assert as_lists(other) == rest and first != rest
    split = dud.random_split(range(10), [0.5, 0.5], generator=Generator().manual_seed(1))
    assert list(split[0]) == np.random.default_rng(1).permutation(10)[:5].tolist()
    sampler = dud.RandomSampler(range(6), generator=Generator().manual_seed(2))
    assert list(sampler) == np.random.default_rng(2).permutation(6).tolist()


def test_persistent_iterable_workers_restart_each_epoch_and_other_options():
    ref = list(tud.DataLoader(TorchStream(9), batch_size=2, num_workers=2))
    loader = dud.DataLoader(Stream(9), batch_size=2, num_workers=2, persistent_workers=True)
    first = list(loader)
    it = iter(loader)
    next(it)  # an abandoned epoch: its late results must not leak into the next one
    del it
    assert_same(first, ref)
    assert_same(list(loader), ref)
    loader._pool.shutdown()
    # in_order=False gives the same batches, in any order; pin_memory is accepted (host memory is not pinned).
    ds = DictDataset(17)
    want = sorted(as_lists(dud.DataLoader(ds, batch_size=3)))
    assert sorted(as_lists(dud.DataLoader(ds, batch_size=3, num_workers=2, in_order=False))) == want
    assert sorted(as_lists(dud.DataLoader(ds, batch_size=3, pin_memory=True))) == want


def test_resume_of_iterable_datasets_and_samplers_with_their_own_generator():
    # An iterable dataset resumes by replaying its stream up to the saved batch.
    loader = dud.DataLoader(Stream(11), batch_size=2)
    it = iter(loader)
    next(it), next(it)
    state = json.loads(json.dumps(loader.state_dict()))
    rest = [b.tolist() for b in it]
    fresh = dud.DataLoader(Stream(11), batch_size=2)
    fresh.load_state_dict(state)
    assert [b.tolist() for b in fresh] == rest == [[4, 5], [6, 7], [8, 9], [10]]
    # A sampler drawing from a generator object of its own: its state is saved and restored too.
    Generator = getattr(descend, "Generator", None) or (lambda: np.random.default_rng(0))

    def make(seed):
        g = Generator().manual_seed(seed) if hasattr(Generator(), "manual_seed") else np.random.default_rng(seed)
        return dud.DataLoader(DictDataset(14), batch_size=3, sampler=dud.RandomSampler(range(14), generator=g))

    loader = make(1)
    as_lists(loader)
    it = iter(loader)
    next(it)
    state = json.loads(json.dumps(loader.state_dict()))
    assert len(state["generators"]) == 1 and state["generator"] is None
    rest = [json.dumps(to_plain(b)) for b in it]
    fresh = make(2)
    fresh.load_state_dict(state)
    assert as_lists(fresh) == rest
    with pytest.raises(ValueError, match="draws from 1 generator"):
        make(3).load_state_dict({**state, "generators": []})


def test_abandoned_worker_epochs_leave_no_processes():
    import multiprocessing
    loader = dud.DataLoader(DictDataset(40), batch_size=2, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()

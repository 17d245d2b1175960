"""descend.data: Dataset, TensorDataset, DataLoader (batching, shuffling, exact resume), random_split, user files."""

import json

import numpy as np
import pytest

import descend
from descend.data import (DataError, DataLoader, Dataset, Subset, TensorDataset, check_data, check_inputs,
                          check_labels, collate, load_user_data, random_split)
from descend._tensor import Tensor


def make_ds(n=23, seed=0):
    rng = np.random.default_rng(seed)
    return TensorDataset(rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, 5, n))


def batches(loader):
    return [tuple(t.numpy().copy() for t in b) for b in loader]


def assert_batches_equal(a, b):
    assert len(a) == len(b)
    for ba, bb in zip(a, b):
        for ta, tb in zip(ba, bb):
            np.testing.assert_array_equal(ta, tb)


class PerSample(Dataset):
    """A dataset without `arrays`, so the loader must collate sample by sample."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])

    def __len__(self):
        return len(self.x)


# --- datasets ---------------------------------------------------------------------------------------------

def test_tensor_dataset_indexing_and_errors():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ds = TensorDataset(descend.tensor(x, dtype="float64"), y)
    assert len(ds) == 6
    np.testing.assert_array_equal(ds[4][0], x[4])
    assert ds[4][1] == 4
    assert ds.arrays[0].dtype == np.float64 and ds.arrays[1].dtype == np.int64
    with pytest.raises(ValueError, match=r"same first dimension; got shapes \(6, 2\), \(5,\)"):
        TensorDataset(x, np.arange(5))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_python_lists_become_default_float_dtype():
    ds = TensorDataset([[0.5, 1.5], [2.5, 3.5]], [0, 1])
    assert ds.arrays[0].dtype == np.float32 and ds.arrays[1].dtype == np.int64


# --- DataLoader batching ----------------------------------------------------------------------------------

def test_sequential_batches_match_torch():
    torch = pytest.importorskip("torch")
    ds = make_ds(23)
    tds = torch.utils.data.TensorDataset(torch.from_numpy(ds.arrays[0]), torch.from_numpy(ds.arrays[1]))
    for bs in (1, 4, 23, 30):
        for drop_last in (False, True):
            ours = DataLoader(ds, batch_size=bs, drop_last=drop_last)
            ref = torch.utils.data.DataLoader(tds, batch_size=bs, drop_last=drop_last)
            assert len(ours) == len(ref)
            assert_batches_equal(batches(ours), [tuple(t.numpy() for t in b) for b in ref])


def test_batches_are_tensors_keeping_dtypes():
    x64 = np.random.default_rng(0).standard_normal((10, 2))
    loader = DataLoader(TensorDataset(x64, np.arange(10), np.arange(10, dtype=np.int32) > 4), batch_size=4)
    xb, yb, mb = next(iter(loader))
    assert isinstance(xb, Tensor) and not xb.requires_grad
    assert (xb.dtype, yb.dtype, mb.dtype) == (np.float64, np.int64, np.bool_)
    # Batches are copies: editing one does not change the dataset.
    xb._data[:] = 0
    assert loader.dataset.arrays[0][0, 0] == x64[0, 0] != 0


def test_shuffle_uses_loaders_own_generator():
    ds = make_ds(23)
    got = batches(DataLoader(ds, batch_size=5, shuffle=True, generator=7))
    perm = np.random.default_rng(7).permutation(23)  # the reference: the same seed's first permutation
    want = [(ds.arrays[0][perm[i:i + 5]], ds.arrays[1][perm[i:i + 5]]) for i in range(0, 23, 5)]
    assert_batches_equal(got, want)
    # A Generator object is used as is; a second epoch draws the next permutation.
    g = np.random.default_rng(7)
    loader = DataLoader(ds, batch_size=23, shuffle=True, generator=g)
    first, second = batches(loader)[0][1], batches(loader)[0][1]
    ref = np.random.default_rng(7)
    np.testing.assert_array_equal(first, ds.arrays[1][ref.permutation(23)])
    np.testing.assert_array_equal(second, ds.arrays[1][ref.permutation(23)])


def test_default_generator_comes_from_global_seed():
    ds = make_ds(50)
    descend.manual_seed(3)
    a = batches(DataLoader(ds, batch_size=50, shuffle=True))
    descend.manual_seed(3)
    DataLoader(ds, batch_size=10)  # a non-shuffling loader draws nothing from the global generator
    b = batches(DataLoader(ds, batch_size=50, shuffle=True))
    assert_batches_equal(a, b)
    descend.manual_seed(4)
    c = batches(DataLoader(ds, batch_size=50, shuffle=True))
    assert not np.array_equal(a[0][0], c[0][0])


def test_fast_path_does_not_touch_getitem(monkeypatch):
    ds = make_ds(20)
    slow = batches(DataLoader(PerSample(*ds.arrays), batch_size=6, shuffle=True, generator=1))

    def no_getitem(self, i):
        raise AssertionError("fast path must index whole arrays")

    monkeypatch.setattr(TensorDataset, "__getitem__", no_getitem)
    fast = batches(DataLoader(ds, batch_size=6, shuffle=True, generator=1))
    assert_batches_equal(fast, slow)
    assert slow[0][1].dtype == np.int64  # Python ints collate to int64


def test_subclass_overriding_getitem_is_honoured():
    class Doubled(TensorDataset):  # e.g. augmentation: the loader must call it, as PyTorch's does
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    ds = make_ds(7)
    got = batches(DataLoader(Doubled(*ds.arrays), batch_size=3))
    want = [(ds.arrays[0][i:i + 3] * 2, ds.arrays[1][i:i + 3]) for i in range(0, 7, 3)]
    assert_batches_equal(got, want)


def test_subset_batches_from_parent_arrays():
    ds = make_ds(30)
    sub = Subset(Subset(ds, np.arange(5, 25)), [3, 1, 4, 1, 5, 9, 2, 6])
    got = batches(DataLoader(sub, batch_size=3))
    idx = np.arange(5, 25)[[3, 1, 4, 1, 5, 9, 2, 6]]
    want = [(ds.arrays[0][idx[i:i + 3]], ds.arrays[1][idx[i:i + 3]]) for i in range(0, 8, 3)]
    assert_batches_equal(got, want)
    assert_batches_equal(batches(DataLoader(Subset(PerSample(*ds.arrays), idx), batch_size=3)), want)


def test_collate_rules():
    batch = collate([(np.ones(2, np.float32), 1, 0.5, True, "a", {"k": 2}),
                     (np.zeros(2, np.float32), 2, 1.5, False, "b", {"k": 3})])
    x, i, f, b, s, d = batch
    assert x.dtype == np.float32 and x.shape == (2, 2)
    assert i.dtype == np.int64 and f.dtype == np.float64 and b.dtype == np.bool_  # as torch default_collate
    assert s == ("a", "b") and d["k"]._data.tolist() == [2, 3]  # strings inside tuples stay a tuple, as torch
    with pytest.raises(ValueError, match=r"cannot stack samples of shapes \[\(2,\), \(3,\)\]"):
        collate([np.ones(2), np.ones(3)])


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(make_ds(), batch_size=0)
    with pytest.raises(TypeError, match="generator must be an int seed"):
        DataLoader(make_ds(), shuffle=True, generator="seed")


# --- exact resume -----------------------------------------------------------------------------------------

def run_epochs(loader, epochs):
    return [batches(loader) for _ in range(epochs)]


@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_mid_epoch_is_exact_for_every_position(drop_last):
    ds = make_ds(23)
    reference = run_epochs(DataLoader(ds, batch_size=4, shuffle=True, drop_last=drop_last, generator=5), 3)
    nb = len(reference[0])
    for k in range(nb + 1):
        loader = DataLoader(ds, batch_size=4, shuffle=True, drop_last=drop_last, generator=5)
        batches(loader)  # epoch 0
        it = iter(loader)
        for _ in range(k):
            next(it)
        state = json.loads(json.dumps(loader.state_dict()))  # survives JSON
        assert state["batches_yielded"] == k
        fresh = DataLoader(ds, batch_size=4, shuffle=True, drop_last=drop_last, generator=999)
        fresh.load_state_dict(state)
        assert fresh.state_dict() == state
        rest = batches(fresh)
        assert_batches_equal(rest, reference[1][k:])
        assert_batches_equal(batches(fresh), reference[2])
        # The original loader, continued, agrees too (saving state does not disturb it).
        assert_batches_equal([tuple(t.numpy() for t in b) for b in it], reference[1][k:])


def test_resume_at_epoch_boundary_and_without_shuffle():
    ds = make_ds(10)
    ref = run_epochs(DataLoader(ds, batch_size=3, shuffle=True, generator=2), 2)
    loader = DataLoader(ds, batch_size=3, shuffle=True, generator=2)
    batches(loader)
    state = loader.state_dict()
    assert state["batches_yielded"] == 0
    fresh = DataLoader(ds, batch_size=3, shuffle=True, generator=0)
    fresh.load_state_dict(state)
    assert_batches_equal(batches(fresh), ref[1])

    plain = DataLoader(ds, batch_size=3)
    it = iter(plain)
    next(it)
    state = plain.state_dict()
    assert state["generator"] is None and state["batches_yielded"] == 1
    other = DataLoader(ds, batch_size=3)
    other.load_state_dict(state)
    assert_batches_equal(batches(other), batches(DataLoader(ds, batch_size=3))[1:])


def test_resume_with_mt19937_generator():
    ds = make_ds(17)
    ref = run_epochs(DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.Generator(
        np.random.MT19937(1))), 2)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.Generator(np.random.MT19937(1)))
    it = iter(loader)
    next(it)
    state = json.loads(json.dumps(loader.state_dict()))
    fresh = DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.Generator(np.random.MT19937(9)))
    fresh.load_state_dict(state)
    assert_batches_equal(batches(fresh), ref[0][1:])
    assert_batches_equal(batches(fresh), ref[1])


def test_load_state_dict_errors():
    loader = DataLoader(make_ds(23), batch_size=4, shuffle=True, generator=0)
    state = loader.state_dict()
    with pytest.raises(ValueError, match="saved with num_samples=23 but this loader has num_samples=20"):
        DataLoader(make_ds(20), batch_size=4, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="saved with batch_size=4 but this loader has batch_size=5"):
        DataLoader(make_ds(23), batch_size=5, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match=r"batches_yielded must be an int in \[0, 6\], got 7"):
        loader.load_state_dict({**state, "batches_yielded": 7})
    with pytest.raises(ValueError, match="invalid generator state"):
        loader.load_state_dict({**state, "generator": {"bit_generator": "PCG64", "state": {}}})


# --- random_split -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, lengths", [(10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.9]),
                                        (5, [0.33, 0.33, 0.34]), (10, [3, 7]), (9, [1.0])])
def test_random_split_sizes_match_torch(n, lengths):
    torch = pytest.importorskip("torch")
    ds = make_ds(n)
    ours = random_split(ds, lengths, generator=0)
    ref = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    idx = np.concatenate([s.indices for s in ours])
    np.testing.assert_array_equal(np.sort(idx), np.arange(n))  # disjoint and complete
    np.testing.assert_array_equal(idx, np.random.default_rng(0).permutation(n))


def test_random_split_errors():
    with pytest.raises(ValueError, match="sum of lengths 9 != length of the dataset 10"):
        random_split(make_ds(10), [4, 5])
    with pytest.raises(ValueError, match="must be non-negative ints or fractions"):
        random_split(make_ds(10), [0.5, 0.4])


# --- user data files --------------------------------------------------------------------------------------

def test_npz_default_and_named_keys(tmp_path):
    x = np.arange(12.0).reshape(4, 3)
    np.savez(tmp_path / "a.npz", x=x, y=np.array([0, 1, 2, 1]))
    ds = load_user_data(tmp_path / "a.npz")
    assert ds.arrays[0].dtype == np.float32 and ds.arrays[1].dtype == np.int64
    np.testing.assert_array_equal(ds.arrays[0], x)
    assert ds.num_classes == 3 and ds.input_shape == (3,)
    np.savez(tmp_path / "b.npz", signals=x, target=np.array([0, 1, 0, 1]))
    ds = load_user_data(tmp_path / "b.npz", label="target")
    np.testing.assert_array_equal(ds.arrays[1], [0, 1, 0, 1])
    with pytest.raises(DataError, match=r"b\.npz: no labels: expected an array named 'y' or 'label', found "
                                        r"\['signals', 'target'\]"):
        load_user_data(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", a=x, b=x, y=np.zeros(4, int))
    with pytest.raises(DataError, match=r"c\.npz: cannot tell which array holds the inputs"):
        load_user_data(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1, -1, 1]))
    with pytest.raises(DataError, match=r"d\.npz \(x, y\): label of sample 2 \(0-based\) is -1"):
        load_user_data(tmp_path / "d.npz")
    x[1, 2] = np.nan
    np.savez(tmp_path / "e.npz", x=x, y=np.zeros(4, int))
    with pytest.raises(DataError, match=r"e\.npz \(x, y\): input sample 1 \(0-based\), feature 2 is nan"):
        load_user_data(tmp_path / "e.npz")
    (tmp_path / "f.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"f\.npz: not a readable \.npz file"):
        load_user_data(tmp_path / "f.npz")


def test_npy_pairs(tmp_path):
    x, y = np.ones((5, 2, 2)), np.array([1, 0, 1, 0, 1])
    np.save(tmp_path / "train_x.npy", x)
    np.save(tmp_path / "train_y.npy", y)
    ds = load_user_data(tmp_path / "train_x.npy")
    assert ds.input_shape == (2, 2) and ds.arrays[1].tolist() == y.tolist()
    ds = load_user_data([tmp_path / "train_x.npy", tmp_path / "train_y.npy"])
    assert len(ds) == 5
    d = tmp_path / "pair"
    d.mkdir()
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y.astype(np.float64))  # integral floats are accepted as labels
    assert load_user_data(d).arrays[1].dtype == np.int64
    np.save(tmp_path / "solo.npy", x)
    with pytest.raises(DataError, match=r"solo\.npy: a \.npy file holds only the inputs"):
        load_user_data(tmp_path / "solo.npy")
    np.save(tmp_path / "bad_x.npy", x)
    np.save(tmp_path / "bad_y.npy", y[:3])
    with pytest.raises(DataError, match=r"bad_x\.npy has 5 samples but .*bad_y\.npy has 3 labels"):
        load_user_data(tmp_path / "bad_x.npy")
    np.save(tmp_path / "f_x.npy", x)
    np.save(tmp_path / "f_y.npy", np.array([0, 1.5, 0, 0, 0]))
    with pytest.raises(DataError, match=r"f_x\.npy: label of sample 1 \(0-based\) is 1\.5, not an integer"):
        load_user_data(tmp_path / "f_x.npy")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_reads_features_and_label_column(tmp_path):
    p = write(tmp_path, "d.csv", "f1,label,f2\n0.5,1,2\n-1e3,0,3.25\n\n7,2,8\n")
    ds = load_user_data(p)
    np.testing.assert_array_equal(ds.arrays[0], np.array([[0.5, 2], [-1e3, 3.25], [7, 8]], np.float32))
    assert ds.arrays[1].tolist() == [1, 0, 2]
    # Quoted cells defeat NumPy's fast parser; the careful reader gives the same result.
    q = write(tmp_path, "q.csv", 'f1,label,f2\n"0.5",1,2\n-1e3,"0",3.25\n7,2,8\n')
    np.testing.assert_array_equal(load_user_data(q).arrays[0], ds.arrays[0])
    assert load_user_data(q).arrays[1].tolist() == [1, 0, 2]


@pytest.mark.parametrize("text, label, message", [
    ("a,label\n1,0\nx,1\n", "label", r"line 3, column 'a': 'x' is not a number"),
    ("a,b,label\n1,2,0\n3,,1\n", "label", r"line 3, column 'b': empty cell"),
    ("a,b,label\n1,2,0\n3,nan,1\n", "label", r"line 3, column 'b': value is nan \(NaN or inf\)"),
    ("a,b,label\n1,2,0\n3,4\n", "label", r"line 3 has 2 cells but the header has 3 columns"),
    ("a,b,label\n1,2,0\n3,4,-1\n", "label", r"line 3, label column 'label': '-1' is not a non-negative integer"),
    ("a,b,label\n1,2,1.5\n", "label", r"line 2, label column 'label': '1.5' is not a non-negative integer"),
    ("a,b,lable\n1,2,0\n", "label", r"no label column 'label' in the header \(columns: a, b, lable\); "
                                    r"did you mean 'lable'\?"),
    ("", "label", "empty file; expected a header row"),
    ("a,label\n", "label", "no data rows after the header"),
    ("label\n1\n", "label", "only the label column 'label'; no feature columns"),
    ("a,a,label\n1,2,0\n", "label", "duplicate column names in the header: a"),
])
def test_csv_errors_name_file_line_and_column(tmp_path, text, label, message):
    p = write(tmp_path, "bad.csv", text)
    with pytest.raises(DataError, match=r"bad\.csv: " + message):
        load_user_data(p, label=label)


def save_image(path, array, mode):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8), mode).save(path)


def test_image_folder_grayscale_resized_and_sorted(tmp_path):
    pytest.importorskip("PIL")
    save_image(tmp_path / "zebra" / "a.png", np.full((6, 4), 51), "L")
    save_image(tmp_path / "ant" / "b.png", np.full((6, 4), 255), "L")
    save_image(tmp_path / "ant" / "a.png", np.full((12, 8), 102), "L")  # a different size: resized
    (tmp_path / "ant" / "notes.txt").write_text("ignored")
    ds = load_user_data(tmp_path)
    assert ds.classes == ["ant", "zebra"] and ds.class_to_idx == {"ant": 0, "zebra": 1}
    x, y = ds.arrays
    assert x.shape == (3, 1, 12, 8) and x.dtype == np.float32  # the first image (ant/a.png) sets the size
    assert y.tolist() == [0, 0, 1]
    np.testing.assert_allclose(x[:, 0, 0, 0], [0.4, 1.0, 0.2], rtol=1e-6)  # uniform images stay uniform
    assert load_user_data(tmp_path, image_size=5).input_shape == (1, 5, 5)


def test_image_folder_mixed_modes_become_rgb(tmp_path):
    pytest.importorskip("PIL")
    save_image(tmp_path / "a" / "g.png", np.full((4, 4), 255), "L")
    save_image(tmp_path / "b" / "c.png", np.stack([np.full((4, 4), v) for v in (255, 0, 51)], -1), "RGB")
    x, y = load_user_data(tmp_path).arrays
    assert x.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(x[:, :, 0, 0], [[1, 1, 1], [1, 0, 0.2]], rtol=1e-6)


def test_image_folder_errors(tmp_path):
    pytest.importorskip("PIL")
    save_image(tmp_path / "a" / "ok.png", np.zeros((4, 4)), "L")
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"broken\.png: cannot read image"):
        load_user_data(tmp_path)
    (tmp_path / "a" / "broken.png").unlink()
    (tmp_path / "b").mkdir()
    with pytest.raises(DataError, match=r"b: class folder has no images"):
        load_user_data(tmp_path)
    with pytest.raises(DataError, match="no class subfolders"):
        load_user_data(tmp_path / "a")


def test_missing_and_unsupported_paths(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.csv: file or directory not found"):
        load_user_data(tmp_path / "nothere.csv")
    p = write(tmp_path, "data.json", "{}")
    with pytest.raises(DataError, match=r"data\.json: unsupported data file type '\.json'"):
        load_user_data(p)


# --- checks used by the CLI -------------------------------------------------------------------------------

def test_check_functions():
    assert check_labels(np.array([0, 3, 1])) == 4
    assert check_labels(np.array([[0], [1]]), num_classes=2) == 2
    with pytest.raises(DataError, match=r"train: label of sample 1 \(0-based\) is 3, outside 0\.\.2 for "
                                        r"num_classes=3"):
        check_labels(np.array([0, 3, 1]), 3, source="train")
    with pytest.raises(DataError, match="labels must be non-negative integers, got dtype bool"):
        check_labels(np.array([True, False]))
    with pytest.raises(DataError, match="one integer per sample, got shape"):
        check_labels(np.zeros((3, 2), int))
    x = np.zeros((4, 2, 2), np.float32)
    x[2, 1, 0] = np.inf
    with pytest.raises(DataError, match=r"input sample 2 \(0-based\), feature 2 is inf \(1 of 4 samples have"):
        check_inputs(x)
    with pytest.raises(DataError, match="inputs must be numeric"):
        check_inputs(np.array(["a"]))
    with pytest.raises(DataError, match="3 input samples but 2 labels"):
        check_data(np.zeros((3, 1)), np.zeros(2, int))
    check_inputs(np.zeros((3, 2), np.int64))  # integer inputs cannot hold NaN


def test_subset_sees_its_indices_edited_in_place():
    """Subset keeps the sequence it was given (as PyTorch) and reads it afresh: same-length edits of a list
    reach indexing and the DataLoader's array fast path."""
    ds = descend.utils.data.TensorDataset(descend.arange(10))
    s = descend.utils.data.Subset(ds, [0, 1, 2])
    assert s[0][0].item() == 0
    s.indices[0] = 7
    assert s[0][0].item() == 7
    assert [b[0].tolist() for b in descend.utils.data.DataLoader(s, batch_size=3)] == [[7, 1, 2]]
    s.indices.reverse()
    assert [b[0].tolist() for b in descend.utils.data.DataLoader(s, batch_size=3)] == [[2, 1, 7]]

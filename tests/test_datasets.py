"""Built-in datasets: MNIST-1D against the mnist1d package, Fashion-MNIST IDX files, 2-D Gaussian mixtures."""

import gzip
import struct

import numpy as np
import pytest

from descend.data import (DEBIAN_ROOT, MNIST1D, FashionMNIST, gaussian_mixture, mixture_modes, mnist1d,
                          read_idx)
from descend.data.mnist1d import _gaussian_smooth, _resample

# --- MNIST-1D ---------------------------------------------------------------------------------------------


def reference_mnist1d(**overrides):
    data = pytest.importorskip("mnist1d.data")
    args = data.get_dataset_args(as_dict=True)
    args.update(overrides)
    return data.make_dataset(type("Args", (), args))


def assert_same_dataset(ours, ref):
    for key in ("x", "y", "x_test", "y_test", "t"):
        assert ours[key].shape == ref[key].shape, key
        assert ours[key].dtype == ref[key].dtype, key
        np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)  # bit for bit
    for key in ("x", "t", "y"):
        np.testing.assert_array_equal(ours["templates"][key], ref["templates"][key])


def test_mnist1d_matches_reference_package_exactly():
    assert_same_dataset(mnist1d(), reference_mnist1d())


def test_mnist1d_matches_reference_with_other_arguments():
    # Shifts up to 49 exceed the 40-point width here: the recipe leaves such signals unshifted.
    kwargs = dict(seed=3, num_samples=1000, train_split=0.7, template_len=10, padding=[20, 30], scale_coeff=0.2,
                  max_translation=50, corr_noise_scale=0.3, iid_noise_scale=0.05, shear_scale=0.5,
                  final_seq_length=32, shuffle_seq=True)
    ref = reference_mnist1d(**kwargs)
    kwargs["padding"] = tuple(kwargs["padding"])
    assert_same_dataset(mnist1d(**kwargs), ref)


def test_resample_and_smooth_match_numpy_and_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 17))
    for row in y:
        np.testing.assert_array_equal(_resample(row, 40), np.interp(np.linspace(0, 1, 40),
                                                                    np.linspace(0, 1, 17), row))
    np.testing.assert_array_equal(_gaussian_smooth(y), np.stack([ndimage.gaussian_filter(r, 2) for r in y]))


def test_mnist1d_shapes_and_class_balance():
    d = mnist1d()
    assert d["x"].shape == (4000, 40) and d["x_test"].shape == (1000, 40) and d["t"].shape == (40,)
    labels = np.concatenate([d["y"], d["y_test"]])
    assert np.bincount(labels).tolist() == [500] * 10  # 5000 samples made class by class, then shuffled
    x = np.concatenate([d["x"], d["x_test"]])
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12  # standardised as a whole


def test_mnist1d_returns_fresh_copies_and_dataset_view():
    a = mnist1d()
    a["x"][:] = 0
    b = mnist1d()
    assert b["x"].std() > 0
    train, test = MNIST1D(train=True), MNIST1D(train=False)
    assert (len(train), len(test)) == (4000, 1000)
    x, y = train.arrays
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, b["x"].astype(np.float32))
    np.testing.assert_array_equal(test.arrays[1], b["y_test"])


def test_mnist1d_argument_errors():
    with pytest.raises(ValueError, match="padding must be"):
        mnist1d(padding=(5, 1))
    with pytest.raises(ValueError, match="train_split"):
        mnist1d(train_split=1.5)


# --- IDX and Fashion-MNIST --------------------------------------------------------------------------------

def idx_bytes(array, code):
    """An IDX file written by hand from the format description (independent of the reader)."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    head = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(big).tobytes()


@pytest.mark.parametrize("code, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_every_type_raw_and_gzipped(tmp_path, code, dtype):
    a = (np.arange(24).reshape(2, 3, 4) * (-1) ** np.arange(24).reshape(2, 3, 4) * 3).astype(dtype) \
        if np.dtype(dtype).kind != "u" else np.arange(24, dtype=dtype).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(a, code))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(a, code)))
    for name in ("a.idx", "a.idx.gz"):
        back = read_idx(tmp_path / name)
        assert back.dtype == np.dtype(dtype) and back.dtype.isnative
        np.testing.assert_array_equal(back, a)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", r"not an IDX file: 2 bytes"),
    (b"\x12\x34\x08\x01" + b"\0" * 8, r"not an IDX file: bad magic number 0x12340801"),
    (b"\x00\x00\x07\x01" + b"\0" * 8, r"unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x03" + b"\0\0\0\x02", r"truncated IDX header: 3 dimensions need 16 bytes, file has 8"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\1" * 4, r"IDX data truncated: shape \(5,\) of uint8 needs 5 bytes"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02" + b"\1" * 4, r"IDX data has trailing bytes: shape \(2,\) .* found 4"),
    (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x01")[:-6], r"corrupt or truncated gzip data"),
])
def test_read_idx_errors(tmp_path, data, message):
    (tmp_path / "bad-idx1-ubyte").write_bytes(data)
    with pytest.raises(ValueError, match=r"bad-idx1-ubyte: " + message):
        read_idx(tmp_path / "bad-idx1-ubyte")


def write_fashion(root, n_train=5, n_test=3, gz=True):
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        files[prefix] = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8))
        for kind, arr in (("images-idx3-ubyte", files[prefix][0]), ("labels-idx1-ubyte", files[prefix][1])):
            raw = idx_bytes(arr, 0x08)
            if gz:
                (root / f"{prefix}-{kind}.gz").write_bytes(gzip.compress(raw))
            else:
                (root / f"{prefix}-{kind}").write_bytes(raw)
    return files


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_written_files(tmp_path, gz):
    files = write_fashion(tmp_path, gz=gz)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = FashionMNIST(root=tmp_path, train=train)
        x, y = ds.arrays
        images, labels = files[prefix]
        assert x.shape == (len(images), 1, 28, 28) and x.dtype == np.float32
        assert y.dtype == np.int64 and y.tolist() == labels.tolist()
        np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / np.float32(255))
        assert 0 <= x.min() and x.max() <= 1


def test_fashion_mnist_missing_files_says_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte, train-labels-idx1-ubyte \(or \.gz\) "
                                                r"not found in .*apt-get install dataset-fashion-mnist.*"
                                                r"/usr/share/datasets/fashion-mnist.*root="):
        FashionMNIST(root=tmp_path)


def test_fashion_mnist_mismatched_files(tmp_path):
    write_fashion(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2, np.uint8), 0x08))
    with pytest.raises(ValueError, match=r"has shape \(3, 28, 28\) and .*t10k-labels-idx1-ubyte has shape \(2,\)"):
        FashionMNIST(root=tmp_path, train=False)


@pytest.mark.skipif(not (DEBIAN_ROOT / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian_package():
    test = FashionMNIST(train=False)
    x, y = test.arrays
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert np.bincount(y).tolist() == [1000] * 10  # the published test set: 1,000 images per class
    assert x.min() == 0.0 and x.max() == 1.0
    assert len(FashionMNIST.classes) == 10


# --- 2-D Gaussian mixtures ---------------------------------------------------------------------------------

def test_mixture_modes_are_the_pacgan_layouts():
    ring, std = mixture_modes("ring8")
    assert std == 0.01 and ring.shape == (8, 2)
    np.testing.assert_allclose(np.hypot(ring[:, 0], ring[:, 1]), 1.0)
    np.testing.assert_allclose(np.sort(np.degrees(np.arctan2(ring[:, 1], ring[:, 0])) % 360), np.arange(0, 360, 45),
                               atol=1e-9)
    grid, std = mixture_modes("grid25")
    assert std == 0.05
    assert {tuple(p) for p in grid.tolist()} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_samples_have_the_right_spread_and_weights(name):
    x, modes, std = gaussian_mixture(name, 40000, generator=0)
    assert x.dtype == np.float32 and x.shape == (40000, 2)
    nearest = ((x[:, None, :] - modes[None]) ** 2).sum(-1).argmin(1)
    offsets = x - modes[nearest]
    np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.03)
    np.testing.assert_allclose(offsets.mean(axis=0), 0, atol=3 * std / np.sqrt(len(x) / 8))
    counts = np.bincount(nearest, minlength=len(modes))
    expected = len(x) / len(modes)
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)  # equal weights
    # An int seed and a Generator with that seed give the same samples.
    np.testing.assert_array_equal(gaussian_mixture(name, 10, generator=0)[0],
                                  gaussian_mixture(name, 10, generator=np.random.default_rng(0))[0])


def test_mixture_errors():
    with pytest.raises(ValueError, match="unknown mixture 'ring9': expected 'ring8' or 'grid25'"):
        gaussian_mixture("ring9", 10)
    with pytest.raises(ValueError, match="n must be a non-negative int"):
        gaussian_mixture("ring8", -1)

"""descend.data.transforms: Gaussian blur vs SciPy, JPEG-style compression vs Pillow's JPEG codec."""

import io as pyio

import numpy as np
import pytest

from descend.data.transforms import (JPEG, GaussianBlur, RandomApply, TransformDataset, blur_jpeg, jpeg_compress,
                                     quantization_table)


@pytest.mark.parametrize("dims,shape", [(2, (1, 28, 28)), (1, (40,))])
def test_gaussian_blur_matches_scipy(dims, shape):
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(0).random(shape)
    blur = GaussianBlur(7, 1.3, dims=dims)
    want = x
    for axis in range(x.ndim - dims, x.ndim):  # scipy's 'mirror' is torchvision's reflect padding
        want = ndimage.gaussian_filter1d(want, 1.3, axis=axis, mode="mirror", truncate=3 / 1.3)
    np.testing.assert_allclose(blur(x), want, rtol=1e-10, atol=1e-12)


def test_quantization_table_follows_libjpeg():
    assert quantization_table(50)[0, 0] == 16 and quantization_table(100).max() == 1
    assert quantization_table(10)[0, 0] == 80  # scale 500: floor((16 * 500 + 50) / 100)


@pytest.mark.parametrize("quality", [30, 60, 95])
def test_jpeg_compress_is_close_to_pillows_codec(quality):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    # A smooth image with an edge: something JPEG has to work on.
    yy, xx = np.mgrid[0:32, 0:32]
    img = np.clip(0.5 + 0.3 * np.sin(xx / 4) * np.cos(yy / 5) + 0.2 * (xx > 16) + 0.02 * rng.standard_normal((32, 32)),
                  0, 1)
    level = np.rint(img * 255).astype(np.uint8)
    buf = pyio.BytesIO()
    Image.fromarray(level, mode="L").save(buf, format="JPEG", quality=quality)
    pil = np.asarray(Image.open(pyio.BytesIO(buf.getvalue())), dtype=np.float64)
    ours = jpeg_compress(img, quality) * 255
    lost = np.abs(pil - level).mean()
    assert lost > 0.2  # the codec did lose something
    # libjpeg's integer DCT and rounding differ slightly from ours: agree within a fraction of what was lost
    assert np.abs(ours - pil).mean() < 0.25 * lost


def test_jpeg_on_signals_and_ranges():
    s = np.sin(np.linspace(0, 6, 40)).astype(np.float32)
    out = jpeg_compress(s, 50, dims=1, value_range=(-1.0, 1.0))
    assert out.shape == s.shape and out.dtype == np.float32
    assert 0 < np.abs(out - s).max() < 0.2
    np.testing.assert_allclose(jpeg_compress(s, 100, dims=1, value_range=(-1.0, 1.0)), s, atol=0.02)


def test_random_apply_and_recipe_are_seeded():
    x = np.random.default_rng(2).random((1, 16, 16))
    a = [blur_jpeg(0.5, generator=3)(x) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    never = RandomApply(GaussianBlur(3, 1.0), p=0.0)
    np.testing.assert_array_equal(never(x), x)
    ds = TransformDataset(x[None].repeat(4, 0), np.arange(4), JPEG(50, generator=0))
    xi, yi = ds[2]
    assert xi.shape == (1, 16, 16) and yi == 2 and not np.array_equal(xi, x)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="GaussianBlur: kernel_size"):
        GaussianBlur(4)
    with pytest.raises(ValueError, match="JPEG: quality"):
        JPEG((0, 100))
    with pytest.raises(ValueError, match="GaussianBlur: a sample needs at least 2 dims"):
        GaussianBlur(3, 1.0)(np.zeros(5))

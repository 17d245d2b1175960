"""Fashion-MNIST from IDX files (raw or gzipped), with an IDX reader written from the format description.

IDX: a 4-byte magic number (two zero bytes, a type code, the number of dimensions), then each dimension as a
big-endian unsigned 32-bit integer, then the data in big-endian order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from descend.data.dataset import TensorDataset

# Where Debian's `dataset-fashion-mnist` package installs the four gzipped files.
DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")

_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it starts with the gzip magic."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a NumPy array in native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file: bad magic number 0x{data[:4].hex()} (expected 0x0000 then "
                         f"a type code and the number of dimensions)")
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x} (known: "
                         f"{', '.join(f'0x{c:02x}' for c in _IDX_TYPES)})")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {head} bytes, file has {len(data)}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - head != expected:
        what = "truncated" if len(data) - head < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX data {what}: shape {shape} of {dtype.name} needs {expected} bytes after "
                         f"the header, found {len(data) - head}")
    return np.frombuffer(data, dtype=dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / f"{name}.gz", root / name):
        if candidate.is_file():
            return candidate
    return None


def load_fashion_mnist(root: str | Path | None = None, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from the IDX files in `root` (default: Debian's path)."""
    directory = Path(root) if root is not None else DEBIAN_ROOT
    names = FILES[bool(train)]
    paths = [_find(directory, n) for n in names]
    if None in paths:
        missing = [n for n, p in zip(names, paths) if p is None]
        raise FileNotFoundError(
            f"Fashion-MNIST: {', '.join(missing)} (or .gz) not found in {directory}. Install Debian's package "
            f"(apt-get install dataset-fashion-mnist, which puts the files in {DEBIAN_ROOT}) or pass root= a "
            f"directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            f"t10k-labels-idx1-ubyte (each raw or .gz)")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST: {paths[0]} has shape {images.shape} and {paths[1]} has shape "
                         f"{labels.shape}; expected (N, H, W) images and N labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"Fashion-MNIST: {paths[1]} has labels outside 0..9 (range {labels.min()}..{labels.max()})")
    return images, labels


class FashionMNIST(TensorDataset):
    """Fashion-MNIST: images float32 in [0, 1] shaped (N, 1, 28, 28), labels int64."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]

    def __init__(self, root: str | Path | None = None, train: bool = True) -> None:
        images, labels = load_fashion_mnist(root, train)
        x = images[:, None, :, :].astype(np.float32)
        x /= np.float32(255)  # divide (not multiply by 1/255) to match torchvision's ToTensor bit for bit
        super().__init__(x, labels.astype(np.int64))
        self.train = train

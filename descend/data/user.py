"""The user's own data: .npz, a pair of .npy files, CSV with a label column, or a folder of class subfolders.

Every failure raises DataError with one message naming the file and, for CSV, the line and column.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from descend.data.dataset import TensorDataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


class DataError(ValueError):
    """Bad user data; the message names the file and, where it applies, the row and column."""


class UserDataset(TensorDataset):
    """Inputs (float32) and labels (int64) read from the user's file, with where they came from."""

    def __init__(self, x: np.ndarray, y: np.ndarray, path: Path, classes: list[str] | None = None) -> None:
        super().__init__(x, y)
        self.path = path
        self.classes = classes if classes is not None else [str(i) for i in range(int(y.max()) + 1 if len(y) else 0)]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @property
    def input_shape(self) -> tuple:
        return tuple(self.arrays[0].shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# --- checks shared with the CLI ----------------------------------------------------------------------------

def check_inputs(x: Any, source: str = "inputs") -> None:
    """Raise DataError naming the first sample (0-based) and feature holding NaN or inf."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: inputs must be numeric, got dtype {x.dtype}")
    if x.dtype.kind != "f" or x.size == 0:
        return
    flat = x.reshape(len(x), -1)
    bad = ~np.isfinite(flat)
    if bad.any():
        row = int(bad.any(axis=1).argmax())
        col = int(bad[row].argmax())
        value = flat[row, col]
        rows = int(bad.any(axis=1).sum())
        raise DataError(f"{source}: input sample {row} (0-based), feature {col} is {value} ({rows} of {len(x)} "
                        f"samples have NaN or inf); remove or impute them")


MAX_CLASSES = 100_000  # labels are class indices: a larger one is a wrong column or a corrupt file


def check_labels(y: Any, num_classes: int | None = None, source: str = "labels") -> int:
    """Check labels are non-negative integers below num_classes; returns num_classes (max + 1 when None)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{source}: labels must be one integer per sample, got shape {y.shape}")
    if y.dtype.kind == "b" or y.dtype.kind not in "iuf":
        raise DataError(f"{source}: labels must be non-negative integers, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(bad.argmax())
            raise DataError(f"{source}: label of sample {i} (0-based) is {y[i]}, not an integer")
    if len(y) and y.min() < 0:
        i = int((y < 0).argmax())
        raise DataError(f"{source}: label of sample {i} (0-based) is {y[i]:g}; labels must be >= 0")
    if len(y) and y.max() >= MAX_CLASSES:  # before anything is sized by it (class names, per-class counts)
        i = int((y >= MAX_CLASSES).argmax())
        raise DataError(f"{source}: label of sample {i} (0-based) is {y[i]:.15g}; at most {MAX_CLASSES} classes are "
                        f"allowed (labels 0..{MAX_CLASSES - 1}; descend.data.user.MAX_CLASSES)")
    if num_classes is None:
        return int(y.max()) + 1 if len(y) else 0
    if len(y) and y.max() >= num_classes:
        i = int((y >= num_classes).argmax())
        raise DataError(f"{source}: label of sample {i} (0-based) is {y[i]:g}, outside 0..{num_classes - 1} "
                        f"for num_classes={num_classes}")
    return int(num_classes)


def check_data(x: Any, y: Any, num_classes: int | None = None, source: str = "data") -> int:
    """check_inputs and check_labels together, plus matching lengths; returns num_classes."""
    if len(x) != len(y):
        raise DataError(f"{source}: {len(x)} input samples but {len(y)} labels")
    check_inputs(x, source)
    return check_labels(y, num_classes, source)


def _as_dataset(x: np.ndarray, y: np.ndarray, path: Path, source: str,
                classes: list[str] | None = None) -> UserDataset:
    if x.ndim == 0:
        raise DataError(f"{source}: inputs must have one row per sample, got a scalar")
    if x.ndim == 1:
        x = x[:, None]
    if len(x) == 0:
        raise DataError(f"{source}: no samples")
    check_data(x, y, None, source)
    y = np.asarray(y).reshape(len(y))
    return UserDataset(x.astype(np.float32), y.astype(np.int64), path, classes)


# --- file formats ------------------------------------------------------------------------------------------

MAX_VALUES = int(os.environ.get("DESCEND_MAX_DATA_VALUES", 1 << 30))  # samples x features (4 GiB as float32)


def check_size(source: Any, samples: int, per_sample: int) -> None:
    """Refuse data larger than MAX_VALUES values before it is read into memory (one line with the numbers)."""
    total = samples * per_sample
    if total > MAX_VALUES:
        raise DataError(f"{source}: {samples} samples x {per_sample} values = {total} values, more than the limit "
                        f"of {MAX_VALUES} ({4 * total / 2**30:.1f} GiB as float32; raise it with "
                        f"DESCEND_MAX_DATA_VALUES)")


def _load_npy(path: Path) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False, mmap_mode="r")  # memory-mapped: only the header is read here
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})") from None
    check_size(path, a.shape[0] if a.ndim else 1, math.prod(a.shape[1:]))
    try:
        return np.array(a)  # read only now, within the limit (a private, writable copy as before)
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})") from None


def _load_npz(path: Path, label: str) -> UserDataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    keys = list(arrays)
    y_key = label if label in arrays else "y" if "y" in arrays else None
    if y_key is None:
        raise DataError(f"{path}: no labels: expected an array named 'y' or '{label}', found {keys}")
    rest = [k for k in keys if k != y_key]
    x_key = "x" if "x" in arrays else rest[0] if len(rest) == 1 else None
    if x_key is None:
        raise DataError(f"{path}: cannot tell which array holds the inputs: expected one named 'x', found {keys}")
    return _as_dataset(arrays[x_key], arrays[y_key], path, f"{path} ({x_key}, {y_key})")


def _npy_pair(path: Path, label: str) -> tuple[Path, Path]:
    """The (inputs, labels) .npy files for a directory holding x.npy or for a file named like *x.npy."""
    if path.is_dir():
        x_path = path / "x.npy"
        for name in ("y.npy", f"{label}.npy"):
            if (path / name).is_file():
                return x_path, path / name
        raise DataError(f"{path}: has x.npy but no y.npy (or {label}.npy) with the labels")
    stem = path.stem
    if stem[-1:] in ("x", "X"):
        for y_char in ("y", "Y"):
            candidate = path.with_name(stem[:-1] + y_char + ".npy")
            if candidate.is_file():
                return path, candidate
    raise DataError(f"{path}: a .npy file holds only the inputs; put the labels next to it in a file named like "
                    f"it with the final 'x' changed to 'y' (e.g. train_x.npy and train_y.npy), or use an .npz "
                    f"with arrays x and y")


def _load_npy_pair(x_path: Path, y_path: Path) -> UserDataset:
    x, y = _load_npy(x_path), _load_npy(y_path)
    if len(x) != len(y):
        raise DataError(f"{x_path} has {len(x)} samples but {y_path} has {len(y)} labels")
    return _as_dataset(x, y, x_path, f"{x_path}")


def _load_csv(path: Path, label: str) -> UserDataset:
    if path.is_file():  # every value takes at least two bytes ("0,"): a bound before parsing anything
        check_size(path, 1, path.stat().st_size // 2)
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with f:
        try:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file; expected a header row naming the columns")
            header = [h.strip() for h in header]
            if label not in header:
                hint = difflib.get_close_matches(label, header, n=1)
                raise DataError(f"{path}: no label column '{label}' in the header (columns: {', '.join(header)})"
                                + (f"; did you mean '{hint[0]}'?" if hint else ""))
            duplicates = sorted({h for h in header if header.count(h) > 1})
            if duplicates:
                raise DataError(f"{path}: duplicate column names in the header: {', '.join(duplicates)}")
            li = header.index(label)
            features = [i for i in range(len(header)) if i != li]
            if not features:
                raise DataError(f"{path}: only the label column '{label}'; no feature columns")
            fast = _load_csv_fast(path, len(header), li, features)
            if fast is not None:
                return _as_dataset(fast[0], fast[1], path, str(path))
            # The slow reader parses cell by cell and names the first bad line and column.
            xs, ys = [], []
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue  # blank line
                line = reader.line_num
                if len(row) != len(header):
                    raise DataError(f"{path}: line {line} has {len(row)} cells but the header has {len(header)} "
                                    f"columns")
                xs.append([_feature(row[i], path, line, header[i]) for i in features])
                ys.append(_label(row[li], path, line, label))
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not a UTF-8 text file (byte {e.start})") from None
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({e})") from None
    if not xs:
        raise DataError(f"{path}: no data rows after the header")
    return _as_dataset(np.array(xs), np.array(ys, dtype=np.int64), path, str(path))


def _load_csv_fast(path: Path, columns: int, li: int, features: list[int]) -> tuple | None:
    """(x, y) via NumPy's parser when the file is entirely clean numbers, else None (the slow path explains)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the slow path reports it properly
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, encoding="utf-8-sig", comments=None)
    except ValueError:
        return None
    if table.shape[1] != columns or len(table) == 0:
        return None
    x, y = table[:, features], table[:, li]
    if not np.isfinite(x).all() or not (np.isfinite(y) & (y >= 0) & (y == np.round(y))).all():
        return None
    return x, y.astype(np.int64)


def _feature(cell: str, path: Path, line: int, column: str) -> float:
    text = cell.strip()
    if not text:
        raise DataError(f"{path}: line {line}, column '{column}': empty cell")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: line {line}, column '{column}': {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{path}: line {line}, column '{column}': value is {text} (NaN or inf); remove or impute "
                        f"it")
    return value


def _label(cell: str, path: Path, line: int, column: str) -> int:
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value) or value < 0:
        raise DataError(f"{path}: line {line}, label column '{column}': {cell!r} is not a non-negative integer "
                        f"(labels must be class indices 0, 1, 2, ...)")
    return int(value)


def _load_image_folder(root: Path, image_size: int | Sequence[int] | None) -> UserDataset:
    from PIL import Image  # Pillow: only needed for image folders

    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class subfolders (expected one folder of images per class) and no x.npy")
    files, labels = [], []
    for idx, name in enumerate(classes):
        found = sorted(p for p in (root / name).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not found:
            raise DataError(f"{root / name}: class folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        files += found
        labels += [idx] * len(found)
    modes, sizes = [], []
    for p in files:  # Image.open reads only the header here
        try:
            with Image.open(p) as im:
                modes.append(im.mode)
                sizes.append(im.size)
        except (OSError, Image.DecompressionBombError) as e:
            raise DataError(f"{p}: cannot read image ({e})") from None
    mode = "L" if all(m in _GRAY_MODES for m in modes) else "RGB"
    if image_size is None:
        width, height = sizes[0]
    elif isinstance(image_size, int):
        width = height = image_size
    else:
        height, width = image_size
    check_size(root, len(files), (1 if mode == "L" else 3) * height * width)
    x = np.empty((len(files), 1 if mode == "L" else 3, height, width), dtype=np.float32)
    for i, p in enumerate(files):
        try:
            with Image.open(p) as im:
                im = im.convert(mode)
                if im.size != (width, height):
                    im = im.resize((width, height), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / np.float32(255)
        except (OSError, Image.DecompressionBombError) as e:
            raise DataError(f"{p}: cannot read image ({e})") from None
        x[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return UserDataset(x, np.array(labels, dtype=np.int64), root, classes)


def load_user_data(path: str | Path | Sequence[str | Path], label: str = "label",
                   image_size: int | Sequence[int] | None = None) -> UserDataset:
    """Load inputs (float32) and labels (int64) from .npz, .npy pair, CSV or an image folder.

    - .npz: arrays 'x' and 'y' (or the array named `label`; the inputs may be the only other array).
    - .npy: train_x.npy with train_y.npy beside it, a directory with x.npy and y.npy, or a (x, y) pair of paths.
    - .csv: a header row; the column named `label` holds class indices, every other column a numeric feature.
    - a directory of class subfolders of images (Pillow): classes sorted by name, images as (C, H, W) in [0, 1],
      grayscale if every image is, else RGB, all resized to `image_size` ((H, W) or int; default: the first
      image's size).
    """
    if isinstance(path, (tuple, list)):
        if len(path) != 2:
            raise DataError(f"load_user_data: expected (inputs.npy, labels.npy), got {len(path)} paths")
        return _load_npy_pair(Path(path[0]), Path(path[1]))
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file or directory not found")
    if path.is_dir():
        if (path / "x.npy").is_file():
            return _load_npy_pair(*_npy_pair(path, label))
        return _load_image_folder(path, image_size)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, label)
    if suffix == ".npy":
        return _load_npy_pair(*_npy_pair(path, label))
    if suffix == ".csv":
        return _load_csv(path, label)
    raise DataError(f"{path}: unsupported data file type '{suffix}' (use .npz, .npy, .csv or a folder of class "
                    f"subfolders of images)")

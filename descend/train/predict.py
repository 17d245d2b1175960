"""Inputs for `descend predict`: every kind `--data` accepts, read and preprocessed as the run's training data
was (data.json), then class probabilities written as CSV or shown as a short table.

Arrays (.npy, .npz, .csv, a folder with x.npy) are taken as model inputs as they are, like training arrays;
one sample of the model's input shape or a batch of them. Images (a file, or a folder of images or of class
subfolders of images, read in sorted path order) are converted to the training mode (L or RGB), resized to
the training size (bilinear), divided by 255 and laid out channels first.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from descend.data.user import IMAGE_SUFFIXES
from descend.errors import UsageError


def _fit_shape(x: np.ndarray, shape: tuple, source: str) -> np.ndarray:
    """x as (N, *shape) float32: a batch, or one sample; UsageError when it fits neither."""
    if x.dtype.kind not in "biuf":
        raise UsageError(f"{source}: inputs must be numeric, got dtype {x.dtype}")
    if tuple(x.shape[1:]) == shape:
        out = x
    elif tuple(x.shape) == shape:
        out = x[None]
    else:
        raise UsageError(f"{source}: samples of shape {tuple(x.shape[1:])} (array {tuple(x.shape)}) do not fit the "
                         f"model, which was trained on samples of shape {shape}")
    out = out.astype(np.float32)
    if not np.isfinite(out).all():
        row = int((~np.isfinite(out.reshape(len(out), -1))).any(axis=1).argmax())
        raise UsageError(f"{source}: sample {row} (0-based) holds NaN or inf")
    return out


def _npz(path: Path, label: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError) as e:
        raise UsageError(f"{path}: not a readable .npz file ({e})") from None
    rest = [k for k in arrays if k not in ("y", label)]
    key = "x" if "x" in arrays else rest[0] if len(rest) == 1 else None
    if key is None:
        raise UsageError(f"{path}: cannot tell which array holds the inputs: expected one named 'x', found "
                         f"{list(arrays)}")
    return arrays[key]


def _npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise UsageError(f"{path}: not a readable .npy file ({e})") from None


def _csv(path: Path, label: str) -> np.ndarray:
    """The feature columns of a CSV with a header (the label column, if present, is dropped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a UTF-8 text file") from None
    if len(rows) < 2:
        raise UsageError(f"{path}: expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    keep = [i for i, h in enumerate(header) if h != label]
    out = np.empty((len(rows) - 1, len(keep)), dtype=np.float64)
    for n, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise UsageError(f"{path}: line {n + 2} has {len(row)} cells but the header has {len(header)} columns")
        for j, i in enumerate(keep):
            try:
                out[n, j] = float(row[i])
            except ValueError:
                raise UsageError(f"{path}: line {n + 2}, column '{header[i]}': {row[i]!r} is not a number") from None
    return out


def _image(path: Path, prep: dict) -> np.ndarray:
    from PIL import Image

    height, width = prep["size"]
    try:
        with Image.open(path) as im:
            im = im.convert(prep["mode"])
            if im.size != (width, height):
                im = im.resize((width, height), Image.BILINEAR)
            a = np.asarray(im, dtype=np.float32) / np.float32(prep["divide_by"])
    except (OSError, Image.DecompressionBombError) as e:
        raise UsageError(f"{path}: cannot read image ({e})") from None
    if prep["layout"] == "HW":
        return a
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def read_inputs(path: str | Path, shape: tuple, prep: dict) -> tuple[np.ndarray, list[str]]:
    """(model inputs (N, *shape) float32, a name per sample: the image path, or the row number)."""
    path = Path(path)
    if prep.get("kind") == "text":
        raise UsageError("descend predict works on classifiers; this run is a language model (use descend gpt "
                         "sampling instead)")
    if not path.exists():
        raise UsageError(f"{path}: file or directory not found")
    images = [path] if _is_image(path) else []
    if path.is_dir() and not (path / "x.npy").is_file():
        images = sorted((p for p in path.rglob("*") if _is_image(p)), key=lambda p: p.relative_to(path).parts)
        if not images:
            raise UsageError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) and no x.npy in this folder")
    if images:
        if prep.get("kind") != "image":
            raise UsageError(f"{path}: images, but the model was trained on arrays of shape {shape}; give a "
                             f".npy/.npz/.csv file of such samples")
        x = np.stack([_image(p, prep) for p in images])
        return _fit_shape(x, shape, str(path)), [str(p.relative_to(path)) if path.is_dir() else p.name
                                                 for p in images]
    label = prep.get("label_column", "label")
    suffix = path.suffix.lower()
    if path.is_dir():
        x = _npy(path / "x.npy")
    elif suffix == ".npz":
        x = _npz(path, label)
    elif suffix == ".npy":
        x = _npy(path)
    elif suffix == ".csv":
        x = _csv(path, label)
    else:
        raise UsageError(f"{path}: unsupported input type '{suffix}' (use .npy, .npz, .csv, an image or a folder)")
    x = _fit_shape(np.asarray(x), shape, str(path))
    return x, [str(i) for i in range(len(x))]


def probabilities(model: Any, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Softmax of the model's class scores, float64 rows summing to 1, computed in batches."""
    from descend import backend
    from descend._tensor import Tensor, no_grad

    out = []
    with no_grad():
        for i in range(0, len(x), batch_size):
            scores = backend.to_numpy(model(Tensor(backend.xp.asarray(x[i:i + batch_size])))._data)
            scores = scores.astype(np.float64)
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            out.append(e / e.sum(axis=1, keepdims=True))
    return np.concatenate(out) if out else np.zeros((0, 0))


def write_csv(path: str | Path, probs: np.ndarray, classes: list[str]) -> None:
    """index,prediction,p_<class>...: one row per sample; the prediction is the class name."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["index", "prediction", *[f"p_{c}" for c in classes]])
        for i, p in enumerate(probs):
            w.writerow([i, classes[int(p.argmax())], *[repr(float(v)) for v in p]])


def table(probs: np.ndarray, classes: list[str], names: list[str], limit: int = 10) -> str:
    """A short console table: sample, predicted class, its probability (the first `limit` samples)."""
    width = max([len("sample")] + [len(n) for n in names[:limit]])
    lines = [f"{'sample':<{width}}  {'prediction':<12} probability"]
    for name, p in list(zip(names, probs))[:limit]:
        k = int(p.argmax())
        lines.append(f"{name:<{width}}  {classes[k]:<12} {p[k]:.3f}")
    if len(probs) > limit:
        lines.append(f"... {len(probs) - limit} more (write them all with --out FILE.csv)")
    return "\n".join(lines)

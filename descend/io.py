"""File formats: safetensors (written from the format spec), a small TOML writer, atomic file writes.

Only the standard library and NumPy are imported here, so any layer may use this module.

safetensors layout: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON mapping each
tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the byte buffer that follows the
header) plus an optional "__metadata__" of str -> str, padded with spaces to a multiple of 8 bytes, then the
raw little-endian bytes of every tensor, back to back with no holes.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Callable

import numpy as np

# --- atomic writes ----------------------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (not possible on every platform, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call `write(file)` on a temporary file next to `path`, fsync it, then rename it over `path`.

    A reader sees either the old file or the complete new one, never a partial write, even after a crash.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write(path, lambda f: f.write(text), mode="w")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    atomic_write(path, lambda f: f.write(data), mode="wb")


# --- safetensors ------------------------------------------------------------------------------------------

def _bfloat16(bits: np.ndarray) -> np.ndarray:
    """BF16 bits as ml_dtypes' bfloat16 when it is installed (descend.bfloat16), else widened to float32 (bfloat16
    is the top half of a float32)."""
    try:
        import ml_dtypes
    except ImportError:
        return (bits.astype(np.uint32) << 16).view(np.float32)
    return bits.astype(np.uint16).view(ml_dtypes.bfloat16)


# safetensors dtype name -> little-endian NumPy dtype. BF16 has no NumPy dtype: it is read into float32.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"), "BF16": np.dtype("<u2"),
}
_NAMES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items() if k != "BF16"}
_MAX_HEADER = 100_000_000  # the reference implementation's limit; a larger value means a corrupt file


def save_safetensors(path: str | os.PathLike, tensors: dict[str, np.ndarray],
                     metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` (name -> array) and optional string `metadata` to a safetensors file, atomically."""
    if isinstance(path, dict):  # safetensors' own save_file takes (tensors, filename)
        raise TypeError(f"save_safetensors(path, tensors): the path comes first, got a dict and then {tensors!r}")
    header: dict[str, Any] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"save_safetensors({path}): metadata must map str to str; "
                                f"key {k!r} has a value of type {type(v).__name__}")
        header["__metadata__"] = dict(metadata)
    arrays, bf16 = {}, set()
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save_safetensors({path}): invalid tensor name {name!r}")
        a = np.asarray(value)
        if a.dtype.name == "bfloat16":  # ml_dtypes' bfloat16: its 16 bits as they are
            arrays[name] = np.ascontiguousarray(a).view(np.uint16).astype("<u2", copy=False)
            bf16.add(name)
            continue
        if a.dtype.newbyteorder("=") not in _NAMES:
            raise TypeError(f"save_safetensors({path}): tensor '{name}' has unsupported dtype {a.dtype} "
                            f"(supported: {', '.join(sorted(set(map(str, _NAMES))))})")
        # astype rather than ascontiguousarray, which would turn a 0-d array into shape (1,).
        arrays[name] = a.astype(_DTYPES[_NAMES[a.dtype.newbyteorder("=")]], order="C", copy=False)
    # Largest items first, then by name, so every tensor starts at an offset aligned to its item size.
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    offset = 0
    for name in order:
        a = arrays[name]
        kind = "BF16" if name in bf16 else _NAMES[a.dtype.newbyteorder("=")]
        header[name] = {"dtype": kind, "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head += b" " * (-len(head) % 8)

    def write(f: Any) -> None:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for name in order:
            if arrays[name].size:
                f.write(arrays[name].reshape(-1).view(np.uint8))

    atomic_write(path, write)


def load_safetensors(path: str | os.PathLike, with_metadata: bool = True) -> Any:
    """Read a safetensors file: (name -> array, metadata dict; {} when absent), or only the arrays.

    A truncated or corrupt file raises ValueError naming the file and the problem. BF16 tensors come back as
    bfloat16 (ml_dtypes) where it is installed, else as float32.
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError(f"{path}: not a safetensors file: {len(raw)} bytes, shorter than the 8-byte header "
                             f"length")
        (n,) = struct.unpack("<Q", raw)
        size = os.fstat(f.fileno()).st_size
        if n > _MAX_HEADER or 8 + n > size:
            raise ValueError(f"{path}: corrupt or truncated safetensors file: header length {n} but the file "
                             f"has {size} bytes")
        head = f.read(n)
        buffer = bytearray(size - 8 - n)
        got = f.readinto(buffer)
    if got != len(buffer):
        raise ValueError(f"{path}: file changed while reading ({got} of {len(buffer)} data bytes read)")
    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: corrupt safetensors header: not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupt safetensors header: expected a JSON object, got "
                         f"{type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: corrupt safetensors header: __metadata__ must map str to str")
    spans = []
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        dtype, shape, begin, end = _check_entry(path, name, info)
        if end > len(buffer):
            raise ValueError(f"{path}: truncated safetensors file: tensor '{name}' needs data bytes "
                             f"{begin}..{end} but only {len(buffer)} are present")
        spans.append((begin, end, name))
        count = math.prod(shape)
        if count:
            a = np.frombuffer(buffer, dtype=_DTYPES[dtype], count=count, offset=begin).reshape(shape)
        else:
            a = np.zeros(shape, dtype=_DTYPES[dtype])
        if dtype == "BF16":
            a = _bfloat16(a)
        elif not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        out[name] = a
    _check_coverage(path, spans, len(buffer))
    return (out, metadata) if with_metadata else out


def _check_entry(path: Path, name: str, info: Any) -> tuple[str, list[int], int, int]:
    """Validate one header entry; (dtype, shape, begin, end)."""
    where = f"{path}: corrupt safetensors header: tensor '{name}'"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise ValueError(f"{where} needs dtype, shape and data_offsets, got {info!r}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in _DTYPES:
        raise ValueError(f"{where} has unsupported dtype {dtype!r} (supported: {', '.join(_DTYPES)})")
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise ValueError(f"{where} has invalid shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise ValueError(f"{where} has invalid data_offsets {offsets!r}")
    begin, end = offsets
    nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
    if end - begin != nbytes:
        raise ValueError(f"{where}: shape {shape} of {dtype} needs {nbytes} bytes but data_offsets "
                         f"{offsets} span {end - begin}")
    return dtype, shape, begin, end


def _check_coverage(path: Path, spans: list, size: int) -> None:
    """The tensors must tile the data buffer exactly: no overlap, no hole, nothing after the last one."""
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            what = "overlaps the previous tensor" if begin < position else f"leaves a hole at byte {position}"
            raise ValueError(f"{path}: corrupt safetensors file: tensor '{name}' at data bytes {begin}..{end} "
                             f"{what}")
        position = end
    if position != size:
        raise ValueError(f"{path}: corrupt safetensors file: {size - position} data bytes after the last tensor "
                         f"are not described by the header")


# --- TOML ------------------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"dump_toml: keys must be strings, got {key!r}")
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in "\n\t\r\b\f":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(v: Any, key: str) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)  # shortest text that reads back to the same float; valid TOML (1e-05, 1.5, 1e+16)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(item, key) for item in v) + "]"
    raise TypeError(f"dump_toml: key '{key}' has a value of type {type(v).__name__}, which TOML cannot hold "
                    f"(use str, int, float, bool, a list of these, or a table)")


def dump_toml(data: dict, _prefix: str = "") -> str:
    """TOML text for a dict of scalars, lists and (nested) tables; tomllib.loads reads it back unchanged."""
    lines = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value, _prefix + str(key))}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, table in tables:
        name = _prefix + _toml_key(key)
        body = dump_toml(table, name + ".")
        # A table holding only sub-tables still gets its header, so an empty table round-trips.
        text += ("\n" if text else "") + f"[{name}]\n" + body
    return text


def load_toml(path: str | os.PathLike) -> dict:
    """Parse a TOML file (ValueError naming the file when it is malformed)."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: invalid TOML: {e}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not a UTF-8 text file (byte {e.start})") from None

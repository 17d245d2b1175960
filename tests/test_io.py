"""descend.io: safetensors against the `safetensors` package and the spec, TOML against tomllib, atomic writes."""

import json
import math
import os
import struct
import tomllib

import numpy as np
import pytest

from descend import io

ALL_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16, "U32": np.uint32,
    "U64": np.uint64,
}


def sample_tensors(seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i, (name, dt) in enumerate(ALL_DTYPES.items()):
        shape = [(2, 3), (5,), (1, 2, 2), (4,)][i % 4]
        if dt is np.bool_:
            out[name.lower()] = rng.random(shape) > 0.5
        elif np.dtype(dt).kind == "f":
            out[name.lower()] = rng.standard_normal(shape).astype(dt)
        else:
            info = np.iinfo(dt)
            out[name.lower()] = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    out["scalar"] = np.array(3.5, dtype=np.float32)
    out["empty"] = np.zeros((0, 4), dtype=np.float32)
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def read_raw(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    return n, data[8:8 + n], data[8 + n:]


# --- safetensors: spec and round trips --------------------------------------------------------------------

def test_round_trip_every_dtype_and_metadata(tmp_path):
    t = sample_tensors()
    io.save_safetensors(tmp_path / "a.safetensors", t, {"format": "x", "note": "ünïcode \"quoted\""})
    back, meta = io.load_safetensors(tmp_path / "a.safetensors")
    assert_same(t, back)
    assert meta == {"format": "x", "note": "ünïcode \"quoted\""}
    assert io.load_safetensors(tmp_path / "a.safetensors", with_metadata=False).keys() == t.keys()


def test_layout_follows_spec(tmp_path):
    t = {"b": np.arange(3, dtype=np.int8), "a": np.arange(6, dtype=np.float64).reshape(2, 3)}
    io.save_safetensors(tmp_path / "x.safetensors", t)
    n, head, rest = read_raw(tmp_path / "x.safetensors")
    assert n % 8 == 0 and (8 + n) % 8 == 0
    assert head.rstrip(b" ") == head.rstrip() and head.startswith(b"{")
    header = json.loads(head)
    assert "__metadata__" not in header
    assert header["a"] == {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 48]}
    assert header["b"] == {"dtype": "I8", "shape": [3], "data_offsets": [48, 51]}
    assert len(rest) == 51
    # The data are raw little-endian bytes, independent of our reader.
    assert struct.unpack("<6d", rest[:48]) == tuple(float(v) for v in range(6))
    assert rest[48:] == bytes([0, 1, 2])


def test_non_contiguous_and_big_endian_inputs(tmp_path):
    a = np.arange(12, dtype=">f4").reshape(3, 4)[:, ::2]
    io.save_safetensors(tmp_path / "x.safetensors", {"a": a})
    back, _ = io.load_safetensors(tmp_path / "x.safetensors")
    assert back["a"].dtype == np.float32 and back["a"].dtype.isnative
    np.testing.assert_array_equal(back["a"], a)


def test_package_reads_ours(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    safe_open = pytest.importorskip("safetensors").safe_open
    t = sample_tensors(1)
    io.save_safetensors(tmp_path / "ours.safetensors", t, {"k": "v"})
    assert_same(t, st.load_file(tmp_path / "ours.safetensors"))
    with safe_open(tmp_path / "ours.safetensors", framework="numpy") as f:
        assert f.metadata() == {"k": "v"}


def test_ours_reads_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    t = sample_tensors(2)
    st.save_file(t, tmp_path / "pkg.safetensors", metadata={"a": "1", "b": "two"})
    back, meta = io.load_safetensors(tmp_path / "pkg.safetensors")
    assert_same(t, back)
    assert meta == {"a": "1", "b": "two"}


def test_bf16_read_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    st_torch.save_file({"w": x}, str(tmp_path / "bf16.safetensors"))
    back, _ = io.load_safetensors(tmp_path / "bf16.safetensors")
    assert back["w"].dtype.name == "bfloat16"  # descend.bfloat16 (ml_dtypes), as torch reads it
    np.testing.assert_array_equal(back["w"].astype(np.float32), x.float().numpy())


def test_bf16_written_by_descend_reads_in_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    ml_dtypes = pytest.importorskip("ml_dtypes")
    values = np.array([[1.5, -2.25, 3e38], [0.0, -0.0, 1e-38]], dtype=ml_dtypes.bfloat16)
    io.save_safetensors(tmp_path / "ours.safetensors", {"w": values})
    got = st_torch.load_file(str(tmp_path / "ours.safetensors"))["w"]
    assert got.dtype == torch.bfloat16
    np.testing.assert_array_equal(got.float().numpy(), values.astype(np.float32))


def test_swapped_argument_order_is_a_clear_error(tmp_path):
    # safetensors' own save_file takes (tensors, filename); ours takes the path first, as descend.save does.
    with pytest.raises(TypeError, match="path comes first"):
        io.save_safetensors({"a": np.ones(2)}, tmp_path / "x.safetensors", metadata={"m": "1"})
    assert not (tmp_path / "x.safetensors").exists()


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match=r"tensor 'z' has unsupported dtype complex128"):
        io.save_safetensors(tmp_path / "x.safetensors", {"z": np.zeros(2, complex)})
    with pytest.raises(TypeError, match=r"metadata must map str to str; key 'n'"):
        io.save_safetensors(tmp_path / "x.safetensors", {"a": np.zeros(2)}, {"n": 1})
    with pytest.raises(ValueError, match="invalid tensor name '__metadata__'"):
        io.save_safetensors(tmp_path / "x.safetensors", {"__metadata__": np.zeros(2)})
    assert not (tmp_path / "x.safetensors").exists()


# --- safetensors: corrupt files ---------------------------------------------------------------------------

def write_raw(path, header, data=b"", n=None):
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head) if n is None else n) + head + data)
    return path


def test_truncated_data_is_reported(tmp_path):
    io.save_safetensors(tmp_path / "x.safetensors", {"a": np.zeros(10, np.float32), "b": np.ones(3, np.int8)})
    raw = (tmp_path / "x.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"cut\.safetensors: truncated safetensors file: tensor 'a' "
                                        r"needs data bytes 0\.\.40 but only 38 are present"):
        io.load_safetensors(tmp_path / "cut.safetensors")
    (tmp_path / "head.safetensors").write_bytes(raw[:20])
    with pytest.raises(ValueError, match=r"head\.safetensors: corrupt or truncated .* header length \d+ but "
                                         r"the file has 20 bytes"):
        io.load_safetensors(tmp_path / "head.safetensors")
    (tmp_path / "tiny.safetensors").write_bytes(raw[:5])
    with pytest.raises(ValueError, match=r"tiny\.safetensors: not a safetensors file: 5 bytes"):
        io.load_safetensors(tmp_path / "tiny.safetensors")


@pytest.mark.parametrize("header, data, message", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12,
     "4 data bytes after the last tensor are not described"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8,
     r"shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8"),
    ({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "unsupported dtype 'C64'"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, r"invalid shape \[-1\]"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, "invalid data_offsets"),
    ({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "needs dtype, shape and data_offsets"),
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
      "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3, "tensor 'b' .* overlaps"),
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, b"\0" * 4, "leaves a hole at byte 0"),
    ({"__metadata__": {"k": 1}}, b"", "__metadata__ must map str to str"),
    ([1, 2], b"", "expected a JSON object, got list"),
])
def test_corrupt_headers_are_reported(tmp_path, header, data, message):
    path = write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(ValueError, match=r"bad\.safetensors: .*" + message):
        io.load_safetensors(path)


def test_invalid_json_and_huge_header_length(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 6) + b"{nope}")
    with pytest.raises(ValueError, match=r"bad\.safetensors: corrupt safetensors header: not valid JSON"):
        io.load_safetensors(path)
    path.write_bytes(struct.pack("<Q", 2**60) + b"{}")
    with pytest.raises(ValueError, match=r"bad\.safetensors: corrupt or truncated"):
        io.load_safetensors(path)


# --- atomic writes ----------------------------------------------------------------------------------------

def test_atomic_write_fsyncs_file_and_directory_then_replaces(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", os.path.dirname(a) ==
                                                                   os.path.dirname(b))), real_replace(a, b)))
    io.save_safetensors(tmp_path / "x.safetensors", {"a": np.ones(3)})
    # The file is synced before the rename (to a name in the same directory), the directory after it.
    assert calls == [("fsync", False), ("replace", True), ("fsync", True)]
    assert os.listdir(tmp_path) == ["x.safetensors"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "cfg.txt"
    io.atomic_write_text(target, "old\n")

    def explode(f):
        f.write("partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        io.atomic_write(target, explode, mode="w")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["cfg.txt"]
    io.atomic_write_text(target, "new ✓\n")
    assert target.read_text(encoding="utf-8") == "new ✓\n"


# --- TOML -------------------------------------------------------------------------------------------------

def test_toml_round_trip_with_tomllib():
    cfg = {
        "seed": 0, "name": 'say "hi"\\ \n\ttab \x01 ü', "big": -2**62, "flag": True, "off": False,
        "lr": 1e-05, "tiny": 5e-324, "huge": 1.7976931348623157e308, "third": 1 / 3, "neg0": -0.0,
        "ints": [1, 2, 3], "mixed": [0.5, 1e+16, -2.0], "names": ["a", "b c"], "empty": [],
        "nested_list": [[1, 2], [3]], "key with space": 1, "model": {"name": "cnn", "dropout": 0.1},
        "optim": {"lr": 3e-4, "betas": [0.9, 0.999]}, "blank": {},
        "outer": {"x": 1, "inner": {"y": [True, False]}},
    }
    text = io.dump_toml(cfg)
    assert tomllib.loads(text) == cfg
    assert math.copysign(1, tomllib.loads(text)["neg0"]) == -1


def test_toml_non_finite_floats():
    back = tomllib.loads(io.dump_toml({"a": float("inf"), "b": float("-inf"), "c": float("nan"),
                                       "t": {"d": [float("nan"), 1.0]}}))
    assert back["a"] == math.inf and back["b"] == -math.inf and math.isnan(back["c"])
    assert math.isnan(back["t"]["d"][0]) and back["t"]["d"][1] == 1.0


def test_toml_floats_read_back_bit_exact():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.standard_normal(200) * 10.0 ** rng.integers(-300, 300, 200),
                             rng.random(100)]).tolist()
    assert tomllib.loads(io.dump_toml({"v": values}))["v"] == values


def test_toml_numpy_scalars():
    back = tomllib.loads(io.dump_toml({"a": np.float32(0.5), "b": np.int64(3), "c": np.bool_(True)}))
    assert back == {"a": 0.5, "b": 3, "c": True}


def test_toml_rejects_unrepresentable_values():
    with pytest.raises(TypeError, match="key 'model.depth' has a value of type NoneType"):
        io.dump_toml({"model": {"depth": None}})
    with pytest.raises(TypeError, match="keys must be strings"):
        io.dump_toml({1: 2})


def test_load_toml(tmp_path):
    (tmp_path / "c.toml").write_text(io.dump_toml({"a": 1, "s": {"b": "x"}}))
    assert io.load_toml(tmp_path / "c.toml") == {"a": 1, "s": {"b": "x"}}
    (tmp_path / "bad.toml").write_text("a = = 1\n")
    with pytest.raises(ValueError, match=r"bad\.toml: invalid TOML"):
        io.load_toml(tmp_path / "bad.toml")

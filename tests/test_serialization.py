"""descend.save / descend.load: round trips, the PyTorch-tutorial checkpoint, safetensors interop with torch,
and the refusals (whole modules, arbitrary objects, weights_only=False) that keep pickle out."""

import io
import json
import math
import struct
from collections import OrderedDict

import numpy as np
import pytest

import descend
from descend import nn, optim
from descend._tensor import Tensor


def arrays_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def assert_same(ours, want, where="obj"):
    """Same nested structure and types; tensors with the same dtype, shape and values."""
    assert type(ours) is type(want), f"{where}: {type(ours).__name__} vs {type(want).__name__}"
    if isinstance(want, (Tensor, np.ndarray)):
        assert arrays_equal(ours, want), where
    elif isinstance(want, dict):
        assert list(ours) == list(want), where
        for k in want:
            assert_same(ours[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(ours) == len(want), where
        for i, (o, w) in enumerate(zip(ours, want)):
            assert_same(o, w, f"{where}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(ours), where
    else:
        assert ours == want and repr(ours) == repr(want), where  # repr: -0.0 stays -0.0


def round_trip(obj):
    buffer = io.BytesIO()
    descend.save(obj, buffer)
    buffer.seek(0)
    return descend.load(buffer)


DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensors_keep_dtype_shape_and_values(dtype):
    rng = np.random.default_rng(0)
    for shape in [(), (3,), (2, 0, 4), (2, 3, 5)]:
        a = (rng.standard_normal(shape) * 50).astype(dtype)
        t = Tensor(a)
        back = round_trip({"t": t})["t"]
        assert isinstance(back, Tensor) and arrays_equal(back, a)
        back._data[...] = 0 if a.size else back._data  # a copy: the original is untouched
        assert arrays_equal(t, a)


def test_nested_plain_values_round_trip_exactly():
    obj = {
        "epoch": 7, "big": 2**70, "neg": -3, "lr": 0.1, "tiny": 5e-324, "zero": -0.0,
        "nan": float("nan"), "inf": float("inf"), "minf": -math.inf, "name": "résumé ✓", "flag": True,
        "none": None, "list": [1, [2.5, "x"], (None, False)], "tuple": (1, (2, 3), []), "empty": {},
        "int keys": {0: "a", 5: "b"}, "tuple keys": {(1, 2): 3}, "ordered": OrderedDict(b=1, a=2),
        "__tensor__": "a key that looks like a tag", "dotted.key": descend.ones(2),
        "dotted": {"key": descend.zeros(2)},  # the same tensor path as the key above: both survive
        "arr": np.arange(3, dtype=np.int16), "scalar": np.float32(1.5),
        "__metadata__": descend.ones(1),  # the safetensors header's own key, as a tensor name
    }
    assert_same(round_trip(obj), obj)
    for top in (descend.arange(4), [descend.ones(1), 2], (3, "x"), 5, "text", None, float("nan")):
        assert_same(round_trip(top), top)


def test_requires_grad_and_shared_tensors():
    w = nn.Parameter(descend.randn(2, 2)) if hasattr(nn, "Parameter") else descend.randn(2, 2, requires_grad=True)
    back = round_trip({"w": w, "again": w, "plain": w.detach()})
    assert back["w"].requires_grad and not back["plain"].requires_grad
    # One tensor under two keys loads as one tensor (as PyTorch's); a view of it (detach) is a separate copy.
    assert back["again"] is back["w"]
    safetensors = pytest.importorskip("safetensors.numpy")
    buf = io.BytesIO()
    descend.save({"w": w, "again": w}, buf)
    assert sorted(safetensors.load(buf.getvalue())) == ["again", "w"]  # other readers still see both keys
    back["plain"]._data[0, 0] = 123.0
    assert back["w"]._data[0, 0] != 123.0


def test_a_saved_parameter_loads_as_a_parameter():
    """As torch.load gives back an nn.Parameter: its class and requires_grad flag survive, a plain tensor stays
    a Tensor; the file stays a plain safetensors file."""
    frozen = nn.Parameter(descend.ones(3), requires_grad=False)
    back = round_trip({"w": nn.Parameter(descend.arange(4.0)), "frozen": frozen, "t": descend.ones(2)})
    assert type(back["w"]) is nn.Parameter and back["w"].requires_grad
    assert type(back["frozen"]) is nn.Parameter and not back["frozen"].requires_grad
    assert type(back["t"]) is Tensor
    assert arrays_equal(back["w"], np.arange(4.0, dtype=np.float32))
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.nn.Parameter(torch.ones(2)), "frozen": torch.nn.Parameter(torch.ones(2), False)}, buf)
    buf.seek(0)
    want = torch.load(buf)
    for key in ("w", "frozen"):
        assert (type(back[key]).__name__, back[key].requires_grad) == (type(want[key]).__name__,
                                                                       want[key].requires_grad)


def test_paths_and_file_objects(tmp_path):
    state = {"a": descend.arange(6).reshape(2, 3), "b": [1, 2]}
    for target in (str(tmp_path / "s.pt"), tmp_path / "p.pth"):
        descend.save(state, target)
        assert_same(descend.load(target), state)
    with open(tmp_path / "f.bin", "wb") as f:
        descend.save(state, f)
    with open(tmp_path / "f.bin", "rb") as f:
        assert_same(descend.load(f), state)
    with open(tmp_path / "f.bin", "r", encoding="latin-1") as f:
        with pytest.raises(TypeError, match="binary mode"):
            descend.load(f)
    # The file is safetensors: an 8-byte header length, a JSON header with the skeleton; no pickle.
    raw = (tmp_path / "f.bin").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"]["format"] == "descend-save-1"
    assert json.loads(header["__metadata__"]["skeleton"]) == {"a": {"__tensor__": "a"}, "b": [1, 2]}


def test_map_location():
    state = {"w": descend.ones(2)}
    for where in ("cpu", descend.device("cpu") if hasattr(descend, "device") else "cpu", {"cuda:0": "cpu"},
                  lambda storage, loc: storage):
        buffer = io.BytesIO()
        descend.save(state, buffer)
        buffer.seek(0)
        assert_same(descend.load(buffer, map_location=where), state)
    if descend.backend.xp is np:
        buffer.seek(0)
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            descend.load(buffer, map_location="cuda")


def make_model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))


def train_steps(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        x = descend.tensor(rng.standard_normal((16, 4)).astype(np.float32))
        y = descend.tensor(rng.integers(0, 3, 16))
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y) if hasattr(nn, "functional") else \
            descend.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_tutorial_checkpoint_resumes_training_exactly(tmp_path):
    """The PyTorch tutorial's model + optimizer + epoch checkpoint: resuming gives the uninterrupted run."""
    descend.manual_seed(0)
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, opt, 3, seed=1)
    path = tmp_path / "checkpoint.tar"
    descend.save({"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                  "loss": 0.25}, path)
    want = train_steps(model, opt, 3, seed=2)  # the uninterrupted continuation

    descend.manual_seed(99)
    model2 = make_model()
    opt2 = optim.Adam(model2.parameters(), lr=1e-2)
    checkpoint = descend.load(path, weights_only=True)
    model2.load_state_dict(checkpoint["model_state_dict"])
    opt2.load_state_dict(checkpoint["optimizer_state_dict"])
    assert checkpoint["epoch"] == 3 and checkpoint["loss"] == 0.25
    assert train_steps(model2, opt2, 3, seed=2) == want


def test_flat_state_dict_is_readable_by_safetensors_and_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_numpy = pytest.importorskip("safetensors.numpy")
    st_torch = pytest.importorskip("safetensors.torch")
    descend.manual_seed(3)
    model = make_model()
    train_steps(model, optim.SGD(model.parameters(), lr=0.1), 2, seed=0)  # non-trivial running stats
    model.eval()
    path = tmp_path / "model.safetensors"
    descend.save(model.state_dict(), path)
    arrays = st_numpy.load_file(str(path))
    assert sorted(arrays) == sorted(model.state_dict())
    for k, v in model.state_dict().items():
        assert arrays_equal(arrays[k], v)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3))
    ref.load_state_dict(st_torch.load_file(str(path)), strict=True)
    ref.eval()
    x = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32)
    with descend.no_grad(), torch.no_grad():
        np.testing.assert_allclose(model(descend.tensor(x)).numpy(), ref(torch.from_numpy(x)).numpy(),
                                   rtol=1e-5, atol=1e-6)
    # And back: a file safetensors.torch writes loads as a state dict descend's model accepts.
    st_torch.save_file(ref.state_dict(), str(tmp_path / "torch.safetensors"))
    other = make_model()
    other.load_state_dict(descend.load(tmp_path / "torch.safetensors"))
    for k, v in model.state_dict().items():
        assert arrays_equal(other.state_dict()[k], v)


def test_trainer_checkpoints_load_too(tmp_path):
    from descend.train import checkpoint
    checkpoint.save(tmp_path / "c.safetensors", {"model": {"w": np.ones(2, np.float32)}, "step": 4})
    back = descend.load(tmp_path / "c.safetensors")
    assert back["step"] == 4 and isinstance(back["model"]["w"], Tensor)


def test_refusals_say_why_and_what_to_do(tmp_path):
    model = make_model()
    with pytest.raises(TypeError, match=r"cannot save a Sequential(.|\n)*never pickles(.|\n)*runs arbitrary code"
                                        r"(.|\n)*descend\.save\(model\.state_dict\(\), f\)"):
        descend.save(model, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"cannot save a function at 'hooks\.0'"):
        descend.save({"hooks": [lambda: 0]}, tmp_path / "h.pt")
    with pytest.raises(TypeError, match=r"cannot save a set at 'ids'"):
        descend.save({"ids": {1, 2}}, tmp_path / "s.pt")
    with pytest.raises(TypeError, match="cannot save a Adam|optimizer.state_dict"):
        descend.save(optim.Adam(model.parameters()), tmp_path / "o.pt")
    assert not any(tmp_path.iterdir())  # nothing half-written
    descend.save({"w": descend.ones(1)}, tmp_path / "ok.pt")
    with pytest.raises(ValueError, match=r"weights_only=False(.|\n)*runs arbitrary code(.|\n)*load_state_dict"):
        descend.load(tmp_path / "ok.pt", weights_only=False)
    import pickle
    with pytest.raises(ValueError, match="pickle"):
        descend.save({"w": 1}, tmp_path / "p.pt", pickle_module=pickle)


def test_corrupt_files_name_the_file(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ValueError, match=r"bad\.pt"):
        descend.load(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        descend.load(io.BytesIO(b"\x10\x00\x00\x00\x00\x00\x00\x00{}"))

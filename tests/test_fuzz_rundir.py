"""Property-based fuzzing of everything read from a run directory (issue 18): the checkpoint reader,
checkpoints/index.json, config.toml and metrics.jsonl. For every generated input the outcome is one of
{loaded and equal, one clear error}: never another exception, a hang or a silent change. And bit-flip
fuzzing of a real checkpoint: every flip is rejected or provably harmless (the restored state is identical)."""

import json
import math
import struct

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from descend import io, rundir  # noqa: E402
from descend.rundir import index as run_index  # noqa: E402
from descend.rundir import metrics as run_metrics  # noqa: E402
from descend.train import config as config_mod  # noqa: E402
from descend.train.checkpoint import load, save  # noqa: E402

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def same(a, b) -> bool:
    """Exact equality of nested states: arrays by dtype, shape and bytes; floats by bits (NaN == NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):  # JSON has one NaN: its sign and payload bits are not kept
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


# --- the checkpoint reader ------------------------------------------------------------------------------------

arrays = st.builds(lambda shape, dtype, seed: np.random.default_rng(seed).normal(size=shape).astype(dtype),
                   st.lists(st.integers(0, 3), max_size=3).map(tuple),
                   st.sampled_from(["float32", "float64", "int64", "int32", "uint8"]), st.integers(0, 99))
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=8))
states = st.recursive(scalars | arrays, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4)
                      | st.tuples(inner, inner), max_leaves=20)


@FUZZ
@given(state=st.dictionaries(st.text(min_size=1, max_size=6), states, max_size=5))
def test_any_state_round_trips_exactly(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("c") / "c.safetensors"
    state = {k: v for k, v in state.items() if k not in ("step", "epoch", "batch", "metrics_offset", "model")}
    save(path, state)
    assert same(load(path), state)


def _state():
    rng = np.random.default_rng(0)
    return {"model": {"w": rng.normal(size=(3, 2)).astype(np.float32), "b": np.zeros(2, np.float32)},
            "optimizer": {"state": {0: {"step": 3, "exp_avg": rng.normal(size=(3, 2))}},
                          "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999)}]},
            "scheduler": {"last_epoch": 7, "base_lrs": [0.01]}, "step": 7, "epoch": 1, "batch": 3,
            "rng": {"bit_generator": "PCG64", "state": {"state": 2**100 + 7, "inc": 5}}, "metrics_offset": 812,
            "history": [{"val_loss": float("nan"), "train_loss": 0.5}], "callbacks": [["EarlyStopping", {}]]}


@FUZZ
@given(data=st.data())
def test_mutated_checkpoints_load_equal_or_fail_in_one_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("m") / "c.safetensors"
    state = _state()
    save(path, state)
    raw = bytearray(path.read_bytes())
    n = struct.unpack("<Q", raw[:8])[0]
    how = data.draw(st.sampled_from(["bytes", "truncate", "header", "length"]))
    if how == "bytes":
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "header":  # a different (valid-UTF-8) header text of any length
        text = data.draw(st.text(max_size=200)).encode()
        raw = bytearray(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    else:
        raw[:8] = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1)))
    path.write_bytes(bytes(raw))
    try:
        got = load(path)
    except ValueError as e:
        assert str(path) in str(e) and "\n" not in str(e)
        return
    assert same(got, state)  # accepted: then nothing changed


def test_every_bit_flip_of_a_real_checkpoint_is_rejected_or_harmless(tmp_path):
    path = tmp_path / "c.safetensors"
    state = _state()
    save(path, state)
    good = path.read_bytes()
    n = struct.unpack("<Q", good[:8])[0]
    # Every bit of the length and the header (where the state lives), and of every third tensor byte.
    positions = list(range(8 + n)) + list(range(8 + n, len(good), 3))
    accepted = rejected = 0
    for pos in positions:
        for bit in range(8):
            flipped = bytearray(good)
            flipped[pos] ^= 1 << bit
            path.write_bytes(bytes(flipped))
            try:
                got = load(path)
            except ValueError:
                rejected += 1
                continue
            assert same(got, state), f"byte {pos} bit {bit}: accepted with a changed state"
            accepted += 1
    assert rejected + accepted == 8 * len(positions) and len(good) > 8 + n
    assert rejected > 0.99 * 8 * len(positions)  # the checksums cover the header's state and every tensor


# --- index.json -------------------------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                    max_size=4), max_leaves=15)
names = st.sampled_from(["step-00000006.safetensors", "../x", "/etc/passwd", "a/b", "", "step-6.safetensors",
                         "step-00000001.safetensors\0", ".."]) | st.text(max_size=30)
index_like = st.fixed_dictionaries({}, optional={"latest": st.none() | names, "best": st.none() | names,
                                                 "best_value": json_values, "monitor": json_values,
                                                 "kept": st.lists(names, max_size=4) | json_values})


@FUZZ
@given(value=json_values | index_like)
def test_any_index_is_valid_names_or_one_error(tmp_path_factory, value):
    folder = tmp_path_factory.mktemp("i")
    (folder / "index.json").write_text(json.dumps(value))
    try:
        index = run_index.read(folder)
    except rundir.RunDirError as e:
        assert "index.json" in str(e) and "\n" not in str(e)
        return
    for name in [index["latest"], index["best"], *index["kept"]]:
        assert name is None or (run_index.STEP_FILE.match(name) and "/" not in name)
    if isinstance(value, dict):
        assert index["latest"] == value.get("latest") and index["kept"] == value.get("kept", [])


@FUZZ
@given(text=st.text(max_size=300))
def test_any_index_text_is_one_error_at_most(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("t")
    (folder / "index.json").write_text(text)
    try:
        run_index.read(folder)
    except rundir.RunDirError as e:
        assert "\n" not in str(e)


# --- config.toml -----------------------------------------------------------------------------------------------

toml_scalars = (st.booleans() | st.integers(-2**64, 2**80) | st.floats() | st.text(max_size=12)
                | st.lists(st.integers(), max_size=3))
keys = st.sampled_from(["seed", "name", "out", "epochs", "lr", "name", "dropout", "batch_size", "warmup",
                        "num_classes", "weight_decay", "keep", "junk"]) | st.text(min_size=1, max_size=8)
tables = st.dictionaries(keys, toml_scalars, max_size=4)
configs = st.dictionaries(st.sampled_from(["model", "data", "optim", "schedule", "train", "other"]) | keys,
                          tables | toml_scalars, max_size=5)


@FUZZ
@given(raw=configs)
def test_any_config_is_loaded_as_written_or_one_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    try:
        path.write_text(io.dump_toml(raw))
    except (TypeError, ValueError):
        return
    try:
        cfg = config_mod.load(path)
    except config_mod.UsageError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    for section, table in raw.items():  # accepted: every value is the one written
        if isinstance(table, dict):
            for k, v in table.items():
                assert cfg[section][k] == v
        else:
            assert cfg[section] == table


@FUZZ
@given(text=st.text(max_size=200))
def test_any_config_text_is_one_error_at_most(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfgt") / "config.toml"
    path.write_text(text)
    try:
        config_mod.load(path)
    except config_mod.UsageError as e:
        assert "\n" not in " ".join(str(e).split("\n", 0))


# --- metrics.jsonl ---------------------------------------------------------------------------------------------

values = (st.none() | st.booleans() | st.integers(-2**62, 2**62) | st.floats(allow_nan=True)
          | st.text(max_size=8).filter(lambda s: s not in ("NaN", "nan", "Infinity", "inf", "-Infinity", "-inf")))
records = st.builds(lambda kind, step, extra: {"kind": kind, "step": step, **extra},
                    st.sampled_from(["step", "epoch", "gan"]), st.integers(0, 10**9),
                    st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in ("kind", "step")),
                                    values | st.lists(values, max_size=3), max_size=4))


@FUZZ
@given(recs=st.lists(records, max_size=6), cut=st.integers(0, 40))
def test_metrics_round_trip_and_a_cut_last_line_is_dropped(tmp_path_factory, recs, cut):
    path = tmp_path_factory.mktemp("mj") / "metrics.jsonl"
    writer = run_metrics.MetricsWriter(path)
    for r in recs:
        writer.write(r)
    writer.close()
    got = run_metrics.read(path)
    assert len(got) == len(recs) and all(same(_floats(a), _floats(b)) for a, b in zip(got, recs))
    if recs:  # a killed writer: the last line cut short is left out, nothing else changes
        data = path.read_bytes()
        last = data.rstrip(b"\n").rfind(b"\n") + 1
        path.write_bytes(data[:last + min(cut, len(data) - last - 2)])
        got = run_metrics.read(path)
        assert len(got) in (len(recs) - 1, len(recs)) and all(same(_floats(a), _floats(b))
                                                             for a, b in zip(got, recs))


def _floats(v):
    """The same values with every NaN made the one NaN metrics.jsonl can spell (its payload and sign are not
    kept: "NaN" is a NaN)."""
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_floats(x) for x in v]
    return math.nan if isinstance(v, float) and math.isnan(v) else v


@FUZZ
@given(text=st.text(max_size=300))
def test_any_metrics_text_is_records_or_one_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("mt") / "metrics.jsonl"
    path.write_text(text)
    try:
        got = run_metrics.read(path)
    except rundir.RunDirError as e:
        assert "\n" not in str(e) and "metrics.jsonl" in str(e)
        return
    assert all(isinstance(r, dict) for r in got)


def test_deep_json_is_one_error_not_a_recursion_error(tmp_path):
    for depth in (65, 900, 100_000):
        with pytest.raises(rundir.RunDirError, match="nested too deeply"):
            rundir.loads("[" * depth + "]" * depth, "x.json")
    assert rundir.loads("[" * 64 + "]" * 64, "x.json") is not None
    assert math.isnan(rundir.loads('"NaN"', "x.json"))

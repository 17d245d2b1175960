"""Checkpoints: safetensors files (read back by the reference implementation), exact round trips of nested
state, atomic writes, keep-last-K-and-best, and no non-finite checkpoint recorded as the latest."""

import json
import math

import numpy as np
import pytest

import descend
from descend import models, nn, optim
from descend.data import DataLoader, TensorDataset
from descend.train import Checkpoints, EarlyStopping, Run, Trainer
from descend.train.checkpoint import FORMAT, load, pack, save, unpack


def nested_state():
    rng = np.random.default_rng(7)
    return {
        "model": {"w": rng.normal(size=(3, 4)).astype(np.float32), "b": np.zeros(4, np.float64)},
        "ints": {0: {"step": 5.0, "exp_avg": rng.normal(size=2).astype(np.float32)}, 3: {"step": 1.0}},
        "rng": np.random.default_rng(123).bit_generator.state,  # 128-bit Python ints
        "tuple": (0.9, 0.999),
        "scalars": [np.float32(1.5), np.int64(-3), True, None, "text", 2 ** 70],
        "floats": [math.inf, -math.inf, math.nan, 0.1, 1e-320],
        "arrays": [np.arange(6, dtype=np.int64).reshape(2, 3), np.array(True), np.zeros((0, 5), np.float32),
                   np.array([1, 2], np.uint8)],
    }


def same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def test_pack_unpack_round_trip_is_exact():
    state = nested_state()
    skeleton, tensors = pack(state)
    json.dumps(skeleton, allow_nan=False)  # the skeleton is strict JSON
    assert same(unpack(json.loads(json.dumps(skeleton)), tensors), state)


def test_file_round_trip_and_reference_reader(tmp_path):
    state = nested_state()
    save(tmp_path / "c.safetensors", state)
    assert same(load(tmp_path / "c.safetensors"), state)
    st = pytest.importorskip("safetensors")
    from safetensors.numpy import load_file

    with st.safe_open(str(tmp_path / "c.safetensors"), framework="numpy") as f:
        meta = f.metadata()
    assert meta["format"] == FORMAT
    ref = load_file(str(tmp_path / "c.safetensors"))
    np.testing.assert_array_equal(ref["model/w"], state["model"]["w"])
    assert ref["model/w"].dtype == np.float32 and ref["arrays/0"].dtype == np.int64


def test_not_a_checkpoint_is_refused(tmp_path):
    descend.io.save_safetensors(tmp_path / "plain.safetensors", {"w": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="not a descend checkpoint"):
        load(tmp_path / "plain.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(ValueError, match="cut.safetensors"):
        load(tmp_path / "cut.safetensors")


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    save(tmp_path / "c.safetensors", {"model": {"w": np.ones(2, np.float32)}})
    before = (tmp_path / "c.safetensors").read_bytes()
    with pytest.raises(TypeError, match="cannot store"):
        save(tmp_path / "c.safetensors", {"model": {"w": np.ones(2, np.float32)}, "bad": object()})
    assert (tmp_path / "c.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]


def model_state(value=1.0):
    return {"model": {"w": np.full(3, value, np.float32)}}


def test_keep_last_k_and_the_best(tmp_path):
    ck = Checkpoints(tmp_path, keep=2, monitor="val_loss")
    metrics = {1: 0.9, 2: 0.5, 3: 0.7, 4: 0.8, 5: 0.6}
    for step, m in metrics.items():
        ck.save(model_state(step), step, m)
    names = sorted(p.name for p in tmp_path.glob("step-*.safetensors"))
    assert names == ["step-00000002.safetensors", "step-00000004.safetensors", "step-00000005.safetensors"]
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["latest"] == "step-00000005.safetensors"
    assert index["best"] == "step-00000002.safetensors" and index["best_value"] == 0.5
    assert load(ck.path("best"))["model"]["w"][0] == 2.0
    # A reopened manager continues from the index.
    again = Checkpoints(tmp_path, keep=2)
    again.save(model_state(6), 6, 0.4)
    assert again.path("best").name == "step-00000006.safetensors"
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000005.safetensors",
                                                               "step-00000006.safetensors"]


def test_accuracy_is_maximised_and_nan_never_best(tmp_path):
    ck = Checkpoints(tmp_path, keep=5, monitor="val_acc")
    ck.save(model_state(), 1, 0.5)
    ck.save(model_state(), 2, float("nan"))
    ck.save(model_state(), 3, 0.7)
    ck.save(model_state(), 4, 0.6)
    assert ck.path("best").name == "step-00000003.safetensors"


def test_non_finite_weights_are_never_the_latest(tmp_path):
    ck = Checkpoints(tmp_path, keep=3)
    ck.save(model_state(), 1, 0.5)
    with_nan = {"model": {"w": np.array([1.0, np.nan, 2.0], np.float32)}}
    assert ck.save(with_nan, 2, 0.1) is None
    assert ck.save({"model": {"w": np.array([np.inf], np.float32)}}, 3) is None
    assert ck.path("latest").name == "step-00000001.safetensors"
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000001.safetensors"]


def tiny_trainer(run, epochs=2, ckpt_every=3, val=True, model_name="mlp"):
    descend.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = models.build(model_name, (6,), 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return Trainer(model, opt, DataLoader(TensorDataset(x, y), 8, shuffle=True), loss_fn=nn.CrossEntropyLoss(),
                   epochs=epochs, val_loader=DataLoader(TensorDataset(x[:10], y[:10]), 5) if val else None,
                   scheduler=sched, callbacks=[EarlyStopping(patience=5)] if val else [], run=run,
                   ckpt_every=ckpt_every,
                   keep=10)


def test_trainer_checkpoints_every_n_steps_and_each_epoch_with_everything(tmp_path):
    run = Run.create(tmp_path, "r")
    t = tiny_trainer(run).fit()  # 7 batches per epoch: steps 3, 6, 7 (epoch end), 9, 12, 14 (epoch end)
    run.close()
    names = sorted(p.name for p in (run.dir / "checkpoints").glob("step-*"))
    assert names == [f"step-{s:08d}.safetensors" for s in (3, 6, 7, 9, 12, 14)]
    state = load(run.dir / "checkpoints" / "step-00000009.safetensors")
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "train_loader", "callbacks", "step", "epoch",
                          "metrics_offset", "history"}
    assert state["step"] == 9 and state["epoch"] == 1 and state["batch"] == 2
    assert state["train_loader"]["batches_yielded"] == 2
    assert state["scheduler"]["last_epoch"] == 1
    assert state["callbacks"][0][0] == "EarlyStopping" and state["callbacks"][0][1]["best"] is not None
    assert set(state["model"]) == {k for k, _ in t.model.state_dict().items()}
    assert state["optimizer"]["state"][0]["momentum_buffer"].shape == t.model.linear1.weight.shape
    assert state["rng"]["bit_generator"] == "PCG64"
    metrics = (run.dir / "metrics.jsonl").read_bytes()
    assert metrics[:state["metrics_offset"]].decode().count("\n") == 9 + 1  # 9 steps and epoch 0's record
    last = load(run.dir / "checkpoints" / "step-00000014.safetensors")
    for (name, p) in t.model.state_dict().items():
        assert last["model"][name].tobytes() == p._data.tobytes()


def test_best_checkpoint_follows_the_monitored_metric(tmp_path):
    run = Run.create(tmp_path, "r")
    t = tiny_trainer(run, epochs=4, ckpt_every=0).fit()
    run.close()
    losses = [h["val_loss"] for h in t.history]
    best_epoch = int(np.argmin(losses))
    index = json.loads((run.dir / "checkpoints" / "index.json").read_text())
    assert index["best"] == f"step-{7 * (best_epoch + 1):08d}.safetensors"
    assert index["best_value"] == losses[best_epoch]
    # Without validation data the training loss is monitored instead.
    run = Run.create(tmp_path, "noval")
    t = tiny_trainer(run, epochs=3, ckpt_every=0, val=False).fit()
    run.close()
    index = json.loads((run.dir / "checkpoints" / "index.json").read_text())
    assert index["monitor"] == "train_loss"
    assert index["best_value"] == min(h["train_loss"] for h in t.history)


def test_diverged_training_keeps_the_last_finite_checkpoint_as_latest(tmp_path):
    run = Run.create(tmp_path, "nan")
    t = tiny_trainer(run, epochs=2, ckpt_every=2)

    class Poison(descend.train.Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 5:
                trainer.model.linear1.weight._data[0, 0] = np.nan

    t.callbacks.append(Poison())
    with pytest.warns(UserWarning, match="not finite"):
        t.fit()
    run.close()
    index = json.loads((run.dir / "checkpoints" / "index.json").read_text())
    assert index["latest"] == "step-00000004.safetensors"
    assert all(np.isfinite(v).all() for v in load(run.dir / "checkpoints" / index["latest"])["model"].values())

"""Resume is bit-identical: N steps uninterrupted == stop (or SIGKILL) at step k + resume, for the final
parameters, optimizer state, learning rate and every metrics.jsonl record."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import descend
from descend import models, nn, optim
from descend.data import DataLoader, TensorDataset, random_split
from descend.train import Callback, EarlyStopping, Run, Trainer
from descend.train.checkpoint import load

ROOT = Path(__file__).resolve().parents[1]


class StopAt(Callback):
    """Stops training after step k (what a crash right after that step's checkpoint would leave)."""

    def __init__(self, k):
        self.k = k

    def on_step_end(self, trainer, logs):
        if trainer.step == self.k:
            trainer.stop_training = True


def build(run, variant, stop_at=None):
    descend.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(230, 12)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64) + (x[:, 3] > 1)
    train, val = random_split(TensorDataset(x, y), [200, 30], generator=3)
    model = models.build("mlp", (12,), 3, dropout=0.3)  # dropout: the global RNG matters
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(train, batch_size=16, shuffle=True)  # 13 batches, the last one short
    callbacks = [StopAt(stop_at)] if stop_at else []
    if variant == "onecycle":
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=4 * 7)
        options = dict(accumulate=2, clip_grad_norm=0.5, ckpt_every=2)  # 7 optimizer steps per epoch
    else:
        sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
        callbacks.append(EarlyStopping(patience=0, min_delta=10.0))  # stops after epoch 2
        options = dict(ckpt_every=5)
    return Trainer(model, opt, loader, loss_fn=nn.CrossEntropyLoss(), epochs=4, val_loader=DataLoader(val, 8),
                   scheduler=sched, callbacks=callbacks, run=run, keep=2, **options)


def final_state(trainer, run_dir):
    opt = trainer.optimizer.state_dict()
    return {
        "params": [p._data.tobytes() for p in trainer.model.parameters()],
        "opt": [(k, {n: (v._data.tobytes(), str(v.dtype)) for n, v in s.items()})
                for k, s in opt["state"].items()],
        "lr": [g["lr"] for g in trainer.optimizer.param_groups],
        "step": trainer.step,
        "metrics": (run_dir / "metrics.jsonl").read_text().splitlines(),
    }


@pytest.mark.parametrize("variant, stops", [("onecycle", [1, 4, 7, 11, 28]), ("plateau", [1, 6, 13, 19, 26])])
def test_stop_and_resume_in_process_is_bit_identical(variant, stops, tmp_path):
    run = Run.create(tmp_path, "full")
    t = build(run, variant).fit()
    run.close()
    reference = final_state(t, run.dir)
    assert reference["step"] == (28 if variant == "onecycle" else 26)  # the plateau run stops early
    for k in stops:
        run = Run.create(tmp_path, f"stop{k}")
        t = build(run, variant, stop_at=k).fit()
        run.close()
        assert t.step == k
        index = json.loads((run.dir / "checkpoints" / "index.json").read_text())
        state = load(run.dir / "checkpoints" / index["latest"])
        assert state["step"] == k
        run = Run.reopen(run.dir, state["metrics_offset"], state["step"])
        t = build(run, variant)
        t.resume(run.dir)
        t.fit()
        run.close()
        assert final_state(t, run.dir) == reference, f"stop at step {k}"


def test_resumed_metrics_are_cut_back_to_the_checkpoint(tmp_path):
    run = Run.create(tmp_path, "cut")
    t = build(run, "plateau", stop_at=8).fit()  # checkpoint at 5 (ckpt_every), then the final one at 8
    run.close()
    index = json.loads((run.dir / "checkpoints" / "index.json").read_text())
    older = load(run.dir / "checkpoints" / "step-00000005.safetensors")
    lines = (run.dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["step"] for s in lines] == list(range(1, 9))
    Run.reopen(run.dir, older["metrics_offset"], older["step"]).close()
    kept = (run.dir / "metrics.jsonl").read_text().splitlines()
    assert kept == lines[:5] and index["latest"] == "step-00000008.safetensors"


# --- a real process, really killed ------------------------------------------------------------------------

KILLER = '''
import os, signal, time
from descend import models, nn

class Net(nn.Module):
    """The built-in MLP, plus a way to die: SIGKILL itself during training forward number KILL_AT."""
    def __init__(self, shape, k):
        super().__init__()
        self.net = models.build("mlp", shape, k, dropout=0.2)
        self.calls = 0
    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == int(os.environ.get("KILL_AT", "0")):
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(float(os.environ.get("STEP_SLEEP", "0")))
        return self.net(x)

def build(shape, k):
    return Net(shape, k)
'''


def cli(tmp, *argv, env=None, wait=True):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    cmd = [sys.executable, "-m", "descend", "train", *argv]
    if not wait:
        return subprocess.Popen(cmd, cwd=tmp, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=tmp, env=e, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kill")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 10)).astype(np.float32)
    np.savez(tmp / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5))
    (tmp / "killer.py").write_text(KILLER)
    (tmp / "c.toml").write_text('[model]\nname = "killer.py:build"\n[data]\nname = "d.npz"\nbatch_size = 32\n'
                                'val_split = 0.2\n[optim]\nlr = 0.005\n[schedule]\nname = "cosine"\nwarmup = 5\n'
                                '[train]\nepochs = 4\nckpt_every = 3\nclip_grad = 1.0\n')
    p = cli(tmp, "c.toml", "--out", "full", "--quiet")  # 8 steps per epoch, 32 in all
    assert p.returncode == 0, p.stderr
    return tmp, tmp / "full" / "d-killer"


def compare_runs(a: Path, b: Path):
    """Same metrics records, same checkpoints kept, and the final checkpoint identical to the byte."""
    assert (a / "metrics.jsonl").read_text().splitlines() == (b / "metrics.jsonl").read_text().splitlines()
    ia = json.loads((a / "checkpoints" / "index.json").read_text())
    ib = json.loads((b / "checkpoints" / "index.json").read_text())
    assert ia == ib
    assert (a / "checkpoints" / ia["latest"]).read_bytes() == (b / "checkpoints" / ib["latest"]).read_bytes()
    safetensors = pytest.importorskip("safetensors.numpy")  # and read back by the reference implementation
    ta, tb = (safetensors.load_file(d / "checkpoints" / ia["latest"]) for d in (a, b))
    assert ta.keys() == tb.keys() and any(k.startswith("model/") for k in ta)
    assert all(np.array_equal(ta[k], tb[k]) and ta[k].dtype == tb[k].dtype for k in ta)


@pytest.mark.parametrize("kill_at", [2, 13])  # before the first checkpoint; mid-epoch after one
def test_sigkilled_run_resumed_by_the_cli_is_bit_identical(setup, kill_at, tmp_path):
    tmp, full = setup
    out = tmp / f"killed{kill_at}"
    p = cli(tmp, "c.toml", "--out", str(out), "--quiet", env={"KILL_AT": str(kill_at)})
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)
    run = out / "d-killer"
    if not (run / "checkpoints" / "index.json").exists():
        # Killed before the first checkpoint: resume refuses (nothing to resume from) and changes nothing.
        before = sorted(f.name for f in run.rglob("*"))
        r = cli(tmp, "--resume", str(run))
        assert r.returncode == 2 and "no checkpoints" in r.stderr
        assert sorted(f.name for f in run.rglob("*")) == before
        return
    r = cli(tmp, "--resume", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    compare_runs(full, run)
    meta = json.loads((run / "meta.json").read_text())
    assert len(meta["resumed"]) == 1


def test_killed_from_outside_at_an_arbitrary_moment(setup):
    tmp, full = setup
    out = tmp / "outside"
    p = cli(tmp, "c.toml", "--out", str(out), env={"STEP_SLEEP": "0.02"}, wait=False)
    metrics = out / "d-killer" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and metrics.read_text().count('"kind": "step"') >= 11:
            break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    run = out / "d-killer"
    # Leftovers of an interrupted write must not matter.
    (run / "checkpoints" / ".step-00000099.safetensors.abc.tmp").write_bytes(b"partial")
    r = cli(tmp, "--resume", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    compare_runs(full, run)

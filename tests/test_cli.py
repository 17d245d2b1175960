"""`descend train` / `descend evaluate`: the default recipe, the run directory, config and flags, built-in and
custom models, data sources, schedules, and evaluation from a checkpoint."""

import gzip
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import descend
from descend import models
from descend.cli import main
from descend.train import config

ROOT = Path(__file__).resolve().parents[1]


def records(run: Path, kind=None):
    out = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in out if kind is None or r["kind"] == kind]


def train(tmp, *argv):
    return main(["train", *argv, "--out", str(tmp / "runs"), "--quiet", "--no-doctor"])


def test_default_recipe_is_the_mnist1d_papers_cnn():
    cfg = config.load()
    assert (cfg["model"]["name"], cfg["data"]["name"], cfg["optim"]["name"]) == ("cnn", "mnist1d", "adam")
    assert (cfg["optim"]["lr"], cfg["data"]["batch_size"], cfg["optim"]["weight_decay"]) == (1e-2, 100, 0.0)
    # The paper runs 6,000 steps at a constant lr, which overfits (validation loss doubles after epoch 40);
    # the default is 2,400 steps with cosine decay and dropout 0.3 before the classifier.
    assert cfg["train"]["epochs"] * 4000 // cfg["data"]["batch_size"] == 2400
    assert (cfg["schedule"]["name"], cfg["model"]["dropout"]) == ("cosine", 0.3)
    args = descend.cli.parser().parse_args([])
    assert args.command is None  # `descend` alone is `descend train` (main re-parses it so)


def test_train_command_in_a_real_process_leaves_a_complete_run_directory(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "descend", "train", "--epochs", "2", "--ckpt-every", "25"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    run = tmp_path / "runs" / "mnist1d-cnn"
    lines = p.stdout.splitlines()
    assert lines[0] == "run directory: runs/mnist1d-cnn"
    assert "\r" not in p.stdout and any(s.startswith("epoch 2/2  step 72") for s in lines)  # plain lines
    assert "test accuracy" in lines[-1] and str(run.relative_to(tmp_path)) in lines[-1]
    cfg = tomllib.loads((run / "config.toml").read_text())
    assert cfg == config.merged(config.load(), **{"train.epochs": 2, "train.ckpt_every": 25})
    meta = json.loads((run / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["argv"][1:] == ["train", "--epochs", "2", "--ckpt-every", "25"]
    assert set(meta["versions"]) == {"descend", "numpy", "python"} and meta["platform"]
    recs = records(run)
    # 3,600 training samples (400 held out for validation), 36 steps per epoch.
    assert [r["kind"] for r in recs].count("step") == 72 and [r["kind"] for r in recs].count("epoch") == 2
    test = records(run, "test")[0]
    assert f"{100 * test['test_acc']:.2f}%" in lines[-1]
    index = json.loads((run / "checkpoints" / "index.json").read_text())
    assert index["latest"] == "step-00000072.safetensors"
    # Every 25 steps and at each epoch end (36, 72); the last 3 kept, and the best epoch-end one.
    assert index["best"] in ("step-00000036.safetensors", "step-00000072.safetensors")
    assert sorted(f.name for f in (run / "checkpoints").glob("step-*")) == sorted(
        {f"step-{s:08d}.safetensors" for s in (36, 50, 72)} | {index["best"]})
    assert (run / "report.html").stat().st_size > 1000 and (run / "diagnosis.json").exists()
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = ea.EventAccumulator(str(run / "tb"))
    acc.Reload()
    assert len(acc.Scalars("train/loss")) == 72 and len(acc.Scalars("epoch/val_acc")) == 2
    assert len(acc.Scalars("test/acc")) == 1


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_npz(path: Path, n=80, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (np.abs(x[:, 0]) * 2).astype(np.int64) % classes
    np.savez(path, x=x, y=y)
    return path


def test_never_overwrites_a_run(tmp_path, capsys):
    data = write_npz(tmp_path / "d.npz")
    assert train(tmp_path, "--data", str(data), "--model", "logistic", "--epochs", "1") == 0
    first = snapshot(tmp_path / "runs" / "d-logistic")
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--model", "logistic", "--epochs", "1", "--out",
                 str(tmp_path / "runs"), "--no-doctor"]) == 0
    out = capsys.readouterr().out
    assert f"run directory: {tmp_path / 'runs' / 'd-logistic-2'} ({tmp_path / 'runs' / 'd-logistic'} exists)" in out
    assert snapshot(tmp_path / "runs" / "d-logistic") == first
    assert (tmp_path / "runs" / "d-logistic-2" / "checkpoints" / "index.json").exists()


def test_flags_override_the_config_file(tmp_path):
    data = write_npz(tmp_path / "d.npz")
    (tmp_path / "c.toml").write_text(f'seed = 3\nname = "exp"\n[model]\nname = "mlp"\n[data]\nname = "{data}"\n'
                                     f'batch_size = 16\n[optim]\nname = "sgd"\nlr = 0.5\n[train]\nepochs = 2\n')
    assert train(tmp_path, str(tmp_path / "c.toml"), "--lr", "0.05", "--epochs", "1", "--optimizer", "adamw") == 0
    cfg = tomllib.loads((tmp_path / "runs" / "exp" / "config.toml").read_text())
    assert cfg["optim"] == dict(config.defaults()["optim"], name="adamw", lr=0.05)
    assert (cfg["seed"], cfg["model"]["name"], cfg["data"]["batch_size"], cfg["train"]["epochs"]) == (3, "mlp", 16, 1)
    assert len(records(tmp_path / "runs" / "exp", "step")) == math.ceil(80 / 16)


def test_evaluate_reports_the_checkpoint_test_accuracy(tmp_path, capsys):
    """Logistic regression on MNIST-1D; the accuracy is recomputed with NumPy from the safetensors file."""
    assert train(tmp_path, "--model", "logistic", "--epochs", "2", "--lr", "0.05") == 0
    run = tmp_path / "runs" / "mnist1d-logistic"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0  # the best checkpoint, as the run's test record
    result = json.loads(capsys.readouterr().out)
    assert result["step"] in (36, 72) and result["test_acc"] == records(run, "test")[0]["test_acc"]
    st = pytest.importorskip("safetensors.numpy")
    weights = st.load_file(result["checkpoint"])
    from descend.data import MNIST1D

    x, y = MNIST1D(train=False).arrays
    logits = x @ weights["model/linear.weight"].T + weights["model/linear.bias"]
    assert result["test_acc"] == np.mean(logits.argmax(1) == y)
    assert main(["evaluate", str(run), "--checkpoint", "latest"]) == 0  # a readable report
    assert "test accuracy" in capsys.readouterr().out


# --- built-in models against the MNIST-1D repository's PyTorch models ------------------------------------

torch = pytest.importorskip("torch")


class TorchConvBase(torch.nn.Module):
    """greydanus/mnist1d notebooks/models.py ConvBase."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(1, 25, 5, stride=2, padding=1)
        self.conv2 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.linear = torch.nn.Linear(125, 10)

    def forward(self, x):
        h = x.view(-1, 1, x.shape[-1])
        h = self.conv3(self.conv2(self.conv1(h).relu()).relu()).relu()
        return self.linear(h.view(h.shape[0], -1))


class TorchMLPBase(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1, self.linear2, self.linear3 = (torch.nn.Linear(40, 100), torch.nn.Linear(100, 100),
                                                    torch.nn.Linear(100, 10))

    def forward(self, x):
        h = self.linear1(x).relu()
        return self.linear3(h + self.linear2(h).relu())


class TorchGRUBase(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(1, 6, batch_first=True, bidirectional=True)
        self.linear = torch.nn.Linear(2 * 6 * 40, 10)

    def forward(self, x):
        out, _ = self.gru(x.view(*x.shape[:2], 1), torch.zeros(2, x.shape[0], 6))
        return self.linear(out.reshape(out.shape[0], -1))


@pytest.mark.parametrize("name, reference, params", [
    ("logistic", lambda: torch.nn.Linear(40, 10), 410),
    ("mlp", TorchMLPBase, 15210),
    ("cnn", TorchConvBase, 5210),
    ("gru", TorchGRUBase, 5134),
])
def test_mnist1d_models_match_the_papers_pytorch_models(name, reference, params):
    descend.manual_seed(0)
    model = models.build(name, (40,), 10)
    ref = reference()
    assert sum(p._data.size for p in model.parameters()) == sum(p.numel() for p in ref.parameters()) == params
    ours = dict(model.state_dict())
    theirs = ref.state_dict()
    if name == "logistic":
        theirs = {f"linear.{k}": v for k, v in theirs.items()}
    else:
        theirs = {k.replace("net.", ""): v for k, v in theirs.items()}
    assert set(ours) == set(theirs)
    ref.load_state_dict({k: torch.tensor(ours[k].detach().numpy()) for k in theirs} if name != "logistic" else
                        {k[len("linear."):]: torch.tensor(ours[k].detach().numpy()) for k in theirs})
    x = np.random.default_rng(0).normal(size=(5, 40)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.tensor(x)).numpy()
    with descend.no_grad():
        out = model(descend.tensor(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, shape", [("mlp28", (1, 28, 28)), ("cnn28", (1, 28, 28)), ("cnn28", (28, 28)),
                                         ("mlp28", (3, 12, 12)), ("cnn28", (3, 12, 12))])
def test_image_models_give_class_scores(name, shape):
    model = models.build(name, shape, 7, dropout=0.5)
    out = model(descend.tensor(np.zeros((2, *shape), np.float32)))
    assert out.shape == (2, 7)


# --- data sources, custom models, schedules --------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray):
    code = {np.dtype("u1"): 0x08}[array.dtype]
    head = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(head + array.tobytes()))


def test_fashion_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "fm"
    d.mkdir()
    for prefix, n in (("train", 48), ("t10k", 16)):
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28), dtype=np.uint8))
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    for model in ("mlp28", "cnn28"):
        assert train(tmp_path, "--data", f"fashion-mnist:{d}", "--model", model, "--epochs", "1",
                     "--batch-size", "16") == 0
        run = tmp_path / "runs" / f"fashion-mnist-{model}"
        assert len(records(run, "step")) == 3 and records(run, "test")


def test_csv_and_image_folder_data(tmp_path):
    rows = [f"{i % 5},{(i * 7) % 3},{i % 2}" for i in range(30)]
    (tmp_path / "t.csv").write_text("f1,f2,target\n" + "\n".join(rows) + "\n")
    (tmp_path / "c.toml").write_text('[data]\nlabel_column = "target"\nval_split = 0.2\n')
    assert train(tmp_path, str(tmp_path / "c.toml"), "--data", str(tmp_path / "t.csv"), "--model", "mlp",
                 "--epochs", "2", "--batch-size", "8") == 0
    assert "val_acc" in records(tmp_path / "runs" / "t-mlp", "epoch")[0]
    Image = pytest.importorskip("PIL.Image")
    for c in ("cat", "dog"):
        (tmp_path / "img" / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i + (100 if c == "dog" else 0), np.uint8)).save(
                tmp_path / "img" / c / f"{i}.png")
    assert train(tmp_path, "--data", str(tmp_path / "img"), "--model", "cnn28", "--epochs", "1") == 0
    assert records(tmp_path / "runs" / "img-cnn28", "epoch")[0]["train_loss"] > 0


def test_custom_model_file(tmp_path):
    data = write_npz(tmp_path / "d.npz")
    (tmp_path / "mine.py").write_text(
        "from descend import nn\n"
        "def make(input_shape, num_classes):\n"
        "    return nn.Sequential(nn.Linear(input_shape[0], 16), nn.Tanh(), nn.Linear(16, num_classes))\n")
    assert train(tmp_path, "--data", str(data), "--model", f"{tmp_path / 'mine.py'}:make", "--epochs", "1") == 0
    state = descend.train.checkpoint.load(tmp_path / "runs" / "d-mine" / "checkpoints" / "step-00000001.safetensors")
    assert state["model"]["0.weight"].shape == (16, 8) and state["model"]["2.weight"].shape == (3, 16)


def test_warmup_cosine_schedule_matches_pytorch(tmp_path):
    data = write_npz(tmp_path / "d.npz")
    assert train(tmp_path, "--data", str(data), "--model", "logistic", "--epochs", "3", "--batch-size", "10",
                 "--schedule", "cosine", "--warmup", "5", "--lr", "0.1") == 0
    lrs = [r["lr"] for r in records(tmp_path / "runs" / "d-logistic", "step")]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=1e-3, total_iters=5),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=24 - 5)], milestones=[5])
    expected = []
    for _ in range(24):
        expected.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("schedule", ["onecycle", "cyclic", "step", "exponential", "plateau"])
def test_every_schedule_trains(schedule, tmp_path):
    data = write_npz(tmp_path / "d.npz")
    (tmp_path / "c.toml").write_text("[schedule]\nstep_size = 1\ngamma = 0.5\n")
    assert train(tmp_path, str(tmp_path / "c.toml"), "--data", str(data), "--model", "logistic", "--epochs", "3", "--batch-size", "20",
                 "--schedule", schedule, "--clip-grad", "1.0", "--weight-decay", "1e-4", "--l1", "1e-5") == 0
    lrs = [r["lr"] for r in records(tmp_path / "runs" / "d-logistic", "step")]
    assert len(lrs) == 12 and all(math.isfinite(v) and v > 0 for v in lrs)
    if schedule != "plateau":
        assert len(set(lrs)) > 1


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out


def test_default_command_reaches_the_published_accuracy(tmp_path):
    """The MNIST-1D paper reports 94% test accuracy for its CNN; the default recipe (10 % of the training set
    held out for validation and model selection, the test set read once at the end) gives 94.3 / 92.8 / 92.6 %
    for seeds 0-2 with one BLAS thread (about 10 s of training). Another thread count sums in another order and
    lands elsewhere in the same spread (92.5 % for seed 0 with OpenBLAS's default threads), so the bound is the
    spread's floor. The real-process version of tests/test_zoo.py's default run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "descend", "train", "--no-doctor"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr
    test = records(tmp_path / "runs" / "mnist1d-cnn", "test")[0]
    assert test["test_acc"] >= 0.92, p.stdout.splitlines()[-1]

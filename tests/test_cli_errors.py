"""Bad input to `descend train` / `descend evaluate`: one line on stderr naming the culprit, exit code 2, no
traceback, and nothing written or changed on disk."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from descend.cli import main

ROOT = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict:
    """{relative path: sha256} of every file and directory under root."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def write_npz(path: Path, n: int = 60, features: int = 8, classes: int = 3, **edit) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = np.arange(n) % classes
    for k, v in edit.items():
        if k == "x":
            x = v
        elif k == "y":
            y = v
    np.savez(path, x=x, y=y)
    return path


def write_csv(path: Path, rows: list[str], header: str = "a,b,label") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def write_model(path: Path, body: str) -> Path:
    path.write_text("from descend import nn\n" + body)
    return path


def make_run(root: Path) -> Path:
    """A finished tiny run directory (logistic on an .npz file) to resume or evaluate."""
    data = write_npz(root / "ok.npz")
    code = main(["train", "--data", str(data), "--model", "logistic", "--epochs", "2", "--batch-size", "20",
                 "--out", str(root / "runs"), "--quiet", "--no-doctor"])
    assert code == 0
    return root / "runs" / "ok-logistic"


# Each case: (setup(tmp) -> argv, words the message must contain).
def _cfg(text):
    def setup(tmp):
        (tmp / "c.toml").write_text(text)
        return ["train", str(tmp / "c.toml")]
    return setup


def _flags(*argv):
    return lambda tmp: ["train", *argv]


def _data(fn):
    return lambda tmp: ["train", "--data", str(fn(tmp)), "--model", "logistic"]


def _model(body):
    def setup(tmp):
        write_npz(tmp / "d.npz")
        return ["train", "--data", str(tmp / "d.npz"), "--model", f"{write_model(tmp / 'm.py', body)}:build"]
    return setup


def _resume(prepare):
    def setup(tmp):
        return ["train", "--resume", str(prepare(tmp))]
    return setup


def _corrupt_latest(tmp):
    run = make_run(tmp)
    ckpt = sorted((run / "checkpoints").glob("step-*.safetensors"))[-1]
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    return run


def _no_checkpoints(tmp):
    run = make_run(tmp)
    for f in (run / "checkpoints").iterdir():
        f.unlink()
    return run


def _bad_config_in_run(tmp):
    run = make_run(tmp)
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("epochs = 2", "epochs = -2"))
    return run


CASES = {
    "config typo": (_cfg("[optim]\nlrr = 0.1\n"), ["c.toml", "optim.lrr", "did you mean 'optim.lr'"]),
    "key in wrong section": (_cfg("[train]\nlr = 0.1\n"), ["train.lr", "did you mean 'optim.lr'"]),
    "section typo": (_cfg("[optm]\nlr = 0.1\n"), ["[optm]", "did you mean [optim]"]),
    "top-level typo": (_cfg("sed = 3\n"), ["'sed'", "did you mean 'seed'"]),
    "wrong type string": (_cfg("[train]\nepochs = \"ten\"\n"), ["c.toml", "train.epochs", "integer", "'ten'"]),
    "wrong type bool": (_cfg("[data]\nbatch_size = true\n"), ["data.batch_size", "integer"]),
    "wrong type float for int": (_cfg("[train]\nepochs = 2.5\n"), ["train.epochs", "integer", "2.5"]),
    "negative lr in file": (_cfg("[optim]\nlr = -0.1\n"), ["optim.lr", "> 0"]),
    "section not a table": (_cfg("optim = 3\n"), ["[optim]", "table"]),
    "invalid toml": (_cfg("[train\nepochs = 3\n"), ["c.toml", "invalid TOML", "line 1"]),
    "config missing": (lambda tmp: ["train", str(tmp / "nope.toml")], ["nope.toml", "not found"]),
    "config is a directory": (lambda tmp: ["train", str(tmp)], ["is a directory"]),
    "flag not a number": (_flags("--lr", "abc"), ["--lr", "'abc'"]),
    "flag typo": (_flags("--lrr", "3"), ["--lrr", "did you mean --lr"]),
    "epochs zero": (_flags("--epochs", "0"), ["--epochs", "> 0"]),
    "lr nan": (_flags("--lr", "nan"), ["--lr", "finite"]),
    "dropout out of range": (_flags("--dropout", "1.5"), ["--dropout", "[0, 1)"]),
    "negative seed": (_flags("--seed", "-1"), ["--seed", ">= 0"]),
    "optimizer typo": (_flags("--optimizer", "adma"), ["--optimizer", "did you mean 'adam'"]),
    "schedule typo": (_flags("--schedule", "cosin"), ["--schedule", "did you mean 'cosine'"]),
    "warmup with step schedule": (_flags("--schedule", "step", "--warmup", "10"), ["--warmup", "step"]),
    "model typo": (_flags("--model", "cnnn"), ["'cnnn'", "did you mean 'cnn'"]),
    "data typo": (_flags("--data", "mnist1"), ["'mnist1'", "did you mean 'mnist1d'"]),
    "mixture for train": (_flags("--data", "ring8"), ["ring8", "descend gan"]),
    "image model on 1-D data": (_flags("--model", "cnn28"), ["cnn28", "(40,)"]),
    "fashion-mnist dir missing": (_flags("--data", "fashion-mnist:/no/such/dir"), ["/no/such/dir", "not found"]),
    "data file missing": (_data(lambda t: t / "missing.npz"), ["missing.npz", "not found"]),
    "unsupported suffix": (_data(lambda t: (t / "d.txt").write_text("1,2\n") and t / "d.txt"), ["d.txt", ".txt"]),
    "corrupt npz": (_data(lambda t: (t / "bad.npz").write_bytes(b"PK\x03\x04garbage") and t / "bad.npz"),
                    ["bad.npz"]),
    "npz without labels": (_data(lambda t: np.savez(t / "nolab.npz", x=np.zeros((5, 2))) or t / "nolab.npz"),
                           ["nolab.npz", "labels"]),
    "nan in npz inputs": (_data(lambda t: write_npz(t / "nan.npz", x=np.where(np.arange(480).reshape(60, 8) == 139,
                                                                            np.nan, 1.0))),
                          ["nan.npz", "sample 17"]),
    "negative label": (_data(lambda t: write_npz(t / "neg.npz", y=np.r_[np.zeros(30), -1, np.ones(29)])),
                       ["neg.npz", "sample 30", ">= 0"]),
    "fractional label": (_data(lambda t: write_npz(t / "frac.npz", y=np.r_[np.zeros(59), 0.5])),
                         ["frac.npz", "sample 59"]),
    "label out of range": (lambda t: ["train", "--data", str(write_npz(t / "d.npz")), "--model", "logistic",
                                      str(_cfg("[data]\nnum_classes = 2\n")(t)[1])],
                           ["d.npz", "sample 2", "num_classes=2"]),
    "csv label column missing": (_data(lambda t: write_csv(t / "d.csv", ["1,2,0"], header="a,b,lable")),
                                 ["d.csv", "'label'", "did you mean 'lable'"]),
    "csv nan cell": (_data(lambda t: write_csv(t / "d.csv", ["1,2,0", "3,nan,1", "4,5,1"])),
                     ["d.csv", "line 3", "'b'"]),
    "csv text cell": (_data(lambda t: write_csv(t / "d.csv", ["1,2,0", "3,4,1", "x,5,1"])),
                      ["d.csv", "line 4", "'a'"]),
    "csv bad label": (_data(lambda t: write_csv(t / "d.csv", ["1,2,0", "3,4,cat"])),
                      ["d.csv", "line 3", "label"]),
    "single class": (_data(lambda t: write_npz(t / "one.npz", y=np.zeros(60))), ["one.npz", "single class"]),
    "val split too big": (lambda t: ["train", "--data", str(write_npz(t / "d.npz", n=6)), "--model", "logistic",
                                     str(_cfg("[data]\nval_split = 0.95\n")(t)[1])], ["val_split"]),
    "early stopping without validation": (
        lambda t: ["train", "--data", str(write_npz(t / "d.npz")), "--model", "logistic",
                   str(_cfg("[data]\nval_split = 0\n[train]\nearly_stopping = 3\n")(t)[1])], ["monitor", "val_loss"]),
    "conv model on flat features": (lambda t: ["train", "--data", str(write_npz(t / "d.npz", features=2)),
                                               "--model", "cnn"], ["cnn", "length"]),
    "1-D model on images": (lambda t: ["train", "--data", str(np.savez(t / "im.npz", x=np.zeros((6, 1, 8, 8)),
                                                                       y=np.arange(6) % 2) or t / "im.npz"),
                                       "--model", "cnn"], ["'cnn'", "(1, 8, 8)"]),
    "model file missing": (_flags("--model", "nowhere.py:build"), ["nowhere.py", "not found"]),
    "model file syntax error": (_model("def build(shape, k):\n    return nn.Linear(8, k\n"), ["m.py", "syntax"]),
    "model file without build": (_model("def make(shape, k):\n    return nn.Linear(8, k)\n"),
                                 ["m.py", "no function 'build'", "make"]),
    "model build raises": (_model("def build(shape, k):\n    raise ValueError('no such width')\n"),
                           ["build", "no such width"]),
    "model build returns non-module": (_model("def build(shape, k):\n    return 42\n"), ["Module", "int"]),
    "model output shape wrong": (_model("def build(shape, k):\n    return nn.Linear(8, 7)\n"),
                                 ["(2, 7)", "(2, 3)"]),
    "model input shape wrong": (_model("def build(shape, k):\n    return nn.Linear(5, k)\n"),
                                ["does not fit", "(8,)"]),
    "out is a file": (lambda t: (t / "f").write_text("x") and ["train", "--data", str(write_npz(t / "d.npz")),
                                                                "--model", "logistic", "--out", str(t / "f")],
                      ["--out", "not a directory"]),
    "resume missing dir": (lambda t: ["train", "--resume", str(t / "nothere")], ["nothere", "no such run"]),
    "resume not a run dir": (_resume(lambda t: t), ["not a run directory", "config.toml"]),
    "resume without checkpoints": (_resume(_no_checkpoints), ["no checkpoints"]),
    "resume corrupt checkpoint": (_resume(_corrupt_latest), ["step-", ".safetensors"]),
    "resume with bad config": (_resume(_bad_config_in_run), ["config.toml", "train.epochs"]),
    "resume with extra flags": (lambda t: ["train", "--resume", str(make_run(t)), "--lr", "0.1"],
                                ["--resume", "--lr"]),
    "evaluate missing dir": (lambda t: ["evaluate", str(t / "nothere")], ["nothere", "no such run"]),
    "evaluate missing checkpoint file": (lambda t: ["evaluate", str(make_run(t)), "--checkpoint",
                                                    str(t / "x.safetensors")], ["x.safetensors"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(name, tmp_path, capsys, monkeypatch):
    setup, words = CASES[name]
    monkeypatch.chdir(tmp_path)
    argv = setup(tmp_path)
    if argv[0] == "train" and "--resume" not in argv and "--out" not in argv:
        argv += ["--out", str(tmp_path / "runs")]
    capsys.readouterr()
    before = snapshot(tmp_path)
    code = main(argv + (["--quiet", "--no-doctor"] if argv[0] == "train" and "--resume" not in argv else []))
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0], err
    assert "Traceback" not in err and out == ""
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert snapshot(tmp_path) == before  # nothing created, written or changed


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("argv, words", [
    (["train", "--model", "cnnn"], ["did you mean 'cnn'"]),
    (["train", "--lr", "x"], ["--lr"]),
    (["train", "--resume", "/no/such/run"], ["/no/such/run"]),
])
def test_a_real_process_prints_one_line_and_exits_2(argv, words, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "descend", *argv], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2
    assert p.stdout == "" and "Traceback" not in p.stderr
    lines = p.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and all(w in lines[0] for w in words), p.stderr
    assert list(tmp_path.iterdir()) == []

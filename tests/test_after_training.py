"""After training (issue 21): validation held out of the training set and the test set read once at the end;
`descend evaluate` metrics against an independent NumPy computation; `descend predict` on every input kind
against `descend.load_run(...)`; `descend export` read back by onnxruntime and by PyTorch; self-contained
runs (absolute paths, hashes, the model file copied)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import descend
from descend.cli import main

ROOT = Path(__file__).resolve().parents[1]


def records(run: Path, kind=None):
    out = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in out if kind is None or r["kind"] == kind]


def cli(cwd, *argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "descend", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def train(tmp, *argv):
    return main(["train", *argv, "--out", str(tmp / "runs"), "--quiet", "--no-doctor"])


@pytest.fixture(scope="module")
def mnist1d_run(tmp_path_factory):
    """Logistic regression on MNIST-1D, 3 epochs, trained by a real `descend train` process."""
    tmp = tmp_path_factory.mktemp("m1d")
    p = cli(tmp, "train", "--model", "logistic", "--epochs", "3", "--lr", "0.05", "--no-doctor")
    assert p.returncode == 0, p.stderr
    return tmp / "runs" / "mnist1d-logistic", p.stdout


def test_validation_is_held_out_of_train_and_the_test_set_is_read_once_at_the_end(mnist1d_run):
    from descend.data import MNIST1D
    from descend.train.checkpoint import load

    run, stdout = mnist1d_run
    kinds = [r["kind"] for r in records(run)]
    assert kinds.count("test") == 1 and kinds[-1] == "test"  # one test record, after every epoch
    assert not any(k.startswith("test") for r in records(run, "epoch") + records(run, "step") for k in r)
    # The epoch's val_loss is the model on 400 training samples (10 %, stratified: each class's share by the
    # largest-remainder method, drawn with the seed), recomputed in NumPy from the checkpoint; the test loss
    # of the same weights differs.
    x, y = MNIST1D(train=True).arrays
    xt, yt = MNIST1D(train=False).arrays
    share = np.bincount(y) * 0.1
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[:400 - take.sum()]] += 1
    assert take.sum() == 400 and set(take) <= {39, 40, 41}
    rng = np.random.default_rng(0)
    held = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in enumerate(take)]))
    index = json.loads((run / "checkpoints" / "index.json").read_text())
    w = load(run / "checkpoints" / index["latest"])["model"]

    def nll(xs, ys):
        z = xs.astype(np.float64) @ w["linear.weight"].T.astype(np.float64) + w["linear.bias"]
        z -= z.max(1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(ys)), ys]))

    last = records(run, "epoch")[-1]
    assert last["val_loss"] == pytest.approx(nll(x[held], y[held]), rel=1e-5)
    assert abs(last["val_loss"] - nll(xt, yt)) > 1e-3
    # The test record scores the best checkpoint by validation loss.
    best = load(run / "checkpoints" / index["best"])
    w = best["model"]
    assert records(run, "test")[0]["test_loss"] == pytest.approx(nll(xt, yt), rel=1e-5)
    assert best["step"] == min(records(run, "epoch"), key=lambda r: r["val_loss"])["step"]
    assert "test accuracy" in stdout.splitlines()[-1]
    assert "Test set" in (run / "report.html").read_text()


def test_evaluate_from_another_directory_matches_an_independent_confusion_matrix(mnist1d_run, tmp_path):
    from descend.data import MNIST1D
    from descend.train.checkpoint import load

    run, _ = mnist1d_run
    p = cli(tmp_path, "evaluate", str(run), "--json")  # a different working directory than training's
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    xt, yt = MNIST1D(train=False).arrays
    w = load(Path(m["checkpoint"]))["model"]
    scores = xt @ w["linear.weight"].T + w["linear.bias"]
    pred = scores.argmax(1)
    cm = np.zeros((10, 10), np.int64)
    for t, q in zip(yt, pred):
        cm[t, q] += 1
    assert np.array_equal(np.array(m["confusion_matrix"]), cm) and cm.sum() == len(yt) == 1000
    for c in range(10):  # precision, recall and F1 from their definitions
        tp, fp, fn = cm[c, c], cm[:, c].sum() - cm[c, c], cm[c].sum() - cm[c, c]
        prec, rec = tp / (tp + fp), tp / (tp + fn)
        row = m["per_class"][c]
        assert (row["precision"], row["recall"], row["support"]) == (pytest.approx(prec), pytest.approx(rec),
                                                                     cm[c].sum())
        assert row["f1"] == pytest.approx(2 * prec * rec / (prec + rec))
    assert m["macro_f1"] == pytest.approx(np.mean([r["f1"] for r in m["per_class"]]))
    top5 = np.argsort(-scores, axis=1)[:, :5]
    assert m["top5_acc"] == pytest.approx(np.mean((top5 == yt[:, None]).any(1)))
    assert m["test_acc"] == m["acc"] == pytest.approx(np.mean(pred == yt))
    text = cli(tmp_path, "evaluate", str(run)).stdout
    assert "macro-F1" in text and "confusion matrix" in text


def check_predictions(run: Path, data, x_model: np.ndarray, tmp: Path, capsys):
    """predict --out CSV gives softmax(load_run(run).model(x)) with the header index,prediction,p_<class>."""
    loaded = descend.load_run(run)
    with descend.no_grad():
        scores = loaded.model(descend.tensor(x_model)).numpy().astype(np.float64)
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    out = tmp / "pred.csv"
    assert main(["predict", str(run), "--data", str(data), "--out", str(out), "--batch-size", "3"]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["index", "prediction"] + [f"p_{c}" for c in loaded.classes]
    probs = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-12)
    assert [r[1] for r in rows[1:]] == [loaded.classes[i] for i in expected.argmax(1)]
    capsys.readouterr()
    assert main(["predict", str(run), "--data", str(data)]) == 0  # a console table
    assert "prediction" in capsys.readouterr().out


def test_predict_on_arrays_agrees_with_load_run(mnist1d_run, tmp_path, capsys):
    run, _ = mnist1d_run
    x = np.random.default_rng(1).normal(size=(7, 40)).astype(np.float32)
    np.save(tmp_path / "batch.npy", x)
    np.save(tmp_path / "one.npy", x[0])  # one raw MNIST-1D-shaped sample
    np.savez(tmp_path / "b.npz", x=x, y=np.zeros(7, np.int64))
    header = ",".join(f"f{i}" for i in range(40))
    np.savetxt(tmp_path / "b.csv", x, delimiter=",", header=header, comments="", fmt="%.9g")
    labelled = np.concatenate([x[:, :3], np.zeros((7, 1)), x[:, 3:]], axis=1)  # a label column is dropped
    np.savetxt(tmp_path / "lab.csv", labelled, delimiter=",", comments="", fmt="%.9g",
               header=",".join([f"f{i}" for i in range(3)] + ["label"] + [f"f{i}" for i in range(3, 40)]))
    for name, xm in (("batch.npy", x), ("one.npy", x[:1]), ("b.npz", x), ("b.csv", x), ("lab.csv", x)):
        check_predictions(run, tmp_path / name, xm, tmp_path, capsys)


def test_predict_on_images_applies_the_training_preprocessing(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (tmp_path / "img" / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "img" / c / f"{i}.png")
    assert train(tmp_path, "--data", str(tmp_path / "img"), "--model", "cnn28", "--epochs", "1") == 0
    run = tmp_path / "runs" / "img-cnn28"
    assert descend.load_run(run).classes == ["cat", "dog"]
    new = tmp_path / "new"
    new.mkdir()
    big = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)  # RGB and twice the size: made L and 8x8
    Image.fromarray(big).save(new / "a.png")
    Image.fromarray(big[:8, :8, 0]).save(new / "b.png")
    expected = [np.asarray(Image.fromarray(big).convert("L").resize((8, 8), Image.BILINEAR), np.float32),
                big[:8, :8, 0].astype(np.float32)]
    x = (np.stack(expected) / np.float32(255))[:, None]
    check_predictions(run, new, x, tmp_path, capsys)
    check_predictions(run, new / "b.png", x[1:], tmp_path, capsys)


def test_inputs_that_do_not_fit_stop_with_one_line_and_exit_2(mnist1d_run, tmp_path):
    run, _ = mnist1d_run
    np.save(tmp_path / "bad.npy", np.zeros((3, 41), np.float32))
    p = cli(tmp_path, "predict", str(run), "--data", str(tmp_path / "bad.npy"))
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1
    assert "(41,)" in p.stderr and "(40,)" in p.stderr


def test_export_onnx_and_safetensors(mnist1d_run, tmp_path):
    run, _ = mnist1d_run
    loaded = descend.load_run(run)
    x = np.random.default_rng(2).normal(size=(5, 40)).astype(np.float32)
    with descend.no_grad():
        expected = loaded.model(descend.tensor(x)).numpy()
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "w.safetensors")]) == 0
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    twin = torch.nn.Linear(40, 10)
    twin.load_state_dict({k.split(".", 1)[1]: v for k, v in st.load_file(str(tmp_path / "w.safetensors")).items()})
    with torch.no_grad():
        np.testing.assert_allclose(twin(torch.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (got,) = session.run(None, {"input": x})  # a batch of 5 though exported with 1: dynamic batch axis
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


MODEL = '''from descend import nn
def build(input_shape, num_classes):
    return nn.Sequential(nn.Linear(input_shape[0], 16), nn.Tanh(), nn.Linear(16, num_classes))
'''


def test_a_run_keeps_its_model_file_and_data_paths(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0))
    (tmp_path / "mine.py").write_text(MODEL)
    p = cli(tmp_path, "train", "--data", "d.npz", "--model", "mine.py", "--epochs", "2", "--no-doctor", "--quiet")
    assert p.returncode == 0, p.stderr
    run = tmp_path / "runs" / "d-mine"
    sources = json.loads((run / "sources.json").read_text())
    assert Path(sources["data"]["path"]).is_absolute() and sources["data"]["path"] == str(tmp_path / "d.npz")
    assert (run / "model.py").read_text() == MODEL
    before = cli(ROOT, "evaluate", str(run), "--json")
    assert before.returncode == 0 and before.stderr == "", before.stderr
    assert json.loads(before.stdout)["split"] == "val"  # user data: the held-out validation split
    (tmp_path / "mine.py").write_text(MODEL.replace("16", "32").replace("Tanh", "ReLU"))
    after = cli(ROOT, "evaluate", str(run), "--json")  # from another directory, after editing the file
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert "mine.py has changed since training" in after.stderr and "run's copy" in after.stderr
    (tmp_path / "mine.py").unlink()
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    changed = cli(ROOT, "evaluate", str(run), "--json")
    assert changed.returncode == 0 and "d.npz has changed since training" in changed.stderr
    assert "mine.py no longer exists; using the run's copy" in changed.stderr
    resumed = cli(ROOT, "train", "--resume", str(run), "--epochs", "3", "--quiet", "--no-doctor")
    # The changed data has 2 classes, not 3: resume says the data changed, then refuses the checkpoint.
    assert "d.npz has changed since training" in resumed.stderr and "does not match" in resumed.stderr
    assert resumed.returncode == 2


def test_fit_accepts_metric_names_and_callables():
    from descend import models, nn, optim
    from descend.data import DataLoader, TensorDataset
    from descend.train import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    descend.manual_seed(0)
    model = models.build("logistic", (4,), 3)

    def error_rate(scores, targets):
        return float(np.mean(scores.argmax(1) != targets))

    val = DataLoader(TensorDataset(x[:20], y[:20]), batch_size=7)
    t = fit(model, optim.SGD(model.parameters(), lr=0.1), DataLoader(TensorDataset(x, y), batch_size=10),
            loss_fn=nn.CrossEntropyLoss(), epochs=2, val_loader=val, metrics=["acc", "macro_f1", error_rate])
    logs = t.history[-1]
    assert logs["val_error_rate"] == pytest.approx(1 - logs["val_acc"])
    with descend.no_grad():
        pred = model(descend.tensor(x[:20])).numpy().argmax(1)
    f1 = []
    for c in range(3):
        tp, fp, fn = np.sum((pred == c) & (y[:20] == c)), np.sum((pred == c) & (y[:20] != c)), \
            np.sum((pred != c) & (y[:20] == c))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    assert logs["val_macro_f1"] == pytest.approx(np.mean(f1))
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        fit(model, optim.SGD(model.parameters(), lr=0.1), val, loss_fn=nn.CrossEntropyLoss(), epochs=1,
            metrics=["f2"])


def test_val_split_zero_is_noted_and_validation_never_uses_test(tmp_path, capsys):
    assert main(["train", "--model", "logistic", "--epochs", "1", "--val-split", "0", "--out",
                 str(tmp_path / "runs"), "--no-doctor", "--quiet"]) == 0
    assert "no model selection" in capsys.readouterr().out
    run = tmp_path / "runs" / "mnist1d-logistic"
    assert not any(k.startswith("val_") for k in records(run, "epoch")[0])
    assert len(records(run, "step")) == 40 and records(run, "test")  # all 4,000 training samples, 40 steps


def test_first_contact_slips(tmp_path, capsys):
    import descend.cli

    assert main([]) == 0 and "train" in capsys.readouterr().out  # help, not a 60-epoch run
    p = cli(tmp_path, "--version")
    assert p.returncode == 0 and p.stdout.strip() == f"descend {descend.__version__}"
    assert main(["train", "--learning-rate", "0.1"]) == 2
    assert "did you mean --lr?" in capsys.readouterr().err
    (tmp_path / "c.toml").write_text("[optim]\nlearning_rate = 0.1\n")
    assert main(["train", str(tmp_path / "c.toml")]) == 2
    assert "did you mean 'optim.lr'?" in capsys.readouterr().err
    assert not list(tmp_path.glob("runs"))


def test_a_diverged_run_exits_3_and_a_finished_run_is_not_resumed(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    p = cli(tmp_path, "train", "--data", "d.npz", "--model", "mlp", "--optimizer", "sgd", "--lr", "500",
            "--epochs", "3", "--quiet")
    assert p.returncode == 3 and "diverged" in p.stderr
    assert (tmp_path / "runs" / "d-mlp" / "report.html").exists()
    assert train(tmp_path, "--data", str(tmp_path / "d.npz"), "--model", "logistic", "--epochs", "1") == 0
    run = tmp_path / "runs" / "d-logistic"
    p = cli(tmp_path, "train", "--resume", str(run))
    assert p.returncode == 0 and "finished" in p.stdout and len(records(run, "epoch")) == 1
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet", "--no-doctor"]) == 0  # extend it
    assert [r["epoch"] for r in records(run, "epoch")] == [0, 1, 2] and "epochs = 3" in (run / "config.toml").read_text()
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 2  # shortening is refused


def test_fit_shows_progress_and_returns_a_keras_style_history(capsys):
    from descend import models, nn, optim
    from descend.data import DataLoader, TensorDataset
    from descend.train import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = models.build("logistic", (4,), 2)
    loader = DataLoader(TensorDataset(x, y), batch_size=10)
    t = fit(model, optim.SGD(model.parameters(), lr=0.1), loader, loss_fn=nn.CrossEntropyLoss(), epochs=3,
            val_loader=loader)
    lines = capsys.readouterr().out.splitlines()
    assert [s.split()[:2] for s in lines] == [["epoch", "1/3"], ["epoch", "2/3"], ["epoch", "3/3"]]
    assert "eta" in lines[0] and "eta" not in lines[-1]
    h = t.history.history
    assert h["val_loss"] == [logs["val_loss"] for logs in t.history] and len(h["train_acc"]) == 3
    assert t.history.epoch == [0, 1, 2]
    fit(model, optim.SGD(model.parameters(), lr=0.1), loader, loss_fn=nn.CrossEntropyLoss(), epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_export_of_the_default_cnn_into_a_pytorch_twin_and_onnxruntime(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    assert train(tmp_path, "--epochs", "1") == 0  # the default model, MNIST-1D's CNN
    run = tmp_path / "runs" / "mnist1d-cnn"

    class Twin(torch.nn.Module):  # the MNIST-1D repository's ConvBase, written for PyTorch
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv1d(1, 25, 5, stride=2, padding=1)
            self.conv2 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.conv3 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.linear = torch.nn.Linear(125, 10)

        def forward(self, x):
            h = self.conv3(self.conv2(self.conv1(x.view(-1, 1, 40)).relu()).relu()).relu()
            return self.linear(h.flatten(1))

    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "cnn.safetensors")]) == 0
    twin = Twin()
    twin.load_state_dict(st.load_file(str(tmp_path / "cnn.safetensors")))  # strict: the same keys and shapes
    x = np.random.default_rng(3).normal(size=(6, 40)).astype(np.float32)
    with descend.no_grad():
        expected = descend.load_run(run).model(descend.tensor(x)).numpy()
    with torch.no_grad():
        np.testing.assert_allclose(twin(torch.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "--out", str(tmp_path / "cnn.onnx")]) == 0  # onnx is the default format
    (got,) = ort.InferenceSession(str(tmp_path / "cnn.onnx")).run(None, {"input": x})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_predict_on_images_for_a_fashion_mnist_run(tmp_path, capsys):
    """A Fashion-MNIST run (IDX files of 28x28 uint8 images) predicts on PNGs of the same pixels exactly as on
    the dataset's arrays (/255, channels first), with the class names in the CSV header."""
    import gzip
    import struct

    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    d = tmp_path / "fm"
    d.mkdir()
    images = {}
    for prefix, n in (("train", 40), ("t10k", 10)):
        images[prefix] = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        for kind, a in (("images-idx3", images[prefix]), ("labels-idx1", (np.arange(n) % 10).astype(np.uint8))):
            head = bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", s) for s in a.shape)
            (d / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(head + a.tobytes()))
    assert train(tmp_path, "--data", f"fashion-mnist:{d}", "--model", "mlp28", "--epochs", "1") == 0
    run = tmp_path / "runs" / "fashion-mnist-mlp28"
    (tmp_path / "png").mkdir()
    for i, a in enumerate(images["t10k"][:4]):
        Image.fromarray(a).save(tmp_path / "png" / f"{i}.png")
    x = (images["t10k"][:4].astype(np.float32) / np.float32(255))[:, None]
    check_predictions(run, tmp_path / "png", x, tmp_path, capsys)
    header = (tmp_path / "pred.csv").read_text().splitlines()[0]
    assert header.startswith("index,prediction,p_T-shirt/top,p_Trouser,")

"""The LR range test: smoothing and suggestion rules by hand, state restored, a real problem, the command."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

import descend
from descend import backend, nn, optim
from descend.data import DataLoader, TensorDataset
from descend.data.mnist1d import mnist1d
from descend.cli import doctor as commands
from descend.doctor.lr_find import lr_find, smooth, suggest


def test_smoothing_is_the_bias_corrected_average():
    # beta = 0.5: a = 0.5, 1.25, 2.125; divided by 1 - 0.5^k = 0.5, 0.75, 0.875
    assert smooth([1.0, 2.0, 3.0], smooth_f=0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    # bias correction makes a constant stream come out unchanged from the first value on
    assert smooth([3.0] * 20, smooth_f=0.05) == pytest.approx([3.0] * 20)


def test_suggestions_on_a_known_curve():
    lrs = list(np.geomspace(1e-6, 1.0, 61))  # 10 points per decade
    x = np.log10(lrs)
    curve = 2.0 - np.tanh(2 * (x + 3))  # falls fastest at lr = 1e-3
    curve = np.where(x > -1.5, curve + 40 * (x + 1.5) ** 2, curve)  # and rises after 10^-1.5
    best, steep, low = suggest(lrs, list(curve))
    assert steep == pytest.approx(1e-3)
    assert low == pytest.approx(lrs[int(np.argmin(curve))] / 10)
    assert best == min(steep, low)
    assert suggest(lrs, list(np.linspace(1, 2, 61))) == (None, None, None)  # never fell: no suggestion


def _problem(seed: int = 0):
    d = mnist1d()
    x, y = d["x"][:1500].astype(np.float32), d["y"][:1500]
    loader = DataLoader(TensorDataset(x, y), batch_size=50, shuffle=True, generator=seed)
    backend.manual_seed(seed)
    model = nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
    return model, loader


def test_the_sweep_is_exponential_and_everything_is_restored():
    model, loader = _problem()
    opt = optim.Adam(model.parameters(), 1e-3)
    # some optimizer state, a loader in the middle of an epoch, a model in eval mode
    for inputs, targets in loader:
        nn.CrossEntropyLoss()(model(inputs), targets).backward()
        opt.step()
        break
    model.eval()
    before = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()), backend.get_rng_state(),
              loader.state_dict())
    r = lr_find(model, opt, loader, nn.CrossEntropyLoss(), start_lr=1e-6, end_lr=1e-2, num_iter=20)
    assert r.lrs[0] == pytest.approx(1e-6) and r.lrs[-1] == pytest.approx(1e-2)
    assert np.allclose(np.diff(np.log(r.lrs)), np.log(1e4) / 19)
    assert r.diverged_lr is None and len(r.losses) == 20
    for k, v in before[0].items():
        np.testing.assert_array_equal(model.state_dict()[k]._data if hasattr(model.state_dict()[k], "data")
                                      else model.state_dict()[k], v._data if hasattr(v, "data") else v)
    after = opt.state_dict()
    assert after["param_groups"] == before[1]["param_groups"]
    for i, st in before[1]["state"].items():
        for name, value in st.items():
            np.testing.assert_array_equal(np.asarray(after["state"][i][name]), np.asarray(value))
    assert backend.get_rng_state() == before[2] and loader.state_dict() == before[3]
    assert model.training is False


def _train_loss(lr: float, steps: int = 120) -> float:
    model, loader = _problem(seed=1)
    opt = optim.SGD(model.parameters(), lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    step = 0
    with np.errstate(all="ignore"):
        while step < steps:
            for inputs, targets in loader:
                opt.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                opt.step()
                losses.append(float(loss.item()))
                step += 1
                if step == steps:
                    break
    return float(np.mean(losses[-20:]))


def test_the_suggestion_trains_well_on_mnist1d(tmp_path):
    report = pytest.importorskip("descend.report")
    model, loader = _problem(seed=1)
    opt = optim.SGD(model.parameters(), 0.01, momentum=0.9)
    with np.errstate(all="ignore"):
        r = lr_find(model, opt, loader, nn.CrossEntropyLoss(), num_iter=200, out_dir=tmp_path,
                    plot=report.plot_lr_find)
    assert r.diverged_lr is not None and r.diverged_lr < 10.0  # the sweep found where training blows up
    assert r.suggestion is not None and r.suggestion < r.diverged_lr
    start = _train_loss(0.0, steps=1)
    with_suggestion, timid = _train_loss(r.suggestion), _train_loss(1e-6)
    assert math.isfinite(with_suggestion) and with_suggestion < timid - 0.3 and with_suggestion < start
    saved = json.loads((tmp_path / "lr_find.json").read_text())
    assert saved["suggestion"] == r.suggestion and saved["diverged_lr"] == r.diverged_lr
    assert len(saved["lrs"]) == len(saved["smoothed"]) == len(r.lrs)
    assert (tmp_path / "lr_find.svg").read_text().lstrip().startswith("<svg")


def test_a_configured_lr_above_the_divergence_point_is_warned_about():
    model, loader = _problem(seed=1)
    opt = optim.SGD(model.parameters(), 5.0, momentum=0.9)
    with np.errstate(all="ignore"), pytest.warns(UserWarning, match="above the divergence point"):
        r = lr_find(model, opt, loader, nn.CrossEntropyLoss(), num_iter=200)
    assert r.configured_lr == 5.0 and r.diverged_lr < 5.0 and "divergence point" in r.summary()


def test_bad_arguments_are_named():
    model, loader = _problem()
    opt = optim.SGD(model.parameters(), 0.1)
    with pytest.raises(ValueError, match="start_lr"):
        lr_find(model, opt, loader, nn.CrossEntropyLoss(), start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_iter"):
        lr_find(model, opt, loader, nn.CrossEntropyLoss(), num_iter=1)


def test_lr_find_command(tmp_path, capsys):
    report = pytest.importorskip("descend.report")
    out = tmp_path / "lrf"
    code = commands.main(["lr-find", "--model", "mlp", "--num-iter", "40", "--save", str(out), "--lr", "20"],
                         report=report)
    text = capsys.readouterr().out
    assert code == 0 and "suggested lr" in text
    saved = json.loads((out / "lr_find.json").read_text())
    assert saved["configured_lr"] == 20.0 and (out / "lr_find.svg").exists()
    assert commands.main(["lr-find", "--model", "nope", "--save", str(out)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_default_config_lr_find_warns_and_its_divergence_point_is_real(tmp_path, capsys):
    # `descend lr-find --lr 1` on the default config (MNIST-1D CNN, Adam): a cross-entropy loss levels off
    # near its untrained value once the ReLUs die, so the sweep's own stop criterion fires late; the
    # divergence point is where the smoothed loss is back above its start, and 1 is above it.
    out = tmp_path / "lrf"
    with np.errstate(all="ignore"):
        code = commands.main(["lr-find", "--lr", "1", "--save", str(out)])
    text = capsys.readouterr().out
    saved = json.loads((out / "lr_find.json").read_text())
    assert code == 0 and "warning: the configured lr 1 is at or above the divergence point" in text
    s, lrs = np.asarray(saved["smoothed"], dtype=float), saved["lrs"]
    i_min = int(np.argmin(s))
    back = i_min + int(np.flatnonzero(s[i_min:] > s[0])[0])  # by hand, from the saved sweep
    assert saved["diverged_lr"] == lrs[back] < 1.0
    # And it is real: an epoch (40 steps) of the default recipe at the divergence point leaves the model no
    # better than untrained (ln 10), while the suggestion learns.
    from descend import models
    from descend.data import MNIST1D
    from descend.train import evaluate

    def trained_loss(lr):
        backend.manual_seed(0)
        model = models.build("cnn", (40,), 10)
        opt = optim.Adam(model.parameters(), lr)
        loader = DataLoader(MNIST1D(train=True), batch_size=100, shuffle=True, generator=0)
        with np.errstate(all="ignore"):
            for step, (x, y) in enumerate(loader):
                opt.zero_grad()
                nn.CrossEntropyLoss()(model(x), y).backward()
                opt.step()
        return evaluate(model, DataLoader(MNIST1D(train=False), batch_size=500), nn.CrossEntropyLoss())["loss"]

    assert trained_loss(saved["diverged_lr"]) > math.log(10) - 0.05
    assert trained_loss(saved["suggestion"]) < math.log(10) - 0.3

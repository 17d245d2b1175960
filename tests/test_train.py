"""The fit loop against a hand-written PyTorch loop (clipping, accumulation, per-batch and per-epoch schedules),
callbacks, early stopping, evaluation, metrics records and the progress bar."""

import io as stdio
import json
import math

import numpy as np
import pytest

import descend
from descend import models, nn, optim
from descend.data import DataLoader, TensorDataset
from descend.train import Callback, EarlyStopping, ProgressBar, Run, Trainer, evaluate, fit

torch = pytest.importorskip("torch")


def data(n=52, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)) % classes
    return x, y


def torch_mlp(model):
    """The paper's MLP in PyTorch with the descend model's weights."""
    lin = [torch.nn.Linear(m.in_features, m.out_features) for m in (model.linear1, model.linear2, model.linear3)]
    for t, m in zip(lin, (model.linear1, model.linear2, model.linear3)):
        t.weight.data = torch.tensor(m.weight._data.copy())
        t.bias.data = torch.tensor(m.bias._data.copy())

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.l3 = lin

        def forward(self, x):
            h = self.l1(x).relu()
            return self.l3(h + self.l2(h).relu())

    return MLP()


def torch_fit(tm, x, y, xv, yv, *, epochs, batch, accumulate, clip, schedule):
    """A plain PyTorch loop with the semantics the Trainer promises."""
    opt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    n_batches = math.ceil(len(x) / batch)
    steps_per_epoch = math.ceil(n_batches / accumulate)
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=epochs * steps_per_epoch,
                                                    cycle_momentum=False)
    else:
        # mode "max" on a falling loss: every epoch after the first counts as bad, so the lr does move.
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
    X, Y = torch.tensor(x), torch.tensor(y)
    steps, epochs_log = [], []
    for _ in range(epochs):
        b = 0
        while b < n_batches:
            size = min(accumulate, n_batches - b)
            opt.zero_grad()
            losses = []
            for i in range(b, b + size):
                out = tm(X[i * batch:(i + 1) * batch])
                loss = torch.nn.functional.cross_entropy(out, Y[i * batch:(i + 1) * batch])
                (loss / size).backward()
                losses.append((loss.item(), len(out)))
            lr = opt.param_groups[0]["lr"]
            norm = torch.nn.utils.clip_grad_norm_(tm.parameters(), clip if clip else math.inf).item()
            opt.step()
            if schedule == "onecycle":
                sched.step()
            steps.append((sum(l * k for l, k in losses) / sum(k for _, k in losses), lr, norm))
            b += size
        with torch.no_grad():
            val_loss = torch.nn.functional.cross_entropy(tm(torch.tensor(xv)), torch.tensor(yv)).item()
        epochs_log.append((val_loss, opt.param_groups[0]["lr"]))
        if schedule == "plateau":
            sched.step(val_loss)
    return steps, epochs_log, opt.param_groups[0]["lr"]


@pytest.mark.parametrize("schedule, accumulate, clip", [("onecycle", 2, 0.3), ("plateau", 1, None),
                                                        ("plateau", 3, 1.0)])
def test_fit_matches_a_pytorch_loop(schedule, accumulate, clip, tmp_path):
    x, y = data()
    xv, yv = data(20, seed=1)
    descend.manual_seed(0)
    model = models.build("mlp", (6,), 3)
    tm = torch_mlp(model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    epochs, batch = 4, 8  # 7 batches per epoch, the last one short
    steps_per_epoch = math.ceil(7 / accumulate)
    if schedule == "onecycle":
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=epochs * steps_per_epoch,
                                              cycle_momentum=False)
    else:
        sched = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
    run = Run.create(tmp_path, "r")
    t = fit(model, opt, DataLoader(TensorDataset(x, y), batch), loss_fn=nn.CrossEntropyLoss(), epochs=epochs,
            val_loader=DataLoader(TensorDataset(xv, yv), 20), scheduler=sched, clip_grad_norm=clip,
            accumulate=accumulate, run=run)
    run.close()
    ref_steps, ref_epochs, ref_lr = torch_fit(tm, x, y, xv, yv, epochs=epochs, batch=batch, accumulate=accumulate,
                                      clip=clip, schedule=schedule)
    records = [json.loads(s) for s in (run.dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "step"]
    assert t.step == len(steps) == len(ref_steps) == epochs * steps_per_epoch
    for r, (loss, lr, norm) in zip(steps, ref_steps):
        assert r["loss"] == pytest.approx(loss, rel=1e-4, abs=1e-6)
        assert r["lr"] == pytest.approx(lr, rel=1e-12)
        assert r["grad_norm"] == pytest.approx(norm, rel=1e-4, abs=1e-6)
    ep = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in ep] == list(range(epochs))
    for r, (val_loss, lr) in zip(ep, ref_epochs):
        assert r["val_loss"] == pytest.approx(val_loss, rel=1e-4)
        assert r["lr"] == pytest.approx(lr, rel=1e-12)
    assert opt.param_groups[0]["lr"] == pytest.approx(ref_lr, rel=1e-12)
    if schedule == "plateau":
        assert ep[-1]["lr"] < 0.05  # the plateau schedule did act
    for p, q in zip([model.linear1.weight, model.linear3.bias], [tm.l1.weight, tm.l3.bias]):
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-4, atol=1e-5)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append(("begin", trainer.step))

    def on_step_end(self, trainer, logs):
        assert trainer.last_loss is not None and trainer.last_batch is not None
        assert all(p.grad is not None for p in trainer.model.parameters())  # grads kept until the next step
        self.calls.append(("step", dict(logs)))
        logs["custom"] = 1.0  # a callback may add keys; the trainer writes them

    def on_epoch_end(self, trainer, logs):
        self.calls.append(("epoch", dict(logs)))

    def on_train_end(self, trainer, logs):
        self.calls.append(("end", trainer.step))


def simple(run=None, epochs=2, callbacks=(), **kw):
    x, y = data(40)
    descend.manual_seed(0)
    model = models.build("logistic", (6,), 3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    return Trainer(model, opt, DataLoader(TensorDataset(x, y), 10), loss_fn=nn.CrossEntropyLoss(), epochs=epochs,
                   val_loader=DataLoader(TensorDataset(x[:12], y[:12]), 5), callbacks=callbacks, run=run, **kw)


def test_callback_hooks_order_and_logs(tmp_path):
    rec = Recorder()
    run = Run.create(tmp_path, "r")
    t = simple(run, callbacks=[rec]).fit()
    run.close()
    kinds = [c[0] for c in rec.calls]
    assert kinds == ["begin"] + (["step"] * 4 + ["epoch"]) * 2 + ["end"]
    first = rec.calls[1][1]
    assert set(first) == {"step", "epoch", "loss", "acc", "lr", "grad_norm"}
    assert first["step"] == 1 and first["epoch"] == 0
    epoch = rec.calls[5][1]
    assert set(epoch) == {"step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"}
    # Epoch training metrics are the batch-size weighted means of the step records.
    step_logs = [c[1] for c in rec.calls[1:5]]
    assert epoch["train_loss"] == pytest.approx(np.mean([s["loss"] for s in step_logs]))
    assert epoch["train_acc"] == pytest.approx(np.mean([s["acc"] for s in step_logs]))
    records = [json.loads(s) for s in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == (["step"] * 4 + ["epoch"]) * 2
    assert all(r["custom"] == 1.0 for r in records if r["kind"] == "step")
    assert len(t.history) == 2 and t.history[1]["epoch"] == 1
    for name in ("model", "optimizer", "scheduler", "loss_fn", "train_loader", "val_loader", "step", "epoch",
                 "stop_training", "run", "last_batch", "last_loss", "history"):
        assert hasattr(t, name)


def test_stop_training_stops_after_the_current_step():
    class Stop(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 3:
                trainer.stop_training = True

    rec = Recorder()
    t = simple(epochs=5, callbacks=[Stop(), rec]).fit()
    assert t.step == 3 and [c[0] for c in rec.calls] == ["begin", "step", "step", "step", "end"]


def test_evaluate_against_numpy():
    x, y = data(33)
    descend.manual_seed(0)
    model = models.build("logistic", (6,), 3)
    w, b = model.linear.weight._data.astype(np.float64), model.linear.bias._data.astype(np.float64)
    logits = x @ w.T + b
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    m = evaluate(model, DataLoader(TensorDataset(x, y), 10), nn.CrossEntropyLoss())
    assert m["loss"] == pytest.approx(-logp[np.arange(33), y].mean(), rel=1e-5)
    assert m["acc"] == np.mean(logits.argmax(1) == y)
    assert model.training  # evaluate restores the mode


@pytest.mark.parametrize("losses, patience, min_delta, stop_epoch", [
    ([1.0, 0.9, 0.95, 0.92, 0.91, 0.8], 2, 0.0, 3),  # epochs 2 and 3 are not better than 0.9
    ([1.0, 0.9, 0.95, 0.85, 0.86, 0.87, 0.88], 3, 0.0, 6),
    ([1.0, 0.99, 0.98, 0.97], 1, 0.05, 1),  # improvements smaller than min_delta do not count
    ([1.0, float("nan"), 0.5], 1, 0.0, 1),  # NaN is never an improvement
    ([3.0, 2.0, 1.0], 0, 0.0, None),
])
def test_early_stopping_follows_keras(losses, patience, min_delta, stop_epoch):
    class T:
        stop_training = False
        epoch = 0

    es, t = EarlyStopping("val_loss", patience=patience, min_delta=min_delta), T()
    for i, v in enumerate(losses):
        t.epoch = i
        es.on_epoch_end(t, {"val_loss": v})
        if t.stop_training:
            break
    assert (es.stopped_epoch if t.stop_training else None) == stop_epoch
    restored = EarlyStopping("val_loss", patience=patience)
    restored.load_state_dict(json.loads(json.dumps(es.state_dict())))
    assert restored.state_dict() == es.state_dict()


def test_early_stopping_in_fit_and_accuracy_is_maximised():
    es = EarlyStopping("val_acc", patience=1)
    assert es.mode == "max"
    t = simple(epochs=50, callbacks=[EarlyStopping("val_loss", patience=1, min_delta=100.0)]).fit()
    assert t.epoch == 2 and len(t.history) == 2


def test_log_every_and_per_step_schedule_detection(tmp_path):
    run = Run.create(tmp_path, "r")
    x, y = data(40)
    descend.manual_seed(0)
    model = models.build("logistic", (6,), 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)
    t = fit(model, opt, DataLoader(TensorDataset(x, y), 10), loss_fn=nn.CrossEntropyLoss(), epochs=2,
            scheduler=sched, run=run, log_every=3)
    run.close()
    assert t.scheduler_interval == "step"
    steps = [json.loads(s) for s in (run.dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if r["kind"] == "step"]
    assert [r["step"] for r in steps] == [3, 6]
    ref = torch.optim.lr_scheduler.CyclicLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1),
                                            base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)
    lrs = []
    for _ in range(8):
        lrs.append(ref.get_last_lr()[0])
        ref.optimizer.step()
        ref.step()
    assert [r["lr"] for r in steps] == pytest.approx([lrs[2], lrs[5]], rel=1e-12)


def test_metrics_records_are_strict_json_even_when_the_loss_is_nan(tmp_path):
    run = Run.create(tmp_path, "r")
    x, y = data(20)
    x[3, 2] = np.nan
    descend.manual_seed(0)
    model = models.build("logistic", (6,), 3)
    with pytest.warns(UserWarning, match="not finite"):
        fit(model, optim.SGD(model.parameters(), lr=0.1), DataLoader(TensorDataset(x, y), 10),
            loss_fn=nn.CrossEntropyLoss(), epochs=1, run=run)
    run.close()
    first = (run.dir / "metrics.jsonl").read_text().splitlines()[0]
    assert json.loads(first, parse_constant=lambda c: pytest.fail(f"bare {c}"))["loss"] == "NaN"


def test_progress_bar_plain_lines_when_not_a_tty():
    out = stdio.StringIO()
    simple(epochs=3, callbacks=[ProgressBar(out)]).fit()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in out.getvalue()
    assert lines[0].startswith("epoch 1/3") and "train_loss" in lines[0] and "val_acc" in lines[0]
    assert "lr 1.00e-02" in lines[2]


def test_progress_bar_redraws_in_place_on_a_tty():
    class TTY(stdio.StringIO):
        def isatty(self):
            return True

    out = TTY()
    simple(epochs=2, callbacks=[ProgressBar(out, interval=0.0)]).fit()
    text = out.getvalue()
    assert text.count("\r") >= 8 and "[" in text and "loss" in text and "acc" in text and "lr" in text
    assert text.count("\n") == 2  # one finished line per epoch


def test_bad_trainer_arguments():
    with pytest.raises(ValueError, match="unknown metric"):
        simple(metrics=("f1",))
    with pytest.raises(ValueError, match="accumulate"):
        simple(accumulate=0)

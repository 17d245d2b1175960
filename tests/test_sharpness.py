"""The sharpness monitor: λmax by power iteration on Hessian-vector products, and the edge-of-stability
explanation of the zoo's divergence and oscillation cases (and silence on a healthy one)."""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend import nn, optim
from bench import zoo
from descend.doctor.sharpness import SharpnessMonitor, explain, max_hessian_eigenvalue, stability_limit
from descend.train.callbacks import Callback
from descend.train.loop import Trainer


def test_lambda_max_of_a_least_squares_problem_is_the_top_eigenvalue() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5)) * np.array([3.0, 1.0, 0.5, 0.2, 0.1])
    model = nn.Linear(5, 1).double()
    lam = max_hessian_eigenvalue(model, nn.MSELoss(), (descend.tensor(x), descend.tensor(rng.standard_normal((32, 1)))),
                                 iters=500, tol=1e-12)
    a = np.c_[x, np.ones(32)]
    assert lam == pytest.approx(np.linalg.eigvalsh(2 * a.T @ a / 32).max(), rel=1e-6)


def test_stability_limits() -> None:
    p = [nn.Parameter(descend.zeros(2))]
    assert stability_limit(optim.SGD(p, lr=0.1)) == (2.0, "SGD")
    assert stability_limit(optim.SGD(p, lr=0.1, momentum=0.9))[0] == pytest.approx(3.8)
    assert stability_limit(optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True))[0] == pytest.approx(3.8 / 2.8)


class _StopAfter(Callback):
    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_step_end(self, trainer, logs) -> None:
        trainer.stop_training = trainer.step >= self.steps


def _run(build, monitor, steps):
    descend.manual_seed(0)
    kwargs = build()
    kwargs.setdefault("loss_fn", nn.CrossEntropyLoss())
    with np.errstate(all="ignore"):
        return Trainer(callbacks=[monitor, _StopAfter(steps)], **kwargs).fit()


def test_divergence_case_is_explained_by_lr_times_lambda_max() -> None:
    monitor = SharpnessMonitor(every=1, iters=30)
    trainer = _run(zoo._divergence, monitor, 3)
    ratios = [r[2] for r in monitor.rows]
    assert ratios[0] > 1.0
    text = explain(monitor.rows, trainer.optimizer, "diverge")
    assert text is not None and "overshoots" in text and "Lower the learning rate below" in text


def test_oscillation_case_is_momentum_not_instability() -> None:
    monitor = SharpnessMonitor(every=5, iters=50)
    trainer = _run(zoo._oscillation, monitor, 15)
    assert all(r[2] < 1.0 for r in monitor.rows)  # stable: lr·λ below 2(1 + β)
    text = explain(monitor.rows, trainer.optimizer, "oscillate")
    assert text is not None and "momentum" in text and "0.99" in text


def test_healthy_adam_run_gets_no_explanation() -> None:
    monitor = SharpnessMonitor(every=10, iters=10)
    trainer = _run(zoo._healthy_mlp, monitor, 30)
    assert [r[0] for r in monitor.rows] == [1, 10, 20, 30]  # the first step, then every 10
    assert all(np.isfinite(r[1]) and r[1] > 0 for r in monitor.rows)
    assert explain(monitor.rows, trainer.optimizer, "diverge") is None


def test_the_monitor_does_not_disturb_training() -> None:
    """Same weights with and without the monitor: it restores the RNG and BatchNorm's running statistics."""
    class Nothing(Callback):
        pass

    with_monitor = _run(zoo._healthy_bn_cnn, SharpnessMonitor(every=4, iters=3), 12)
    without = _run(zoo._healthy_bn_cnn, Nothing(), 12)
    for (name, a), (_, b) in zip(with_monitor.model.state_dict().items(), without.model.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def _doctor_run(build, every):
    from descend.doctor.doctor import Doctor

    descend.manual_seed(0)
    kwargs = build()
    kwargs.setdefault("loss_fn", nn.CrossEntropyLoss())
    doctor = Doctor(sharpness_every=every, verbose=False)
    with np.errstate(all="ignore"):
        Trainer(callbacks=[doctor], **kwargs).fit()
    return doctor


@pytest.mark.parametrize("build, code, words", [(zoo._divergence, "divergence", "overshoots"),
                                                (zoo._oscillation, "oscillation", "momentum")])
def test_the_doctor_explains_the_zoo_case_by_sharpness(build, code, words) -> None:
    doctor = _doctor_run(build, 25)
    found = {d.code: d for d in doctor.diagnoses if d.severity != "info"}
    assert set(found) == {code}  # the same verdict as without the monitor, now with the reason
    assert words in found[code].evidence and "lr_sharpness" in found[code].values


def test_the_doctor_with_sharpness_stays_silent_on_a_healthy_run() -> None:
    doctor = _doctor_run(zoo._healthy_mlp, 50)
    assert [d.code for d in doctor.diagnoses if d.severity != "info"] == []
    assert len(doctor.sharpness.rows) >= 5


def test_the_report_draws_sharpness_only_when_measured(tmp_path) -> None:
    from descend.report.html import render

    records = [{"kind": "step", "step": s, "loss": 1.0, "lr": 0.1, "sharpness": lam, "lr_sharpness": lam * 0.05}
               for s, lam in [(1, 5.0), (10, 30.0), (20, 45.0)]]
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("\n".join(__import__("json").dumps(r) for r in records) + "\n")
    page = render(run)
    assert '<section id="sharpness">' in page and "stability limit in 2 of them" in page
    (run / "metrics.jsonl").write_text("\n".join(__import__("json").dumps({k: v for k, v in r.items()
                                                                          if "sharp" not in k}) for r in records))
    assert '<section id="sharpness">' not in render(run)

"""The doctor benchmark's own parts (bench/doctor): oracles on hand-made traces, the scores against hand
counts, the replay against a live Doctor on the same run, the literature's rules on hand-made histories, and
the stored dev/test split."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import descend
from bench.doctor import metrics, oracle, replay, trace
from bench.doctor.cases import CASES, LABELS
from descend import nn, optim
from descend.data import DataLoader, TensorDataset
from descend.doctor import Doctor
from descend.train import Trainer


def _trace(loss, grad=None, epochs=(), probe=None, label="divergence", data="mnist1d") -> dict:
    grad = [1.0] * len(loss) if grad is None else grad
    recs = [{"kind": "step", "step": i + 1, "epoch": 0, "loss": l, "grad_norm": g, "lr": 0.1}
            for i, (l, g) in enumerate(zip(loss, grad))]
    recs += [{"kind": "epoch", "epoch": i, "step": len(loss), **e} for i, e in enumerate(epochs)]
    return {"records": recs, "label": label, "data": data, "epochs": max(len(epochs), 1), "steps": len(loss),
            "probe": probe or {"grad_rms": [], "acts": [], "update_total": 1.0, "update_late": 1.0}}


def test_divergence_and_nan_oracles():
    climb = _trace([2.3, 2.2, 2.1] + [2.0 * 1.5 ** k for k in range(12)])
    assert oracle.diverged(climb) and not oracle.numerical(climb)
    calm_nan = _trace([2.3, 2.2, 2.1, 2.0, math.nan])
    assert oracle.numerical(calm_nan) and not oracle.diverged(calm_nan)
    # a NaN after the gradient grew 1000x is the end of a divergence, not a numerical bug
    blown = _trace([2.3, 2.2, 2.1, 2.0, 2.1, math.nan], grad=[1, 1, 1, 1, 1000, 1000])
    assert oracle.diverged(blown) and not oracle.numerical(blown)
    assert not oracle.diverged(_trace(list(np.linspace(2.3, 0.5, 40))))


def test_exploding_oracle_spike_and_depth():
    g = [1.0] * 30
    g[12] = 500.0
    assert oracle.exploding(_trace([2.0] * 30, g))
    assert not oracle.exploding(_trace([2.0] * 30, [1.0 + 0.1 * (i % 3) for i in range(30)]))
    deep = _trace([2.0] * 30, probe={"grad_rms": [("0", 1.0), ("1", 0.1), ("2", 0.01), ("3", 0.001)],
                                     "acts": [], "update_total": 1.0, "update_late": 1.0})
    assert oracle.exploding(deep)


def test_oscillation_overfitting_and_slow_oracles():
    assert oracle._swings([1.0, 0.5, 0.8, 0.4, 0.7, 0.3]) == 2  # 0.5 -> 0.8 (+60 %) -> 0.4, 0.4 -> 0.7 -> 0.3
    assert oracle._swings([1.0, 0.9, 0.8, 0.85, 0.7, 0.6]) == 0  # +6 %: noise
    val = [2.0, 1.5, 1.2, 1.3, 1.5, 1.7]
    train = [2.0, 1.4, 1.0, 0.6, 0.4, 0.3]
    ep = [{"val_loss": v, "train_loss": t} for v, t in zip(val, train)]
    assert oracle.overfitted(_trace([2.0] * 10, epochs=ep))
    assert oracle.oscillating(_trace([2.0] * 10, epochs=[{"val_loss": v} for v in (1, .5, .8, .4, .7, .3)]))
    still = _trace([2.3] * 40, probe={"grad_rms": [], "acts": [], "update_total": 1e-4, "update_late": 1e-5})
    assert oracle.too_slow(still)
    moving = _trace([2.3] * 40, probe={"grad_rms": [], "acts": [], "update_total": 0.5, "update_late": 0.2})
    assert not oracle.too_slow(moving)


def test_scores_against_hand_counts():
    def run(truth, *codes):
        return {"truth": truth, "steps": 100, "alarms": {"d": [{"codes": (c,), "at": 10, "severity": "warning"}
                                                              for c in codes]}}
    runs = [run("divergence", "divergence"), run("divergence", "nan"), run("nan", "nan", "dead_relus"),
            run("healthy"), run("healthy", "underfitting")]
    s = metrics.score(runs, "d")
    # TP: divergence 1, nan 1; FP: nan 1 (run 2), dead_relus 1, underfitting 1; FN: divergence 1
    assert s["micro_p"] == pytest.approx(2 / 5) and s["micro_r"] == pytest.approx(2 / 3)
    assert s["per_class"]["divergence"]["recall"] == 0.5 and s["per_class"]["nan"]["precision"] == 0.5
    assert s["false_alarm"] == 0.5 and s["detection"] == 1.0
    assert s["warn_per_10k"] == pytest.approx(1e4 * 1 / 200)
    assert s["confusion"][("divergence", "nan")] == 1 and s["confusion"][("healthy", "none")] == 1
    # info findings are no alarms
    quiet = [{"truth": "healthy", "steps": 50, "alarms": {"d": [{"codes": ("dead_relus",), "at": 5,
                                                                "severity": "info"}]}}]
    assert metrics.score(quiet, "d")["false_alarm"] == 0.0


def test_replay_finds_what_the_live_doctor_found():
    """The replay feeds the recorded trace through the real Doctor: same diagnoses, same steps as a Doctor
    that watched the run live (a diverging tanh MLP, and a healthy one)."""
    r = np.random.default_rng(0)
    x = r.standard_normal((256, 10)).astype(np.float32)
    y = (x @ r.standard_normal((10, 4))).argmax(1)
    for lr in (8.0, 0.01):
        descend.manual_seed(0)
        model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=0)
        live, rec = Doctor(verbose=False, on_divergence="ignore"), trace.Recorder()
        with np.errstate(all="ignore"):
            Trainer(model, optim.SGD(model.parameters(), lr, momentum=0.9), loader,
                    loss_fn=nn.CrossEntropyLoss(), epochs=6, callbacks=[rec, live]).fit()
        t = {"records": rec.records, "epochs": 6}
        replayed = replay.doctor(t, on_divergence="ignore")
        assert [(a["codes"][0], a["since"]) for a in replayed] == [(d.code, d.step) for d in live.diagnoses]
        assert [a["severity"] for a in replayed] == [d.severity for d in live.diagnoses]


def test_autotrainer_oscillation_and_sagemaker_loss_rule():
    assert replay._oscillates([0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5], 0.03, 0.2)
    assert not replay._oscillates([0.5, 0.51, 0.52, 0.53, 0.54], 0.03, 0.2)
    flat = _trace([2.3] * 30, label="lr_too_low")
    codes = [a["codes"] for a in replay.sagemaker(flat)]
    assert replay.SLOW_CODES in codes  # LossNotDecreasing: no 0.1 % drop over 10 steps
    assert replay.sagemaker(_trace(list(np.linspace(2.3, 0.3, 30)))) == []


def test_split_is_stored_stratified_and_covers_every_case():
    halves = json.loads(open("bench/doctor/split.json", encoding="utf-8").read())["halves"]
    assert set(halves) == {c.name for c in CASES}
    for label in LABELS + ("healthy",):
        sides = [halves[c.name] for c in CASES if c.label == label]
        assert abs(sides.count("dev") - sides.count("test")) <= 1 and sides.count("test") >= 2


def test_added_cases_are_split_by_their_recorded_seeded_draw():
    """Cases added after the first split are split among themselves by a seeded draw: half (rounded down)
    to dev, stored in split.json with its seed, and every stored half is what that draw gives."""
    from bench.doctor import run

    split = json.loads(open("bench/doctor/split.json", encoding="utf-8").read())
    for key, (seed, names) in run.ADDED.items():
        drawn = run.split_added(seed, names)
        assert split["added"][key] == {"seed": seed, "halves": drawn}
        assert all(split["halves"][n] == side for n, side in drawn.items())
        assert list(drawn.values()).count("dev") == len(names) // 2
        assert run.split_added(seed + 1, names) != drawn  # the seed decides (not, e.g., the name order)

"""The diffusion doctor: per-timestep-bucket losses against an independent computation, and each diagnosis
raised during training on a run built to have it, with a healthy ring8 run kept silent."""

import json
import math

import numpy as np
import pytest

from descend import backend, nn, optim
from descend.data.mixtures import gaussian_mixture
from descend.diffusion import Diffusion, MLPDenoiser, NoiseSchedule
from descend.diffusion.ddpm import BUCKETS, bucket_means
from descend.diffusion.diagnose import DiffusionDoctor, Setting, rules
from descend.diffusion.loop import DiffusionTrainer
from descend.gan.evaluate import mode_report
from descend.train.checkpoint import load as load_checkpoint
from descend.train.run import Run


class Scale(nn.Module):
    """ε̂ = w · x_t: a denoiser whose loss has a closed form."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(backend.xp.asarray(w, dtype=backend.default_dtype()))

    def forward(self, x, t):
        return x * self.w


class Constant(nn.Module):
    """ε̂ = b whatever x_t and t: a denoiser that cannot learn anything (its best is b = 0, loss 1)."""

    def __init__(self, dim: int, value: float = 0.0) -> None:
        super().__init__()
        self.b = nn.Parameter(backend.xp.full((dim,), value, dtype=backend.default_dtype()))

    def forward(self, x, t):
        return x * 0 + self.b


def test_bucket_losses_equal_an_independent_computation():
    backend.manual_seed(0)
    T, n, w, scale = 200, 100, 0.7, 3.0
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((n, 2)).astype(np.float32)
    t = rng.integers(0, T, size=n)
    t[:3] = [0, 19, 20]  # the edges of the first two buckets
    noise = rng.standard_normal((n, 2)).astype(np.float32)
    m = Scale(w)
    d = Diffusion(m, optim.SGD(m.parameters(), lr=0.0), NoiseSchedule("linear", T), scale=scale)
    out = d.step(_tensor(x0), t=t, noise=noise)
    # float64 by hand: Ho et al.'s β (1e-4 .. 0.02 over 1000 steps, scaled by 1000/T), x_t, the loss per sample
    betas = [1000 / T * (1e-4 + (0.02 - 1e-4) * i / (T - 1)) for i in range(T)]
    abar = np.array([math.prod(1 - b for b in betas[:i + 1]) for i in range(T)])
    xt = np.sqrt(abar[t])[:, None] * scale * x0 + np.sqrt(1 - abar[t])[:, None] * noise
    per_sample = ((w * xt - noise) ** 2).mean(1)
    assert out["loss"] == pytest.approx(per_sample.mean(), rel=1e-5)
    assert len([k for k in out if k.startswith("loss_t")]) == BUCKETS == 10
    for b in range(10):
        mine = [per_sample[i] for i in range(n) if b * T / 10 <= t[i] < (b + 1) * T / 10]
        assert out[f"loss_t{b}"] == pytest.approx(np.mean(mine), rel=1e-5), b
    # a bucket the batch did not draw is NaN (skipped by the trainer's averages)
    assert math.isnan(bucket_means(per_sample[:2], np.array([0, 1]), T)["loss_t5"])


def _tensor(a):
    from descend._tensor import Tensor

    return Tensor(backend.xp.asarray(a))


def _ring_run(root, steps=200, ema=0.95, lr=3e-3, model=None, T=50):
    """A ring8 run with a run directory; returns the trainer after fit and diagnosis.json after each record."""
    backend.manual_seed(0)
    x, modes, std = gaussian_mixture("ring8", 5000, 0)
    m = model if model is not None else MLPDenoiser(2, width=64, blocks=2)
    d = Diffusion(m, optim.Adam(m.parameters(), lr=lr), NoiseSchedule("linear", T), ema_decay=ema, scale=10.0)
    z = np.random.default_rng(1).standard_normal((500, 2))

    def evaluate(which):
        s = d.sample_ddim(z, 10, model=d.model if which == "raw" else None)
        r = mode_report(s, modes, std)
        return {"modes": r.modes_covered, "num_modes": r.num_modes, "high_quality": r.high_quality}, s

    run = Run.create(root, "r", seed=0, config_text="")
    seen = []
    diag = run.dir / "diagnosis.json"
    trainer = DiffusionTrainer(d, x, steps=steps, batch_size=128, seed=0, sampler="ema", raw_sampler="raw",
                               evaluator=evaluate, log_every=10, eval_every=steps // 4, ckpt_every=steps // 2,
                               run=run, on_record=lambda r: seen.append(
                                   (r["step"], _codes(diag) if diag.exists() else set())))
    trainer.fit()
    run.close()
    return trainer, seen


def _codes(path):
    return {d["code"] for d in json.loads(path.read_text())["diagnoses"]}


def _problems(trainer):
    return {d.code for d in trainer.doctor.diagnoses if d.severity != "info"}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    return _ring_run(tmp_path_factory.mktemp("healthy"))


def test_a_healthy_ring8_run_is_silent(healthy):
    trainer, _ = healthy
    assert trainer.history[-1]["loss"] < 0.5  # it learned: half the loss of ε̂ = 0
    assert _problems(trainer) == set()
    body = json.loads((trainer.run.dir / "diagnosis.json").read_text())
    assert body["finished"] and {d["code"] for d in body["diagnoses"]} == {"loss_by_timestep", "ema_vs_raw"}
    buckets = next(d for d in body["diagnoses"] if d["code"] == "loss_by_timestep")["values"]["buckets"]
    assert len(buckets) == 10 and buckets[-1] < 0.1 < buckets[0]  # high noise: ε ≈ x_t is easy to read
    ema = next(d for d in body["diagnoses"] if d["code"] == "ema_vs_raw")["values"]
    assert ema["steps"] == [50, 100, 150, 200] and len(ema["raw_high_quality"]) == 4


def test_per_bucket_losses_are_recorded_as_window_means(healthy):
    trainer, _ = healthy
    r = trainer.history[0]
    assert r["step"] == 10 and all(f"loss_t{b}" in r for b in range(10))
    lines = [json.loads(s) for s in (trainer.run.dir / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss_t9"] == pytest.approx(trainer.history[-1]["loss_t9"])


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    return _ring_run(tmp_path_factory.mktemp("diverged"), steps=60, lr=10.0)


def test_huge_lr_diverges_and_is_raised_at_once(diverged):
    trainer, seen = diverged
    d = trainer.doctor.found["divergence"]
    assert d.severity == "error" and d.step == 10 and d.values["loss"] > 10
    assert "divergence" in dict(seen)[20]  # in diagnosis.json during training, not only at the end


def test_a_nan_loss_stops_training(tmp_path):
    trainer, _ = _ring_run(tmp_path, steps=100, model=Scale(float("nan")))
    assert trainer.step == 10 and "divergence" in _codes(trainer.run.dir / "diagnosis.json")
    assert math.isnan(trainer.doctor.found["divergence"].values["loss"])


def test_a_constant_denoiser_plateaus_at_the_noise_variance(tmp_path):
    trainer, seen = _ring_run(tmp_path, steps=200, lr=1e-2, model=Constant(2, 0.5), ema=0.9)
    assert trainer.history[-1]["loss"] == pytest.approx(1.0, abs=0.1)
    assert _problems(trainer) == {"no_learning"}
    d = trainer.doctor.found["no_learning"]
    # fires once three logged losses past the first 20 % of the run are stuck: steps 40, 50, 60
    assert d.step == 40 and "no_learning" in dict(seen)[70]
    assert d.values["loss_noisiest"] > 0.7  # even where ε ≈ x_t a working denoiser scores ~0.01


def test_a_slow_ema_on_a_short_run(tmp_path):
    trainer, seen = _ring_run(tmp_path, steps=200, ema=0.9999, lr=1e-2, T=100)
    assert _problems(trainer) == {"ema_too_slow", "ema_lags_raw"}
    slow = trainer.doctor.found["ema_too_slow"]
    assert slow.values["span"] == pytest.approx(10000) and slow.values["initial_weight_left"] == pytest.approx(
        0.9999 ** 200)
    assert "ema_too_slow" in dict(seen)[20]  # raised at the first record
    lag = trainer.doctor.found["ema_lags_raw"]
    evals = [r for r in trainer.history if "modes" in r]
    assert lag.step == evals[1]["step"] and all(r["raw_modes"] - r["modes"] >= 2 for r in evals[1:3])


def test_doctor_state_survives_a_checkpoint(diverged):
    trainer, _ = diverged
    state = load_checkpoint(sorted((trainer.run.dir / "checkpoints").glob("step-*.safetensors"))[0])
    fresh = DiffusionDoctor(Setting(60, 0.95, 50), verbose=False)
    fresh.load_state_dict(state["doctor"], trainer.history[:5])
    assert "divergence" in fresh.found and not fresh.add(trainer.history[5])  # not raised twice


def test_rules_over_records_without_a_trainer():
    recs = [{"step": s, "loss": 1.0, **{f"loss_t{b}": 1.0 for b in range(10)}} for s in range(10, 110, 10)]
    found = {d.code: d for d in rules(recs, steps=100, ema_decay=0.9)}
    assert found["no_learning"].severity == "error" and "ema_too_slow" not in found
    healthy = [{**r, "loss": 0.3} for r in recs]
    assert {d.severity for d in rules(healthy, steps=100, ema_decay=0.99)} == {"info", "warning"}  # span 100
    # where the loss is: the worst tenth named by its third of t
    worst_noisy = [{**r, "loss": 0.3, **{f"loss_t{b}": 0.1 for b in range(9)}, "loss_t9": 0.8} for r in recs]
    d = next(d for d in rules(worst_noisy, 100, 0.9, timesteps=1000) if d.code == "loss_by_timestep")
    assert "noisiest third of the steps (t in [900, 1000))" in d.evidence and d.values["worst"] == 9

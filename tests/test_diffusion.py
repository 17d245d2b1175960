"""descend.diffusion: schedule closed forms, samplers, one training step vs PyTorch, a tiny run, the CLI."""

import json
import math
import shutil

import numpy as np
import pytest

from descend import backend, io, optim
from descend.data.mixtures import gaussian_mixture, mixture_modes
from descend.diffusion import Diffusion, MLPDenoiser, NoiseSchedule, UNet, timestep_embedding
from descend.cli.diffusion import main
from descend.gan.evaluate import mode_report
from descend.gan.step import Batches


# --- schedules ------------------------------------------------------------------------------------------------

def _posterior_by_gaussian_product(ab_prev, alpha, beta, x0, xt):
    # q(x_{t-1}|x_t,x_0) ∝ N(x_{t-1}; sqrt(ab_prev) x0, 1-ab_prev) · N(x_t; sqrt(alpha) x_{t-1}, beta)
    precision = 1 / (1 - ab_prev) + alpha / beta
    mean = (math.sqrt(ab_prev) * x0 / (1 - ab_prev) + math.sqrt(alpha) * xt / beta) / precision
    return mean, 1 / precision


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_closed_forms_against_a_float64_reference(kind):
    T = 200
    s = NoiseSchedule(kind, T)
    if kind == "linear":  # Ho et al.'s 1e-4 .. 0.02 over 1000 steps, scaled by 1000/T (Nichol & Dhariwal)
        betas = [5 * (1e-4 + (0.02 - 1e-4) * i / (T - 1)) for i in range(T)]
        abar = [math.prod(1 - b for b in betas[:i + 1]) for i in range(T)]
    else:  # ᾱ_t = f(t+1)/f(0), f(u) = cos²((u/T + s)/(1 + s) π/2), up to the 0.999 clip of the last β
        f = lambda u: math.cos((u / T + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        abar = [f(i + 1) / f(0) for i in range(T)]
        betas = [1 - abar[0]] + [1 - abar[i] / abar[i - 1] for i in range(1, T)]
        n = T - 1  # the last β is clipped to 0.999 (its unclipped value is 1)
        betas, abar = betas[:n], abar[:n]
        assert s.betas[-1] == 0.999
    n = len(abar)
    np.testing.assert_allclose(s.betas[:n], betas, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.alphas_cumprod[:n], abar, rtol=1e-10)
    rng = np.random.default_rng(0)
    x0, xt = rng.standard_normal(n), rng.standard_normal(n)
    t = np.arange(n)
    mean, var = s.posterior(x0[:, None], xt[:, None], t)
    for i in range(1, n):
        m, v = _posterior_by_gaussian_product(abar[i - 1], 1 - betas[i], betas[i], x0[i], xt[i])
        assert mean[i, 0] == pytest.approx(m, rel=1e-9, abs=1e-12)
        assert var[i, 0] == pytest.approx(v, rel=1e-9)
    assert var[0, 0] == 0 and mean[0, 0] == pytest.approx(x0[0])  # q(x_{-1}|x_0, x_0) is the point x_0
    # q_sample and predict_x0 invert each other
    eps = rng.standard_normal((n, 1))
    back = s.predict_x0(s.q_sample(x0[:, None], t, eps), t, eps)
    np.testing.assert_allclose(back, x0[:, None], rtol=1e-8, atol=1e-8)


def test_linear_schedule_matches_ho_et_al_at_1000_steps():
    s = NoiseSchedule("linear", 1000)
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert 0 < s.alphas_cumprod[-1] < 1e-4  # x_T is almost pure noise


def test_bad_schedule_arguments_are_named():
    with pytest.raises(ValueError, match="kind must be one of linear, cosine"):
        NoiseSchedule("quadratic", 10)
    with pytest.raises(ValueError, match="timesteps must be an int >= 2"):
        NoiseSchedule("linear", 1)


def test_timestep_embedding_is_cos_then_sin():
    e = timestep_embedding(np.array([0, 3]), 6).numpy()
    f = np.exp(-np.log(10000) * np.arange(3) / 3)
    np.testing.assert_allclose(e[1], np.concatenate([np.cos(3 * f), np.sin(3 * f)]), rtol=1e-6)
    np.testing.assert_allclose(e[0], [1, 1, 1, 0, 0, 0])


# --- samplers with the exact ε of a Gaussian: they must produce that Gaussian ---------------------------------

MU, SD = 0.7, 0.3


class _ExactGaussianEps:
    """ε*(x_t, t) = E[ε | x_t] for data N(MU, SD²): x_t ~ N(a MU, a² SD² + 1 - a²)."""

    training = False

    def __init__(self, schedule):
        self.s = schedule

    def eval(self):
        pass

    def train(self, mode=True):
        pass


def _exact_diffusion(T=1000):
    s = NoiseSchedule("linear", T)
    d = Diffusion.__new__(Diffusion)
    d.schedule, d.clip, d.scale = s, None, 1.0

    def eps(model, x, t):
        a = s.sqrt_alphas_cumprod[t]
        var = a * a * SD ** 2 + 1 - a * a
        return s.sqrt_one_minus_alphas_cumprod[t] * (x - a * MU) / var
    d.eps = eps
    return d, _ExactGaussianEps(s)


def test_ddpm_and_ddim_turn_noise_into_the_data_distribution():
    d, model = _exact_diffusion()
    z = np.random.default_rng(0).standard_normal((20000, 1))
    for x in (d.sample_ddim(z, 1000, model=model), d.sample_ddpm(z, np.random.default_rng(1), model=model)):
        assert x.mean() == pytest.approx(MU, abs=0.01)
        assert x.std() == pytest.approx(SD, rel=0.025)
    # Fewer DDIM steps discretise the same ODE more coarsely: the error shrinks as steps grow.
    errors = [abs(d.sample_ddim(z, n, model=model).std() - SD) for n in (25, 100, 400)]
    assert errors[0] > errors[1] > errors[2]


def test_ddim_eta0_is_deterministic_and_ignores_the_rng():
    backend.manual_seed(0)
    m = MLPDenoiser(2, width=16, blocks=1)
    d = Diffusion(m, optim.SGD(m.parameters(), lr=0.1), NoiseSchedule("cosine", 100), ema_decay=0.9)
    z = np.random.default_rng(3).standard_normal((64, 2))
    a = d.sample_ddim(z, 10, eta=0.0, rng=np.random.default_rng(1))
    b = d.sample_ddim(z, 10, eta=0.0, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d.sample_ddim(z, 10))
    c = d.sample_ddim(z, 10, eta=1.0, rng=np.random.default_rng(2))
    assert not np.allclose(a, c)  # eta > 0 adds noise
    with pytest.raises(ValueError, match="steps must be in"):
        d.sample_ddim(z, 101)


# --- one training step vs PyTorch ----------------------------------------------------------------------------

def _torch_mlp(torch):
    tnn = torch.nn

    def temb(t, dim):
        half = dim // 2
        f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
        a = t.double()[:, None] * f[None]
        return torch.cat([torch.cos(a), torch.sin(a)], 1).float()

    class TimeMLP(tnn.Module):
        def __init__(self, dim, out):
            super().__init__()
            self.dim, self.net = dim, tnn.Sequential(tnn.Linear(dim, out), tnn.SiLU(), tnn.Linear(out, out))

        def forward(self, t):
            return self.net(temb(t, self.dim))

    class MLPBlock(tnn.Module):
        def __init__(self, w):
            super().__init__()
            self.fc1, self.fc2, self.act = tnn.Linear(w, w), tnn.Linear(w, w), tnn.SiLU()

        def forward(self, h, e):
            return h + self.fc2(self.act(self.fc1(self.act(h)) + e))

    class MLP(tnn.Module):
        def __init__(self, dim, width, blocks, time_dim=32):
            super().__init__()
            self.time, self.inp = TimeMLP(time_dim, width), tnn.Linear(dim, width)
            self.blocks = tnn.ModuleList([MLPBlock(width) for _ in range(blocks)])
            self.out = tnn.Sequential(tnn.SiLU(), tnn.Linear(width, dim))

        def forward(self, x, t):
            e, h = self.time(t), self.inp(x)
            for b in self.blocks:
                h = b(h, e)
            return self.out(h)

    return MLP


@pytest.mark.parametrize("arch", ["mlp", "unet"])
def test_one_training_step_equals_pytorch(arch):
    torch = pytest.importorskip("torch")
    from bench.train_workloads import _torch_unet as Net  # the bench's U-Net twin: this test checks it too

    MLP = _torch_mlp(torch)
    backend.manual_seed(5)
    if arch == "mlp":
        model, twin, shape = MLPDenoiser(2, width=16, blocks=2), MLP(2, 16, 2), (32, 2)
    else:
        model, twin, shape = UNet(2, width=8), Net(2, 8), (3, 2, 8, 8)
    sd = {k: torch.tensor(np.array(v.numpy())) for k, v in model.state_dict().items()}
    twin.load_state_dict(sd)
    schedule = NoiseSchedule("linear", 100)
    # Adam on the MLP; SGD on the U-Net, whose conv biases before a per-channel GroupNorm get gradients that are
    # zero up to rounding, which Adam's first step would blow up to ±lr in both frameworks alike.
    opt, topt_cls = ((optim.Adam, torch.optim.Adam) if arch == "mlp" else (optim.SGD, torch.optim.SGD))
    d = Diffusion(model, opt(model.parameters(), lr=1e-2), schedule, ema_decay=0.9)
    x0 = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    backend.manual_seed(11)
    logs = d.step(backend_tensor(x0))
    # The same t and ε, drawn in the same order from a generator seeded alike.
    backend.manual_seed(11)
    rng = backend.rng()
    t = rng.integers(0, 100, size=shape[0])
    eps = rng.standard_normal(shape).astype(np.float32)
    xt = torch.tensor(schedule.q_sample(x0, t, eps))
    topt = topt_cls(twin.parameters(), lr=1e-2)
    loss = ((twin(xt, torch.tensor(t)) - torch.tensor(eps)) ** 2).mean()
    loss.backward()
    topt.step()
    assert logs["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3, atol=1e-6, err_msg=name)
    after = twin.state_dict()
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), after[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    for k, v in d.ema.model.state_dict().items():  # ema = 0.9 · initial + 0.1 · stepped
        np.testing.assert_allclose(v.numpy(), 0.9 * sd[k].numpy() + 0.1 * after[k].numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=k)


def backend_tensor(a):
    from descend._tensor import Tensor

    return Tensor(backend.xp.asarray(a))


# --- a tiny run -----------------------------------------------------------------------------------------------

def test_a_tiny_run_on_ring8_lowers_the_loss_and_covers_the_modes():
    backend.manual_seed(0)
    x, modes, std = gaussian_mixture("ring8", 20000, 0)
    m = MLPDenoiser(2, width=64, blocks=2)
    d = Diffusion(m, optim.Adam(m.parameters(), lr=2e-3), NoiseSchedule("linear", 1000), ema_decay=0.95,
                  scale=10.0)
    batches = Batches(x, 128, np.random.default_rng(0))
    losses = [d.step(next(batches))["loss"] for _ in range(600)]
    assert np.mean(losses[-50:]) < 0.5 * np.mean(losses[:10])
    samples = d.sample_ddim(np.random.default_rng(1).standard_normal((1000, 2)), 50)
    r = mode_report(samples, modes, std)
    assert r.modes_covered == 8 and r.high_quality > 0.3  # (6000 steps: > 90 %, see the README)
    assert np.abs(np.linalg.norm(samples, axis=1) - 1).mean() < 0.1  # on the ring


# --- the command ----------------------------------------------------------------------------------------------

FAST = ["diffusion", "--data", "ring8", "--steps", "30", "--log-every", "5", "--eval-every", "10",
        "--ckpt-every", "10", "--eval-samples", "200", "--timesteps", "50", "--sample-steps", "5", "--quiet"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main([*FAST, "--out", str(out)]) == 0
    return out / "diffusion-ring8"


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_directory(ring_run):
    recs = _records(ring_run)
    assert [r["step"] for r in recs] == [5, 10, 15, 20, 25, 30]
    assert all({"loss", "loss_t0", "loss_t3"} <= set(r) for r in recs)
    evals = [r for r in recs if "modes" in r]
    assert [r["step"] for r in evals] == [10, 20, 30] and all("raw_high_quality" in r for r in evals)
    assert sorted(p.name for p in (ring_run / "samples").iterdir()) == [
        "step-00000010.png", "step-00000020.png", "step-00000030.png"]
    diagnosis = json.loads((ring_run / "diagnosis.json").read_text())
    assert diagnosis["finished"] and {d["code"] for d in diagnosis["diagnoses"]} >= {"loss_by_timestep"}
    assert all("loss_t9" in r for r in recs)  # tenths of t
    # the doctor ran during training: --ema-decay 0.995 averages over ~200 steps, longer than this 30-step run
    assert {"ema_too_slow", "ema_vs_raw"} <= {d["code"] for d in diagnosis["diagnoses"]}
    assert (ring_run / "report.html").is_file() and (ring_run / "config.toml").is_file()


def test_resume_is_bit_identical(ring_run, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(ring_run, cut)
    index_path = cut / "checkpoints" / "index.json"
    index = json.loads(index_path.read_text())
    index["latest"] = "step-00000020.safetensors"
    index_path.write_text(json.dumps(index))
    (cut / "checkpoints" / "step-00000030.safetensors").unlink()
    assert main(["diffusion", "--resume", str(cut), "--quiet"]) == 0
    assert (cut / "metrics.jsonl").read_bytes() == (ring_run / "metrics.jsonl").read_bytes()
    # the doctor's findings travel in the checkpoint: the same diagnoses, none raised twice
    assert json.loads((cut / "diagnosis.json").read_text()) == json.loads((ring_run / "diagnosis.json").read_text())
    a = io.load_safetensors(ring_run / "checkpoints" / "step-00000030.safetensors", with_metadata=False)
    b = io.load_safetensors(cut / "checkpoints" / "step-00000030.safetensors", with_metadata=False)
    assert a.keys() == b.keys() and any(k.startswith("ema") for k in a)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["diffusion", "--data", "ring8", "--arch", "unet", "--out", str(tmp_path)]) == 2
    assert "--arch unet" in capsys.readouterr().err
    assert main(["diffusion", "--schedule", "cosin", "--out", str(tmp_path)]) == 2
    assert "did you mean 'cosine'" in capsys.readouterr().err
    assert main(["diffusion", "--resume", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_detect_accepts_diffusion_runs(ring_run, tmp_path):
    from descend.cli import gan as gan_commands
    from descend.gan.detect import load_generator

    g = load_generator(str(ring_run), "--fake")
    assert g.step == 30 and "diffusion" in g.label
    a, b = g.sample(40, np.random.default_rng(0)), g.sample(40, np.random.default_rng(0))
    assert a.shape == (40, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # DDIM with eta 0: the rng's x_T decides the samples
    args = ["detect", "--fake", str(ring_run), "--cross", str(ring_run / "checkpoints" / "step-00000020.safetensors"),
            "--epochs", "1", "--samples", "100", "--out", str(tmp_path), "--quiet"]
    assert gan_commands.main(args) == 0
    result = json.loads((tmp_path / "detect-ring8" / "detect.json").read_text())
    assert 0 <= result["cross_generator_acc"] <= 1 and result["n_cross"] == 200


def test_detector_training_with_blur_jpeg_augmentation_sees_augmented_signals(monkeypatch):
    from descend.data import transforms
    from descend.gan import detect

    seen = []
    real = transforms.TransformDataset.__getitem__

    def spy(self, i):
        x, y = real(self, i)
        seen.append(not np.array_equal(x, self.x[i]))
        return x, y
    monkeypatch.setattr(transforms.TransformDataset, "__getitem__", spy)
    rng = np.random.default_rng(0)
    x = np.tanh(rng.standard_normal((200, 40))).astype(np.float32)
    y = np.repeat([0, 1], 100)
    sets = detect.Sets(x, y, x[75:125], y[75:125], x[75:125], y[75:125])
    opts = detect.options(model="mlp", epochs=1, batch_size=50, augment="blur+jpeg")
    backend.manual_seed(0)
    from descend import models

    result = detect.train_and_evaluate(models.build("mlp", (40,), 2), sets, opts)
    assert len(seen) == 200 and 0.5 < np.mean(seen) < 0.95  # each of blur and JPEG applied with p = 0.5
    assert 0 <= result["in_distribution_acc"] <= 1
    with pytest.raises(Exception, match="--augment"):
        detect.options(augment="jpeg")


def test_frechet_distance_against_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    from descend.diffusion.metrics import frechet_distance, penultimate_features

    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 5))
    b = 0.5 + rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5))
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    want = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * linalg.sqrtm(sa @ sb).real)
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    from descend import models

    backend.manual_seed(0)
    m = models.build("cnn", (40,), 10)
    assert penultimate_features(m, rng.standard_normal((7, 40)).astype(np.float32)).shape == (7, 125)

"""Gradient-penalty GANs: WGAN-GP's and R1's penalties and training steps against PyTorch, a short WGAN-GP run,
the config's defaults, and the doctor reading critic scores."""

import numpy as np
import pytest

import descend
from descend import backend, nn, optim
from descend.gan import config as gan_config
from descend.gan.diagnose import Setting, discriminator_overpowers, oscillation
from descend.gan.models import mixture_discriminator, mixture_generator, mlp_discriminator
from descend.gan.step import GAN, gradient_penalty, r1_penalty, train_gan
from descend.errors import UsageError

torch = pytest.importorskip("torch")


@pytest.fixture
def float64():
    before = backend.default_dtype()
    backend.set_default_dtype(np.float64)
    yield
    backend.set_default_dtype(before)


def _torch_maxout_critic(d: nn.Module, pieces: int):
    """The protocol critic (maxout layers, a linear head) in PyTorch with the same weights."""
    layers = list(d)
    params = [(torch.tensor(m.linear.weight._data.copy(), requires_grad=True),
               torch.tensor(m.linear.bias._data.copy(), requires_grad=True)) for m in layers[:-1]]
    params.append((torch.tensor(layers[-1].weight._data.copy(), requires_grad=True),
                   torch.tensor(layers[-1].bias._data.copy(), requires_grad=True)))

    def forward(x):
        for w, b in params[:-1]:
            y = x @ w.T + b
            x = y.view(*y.shape[:-1], -1, pieces).amax(-1)
        w, b = params[-1]
        return x @ w.T + b

    return forward, [p for wb in params for p in wb]


def _critic(pack=1, seed=0):
    descend.manual_seed(seed)
    d = mixture_discriminator(hidden=12, layers=2, pieces=3, pack=pack)
    for p in d.parameters():  # larger than the protocol's N(0, 0.02²) so the gradients are far from zero
        p._data[...] = backend.rng().standard_normal(p.shape)
    return d


def _grads(d, params):
    """(ours, PyTorch's) parameter gradients. ∇ₓD of a maxout net depends on the weights only (a bias moves
    which piece wins, a step with zero derivative), so in both frameworks the biases get no gradient."""
    out = []
    for p, q in zip(d.parameters(), params):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            out.append((p.grad._data, q.grad.numpy()))
    assert len(out) == len(params) // 2
    return out


@pytest.mark.parametrize("pack", [1, 2])
def test_gradient_penalty_value_and_parameter_gradients_match_pytorch(float64, pack):
    d = _critic(pack)
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((8, 2))
    x = descend.tensor(x_np, requires_grad=True)
    penalty = gradient_penalty(d(x.reshape(8 // pack, -1)), x, pack)
    penalty.backward()
    f, params = _torch_maxout_critic(d, 3)
    xt = torch.tensor(x_np, requires_grad=True)
    g, = torch.autograd.grad(f(xt.view(8 // pack, -1)).sum(), xt, create_graph=True)
    expected = ((g.reshape(8 // pack, -1).norm(2, dim=1) - 1) ** 2).mean()
    expected.backward()
    np.testing.assert_allclose(penalty.item(), expected.item(), rtol=1e-12)
    for ours, theirs in _grads(d, params):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("pack", [1, 2])
def test_r1_penalty_value_and_parameter_gradients_match_pytorch(float64, pack):
    d = _critic(pack, seed=3)
    x_np = np.random.default_rng(4).standard_normal((6, 2))
    x = descend.tensor(x_np, requires_grad=True)
    penalty = r1_penalty(d(x.reshape(6 // pack, -1)), x, pack)
    penalty.backward()
    f, params = _torch_maxout_critic(d, 3)
    xt = torch.tensor(x_np, requires_grad=True)
    g, = torch.autograd.grad(f(xt.view(6 // pack, -1)).sum(), xt, create_graph=True)
    expected = g.pow(2).reshape(6 // pack, -1).sum(1).mean()
    expected.backward()
    np.testing.assert_allclose(penalty.item(), expected.item(), rtol=1e-12)
    for ours, theirs in _grads(d, params):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def _step_pair(loss, r1, pack, d_steps, n=8):
    """One GAN.step in descend and the same step in PyTorch, from the same weights, batches and noise."""
    d = _critic(pack, seed=5)
    g = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 2))
    betas = (0.5, 0.9)
    gan = GAN(g, d, optim.Adam(g.parameters(), lr=1e-2, betas=betas), optim.Adam(d.parameters(), lr=1e-2, betas=betas),
              2, loss=loss, r1=r1, pack=pack, d_steps=d_steps)
    data = np.random.default_rng(6).standard_normal((d_steps, n, 2))
    # The random draws of one step, in GAN.step's order: per critic step the fakes' noise (and wgan-gp's ε),
    # then the generator's noise.
    backend.manual_seed(7)
    draws = []
    for _ in range(d_steps):
        draws.append(backend.rng().standard_normal((n, 2)))
        if loss == "wgan-gp":
            draws.append(backend.rng().random((n, 1)))
    draws.append(backend.rng().standard_normal((n, 2)))

    f, d_params = _torch_maxout_critic(d, 3)
    gl = list(g)
    g_params = [torch.tensor(p._data.copy(), requires_grad=True) for p in g.parameters()]
    gen = lambda z: torch.relu(z @ g_params[0].T + g_params[1]) @ g_params[2].T + g_params[3]  # noqa: E731
    assert len(gl) == 3
    d_opt = torch.optim.Adam(d_params, lr=1e-2, betas=betas)
    g_opt = torch.optim.Adam(g_params, lr=1e-2, betas=betas)
    judge = lambda x: f(x.reshape(n // pack, -1))  # noqa: E731
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    it = iter(draws)
    for k in range(d_steps):
        real = torch.tensor(data[k])
        with torch.no_grad():
            fake = gen(torch.tensor(next(it)))
        if loss == "wgan-gp":
            eps = torch.tensor(next(it))
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            gr, = torch.autograd.grad(judge(x_hat).sum(), x_hat, create_graph=True)
            gp = ((gr.reshape(n // pack, -1).norm(2, dim=1) - 1) ** 2).mean()
            d_loss = judge(fake).mean() - judge(real).mean() + 10.0 * gp
        else:
            real.requires_grad_(True)
            logits = judge(real)
            fl = judge(fake)
            d_loss = bce(logits, torch.ones_like(logits)) + bce(fl, torch.zeros_like(fl))
            gr, = torch.autograd.grad(logits.sum(), real, create_graph=True)
            d_loss = d_loss + 0.5 * r1 * gr.pow(2).reshape(n // pack, -1).sum(1).mean()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
    out = judge(gen(torch.tensor(next(it))))
    g_loss = -out.mean() if loss == "wgan-gp" else bce(out, torch.ones_like(out))
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()

    backend.manual_seed(7)
    logs = gan.step(iter([descend.tensor(b) for b in data]))
    np.testing.assert_allclose(logs["d_loss"], d_loss.item(), rtol=1e-10)
    np.testing.assert_allclose(logs["g_loss"], g_loss.item(), rtol=1e-10)
    for ours, theirs in zip(list(d.parameters()) + list(g.parameters()), d_params + g_params):
        np.testing.assert_allclose(ours._data, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)
    return logs


def test_wgan_gp_step_matches_pytorch(float64):
    logs = _step_pair("wgan-gp", 0.0, pack=1, d_steps=2)
    assert {"wdist", "gp", "d_real", "d_fake"} <= set(logs)


def test_r1_step_matches_pytorch_with_pack(float64):
    logs = _step_pair("non_saturating", 2.0, pack=2, d_steps=1)
    assert logs["r1"] > 0


def _w1(a, b):
    """The exact Wasserstein-1 distance between two equal-size point sets (optimal assignment)."""
    optimize = pytest.importorskip("scipy.optimize")
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    rows, cols = optimize.linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def test_a_short_wgan_gp_run_moves_the_samples_onto_the_ring():
    # A tiny budget (narrow networks, 300 generator steps of 5 critic steps; a generator without BatchNorm, which
    # at this size lets the critic keep up): the samples' distance to the data, measured independently of the
    # critic by optimal assignment, falls from the start's ~1 (a blob at the centre of a ring of radius 1),
    # modes are covered, and the critic's own estimate E D(real) - E D(fake) stays below the true distance's
    # start and positive (a critic that keeps up).
    from descend.data.mixtures import gaussian_mixture
    from descend.gan.evaluate import mode_report

    x, modes, std = gaussian_mixture("ring8", 20_000, 0)
    descend.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    d = mixture_discriminator(hidden=32, layers=2)
    gan = GAN(g, d, optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.9)),
              optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.9)), 2, loss="wgan-gp", d_steps=5)
    real = x[:400].astype(np.float64)
    z = descend.tensor(np.random.default_rng(9).standard_normal((2500, 2)).astype(np.float32))  # global RNG untouched
    before = _w1(gan.sample(z)[:400], real)
    hist = train_gan(gan, x, 300, 64, log_every=50)
    samples = gan.sample(z)
    after = _w1(samples[:400], real)
    # PyTorch, same networks and settings (its own random stream): 1.07 at step 50, 0.40 at 300, 0.27 at 400.
    assert before > 0.8 and after < 0.5 * before, (before, after)
    assert 0 < hist[-1]["wdist"] < before and hist[-1]["gp"] < 0.1, hist[-1]
    assert mode_report(samples, modes, std).modes_covered >= 6


def test_config_defaults_for_the_penalties():
    w = gan_config.from_flags({"--loss": "wgan-gp"})
    assert w["gan"]["d_steps"] == 5 and w["gan"]["gp_weight"] == 10.0
    assert (w["optim"]["beta1"], w["optim"]["beta2"]) == (0.5, 0.9)
    plain = gan_config.from_flags({"--r1": 1.0})
    assert plain["gan"]["d_steps"] == 1 and plain["optim"]["beta2"] == 0.999 and plain["gan"]["r1"] == 1.0
    assert gan_config.from_flags({"--loss": "wgan-gp", "--d-steps": 2})["gan"]["d_steps"] == 2
    with pytest.raises(UsageError, match="own gradient penalty"):
        gan_config.from_flags({"--loss": "wgan-gp", "--r1": 1.0})
    with pytest.raises(UsageError, match="--gp-weight: must be >= 0"):
        gan_config.from_flags({"--gp-weight": -1.0})


def test_critics_have_no_batchnorm_and_a_batchnorm_critic_is_refused():
    from descend.nn.normalization import _BatchNorm

    for d in (mixture_discriminator(), mixture_discriminator(pack=2), mlp_discriminator((40,)),
              mlp_discriminator((1, 28, 28))):
        assert not any(isinstance(m, _BatchNorm) for m in d.modules())
    g = nn.Linear(2, 2)
    bn = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="without BatchNorm"):
        GAN(g, bn, optim.Adam(g.parameters()), optim.Adam(bn.parameters()), 2, loss="wgan-gp")


def _records(d_real, d_fake, g_losses):
    return [{"kind": "gan", "step": 100 * (i + 1), "d_loss": 0.1, "d_real": d_real, "d_fake": d_fake,
             "g_loss": gl} for i, gl in enumerate(g_losses)]


def test_overpowering_rule_reads_probabilities_not_critic_scores():
    climbing = [0.7, 0.8, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    # A logit discriminator sure of both sides while the generator's loss climbs: diagnosed.
    s = Setting("mixture", 800, num_modes=8, loss="non_saturating")
    assert discriminator_overpowers(_records(0.95, 0.02, climbing), s, {}).code == "discriminator_overpowers"
    # A WGAN critic's scores (D(real) 3, D(fake) -2: unbounded, here past both probability thresholds) with the
    # generator's loss -D(G(z)) rising as the critic rescales: not the saturating-discriminator failure.
    w = Setting("mixture", 800, num_modes=8, loss="wgan-gp")
    assert discriminator_overpowers(_records(3.0, -2.0, climbing), w, {}) is None


def test_critic_loss_near_zero_is_not_called_oscillation():
    # A critic's loss -(E D(real) - E D(fake)) + λ·gp wanders around 0: small noise is a large swing relative to
    # its median, which the relative loss-swing test would read as a cycling discriminator.
    noise = np.random.default_rng(0).uniform(0.02, 0.08, 20) * (-1.0) ** np.arange(20)  # ±0.05, alternating
    records = [{"kind": "gan", "step": 50 * (i + 1), "d_loss": float(v), "d_real": 0.3, "d_fake": 0.2,
                "g_loss": -0.2} for i, v in enumerate(noise)]
    plain = Setting("mixture", 1000, num_modes=8, loss="non_saturating")
    assert oscillation(records, plain, {}).code == "gan_oscillation"  # what the rule would say unadapted
    assert oscillation(records, Setting("mixture", 1000, num_modes=8, loss="wgan-gp"), {}) is None

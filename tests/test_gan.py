"""Adversarial training: the generator moves to the data, and each option does what it says."""

import numpy as np
import pytest

import descend
from descend import nn, optim
from descend.gan.models import Maxout, mixture_discriminator, mixture_generator
from descend.gan.step import GAN, train_gan


def _gan(loss="non_saturating", pack=1, smoothing=0.0, d_steps=1, seed=0):
    descend.manual_seed(seed)
    g = nn.Linear(1, 1)
    d = nn.Sequential(nn.Linear(pack, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return GAN(g, d, optim.Adam(g.parameters(), lr=0.02, betas=(0.5, 0.999)),
               optim.Adam(d.parameters(), lr=0.02, betas=(0.5, 0.999)), 1,
               loss=loss, label_smoothing=smoothing, d_steps=d_steps, pack=pack)


# The minimax loss saturates while D wins (its gradient vanishes), so it gets more steps.
@pytest.mark.parametrize("loss,pack,steps", [("non_saturating", 1, 600), ("minimax", 1, 1500),
                                             ("non_saturating", 2, 600)])
def test_generator_moves_to_the_data(loss, pack, steps):
    data = (3.0 + 0.2 * np.random.default_rng(0).standard_normal((4000, 1))).astype(np.float32)
    gan = _gan(loss=loss, pack=pack)
    before = gan.sample(gan.noise(1000)).mean()
    hist = train_gan(gan, data, steps, 64, log_every=100)
    after = gan.sample(gan.noise(1000))
    assert abs(before - 3.0) > 2.0
    assert abs(after.mean() - 3.0) < 0.3, (loss, pack, after.mean())
    assert all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in hist)
    assert set(hist[-1]) == {"kind", "step", "d_loss", "d_real", "d_fake", "g_loss"}


def test_one_sided_label_smoothing_changes_only_the_real_target():
    gan = _gan(smoothing=0.1)
    real = descend.tensor(np.full((8, 1), 3.0, np.float32))
    with descend.no_grad():
        real_logits = gan.discriminator(real)
        fake_logits = gan.discriminator(gan.generator(gan.noise(8)))
    logs = gan.d_step(real)
    s = lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))  # noqa: E731
    # Same fakes are not reproducible, so check the real half: BCE against 0.9, not 1.
    expected_real = -(0.9 * np.log(s(real_logits._data)) + 0.1 * np.log(1 - s(real_logits._data))).mean()
    assert logs["d_loss"] > expected_real  # the fake half adds a positive term
    assert fake_logits.shape == (8, 1)


def test_generator_step_leaves_discriminator_untouched():
    gan = _gan()
    before = [p._data.copy() for p in gan.discriminator.parameters()]
    gan.g_step(32)
    for p, b in zip(gan.discriminator.parameters(), before):
        assert p.grad is None and p.requires_grad
        np.testing.assert_array_equal(p._data, b)


def test_d_steps_take_that_many_real_batches():
    gan = _gan(d_steps=3)
    taken = []

    def batches():
        while True:
            taken.append(1)
            yield descend.tensor(np.full((16, 1), 3.0, np.float32))

    gan.step(batches())
    assert len(taken) == 3


def test_bad_options_are_named():
    g, d = nn.Linear(1, 1), nn.Linear(1, 1)
    o = optim.SGD(g.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="loss"):
        GAN(g, d, o, o, 1, loss="wasserstein")
    with pytest.raises(ValueError, match="label_smoothing"):
        GAN(g, d, o, o, 1, label_smoothing=1.0)


def test_protocol_networks_have_the_published_shapes():
    g, d = mixture_generator(), mixture_discriminator(pack=2)
    assert [m.out_features for m in g if isinstance(m, nn.Linear)] == [400, 400, 400, 400, 2]
    maxouts = [m for m in d if isinstance(m, Maxout)]
    assert [(m.out_features, m.pieces) for m in maxouts] == [(200, 5)] * 3
    assert maxouts[0].linear.in_features == 4  # two packed 2-D samples
    assert d(descend.randn(5, 4)).shape == (5, 1)

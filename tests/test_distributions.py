"""descend.distributions against torch.distributions: log_prob, entropy, moments, KL and their gradients on
the same parameters (float64), and samples checked by their statistics (the random streams differ)."""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

rng = np.random.default_rng(0)
LOC, SCALE = rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4))
VALUE = rng.standard_normal((3, 4))
LOGITS = rng.standard_normal((3, 5))
PROBS = rng.uniform(0.05, 0.95, (3, 4))


def _params(lib, *arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _both(build):
    """build(lib, dist_module) -> (scalar loss, params): values and parameter gradients for both libraries."""
    out = []
    for lib, mod in ((descend, D), (torch, TD)):
        loss, params = build(lib, mod)
        loss.backward()
        out.append((float(loss.detach()), [p.grad.numpy().copy() for p in params]))
    return out


CASES = {
    "normal_log_prob": lambda lib, mod: (lambda p: ((mod.Normal(*p).log_prob(lib.tensor(VALUE))).sum(), p))(
        _params(lib, LOC, SCALE)),
    "normal_entropy_cdf": lambda lib, mod: (lambda p: ((mod.Normal(*p).entropy() + mod.Normal(*p).cdf(
        lib.tensor(VALUE))).sum(), p))(_params(lib, LOC, SCALE)),
    "normal_moments": lambda lib, mod: (lambda p: ((mod.Normal(*p).mean + mod.Normal(*p).stddev
                                                     + mod.Normal(*p).variance).sum(), p))(_params(lib, LOC, SCALE)),
    "normal_kl": lambda lib, mod: (lambda p: (mod.kl_divergence(mod.Normal(p[0], p[1]), mod.Normal(
        p[1] - 1, p[0].abs() + 0.5)).sum(), p))(_params(lib, LOC, SCALE)),
    "uniform": lambda lib, mod: (lambda p: ((mod.Uniform(p[0] - 3, p[1] + 3).log_prob(lib.tensor(VALUE))
                                             + mod.Uniform(p[0] - 3, p[1] + 3).entropy()).sum(), p))(
        _params(lib, LOC, SCALE)),
    "bernoulli_probs": lambda lib, mod: (lambda p: ((mod.Bernoulli(probs=p[0]).log_prob(lib.tensor(
        (VALUE > 0).astype(np.float64))) + mod.Bernoulli(probs=p[0]).entropy()).sum(), p))(_params(lib, PROBS)),
    "bernoulli_logits_kl": lambda lib, mod: (lambda p: ((mod.kl_divergence(mod.Bernoulli(logits=p[0]),
                                                                           mod.Bernoulli(logits=-p[0] * 0.5))
                                                         + mod.Bernoulli(logits=p[0]).log_prob(lib.tensor(
                                                             (VALUE > 0).astype(np.float64)))).sum(), p))(
        _params(lib, LOC)),
    "categorical_logits": lambda lib, mod: (lambda p: ((mod.Categorical(logits=p[0]).log_prob(lib.tensor(
        [0, 4, 2])) * 2 + mod.Categorical(logits=p[0]).entropy()).sum(), p))(_params(lib, LOGITS)),
    "categorical_probs_kl": lambda lib, mod: (lambda p: (mod.kl_divergence(
        mod.Categorical(probs=p[0].softmax(-1)), mod.Categorical(logits=p[0] * 0.3)).sum()
        + mod.Categorical(probs=p[0].exp()).log_prob(lib.tensor([1, 1, 3])).sum(), p))(_params(lib, LOGITS)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_densities_and_gradients_match_torch(name: str) -> None:
    (mine, mine_grads), (ref, ref_grads) = _both(CASES[name])
    np.testing.assert_allclose(mine, ref, rtol=1e-10)
    for a, b in zip(mine_grads, ref_grads):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_samples_have_the_distributions_statistics_and_shapes() -> None:
    descend.manual_seed(0)
    loc, scale = descend.tensor([1.0, -2.0], requires_grad=True), descend.tensor([0.5, 2.0], requires_grad=True)
    x = D.Normal(loc, scale).rsample((20000,))
    assert tuple(x.shape) == (20000, 2)
    np.testing.assert_allclose(x.detach().numpy().mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(x.detach().numpy().std(0), [0.5, 2.0], rtol=0.03)
    x.mean().backward()  # reparameterised: d mean / d loc = 1/2 per component
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5], rtol=1e-3)  # (a float32 mean of 40,000)
    assert not D.Normal(loc, scale).sample().requires_grad
    c = D.Categorical(probs=descend.tensor([[0.2, 0.8], [0.9, 0.1]])).sample((5000,))
    assert tuple(c.shape) == (5000, 2) and c.dtype == descend.int64
    np.testing.assert_allclose(c.numpy().mean(0), [0.8, 0.1], atol=0.03)
    b = D.Bernoulli(probs=descend.tensor([0.3])).sample((8000,))
    assert tuple(b.shape) == (8000, 1) and abs(float(b.mean()) - 0.3) < 0.03
    u = D.Uniform(2.0, 5.0).rsample((8000,))
    assert 2.0 <= float(u.min()) and float(u.max()) < 5.0


def test_errors_as_torch() -> None:
    for mod in (D, TD):
        with pytest.raises(ValueError):
            mod.Categorical()
        with pytest.raises(ValueError):
            mod.Bernoulli(probs=descend.tensor([0.5]) if mod is D else torch.tensor([0.5]),
                          logits=descend.tensor([0.0]) if mod is D else torch.tensor([0.0]))


def test_kl_is_infinite_where_q_has_no_mass_and_zero_where_p_has_none() -> None:
    got = []
    for lib, mod in ((descend, D), (torch, TD)):
        t = lib.tensor
        got.append([
            mod.kl_divergence(mod.Uniform(0.0, 1.0), mod.Uniform(t([-1.0, 0.5]), t([2.0, 2.0]))).tolist(),
            mod.kl_divergence(mod.Bernoulli(t([0.0, 1.0, 0.4, 0.3])), mod.Bernoulli(t([0.3, 0.2, 0.4, 0.0]))).tolist(),
            mod.kl_divergence(mod.Categorical(t([[0, 0.5, 0.5], [0.2, 0.3, 0.5]])),
                              mod.Categorical(t([[0.2, 0.0, 0.8], [0.1, 0.1, 0.8]]))).tolist()])
    for mine, ref in zip(*got):
        np.testing.assert_allclose(mine, ref, rtol=1e-5)


def test_modes_quantiles_validation_and_repr_as_torch() -> None:
    def run(lib, mod):
        t = lib.tensor
        out = [mod.Normal(t([1.0]), t([2.0])).icdf(t([0.975])).tolist(), float(mod.Normal(0.0, 1.0).mode),
               int(mod.Categorical(probs=t([0.2, 0.5, 0.3])).mode), mod.Bernoulli(t([0.3, 0.7])).mode.tolist(),
               repr(mod.Uniform(0.0, 1.0)), repr(mod.Categorical(logits=lib.zeros(2, 3))).split("(")[0]]
        for bad in (lambda: mod.Normal(0.0, -1.0), lambda: mod.Uniform(1.0, 0.0),
                    lambda: mod.Bernoulli(probs=t([1.5])), lambda: mod.Categorical(probs=t([-0.1, 1.1]))):
            with pytest.raises(ValueError, match="Expected parameter"):
                bad()
        mod.Normal(0.0, -1.0, validate_args=False)  # validation off: accepted
        return out
    mine, ref = run(descend, D), run(torch, TD)
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-6)
    assert mine[1:] == ref[1:]

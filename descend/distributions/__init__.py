"""`descend.distributions`: the probability distributions PyTorch scripts use most (VAEs, policy gradients),
with torch.distributions' names and semantics — `sample` (no gradient), `rsample` (reparameterised, gradients
flow to the parameters), `log_prob`, `entropy`, `mean`, `variance`, `stddev` — and `kl_divergence` between two
of the same family. Samples come from descend's global generator (`descend.manual_seed`), not PyTorch's.

>>> import descend
>>> from descend.distributions import Normal, kl_divergence
>>> p = Normal(descend.tensor([0.0]), descend.tensor([1.0]))
>>> round(p.log_prob(descend.tensor([0.0])).item(), 4)
-0.9189
>>> round(kl_divergence(p, Normal(descend.tensor([1.0]), descend.tensor([1.0]))).item(), 4)
0.5
"""

from descend.distributions.families import (Bernoulli, Categorical, Distribution, Normal, Uniform,
                                            kl_divergence)

__all__ = ["Distribution", "Normal", "Uniform", "Bernoulli", "Categorical", "kl_divergence"]

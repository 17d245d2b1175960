"""The adversarial step: alternating discriminator and generator updates with separate optimizers.

GanTrainer (gan/loop.py) runs these steps as Trainer (train/loop.py) runs a classifier's.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

import descend.functional as F
from descend import backend
from descend.autograd import grad
from descend.nn import Module
from descend.nn.normalization import _BatchNorm
from descend._tensor import Tensor, no_grad

LOSSES = ("non_saturating", "minimax", "wgan-gp")


class GAN:
    """A generator, a discriminator, their optimizers, and the rules of the game between them.

    `loss`: "non_saturating" (G maximises log D(G(z)), Goodfellow et al.'s practical choice) or "minimax"
    (G minimises log(1 - D(G(z))), the original objective, whose gradient vanishes while D wins).
    `label_smoothing`: one-sided — real targets become 1 - s, fake targets stay 0 (Salimans et al., 2016).
    "wgan-gp" (Gulrajani et al., 2017): the discriminator is a critic with unbounded outputs, trained on
    D(fake) - D(real) + gp_weight·(‖∇D(x̂)‖₂ - 1)² at x̂ = εx + (1-ε)G(z), ε ~ U[0, 1] per sample; the
    generator minimises -D(G(z)). `r1` (Mescheder et al., 2018): (r1/2)·E‖∇D(x_real)‖² added to the
    discriminator's loss (logit outputs; not with wgan-gp, which has its own penalty).
    `d_steps`: discriminator updates per generator update. `pack`: samples the discriminator judges jointly
    (PacGAN); its input width must be `pack` times a sample's size, and penalties take the gradient norm per
    discriminator input (a pack).
    """

    def __init__(self, generator: Module, discriminator: Module, g_optimizer: Any, d_optimizer: Any,
                 noise_dim: int, *, loss: str = "non_saturating", label_smoothing: float = 0.0,
                 d_steps: int = 1, pack: int = 1, gp_weight: float = 10.0, r1: float = 0.0) -> None:
        if loss not in LOSSES:
            raise ValueError(f"GAN: loss must be one of {LOSSES}, got {loss!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"GAN: label_smoothing must be in [0, 1), got {label_smoothing}")
        if d_steps < 1 or pack < 1:
            raise ValueError(f"GAN: d_steps and pack must be >= 1, got d_steps={d_steps}, pack={pack}")
        if gp_weight < 0 or r1 < 0:
            raise ValueError(f"GAN: gp_weight and r1 must be >= 0, got gp_weight={gp_weight}, r1={r1}")
        if loss == "wgan-gp" and (r1 or label_smoothing):
            raise ValueError("GAN: loss 'wgan-gp' has its own gradient penalty and no labels; "
                             f"got r1={r1}, label_smoothing={label_smoothing}")
        if (loss == "wgan-gp" or r1) and any(isinstance(m, _BatchNorm) for m in discriminator.modules()):
            # The penalty is a per-sample gradient norm; batch statistics would mix the samples' gradients.
            raise ValueError("GAN: a gradient penalty needs a discriminator without BatchNorm "
                             "(Gulrajani et al. 2017 use layer normalisation or none)")
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.noise_dim, self.loss, self.label_smoothing = noise_dim, loss, label_smoothing
        self.d_steps, self.pack = d_steps, pack
        self.gp_weight, self.r1 = gp_weight, r1

    def noise(self, n: int) -> Tensor:
        """Standard normal latent vectors from the global generator."""
        z = backend.rng().standard_normal((n, self.noise_dim)).astype(backend.default_dtype())
        return Tensor(backend.xp.asarray(z))

    def _judge(self, x: Tensor) -> Tensor:
        """Discriminator logits, one per pack of `pack` consecutive samples."""
        return self.discriminator(x.reshape(x.shape[0] // self.pack, -1))

    def d_step(self, real: Tensor) -> dict:
        """One discriminator update on a real batch and as many fresh fakes.

        Random draws, in order, from the global generator: the fakes' noise, then (wgan-gp) the ε of x̂.
        """
        n = real.shape[0] - real.shape[0] % self.pack
        if n == 0:
            raise ValueError(f"GAN.d_step: a batch of {real.shape[0]} cannot be packed in groups of {self.pack}")
        real = real[:n]
        with no_grad():
            fake = self.generator(self.noise(n))
        if self.loss == "wgan-gp":
            loss, logs = self._critic_loss(real, fake)
        else:
            loss, logs = self._classifier_loss(real, fake)
        self.d_optimizer.zero_grad()
        loss.backward()
        self.d_optimizer.step()
        return {"d_loss": loss.item(), **logs}

    def _classifier_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict]:
        """Binary cross-entropy of real vs fake logits, plus the R1 penalty on the real samples if asked."""
        if self.r1:
            real = real.detach().requires_grad_(True)
        real_logits, fake_logits = self._judge(real), self._judge(fake)
        ones = np.full(real_logits.shape, 1.0 - self.label_smoothing, dtype=real_logits.dtype)
        zeros = np.zeros(fake_logits.shape, dtype=fake_logits.dtype)
        loss = (F.binary_cross_entropy_with_logits(real_logits, Tensor(ones))
                + F.binary_cross_entropy_with_logits(fake_logits, Tensor(zeros)))
        logs = {"d_real": float(_sigmoid(real_logits._data).mean()),
                "d_fake": float(_sigmoid(fake_logits._data).mean())}
        if self.r1:
            penalty = r1_penalty(real_logits, real, self.pack)
            loss = loss + 0.5 * self.r1 * penalty
            logs["r1"] = penalty.item()
        return loss, logs

    def _critic_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict]:
        """WGAN-GP's critic loss: E D(fake) - E D(real) + gp_weight·E(‖∇D(x̂)‖₂ - 1)²."""
        real_out, fake_out = self._judge(real), self._judge(fake)
        shape = (real.shape[0],) + (1,) * (real.ndim - 1)
        eps = Tensor(backend.xp.asarray(backend.rng().random(shape).astype(real.dtype)))
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
        penalty = gradient_penalty(self._judge(x_hat), x_hat, self.pack)
        gap = real_out.mean() - fake_out.mean()
        loss = -gap + self.gp_weight * penalty
        return loss, {"d_real": float(real_out._data.mean()), "d_fake": float(fake_out._data.mean()),
                      "wdist": gap.item(), "gp": penalty.item()}

    def g_step(self, n: int) -> dict:
        """One generator update on `n` fresh samples; the discriminator is held fixed."""
        n -= n % self.pack
        self.discriminator.requires_grad_(False)  # no wasted gradients for D's weights
        try:
            logits = self._judge(self.generator(self.noise(n)))
            if self.loss == "wgan-gp":
                loss = -logits.mean()
            elif self.loss == "non_saturating":
                loss = F.binary_cross_entropy_with_logits(logits, Tensor(np.ones(logits.shape, logits.dtype)))
            else:
                loss = -F.binary_cross_entropy_with_logits(logits, Tensor(np.zeros(logits.shape, logits.dtype)))
            self.g_optimizer.zero_grad()
            loss.backward()
            self.g_optimizer.step()
        finally:
            self.discriminator.requires_grad_(True)
        return {"g_loss": loss.item()}

    def step(self, batches: Iterator[Tensor]) -> dict:
        """`d_steps` discriminator updates on the next real batches, then one generator update."""
        logs: dict = {}
        for _ in range(self.d_steps):
            real = next(batches)
            logs = self.d_step(real)
        logs.update(self.g_step(real.shape[0]))
        return logs

    @no_grad()
    def sample(self, z: Tensor) -> np.ndarray:
        """Generator outputs for fixed latents, in eval mode (BatchNorm uses running statistics)."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            return backend.to_numpy(self.generator(z)._data)
        finally:
            self.generator.train(was_training)

    def state_dict(self) -> dict:
        """Both networks and both optimizers."""
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "g_optimizer": self.g_optimizer.state_dict(), "d_optimizer": self.d_optimizer.state_dict()}

    def load_state_dict(self, sd: dict) -> None:
        self.generator.load_state_dict(sd["generator"])
        self.discriminator.load_state_dict(sd["discriminator"])
        self.g_optimizer.load_state_dict(sd["g_optimizer"])
        self.d_optimizer.load_state_dict(sd["d_optimizer"])


def input_grad_norms_sq(out: Tensor, x: Tensor, pack: int = 1) -> Tensor:
    """‖∂out/∂input‖² per discriminator input (a pack of `pack` consecutive samples of `x`), differentiable.

    `out`: the discriminator's outputs, one per input; `x`: the samples it judged (requires_grad). Inputs are
    judged independently (no BatchNorm), so the gradient of the outputs' sum holds each input's own gradient.
    """
    g, = grad(out.sum(), x, create_graph=True)
    sq = g * g
    return sq.reshape(sq.shape[0] // pack, -1).sum(1)


def gradient_penalty(out: Tensor, x_hat: Tensor, pack: int = 1) -> Tensor:
    """WGAN-GP's penalty E(‖∇D(x̂)‖₂ - 1)² (Gulrajani et al., 2017), `out` = D(x̂)."""
    return ((input_grad_norms_sq(out, x_hat, pack).sqrt() - 1) ** 2).mean()


def r1_penalty(out: Tensor, real: Tensor, pack: int = 1) -> Tensor:
    """R1's E‖∇D(x)‖² on real samples (Mescheder et al., 2018; the loss adds γ/2 times it), `out` = D(real)."""
    return input_grad_norms_sq(out, real, pack).mean()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Batches:
    """Endless shuffled mini-batches of an in-memory array (a fresh permutation each pass), resumable exactly."""

    def __init__(self, data: np.ndarray, batch_size: int, rng: np.random.Generator) -> None:
        if not 1 <= batch_size <= len(data):
            raise ValueError(f"Batches: batch_size must be in [1, {len(data)}] for {len(data)} samples, "
                             f"got {batch_size}")
        self.data, self.batch_size, self.rng = data, batch_size, rng
        self.order: np.ndarray | None = None
        self.pos = 0

    def __iter__(self) -> "Batches":
        return self

    def __next__(self) -> Tensor:
        if self.order is None or self.pos + self.batch_size > len(self.data):
            self.order, self.pos = self.rng.permutation(len(self.data)), 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return Tensor(backend.xp.asarray(self.data[idx]))

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order = None if state["order"] is None else np.asarray(state["order"])
        self.pos = int(state["pos"])


def train_gan(gan: GAN, data: np.ndarray, steps: int, batch_size: int = 100, *, seed: int = 0,
              log_every: int = 100, on_log: Callable[[dict], Any] | None = None) -> list[dict]:
    """Run `steps` generator updates; every `log_every` steps call `on_log` with the averaged losses."""
    batches = Batches(data, batch_size * gan.pack, np.random.default_rng(seed))
    history, window = [], []
    for step in range(1, steps + 1):
        window.append(gan.step(batches))
        if step % log_every == 0 or step == steps:
            rec = {"kind": "gan", "step": step}
            rec.update({k: float(np.mean([w[k] for w in window])) for k in window[0]})
            window = []
            if on_log is not None:
                on_log(rec)
            history.append(rec)
    return history

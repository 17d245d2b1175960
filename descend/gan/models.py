"""The networks of the 2-D mixture protocol (VEEGAN/PacGAN) and small image GANs."""

from __future__ import annotations

from descend import nn
from descend.tensor import Tensor


class Maxout(nn.Module):
    """A linear layer whose `pieces` outputs per unit are reduced by max (Goodfellow et al., 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int = 5) -> None:
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x)
        return y.reshape(*y.shape[:-1], self.out_features, self.pieces).amax(-1)

    def extra_repr(self) -> str:
        return f"out_features={self.out_features}, pieces={self.pieces}"


class Reshape(nn.Module):
    """Reshape the non-batch dims to `shape`."""

    def __init__(self, shape: tuple) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def mixture_generator(noise_dim: int = 2, hidden: int = 400, layers: int = 4, out_dim: int = 2) -> nn.Module:
    """The protocol's generator: `layers` ReLU layers of `hidden` units with batch normalisation."""
    mods: list = []
    width = noise_dim
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, out_dim))
    return nn.Sequential(*mods)


def mixture_discriminator(in_dim: int = 2, hidden: int = 200, layers: int = 3, pieces: int = 5,
                          pack: int = 1) -> nn.Module:
    """The protocol's discriminator: `layers` maxout layers; `pack` samples are judged jointly (PacGAN)."""
    mods: list = []
    width = in_dim * pack
    for _ in range(layers):
        mods.append(Maxout(width, hidden, pieces))
        width = hidden
    mods.append(nn.Linear(width, 1))
    return nn.Sequential(*mods)


def mlp_generator(noise_dim: int, out_shape: tuple, hidden: int = 256) -> nn.Module:
    """A small generator for flat or image data: outputs in (-1, 1) through tanh, reshaped to `out_shape`."""
    size = 1
    for n in out_shape:
        size *= n
    return nn.Sequential(nn.Linear(noise_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, size), nn.Tanh(), Reshape(out_shape))


def mlp_discriminator(in_shape: tuple, hidden: int = 256, pack: int = 1) -> nn.Module:
    """A small discriminator for flat or image data (LeakyReLU, as DCGAN advises)."""
    size = 1
    for n in in_shape:
        size *= n
    return nn.Sequential(nn.Flatten(), nn.Linear(size * pack, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

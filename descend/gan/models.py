"""The networks of the 2-D mixture protocol (VEEGAN/PacGAN) and small image GANs."""

from __future__ import annotations

from descend import nn
from descend.nn import init
from descend._tensor import Tensor

INIT_STD = 0.02  # the protocol's weight initialisation: N(0, 0.02²) weights, zero biases


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


def normal_init_(module: nn.Module, std: float = INIT_STD) -> nn.Module:
    """N(0, std²) weights and zero biases for every Linear in `module` (BatchNorm keeps 1 and 0)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                init.zeros_(m.bias)
    return module


def mixture_generator(noise_dim: int = 2, hidden: int = 400, layers: int = 4, out_dim: int = 2) -> nn.Module:
    """The protocol's generator: `layers` ReLU layers of `hidden` units with batch normalisation."""
    mods: list = []
    width = noise_dim
    for _ in range(layers):
        # No bias before BatchNorm (it would be subtracted again); running averages move 5 % per step as in
        # the protocol's code.
        mods += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden, momentum=0.05), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, out_dim))
    return normal_init_(nn.Sequential(*mods))


def mixture_discriminator(in_dim: int = 2, hidden: int = 200, layers: int = 3, pieces: int = 5,
                          pack: int = 1) -> nn.Module:
    """The protocol's discriminator: `layers` maxout layers; `pack` samples are judged jointly (PacGAN)."""
    mods: list = []
    width = in_dim * pack
    for _ in range(layers):
        mods.append(Maxout(width, hidden, pieces))
        width = hidden
    mods.append(nn.Linear(width, 1))
    return normal_init_(nn.Sequential(*mods))


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


def conv_generator(noise_dim: int, out_shape: tuple, channels: int = 8, hidden: int = 256) -> nn.Module:
    """A generator whose last layers are convolutions at full resolution (1-D signals or C×H×W images).

    A different architecture from `mlp_generator` with different artifacts (its outputs are locally smooth):
    the detector's cross-generator test needs one.
    """
    spatial = tuple(out_shape[-1:]) if len(out_shape) == 1 else tuple(out_shape[1:])
    out_channels = 1 if len(out_shape) == 1 else out_shape[0]
    conv = nn.Conv1d if len(spatial) == 1 else nn.Conv2d
    size = channels
    for n in spatial:
        size *= n
    return nn.Sequential(nn.Linear(noise_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, size), nn.BatchNorm1d(size), nn.ReLU(),
                         Reshape((channels, *spatial)),
                         conv(channels, channels, 5, padding=2), nn.ReLU(),
                         conv(channels, out_channels, 5, padding=2), nn.Tanh(), Reshape(tuple(out_shape)))


class PackedImages(nn.Module):
    """(N, pack·C·H·W) rows, as the GAN hands them to its discriminator, back to (N, pack·C, H, W) images.

    PacGAN's convolutional form: the `pack` samples judged jointly are stacked along the channels.
    """

    def __init__(self, shape: tuple, pack: int = 1) -> None:
        super().__init__()
        self.shape, self.pack = tuple(shape), pack

    def forward(self, x: Tensor) -> Tensor:
        c, h, w = self.shape
        return x.reshape(x.shape[0], self.pack * c, h, w)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, pack={self.pack}"


def _image_shape(shape: tuple, what: str) -> tuple[int, int, int]:
    """(C, 28, 28) from a sample shape (28, 28) or (C, 28, 28); ValueError naming the shape otherwise."""
    full = (1, *shape) if len(shape) == 2 else tuple(shape)
    if len(full) != 3 or full[1:] != (28, 28):
        raise ValueError(f"{what}: the DCGAN networks are sized for 28x28 images, got samples of shape "
                         f"{tuple(shape)}")
    return full  # type: ignore[return-value]


def dcgan_generator(noise_dim: int, out_shape: tuple, ngf: int = 64) -> nn.Module:
    """Radford et al.'s generator for 28x28 images (descend.models.dcgan): z -> 7x7 -> 14x14 -> 28x28."""
    from descend.models.dcgan import Generator

    c = _image_shape(out_shape, "dcgan_generator")[0]
    gen = Generator(noise_dim, ngf, c)
    return gen if len(out_shape) == 3 else nn.Sequential(gen, Reshape(tuple(out_shape)))


def dcgan_discriminator(in_shape: tuple, ndf: int = 64, pack: int = 1, batch_norm: bool = True) -> nn.Module:
    """Radford et al.'s discriminator for 28x28 images, returning logits; `pack` samples stacked as channels.

    `batch_norm=False` for the gradient penalties (WGAN-GP, R1), whose per-sample gradients batch
    statistics would mix.
    """
    from descend.models.dcgan import Discriminator

    c, h, w = _image_shape(in_shape, "dcgan_discriminator")
    return nn.Sequential(PackedImages((c, h, w), pack),
                         Discriminator(c * pack, ndf, sigmoid=False, batch_norm=batch_norm))

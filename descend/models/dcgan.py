"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016) sized for 28x28 images.

The architecture guidelines of the paper, as the PyTorch DCGAN tutorial implements them for 64x64: no
pooling (strided transposed convolutions upsample in the generator, strided convolutions downsample in the
discriminator), batch norm in both networks except the generator's output and the discriminator's input
layer, ReLU in the generator with Tanh at the output, LeakyReLU(0.2) in the discriminator, every weight drawn
from N(0, 0.02) (batch norm scales from N(1, 0.02), shifts 0). For 28x28 the tutorial's five layers become
three: the generator maps z (N, nz, 1, 1) to 7x7 with a 7x7 kernel, then doubles twice (kernel 4, stride
2, padding 1) to 14x14 and 28x28; the discriminator mirrors it and ends in one probability per image.
"""

from __future__ import annotations

from descend import nn
from descend._tensor import Tensor


def weights_init(m: nn.Module) -> None:
    """The paper's initialisation, applied with model.apply(weights_init) as in the PyTorch tutorial."""
    name = type(m).__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0)


class Generator(nn.Module):
    """z (N, nz, 1, 1) or (N, nz) -> images (N, nc, 28, 28) in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 1) -> None:
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False),          # 7x7
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),     # 14x14
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),          # 28x28
            nn.Tanh(),
        )
        self.apply(weights_init)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim == 2:
            z = z.reshape(z.shape[0], z.shape[1], 1, 1)
        if z.ndim != 4 or z.shape[1:] != (self.nz, 1, 1):
            raise ValueError(f"DCGAN Generator: expected z (N, {self.nz}, 1, 1) or (N, {self.nz}), got "
                             f"{tuple(z.shape)}")
        return self.main(z)


class Discriminator(nn.Module):
    """Images (N, nc, 28, 28) -> the probability (N,) that each is real.

    `sigmoid=False` returns logits instead (for BCEWithLogitsLoss and critic losses); `batch_norm=False`
    drops the hidden batch norm, which a per-sample gradient penalty (WGAN-GP, R1) cannot go through.
    """

    def __init__(self, nc: int = 1, ndf: int = 64, sigmoid: bool = True, batch_norm: bool = True) -> None:
        super().__init__()
        self.nc = nc
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),                       # 14x14
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),                  # 7x7
            nn.BatchNorm2d(ndf * 2) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),                    # 1x1
            nn.Sigmoid() if sigmoid else nn.Identity(),
        )
        self.apply(weights_init)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3 and self.nc == 1:
            x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if x.ndim != 4 or x.shape[1:] != (self.nc, 28, 28):
            raise ValueError(f"DCGAN Discriminator: expected images (N, {self.nc}, 28, 28), got {tuple(x.shape)}")
        return self.main(x).reshape(-1)

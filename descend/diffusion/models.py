"""Denoisers ε_θ(x_t, t): an MLP for 2-D data and a small U-Net for images and 1-D signals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import descend
from descend import backend, nn
from descend._tensor import Tensor


def timestep_embedding(t: Any, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of integer steps (Vaswani et al.; as in DDPM): [cos(t·f_i), sin(t·f_i)], (N, dim).

    f_i = max_period^(-i / (dim/2)) for i < dim/2; an odd dim gets a zero column.
    """
    t = np.asarray(backend.to_numpy(t._data) if isinstance(t, Tensor) else t, dtype=np.float64).reshape(-1)
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half)
    args = t[:, None] * freqs[None, :]
    emb = np.concatenate([np.cos(args), np.sin(args)], axis=1)
    if dim % 2:
        emb = np.concatenate([emb, np.zeros((len(t), 1))], axis=1)
    return Tensor(backend.xp.asarray(emb.astype(backend.default_dtype())))


class TimeMLP(nn.Module):
    """Sinusoidal embedding followed by Linear-SiLU-Linear (the DDPM time embedding network)."""

    def __init__(self, dim: int, out: int) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim, out), nn.SiLU(), nn.Linear(out, out))

    def forward(self, t: Any) -> Tensor:
        return self.net(timestep_embedding(t, self.dim))


class MLPBlock(nn.Module):
    """h + W2 SiLU(W1 SiLU(h) + time), a residual block for vectors."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(width, width), nn.Linear(width, width), nn.SiLU()

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        return h + self.fc2(self.act(self.fc1(self.act(h)) + temb))


class MLPDenoiser(nn.Module):
    """ε_θ(x_t, t) for vectors: an input layer, residual blocks conditioned on the time embedding, an output layer.

    >>> m = MLPDenoiser(2, width=16, blocks=2)
    >>> m(descend.zeros(4, 2), np.arange(4)).shape
    descend.Size([4, 2])
    """

    def __init__(self, dim: int = 2, width: int = 128, blocks: int = 3, time_dim: int = 32) -> None:
        super().__init__()
        self.time = TimeMLP(time_dim, width)
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList([MLPBlock(width) for _ in range(blocks)])
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x: Tensor, t: Any) -> Tensor:
        temb = self.time(t)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h)


def _groups(channels: int) -> int:
    """GroupNorm groups: 8 where the channels allow, else the largest divisor below it."""
    return max(g for g in range(1, 9) if channels % g == 0)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv, plus the projected time embedding, GroupNorm-SiLU-Conv, and a skip (1x1 if needed)."""

    def __init__(self, conv: type, cin: int, cout: int, time_width: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(_groups(cin), cin), conv(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_width, cout)
        self.norm2, self.conv2 = nn.GroupNorm(_groups(cout), cout), conv(cout, cout, 3, padding=1)
        self.act = nn.SiLU()
        self.skip = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = h + self.time(self.act(temb)).reshape(h.shape[:2] + (1,) * (h.ndim - 2))
        h = self.conv2(self.act(self.norm2(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """x + self-attention over the spatial positions of GroupNorm(x) (one head)."""

    def __init__(self, channels: int, heads: int = 1) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        n, c = x.shape[:2]
        h = self.norm(x).reshape(n, c, -1).transpose(1, 2)  # (N, positions, C)
        h = self.attn(h, h, h, need_weights=False)[0]
        return x + h.transpose(1, 2).reshape(x.shape)


class UNet(nn.Module):
    """A two-level U-Net ε_θ(x_t, t) for (N, C, H, W) images or (N, C, L) signals.

    conv → [ResBlock, ↓2] → [ResBlock(2c), ↓2] → ResBlock, attention, ResBlock (lowest resolution)
    → [↑2, concat, ResBlock] ×2 → GroupNorm-SiLU-conv. Sizes must be divisible by 4.

    >>> UNet(1, width=8, dims=1)(descend.zeros(2, 1, 8), np.array([0, 9])).shape
    descend.Size([2, 1, 8])
    """

    def __init__(self, channels: int = 1, width: int = 32, dims: int = 2, time_dim: int = 64) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"UNet: dims must be 1 or 2, got {dims!r}")
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        c1, c2, tw = width, 2 * width, 4 * width
        self.time = TimeMLP(time_dim, tw)
        self.inp = conv(channels, c1, 3, padding=1)
        self.down1, self.pool1 = ResBlock(conv, c1, c1, tw), conv(c1, c1, 3, stride=2, padding=1)
        self.down2, self.pool2 = ResBlock(conv, c1, c2, tw), conv(c2, c2, 3, stride=2, padding=1)
        self.mid1, self.attn, self.mid2 = ResBlock(conv, c2, c2, tw), AttentionBlock(c2), ResBlock(conv, c2, c2, tw)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.up2 = ResBlock(conv, c2 + c2, c2, tw)
        self.up1 = ResBlock(conv, c2 + c1, c1, tw)
        self.out = nn.Sequential(nn.GroupNorm(_groups(c1), c1), nn.SiLU(), conv(c1, channels, 3, padding=1))

    def forward(self, x: Tensor, t: Any) -> Tensor:
        if any(s % 4 for s in x.shape[2:]):
            raise ValueError(f"UNet: spatial sizes must be divisible by 4, got input of shape {x.shape}")
        temb = self.time(t)
        h1 = self.down1(self.inp(x), temb)
        h2 = self.down2(self.pool1(h1), temb)
        h = self.mid2(self.attn(self.mid1(self.pool2(h2), temb)), temb)
        h = self.up2(descend.cat([self.upsample(h), h2], 1), temb)
        h = self.up1(descend.cat([self.upsample(h), h1], 1), temb)
        return self.out(h)


class ChannelFirst(nn.Module):
    """Runs a (N, 1, L) denoiser on (N, L) signals (MNIST-1D's layout)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, t: Any) -> Tensor:
        return self.net(x.reshape(x.shape[0], 1, -1), t).reshape(x.shape)

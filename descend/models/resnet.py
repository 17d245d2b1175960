"""CIFAR-style residual networks of He et al. 2016 ("Deep Residual Learning for Image Recognition", sec. 4.2).

The 6n+2 family: a 3x3 convolution with 16 filters, then three stages of n basic blocks (two 3x3
convolutions, each followed by batch norm) with 16, 32 and 64 filters, the second and third stage starting
with stride 2, then global average pooling and a linear classifier. Depth 20, 32, 44, 56, 110 give n = 3, 5,
7, 9, 18; ResNet-20 has 0.27 M parameters. On 32x32 inputs the feature maps are 32, 16, 8 pixels; on 28x28
(Fashion-MNIST) 28, 14, 7.

Shortcuts where the shape changes (paper, sec. 3.3): option "A", used by the paper on CIFAR-10, is the
identity on every other pixel with the new channels zero-padded (no parameters); option "B" is a strided
1x1 convolution with batch norm (a projection). Convolution and linear weights use He (kaiming) normal
initialisation, fan_out mode, as torchvision's ResNets; batch norm starts at weight 1, bias 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend import nn
from descend._tensor import Tensor
from descend.ops.errors import OpError


class ShortcutA(nn.Module):
    """Option A: keep every other pixel and zero-pad the new channels equally on both sides.

    Computed as a strided 1x1 convolution with a fixed 0/1 weight (not a parameter, so the state dict is
    PyTorch's): the same numbers as slicing and padding, in one GEMM that keeps the channels-last memory of
    our convolutions, where padding would copy into NCHW memory and every later layer would pay for it.
    """

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, planes - in_planes
        lo = self.extra // 2
        self._select = np.zeros((planes, in_planes, 1, 1))
        self._select[lo + np.arange(in_planes), np.arange(in_planes)] = 1.0

    def forward(self, x: Tensor) -> Tensor:
        w = Tensor(backend.xp.asarray(self._select, dtype=x.dtype))
        return F.conv2d(x, w, stride=self.stride)

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra}"


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with ReLU between and after the sum with the shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "A") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride == 1 and in_planes == planes:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ShortcutA(in_planes, planes, stride)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-(6n+2) for small images: (N, C, H, W) or (N, H, W) in, (N, num_classes) class scores out."""

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, width: int = 16,
                 shortcut: str = "A", dropout: float = 0.0) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got {depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"ResNet: shortcut must be 'A' (zero-padded identity) or 'B' (projection), "
                             f"got {shortcut!r}")
        n = (depth - 2) // 6
        self.depth, self.in_channels = depth, in_channels
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        planes = width
        stages = []
        for i, out_planes in enumerate((width, 2 * width, 4 * width)):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(planes, out_planes, stride, shortcut))
                planes = out_planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(planes, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He normal (fan_out) for convolutions and the classifier; batch norm weight 1, bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3 and self.in_channels == 1:
            x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise OpError(f"ResNet-{self.depth}: expected input (N, {self.in_channels}, H, W), got "
                          f"{tuple(x.shape)}")
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = self.avgpool(out).flatten(1)
        return self.fc(self.dropout(out))


def build(input_shape: tuple, num_classes: int, depth: int = 20, shortcut: str = "A", width: int = 16,
          dropout: float = 0.0, **kw: Any) -> ResNet:
    """A ResNet-`depth` for images shaped (H, W) or (C, H, W), e.g. (28, 28) or (3, 32, 32)."""
    if kw:
        raise TypeError(f"resnet.build: unexpected arguments {sorted(kw)}")
    if len(input_shape) == 2:
        c = 1
    elif len(input_shape) == 3:
        c = int(input_shape[0])
    else:
        raise ValueError(f"resnet: expects images shaped (H, W) or (C, H, W), got samples of shape "
                         f"{tuple(input_shape)}")
    if min(input_shape[-2:]) < 4:
        raise ValueError(f"resnet: images must be at least 4x4 (two stride-2 stages), got {tuple(input_shape)}")
    return ResNet(depth, num_classes, c, width, shortcut, dropout)

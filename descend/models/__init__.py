"""Built-in models: the MNIST-1D paper's four baselines and two for 28×28 images; custom models from files.

The MNIST-1D models follow greydanus/mnist1d (notebooks/models.py): logistic regression; an MLP with 100
hidden units and a residual second layer; a CNN of three stride-2 Conv1d layers with 25 channels (kernels 5,
3, 3, padding 1) and a linear layer on the flattened features; a bidirectional GRU with 6 hidden units whose
outputs at every time step feed a linear layer. The CIFAR-style ResNets of He et al. 2016 (resnet20, resnet32,
resnet44, resnet56) live in resnet.py, the DCGAN generator and discriminator in dcgan.py.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any, Callable

from descend import nn
from descend.models import transformer as _transformer
from descend._tensor import Tensor


class ModelError(ValueError):
    """A model cannot be built for the given data (unknown name, wrong input shape, bad custom file)."""


def _length(input_shape: tuple, name: str) -> int:
    """The signal length of 1-D inputs shaped (L,) or (1, L)."""
    if len(input_shape) == 1 or (len(input_shape) == 2 and input_shape[0] == 1):
        return int(input_shape[-1])
    raise ModelError(f"model '{name}' expects 1-D signals shaped (L,) or (1, L); the data's samples have shape "
                     f"{tuple(input_shape)} (for 28x28 images use mlp28 or cnn28)")


def _image(input_shape: tuple, name: str) -> tuple[int, int, int]:
    """(channels, height, width) of image inputs shaped (H, W) or (C, H, W)."""
    if len(input_shape) == 2:
        return (1, int(input_shape[0]), int(input_shape[1]))
    if len(input_shape) == 3:
        return tuple(int(s) for s in input_shape)  # type: ignore[return-value]
    raise ModelError(f"model '{name}' expects images shaped (H, W) or (C, H, W); the data's samples have shape "
                     f"{tuple(input_shape)}")


def _conv_out(length: int, kernel: int, stride: int, padding: int) -> int:
    return (length + 2 * padding - kernel) // stride + 1


class Logistic(nn.Module):
    """Logistic regression: one linear layer on the flattened input."""

    def __init__(self, input_shape: tuple, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.reshape(x.shape[0], -1))


class MLP(nn.Module):
    """MNIST-1D's MLP: linear-ReLU, a residual linear-ReLU, linear (100 hidden units)."""

    def __init__(self, input_shape: tuple, num_classes: int, hidden: int = 100, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear1 = nn.Linear(math.prod(input_shape), hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.dropout(self.linear1(x.reshape(x.shape[0], -1)).relu())
        h = h + self.dropout(self.linear2(h).relu())
        return self.linear3(h)


class CNN(nn.Module):
    """MNIST-1D's CNN: three stride-2 Conv1d layers (25 channels; kernels 5, 3, 3; padding 1), ReLU, linear."""

    def __init__(self, input_shape: tuple, num_classes: int, channels: int = 25, dropout: float = 0.0) -> None:
        super().__init__()
        length = _length(input_shape, "cnn")
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out = _conv_out(_conv_out(_conv_out(length, 5, 2, 1), 3, 2, 1), 3, 2, 1)
        if out < 1:
            raise ModelError(f"model 'cnn' needs signals of length >= 3, got length {length}")
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(channels * out, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(x.shape[0], 1, x.shape[-1])
        h = self.conv1(h).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(self.dropout(h.reshape(h.shape[0], -1)))


class GRUNet(nn.Module):
    """MNIST-1D's GRU: a bidirectional GRU (6 hidden units) over the signal, linear on all its outputs."""

    def __init__(self, input_shape: tuple, num_classes: int, hidden: int = 6, dropout: float = 0.0) -> None:
        super().__init__()
        length = _length(input_shape, "gru")
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(2 * hidden * length, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.gru(x.reshape(x.shape[0], x.shape[-1], 1))
        return self.linear(self.dropout(h.reshape(h.shape[0], -1)))


class MLP28(nn.Module):
    """An MLP for small images: 784 -> 256 -> 128 -> classes with ReLU."""

    def __init__(self, input_shape: tuple, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(input_shape), 256), nn.ReLU(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(128, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CNN28(nn.Module):
    """A small CNN for 28×28 images: two conv(3×3)-ReLU-maxpool(2) blocks (32, 64 channels), 128 hidden, linear."""

    def __init__(self, input_shape: tuple, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        c, h, w = _image(input_shape, "cnn28")
        if h < 4 or w < 4:
            raise ModelError(f"model 'cnn28' needs images of at least 4x4, got {h}x{w}")
        self.shape = (c, h, w)
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), 128), nn.ReLU(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(128, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x.reshape(x.shape[0], *self.shape)))


BUILTIN: dict[str, Callable[..., nn.Module]] = {
    "logistic": lambda shape, k, dropout=0.0: Logistic(shape, k),
    "mlp": lambda shape, k, dropout=0.0: MLP(shape, k, dropout=dropout),
    "cnn": lambda shape, k, dropout=0.0: CNN(shape, k, dropout=dropout),
    "gru": lambda shape, k, dropout=0.0: GRUNet(shape, k, dropout=dropout),
    "mlp28": lambda shape, k, dropout=0.0: MLP28(shape, k, dropout=dropout),
    "cnn28": lambda shape, k, dropout=0.0: CNN28(shape, k, dropout=dropout),
    "transformer": lambda shape, k, dropout=0.0: _transformer.build_transformer(shape, k, dropout),
    "gpt": lambda shape, k, dropout=0.0: _transformer.build_gpt(shape, k, dropout),
}



def _resnet(depth: int) -> Callable[..., nn.Module]:
    """The builder of ResNet-`depth` (He et al. 2016, CIFAR-style; see descend/models/resnet.py)."""
    def make(shape: tuple, k: int, dropout: float = 0.0) -> nn.Module:
        from descend.models import resnet

        c, h, w = _image(shape, f"resnet{depth}")
        if h < 4 or w < 4:
            raise ModelError(f"model 'resnet{depth}' needs images of at least 4x4, got {h}x{w}")
        return resnet.ResNet(depth, k, c, dropout=dropout)
    return make


BUILTIN.update({f"resnet{depth}": _resnet(depth) for depth in (20, 32, 44, 56)})


def is_custom(name: str) -> bool:
    """Whether a model name refers to a Python file (`path/to/file.py:build`)."""
    return ".py" in name or "/" in name or ":" in name


def load_builder(spec: str) -> Callable[..., Any]:
    """The function named in 'path/to/file.py:build' (default name `build`), imported from that file."""
    head, sep, tail = spec.rpartition(":")
    path_text, func = (head, tail or "build") if sep and head.endswith(".py") else (spec, "build")
    path = Path(path_text)
    if not path.exists():
        raise ModelError(f"{path}: model file not found (expected --model path/to/file.py:build)")
    if path.is_dir() or path.suffix != ".py":
        raise ModelError(f"{path}: a model file must be a .py file (--model path/to/file.py:build)")
    module_name = f"descend_user_model_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ModelError(f"{path}: cannot import this file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ModelError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:  # the user's module failed at import time: report it as one line
        raise ModelError(f"{path}: importing the model file failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, func, None)
    if fn is None:
        names = [n for n in vars(module) if callable(vars(module)[n]) and not n.startswith("_")]
        raise ModelError(f"{path}: no function '{func}' (callables here: {', '.join(names) or 'none'})")
    if not callable(fn):
        raise ModelError(f"{path}: '{func}' is not a function")
    return fn


def build(name: str, input_shape: tuple, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """A built-in model by name, or a custom one from 'file.py:build' called as build(input_shape, num_classes)."""
    input_shape = tuple(int(s) for s in input_shape)
    if is_custom(name):
        fn = load_builder(name)
        try:
            model = fn(input_shape, num_classes)
        except Exception as e:  # the user's build() failed: one line naming it
            raise ModelError(f"{name}: build{input_shape, num_classes} failed: {type(e).__name__}: {e}") from None
        if not isinstance(model, nn.Module):
            raise ModelError(f"{name}: build() must return a descend.nn.Module, got {type(model).__name__}")
        return model
    if name not in BUILTIN:
        import difflib

        hint = difflib.get_close_matches(name, list(BUILTIN), n=1)
        raise ModelError(f"unknown model '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                         + f"; built-in models: {', '.join(BUILTIN)}; or path/to/file.py:build")
    return BUILTIN[name](input_shape, num_classes, dropout=dropout)

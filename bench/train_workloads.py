"""The training workloads of bench_train.py, each built twice: in descend and, with the same weights, in PyTorch.

A workload gives both frameworks the same architecture, the same initial weights (descend's, copied through
the state dict, whose keys match PyTorch's), the same fixed batches and the same optimizer settings. Its step
is one full training step: zero_grad, forward, loss, backward, optimizer step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import descend
import descend.functional as F
from descend import models, nn, optim
from descend.data.mixtures import gaussian_mixture
from descend.gan.step import GAN
from descend.gan.models import mixture_discriminator, mixture_generator

# descend's training loops keep freed activations in the heap from their start (descend/ops/_heap.py); these
# hand-written steps ask for the same, as importing descend did before.
descend.ops.tune_heap()

N_BATCHES = 4  # distinct fixed batches cycled through, so no step sees a cached result of the previous one


@dataclass
class Workload:
    """A named step in both frameworks; `flops` counts the matrix-product FLOPs of one step."""

    name: str
    batch: int
    d_step: Callable[[], Any]
    t_step: Callable[[], Any] | None
    flops: float
    check: Callable[[], float] | None = None  # |loss_descend - loss_torch| at the shared initial weights
    extra: dict = field(default_factory=dict)


# ---- FLOP counting -----------------------------------------------------------------------------------------

def gemm_flops(model: nn.Module, x: descend.Tensor, backward: bool = True) -> float:
    """Matrix-product FLOPs of forward (+ backward) for one batch, found by hooks on Linear and Conv layers.

    Forward is 2·M·K·N per layer; backward adds the weight gradient (same cost) and, unless the layer's input
    needs no gradient (the data itself), the input gradient (same cost again). Elementwise work is not counted.
    """
    total = [0.0]

    def hook(mod: nn.Module, args: tuple, out: Any) -> None:
        inp = args[0]
        if isinstance(mod, nn.Linear):
            m, k, n = math.prod(inp.shape[:-1]), mod.in_features, mod.out_features
        elif isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d)):  # one GEMM per input pixel
            m = inp.shape[0] * math.prod(inp.shape[2:])
            k = mod.in_channels
            n = (mod.out_channels // mod.groups) * math.prod(mod.kernel_size)
        else:  # Conv1d / Conv2d
            m = out.shape[0] * math.prod(out.shape[2:])
            k = (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)
            n = mod.out_channels
        passes = (3 if inp.requires_grad else 2) if backward else 1
        total[0] += 2.0 * m * k * n * passes

    handles = [mod.register_forward_hook(hook) for mod in model.modules()
               if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d))]
    model(x)  # with the graph on, so hooks see which inputs need a gradient
    for h in handles:
        h.remove()
    return total[0]


def gru_flops(batch: int, length: int, inp: int, hidden: int, dirs: int) -> float:
    """GEMMs of a one-layer GRU on data: input projection (forward, weight grad) and recurrence (x3)."""
    return dirs * 2.0 * batch * length * (2 * inp * 3 * hidden + 3 * hidden * 3 * hidden)


# ---- building both sides -----------------------------------------------------------------------------------

def _copy_weights(dmodel: nn.Module, tmodel: Any) -> None:
    import torch

    sd = {k: torch.from_numpy(np.array(v._data, copy=True)) for k, v in dmodel.state_dict().items()}
    tmodel.load_state_dict(sd, strict=True)


def _batches(rng: np.random.Generator, batch: int, shape: tuple, classes: int) -> list:
    xs = [rng.standard_normal((batch,) + shape).astype(np.float32) for _ in range(N_BATCHES)]
    ys = [rng.integers(0, classes, batch).astype(np.int64) for _ in range(N_BATCHES)]
    return list(zip(xs, ys))


def _classifier(name: str, dmodel: nn.Module, tmodel: Any, batch: int, shape: tuple, classes: int = 10,
                flops: float | None = None, lr: float = 1e-3) -> Workload:
    """Cross-entropy training with Adam on fixed random batches, in both frameworks."""
    data = _batches(np.random.default_rng(0), batch, shape, classes)
    d_data = [(descend.tensor(x), descend.tensor(y)) for x, y in data]
    d_opt = optim.Adam(dmodel.parameters(), lr=lr)
    i = [0]

    def d_step() -> None:
        x, y = d_data[i[0] % N_BATCHES]
        i[0] += 1
        d_opt.zero_grad()
        loss = F.cross_entropy(dmodel(x), y)
        loss.backward()
        d_opt.step()

    if flops is None:
        flops = gemm_flops(dmodel, d_data[0][0])
    t_step = check = None
    if tmodel is not None:
        import torch

        _copy_weights(dmodel, tmodel)
        t_data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
        t_opt = torch.optim.Adam(tmodel.parameters(), lr=lr)
        j = [0]

        def t_step() -> None:
            x, y = t_data[j[0] % N_BATCHES]
            j[0] += 1
            t_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tmodel(x), y)
            loss.backward()
            t_opt.step()

        def check() -> float:
            # Evaluation mode so dropout and batch statistics don't differ between the two.
            dmodel.eval()
            tmodel.eval()
            with descend.no_grad(), torch.no_grad():
                a = F.cross_entropy(dmodel(d_data[0][0]), d_data[0][1]).item()
                b = torch.nn.functional.cross_entropy(tmodel(t_data[0][0]), t_data[0][1]).item()
            dmodel.train()
            tmodel.train()
            return abs(a - b)

    return Workload(name, batch, d_step, t_step, flops, check)


def _mlp(widths: list[int]) -> nn.Module:
    mods: list = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    mods.append(nn.Linear(widths[-2], widths[-1]))
    return nn.Sequential(*mods)


def _torch_mlp(widths: list[int]) -> Any:
    import torch.nn as tnn

    mods: list = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        mods += [tnn.Linear(a, b), tnn.ReLU()]
    mods.append(tnn.Linear(widths[-2], widths[-1]))
    return tnn.Sequential(*mods)


def mlp(widths: list[int], batch: int, with_torch: bool, name: str | None = None) -> Workload:
    """A ReLU MLP with the given widths (input first, classes last)."""
    dmodel = _mlp(widths)
    tmodel = _torch_mlp(widths) if with_torch else None
    label = name or f"MLP {'-'.join(map(str, widths))} b{batch}"
    return _classifier(label, dmodel, tmodel, batch, (widths[0],), widths[-1])


def _torch_mnist1d(kind: str) -> Any:
    """PyTorch twins of descend.models' MNIST-1D MLP, CNN and GRU (same attribute names, so same keys)."""
    import torch
    import torch.nn as tnn

    class MLP(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear1, self.linear2, self.linear3 = tnn.Linear(40, 100), tnn.Linear(100, 100), \
                tnn.Linear(100, 10)

        def forward(self, x: Any) -> Any:
            h = self.linear1(x.reshape(x.shape[0], -1)).relu()
            h = h + self.linear2(h).relu()
            return self.linear3(h)

    class CNN(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = tnn.Conv1d(1, 25, 5, stride=2, padding=1)
            self.conv2 = tnn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.conv3 = tnn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.linear = tnn.Linear(25 * 5, 10)

        def forward(self, x: Any) -> Any:
            h = x.reshape(x.shape[0], 1, x.shape[-1])
            h = self.conv3(self.conv2(self.conv1(h).relu()).relu()).relu()
            return self.linear(h.reshape(h.shape[0], -1))

    class GRUNet(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = tnn.GRU(1, 6, batch_first=True, bidirectional=True)
            self.linear = tnn.Linear(2 * 6 * 40, 10)

        def forward(self, x: Any) -> Any:
            h, _ = self.gru(x.reshape(x.shape[0], x.shape[-1], 1))
            return self.linear(h.reshape(h.shape[0], -1))

    torch.manual_seed(0)
    return {"mlp": MLP, "cnn": CNN, "gru": GRUNet}[kind]()


def mnist1d(kind: str, with_torch: bool, batch: int = 100) -> Workload:
    """The MNIST-1D paper's models (descend.models 'mlp', 'cnn', 'gru') on 40-sample signals, Adam."""
    dmodel = models.build(kind, (40,), 10)
    tmodel = _torch_mnist1d(kind) if with_torch else None
    labels = {"mlp": "MNIST-1D MLP 40-100-100-10", "cnn": "MNIST-1D CNN 3xconv1d(25)",
              "gru": "MNIST-1D GRU bi h6"}
    flops = gru_flops(batch, 40, 1, 6, 2) + 3 * 2.0 * batch * 480 * 10 if kind == "gru" else None
    return _classifier(f"{labels[kind]} b{batch}", dmodel, tmodel, batch, (40,), flops=flops)


def cnn28(with_torch: bool, batch: int = 64) -> Workload:
    """conv3x3(32)-BN-ReLU-pool, conv3x3(64)-BN-ReLU-pool, Linear 128, ReLU, Dropout 0.5, Linear 10."""
    def build(m: Any) -> Any:
        return m.Sequential(
            m.Conv2d(1, 32, 3, padding=1), m.BatchNorm2d(32), m.ReLU(), m.MaxPool2d(2),
            m.Conv2d(32, 64, 3, padding=1), m.BatchNorm2d(64), m.ReLU(), m.MaxPool2d(2),
            m.Flatten(), m.Linear(64 * 7 * 7, 128), m.ReLU(), m.Dropout(0.5), m.Linear(128, 10))

    tmodel = None
    if with_torch:
        import torch.nn as tnn

        tmodel = build(tnn)
    return _classifier(f"CNN 28x28 conv32-conv64-BN b{batch}", build(nn), tmodel, batch, (1, 28, 28))


# ---- issue 11: ResNet-20 and DCGAN ------------------------------------------------------------------------------

def _torch_resnet(depth: int, in_channels: int, classes: int) -> Any:
    """PyTorch twin of descend.models.resnet.ResNet (option A shortcuts, same attribute names and keys)."""
    import torch.nn as tnn
    import torch.nn.functional as tF

    class ShortcutA(tnn.Module):
        def __init__(self, extra: int) -> None:
            super().__init__()
            self.extra = extra

        def forward(self, x: Any) -> Any:
            lo = self.extra // 2
            return tF.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, lo, self.extra - lo))

    class Block(tnn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.shortcut = tnn.Identity() if stride == 1 and cin == cout else ShortcutA(cout - cin)

        def forward(self, x: Any) -> Any:
            out = tF.relu(self.bn1(self.conv1(x)))
            return tF.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class ResNet(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            n = (depth - 2) // 6
            self.conv1 = tnn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            cin, stages = 16, []
            for i, cout in enumerate((16, 32, 64)):
                blocks = []
                for j in range(n):
                    blocks.append(Block(cin, cout, 2 if i > 0 and j == 0 else 1))
                    cin = cout
                stages.append(tnn.Sequential(*blocks))
            self.layer1, self.layer2, self.layer3 = stages
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.dropout = tnn.Identity()
            self.fc = tnn.Linear(64, classes)

        def forward(self, x: Any) -> Any:
            out = tF.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            return self.fc(self.avgpool(out).flatten(1))

    return ResNet()


def resnet20(with_torch: bool, batch: int = 64) -> Workload:
    """ResNet-20 (He et al. 2016, option A shortcuts; descend.models 'resnet20') on 28x28x1 images, Adam."""
    dmodel = models.build("resnet20", (1, 28, 28), 10)
    tmodel = _torch_resnet(20, 1, 10) if with_torch else None
    return _classifier(f"ResNet-20 b{batch} 28x28", dmodel, tmodel, batch, (1, 28, 28))


def _torch_dcgan(nz: int, ngf: int, ndf: int) -> tuple:
    """PyTorch twins of descend.models.dcgan's Generator and Discriminator (same keys)."""
    import torch.nn as tnn

    class G(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = tnn.Sequential(
                tnn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 4), tnn.ReLU(True),
                tnn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2),
                tnn.ReLU(True), tnn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), tnn.Tanh())

        def forward(self, z: Any) -> Any:
            return self.main(z)

    class D(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = tnn.Sequential(
                tnn.Conv2d(1, ndf, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True),
                tnn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 2),
                tnn.LeakyReLU(0.2, inplace=True), tnn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False), tnn.Sigmoid())

        def forward(self, x: Any) -> Any:
            return self.main(x).reshape(-1)

    return G(), D()


def dcgan(with_torch: bool, batch: int = 64, nz: int = 100, ngf: int = 64, ndf: int = 64) -> Workload:
    """One step of the PyTorch DCGAN tutorial's loop (D on real and detached fake, then G through D; BCE,
    Adam(2e-4, betas (0.5, 0.999))) with descend.models.dcgan's 28x28 networks; fixed noise batches."""
    from descend.models import dcgan as dc

    g, d = dc.Generator(nz, ngf), dc.Discriminator(1, ndf)
    rng = np.random.default_rng(0)
    reals = [np.tanh(rng.standard_normal((batch, 1, 28, 28))).astype(np.float32) for _ in range(N_BATCHES)]
    noises = [rng.standard_normal((batch, nz, 1, 1)).astype(np.float32) for _ in range(N_BATCHES)]
    lr, betas = 2e-4, (0.5, 0.999)

    def make_step(lib: Any, fn: Any, g: Any, d: Any, tensor: Callable) -> Callable:
        opt_g = lib.optim.Adam(g.parameters(), lr=lr, betas=betas)
        opt_d = lib.optim.Adam(d.parameters(), lr=lr, betas=betas)
        data = [(tensor(r), tensor(z)) for r, z in zip(reals, noises)]
        ones, zeros = tensor(np.ones(batch, np.float32)), tensor(np.zeros(batch, np.float32))
        i = [0]

        def step() -> None:
            real, noise = data[i[0] % N_BATCHES]
            i[0] += 1
            d.zero_grad()
            err_real = fn.binary_cross_entropy(d(real), ones)
            err_real.backward()
            fake = g(noise)
            err_fake = fn.binary_cross_entropy(d(fake.detach()), zeros)
            err_fake.backward()
            opt_d.step()
            g.zero_grad()
            err_g = fn.binary_cross_entropy(d(fake), ones)
            err_g.backward()
            opt_g.step()

        return step

    d_step = make_step(descend, F, g, d, descend.tensor)
    z = descend.tensor(noises[0])
    x = descend.tensor(reals[0])
    xg = descend.tensor(reals[0], requires_grad=True)
    flops = gemm_flops(g, z) + 2 * gemm_flops(d, x) + gemm_flops(d, xg)
    t_step = None
    if with_torch:
        import torch

        tg, td = _torch_dcgan(nz, ngf, ndf)
        _copy_weights(g, tg)
        _copy_weights(d, td)
        t_step = make_step(torch, torch.nn.functional, tg, td, torch.from_numpy)
    return Workload(f"DCGAN G+D step b{batch}", batch, d_step, t_step, flops)


# ---- issue 11: Transformer encoder -------------------------------------------------------------------------------

def transformer_flops(batch: int, seq: int, width: int, ff: int, layers: int, classes: int) -> float:
    """GEMMs of a post-norm encoder stack plus head, forward and backward (3x forward): per layer the q/k/v
    and output projections, Q Kᵀ and P V, and the two feed-forward layers."""
    m = batch * seq
    per_layer = 2.0 * m * width * (3 * width + width + 2 * ff) + 2 * 2.0 * batch * seq * seq * width
    return 3 * (layers * per_layer + 2.0 * batch * width * classes)


def transformer_encoder(with_torch: bool, batch: int = 32, seq: int = 64, width: int = 128, heads: int = 4,
                        layers: int = 2) -> Workload:
    """nn.TransformerEncoder (PyTorch's defaults: post-norm, ReLU, dropout 0.1; feed-forward 4x width) of
    `layers` layers on (batch, seq, width) inputs, mean-pooled into a linear classifier; Adam."""
    def build(m: Any) -> Any:
        class Net(m.Module):
            def __init__(self) -> None:
                super().__init__()
                layer = m.TransformerEncoderLayer(width, heads, 4 * width, batch_first=True)
                self.encoder = m.TransformerEncoder(layer, layers, enable_nested_tensor=False)
                self.head = m.Linear(width, 10)

            def forward(self, x: Any) -> Any:
                return self.head(self.encoder(x).mean(1))

        return Net()

    tmodel = None
    if with_torch:
        import torch.nn as tnn

        tmodel = build(tnn)
    flops = transformer_flops(batch, seq, width, 4 * width, layers, 10)
    return _classifier(f"Transformer encoder step (seq {seq}, width {width}, {heads} heads, b{batch})",
                       build(nn), tmodel, batch, (seq, width), flops=flops)


# ---- GAN ------------------------------------------------------------------------------------------------------

def _torch_twin(dmodel: nn.Module) -> Any:
    """A PyTorch Sequential mirroring a descend Sequential of the GAN protocol's layer kinds (same sizes,
    biases and BatchNorm settings), so it follows descend.gan.models as those change."""
    import torch.nn as tnn

    class Maxout(tnn.Module):
        def __init__(self, fin: int, fout: int, pieces: int, bias: bool) -> None:
            super().__init__()
            self.out_features, self.pieces = fout, pieces
            self.linear = tnn.Linear(fin, fout * pieces, bias=bias)

        def forward(self, x: Any) -> Any:
            y = self.linear(x)
            return y.reshape(*y.shape[:-1], self.out_features, self.pieces).amax(-1)

    mods = []
    for m in dmodel.children():
        if isinstance(m, nn.Linear):
            mods.append(tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None))
        elif isinstance(m, nn.BatchNorm1d):
            mods.append(tnn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine))
        elif isinstance(m, (nn.ReLU, nn.Tanh)):
            mods.append(getattr(tnn, type(m).__name__)())
        elif isinstance(m, nn.LeakyReLU):
            mods.append(tnn.LeakyReLU(m.negative_slope))
        elif type(m).__name__ == "Maxout":
            lin = m.linear
            mods.append(Maxout(lin.in_features, m.out_features, m.pieces, lin.bias is not None))
        else:
            raise TypeError(f"_torch_twin: no PyTorch twin for {type(m).__name__}")
    return tnn.Sequential(*mods)


def gan_ring(with_torch: bool, batch: int = 100) -> Workload:
    """One discriminator and one generator update of the 2-D ring protocol (G 4x400 BN, D 3 maxout x200)."""
    g, d = mixture_generator(), mixture_discriminator()
    lr, betas = 1e-4, (0.5, 0.999)
    gan = GAN(g, d, optim.Adam(g.parameters(), lr=lr, betas=betas), optim.Adam(d.parameters(), lr=lr, betas=betas),
              noise_dim=2)
    ring, _, _ = gaussian_mixture("ring8", N_BATCHES * batch, generator=0)
    d_real = [descend.tensor(ring[k * batch:(k + 1) * batch]) for k in range(N_BATCHES)]
    i = [0]

    def d_step() -> None:
        real = d_real[i[0] % N_BATCHES]
        i[0] += 1
        gan.step(iter([real]))

    # D's update: G forward only, D forward and backward on real and fake batches (inputs need no grad).
    # G's update: D forward and input gradient only (D is frozen), G forward and backward.
    z = descend.tensor(np.zeros((batch, 2), np.float32))
    zg = descend.tensor(np.zeros((batch, 2), np.float32), requires_grad=True)
    flops = (gemm_flops(g, z, backward=False) + 2 * gemm_flops(d, z)
             + 2 * gemm_flops(d, zg, backward=False) + gemm_flops(g, z))
    t_step = None
    if with_torch:
        import torch

        tg, td = _torch_twin(g), _torch_twin(d)
        _copy_weights(g, tg)
        _copy_weights(d, td)
        tg_opt = torch.optim.Adam(tg.parameters(), lr=lr, betas=betas)
        td_opt = torch.optim.Adam(td.parameters(), lr=lr, betas=betas)
        t_real = [torch.from_numpy(np.array(r._data)) for r in d_real]
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        j = [0]

        def t_step() -> dict:
            # Mirrors descend.gan.GAN.step: d_step then g_step, with the same logged numbers.
            real = t_real[j[0] % N_BATCHES]
            j[0] += 1
            with torch.no_grad():
                fake = tg(torch.randn(batch, 2))
            rl, fl = td(real), td(fake)
            loss = bce(rl, torch.ones_like(rl)) + bce(fl, torch.zeros_like(fl))
            td_opt.zero_grad()
            loss.backward()
            td_opt.step()
            logs = {"d_loss": loss.item(), "d_real": torch.sigmoid(rl).mean().item(),
                    "d_fake": torch.sigmoid(fl).mean().item()}
            td.requires_grad_(False)
            logits = td(tg(torch.randn(batch, 2)))
            g_loss = bce(logits, torch.ones_like(logits))
            tg_opt.zero_grad()
            g_loss.backward()
            tg_opt.step()
            td.requires_grad_(True)
            logs["g_loss"] = g_loss.item()
            return logs

    return Workload(f"GAN ring8 step (D+G) b{batch}", batch, d_step, t_step, flops)


# ---- issue 23: a diffusion U-Net ----------------------------------------------------------------------------

def _torch_unet(channels: int, width: int, time_dim: int = 64) -> Any:
    """PyTorch twin of descend.diffusion.UNet (2-D; same attribute names, so the same state-dict keys)."""
    import torch
    import torch.nn as tnn

    def groups(c: int) -> int:
        return max(g for g in range(1, 9) if c % g == 0)

    class TimeMLP(tnn.Module):
        def __init__(self, dim: int, out: int) -> None:
            super().__init__()
            self.dim, self.net = dim, tnn.Sequential(tnn.Linear(dim, out), tnn.SiLU(), tnn.Linear(out, out))

        def forward(self, t: Any) -> Any:
            half = self.dim // 2  # the sinusoidal embedding in float64, as descend computes it
            f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
            a = t.double()[:, None] * f[None]
            return self.net(torch.cat([torch.cos(a), torch.sin(a)], 1).float())

    class Res(tnn.Module):
        def __init__(self, cin: int, cout: int, tw: int) -> None:
            super().__init__()
            self.norm1, self.conv1 = tnn.GroupNorm(groups(cin), cin), tnn.Conv2d(cin, cout, 3, padding=1)
            self.time = tnn.Linear(tw, cout)
            self.norm2, self.conv2 = tnn.GroupNorm(groups(cout), cout), tnn.Conv2d(cout, cout, 3, padding=1)
            self.act = tnn.SiLU()
            self.skip = tnn.Conv2d(cin, cout, 1) if cin != cout else tnn.Identity()

        def forward(self, x: Any, e: Any) -> Any:
            h = self.conv1(self.act(self.norm1(x))) + self.time(self.act(e))[:, :, None, None]
            return self.skip(x) + self.conv2(self.act(self.norm2(h)))

    class Attn(tnn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.norm, self.attn = tnn.GroupNorm(groups(c), c), tnn.MultiheadAttention(c, 1, batch_first=True)

        def forward(self, x: Any) -> Any:
            n, c = x.shape[:2]
            h = self.norm(x).reshape(n, c, -1).transpose(1, 2)
            return x + self.attn(h, h, h, need_weights=False)[0].transpose(1, 2).reshape(x.shape)

    class UNet(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, tw = width, 2 * width, 4 * width
            self.time, self.inp = TimeMLP(time_dim, tw), tnn.Conv2d(channels, c1, 3, padding=1)
            self.down1, self.pool1 = Res(c1, c1, tw), tnn.Conv2d(c1, c1, 3, stride=2, padding=1)
            self.down2, self.pool2 = Res(c1, c2, tw), tnn.Conv2d(c2, c2, 3, stride=2, padding=1)
            self.mid1, self.attn, self.mid2 = Res(c2, c2, tw), Attn(c2), Res(c2, c2, tw)
            self.upsample = tnn.Upsample(scale_factor=2, mode="nearest")
            self.up2, self.up1 = Res(2 * c2, c2, tw), Res(c2 + c1, c1, tw)
            self.out = tnn.Sequential(tnn.GroupNorm(groups(c1), c1), tnn.SiLU(),
                                      tnn.Conv2d(c1, channels, 3, padding=1))

        def forward(self, x: Any, t: Any) -> Any:
            e = self.time(t)
            h1 = self.down1(self.inp(x), e)
            h2 = self.down2(self.pool1(h1), e)
            h = self.mid2(self.attn(self.mid1(self.pool2(h2), e)), e)
            h = self.up2(torch.cat([self.upsample(h), h2], 1), e)
            return self.out(self.up1(torch.cat([self.upsample(h), h1], 1), e))

    return UNet()


def unet_diffusion(with_torch: bool, batch: int = 32, width: int = 16, size: int = 28,
                   timesteps: int = 1000) -> Workload:
    """One DDPM training step (ε-prediction MSE, Adam 1e-3, EMA 0.995 update) of descend.diffusion's U-Net
    on (batch, 1, size, size) images: descend's Diffusion.step against the same step written in PyTorch, on
    the same fixed x_0, t and ε."""
    from descend.diffusion import Diffusion, NoiseSchedule, UNet

    model = UNet(1, width=width)
    schedule = NoiseSchedule("linear", timesteps)
    diffusion = Diffusion(model, optim.Adam(model.parameters(), lr=1e-3), schedule, ema_decay=0.995)
    rng = np.random.default_rng(0)
    shape = (batch, 1, size, size)
    data = [(np.tanh(rng.standard_normal(shape)).astype(np.float32), rng.integers(0, timesteps, batch),
             rng.standard_normal(shape).astype(np.float32)) for _ in range(N_BATCHES)]
    d_x0 = [descend.tensor(x) for x, _, _ in data]
    x = descend.tensor(data[0][0])
    # the denoiser sees x_t, which needs no gradient (as the data in the classifier rows)
    flops = gemm_flops(_TimeArg(model, data[0][1]), x)
    i = [0]

    def d_step() -> None:
        k = i[0] % N_BATCHES
        i[0] += 1
        diffusion.step(d_x0[k], t=data[k][1], noise=data[k][2])

    t_step = check = None
    if with_torch:
        import torch

        twin = _torch_unet(1, width)
        _copy_weights(model, twin)
        ema = _torch_unet(1, width)
        ema.load_state_dict(twin.state_dict())
        ema.requires_grad_(False)
        opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
        ab = torch.from_numpy(schedule.alphas_cumprod)
        t_data = [(torch.from_numpy(x0), torch.from_numpy(t), torch.from_numpy(e)) for x0, t, e in data]
        j = [0]

        def loss_of(x0: Any, t: Any, e: Any) -> Any:
            a = ab[t].reshape(-1, 1, 1, 1)
            xt = (a.sqrt() * x0 + (1 - a).sqrt() * e).float()
            return ((twin(xt, t) - e) ** 2).mean()

        def t_step() -> None:
            x0, t, e = t_data[j[0] % N_BATCHES]
            j[0] += 1
            twin.train()
            opt.zero_grad()
            loss = loss_of(x0, t, e)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), twin.parameters()):
                    pe.mul_(0.995).add_(p, alpha=0.005)

        def check() -> float:
            with descend.no_grad(), torch.no_grad():
                a, _ = diffusion.loss(d_x0[0], data[0][1], data[0][2])
                b = loss_of(*t_data[0])
            return abs(a.item() - b.item())

    return Workload(f"Diffusion U-Net w{width} {size}x{size} step b{batch}", batch, d_step, t_step, flops, check)


class _TimeArg(nn.Module):
    """The U-Net with its timesteps bound, so gemm_flops can call it with the image alone."""

    def __init__(self, net: nn.Module, t: np.ndarray) -> None:
        super().__init__()
        self.net, self.t = net, t

    def forward(self, x: descend.Tensor) -> descend.Tensor:
        return self.net(x, self.t)


def all_workloads(with_torch: bool = True) -> dict[str, Callable[[], Workload]]:
    """Workload constructors by short key (each builds fresh models when called)."""
    return {
        "tiny_mlp": lambda: mlp([64, 64, 10], 32, with_torch),
        "mnist1d_mlp": lambda: mnist1d("mlp", with_torch),
        "mnist1d_cnn": lambda: mnist1d("cnn", with_torch),
        "mnist1d_gru": lambda: mnist1d("gru", with_torch),
        "mlp784": lambda: mlp([784, 512, 256, 10], 128, with_torch),
        "cnn28": lambda: cnn28(with_torch),
        "transformer": lambda: transformer_encoder(with_torch),
        "gan_ring": lambda: gan_ring(with_torch),
        "resnet20": lambda: resnet20(with_torch),
        "dcgan": lambda: dcgan(with_torch),
        "unet_diffusion": lambda: unet_diffusion(with_torch),
    }


# Targets from issue 7: the ratio descend/PyTorch of ms/step that each workload should stay under.
TARGETS = {"tiny_mlp": 0.4, "mnist1d_mlp": 0.5, "mnist1d_cnn": 1.0, "mlp784": 0.7, "cnn28": 1.5}
TARGETS["transformer"] = 1.0  # issue 11 (first bar 1.5)

"""The layers of issue 11's convolutional architectures against torch.nn: transposed convolutions, upsampling,
adaptive average pooling, group norm, grouped/depthwise convolutions, Unflatten, Identity, ModuleDict.

Each layer is built from one factory with torch.nn and with descend.nn, given identical (perturbed) weights
through state_dict, and compared on forward and every gradient, in training and evaluation mode; repr,
state_dict keys and shapes must match, and weights must round-trip torch -> descend -> torch.
"""

import numpy as np
import pytest

import descend
import descend.nn as dnn
from tests.test_layers_torch import _build, _perturb, _run

torch = pytest.importorskip("torch")
tnn = torch.nn

LAYERS = {
    "convT1d": (lambda nn: nn.ConvTranspose1d(3, 4, 3), [(2, 3, 6)]),
    "convT1d_opts": (lambda nn: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                                                   dilation=2), [(2, 4, 7)]),
    "convT1d_unbatched": (lambda nn: nn.ConvTranspose1d(2, 3, 4, stride=3, bias=False), [(2, 5)]),
    "convT2d": (lambda nn: nn.ConvTranspose2d(3, 2, 3), [(2, 3, 4, 5)]),
    "convT2d_dcgan": (lambda nn: nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=False), [(2, 8, 7, 7)]),
    "convT2d_dcgan_first": (lambda nn: nn.ConvTranspose2d(6, 8, 7, stride=1, padding=0, bias=False),
                            [(3, 6, 1, 1)]),
    "convT2d_opts": (lambda nn: nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0),
                                                   output_padding=(1, 2), groups=2, dilation=(1, 2)),
                     [(2, 4, 4, 3)]),
    "convT2d_depthwise": (lambda nn: nn.ConvTranspose2d(3, 3, 3, stride=2, padding=1, output_padding=1,
                                                        groups=3), [(2, 3, 4, 4)]),
    "conv1d_depthwise": (lambda nn: nn.Conv1d(3, 6, 5, padding=2, groups=3), [(2, 3, 9)]),
    "conv2d_depthwise_stride": (lambda nn: nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6), [(2, 6, 7, 7)]),
    "conv2d_grouped_wide": (lambda nn: nn.Conv2d(32, 16, 3, padding=1, groups=4, bias=False), [(2, 32, 5, 5)]),
    "upsample_nearest": (lambda nn: nn.Upsample(scale_factor=2), [(2, 3, 4, 5)]),
    "upsample_nearest_size": (lambda nn: nn.Upsample(size=(7, 9)), [(2, 3, 4, 5)]),
    "upsample_bilinear": (lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), [(2, 3, 4, 5)]),
    "upsample_bilinear_corners": (lambda nn: nn.Upsample(size=(6, 3), mode="bilinear", align_corners=True),
                                  [(2, 3, 4, 5)]),
    "upsample_linear_1d": (lambda nn: nn.Upsample(scale_factor=1.5, mode="linear"), [(2, 3, 6)]),
    "upsampling_nearest2d": (lambda nn: nn.UpsamplingNearest2d(scale_factor=3), [(1, 2, 3, 3)]),
    "upsampling_bilinear2d": (lambda nn: nn.UpsamplingBilinear2d(size=(5, 7)), [(1, 2, 3, 4)]),
    "adaptive_avg1d": (lambda nn: nn.AdaptiveAvgPool1d(4), [(2, 3, 10)]),
    "adaptive_avg2d_global": (lambda nn: nn.AdaptiveAvgPool2d((1, 1)), [(2, 3, 7, 7)]),
    "adaptive_avg2d_uneven": (lambda nn: nn.AdaptiveAvgPool2d((3, 5)), [(2, 3, 7, 6)]),
    "adaptive_avg2d_none_unbatched": (lambda nn: nn.AdaptiveAvgPool2d((None, 2)), [(3, 5, 5)]),
    "groupnorm": (lambda nn: nn.GroupNorm(2, 6), [(3, 6, 4, 4)]),
    "groupnorm_noaffine_1d": (lambda nn: nn.GroupNorm(3, 3, eps=1e-3, affine=False), [(2, 3, 7)]),
    "groupnorm_2d_input_nobias": (lambda nn: nn.GroupNorm(1, 4, bias=False), [(5, 4)]),
    "unflatten": (lambda nn: nn.Unflatten(1, (2, 3)), [(4, 6)]),
    "unflatten_neg": (lambda nn: nn.Unflatten(-1, (2, -1)), [(3, 2, 8)]),
    "identity": (lambda nn: nn.Identity(), [(3, 4)]),
    "resnet_block": (lambda nn: nn.Sequential(
        nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 3)), [(3, 4, 8, 8)]),
    "dcgan_generator": (lambda nn: nn.Sequential(
        nn.Unflatten(1, (5, 1, 1)), nn.ConvTranspose2d(5, 8, 4, 1, 0, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.GroupNorm(2, 4), nn.ReLU(),
        nn.Upsample(scale_factor=2), nn.Conv2d(4, 1, 3, padding=1), nn.Tanh()), [(3, 5)]),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_matches_torch(case, train, dtype):
    factory, shapes = LAYERS[case]
    d, t = _build(factory, dtype)
    rng = np.random.default_rng(7)
    inputs = [rng.normal(size=s).astype(dtype) for s in shapes]
    _run(d, t, inputs, grad_inputs=(0,), dtype=dtype, train=train)


@pytest.mark.parametrize("case", list(LAYERS))
def test_repr_and_state_dict_match_torch(case):
    d, t = LAYERS[case][0](dnn), LAYERS[case][0](tnn)
    assert repr(d) == repr(t)
    d_sd, t_sd = d.state_dict(), t.state_dict()
    assert list(d_sd) == list(t_sd)
    assert [tuple(v.shape) for v in d_sd.values()] == [tuple(v.shape) for v in t_sd.values()]
    # torch's weights into descend and back out into a fresh torch layer: the same numbers
    _perturb(d, seed=3)
    d.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    t2 = LAYERS[case][0](tnn)
    t2.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in d.state_dict().items()})
    for (k, a), b in zip(t.state_dict().items(), t2.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("kind, args", [("ConvTranspose1d", (6, 32, 3)), ("ConvTranspose2d", (6, 32, 3)),
                                         ("GroupNorm", (4, 8))])
def test_default_init_follows_torch(kind, args):
    """Transposed convs: U(±1/√fan_in) with fan_in = out_channels/groups * kernel (PyTorch's rule, which reads
    the fan-in off the (in, out/groups, *kernel) weight); group norm: ones and zeros."""
    kw = {} if kind == "GroupNorm" else {"groups": 2}
    d, t = getattr(dnn, kind)(*args, **kw), getattr(tnn, kind)(*args, **kw)
    for (name, p), (tname, q) in zip(d.named_parameters(), t.named_parameters()):
        a, b = p._data, q.detach().numpy()
        assert name == tname and a.shape == b.shape
        if kind == "GroupNorm":
            np.testing.assert_array_equal(a, b)
            continue
        bound = 1 / np.sqrt(32 // 2 * 3 ** int(kind[-2]))  # weight and bias share the bound
        for v in (a, b):
            assert np.abs(v).max() <= bound and np.abs(v).max() > 0.7 * bound, name


def test_conv_transpose_output_size_matches_torch():
    d, t = _build(lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), "float64")
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    for size in [(7, 7), (8, 8), (2, 2, 8, 7)]:
        a = d(descend.tensor(x), output_size=size)
        b = t(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(a._data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested output_size \(9, 9\)"):
        d(descend.tensor(x), output_size=(9, 9))


@pytest.mark.parametrize("call, match", [
    (lambda: dnn.functional.conv_transpose2d(descend.zeros(1, 3, 4, 4), descend.zeros(2, 2, 3, 3)),
     r"conv_transpose2d: input \(1, 3, 4, 4\) has 3 channels but weight \(2, 2, 3, 3\) expects 2"),
    (lambda: dnn.functional.conv_transpose2d(descend.zeros(1, 2, 4, 4), descend.zeros(2, 2, 3, 3), stride=2,
                                             output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride \(2, 2\)"),
    (lambda: dnn.functional.interpolate(descend.zeros(1, 2, 4, 4), scale_factor=2, mode="linear"),
     r"interpolate: mode 'linear' expects 3-D \(N, C, L\) input, got \(1, 2, 4, 4\)"),
    (lambda: dnn.functional.interpolate(descend.zeros(1, 2, 4), size=3, align_corners=True),
     r"interpolate: align_corners can only be set with the interpolating modes"),
    (lambda: dnn.functional.interpolate(descend.zeros(1, 2, 4), size=3, scale_factor=2),
     r"interpolate: give exactly one of size and scale_factor"),
    (lambda: dnn.GroupNorm(4, 6), r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"),
    (lambda: dnn.GroupNorm(2, 6)(descend.zeros(2, 4, 3)), r"GroupNorm\(2, 6\): expected input \(N, 6, ...\)"),
    (lambda: dnn.Unflatten(1, (4, 2))(descend.zeros(3, 6)), r"Unflatten\(dim=1, unflattened_size=\(4, 2\)\)"),
    (lambda: dnn.functional.adaptive_avg_pool2d(descend.zeros(2, 3), 2),
     r"adaptive_avg_pool2d: expected input \(N, C, H, W\) or \(C, H, W\), got \(2, 3\)"),
])
def test_bad_input_errors_name_the_op(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_module_dict_collects_parameters_like_torch():
    def build(nn):
        torch.manual_seed(0)
        return nn.ModuleDict({"stem": nn.Conv2d(1, 2, 3), "head": nn.Linear(2, 3)})

    d, t = build(dnn), build(tnn)
    assert list(d.keys()) == list(t.keys()) and "head" in d and len(d) == 2
    assert list(d.state_dict()) == list(t.state_dict())
    assert [k for k, _ in d.named_parameters()] == [k for k, _ in t.named_parameters()]
    d["extra"] = dnn.Identity()
    assert list(d) == ["stem", "head", "extra"]


# ---- the models built from these layers (descend.models.resnet, descend.models.dcgan) -------------------------

def _torch_resnet20(in_channels):
    """ResNet-20 with option A shortcuts written in PyTorch (slicing and channel padding), same keys."""
    F = torch.nn.functional

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False), tnn.BatchNorm2d(cout)
            self.conv2, self.bn2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False), tnn.BatchNorm2d(cout)
            self.extra, self.stride = cout - cin, stride

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if self.extra or self.stride > 1:
                lo = self.extra // 2
                x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, lo, self.extra - lo))
            return F.relu(out + x)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = tnn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), tnn.BatchNorm2d(16)
            self.layer1 = tnn.Sequential(*[Block(16, 16, 1) for _ in range(3)])
            self.layer2 = tnn.Sequential(Block(16, 32, 2), Block(32, 32, 1), Block(32, 32, 1))
            self.layer3 = tnn.Sequential(Block(32, 64, 2), Block(64, 64, 1), Block(64, 64, 1))
            self.fc = tnn.Linear(64, 10)

        def forward(self, x):
            out = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
            return self.fc(out.mean((2, 3)))

    return Net()


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_resnet20_matches_pytorch_and_the_paper(shape):
    from descend import models

    d = models.build("resnet20", shape, 10)
    n_params = sum(p.numel() for p in d.parameters())
    assert round(n_params / 1e6, 2) == 0.27  # He et al. 2016, Table 6: ResNet-20 has 0.27M parameters
    assert sum(isinstance(m, dnn.Conv2d) for m in d.modules()) == 19  # + the linear layer: 20 weighted layers
    t = _torch_resnet20(shape[0]).double()
    d.double()
    _perturb(d, seed=1)
    t.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in d.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(2,) + shape)
    for train in (True, False):
        d.train(train)
        t.train(train)
        dx, tx = descend.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        dy, ty = d(dx), t(tx)
        np.testing.assert_allclose(dy._data, ty.detach().numpy(), rtol=1e-9, atol=1e-12)
        g = np.random.default_rng(1).normal(size=ty.shape)
        (dy * descend.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        pairs = [("input", dx.grad._data, tx.grad.numpy())] + [
            (k, p.grad._data, q.grad.numpy()) for (k, p), q in zip(d.named_parameters(), t.parameters())]
        for name, a, b in pairs:  # deep products cancel: compare to rounding of each tensor's scale
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.abs(b).max(), err_msg=name)
        d.zero_grad()
        t.zero_grad()


def test_resnet_options_and_errors():
    from descend.models import resnet

    b = resnet.build((3, 32, 32), 10, depth=32, shortcut="B")
    assert sum(isinstance(m, dnn.Conv2d) for m in b.modules()) == 31 + 2  # 31 weighted convs, 2 projections
    assert b(descend.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="depth must be 6n \\+ 2"):
        resnet.ResNet(depth=21)
    with pytest.raises(ValueError, match=r"ResNet-20: expected input \(N, 3, H, W\), got \(2, 1, 28, 28\)"):
        resnet.build((3, 28, 28), 10)(descend.randn(2, 1, 28, 28))


def test_dcgan_matches_pytorch_tutorial_networks():
    """The 28x28 DCGAN against the same networks written in PyTorch, with the tutorial's weights_init."""
    from descend.models import dcgan

    def twins():
        g = tnn.Sequential(tnn.ConvTranspose2d(100, 256, 7, 1, 0, bias=False), tnn.BatchNorm2d(256), tnn.ReLU(True),
                           tnn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128), tnn.ReLU(True),
                           tnn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), tnn.Tanh())
        d = tnn.Sequential(tnn.Conv2d(1, 64, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True),
                           tnn.Conv2d(64, 128, 4, 2, 1, bias=False), tnn.BatchNorm2d(128),
                           tnn.LeakyReLU(0.2, inplace=True), tnn.Conv2d(128, 1, 7, 1, 0, bias=False), tnn.Sigmoid())
        return g, d

    descend.manual_seed(0)
    g, d = dcgan.Generator(), dcgan.Discriminator()
    w = g.main[3].weight._data
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001  # N(0, 0.02), the paper's init
    assert abs(g.main[1].weight._data.mean() - 1) < 0.01
    tg, td = twins()
    tg.double()
    td.double()
    g.double()
    d.double()
    tg.load_state_dict({k.removeprefix("main."): torch.from_numpy(np.array(v.numpy()))
                        for k, v in g.state_dict().items()})
    td.load_state_dict({k.removeprefix("main."): torch.from_numpy(np.array(v.numpy()))
                        for k, v in d.state_dict().items()})
    z = np.random.default_rng(1).normal(size=(6, 100, 1, 1))
    fake = g(descend.tensor(z))
    assert fake.shape == (6, 1, 28, 28)
    p = d(fake)
    loss = (p * descend.tensor(np.linspace(-1, 1, 6))).sum()
    loss.backward()
    tp = td(tg(torch.tensor(z))).reshape(-1)
    (tp * torch.tensor(np.linspace(-1, 1, 6))).sum().backward()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-10)
    for (name, a), b in zip(list(g.named_parameters()) + list(d.named_parameters()),
                            list(tg.parameters()) + list(td.parameters())):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)

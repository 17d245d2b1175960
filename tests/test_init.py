"""descend.nn.init and every layer's default initialisation against PyTorch's own draws.

"Same distribution" is checked three ways on large tensors: the exact bound (uniform draws never leave it,
and come within a hair of it), moments against the formula, and a two-sample Kolmogorov-Smirnov statistic
between descend's draws and torch's, at a critical value that a correct sampler exceeds with p < 1e-6.
"""

import math

import numpy as np
import pytest

import descend
import descend.nn as dnn
from descend.nn import init

torch = pytest.importorskip("torch")
tinit = torch.nn.init


def _ks(a, b):
    """Two-sample KS statistic D and the critical value at alpha = 1e-6."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    d = np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size)
    crit = math.sqrt(-math.log(1e-6 / 2) / 2) * math.sqrt((a.size + b.size) / (a.size * b.size))
    return d.max(), crit


def _same_distribution(ours, theirs, bound=None, std=None):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    d, crit = _ks(ours, theirs)
    assert d < crit, f"KS statistic {d:.4f} >= {crit:.4f}: distributions differ"
    n = ours.size
    if std is not None:
        assert abs(ours.std() / std - 1) < 6 * math.sqrt(1 / (2 * n)) + 0.01, (ours.std(), std)
        assert abs(ours.mean()) < 6 * std / math.sqrt(n)
    if bound is not None:
        b32 = np.float32(bound)
        assert np.abs(ours).max() <= b32 and np.abs(theirs).max() <= b32
        # With this many draws the extremes come within 1e-3 of the bound on both sides.
        assert ours.max() > b32 * (1 - 1e-3) and ours.min() < -b32 * (1 - 1e-3)


SHAPE = (256, 128, 3)  # fan_in 384, fan_out 768, ~98k draws


@pytest.mark.parametrize("fn,kwargs,bound,std", [
    ("uniform_", dict(a=-0.3, b=0.7), None, 1 / math.sqrt(12)),
    ("normal_", dict(mean=0.0, std=0.2), None, 0.2),
    ("kaiming_uniform_", dict(), math.sqrt(6 / (1 + 0.0) / 384), math.sqrt(2 / 384)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), 1 / math.sqrt(384), 1 / math.sqrt(3 * 384)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), math.sqrt(6 / 768), math.sqrt(2 / 768)),
    ("kaiming_normal_", dict(), None, math.sqrt(2 / 384)),
    ("kaiming_normal_", dict(a=0.2, mode="fan_out", nonlinearity="leaky_relu"), None,
     math.sqrt(2 / (1 + 0.04) / 768)),
    ("xavier_uniform_", dict(gain=2.0), 2 * math.sqrt(6 / (384 + 768)), 2 * math.sqrt(2 / (384 + 768))),
    ("xavier_normal_", dict(), None, math.sqrt(2 / (384 + 768))),
])
def test_initialiser_matches_torch(fn, kwargs, bound, std):
    descend.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(init, fn)(dnn.Parameter(np.zeros(SHAPE, np.float32)), **kwargs)
    theirs = getattr(tinit, fn)(torch.zeros(SHAPE), **kwargs)
    assert ours.dtype == np.float32
    if fn == "uniform_":
        assert ours._data.min() >= -0.3 and ours._data.max() < 0.7
        _same_distribution(ours._data - 0.2, theirs.numpy() - 0.2, std=std)
    else:
        _same_distribution(ours._data, theirs.numpy(), bound=bound, std=std)


def test_constant_zeros_ones():
    p = dnn.Parameter(np.full((3, 4), 7.0, np.float32))
    assert np.all(init.zeros_(p)._data == 0)
    assert np.all(init.ones_(p)._data == 1)
    assert np.all(init.constant_(p, -2.5)._data == -2.5)


def test_initialisers_write_in_place():
    buf = np.zeros(12, np.float32)
    p = dnn.Parameter(buf[:6].reshape(2, 3))  # a view, as the optimizer's flat buffers hold
    init.kaiming_uniform_(p)
    assert np.shares_memory(p._data, buf) and np.all(buf[:6] != 0) and np.all(buf[6:] == 0)


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                        ("leaky_relu", 3), ("selu", None), ("conv_transpose2d", None)])
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(tinit.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5), (16, 8, 3, 3), (2, 3, 1, 4, 5)])
def test_fan_in_fan_out(shape):
    assert init._calculate_fan_in_and_fan_out(dnn.Parameter(np.zeros(shape, np.float32))) == \
        tinit._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(dnn.Parameter(np.zeros(5, np.float32)))
    with pytest.raises(ValueError, match="mode 'fan_avg'"):
        init.kaiming_normal_(dnn.Parameter(np.zeros((5, 5), np.float32)), mode="fan_avg")


# ---- each layer's default initialisation -----------------------------------------------------------------

LAYERS = {
    "linear": (lambda nn: nn.Linear(384, 256), {"weight": 1 / math.sqrt(384), "bias": 1 / math.sqrt(384)}),
    "conv2d": (lambda nn: nn.Conv2d(32, 64, 5, groups=2), {"weight": 1 / math.sqrt(16 * 25),
                                                           "bias": 1 / math.sqrt(16 * 25)}),
    "conv1d": (lambda nn: nn.Conv1d(64, 96, 7), {"weight": 1 / math.sqrt(64 * 7), "bias": 1 / math.sqrt(64 * 7)}),
    "gru": (lambda nn: nn.GRU(96, 128, bidirectional=True), {"*": 1 / math.sqrt(128)}),
    "embedding": (lambda nn: nn.Embedding(2000, 48), {"weight": None}),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_default_layer_init_matches_torch(case):
    factory, bounds = LAYERS[case]
    descend.manual_seed(1)
    torch.manual_seed(1)
    d, t = factory(dnn), factory(torch.nn)
    t_params = dict(t.named_parameters())
    for name, p in d.named_parameters():
        ours, theirs = p._data, t_params[name].detach().numpy()
        assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
        bound = bounds.get(name, bounds.get("*"))
        if ours.size >= 20000:
            std = 1.0 if bound is None else bound / math.sqrt(3)
            _same_distribution(ours, theirs, bound=bound, std=std)
        else:  # biases: few draws, so only the bound and a loose spread
            assert np.abs(ours).max() <= np.float32(bound)
            assert ours.std() == pytest.approx(bound / math.sqrt(3), rel=0.3)


@pytest.mark.parametrize("factory", [lambda nn: nn.BatchNorm1d(7), lambda nn: nn.BatchNorm2d(5, affine=False),
                                     lambda nn: nn.LayerNorm((3, 4))])
def test_default_norm_init_matches_torch(factory):
    d, t = factory(dnn), factory(torch.nn)
    t_sd = t.state_dict()
    for k, v in d.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), t_sd[k].numpy())
        assert v.dtype == t_sd[k].numpy().dtype


def test_seeding_makes_models_reproducible():
    def build():
        return dnn.Sequential(dnn.Linear(4, 8), dnn.GRU(8, 3), dnn.Conv1d(2, 2, 3), dnn.Embedding(5, 2))
    descend.manual_seed(42)
    a = build()
    descend.manual_seed(42)
    b = build()
    c = build()
    for (k, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa._data, pb._data, err_msg=k)
        assert not np.array_equal(pa._data, pc._data), k


def test_reset_parameters_redraws():
    lin = dnn.Linear(10, 10)
    before = lin.weight._data.copy()
    view = lin.weight._data
    lin.reset_parameters()
    assert lin.weight._data is view and not np.array_equal(before, view)


def test_explicit_generator():
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    a = init.normal_(dnn.Parameter(np.zeros((4, 4), np.float32)), generator=g1)
    b = init.normal_(dnn.Parameter(np.zeros((4, 4), np.float32)), generator=g2)
    np.testing.assert_array_equal(a._data, b._data)

"""The nn surface of issue 20 against PyTorch: activation and loss modules, channel dropout, RNN cells,
parameter containers, Module methods, init functions and nn.utils.rnn. Layers run forward and backward
with identical weights and inputs (float64) in both frameworks, in training and evaluation mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

import descend
import descend.nn as dnn
import descend.nn.functional as DF
from descend.nn.utils import rnn as drnn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

_rng = np.random.default_rng(11)
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides", "ignore:size_average and reduce")


def arr(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def close(a, b, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(arr(a), arr(b), rtol=rtol, atol=atol)


def copy_weights(d, t):
    """Load the torch module's state into the descend module (float64 both)."""
    d.double()
    t.double()
    d.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})


def both(value):
    return descend.tensor(value, dtype=np.float64, requires_grad=True), torch.tensor(value, requires_grad=True)


def run_pair(d, t, *values, reduce_out=lambda o: o, rtol=1e-9):
    """Forward both modules on the same inputs, backward sum(out * w) with a fixed random w; compare."""
    dins, tins = zip(*[both(v) for v in values])
    dout, tout = reduce_out(d(*dins)), reduce_out(t(*tins))
    close(dout, tout, rtol=rtol)
    w = _rng.standard_normal(tuple(tout.shape))
    (dout * descend.tensor(w, dtype=np.float64)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for a, b in zip(dins, tins):
        close(a.grad, b.grad, rtol=rtol)
    for (name, p), (_, q) in zip(d.named_parameters(), t.named_parameters()):
        close(p.grad, q.grad, rtol=rtol)


# ---- activations --------------------------------------------------------------------------------------

ACTIVATIONS = [
    ("ELU", {}), ("ELU", dict(alpha=0.3)), ("SELU", {}), ("CELU", dict(alpha=1.7)), ("SiLU", {}),
    ("Softplus", dict(beta=2.0, threshold=3.0)), ("Hardtanh", dict(min_val=-0.7, max_val=1.3)), ("ReLU6", {}),
    ("Hardswish", {}), ("Hardsigmoid", {}), ("Mish", {}), ("Softmin", dict(dim=1)), ("Softsign", {}),
    ("Tanhshrink", {}), ("LogSigmoid", {}), ("Softshrink", dict(lambd=0.4)), ("Hardshrink", {}),
    ("Threshold", dict(threshold=0.3, value=-2.0)), ("GLU", {}), ("GLU", dict(dim=1)), ("PReLU", {}),
    ("PReLU", dict(num_parameters=4, init=0.1)),
]


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS, ids=[f"{n}{sorted(k.items())}" for n, k in ACTIVATIONS])
def test_activation_module_matches_torch(name, kwargs):
    d, t = getattr(dnn, name)(**kwargs), getattr(tnn, name)(**kwargs)
    copy_weights(d, t)
    assert repr(d) == repr(t)
    x = _rng.standard_normal((3, 4, 6)) * 4
    for train in (True, False):
        d.train(train)
        t.train(train)
        # PyTorch's CPU kernels use float32 constants in some float64 gradients (hardsigmoid's 1/6, celu's).
        run_pair(d, t, x, rtol=1e-6)
        d.zero_grad()
        t.zero_grad()


def test_prelu_learns_its_weight_like_torch():
    d, t = dnn.PReLU(3), tnn.PReLU(3)
    copy_weights(d, t)
    x = -np.abs(_rng.standard_normal((2, 3, 5)))
    run_pair(d, t, x)
    assert np.abs(arr(d.weight.grad)).min() > 0


# ---- losses -------------------------------------------------------------------------------------------

def _pm1(n):
    return np.where(_rng.standard_normal(n) > 0, 1.0, -1.0)


LOSSES = {
    "BCELoss": (dict(), lambda: [_rng.uniform(0.05, 0.95, (4, 3)), _rng.uniform(0, 1, (4, 3))], 1),
    "BCELoss-weight": (dict(weight=_rng.uniform(0.5, 2, 3)),
                       lambda: [_rng.uniform(0.05, 0.95, (4, 3)), _rng.uniform(0, 1, (4, 3))], 1),
    "SmoothL1Loss": (dict(beta=0.5), lambda: [_rng.standard_normal((4, 3)) * 2, _rng.standard_normal((4, 3))], 1),
    "HuberLoss": (dict(delta=0.8), lambda: [_rng.standard_normal((4, 3)) * 2, _rng.standard_normal((4, 3))], 1),
    "KLDivLoss": (dict(), lambda: [np.log(_rng.dirichlet(np.ones(3), 4)), _rng.dirichlet(np.ones(3), 4)], 1),
    "KLDivLoss-log_target": (dict(log_target=True),
                             lambda: [np.log(_rng.dirichlet(np.ones(3), 4)),
                                      np.log(_rng.dirichlet(np.ones(3), 4))], 1),
    "CosineEmbeddingLoss": (dict(margin=0.2), lambda: [_rng.standard_normal((5, 3)), _rng.standard_normal((5, 3)),
                                                       _pm1(5)], 2),
    "MarginRankingLoss": (dict(margin=0.1), lambda: [_rng.standard_normal(6), _rng.standard_normal(6), _pm1(6)],
                          2),
    "SoftMarginLoss": (dict(), lambda: [_rng.standard_normal((4, 3)) * 3, _pm1(12).reshape(4, 3)], 1),
    "PoissonNLLLoss": (dict(), lambda: [_rng.standard_normal((4, 3)), _rng.poisson(2.0, (4, 3)) * 1.0], 1),
    "PoissonNLLLoss-full": (dict(log_input=False, full=True),
                            lambda: [_rng.uniform(0.5, 3, (4, 3)), _rng.poisson(2.0, (4, 3)) * 1.0], 1),
    "GaussianNLLLoss": (dict(), lambda: [_rng.standard_normal((4, 3)), _rng.standard_normal((4, 3)),
                                         _rng.uniform(0.1, 2, (4, 3))], 3),
    "GaussianNLLLoss-full": (dict(full=True, eps=0.5), lambda: [_rng.standard_normal((4, 3)),
                                                                _rng.standard_normal((4, 3)),
                                                                _rng.uniform(0.1, 2, (4, 1))], 3),
    "TripletMarginLoss": (dict(margin=0.7), lambda: [_rng.standard_normal((5, 3)) for _ in range(3)], 3),
    "TripletMarginLoss-swap": (dict(p=1.0, swap=True), lambda: [_rng.standard_normal((5, 3)) for _ in range(3)], 3),
}


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("key", list(LOSSES))
def test_loss_module_matches_torch(key, reduction):
    kwargs, make, n_grad = LOSSES[key]
    name = key.split("-")[0]
    kwargs = dict(kwargs, reduction=reduction)
    if "weight" in kwargs:
        dk = dict(kwargs, weight=descend.tensor(kwargs["weight"], dtype=np.float64))
        tk = dict(kwargs, weight=torch.tensor(kwargs["weight"]))
    else:
        dk = tk = kwargs
    d, t = getattr(dnn, name)(**dk), getattr(tnn, name)(**tk)
    values = make()
    dins = [descend.tensor(v, dtype=np.float64, requires_grad=i < n_grad) for i, v in enumerate(values)]
    tins = [torch.tensor(v, requires_grad=i < n_grad) for i, v in enumerate(values)]
    dout, tout = d(*dins), t(*tins)
    close(dout, tout)
    dout.sum().backward()
    tout.sum().backward()
    for a, b in zip(dins[:n_grad], tins[:n_grad]):
        close(a.grad, b.grad)


def test_kl_div_batchmean_and_legacy_flags_match_torch():
    logp, q = np.log(_rng.dirichlet(np.ones(4), 3)), _rng.dirichlet(np.ones(4), 3)
    d = DF.kl_div(descend.tensor(logp), descend.tensor(q), reduction="batchmean")
    close(d, TF.kl_div(torch.tensor(logp, dtype=torch.float32), torch.tensor(q, dtype=torch.float32),
                       reduction="batchmean"), rtol=1e-6)
    a, b = _rng.standard_normal(5), _rng.standard_normal(5)
    close(DF.smooth_l1_loss(descend.tensor(a), descend.tensor(b), reduce=False),
          TF.smooth_l1_loss(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32),
                            reduce=False), rtol=1e-6)


def test_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match="reduction"):
        dnn.HuberLoss(reduction="avg")
    with pytest.raises(ValueError, match="var"):
        DF.gaussian_nll_loss(descend.zeros(3, 2), descend.zeros(3, 2), descend.ones(2, 2))
    with pytest.raises(ValueError, match="negative"):
        DF.gaussian_nll_loss(descend.zeros(3), descend.zeros(3), -descend.ones(3))
    with pytest.raises(ValueError, match="margin"):
        dnn.TripletMarginLoss(margin=0)


# ---- dropout ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,shape", [(dnn.Dropout1d, (8, 50, 6)), (dnn.Dropout1d, (50, 6)),
                                       (dnn.Dropout2d, (8, 50, 3, 4)), (dnn.Dropout2d, (50, 3, 4))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    descend.manual_seed(0)
    m = cls(p=0.3)
    x = descend.tensor(_rng.uniform(1, 2, shape), requires_grad=True)
    out = m(x)
    ratio = arr(out) / arr(x)
    per_channel = ratio.reshape(int(np.prod(shape[:len(shape) - (1 if cls is dnn.Dropout1d else 2)])), -1)
    assert np.allclose(per_channel, per_channel[:, :1])  # one decision per channel
    assert set(np.round(np.unique(per_channel), 6)) <= {0.0, round(1 / 0.7, 6)}
    assert 0.15 < (per_channel[:, 0] == 0).mean() < 0.45
    out.sum().backward()
    close(x.grad, ratio)
    m.eval()
    assert m(x) is x or np.array_equal(arr(m(x)), arr(x))
    assert repr(m) == repr(getattr(tnn, cls.__name__)(p=0.3))


def test_channel_dropout_edge_probabilities():
    x = descend.ones(2, 3, 4)
    assert np.array_equal(arr(dnn.Dropout1d(0.0)(x)), arr(x))
    assert not arr(dnn.Dropout1d(1.0)(x)).any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        dnn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="dropout2d"):
        DF.dropout2d(descend.ones(3, 4))


# ---- recurrent cells and RNN --------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu", bias=False)),
                                         ("GRUCell", {}), ("GRUCell", dict(bias=False))])
def test_cells_match_torch(name, kwargs):
    d, t = getattr(dnn, name)(3, 5, **kwargs), getattr(tnn, name)(3, 5, **kwargs)
    assert [n for n, _ in d.named_parameters()] == [n for n, _ in t.named_parameters()]
    copy_weights(d, t)
    assert repr(d) == repr(t)
    x, h = _rng.standard_normal((4, 3)), _rng.standard_normal((4, 5))
    run_pair(d, t, x, h)
    d.zero_grad()
    t.zero_grad()
    run_pair(d, t, x[0])  # unbatched, no state given


@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=2, nonlinearity="relu"),
                                    dict(bidirectional=True, batch_first=True),
                                    dict(num_layers=2, bidirectional=True, bias=False)])
def test_rnn_matches_torch(kwargs):
    d, t = dnn.RNN(3, 4, **kwargs), tnn.RNN(3, 4, **kwargs)
    assert [n for n, _ in d.named_parameters()] == [n for n, _ in t.named_parameters()]
    copy_weights(d, t)
    assert repr(d) == repr(t)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x = _rng.standard_normal((2, 5, 3) if kwargs.get("batch_first") else (5, 2, 3))
    h = _rng.standard_normal((layers, 2, 4))
    for train in (True, False):
        d.train(train)
        t.train(train)
        run_pair(d, t, x, h, reduce_out=lambda o: o[0] * 1.5 + o[1].sum() if hasattr(o[0], "shape") else o)
        d.zero_grad()
        t.zero_grad()
    run_pair(d, t, x[0] if kwargs.get("batch_first") else x[:, 0], reduce_out=lambda o: o[0])  # unbatched


def test_rnn_on_a_packed_sequence_matches_torch():
    lengths = [3, 5, 2]
    d, t = dnn.RNN(3, 4, bidirectional=True), tnn.RNN(3, 4, bidirectional=True)
    copy_weights(d, t)
    padded = _rng.standard_normal((5, 3, 3))
    dx, tx = both(padded)
    dp = drnn.pack_padded_sequence(dx, lengths, enforce_sorted=False)
    tp = tnn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    dout, dh = d(dp)
    tout, th = t(tp)
    close(dout.data, tout.data)
    close(dout.batch_sizes, tout.batch_sizes)
    close(dh, th)
    dpad, dlen = drnn.pad_packed_sequence(dout, batch_first=True)
    tpad, tlen = tnn.utils.rnn.pad_packed_sequence(tout, batch_first=True)
    close(dpad, tpad)
    close(dlen, tlen)
    (dpad.sum() + dh.sum()).backward()
    (tpad.sum() + th.sum()).backward()
    close(dx.grad, tx.grad)
    close(d.weight_hh_l0_reverse.grad, t.weight_hh_l0_reverse.grad)


# ---- nn.utils.rnn ---------------------------------------------------------------------------------------

def test_pad_sequence_matches_torch():
    seqs = [_rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    for kwargs in (dict(), dict(batch_first=True, padding_value=-1.0), dict(padding_side="left")):
        d = drnn.pad_sequence([descend.tensor(s) for s in seqs], **kwargs)
        t = tnn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], **kwargs)
        close(d, t)


def test_pack_padded_sequence_matches_torch_and_is_differentiable():
    lengths = [4, 2, 3]
    padded = _rng.standard_normal((3, 4, 2))  # batch first
    dx, tx = both(padded)
    dp = drnn.pack_padded_sequence(dx, lengths, batch_first=True, enforce_sorted=False)
    tp = tnn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=True, enforce_sorted=False)
    for a, b in zip(dp, tp):
        close(a, b)
    w = _rng.standard_normal(tuple(tp.data.shape))
    (dp.data * descend.tensor(w, dtype=np.float64)).sum().backward()
    (tp.data * torch.tensor(w)).sum().backward()
    close(dx.grad, tx.grad)
    sorted_p = drnn.pack_sequence([descend.tensor(s) for s in (np.ones((3, 1)), np.ones((2, 1)))])
    assert sorted_p.sorted_indices is None and arr(sorted_p.batch_sizes).tolist() == [2, 2, 1]
    back = drnn.unpack_sequence(dp)
    assert [tuple(s.shape) for s in back] == [(4, 2), (2, 2), (3, 2)]
    close(back[1], padded[1, :2])


def test_packing_errors_are_clear():
    x = descend.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        drnn.pack_padded_sequence(x, [2, 4, 3])
    with pytest.raises(ValueError, match="lengths"):
        drnn.pack_padded_sequence(x, [5, 4, 3])
    packed = drnn.pack_padded_sequence(x, [4, 3, 2])
    with pytest.raises(TypeError, match="pad_packed_sequence"):  # recurrent layers take it, others say so
        dnn.Linear(2, 3)(packed)


# ---- containers and Module methods ---------------------------------------------------------------------

def _container_models(lib):
    nn = lib.nn if lib is torch else dnn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(lib.ones(2)), nn.Parameter(lib.zeros(3))])
            self.named = nn.ParameterDict({"scale": nn.Parameter(lib.ones(1)), "shift": nn.Parameter(lib.zeros(1))})
            self.body = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    return Model()


def test_parameter_containers_match_torch_state_dict_and_repr():
    d, t = _container_models(descend), _container_models(torch)
    assert list(d.state_dict()) == list(t.state_dict())
    assert [n for n, _ in d.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(d.ws) == repr(t.ws).replace("torch.", "descend.")
    d.ws.append(descend.ones(4))
    assert isinstance(d.ws[2], dnn.Parameter) and d.ws[2].requires_grad and len(d.ws) == 3
    d.named["bias"] = descend.zeros(2)
    assert "named.bias" in d.state_dict() and list(d.named) == ["scale", "shift", "bias"]
    assert d.named.pop("shift").shape == (1,) and "named.shift" not in d.state_dict()


def test_module_lookup_methods_match_torch():
    d, t = _container_models(descend), _container_models(torch)
    assert [n for n, _ in d.named_modules(prefix="m")] == [n for n, _ in t.named_modules(prefix="m")]
    assert d.get_submodule("body.1") is d.body[1]
    assert d.get_parameter("body.0.weight") is d.body[0].weight
    assert d.get_parameter("ws.1") is d.ws[1]
    assert d.get_buffer("body.1.running_mean") is d.body[1].running_mean
    for bad, method in (("body.0.nothing", "get_parameter"), ("body.1.running_mean", "get_parameter"),
                        ("body.0.weight", "get_buffer"), ("nope.weight", "get_parameter")):
        with pytest.raises(AttributeError):
            getattr(d, method)(bad)
        with pytest.raises(AttributeError):
            getattr(t, method)(bad)


def test_module_apply_requires_grad_zero_grad_and_dtypes():
    order = []
    d = _container_models(descend)
    d.apply(lambda m: order.append(type(m).__name__))
    t_order = []
    _container_models(torch).apply(lambda m: t_order.append(type(m).__name__))
    assert order == t_order
    d.requires_grad_(False)
    assert not any(p.requires_grad for p in d.parameters())
    d.requires_grad_()
    d.body(descend.ones(4, 2)).sum().backward()
    d.zero_grad(set_to_none=False)
    assert d.body[0].weight.grad is not None and not arr(d.body[0].weight.grad).any()
    d.zero_grad()
    assert d.body[0].weight.grad is None
    assert d.half().body[0].weight.dtype == np.float16
    assert d.to(descend.float64).body[0].weight.dtype == np.float64
    assert d.to("cpu", np.float32).body[0].weight.dtype == np.float32
    assert d.double().body[0].weight.dtype == np.float64
    assert d.float().body[1].running_mean.dtype == np.float32
    d.register_module("extra", dnn.Identity())
    assert d.get_submodule("extra") is d.extra


# ---- init ---------------------------------------------------------------------------------------------

def test_init_functions():
    descend.manual_seed(0)
    w = dnn.init.trunc_normal_(descend.empty(20000), mean=0.5, std=1.0, a=-0.5, b=2.0)
    v = arr(w)
    assert v.min() >= -0.5 and v.max() <= 2.0
    ref = tnn.init.trunc_normal_(torch.empty(200000), mean=0.5, std=1.0, a=-0.5, b=2.0).numpy()
    assert abs(v.mean() - ref.mean()) < 0.02 and abs(v.std() - ref.std()) < 0.02
    for shape in ((6, 4), (3, 8), (4, 2, 3)):
        q = arr(dnn.init.orthogonal_(descend.empty(*shape), gain=2.0)).reshape(shape[0], -1)
        small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        close(small, 4 * np.eye(small.shape[0]), atol=1e-5, rtol=1e-5)
    close(dnn.init.eye_(descend.empty(3, 5)), tnn.init.eye_(torch.empty(3, 5)))
    for shape, groups in (((4, 2, 3, 3), 2), ((3, 5, 3), 1), ((6, 2, 3, 3, 3), 3)):
        close(dnn.init.dirac_(descend.empty(*shape), groups), tnn.init.dirac_(torch.empty(*shape), groups))
    # A dirac conv weight passes the input through.
    x = descend.randn(1, 3, 5, 5)
    close(DF.conv2d(x, dnn.init.dirac_(descend.empty(3, 3, 3, 3)), padding=1), x, rtol=1e-6)
    s = arr(dnn.init.sparse_(descend.empty(10, 6), sparsity=0.3, std=0.5))
    assert ((s == 0).sum(axis=0) >= math.ceil(0.3 * 10)).all() and (s != 0).any()
    for name, param in (("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)):
        assert dnn.init.calculate_gain(name, param) == pytest.approx(tnn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="2 or more"):
        dnn.init.orthogonal_(descend.empty(3))


@pytest.mark.parametrize("fn", [lambda t, g: dnn.init.trunc_normal_(t, generator=g),
                                lambda t, g: dnn.init.orthogonal_(t, generator=g),
                                lambda t, g: dnn.init.sparse_(t, 0.5, generator=g)])
def test_init_generators_make_draws_reproducible(fn):
    gen = getattr(descend, "Generator", None)
    make = (lambda: gen().manual_seed(5)) if gen is not None else (lambda: np.random.default_rng(5))
    a, b = fn(descend.empty(4, 6), make()), fn(descend.empty(4, 6), make())
    assert np.array_equal(arr(a), arr(b))
    assert not np.array_equal(arr(a), arr(fn(descend.empty(4, 6), None)))


# ---- functional odds and ends ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes_match_torch(mode):
    x = _rng.standard_normal((2, 3, 5, 6))
    pad = (2, 1, 1, 3)
    dx, tx = both(x)
    kw = dict(value=0.5) if mode == "constant" else {}
    d, t = DF.pad(dx, pad, mode=mode, **kw), TF.pad(tx, pad, mode=mode, **kw)
    close(d, t)
    w = _rng.standard_normal(tuple(t.shape))
    (d * descend.tensor(w, dtype=np.float64)).sum().backward()
    (t * torch.tensor(w)).sum().backward()
    close(dx.grad, tx.grad)


def test_one_hot_embedding_and_clip_grad_norm_match_torch():
    idx = np.array([[0, 3], [2, 1]])
    close(DF.one_hot(descend.tensor(idx)), TF.one_hot(torch.tensor(idx)))
    close(DF.one_hot(descend.tensor(idx), 6), TF.one_hot(torch.tensor(idx), 6))
    w = _rng.standard_normal((5, 3))
    dw, tw = both(w)
    close(DF.embedding(descend.tensor(idx), dw, padding_idx=1), TF.embedding(torch.tensor(idx), tw, padding_idx=1))
    dp, tp = both(_rng.standard_normal(6))
    dp.grad, tp.grad = descend.tensor(np.arange(6.0)), torch.arange(6.0, dtype=torch.float64)
    dn = dnn.utils.clip_grad_norm_([dp], 1.0, norm_type=3.0, error_if_nonfinite=True, foreach=None)
    tn = tnn.utils.clip_grad_norm_([tp], 1.0, norm_type=3.0, error_if_nonfinite=True, foreach=None)
    close(dn, tn)
    close(dp.grad, tp.grad)

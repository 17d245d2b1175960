"""The pieces of descend/nn/layers_more.py, descend/ops/spatial_more.py and descend/ops/loss_more.py against
PyTorch on the same float64 inputs: outputs, input gradients (backward of a random weighting), non-default
arguments and the errors PyTorch raises; RReLU's training-mode draws are checked structurally."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

import descend
import descend.nn as nn
import descend.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

_rng = np.random.default_rng(7)
pytestmark = pytest.mark.filterwarnings("ignore:size_average and reduce")


def _close(a: Any, b: Any, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _pair(ours: Callable, theirs: Callable, *arrays: np.ndarray, consts: tuple = (), rtol: float = 1e-10,
          atol: float = 1e-12) -> None:
    """Run ours(*inputs, *consts) and theirs(...) on the same float64 arrays (consts: integer arrays, not
    differentiated); compare outputs and the gradients of sum(out * w) for a fixed random w."""
    xs = [descend.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    y = ours(*xs, *[descend.tensor(c) for c in consts])
    yt = theirs(*ts, *[torch.tensor(c) for c in consts])
    assert tuple(y.shape) == tuple(yt.shape)
    _close(y, yt, rtol, atol)
    w = _rng.standard_normal(tuple(yt.shape))
    (y * descend.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        _close(x.grad, t.grad, rtol, atol)


def _randn(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape)


# ---- activations and distances -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_softmax2d(shape):
    _pair(nn.Softmax2d(), torch.nn.Softmax2d(), _randn(*shape))


def test_softmax2d_rejects_other_ranks():
    with pytest.raises(ValueError, match="3D or 4D"):
        nn.Softmax2d()(descend.zeros(2, 3))


@pytest.mark.parametrize("dim, eps", [(1, 1e-8), (-1, 1e-8), (0, 0.5)])
def test_cosine_similarity_module(dim, eps):
    _pair(nn.CosineSimilarity(dim, eps), torch.nn.CosineSimilarity(dim, eps), _randn(4, 5, 3), _randn(4, 5, 3))


@pytest.mark.parametrize("p, eps, keepdim", [(2.0, 1e-6, False), (1.0, 1e-6, True), (3.0, 0.1, False),
                                             (math.inf, 1e-6, False)])
def test_pairwise_distance_module(p, eps, keepdim):
    mine, ref = nn.PairwiseDistance(p, eps, keepdim), torch.nn.PairwiseDistance(p, eps, keepdim)
    assert mine.norm == ref.norm and mine.eps == ref.eps and mine.keepdim == ref.keepdim
    _pair(mine, ref, _randn(6, 5), _randn(6, 5))


def test_rrelu_eval_is_leaky_relu_with_the_mean_slope():
    x = _randn(4, 7)
    _pair(nn.RReLU().eval(), torch.nn.RReLU().eval(), x)
    _pair(nn.RReLU(0.05, 0.4).eval(), torch.nn.RReLU(0.05, 0.4).eval(), x)
    _pair(lambda t: F.rrelu(t, 0.2, 0.3), lambda t: TF.rrelu(t, 0.2, 0.3), x)  # training=False by default
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.3, inplace=True))


def test_rrelu_training_with_equal_bounds_matches_torch():
    _pair(lambda t: F.rrelu(t, 0.25, 0.25, training=True), lambda t: TF.rrelu(t, 0.25, 0.25, training=True),
          _randn(5, 6))


def test_rrelu_training_draws_slopes_within_bounds():
    lower, upper = 0.1, 0.3
    x = descend.tensor(np.concatenate([-np.abs(_randn(4000)) - 0.1, np.abs(_randn(1000)) + 0.1]),
                       dtype=np.float64, requires_grad=True)
    y = nn.RReLU(lower, upper).train()(x)
    y.sum().backward()
    xs, ys, g = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    neg = xs < 0
    slopes = ys[neg] / xs[neg]
    assert np.all((slopes >= lower) & (slopes <= upper))
    np.testing.assert_allclose(g[neg], slopes, rtol=1e-12)  # the gradient is the drawn slope
    np.testing.assert_array_equal(ys[~neg], xs[~neg])
    np.testing.assert_array_equal(g[~neg], 1.0)
    # uniform on [lower, upper]: mean (l + u) / 2, variance (u - l)² / 12, and not one repeated value
    assert abs(slopes.mean() - 0.2) < 0.005
    assert abs(slopes.var() - (upper - lower) ** 2 / 12) < 5e-4
    assert len(np.unique(slopes)) > 3000
    # PyTorch draws a slope at x = 0 too: the value is 0 and the gradient lies within the bounds
    z = descend.tensor([0.0], dtype=np.float64, requires_grad=True)
    F.rrelu(z, lower, upper, training=True).sum().backward()
    assert lower <= z.grad.item() <= upper


def test_rrelu_training_follows_descend_seed():
    x = descend.tensor(_randn(50))
    descend.manual_seed(3)
    a = F.rrelu(x, training=True).numpy()
    descend.manual_seed(3)
    b = F.rrelu(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)


def test_rrelu_rejects_lower_above_upper():
    with pytest.raises(RuntimeError, match="less than or equal"):
        F.rrelu(descend.zeros(3), 0.5, 0.1, training=True)
    with pytest.raises(RuntimeError):
        TF.rrelu(torch.zeros(3), 0.5, 0.1, training=True)


# ---- power-average pooling -----------------------------------------------------------------------------

LP1 = [dict(norm_type=2, kernel_size=3), dict(norm_type=2.0, kernel_size=2, stride=1),
       dict(norm_type=3, kernel_size=3, stride=2, ceil_mode=True), dict(norm_type=1.5, kernel_size=2, stride=3),
       dict(norm_type=math.inf, kernel_size=3, stride=2), dict(norm_type=-math.inf, kernel_size=2),
       dict(norm_type=1, kernel_size=4, stride=3, ceil_mode=True)]


@pytest.mark.parametrize("kw", LP1, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 10)])
def test_lp_pool1d(kw, shape):
    x = np.abs(_randn(*shape)) + 0.1  # positive, so non-integer and odd powers are defined
    _pair(lambda t: F.lp_pool1d(t, **kw), lambda t: TF.lp_pool1d(t, **kw), x)


LP2 = [dict(norm_type=2, kernel_size=2), dict(norm_type=2, kernel_size=(3, 2), stride=(1, 2)),
       dict(norm_type=3, kernel_size=3, stride=2, ceil_mode=True), dict(norm_type=0.5, kernel_size=(2, 3)),
       dict(norm_type=math.inf, kernel_size=2, stride=1), dict(norm_type=1, kernel_size=3, ceil_mode=True)]


@pytest.mark.parametrize("kw", LP2, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (2, 7, 9)])
def test_lp_pool2d(kw, shape):
    x = np.abs(_randn(*shape)) + 0.1
    _pair(lambda t: F.lp_pool2d(t, **kw), lambda t: TF.lp_pool2d(t, **kw), x)


def test_lp_pool_signed_input_and_modules():
    x = _randn(2, 3, 9, 8)
    _pair(nn.LPPool2d(2, 3, stride=2, ceil_mode=True), torch.nn.LPPool2d(2, 3, stride=2, ceil_mode=True), x)
    _pair(nn.LPPool1d(2, 3), torch.nn.LPPool1d(2, 3), x[0])
    _pair(nn.LPPool1d(math.inf, 2), torch.nn.LPPool1d(math.inf, 2), x[0])
    assert repr(nn.LPPool2d(2, 3, stride=2)) == repr(torch.nn.LPPool2d(2, 3, stride=2))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 ** -0.5 on the way to a zero gradient
def test_lp_pool_all_zero_window_has_zero_gradient():
    x = np.zeros((1, 1, 4))
    x[0, 0, 2:] = [1.0, 2.0]
    _pair(lambda t: F.lp_pool1d(t, 2, 2), lambda t: TF.lp_pool1d(t, 2, 2), x)


def test_lp_pool_rejects_a_kernel_larger_than_the_input():
    with pytest.raises(RuntimeError, match="too small"):
        F.lp_pool2d(descend.ones(1, 1, 2, 2), 2, 3)
    with pytest.raises(RuntimeError):
        TF.lp_pool2d(torch.ones(1, 1, 2, 2), 2, 3)


# ---- max unpooling -------------------------------------------------------------------------------------

UNPOOL2 = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=(2, 1)),
           dict(kernel_size=3, stride=1)]  # the last overlaps: one maximum can be picked by several windows


@pytest.mark.parametrize("kw", UNPOOL2, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 6, 6)])
def test_max_unpool2d_inverts_max_pool2d(kw, shape):
    x = _randn(*shape)
    pooled, idx = F.max_pool2d(descend.tensor(x), return_indices=True, **kw)
    tpooled, tidx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())  # the flat H * W indices PyTorch gives
    try:
        TF.max_unpool2d(tpooled, tidx, **kw)
    except RuntimeError:  # the default output size is smaller than the pooled input: both refuse
        with pytest.raises(RuntimeError, match="invalid max index"):
            F.max_unpool2d(pooled, idx, **kw)
    else:
        _pair(lambda t, i: F.max_unpool2d(t, i, **kw), lambda t, i: TF.max_unpool2d(t, i, **kw),
              pooled.numpy(), consts=(idx.numpy(),))
        _pair(nn.MaxUnpool2d(**kw), torch.nn.MaxUnpool2d(**kw), pooled.numpy(), consts=(idx.numpy(),))
    size = list(x.shape[-2:])
    _pair(lambda t, i: F.max_unpool2d(t, i, output_size=size, **kw),
          lambda t, i: TF.max_unpool2d(t, i, output_size=size, **kw), tpooled.detach().numpy(),
          consts=(tidx.numpy(),))
    _pair(lambda t, i: nn.MaxUnpool2d(**kw)(t, i, size), lambda t, i: torch.nn.MaxUnpool2d(**kw)(t, i, size),
          pooled.numpy(), consts=(idx.numpy(),))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1)], ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 8)])
def test_max_unpool1d_inverts_max_pool1d(kw, shape):
    # A fixed draw (not the shared stream, which depends on the tests run before): with kernel 3, stride 2 and
    # padding 1 over 8 positions, a maximum at position 7 lies outside the default output size, and PyTorch
    # refuses that input.
    x = np.random.default_rng(0).standard_normal(shape)
    pooled, idx = F.max_pool1d(descend.tensor(x), return_indices=True, **kw)
    tidx = TF.max_pool1d(torch.tensor(x), return_indices=True, **kw)[1]
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    _pair(lambda t, i: F.max_unpool1d(t, i, **kw), lambda t, i: TF.max_unpool1d(t, i, **kw), pooled.numpy(),
          consts=(idx.numpy(),))
    full = list(x.shape)  # output_size may also name the batch and channel dims
    _pair(nn.MaxUnpool1d(**kw), torch.nn.MaxUnpool1d(**kw), pooled.numpy(), consts=(idx.numpy(),))
    if len(full) == 3:
        _pair(lambda t, i: F.max_unpool1d(t, i, output_size=full, **kw),
              lambda t, i: TF.max_unpool1d(t, i, output_size=full, **kw), pooled.numpy(), consts=(idx.numpy(),))
    assert repr(nn.MaxUnpool1d(**kw)) == repr(torch.nn.MaxUnpool1d(**kw))


def test_max_unpool_errors():
    x, idx = descend.ones(1, 1, 2, 2), descend.tensor([[[[0, 1], [2, 100]]]])
    with pytest.raises(RuntimeError, match="invalid max index: 100"):
        F.max_unpool2d(x, idx, 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(x, descend.zeros(1, 1, 2, 2, dtype=descend.int64), 2, output_size=[9, 9])
    with pytest.raises(ValueError, match="invalid output_size"):
        TF.max_unpool2d(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.int64), 2, output_size=[9, 9])
    with pytest.raises(ValueError, match="2 or 4 elements"):
        F.max_unpool2d(x, descend.zeros(1, 1, 2, 2, dtype=descend.int64), 2, output_size=[4, 4, 4])
    with pytest.raises(RuntimeError, match="same as that of the input"):
        F.max_unpool2d(x, descend.zeros(1, 1, 2, 1, dtype=descend.int64), 2)


# ---- local response norm and channel shuffle -----------------------------------------------------------

@pytest.mark.parametrize("size, alpha, beta, k", [(2, 1e-4, 0.75, 1.0), (3, 0.5, 0.6, 2.0), (5, 1.0, 1.5, 0.5),
                                                  (1, 0.1, 0.75, 1.0)])
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 4, 3, 5), (1, 5, 2, 3, 2)])
def test_local_response_norm(size, alpha, beta, k, shape):
    x = _randn(*shape)
    _pair(lambda t: F.local_response_norm(t, size, alpha, beta, k),
          lambda t: TF.local_response_norm(t, size, alpha, beta, k), x)
    _pair(nn.LocalResponseNorm(size, alpha, beta, k), torch.nn.LocalResponseNorm(size, alpha, beta, k), x)
    assert repr(nn.LocalResponseNorm(size, alpha, beta, k)) == repr(torch.nn.LocalResponseNorm(size, alpha, beta, k))


def test_local_response_norm_rejects_2d_and_passes_empty():
    with pytest.raises(ValueError, match="3D or higher"):
        F.local_response_norm(descend.zeros(2, 3), 2)
    assert F.local_response_norm(descend.zeros(0, 3, 2), 2).shape == (0, 3, 2)


@pytest.mark.parametrize("shape, groups", [((2, 6, 4), 3), ((2, 8, 3, 2), 2), ((1, 6, 2, 2), 6), ((2, 4, 1, 2, 3), 4)])
def test_channel_shuffle(shape, groups):
    x = _randn(*shape)
    _pair(lambda t: F.channel_shuffle(t, groups), lambda t: TF.channel_shuffle(t, groups), x)
    _pair(nn.ChannelShuffle(groups), torch.nn.ChannelShuffle(groups), x)


@pytest.mark.parametrize("shape, groups, message", [((2, 4, 3), 0, "must be positive"),
                                                    ((2, 4, 3), 3, "divisible by groups"),
                                                    ((2, 4), 2, "> 2 dims")])
def test_channel_shuffle_errors(shape, groups, message):
    with pytest.raises(RuntimeError, match=message):
        F.channel_shuffle(descend.zeros(*shape), groups)
    with pytest.raises(RuntimeError, match=message.replace(">", "")):
        TF.channel_shuffle(torch.zeros(*shape), groups)


# ---- circular padding ----------------------------------------------------------------------------------

@pytest.mark.parametrize("padding, shape", [(1, (2, 3, 5)), ((2, 0), (3, 4)), ((0, 4), (2, 2, 4)), (3, (1, 3))])
def test_circular_pad1d(padding, shape):
    _pair(nn.CircularPad1d(padding), torch.nn.CircularPad1d(padding), _randn(*shape))
    assert repr(nn.CircularPad1d(padding)) == repr(torch.nn.CircularPad1d(padding))


@pytest.mark.parametrize("padding, shape", [(1, (2, 3, 4, 5)), ((1, 2, 0, 3), (3, 4, 5)), ((3, 3, 2, 2), (1, 1, 3, 3))])
def test_circular_pad2d(padding, shape):
    _pair(nn.CircularPad2d(padding), torch.nn.CircularPad2d(padding), _randn(*shape))
    _pair(lambda t: F.pad(t, nn.CircularPad2d(padding).padding, mode="circular"),
          lambda t: TF.pad(t, torch.nn.CircularPad2d(padding).padding, mode="circular"), _randn(*shape))


def test_circular_pad_errors():
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.CircularPad1d(1)(descend.zeros(4))
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        nn.CircularPad2d(1)(descend.zeros(4, 4))
    with pytest.raises(RuntimeError):
        nn.CircularPad1d(4)(descend.zeros(1, 3))
    with pytest.raises(RuntimeError):
        torch.nn.CircularPad1d(4)(torch.zeros(1, 3))


# ---- losses --------------------------------------------------------------------------------------------

def _label_lists(n: int, c: int) -> np.ndarray:
    """Rows of class lists ending at -1 (with junk after it, and one repeated label)."""
    y = np.full((n, c), -1, dtype=np.int64)
    for i in range(n):
        k = int(_rng.integers(0, c + 1))
        y[i, :k] = _rng.choice(c, size=k, replace=False)
        if k + 1 < c:
            y[i, k + 1:] = _rng.integers(-1, c, size=c - k - 1)  # ignored: after the first -1
    y[0, :3] = [2, 2, -1]  # a repeated label counts twice, as in PyTorch
    return y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss(reduction):
    x, y = _randn(6, 5), _label_lists(6, 5)
    _pair(lambda t, yy: F.multilabel_margin_loss(t, yy, reduction=reduction),
          lambda t, yy: TF.multilabel_margin_loss(t, yy, reduction=reduction), x, consts=(y,))
    _pair(nn.MultiLabelMarginLoss(reduction=reduction), torch.nn.MultiLabelMarginLoss(reduction=reduction), x,
          consts=(y,))


def test_multilabel_margin_loss_unbatched_and_legacy_flags():
    x, y = _randn(5), np.array([3, 0, -1, 1, 4])
    for reduction in ("mean", "none"):
        _pair(lambda t, yy: F.multilabel_margin_loss(t, yy, reduction=reduction),
              lambda t, yy: TF.multilabel_margin_loss(t, yy, reduction=reduction), x, consts=(y,))
    x2, y2 = _randn(4, 5), _label_lists(4, 5)
    _pair(lambda t, yy: F.multilabel_margin_loss(t, yy, size_average=False),
          lambda t, yy: TF.multilabel_margin_loss(t, yy, size_average=False), x2, consts=(y2,))
    _pair(nn.MultiLabelMarginLoss(reduce=False), torch.nn.MultiLabelMarginLoss(reduce=False), x2, consts=(y2,))


def test_multilabel_margin_loss_errors():
    x = descend.zeros(2, 3)
    with pytest.raises(RuntimeError, match="out of range"):
        F.multilabel_margin_loss(x, descend.tensor([[0, 5, -1], [1, -1, 0]]))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multilabel_margin_loss(x, descend.tensor([[0, 1], [1, -1]]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss(reduction, weighted):
    x, y = _randn(6, 4), (_rng.random((6, 4)) < 0.5).astype(np.float64)
    w = _rng.random(4) + 0.5 if weighted else None
    dw = descend.tensor(w) if weighted else None
    tw = torch.tensor(w) if weighted else None
    _pair(lambda t, yy: F.multilabel_soft_margin_loss(t, yy, weight=dw, reduction=reduction),
          lambda t, yy: TF.multilabel_soft_margin_loss(t, yy, weight=tw, reduction=reduction), x, consts=(y,))
    _pair(nn.MultiLabelSoftMarginLoss(dw, reduction=reduction),
          torch.nn.MultiLabelSoftMarginLoss(tw, reduction=reduction), x, consts=(y,))
    if weighted:
        assert list(nn.MultiLabelSoftMarginLoss(dw).state_dict()) == ["weight"]


def test_multilabel_soft_margin_loss_soft_targets_and_errors():
    # targets need not be 0/1, and the target gets a gradient too
    _pair(lambda t, yy: F.multilabel_soft_margin_loss(t, yy, reduce=False),
          lambda t, yy: TF.multilabel_soft_margin_loss(t, yy, reduce=False), _randn(3, 5), _rng.random((3, 5)))
    with pytest.raises(ValueError, match="not valid"):
        F.multilabel_soft_margin_loss(descend.zeros(2, 3), descend.zeros(2, 3), reduction="x")


def _cosine_distance(lib: Any) -> Callable:
    fn = F if lib is descend else TF
    return lambda a, b: 1.0 - fn.cosine_similarity(a, b)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("distance", ["default", "cosine", "l1"])
def test_triplet_margin_with_distance_loss(reduction, swap, distance):
    a, p, n = _randn(7, 4), _randn(7, 4), _randn(7, 4)
    dists = {"default": (None, None), "cosine": (_cosine_distance(descend), _cosine_distance(torch)),
             "l1": (nn.PairwiseDistance(p=1), torch.nn.PairwiseDistance(p=1))}
    mine, theirs = dists[distance]
    kw = dict(margin=1.5, swap=swap, reduction=reduction)
    _pair(lambda *t: F.triplet_margin_with_distance_loss(*t, distance_function=mine, **kw),
          lambda *t: TF.triplet_margin_with_distance_loss(*t, distance_function=theirs, **kw), a, p, n)
    _pair(nn.TripletMarginWithDistanceLoss(distance_function=mine, **kw),
          torch.nn.TripletMarginWithDistanceLoss(distance_function=theirs, **kw), a, p, n)


def test_triplet_margin_with_distance_loss_errors():
    a = descend.zeros(2, 3)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(ValueError, match="not a valid value"):
        F.triplet_margin_with_distance_loss(a, a, a, reduction="avg")
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_with_distance_loss(a, a, descend.zeros(3))
    assert isinstance(nn.TripletMarginWithDistanceLoss().distance_function, nn.PairwiseDistance)


# ---- pdist and cdist -----------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, 0])
def test_pdist(p):
    _pair(lambda t: F.pdist(t, p), lambda t: TF.pdist(t, p), _randn(6, 4))


def test_pdist_repeated_rows_have_zero_gradient_and_small_inputs():
    x = _randn(4, 3)
    x[2] = x[0]
    _pair(lambda t: F.pdist(t), lambda t: TF.pdist(t), x)
    _pair(lambda t: F.pdist(t), lambda t: TF.pdist(t), _randn(1, 3))  # no pairs: an empty result


def test_pdist_errors():
    with pytest.raises(RuntimeError, match="2D"):
        F.pdist(descend.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match="non-negative"):
        F.pdist(descend.zeros(2, 3), -1)


@pytest.mark.parametrize("p", [2, 1, 3, math.inf])
@pytest.mark.parametrize("shapes", [((5, 3), (4, 3)), ((2, 5, 3), (2, 4, 3))])
def test_cdist(p, shapes):
    _pair(lambda a, b: descend.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p), _randn(*shapes[0]),
          _randn(*shapes[1]), rtol=1e-9)


def test_cdist_refuses_a_negative_p_as_torch() -> None:
    for lib in (descend, torch):
        with pytest.raises(RuntimeError, match="non-negative p"):
            lib.cdist(lib.ones(2, 3), lib.ones(4, 3), p=-1.0)


@pytest.mark.parametrize("shape, eps", [((4,), None), ((3, 4), 1e-3)])
def test_rms_norm_and_rmsnorm_match_torch(shape, eps) -> None:
    rng = np.random.default_rng(3)
    x, w, g = rng.standard_normal((2, 3, 4)), rng.standard_normal(shape), rng.standard_normal((2, 3, 4))
    got = []
    for lib in (descend, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.rms_norm(xt, shape, wt, eps)
        gx, = lib.autograd.grad((y * lib.tensor(g)).sum(), xt, create_graph=True)
        (gx * gx).sum().backward()  # a second-order gradient through the composite
        got.append((y.detach().numpy(), gx.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    mine, ref = nn.RMSNorm(shape, eps=eps), torch.nn.RMSNorm(shape, eps=eps)
    assert repr(mine) == repr(ref)
    xf = x.astype(np.float32)
    np.testing.assert_allclose(mine(descend.tensor(xf)).detach().numpy(),
                               ref(torch.tensor(xf)).detach().numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(RuntimeError):
        F.rms_norm(descend.ones(2, 5), (4,))


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=(3, 11)), dict(size=(8, 4), align_corners=True),
                                dict(scale_factor=1.7), dict(scale_factor=0.5), dict(size=(1, 1), align_corners=True)])
def test_bicubic_interpolation_matches_torch(kw) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7))
    got = []
    for lib in (descend, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.interpolate(t, mode="bicubic", **kw)
        (y * lib.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))).sum().backward()
        got.append((y.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-10)


def test_lazy_linear_becomes_a_linear_on_its_first_input_as_torch() -> None:
    got = []
    for lib in (descend, torch):
        m = lib.nn.Sequential(lib.nn.LazyLinear(3), lib.nn.ReLU(), lib.nn.LazyLinear(2, bias=False))
        y = m(lib.ones(4, 5))
        opt = lib.optim.SGD(m.parameters(), lr=0.1)  # built after the dry run, as PyTorch asks
        m(lib.ones(4, 5)).sum().backward()
        opt.step()
        got.append((tuple(y.shape), [type(c).__name__ for c in m], [tuple(p.shape) for p in m.parameters()],
                    sorted(m.state_dict())))
    assert got[0] == got[1]


SPECTRAL_LAYERS = {"linear": (lambda lib: lib.nn.Linear(6, 4), (2, 6)),
                   "conv": (lambda lib: lib.nn.Conv2d(3, 5, 3), (2, 3, 6, 6)),
                   "conv_transpose": (lambda lib: lib.nn.ConvTranspose2d(3, 5, 4, stride=2), (2, 3, 4, 4))}


def _same_steps(d, t, shape, also=None) -> None:
    """Load t's state into d, then in train, eval and train mode compare outputs and every parameter's
    gradient (and whatever `also` checks)."""
    d.load_state_dict({k: descend.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape)
    for mode in ("train", "eval", "train"):
        getattr(t, mode)()
        getattr(d, mode)()
        yt, yd = t(torch.tensor(x)), d(descend.tensor(x))
        yt.sum().backward()
        yd.sum().backward()
        np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        for (_, a), (_, b) in zip(sorted(d.named_parameters()), sorted(t.named_parameters())):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
        if also is not None:
            also(d, t)
        t.zero_grad()
        d.zero_grad()


@pytest.mark.parametrize("name", sorted(SPECTRAL_LAYERS))
def test_spectral_norm_matches_torch_step_by_step(name: str) -> None:
    """Same state dict keys; after loading PyTorch's state (u, v included) the outputs, the gradient of
    weight_orig and the power-iterated u agree in train and eval mode, and remove_spectral_norm folds the same
    weight."""
    make, shape = SPECTRAL_LAYERS[name]
    t = torch.nn.utils.spectral_norm(make(torch).double())
    d = nn.utils.spectral_norm(make(descend).to(descend.float64))
    assert sorted(d.state_dict()) == sorted(t.state_dict())
    _same_steps(d, t, shape, lambda d, t: np.testing.assert_allclose(d.weight_u.numpy(), t.weight_u.numpy(),
                                                                      rtol=1e-10, atol=1e-12))
    torch.nn.utils.remove_spectral_norm(t)
    nn.utils.remove_spectral_norm(d)
    assert sorted(d.state_dict()) == sorted(t.state_dict())
    np.testing.assert_allclose(d.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(dim) -> None:
    t = torch.nn.utils.weight_norm(torch.nn.Conv2d(3, 5, 3).double(), dim=dim)
    d = nn.utils.weight_norm(nn.Conv2d(3, 5, 3).to(descend.float64), dim=dim)
    assert sorted(d.state_dict()) == sorted(t.state_dict())
    d.load_state_dict({k: descend.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5))
    yt, yd = t(torch.tensor(x)), d(descend.tensor(x))
    yt.sum().backward()
    yd.sum().backward()
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for p in ("weight_g", "weight_v"):
        np.testing.assert_allclose(getattr(d, p).grad.numpy(), getattr(t, p).grad.numpy(), rtol=1e-9, atol=1e-12)
    torch.nn.utils.remove_weight_norm(t)
    nn.utils.remove_weight_norm(d)
    np.testing.assert_allclose(d.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(mode: str, padding_mode: str, align_corners: bool) -> None:
    """Values and the gradients for the input and the grid, on a grid that reaches past the borders."""
    rng = np.random.default_rng(0)
    x, grid = rng.standard_normal((2, 3, 5, 6)), rng.uniform(-1.3, 1.3, (2, 4, 7, 2))
    got = []
    for lib in (descend, torch):
        xt, gt = lib.tensor(x, requires_grad=True), lib.tensor(grid, requires_grad=True)
        y = lib.nn.functional.grid_sample(xt, gt, mode=mode, padding_mode=padding_mode,
                                          align_corners=align_corners)
        (y * lib.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)) % 7 - 3)).sum().backward()
        got.append((y.detach().numpy(), xt.grad.numpy(), gt.grad.numpy()))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_and_a_spatial_transformer_gradient_match_torch(align_corners: bool) -> None:
    rng = np.random.default_rng(1)
    theta, x = rng.standard_normal((2, 2, 3)) * 0.5, rng.standard_normal((2, 3, 6, 5))
    got = []
    for lib in (descend, torch):
        t = lib.tensor(theta, requires_grad=True)
        grid = lib.nn.functional.affine_grid(t, (2, 3, 4, 4), align_corners=align_corners)
        y = lib.nn.functional.grid_sample(lib.tensor(x), grid, align_corners=align_corners)
        g, = lib.autograd.grad((y * y).sum(), t, create_graph=True)  # and a second order through both
        (g * g).sum().backward()
        got.append((grid.detach().numpy(), y.detach().numpy(), g.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["spectral_norm", "weight_norm"])
@pytest.mark.parametrize("name", sorted(SPECTRAL_LAYERS))
def test_parametrizations_match_torch_step_by_step(kind: str, name: str) -> None:
    """nn.utils.parametrizations: PyTorch's state-dict keys and repr; after loading its state, outputs and
    every parameter gradient agree in train and eval mode; remove_parametrizations folds the same weight."""
    make, shape = SPECTRAL_LAYERS[name]
    t = getattr(torch.nn.utils.parametrizations, kind)(make(torch).double())
    d = getattr(nn.utils.parametrizations, kind)(make(descend).to(descend.float64))
    assert sorted(d.state_dict()) == sorted(t.state_dict()) and repr(d) == repr(t)
    _same_steps(d, t, shape)
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight")
    nn.utils.parametrize.remove_parametrizations(d, "weight")
    assert type(d).__name__ == type(t).__name__ and sorted(d.state_dict()) == sorted(t.state_dict())
    np.testing.assert_allclose(d.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_a_custom_parametrization_with_a_right_inverse_as_torch() -> None:
    class Symmetric:
        def __init__(self, lib):
            base = lib.nn.Module

            class Sym(base):
                def forward(self, x):
                    return x.triu() + x.triu(1).transpose(-1, -2)

                def right_inverse(self, a):
                    return a.triu()
            self.module = Sym()

    got = []
    w0 = np.arange(9.0).reshape(3, 3)
    for lib in (descend, torch):
        m = lib.nn.Linear(3, 3).double()
        with lib.no_grad():
            m.weight.copy_(lib.tensor(w0))
            m.bias.copy_(lib.tensor([0.5, -1.0, 2.0]))
        lib.nn.utils.parametrize.register_parametrization(m, "weight", Symmetric(lib).module)
        first = m.weight.detach().numpy().copy()
        m.weight = lib.tensor(w0.T + w0)  # through right_inverse
        second = m.weight.detach().numpy().copy()
        (m(lib.ones(2, 3, dtype=lib.float64)) ** 2).sum().backward()
        grad = m.parametrizations.weight.original.grad.numpy().copy()
        lib.nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
        got.append((first, second, grad, m.weight.detach().numpy().copy(), sorted(m.state_dict())))
    for a, b in zip(*got):
        assert a == b if isinstance(a, list) else np.allclose(a, b)


CTC_CASES = {  # (targets, input lengths, target lengths)
    "padded": (np.array([[1, 2, 2], [3, 0, 0], [4, 4, 1]]), [8, 6, 7], [3, 1, 3]),
    "concatenated": (np.array([1, 2, 2, 3, 4, 4, 1]), [8, 6, 7], [3, 1, 3]),
    "impossible_and_empty": (np.array([[1, 1, 1, 1, 1], [2, 0, 0, 0, 0], [3, 0, 0, 0, 0]]), [4, 8, 1], [5, 0, 1]),
    "no_input_frames": (np.array([[1, 2], [3, 0], [0, 0]]), [8, 0, 0], [2, 1, 0]),
    "every_target_empty": (np.zeros((3, 0), np.int64), [8, 5, 1], [0, 0, 0]),
}


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", sorted(CTC_CASES))
def test_ctc_loss_matches_torch(case: str, reduction: str, zero_infinity: bool) -> None:
    """Loss values (inf for an alignment that cannot exist, 0 with zero_infinity) and the gradient with respect
    to the logits under log_softmax."""
    targets, input_lengths, target_lengths = CTC_CASES[case]
    logits = np.random.default_rng(0).standard_normal((8, 3, 5))
    got = []
    for lib in (descend, torch):
        x = lib.tensor(logits, requires_grad=True)
        loss = lib.nn.CTCLoss(reduction=reduction, zero_infinity=zero_infinity)(
            x.log_softmax(2), lib.tensor(targets), lib.tensor(input_lengths), lib.tensor(target_lengths))
        total = loss if reduction != "none" else (loss * lib.tensor(np.arange(1.0, 4.0))).sum()
        grad = None
        if np.isfinite(total.detach().numpy()):
            total.backward()
            grad = x.grad.numpy()
        got.append((loss.detach().numpy(), grad))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-9)
    assert (got[0][1] is None) == (got[1][1] is None)
    if got[1][1] is not None:
        np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-7, atol=1e-10)


def test_grid_sample_at_the_border_and_on_non_finite_grids_matches_torch() -> None:
    """PyTorch's clip has a zero gradient at and beyond the edges (an identity affine grid lands on them);
    NaN and infinite positions give PyTorch's values rather than an error."""
    def run(lib):
        out = []
        img = lib.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
        for pad in ("border", "reflection", "zeros"):
            for ac in (True, False):
                theta = lib.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], requires_grad=True)
                grid = lib.nn.functional.affine_grid(theta, (1, 1, 2, 2), align_corners=ac)
                lib.nn.functional.grid_sample(img, grid, padding_mode=pad, align_corners=ac).sum().backward()
                out.append(theta.grad.numpy().round(6).tolist())
        for grid in ([[[[float("nan"), 0.0]]]], [[[[float("inf"), 0.0]]]], [[[[-float("inf"), 0.5]]]]):
            for pad in ("zeros", "border", "reflection"):
                for mode in ("bilinear", "nearest"):
                    with np.errstate(invalid="ignore"):
                        y = lib.nn.functional.grid_sample(img, lib.tensor(grid), mode=mode, padding_mode=pad,
                                                          align_corners=False)
                    out.append(str(y.flatten().tolist()))
        return out
    assert run(descend) == run(torch)


def test_a_lazy_model_loads_a_checkpoint_before_its_first_forward_as_torch() -> None:
    got = []
    for lib in (descend, torch):
        lib.manual_seed(0)
        ref = lib.nn.Sequential(lib.nn.Linear(5, 3), lib.nn.ReLU(), lib.nn.Linear(3, 2))
        lazy = lib.nn.Sequential(lib.nn.LazyLinear(3), lib.nn.ReLU(), lib.nn.LazyLinear(2))
        result = lazy.load_state_dict(ref.state_dict())
        x = lib.ones(4, 5)
        got.append((repr(result), tuple(lazy[0].weight.shape),
                    np.allclose(lazy(x).detach().numpy(), ref(x).detach().numpy())))
    assert got[0] == got[1]

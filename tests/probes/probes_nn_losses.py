"""Probes: losses (modules and functionals), nn.functional, nn.init."""

import math

from tests.probes.harness import arr, probes


def _in(torch, *shape, seed=0):
    return torch.tensor(arr(*shape, seed=seed), requires_grad=True)


def _loss(torch, fn, x, *others):
    """A loss value and the gradient of its (first) input."""
    loss = fn(x, *others)
    (loss.sum() if loss.dim() else loss).backward()
    return loss, x.grad


def _F(torch):
    return torch.nn.functional


_LOGITS = (4, 3)
_TARGET = [0, 2, 1, 2]


def _ce(torch, **kw):
    return _m(torch, "CrossEntropyLoss", _in(torch, *_LOGITS), torch.tensor(_TARGET), **kw)


def _probs(torch, seed=1):
    return torch.tensor(arr(4, 3, seed=seed, low=0.05, high=0.95))


def _f(torch, name, x, *others, **kw):
    """F.<name>(x, *others, **kw) and the gradient of x."""
    return _loss(torch, lambda *a: getattr(_F(torch), name)(*a, **kw), x, *others)


def _m(torch, name, x, *others, **kw):
    """nn.<name>(**kw)(x, *others) and the gradient of x."""
    return _loss(torch, getattr(torch.nn, name)(**kw), x, *others)


def _unit(torch, n, seed=2):
    """Leaf probabilities in (0.1, 0.9) for the BCE losses."""
    return torch.tensor(arr(n, seed=seed, low=0.1, high=0.9), requires_grad=True)


def _signs(torch):
    return torch.tensor([1.0, -1.0, 1.0, -1.0])


def _targets_3d(torch):
    return torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0]])


probes("loss", {
    "cross_entropy": lambda torch: _ce(torch),
    "cross_entropy_sum": lambda torch: _ce(torch, reduction="sum"),
    "cross_entropy_none": lambda torch: _ce(torch, reduction="none"),
    "cross_entropy_weight": lambda torch: _ce(torch, weight=torch.tensor([1.0, 2.0, 0.5])),
    "cross_entropy_ignore_index": lambda torch: (
        _m(torch, "CrossEntropyLoss", _in(torch, 4, 3), torch.tensor([0, -1, 1, -1]),
           ignore_index=-1)),
    "cross_entropy_label_smoothing": lambda torch: _ce(torch, label_smoothing=0.1),
    "cross_entropy_prob_target": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, 4, 3), torch.softmax(_probs(torch), 1))),
    "cross_entropy_3d": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, 2, 3, 4), _targets_3d(torch))),
    "cross_entropy_view_idiom": lambda torch: _ce_view(torch),
    "cross_entropy_fn_weight_sum": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, *_LOGITS), torch.tensor(_TARGET),
           weight=torch.tensor([1.0, 0.0, 2.0]), reduction="sum")),
    "nll_loss": lambda torch: _f(torch, "nll_loss", _in(torch, *_LOGITS), torch.tensor(_TARGET)),
    "nll_loss_log_softmax": lambda torch: _nll_log_softmax(torch),
    "nll_loss_module_ignore": lambda torch: (
        _m(torch, "NLLLoss", _in(torch, *_LOGITS), torch.tensor(_TARGET), ignore_index=2)),
    "mse": lambda torch: _m(torch, "MSELoss", _in(torch, 3, 2), _probs(torch)[:3, :2]),
    "mse_sum": lambda torch: (
        _f(torch, "mse_loss", _in(torch, 3, 2), _probs(torch)[:3, :2], reduction="sum")),
    "mse_none": lambda torch: _m(torch, "MSELoss", _in(torch, 3), torch.zeros(3), reduction="none"),
    "l1": lambda torch: _m(torch, "L1Loss", _in(torch, 3, 2), _probs(torch)[:3, :2]),
    "l1_fn_sum": lambda torch: _f(torch, "l1_loss", _in(torch, 5), torch.zeros(5), reduction="sum"),
    "smooth_l1": lambda torch: _f(torch, "smooth_l1_loss", _in(torch, 6) * 3, torch.zeros(6)),
    "smooth_l1_beta": lambda torch: (
        _m(torch, "SmoothL1Loss", _in(torch, 6), torch.zeros(6), beta=0.5)),
    "smooth_l1_leaf_grad": lambda torch: _smooth_l1_leaf(torch),
    "huber": lambda torch: _m(torch, "HuberLoss", _in(torch, 6), torch.zeros(6), delta=0.5),
    "huber_fn_sum": lambda torch: (
        _f(torch, "huber_loss", _in(torch, 6), torch.zeros(6), reduction="sum", delta=0.3)),
    "bce": lambda torch: _m(torch, "BCELoss", _unit(torch, 4), torch.tensor([0.0, 1.0, 1.0, 0.0])),
    "bce_fn_sum_vae": lambda torch: _bce_vae(torch),
    "bce_weight": lambda torch: (
        _f(torch, "binary_cross_entropy", _unit(torch, 2), torch.tensor([0.0, 1.0]),
           weight=torch.tensor([1.0, 2.0]))),
    "bce_clamps_log": lambda torch: (
        _F(torch).binary_cross_entropy(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))),
    "bce_with_logits": lambda torch: (
        _m(torch, "BCEWithLogitsLoss", _in(torch, 4), torch.tensor([0.0, 1.0, 1.0, 0.0]))),
    "bce_with_logits_pos_weight": lambda torch: (
        _m(torch, "BCEWithLogitsLoss", _in(torch, 4), torch.tensor([0.0, 1.0, 1.0, 0.0]),
           pos_weight=torch.tensor([2.0]))),
    "bce_with_logits_large": lambda torch: (
        _F(torch).binary_cross_entropy_with_logits(torch.tensor([100.0, -100.0]),
                                                   torch.tensor([0.0, 1.0]))),
    "kl_div_batchmean": lambda torch: _kl_div(torch, reduction="batchmean"),
    "kl_div_log_target": lambda torch: _kl_div(torch, reduction="sum", log_target=True),
    "cosine_embedding": lambda torch: (
        _m(torch, "CosineEmbeddingLoss", _in(torch, 4, 3), _probs(torch), _signs(torch),
           margin=0.1)),
    "margin_ranking": lambda torch: (
        _m(torch, "MarginRankingLoss", _in(torch, 3), torch.zeros(3),
           torch.tensor([1.0, -1.0, 1.0]), margin=0.2)),
    "margin_ranking_fn": lambda torch: (
        _f(torch, "margin_ranking_loss", _in(torch, 3), torch.zeros(3),
           torch.tensor([1.0, -1.0, -1.0]), reduction="sum")),
    "hinge_embedding": lambda torch: _m(torch, "HingeEmbeddingLoss", _in(torch, 4), _signs(torch)),
    "soft_margin": lambda torch: _m(torch, "SoftMarginLoss", _in(torch, 4), _signs(torch)),
    "multi_margin": lambda torch: (
        _m(torch, "MultiMarginLoss", _in(torch, *_LOGITS), torch.tensor(_TARGET))),
    "triplet_margin": lambda torch: (
        _m(torch, "TripletMarginLoss", _in(torch, 4, 3), _probs(torch), _probs(torch, 3),
           margin=1.0)),
    "poisson_nll": lambda torch: (
        _m(torch, "PoissonNLLLoss", _in(torch, 4), torch.tensor([0.0, 1.0, 2.0, 1.0]))),
    "gaussian_nll": lambda torch: (
        _m(torch, "GaussianNLLLoss", _in(torch, 4), torch.zeros(4), torch.ones(4) * 0.5)),
    "loss_item_float": lambda torch: (
        type(torch.nn.MSELoss()(torch.ones(2), torch.zeros(2)).item()).__name__),
    "loss_0d": lambda torch: (
        torch.nn.CrossEntropyLoss()(torch.zeros(2, 3), torch.tensor([0, 1])).shape),
    "vae_kld": lambda torch: _vae_kld(torch),
    "makemore_bigram_loss": lambda torch: _bigram_loss(torch),
})


def _ce_view(torch):
    # makemore: logits (B, T, C) flattened, padding targets marked -1
    logits = _in(torch, 2, 3, 5)
    targets = torch.tensor([[1, 2, -1], [0, 4, 4]])
    loss = _F(torch).cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                   ignore_index=-1)
    loss.backward()
    return loss, logits.grad


def _nll_log_softmax(torch):
    x = _in(torch, *_LOGITS)
    output = _F(torch).log_softmax(x, dim=1)
    loss = _F(torch).nll_loss(output, torch.tensor(_TARGET), reduction="sum")
    loss.backward()
    return loss, x.grad


def _smooth_l1_leaf(torch):
    x = _in(torch, 4)
    _F(torch).smooth_l1_loss(x * 2, torch.zeros(4)).backward()
    return x.grad


def _bce_vae(torch):
    # vae: reconstruction against the input viewed flat, summed
    recon = torch.tensor(arr(2, 6, seed=2, low=0.1, high=0.9), requires_grad=True)
    x = _probs(torch)[:, :3].reshape(2, 1, 6)
    loss = _F(torch).binary_cross_entropy(recon, x.view(-1, 6), reduction="sum")
    loss.backward()
    return loss, recon.grad


def _kl_div(torch, **kw):
    x = _in(torch, 4, 3)
    target = torch.softmax(_probs(torch), 1)
    if kw.get("log_target"):
        target = target.log()
    loss = torch.nn.KLDivLoss(**kw)(torch.log_softmax(x, 1), target)
    loss.backward()
    return loss, x.grad


def _vae_kld(torch):
    mu, logvar = _in(torch, 2, 3), _in(torch, 2, 3, seed=1)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    kld.backward()
    return kld, mu.grad, logvar.grad


def _bigram_loss(torch):
    W = _in(torch, 3, 3)
    xenc = _F(torch).one_hot(torch.tensor([0, 2, 1]), num_classes=3).float()
    counts = (xenc @ W).exp()
    probs = counts / counts.sum(1, keepdims=True)
    loss = -probs[torch.arange(3), torch.tensor([1, 0, 2])].log().mean() + 0.01 * (W ** 2).mean()
    loss.backward()
    return loss, W.grad


def _fn(torch, fn, *shape, seed=0):
    x = _in(torch, *shape, seed=seed)
    y = fn(x)
    (y * torch.linspace(-1.0, 1.0, y.numel()).view(y.shape)).sum().backward()
    return y, x.grad


probes("functional", {
    "relu": lambda torch: _fn(torch, _F(torch).relu, 3, 4),
    "leaky_relu": lambda torch: _fn(torch, lambda x: _F(torch).leaky_relu(x, 0.1), 3, 4),
    "leaky_relu_kw": lambda torch: (
        _fn(torch, lambda x: _F(torch).leaky_relu(x, negative_slope=0.3), 3, 4)),
    "elu": lambda torch: _fn(torch, _F(torch).elu, 3, 4),
    "selu": lambda torch: _fn(torch, _F(torch).selu, 3, 4),
    "silu": lambda torch: _fn(torch, _F(torch).silu, 3, 4),
    "gelu": lambda torch: _fn(torch, _F(torch).gelu, 3, 4),
    "gelu_tanh": lambda torch: _fn(torch, lambda x: _F(torch).gelu(x, approximate="tanh"), 3, 4),
    "mish": lambda torch: _fn(torch, _F(torch).mish, 3, 4),
    "softplus": lambda torch: _fn(torch, _F(torch).softplus, 3, 4),
    "hardtanh": lambda torch: _fn(torch, _F(torch).hardtanh, 3, 4),
    "relu6": lambda torch: _fn(torch, lambda x: _F(torch).relu6(x * 8), 3, 4),
    "hardswish": lambda torch: _fn(torch, lambda x: _F(torch).hardswish(x * 4), 3, 4),
    "hardsigmoid": lambda torch: _fn(torch, lambda x: _F(torch).hardsigmoid(x * 4), 3, 4),
    "logsigmoid": lambda torch: _fn(torch, _F(torch).logsigmoid, 3, 4),
    "softsign": lambda torch: _fn(torch, _F(torch).softsign, 3, 4),
    "tanhshrink": lambda torch: _fn(torch, _F(torch).tanhshrink, 3, 4),
    "sigmoid": lambda torch: _fn(torch, _F(torch).sigmoid, 3, 4),
    "tanh": lambda torch: _fn(torch, _F(torch).tanh, 3, 4),
    "softmax": lambda torch: _fn(torch, lambda x: _F(torch).softmax(x, dim=-1), 3, 4),
    "softmin": lambda torch: _fn(torch, lambda x: _F(torch).softmin(x, dim=1), 3, 4),
    "log_softmax": lambda torch: _fn(torch, lambda x: _F(torch).log_softmax(x, 1), 3, 4),
    "glu": lambda torch: _fn(torch, _F(torch).glu, 3, 4),
    "normalize": lambda torch: _fn(torch, _F(torch).normalize, 3, 4),
    "normalize_dim0_p1": lambda torch: (
        _fn(torch, lambda x: _F(torch).normalize(x, p=1, dim=0), 3, 4)),
    "cosine_similarity": lambda torch: (
        _fn(torch, lambda x: _F(torch).cosine_similarity(x, torch.ones(3, 4)), 3, 4)),
    "cosine_similarity_dim0": lambda torch: (
        _fn(torch, lambda x: _F(torch).cosine_similarity(x, x.flip(0), dim=0), 3, 4)),
    "pairwise_distance": lambda torch: (
        _fn(torch, lambda x: _F(torch).pairwise_distance(x, torch.zeros(3, 4)), 3, 4)),
    "pad_last": lambda torch: _fn(torch, lambda x: _F(torch).pad(x, (1, 2)), 3, 4),
    "pad_two_dims": lambda torch: (
        _fn(torch, lambda x: _F(torch).pad(x, (1, 0, 0, 1), value=-1.0), 3, 4)),
    "pad_reflect": lambda torch: (
        _fn(torch, lambda x: _F(torch).pad(x, (1, 1), mode="reflect"), 1, 3, 4)),
    "pad_replicate": lambda torch: (
        _fn(torch, lambda x: _F(torch).pad(x, (2, 1), mode="replicate"), 1, 3, 4)),
    "embedding": lambda torch: (
        _fn(torch, lambda w: _F(torch).embedding(torch.tensor([[0, 2], [1, 1]]), w), 3, 4)),
    "one_hot": lambda torch: _F(torch).one_hot(torch.tensor([2, 0]), 4),
    "linear": lambda torch: (
        _fn(torch,
            lambda x: _F(torch).linear(x, torch.ones(2, 4), torch.tensor([0.5, -0.5])), 3,
            4)),
    "linear_no_bias": lambda torch: (
        _fn(torch, lambda x: _F(torch).linear(x, torch.eye(4)[:2]), 3, 4)),
    "dropout_eval": lambda torch: (
        _fn(torch, lambda x: _F(torch).dropout(x, 0.5, training=False), 3, 4)),
    "dropout_default_training": lambda torch: (
        bool((_F(torch).dropout(torch.ones(1000), 0.5) == 0).any())),
    "dropout_scale": lambda torch: sorted(set(_F(torch).dropout(torch.ones(200), 0.5).tolist())),
    "dropout_p1": lambda torch: _F(torch).dropout(torch.ones(4), p=1.0),
    "conv2d": lambda torch: (
        _fn(torch,
            lambda x: _F(torch).conv2d(x, torch.ones(2, 1, 2, 2), torch.tensor([0.1, -0.1]), padding=1),
            1, 1, 3, 3)),
    "conv1d": lambda torch: (
        _fn(torch, lambda x: _F(torch).conv1d(x, torch.ones(1, 2, 2), stride=2), 1, 2, 6)),
    "max_pool2d": lambda torch: _fn(torch, lambda x: _F(torch).max_pool2d(x, 2), 1, 2, 4, 4),
    "max_pool2d_indices": lambda torch: (
        _F(torch).max_pool2d(torch.tensor(arr(1, 1, 4, 4)), 2, return_indices=True)),
    "avg_pool2d": lambda torch: (
        _fn(torch, lambda x: _F(torch).avg_pool2d(x, 2, stride=1), 1, 1, 3, 3)),
    "adaptive_avg_pool2d": lambda torch: (
        _fn(torch, lambda x: _F(torch).adaptive_avg_pool2d(x, (1, 1)), 2, 2, 3, 3)),
    "interpolate_nearest": lambda torch: (
        _fn(torch, lambda x: _F(torch).interpolate(x, scale_factor=2, mode="nearest"), 1, 1, 2, 2)),
    "interpolate_bilinear": lambda torch: (
        _fn(torch,
            lambda x: _F(torch).interpolate(x, size=(3, 3), mode="bilinear", align_corners=False),
            1, 1, 2, 2)),
    "layer_norm": lambda torch: _fn(torch, lambda x: _F(torch).layer_norm(x, (4,)), 3, 4),
    "batch_norm_eval": lambda torch: (
        _fn(torch,
            lambda x: _F(torch).batch_norm(x, torch.zeros(4), torch.ones(4) * 2, training=False), 3,
            4)),
    "group_norm": lambda torch: _fn(torch, lambda x: _F(torch).group_norm(x, 2), 2, 4, 3),
    "sdpa": lambda torch: (
        _fn(torch,
            lambda q: _F(torch).scaled_dot_product_attention(q, q * 2, q.flip(-1)), 1, 3,
            4)),
    "sdpa_causal": lambda torch: (
        _fn(torch,
            lambda q: _F(torch).scaled_dot_product_attention(q, q, q, is_causal=True), 1, 2, 3,
            4)),
    "unfold": lambda torch: _fn(torch, lambda x: _F(torch).unfold(x, 2), 1, 1, 3, 3),
    "softmax_dtype": lambda torch: _F(torch).softmax(torch.ones(2), dim=0, dtype=torch.float64),
    "threshold": lambda torch: _fn(torch, lambda x: _F(torch).threshold(x, 0.2, -1.0), 3, 4),
})


def _init(torch, fn, *shape):
    torch.manual_seed(0)
    w = torch.empty(*shape)
    out = fn(torch.nn.init, w)
    return out is w, w


def _w(torch, name, *shape, **kw):
    """A fresh (seeded) tensor initialised by nn.init.<name>(w, **kw)."""
    return _init(torch, lambda init, w: getattr(init, name)(w, **kw), *shape)[1]


def _gram_is(torch, w, expected):
    return torch.allclose(w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w, expected, atol=1e-4)


probes("init", {
    "zeros_": lambda torch: _init(torch, lambda i, w: i.zeros_(w), 2, 3),
    "ones_": lambda torch: _init(torch, lambda i, w: i.ones_(w), 2, 3),
    "constant_": lambda torch: _init(torch, lambda i, w: i.constant_(w, 0.3), 2, 3),
    "eye_": lambda torch: _init(torch, lambda i, w: i.eye_(w), 2, 3),
    "dirac_": lambda torch: _init(torch, lambda i, w: i.dirac_(w), 2, 2, 3),
    "dirac_groups": lambda torch: _init(torch, lambda i, w: i.dirac_(w, groups=2), 4, 2, 3),
    "uniform_bounds": lambda torch: (
        bool((_w(torch, "uniform_", 50, 4, a=-0.2, b=0.2).abs() <= 0.2).all())),
    "normal_stats": lambda torch: (
        round(_w(torch, "normal_", 100, 100, mean=0.0, std=0.02).std().item(), 2)),
    "xavier_uniform_bound": lambda torch: (
        bool((_w(torch, "xavier_uniform_", 30, 20).abs() <= math.sqrt(6 / 50)).all())),
    "xavier_normal_std": lambda torch: round(_w(torch, "xavier_normal_", 200, 200).std().item(), 2),
    "xavier_uniform_gain": lambda torch: (
        round(_w(torch, "xavier_uniform_", 300, 300, gain=math.sqrt(2)).abs().max().item(), 2)),
    "kaiming_uniform_bound": lambda torch: (
        round(_w(torch, "kaiming_uniform_", 200, 100, a=math.sqrt(5)).abs().max().item(), 2)),
    "kaiming_normal_std": lambda torch: (
        round(_w(torch, "kaiming_normal_", 200, 200, mode="fan_out", nonlinearity="relu").std().item(),
              2)),
    "kaiming_normal_conv": lambda torch: (
        round(_w(torch, "kaiming_normal_", 64, 16, 3, 3).std().item(), 2)),
    "trunc_normal_range": lambda torch: (
        bool((_w(torch, "trunc_normal_", 200, std=1.0, a=-0.5, b=0.5).abs() <= 0.5).all())),
    "trunc_normal_returns": lambda torch: (
        _init(torch, lambda i, w: i.trunc_normal_(w, std=0.02), 4)[0]),
    "orthogonal_": lambda torch: _gram_is(torch, _w(torch, "orthogonal_", 3, 5), torch.eye(3)),
    "orthogonal_gain": lambda torch: (
        _gram_is(torch, _w(torch, "orthogonal_", 5, 3, gain=2), 4 * torch.eye(3))),
    "sparse_": lambda torch: (_w(torch, "sparse_", 4, 3, sparsity=0.5) == 0).sum(0),
    "calculate_gain": lambda torch: (
        [float(torch.nn.init.calculate_gain(n))
         for n in ("linear", "relu", "tanh", "sigmoid", "selu")]),
    "calculate_gain_leaky": lambda torch: torch.nn.init.calculate_gain("leaky_relu", 0.2),
    "init_on_parameter_keeps_leaf": lambda torch: _init_parameter(torch),
    "init_no_grad_graph": lambda torch: (
        torch.nn.init.zeros_(torch.nn.Linear(2, 2).weight).grad_fn is None),
    "default_linear_init_bound": lambda torch: (
        (lambda lin: bool((lin.weight.abs() <= 1 / math.sqrt(16)).all()))(torch.nn.Linear(16, 8))),
    "default_conv_bias_bound": lambda torch: (
        (lambda c: bool((c.bias.abs() <= 1 / math.sqrt(18)).all()))(torch.nn.Conv2d(2, 8, 3))),
    "default_embedding_normal": lambda torch: (
        round(torch.nn.Embedding(300, 100).weight.std().item(), 1)),
    "default_layernorm": lambda torch: (lambda ln: (ln.weight, ln.bias))(torch.nn.LayerNorm(3)),
    "default_batchnorm_buffers": lambda torch: _bn_defaults(torch.nn.BatchNorm1d(2)),
})


def _init_parameter(torch):
    p = torch.nn.Linear(2, 2).weight
    torch.nn.init.normal_(p)
    return p.requires_grad, p.is_leaf, p.grad_fn is None


def _bn_defaults(bn):
    return bn.weight, bn.bias, bn.running_mean, bn.running_var


probes("loss", {
    "cross_entropy_weight_ignore_mean": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, 4, 3), torch.tensor([0, 2, -100, 1]),
           weight=torch.tensor([1.0, 2.0, 0.5]))),
    "cross_entropy_smoothing_weight": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, *_LOGITS), torch.tensor(_TARGET),
           weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.2)),
    "cross_entropy_smoothing_ignore": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, 4, 3), torch.tensor([0, 2, -1, 1]), ignore_index=-1,
           label_smoothing=0.1)),
    "cross_entropy_prob_target_smoothing": lambda torch: (
        _f(torch, "cross_entropy", _in(torch, 4, 3), torch.softmax(_probs(torch), 1), label_smoothing=0.3)),
    "cross_entropy_all_ignored": lambda torch: (
        _F(torch).cross_entropy(torch.zeros(2, 3), torch.tensor([-100, -100]))),
    "nll_weight_mean": lambda torch: (
        _f(torch, "nll_loss", _in(torch, *_LOGITS), torch.tensor(_TARGET), weight=torch.tensor([0.5, 1.0, 2.0]))),
    "nll_3d_none": lambda torch: (
        _f(torch, "nll_loss", _in(torch, 2, 3, 4), _targets_3d(torch), reduction="none")),
    "bce_logits_weight_pos_weight_2d": lambda torch: (
        _f(torch, "binary_cross_entropy_with_logits", _in(torch, 4, 3), _probs(torch),
           weight=torch.tensor([1.0, 0.5, 2.0]), pos_weight=torch.tensor([3.0, 1.0, 0.5]))),
    "bce_none_shape": lambda torch: (
        _f(torch, "binary_cross_entropy", _unit(torch, 3), torch.tensor([0.0, 1.0, 0.5]), reduction="none")),
    "huber_none": lambda torch: _f(torch, "huber_loss", _in(torch, 5) * 2, torch.zeros(5), reduction="none"),
    "smooth_l1_beta_zero": lambda torch: (
        _f(torch, "smooth_l1_loss", _in(torch, 5), torch.zeros(5), beta=0.0)),
    "kl_div_mean_default": lambda torch: _kl_div(torch),
    "cosine_embedding_none": lambda torch: (
        _m(torch, "CosineEmbeddingLoss", _in(torch, 4, 3), _probs(torch), _signs(torch), reduction="none")),
    "l1_broadcast_target_warns_but_works": lambda torch: (
        _f(torch, "l1_loss", _in(torch, 3, 1), torch.zeros(3))),
    "mse_int_target": lambda torch: _f(torch, "mse_loss", _in(torch, 3), torch.tensor([1, 0, 2])),
})

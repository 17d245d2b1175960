"""Probes: nn layers forward and backward, from the same parameter values under both libraries."""

from tests.probes.harness import arr, fill, probe, probes


def _weighted_sum(torch, y):
    return (y * torch.linspace(-1.0, 1.0, y.numel()).view(y.shape)).sum()


def _layer(torch, make, *shape, grad=True, train=True, seed=0):
    """Output of a filled layer on a fixed input, with input and parameter gradients."""
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn))
    m.train(train)
    x = torch.tensor(arr(*shape, seed=seed), requires_grad=grad)
    y = m(x)
    if not grad:
        return y
    _weighted_sum(torch, y).backward()
    return y, x.grad, [(n, p.grad) for n, p in m.named_parameters()]


probes("layer", {
    "linear": lambda torch: _layer(torch, lambda nn: nn.Linear(3, 2), 4, 3),
    "linear_no_bias": lambda torch: _layer(torch, lambda nn: nn.Linear(3, 2, bias=False), 4, 3),
    "linear_3d_input": lambda torch: _layer(torch, lambda nn: nn.Linear(3, 2), 2, 4, 3),
    "linear_1d_input": lambda torch: _layer(torch, lambda nn: nn.Linear(3, 2), 3),
    "bilinear": lambda torch: _layer(torch, lambda nn: _Bilinear(nn), 2, 3),
    "conv1d": lambda torch: _layer(torch, lambda nn: nn.Conv1d(2, 3, 3), 2, 2, 6),
    "conv1d_padding_same": lambda torch: (
        _layer(torch, lambda nn: nn.Conv1d(2, 2, 3, padding="same"), 1, 2, 5)),
    "conv2d": lambda torch: _layer(torch, lambda nn: nn.Conv2d(1, 2, 3), 1, 1, 5, 5),
    "conv2d_stride_pad": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(2, 3, 3, stride=2, padding=1), 2, 2, 5, 5)),
    "conv2d_dilation": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(1, 1, 3, dilation=2), 1, 1, 6, 6)),
    "conv2d_groups": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(4, 4, 3, groups=2, padding=1), 1, 4, 4, 4)),
    "conv2d_rect_kernel": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(1, 2, (2, 3), bias=False), 1, 1, 4, 5)),
    "conv2d_no_batch": lambda torch: _layer(torch, lambda nn: nn.Conv2d(1, 2, 3), 1, 4, 4),
    "conv_transpose2d": lambda torch: (
        _layer(torch, lambda nn: nn.ConvTranspose2d(2, 1, 3, stride=2), 1, 2, 3, 3)),
    "conv_transpose1d": lambda torch: (
        _layer(torch, lambda nn: nn.ConvTranspose1d(1, 2, 2, stride=2), 1, 1, 4)),
    "max_pool2d": lambda torch: _layer(torch, lambda nn: nn.MaxPool2d(2), 1, 2, 4, 4),
    "max_pool2d_stride_pad": lambda torch: (
        _layer(torch, lambda nn: nn.MaxPool2d(3, stride=2, padding=1), 1, 1, 5, 5)),
    "max_pool2d_ceil": lambda torch: (
        _layer(torch, lambda nn: nn.MaxPool2d(2, ceil_mode=True), 1, 1, 5, 5)),
    "max_pool1d": lambda torch: _layer(torch, lambda nn: nn.MaxPool1d(2), 2, 2, 6),
    "avg_pool2d": lambda torch: _layer(torch, lambda nn: nn.AvgPool2d(2), 1, 2, 4, 4),
    "avg_pool2d_pad": lambda torch: (
        _layer(torch, lambda nn: nn.AvgPool2d(3, stride=1, padding=1), 1, 1, 4, 4)),
    "avg_pool1d": lambda torch: _layer(torch, lambda nn: nn.AvgPool1d(3, stride=2), 1, 2, 7),
    "adaptive_avg_pool2d": lambda torch: (
        _layer(torch, lambda nn: nn.AdaptiveAvgPool2d((1, 1)), 2, 3, 4, 4)),
    "adaptive_avg_pool2d_int": lambda torch: (
        _layer(torch, lambda nn: nn.AdaptiveAvgPool2d(2), 1, 1, 6, 6)),
    "adaptive_avg_pool1d": lambda torch: _layer(torch, lambda nn: nn.AdaptiveAvgPool1d(1), 2, 3, 5),
    "adaptive_max_pool2d": lambda torch: (
        _layer(torch, lambda nn: nn.AdaptiveMaxPool2d(1), 1, 2, 4, 4)),
    "batchnorm1d_train": lambda torch: _layer(torch, lambda nn: nn.BatchNorm1d(3), 5, 3),
    "batchnorm1d_eval": lambda torch: (
        _layer(torch, lambda nn: nn.BatchNorm1d(3), 5, 3, train=False)),
    "batchnorm1d_3d": lambda torch: _layer(torch, lambda nn: nn.BatchNorm1d(2), 3, 2, 4),
    "batchnorm2d_train": lambda torch: _layer(torch, lambda nn: nn.BatchNorm2d(2), 2, 2, 3, 3),
    "batchnorm2d_no_affine": lambda torch: (
        _layer(torch, lambda nn: nn.BatchNorm2d(2, affine=False), 2, 2, 3, 3)),
    "layernorm": lambda torch: _layer(torch, lambda nn: nn.LayerNorm(4), 3, 4),
    "layernorm_2d_shape": lambda torch: _layer(torch, lambda nn: nn.LayerNorm([2, 3]), 2, 2, 3),
    "layernorm_no_affine": lambda torch: (
        _layer(torch, lambda nn: nn.LayerNorm(3, elementwise_affine=False), 2, 3)),
    "groupnorm": lambda torch: _layer(torch, lambda nn: nn.GroupNorm(2, 4), 2, 4, 3),
    "instancenorm2d": lambda torch: _layer(torch, lambda nn: nn.InstanceNorm2d(2), 2, 2, 3, 3),
    "dropout_eval": lambda torch: _layer(torch, lambda nn: nn.Dropout(0.5), 3, 4, train=False),
    "dropout_p0": lambda torch: _layer(torch, lambda nn: nn.Dropout(0.0), 3, 4),
    "dropout1d_eval": lambda torch: (
        _layer(torch, lambda nn: nn.Dropout1d(0.3), 2, 3, 4, train=False)),
    "dropout2d_eval": lambda torch: (
        _layer(torch, lambda nn: nn.Dropout2d(0.3), 1, 2, 3, 3, train=False)),
    "flatten": lambda torch: _layer(torch, lambda nn: nn.Flatten(), 2, 3, 2),
    "flatten_dims": lambda torch: _layer(torch, lambda nn: nn.Flatten(0, 1), 2, 3, 2),
    "unflatten": lambda torch: _layer(torch, lambda nn: nn.Unflatten(1, (2, 3)), 2, 6),
    "identity": lambda torch: _layer(torch, lambda nn: nn.Identity(), 2, 3),
    "upsample_nearest": lambda torch: (
        _layer(torch, lambda nn: nn.Upsample(scale_factor=2), 1, 1, 2, 2)),
    "pixel_shuffle": lambda torch: _layer(torch, lambda nn: nn.PixelShuffle(2), 1, 4, 2, 2),
    "zero_pad2d": lambda torch: _layer(torch, lambda nn: nn.ZeroPad2d(1), 1, 1, 2, 2),
})


def _Bilinear(nn):
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.bil = nn.Bilinear(3, 3, 2)

        def forward(self, x):
            return self.bil(x, x * 2)
    return Pair()


probes("activation", {
    "relu": lambda torch: _layer(torch, lambda nn: nn.ReLU(), 3, 4),
    "relu_inplace_module": lambda torch: (
        _layer(torch, lambda nn: nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True)), 3, 4)),
    "leaky_relu": lambda torch: _layer(torch, lambda nn: nn.LeakyReLU(0.2), 3, 4),
    "elu": lambda torch: _layer(torch, lambda nn: nn.ELU(), 3, 4),
    "elu_alpha": lambda torch: _layer(torch, lambda nn: nn.ELU(alpha=0.5), 3, 4),
    "celu": lambda torch: _layer(torch, lambda nn: nn.CELU(), 3, 4),
    "selu": lambda torch: _layer(torch, lambda nn: nn.SELU(), 3, 4),
    "silu": lambda torch: _layer(torch, lambda nn: nn.SiLU(), 3, 4),
    "gelu": lambda torch: _layer(torch, lambda nn: nn.GELU(), 3, 4),
    "gelu_tanh": lambda torch: _layer(torch, lambda nn: nn.GELU(approximate="tanh"), 3, 4),
    "softplus": lambda torch: _layer(torch, lambda nn: nn.Softplus(), 3, 4),
    "softplus_beta": lambda torch: _layer(torch, lambda nn: nn.Softplus(beta=2, threshold=1), 3, 4),
    "hardtanh": lambda torch: _layer(torch, lambda nn: nn.Hardtanh(-0.5, 0.5), 3, 4),
    "relu6": lambda torch: _layer(torch, lambda nn: nn.ReLU6(), 3, 4, seed=3),
    "prelu": lambda torch: _layer(torch, lambda nn: nn.PReLU(), 3, 4),
    "prelu_channels": lambda torch: _layer(torch, lambda nn: nn.PReLU(3), 2, 3, 2),
    "hardswish": lambda torch: _layer(torch, lambda nn: nn.Hardswish(), 3, 4),
    "hardsigmoid": lambda torch: _layer(torch, lambda nn: nn.Hardsigmoid(), 3, 4),
    "mish": lambda torch: _layer(torch, lambda nn: nn.Mish(), 3, 4),
    "softmin": lambda torch: _layer(torch, lambda nn: nn.Softmin(dim=1), 3, 4),
    "softsign": lambda torch: _layer(torch, lambda nn: nn.Softsign(), 3, 4),
    "tanhshrink": lambda torch: _layer(torch, lambda nn: nn.Tanhshrink(), 3, 4),
    "logsigmoid": lambda torch: _layer(torch, lambda nn: nn.LogSigmoid(), 3, 4),
    "sigmoid": lambda torch: _layer(torch, lambda nn: nn.Sigmoid(), 3, 4),
    "tanh": lambda torch: _layer(torch, lambda nn: nn.Tanh(), 3, 4),
    "softmax": lambda torch: _layer(torch, lambda nn: nn.Softmax(dim=1), 3, 4),
    "log_softmax": lambda torch: _layer(torch, lambda nn: nn.LogSoftmax(dim=-1), 3, 4),
    "hardshrink": lambda torch: _layer(torch, lambda nn: nn.Hardshrink(0.3), 3, 4),
    "softshrink": lambda torch: _layer(torch, lambda nn: nn.Softshrink(0.3), 3, 4),
    "threshold": lambda torch: _layer(torch, lambda nn: nn.Threshold(0.1, 20.0), 3, 4),
    "glu": lambda torch: _layer(torch, lambda nn: nn.GLU(), 3, 4),
})


def _emb(torch, make, idx):
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn))
    y = m(torch.tensor(idx))
    _weighted_sum(torch, y).backward()
    return y, m.weight.grad


probes("layer", {
    "embedding": lambda torch: _emb(torch, lambda nn: nn.Embedding(5, 3), [[0, 2], [4, 2]]),
    "embedding_padding_idx": lambda torch: (
        _emb(torch, lambda nn: nn.Embedding(5, 3, padding_idx=0), [0, 1, 0])),
    "embedding_padding_idx_init_zero": lambda torch: (
        torch.nn.Embedding(4, 2, padding_idx=1).weight[1]),
    "embedding_from_pretrained": lambda torch: (
        torch.nn.Embedding.from_pretrained(torch.eye(3))(torch.tensor([2]))),
    "embedding_frozen": lambda torch: (
        torch.nn.Embedding.from_pretrained(torch.eye(3)).weight.requires_grad),
    "embedding_bag_mean": lambda torch: (
        _emb(torch, lambda nn: nn.EmbeddingBag(5, 2, mode="mean"), [[0, 1], [2, 4]])),
    "embedding_shapes": lambda torch: (
        (torch.nn.Embedding(10, 4).weight.shape, torch.nn.Embedding(10, 4).num_embeddings)),
})


def _rnn(torch, make, *shape, h0=None):
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn), scale=0.3)
    x = torch.tensor(arr(*shape), requires_grad=True)
    out = m(x) if h0 is None else m(x, h0(torch))
    y, h = out if isinstance(out, tuple) else (out, None)
    loss = _weighted_sum(torch, y)
    loss.backward()
    return y, h, x.grad, [(n, p.grad) for n, p in m.named_parameters()]


probes("rnn", {
    "rnn": lambda torch: _rnn(torch, lambda nn: nn.RNN(3, 4), 5, 2, 3),
    "rnn_batch_first": lambda torch: (
        _rnn(torch, lambda nn: nn.RNN(3, 4, batch_first=True), 2, 5, 3)),
    "rnn_relu_2layer": lambda torch: (
        _rnn(torch, lambda nn: nn.RNN(3, 2, num_layers=2, nonlinearity="relu"), 4, 1, 3)),
    "rnn_h0": lambda torch: (
        _rnn(torch, lambda nn: nn.RNN(3, 2), 4, 2, 3, h0=lambda t: torch.full((1, 2, 2), 0.1))),
    "rnn_cell": lambda torch: _rnn(torch, lambda nn: nn.RNNCell(3, 4), 2, 3),
    "gru": lambda torch: _rnn(torch, lambda nn: nn.GRU(3, 4), 5, 2, 3),
    "gru_batch_first": lambda torch: (
        _rnn(torch, lambda nn: nn.GRU(3, 2, batch_first=True), 2, 4, 3)),
    "gru_cell": lambda torch: _rnn(torch, lambda nn: nn.GRUCell(3, 4), 2, 3),
    "gru_cell_hidden": lambda torch: (
        _rnn(torch, lambda nn: nn.GRUCell(3, 2), 2, 3, h0=lambda t: torch.full((2, 2), 0.5))),
    "lstm": lambda torch: _rnn(torch, lambda nn: nn.LSTM(3, 4), 5, 2, 3),
    "lstm_two_layers": lambda torch: _rnn(torch, lambda nn: nn.LSTM(3, 2, num_layers=2), 4, 2, 3),
    "lstm_bidirectional": lambda torch: (
        _rnn(torch, lambda nn: nn.LSTM(3, 2, bidirectional=True), 4, 1, 3)),
    "lstm_cell": lambda torch: _rnn(torch, lambda nn: nn.LSTMCell(3, 2), 2, 3),
    "lstm_param_names": lambda torch: (
        [n for n, _ in torch.nn.LSTM(2, 3, num_layers=2).named_parameters()]),
    "gru_param_shapes": lambda torch: [p.shape for p in torch.nn.GRU(2, 3).parameters()],
})


@probe("rnn")
def lstm_hidden_detach_idiom(torch):
    # word_language_model: repackage_hidden between batches.
    torch.manual_seed(0)
    lstm = fill(torch, torch.nn.LSTM(2, 3), scale=0.3)
    hidden = (torch.zeros(1, 1, 3), torch.zeros(1, 1, 3))
    for step in range(2):
        x = torch.tensor(arr(4, 1, 2, seed=step))
        hidden = tuple(h.detach() for h in hidden)
        out, hidden = lstm(x, hidden)
    return out, hidden[0].requires_grad, hidden[1]


@probe("rnn")
def pad_sequence(torch):
    from importlib import import_module
    rnn = import_module(f"{torch.__name__}.nn.utils.rnn")
    seqs = [torch.tensor([1, 2, 3]), torch.tensor([4]), torch.tensor([5, 6])]
    return rnn.pad_sequence(seqs, batch_first=True), rnn.pad_sequence(seqs, padding_value=-1)


@probe("rnn")
def pack_padded_sequence_lstm(torch):
    from importlib import import_module
    rnn = import_module(f"{torch.__name__}.nn.utils.rnn")
    torch.manual_seed(0)
    lstm = fill(torch, torch.nn.LSTM(2, 3, batch_first=True), scale=0.3)
    x = torch.tensor(arr(2, 3, 2))
    packed = rnn.pack_padded_sequence(x, torch.tensor([3, 2]), batch_first=True)
    out, (h, _) = lstm(packed)
    padded, lengths = rnn.pad_packed_sequence(out, batch_first=True)
    return padded, lengths, h


@probe("layer")
def multihead_attention(torch):
    torch.manual_seed(0)
    mha = fill(torch, torch.nn.MultiheadAttention(4, 2, batch_first=True), scale=0.3)
    x = torch.tensor(arr(1, 3, 4))
    out, weights = mha(x, x, x)
    return out, weights


@probe("layer")
def sequential_cnn(torch):
    torch.manual_seed(0)
    nn = torch.nn
    net = fill(torch, nn.Sequential(nn.Conv2d(1, 2, 3, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                                    nn.Flatten(), nn.Linear(2 * 2 * 2, 3), nn.LogSoftmax(dim=1)))
    net.eval()
    x = torch.tensor(arr(2, 1, 6, 6))
    return net(x)


def _dropout_train(torch, make, *shape):
    """Training-mode dropout: which values occur, and whether masks are per element or per channel."""
    torch.manual_seed(0)
    m = make(torch.nn)
    y = m(torch.ones(*shape))
    values = sorted(set(round(v, 4) for v in y.flatten().tolist()))
    per_channel = y.flatten(2).std(-1).max().item() == 0 if y.dim() > 2 else None
    return values, per_channel, y.shape


def _dropout_grad_is_mask(torch):
    x = torch.ones(100, requires_grad=True)
    y = torch.nn.Dropout(0.5)(x)
    y.sum().backward()
    return torch.equal(x.grad, y.detach())


probes("dropout", {
    "dropout_values": lambda torch: _dropout_train(torch, lambda nn: nn.Dropout(0.5), 50, 8),
    "dropout_rate": lambda torch: (
        round((torch.nn.Dropout(0.3)(torch.ones(20000)) == 0).float().mean().item(), 1)),
    "dropout1d_channels": lambda torch: (
        _dropout_train(torch, lambda nn: nn.Dropout1d(0.5), 8, 16, 5)),
    "dropout2d_channels": lambda torch: (
        _dropout_train(torch, lambda nn: nn.Dropout2d(0.5), 4, 16, 3, 3)),
    "dropout_grad_matches_mask": lambda torch: (
        _dropout_grad_is_mask(torch)),
    "dropout_inplace_flag": lambda torch: torch.nn.Dropout(0.1, inplace=True).inplace,
    "alpha_dropout_eval": lambda torch: torch.nn.AlphaDropout(0.2).eval()(torch.ones(3)),
    "functional_dropout2d_eval": lambda torch: (
        torch.nn.functional.dropout2d(torch.ones(1, 2, 2, 2), 0.5, training=False)),
})


def _layer64(torch, make, *shape):
    """Like _layer, with the module and the input in float64."""
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn)).double()
    x = torch.tensor(arr(*shape).astype("float64"), requires_grad=True)
    y = m(x)
    _weighted_sum(torch, y).backward()
    return y, x.grad, [(n, p.grad) for n, p in m.named_parameters()]


probes("float64", {
    "linear": lambda torch: _layer64(torch, lambda nn: nn.Linear(3, 2), 4, 3),
    "conv2d": lambda torch: _layer64(torch, lambda nn: nn.Conv2d(1, 2, 3, padding=1), 1, 1, 4, 4),
    "batchnorm2d": lambda torch: _layer64(torch, lambda nn: nn.BatchNorm2d(2), 2, 2, 3, 3),
    "layernorm": lambda torch: _layer64(torch, lambda nn: nn.LayerNorm(4), 3, 4),
    "mlp_gelu": lambda torch: (
        _layer64(torch, lambda nn: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)), 2, 3)),
    "lstm": lambda torch: _layer64(torch, lambda nn: _LastOutput(nn, nn.LSTM(3, 2)), 4, 1, 3),
    "softmax_log_softmax": lambda torch: _layer64(torch, lambda nn: nn.LogSoftmax(dim=1), 3, 4),
    "max_pool": lambda torch: _layer64(torch, lambda nn: nn.MaxPool2d(2), 1, 1, 4, 4),
    "cross_entropy_dtype": lambda torch: (
        torch.nn.functional.cross_entropy(torch.zeros(2, 3, dtype=torch.float64), torch.tensor([0, 1]))),
    "mse_dtype": lambda torch: (
        torch.nn.functional.mse_loss(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))),
    "sgd_keeps_dtype": lambda torch: _sgd64(torch),
})


def _LastOutput(nn, rnn):
    """A module returning only the output sequence of a recurrent layer."""
    class Last(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0]
    return Last()


def _sgd64(torch):
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    return p


probes("layer_options", {
    "conv2d_padding_reflect": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), 1, 1, 4, 4)),
    "conv2d_padding_circular": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"), 1, 1, 4, 4)),
    "conv2d_padding_same_even_kernel": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(1, 1, 2, padding="same"), 1, 1, 4, 4)),
    "conv2d_tuple_stride_padding": lambda torch: (
        _layer(torch, lambda nn: nn.Conv2d(1, 2, (3, 2), stride=(2, 1), padding=(1, 0)), 1, 1, 5, 4)),
    "max_pool2d_dilation": lambda torch: _layer(torch, lambda nn: nn.MaxPool2d(2, dilation=2), 1, 1, 5, 5),
    "avg_pool2d_exclude_pad": lambda torch: (
        _layer(torch, lambda nn: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), 1, 1, 5, 5)),
    "avg_pool2d_ceil": lambda torch: _layer(torch, lambda nn: nn.AvgPool2d(2, ceil_mode=True), 1, 1, 5, 5),
    "batchnorm_momentum_none": lambda torch: _bn_stats(torch, momentum=None),
    "batchnorm_momentum_custom": lambda torch: _bn_stats(torch, momentum=0.5),
    "batchnorm_no_running_stats": lambda torch: (
        _layer(torch, lambda nn: nn.BatchNorm1d(3, track_running_stats=False), 4, 3, train=False)),
    "batchnorm_eval_after_train": lambda torch: _bn_eval_after_train(torch),
    "layernorm_eps": lambda torch: _layer(torch, lambda nn: nn.LayerNorm(3, eps=0.1), 2, 3),
    "layernorm_no_bias": lambda torch: _layer(torch, lambda nn: nn.LayerNorm(3, bias=False), 2, 3),
    "groupnorm_no_affine": lambda torch: _layer(torch, lambda nn: nn.GroupNorm(2, 4, affine=False), 2, 4, 3),
    "gru_bidirectional_two_layers": lambda torch: (
        _rnn(torch, lambda nn: nn.GRU(3, 2, num_layers=2, bidirectional=True), 3, 2, 3)),
    "rnn_dropout_eval": lambda torch: _rnn_eval(torch),
    "linear_bias_false_param_names": lambda torch: (
        [n for n, _ in torch.nn.Linear(2, 2, bias=False).named_parameters()]),
    "embedding_max_norm": lambda torch: _emb(torch, lambda nn: nn.Embedding(4, 3, max_norm=0.5), [0, 2]),
})


def _bn_stats(torch, momentum):
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm1d(2, momentum=momentum)
    for seed in range(3):
        bn(torch.tensor(arr(5, 2, seed=seed)))
    return bn.running_mean, bn.running_var, bn.num_batches_tracked


def _bn_eval_after_train(torch):
    bn = torch.nn.BatchNorm1d(2)
    bn(torch.tensor(arr(6, 2)))
    bn.eval()
    return bn(torch.tensor(arr(3, 2, seed=1)))


def _rnn_eval(torch):
    torch.manual_seed(0)
    m = fill(torch, torch.nn.LSTM(3, 2, num_layers=2, dropout=0.5), scale=0.3)
    m.eval()
    out, (h, c) = m(torch.tensor(arr(4, 1, 3)))
    return out, h, c

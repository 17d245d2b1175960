"""Probes: layer options a second time round — padding modes, 'same' padding with dilation, groups,
transposed-convolution output shapes, pooling options, normalisation running statistics, embedding
options, recurrent layers with projections and initial states, transformer and attention masks,
upsampling modes. Forward outputs and input/parameter gradients, from the same parameter values."""

from tests.probes.harness import arr, fill, probe, probes, raised


def _tensors(obj):
    if isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors(o)
    elif hasattr(obj, "requires_grad") and hasattr(obj, "is_floating_point"):
        yield obj


def _ws(torch, y):
    return (y * torch.linspace(-1.0, 1.0, y.numel()).view(y.shape)).sum()


def _run(torch, make, *shapes, call=None, train=True, scale=0.5, extra=None):
    """Filled module on fixed inputs: output, input grads and parameter grads."""
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn), scale=scale)
    m.train(train)
    xs = [torch.tensor(arr(*s, seed=i + 1), requires_grad=True) for i, s in enumerate(shapes)]
    y = call(torch, m, *xs) if call else m(*xs)
    loss = None
    for t in _tensors(y):
        if t.requires_grad and t.is_floating_point():
            part = _ws(torch, t)
            loss = part if loss is None else loss + part
    if loss is not None:
        loss.backward()
    out = [y, [x.grad for x in xs], [(n, p.grad) for n, p in m.named_parameters()]]
    if extra:
        out.append(extra(m))
    return out


L = _run


def bundled(area, table, groups, **kw):
    """Register `table`, with the members of each group merged into one probe returning
    {member: result} (so a difference still names its member)."""
    table = dict(table)
    for group, members in groups.items():
        funcs = {m: table.pop(m) for m in members}
        table[group] = lambda t, funcs=funcs: {m: f(t) for m, f in funcs.items()}
    probes(area, table, **kw)

# ---- convolutions ----
bundled("layers2_conv", {
    "conv1d_reflect": lambda t: L(t, lambda nn: nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 2, 6)),
    "conv1d_replicate": lambda t: L(t, lambda nn: nn.Conv1d(2, 3, 3, padding=1, padding_mode="replicate"), (2, 2, 6)),
    "conv1d_circular": lambda t: L(t, lambda nn: nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular"), (2, 2, 6)),
    "conv1d_reflect_pad2": lambda t: L(t, lambda nn: nn.Conv1d(1, 2, 5, padding=2, padding_mode="reflect"), (1, 1, 5)),
    "conv1d_circular_stride": lambda t: L(t, lambda nn: nn.Conv1d(1, 2, 3, stride=2, padding=2, padding_mode="circular"), (1, 1, 7)),
    "conv2d_reflect": lambda t: L(t, lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (1, 2, 5, 5)),
    "conv2d_replicate": lambda t: L(t, lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"), (1, 2, 5, 5)),
    "conv2d_circular": lambda t: L(t, lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), (1, 2, 5, 5)),
    "conv2d_replicate_tuple_pad": lambda t: L(t, lambda nn: nn.Conv2d(1, 2, (3, 5), padding=(1, 2), padding_mode="replicate"), (1, 1, 4, 6)),
    "conv2d_reflect_stride2": lambda t: L(t, lambda nn: nn.Conv2d(1, 2, 3, stride=2, padding=1, padding_mode="reflect"), (2, 1, 6, 6)),
    "conv2d_circular_pad2": lambda t: L(t, lambda nn: nn.Conv2d(1, 1, 3, padding=2, padding_mode="circular"), (1, 1, 4, 4)),
    "conv2d_zeros_unbatched_reflect": lambda t: L(t, lambda nn: nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), (1, 4, 4)),
    "conv1d_same_dilation": lambda t: L(t, lambda nn: nn.Conv1d(2, 2, 3, padding="same", dilation=2), (1, 2, 7)),
    "conv1d_same_even_kernel": lambda t: L(t, lambda nn: nn.Conv1d(1, 2, 4, padding="same"), (1, 1, 6)),
    "conv2d_same_dilation": lambda t: L(t, lambda nn: nn.Conv2d(2, 2, 3, padding="same", dilation=2), (1, 2, 6, 6)),
    "conv2d_same_even_dilation": lambda t: L(t, lambda nn: nn.Conv2d(1, 1, 4, padding="same", dilation=3), (1, 1, 7, 7)),
    "conv2d_same_rect_dilation": lambda t: L(t, lambda nn: nn.Conv2d(1, 2, (2, 3), padding="same", dilation=(2, 1)), (1, 1, 5, 6)),
    "conv2d_same_reflect": lambda t: L(t, lambda nn: nn.Conv2d(1, 2, 3, padding="same", padding_mode="reflect"), (1, 1, 5, 5)),
    "conv2d_same_circular_even": lambda t: L(t, lambda nn: nn.Conv2d(1, 1, 4, padding="same", padding_mode="circular"), (1, 1, 5, 5)),
    "conv2d_valid_string": lambda t: L(t, lambda nn: nn.Conv2d(1, 1, 3, padding="valid"), (1, 1, 5, 5)),
    "conv2d_depthwise": lambda t: L(t, lambda nn: nn.Conv2d(3, 3, 3, groups=3, padding=1), (2, 3, 4, 4)),
    "conv2d_depthwise_multiplier": lambda t: L(t, lambda nn: nn.Conv2d(2, 6, 3, groups=2), (1, 2, 5, 5)),
    "conv2d_depthwise_same_dilation": lambda t: L(t, lambda nn: nn.Conv2d(2, 2, 3, groups=2, padding="same", dilation=2, bias=False), (1, 2, 6, 6)),
    "conv1d_groups": lambda t: L(t, lambda nn: nn.Conv1d(4, 6, 3, groups=2), (2, 4, 6)),
    "conv1d_depthwise": lambda t: L(t, lambda nn: nn.Conv1d(3, 3, 3, groups=3, padding=1, bias=False), (2, 3, 5)),
    "conv2d_groups_no_bias": lambda t: L(t, lambda nn: nn.Conv2d(4, 2, 3, groups=2, bias=False), (1, 4, 5, 5)),
    "conv1d_no_bias": lambda t: L(t, lambda nn: nn.Conv1d(2, 3, 2, bias=False), (2, 2, 5)),
    "conv2d_groups_stride_dilation": lambda t: L(t, lambda nn: nn.Conv2d(4, 4, 3, stride=2, dilation=2, groups=4, padding=2), (1, 4, 7, 7)),
    "conv2d_groups_replicate": lambda t: L(t, lambda nn: nn.Conv2d(4, 4, 3, groups=2, padding=1, padding_mode="replicate"), (1, 4, 4, 4)),
    "conv3d_small": lambda t: L(t, lambda nn: nn.Conv3d(1, 2, 2, padding=1, bias=False), (1, 1, 3, 3, 3)),
    "conv3d_replicate": lambda t: L(t, lambda nn: nn.Conv3d(1, 1, 3, padding=1, padding_mode="replicate"), (1, 1, 3, 3, 3)),
}, {
    "padding_modes_1d": ["conv1d_reflect", "conv1d_replicate", "conv1d_circular", "conv1d_reflect_pad2",
                         "conv1d_circular_stride"],
    "padding_modes_2d": ["conv2d_reflect", "conv2d_replicate", "conv2d_circular", "conv2d_replicate_tuple_pad",
                         "conv2d_reflect_stride2", "conv2d_circular_pad2", "conv2d_zeros_unbatched_reflect"],
    "same_padding": ["conv1d_same_dilation", "conv1d_same_even_kernel", "conv2d_same_dilation",
                     "conv2d_same_even_dilation", "conv2d_same_rect_dilation", "conv2d_same_reflect",
                     "conv2d_same_circular_even", "conv2d_valid_string"],
    "groups_and_bias": ["conv2d_depthwise", "conv2d_depthwise_multiplier", "conv2d_depthwise_same_dilation",
                        "conv1d_groups", "conv1d_depthwise", "conv2d_groups_no_bias", "conv1d_no_bias",
                        "conv2d_groups_stride_dilation", "conv2d_groups_replicate"],
})

bundled("layers2_convt", {
    "ct2d_output_padding": lambda t: L(t, lambda nn: nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1), (1, 2, 3, 3)),
    "ct2d_groups": lambda t: L(t, lambda nn: nn.ConvTranspose2d(4, 2, 3, groups=2), (1, 4, 3, 3)),
    "ct2d_groups_mult": lambda t: L(t, lambda nn: nn.ConvTranspose2d(2, 4, 2, stride=2, groups=2, bias=False), (2, 2, 3, 3)),
    "ct2d_dilation": lambda t: L(t, lambda nn: nn.ConvTranspose2d(2, 1, 3, dilation=2), (1, 2, 3, 3)),
    "ct2d_dilation_stride_pad": lambda t: L(t, lambda nn: nn.ConvTranspose2d(1, 2, 3, stride=2, padding=2, dilation=2, output_padding=1), (1, 1, 4, 4)),
    "ct2d_depthwise_outpad": lambda t: L(t, lambda nn: nn.ConvTranspose2d(3, 3, 3, stride=2, groups=3, output_padding=1), (1, 3, 2, 2)),
    "ct2d_no_bias": lambda t: L(t, lambda nn: nn.ConvTranspose2d(2, 3, 2, bias=False), (1, 2, 3, 3)),
    "ct2d_output_size": lambda t: L(t, lambda nn: nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1), (1, 1, 3, 3),
                                    call=lambda torch, m, x: m(x, output_size=[6, 6])),
    "ct2d_rect": lambda t: L(t, lambda nn: nn.ConvTranspose2d(1, 2, (2, 3), stride=(2, 1), padding=(1, 0)), (1, 1, 3, 4)),
    "ct1d_output_padding_dilation": lambda t: L(t, lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=3, dilation=2, output_padding=2), (1, 2, 4)),
    "ct1d_groups": lambda t: L(t, lambda nn: nn.ConvTranspose1d(4, 4, 3, groups=4, padding=1), (2, 4, 5)),
    "ct2d_unbatched": lambda t: L(t, lambda nn: nn.ConvTranspose2d(2, 1, 3, stride=2, output_padding=1), (2, 3, 3)),
    "ct3d_small": lambda t: L(t, lambda nn: nn.ConvTranspose3d(1, 1, 2, stride=2), (1, 1, 2, 2, 2)),
    "ct2d_bad_output_padding": lambda t: raised(lambda: t.nn.ConvTranspose2d(1, 1, 3, stride=1, output_padding=1)(t.ones(1, 1, 3, 3))),
}, {
    "conv_transpose_options": ["ct2d_output_padding", "ct2d_groups", "ct2d_groups_mult", "ct2d_dilation",
                               "ct2d_dilation_stride_pad", "ct2d_depthwise_outpad", "ct2d_no_bias", "ct2d_output_size",
                               "ct2d_rect", "ct1d_output_padding_dilation", "ct1d_groups", "ct2d_unbatched"],
})

# ---- pooling ----
bundled("layers2_pool", {
    "max_pool2d_dilation_ceil": lambda t: L(t, lambda nn: nn.MaxPool2d(2, stride=2, dilation=2, ceil_mode=True), (1, 1, 7, 7)),
    "max_pool2d_return_indices": lambda t: L(t, lambda nn: nn.MaxPool2d(2, return_indices=True), (1, 2, 4, 4)),
    "max_pool2d_return_indices_pad": lambda t: L(t, lambda nn: nn.MaxPool2d(3, 2, 1, return_indices=True), (1, 1, 5, 5)),
    "max_pool2d_ceil_pad": lambda t: L(t, lambda nn: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 1, 6, 6)),
    "max_pool2d_indices_dilation": lambda t: L(t, lambda nn: nn.MaxPool2d(2, stride=1, dilation=2, return_indices=True), (1, 1, 5, 5)),
    "max_pool2d_rect": lambda t: L(t, lambda nn: nn.MaxPool2d((2, 3), stride=(1, 2)), (1, 1, 4, 7)),
    "max_pool1d_indices_dilation": lambda t: L(t, lambda nn: nn.MaxPool1d(2, stride=2, dilation=2, return_indices=True, ceil_mode=True), (1, 2, 8)),
    "max_pool2d_unbatched_indices": lambda t: L(t, lambda nn: nn.MaxPool2d(2, return_indices=True), (2, 4, 4)),
    "avg_pool2d_no_count_pad": lambda t: L(t, lambda nn: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 1, 5, 5)),
    "avg_pool2d_divisor_override": lambda t: L(t, lambda nn: nn.AvgPool2d(2, divisor_override=3), (1, 2, 4, 4)),
    "avg_pool2d_divisor_override_pad": lambda t: L(t, lambda nn: nn.AvgPool2d(3, 1, 1, divisor_override=2), (1, 1, 4, 4)),
    "avg_pool2d_ceil_no_count_pad": lambda t: L(t, lambda nn: nn.AvgPool2d(2, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (1, 1, 5, 5)),
    "avg_pool2d_ceil_count_pad": lambda t: L(t, lambda nn: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 1, 6, 6)),
    "avg_pool1d_no_count_pad": lambda t: L(t, lambda nn: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (1, 2, 6)),
    "avg_pool1d_ceil": lambda t: L(t, lambda nn: nn.AvgPool1d(2, ceil_mode=True), (1, 1, 5)),
    "adaptive_avg_none_h": lambda t: L(t, lambda nn: nn.AdaptiveAvgPool2d((None, 2)), (1, 2, 3, 5)),
    "adaptive_avg_none_w": lambda t: L(t, lambda nn: nn.AdaptiveAvgPool2d((3, None)), (1, 1, 7, 4)),
    "adaptive_avg_uneven": lambda t: L(t, lambda nn: nn.AdaptiveAvgPool2d((3, 3)), (1, 1, 5, 7)),
    "adaptive_avg_unbatched": lambda t: L(t, lambda nn: nn.AdaptiveAvgPool2d(2), (2, 5, 5)),
    "adaptive_avg1d_uneven": lambda t: L(t, lambda nn: nn.AdaptiveAvgPool1d(3), (2, 2, 7)),
    "adaptive_max_none": lambda t: L(t, lambda nn: nn.AdaptiveMaxPool2d((2, None)), (1, 1, 5, 3)),
    "adaptive_max_indices": lambda t: L(t, lambda nn: nn.AdaptiveMaxPool2d(2, return_indices=True), (1, 1, 5, 5)),
    "adaptive_max1d_uneven": lambda t: L(t, lambda nn: nn.AdaptiveMaxPool1d(3), (1, 2, 7)),
    "max_unpool2d": lambda t: L(t, lambda nn: nn.MaxUnpool2d(2), (1, 1, 4, 4),
                                call=lambda torch, m, x: m(*torch.nn.MaxPool2d(2, return_indices=True)(x))),
    "lp_pool2d": lambda t: L(t, lambda nn: nn.LPPool2d(2, 2), (1, 1, 4, 4)),
}, {
    "max_pool_options": ["max_pool2d_dilation_ceil", "max_pool2d_return_indices", "max_pool2d_return_indices_pad",
                         "max_pool2d_ceil_pad", "max_pool2d_indices_dilation", "max_pool2d_rect",
                         "max_pool1d_indices_dilation", "max_pool2d_unbatched_indices"],
    "avg_pool_options": ["avg_pool2d_no_count_pad", "avg_pool2d_divisor_override", "avg_pool2d_divisor_override_pad",
                         "avg_pool2d_ceil_no_count_pad", "avg_pool2d_ceil_count_pad", "avg_pool1d_no_count_pad",
                         "avg_pool1d_ceil"],
    "adaptive_pool_options": ["adaptive_avg_none_h", "adaptive_avg_none_w", "adaptive_avg_uneven",
                              "adaptive_avg_unbatched", "adaptive_avg1d_uneven", "adaptive_max_none",
                              "adaptive_max_indices", "adaptive_max1d_uneven"],
})


@probe("layers2_pool")
def max_pool2d_ties_grad(torch):
    x = torch.ones(1, 1, 4, 4, requires_grad=True)
    y, idx = torch.nn.MaxPool2d(3, stride=1, return_indices=True)(x)
    y.sum().backward()
    return y, idx, x.grad


# ---- normalisation ----
def _bn_steps(torch, make, shape, steps=3, eval_after=True):
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn))
    m.train()
    for s in range(steps):
        m(torch.tensor(arr(*shape, seed=10 + s)))
    bufs = [(n, b) for n, b in m.named_buffers()]
    m.train(not eval_after)
    x = torch.tensor(arr(*shape, seed=99), requires_grad=True)
    y = m(x)
    _ws(torch, y).backward()
    return y, x.grad, [(n, p.grad) for n, p in m.named_parameters()], bufs, m.running_mean is None


bundled("layers2_norm", {
    "bn1d_momentum_none_steps": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm1d(3, momentum=None), (4, 3)),
    "bn2d_momentum_none_steps": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm2d(2, momentum=None), (2, 2, 3, 3)),
    "bn2d_affine_false_steps": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm2d(2, affine=False), (2, 2, 3, 3)),
    "bn1d_3d_steps": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm1d(2, momentum=0.3), (3, 2, 4)),
    "bn2d_no_track_eval": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm2d(2, track_running_stats=False), (2, 2, 3, 3)),
    "bn1d_no_track_affine_false": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm1d(3, affine=False, track_running_stats=False), (5, 3)),
    "bn2d_train_after_steps": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm2d(2), (2, 2, 3, 3), eval_after=False),
    "bn2d_eps_large_eval": lambda t: _bn_steps(t, lambda nn: nn.BatchNorm2d(2, eps=0.5), (2, 2, 2, 2)),
    "bn_state_dict_keys": lambda t: [(k, v.dtype, tuple(v.shape)) for k, v in t.nn.BatchNorm1d(2).state_dict().items()],
    "bn_no_track_state_dict_keys": lambda t: list(t.nn.BatchNorm1d(2, track_running_stats=False).state_dict().keys()),
    "bn1d_batch1_train_raises": lambda t: raised(lambda: t.nn.BatchNorm1d(3)(t.ones(1, 3))),
    "bn1d_batch1_eval_ok": lambda t: t.nn.BatchNorm1d(3).eval()(t.ones(1, 3)),
    "gn_no_affine_4d": lambda t: L(t, lambda nn: nn.GroupNorm(2, 4, affine=False), (2, 4, 3, 3)),
    "gn_one_group": lambda t: L(t, lambda nn: nn.GroupNorm(1, 4), (2, 4, 3)),
    "gn_groups_eq_channels": lambda t: L(t, lambda nn: nn.GroupNorm(4, 4, eps=0.1), (2, 4, 5)),
    "gn_2d_input": lambda t: L(t, lambda nn: nn.GroupNorm(2, 4), (3, 4)),
    "gn_bad_groups_raises": lambda t: raised(lambda: t.nn.GroupNorm(3, 4)),
    "ln_no_affine_2d": lambda t: L(t, lambda nn: nn.LayerNorm([2, 3], elementwise_affine=False), (2, 2, 3)),
    "ln_bias_false": lambda t: L(t, lambda nn: nn.LayerNorm(4, bias=False), (3, 4)),
    "ln_bias_false_2d_eps": lambda t: L(t, lambda nn: nn.LayerNorm((2, 3), bias=False, eps=0.1), (2, 2, 3)),
    "ln_no_affine_params": lambda t: (list(t.nn.LayerNorm(3, elementwise_affine=False).state_dict()),
                                      t.nn.LayerNorm(3, elementwise_affine=False).weight),
    "instancenorm1d_affine": lambda t: L(t, lambda nn: nn.InstanceNorm1d(3, affine=True), (2, 3, 5)),
    "instancenorm2d_track_eval": lambda t: _bn_steps(t, lambda nn: nn.InstanceNorm2d(2, track_running_stats=True), (2, 2, 3, 3)),
    "rmsnorm": lambda t: L(t, lambda nn: nn.RMSNorm(4), (3, 4)),
    "rmsnorm_no_affine_eps": lambda t: L(t, lambda nn: nn.RMSNorm([2, 3], eps=0.1, elementwise_affine=False), (2, 2, 3)),
    "local_response_norm": lambda t: L(t, lambda nn: nn.LocalResponseNorm(2), (1, 4, 3, 3)),
}, {
    "groupnorm_options": ["gn_no_affine_4d", "gn_one_group", "gn_groups_eq_channels", "gn_2d_input"],
})


# ---- embeddings ----
def _emb(torch, make, idx, extra=False):
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn), scale=1.0)
    i = torch.tensor(idx)
    y = m(i)
    _ws(torch, y).backward()
    return y, m.weight.grad, (m.weight.detach().clone() if extra else None)


probes("layers2_emb", {
    "emb_padding_idx_grad": lambda t: _emb(t, lambda nn: nn.Embedding(5, 3, padding_idx=1), [[0, 1, 2], [1, 1, 4]]),
    "emb_padding_idx_negative": lambda t: _emb(t, lambda nn: nn.Embedding(5, 3, padding_idx=-1), [0, 4, 4, 2]),
    "emb_max_norm_l2": lambda t: _emb(t, lambda nn: nn.Embedding(5, 3, max_norm=0.5), [0, 2, 2, 3], extra=True),
    "emb_max_norm_l1": lambda t: _emb(t, lambda nn: nn.Embedding(5, 3, max_norm=0.8, norm_type=1.0), [[4, 1], [1, 0]], extra=True),
    "emb_scale_grad_by_freq": lambda t: _emb(t, lambda nn: nn.Embedding(5, 2, scale_grad_by_freq=True), [0, 0, 0, 3, 3, 1]),
    "emb_scale_freq_padding": lambda t: _emb(t, lambda nn: nn.Embedding(5, 2, scale_grad_by_freq=True, padding_idx=0), [[0, 2, 2], [0, 4, 2]]),
    "emb_padding_idx_out_of_range_raises": lambda t: raised(lambda: t.nn.Embedding(5, 2, padding_idx=5)),
    "emb_index_out_of_range_raises": lambda t: raised(lambda: t.nn.Embedding(3, 2)(t.tensor([3]))),
    "emb_from_pretrained_padding": lambda t: _emb(t, lambda nn: nn.Embedding.from_pretrained(t.arange(12.0).view(4, 3), freeze=False, padding_idx=2), [2, 3, 2]),
    "emb_functional_padding": lambda t: t.nn.functional.embedding(t.tensor([0, 2, 1]), t.arange(9.0).view(3, 3), padding_idx=1),
    "embbag_sum_offsets": lambda t: _bag(t, dict(mode="sum"), [1, 2, 4, 5, 4, 3], [0, 2]),
    "embbag_max_offsets": lambda t: _bag(t, dict(mode="max"), [1, 2, 4, 5, 4, 3], [0, 3]),
    "embbag_per_sample_weights": lambda t: _bag(t, dict(mode="sum"), [1, 2, 4, 5], [0, 1], psw=[0.5, 2.0, -1.0, 1.0]),
    "embbag_padding_idx_mean": lambda t: _bag(t, dict(mode="mean", padding_idx=2), [1, 2, 2, 5], [0, 2]),
})


def _bag(torch, kw, idx, offsets, psw=None):
    torch.manual_seed(0)
    m = fill(torch, torch.nn.EmbeddingBag(6, 2, **kw), scale=1.0)
    y = m(torch.tensor(idx), torch.tensor(offsets),
          per_sample_weights=None if psw is None else torch.tensor(psw))
    _ws(torch, y).backward()
    return y, m.weight.grad


# ---- recurrent ----
def _h(torch, *shape, seed=50):
    return torch.tensor(arr(*shape, seed=seed, low=-0.5, high=0.5), requires_grad=True)


def _rnn(torch, make, x_shape, state=None):
    torch.manual_seed(0)
    m = fill(torch, make(torch.nn), scale=0.4)
    x = torch.tensor(arr(*x_shape, seed=3), requires_grad=True)
    st = state(torch) if state else None
    out = m(x) if st is None else m(x, st)
    loss = None
    for t in _tensors(out):
        part = _ws(torch, t)
        loss = part if loss is None else loss + part
    loss.backward()
    sg = [s.grad for s in _tensors(st)] if st is not None else None
    return out, x.grad, sg, [(n, p.grad) for n, p in m.named_parameters()]


probes("layers2_rnn", {
    "lstm_proj": lambda t: _rnn(t, lambda nn: nn.LSTM(3, 4, proj_size=2), (5, 2, 3)),
    "lstm_proj_h0c0": lambda t: _rnn(t, lambda nn: nn.LSTM(3, 4, proj_size=2), (4, 2, 3),
                                     lambda torch: (_h(torch, 1, 2, 2), _h(torch, 1, 2, 4, seed=51))),
    "lstm_proj_bidir_2layer_bf": lambda t: _rnn(t, lambda nn: nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True, batch_first=True), (2, 4, 3)),
    "lstm_2layer_bidir_bf_h0c0": lambda t: _rnn(t, lambda nn: nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True, dropout=0.0), (2, 4, 2),
                                                lambda torch: (_h(torch, 4, 2, 3), _h(torch, 4, 2, 3, seed=51))),
    "lstm_h0c0": lambda t: _rnn(t, lambda nn: nn.LSTM(2, 3), (4, 1, 2), lambda torch: (_h(torch, 1, 1, 3), _h(torch, 1, 1, 3, seed=51))),
    "lstm_unbatched": lambda t: _rnn(t, lambda nn: nn.LSTM(2, 3, num_layers=2), (4, 2)),
    "lstm_unbatched_h0c0": lambda t: _rnn(t, lambda nn: nn.LSTM(2, 3), (4, 2), lambda torch: (_h(torch, 1, 3), _h(torch, 1, 3, seed=51))),
    "lstm_no_bias": lambda t: _rnn(t, lambda nn: nn.LSTM(2, 3, bias=False), (3, 2, 2)),
    "lstm_proj_param_shapes": lambda t: [(n, tuple(p.shape)) for n, p in t.nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True).named_parameters()],
    "lstm_proj_too_big_raises": lambda t: raised(lambda: t.nn.LSTM(3, 4, proj_size=4)),
    "gru_h0": lambda t: _rnn(t, lambda nn: nn.GRU(2, 3), (4, 2, 2), lambda torch: _h(torch, 1, 2, 3)),
    "gru_2layer_bidir_bf_h0": lambda t: _rnn(t, lambda nn: nn.GRU(2, 3, num_layers=2, bidirectional=True, batch_first=True), (2, 3, 2),
                                             lambda torch: _h(torch, 4, 2, 3)),
    "gru_unbatched_h0": lambda t: _rnn(t, lambda nn: nn.GRU(2, 3), (4, 2), lambda torch: _h(torch, 1, 3)),
    "gru_no_bias": lambda t: _rnn(t, lambda nn: nn.GRU(2, 3, bias=False), (3, 1, 2)),
    "rnn_relu_h0": lambda t: _rnn(t, lambda nn: nn.RNN(2, 3, nonlinearity="relu"), (4, 2, 2), lambda torch: _h(torch, 1, 2, 3)),
    "rnn_relu_bidir_bf": lambda t: _rnn(t, lambda nn: nn.RNN(2, 3, nonlinearity="relu", bidirectional=True, batch_first=True), (2, 4, 2)),
    "rnn_tanh_2layer_bidir_h0": lambda t: _rnn(t, lambda nn: nn.RNN(2, 3, num_layers=2, bidirectional=True), (3, 2, 2), lambda torch: _h(torch, 4, 2, 3)),
    "rnn_bad_nonlinearity_raises": lambda t: raised(lambda: t.nn.RNN(2, 3, nonlinearity="gelu")),
    "rnn_wrong_h0_shape_raises": lambda t: raised(lambda: t.nn.RNN(2, 3)(t.ones(4, 2, 2), t.zeros(1, 3, 3))),
    "lstm_cell_hc": lambda t: _rnn(t, lambda nn: nn.LSTMCell(3, 2), (2, 3), lambda torch: (_h(torch, 2, 2), _h(torch, 2, 2, seed=51))),
    "lstm_cell_unbatched": lambda t: _rnn(t, lambda nn: nn.LSTMCell(3, 2), (3,), lambda torch: (_h(torch, 2), _h(torch, 2, seed=51))),
    "lstm_cell_no_bias": lambda t: _rnn(t, lambda nn: nn.LSTMCell(3, 2, bias=False), (2, 3)),
    "gru_cell_h": lambda t: _rnn(t, lambda nn: nn.GRUCell(3, 2), (2, 3), lambda torch: _h(torch, 2, 2)),
    "gru_cell_unbatched": lambda t: _rnn(t, lambda nn: nn.GRUCell(3, 2), (3,)),
    "rnn_cell_relu_h": lambda t: _rnn(t, lambda nn: nn.RNNCell(3, 2, nonlinearity="relu"), (2, 3), lambda torch: _h(torch, 2, 2)),
})


@probe("layers2_rnn")
def lstm_cell_unroll(torch):
    torch.manual_seed(0)
    cell = fill(torch, torch.nn.LSTMCell(2, 3), scale=0.4)
    x = torch.tensor(arr(4, 2, 2, seed=3), requires_grad=True)
    h = c = torch.zeros(2, 3)
    outs = []
    for step in range(4):
        h, c = cell(x[step], (h, c))
        outs.append(h)
    y = torch.stack(outs)
    _ws(torch, y).backward()
    return y, c, x.grad, cell.weight_hh.grad


# ---- transformer / attention ----
def _enc(torch, kw, shape=(2, 4, 4), call=None):
    return L(torch, lambda nn: nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, **kw),
             shape, call=call, scale=0.4)


def _dec(torch, kw, call):
    return L(torch, lambda nn: nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, **kw),
             (2, 3, 4), (2, 4, 4), call=call, scale=0.4)


def _kpm(torch):
    return torch.tensor([[False, False, False, True], [False, False, True, True]])


def _causal(torch, n):
    return torch.nn.Transformer.generate_square_subsequent_mask(n)


probes("layers2_attn", {
    "enc_post_norm_relu": lambda t: _enc(t, {}),
    "enc_norm_first_gelu": lambda t: _enc(t, dict(norm_first=True, activation="gelu")),
    "enc_activation_callable": lambda t: _enc(t, dict(activation=t.nn.functional.gelu)),
    "enc_key_padding_mask": lambda t: _enc(t, {}, call=lambda torch, m, x: m(x, src_key_padding_mask=_kpm(torch))),
    "enc_causal": lambda t: _enc(t, dict(norm_first=True), call=lambda torch, m, x: m(x, src_mask=_causal(torch, 4), is_causal=True)),
    "enc_bool_src_mask": lambda t: _enc(t, {}, call=lambda torch, m, x: m(x, src_mask=torch.triu(torch.ones(4, 4, dtype=torch.bool), 1))),
    "enc_causal_and_padding": lambda t: _enc(t, {}, call=lambda torch, m, x: m(x, src_mask=_causal(torch, 4), src_key_padding_mask=_kpm(torch))),
    "enc_no_bias_ln_eps": lambda t: _enc(t, dict(bias=False, layer_norm_eps=0.1)),
    "enc_stack_norm": lambda t: L(t, lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 6, 0.0, batch_first=True), 2, norm=nn.LayerNorm(4), enable_nested_tensor=False),
                                  (2, 4, 4), scale=0.4),
    "enc_not_batch_first": lambda t: L(t, lambda nn: nn.TransformerEncoderLayer(4, 2, 6, 0.0), (3, 2, 4), scale=0.4),
    "dec_tgt_mask": lambda t: _dec(t, {}, lambda torch, m, x, mem: m(x, mem, tgt_mask=_causal(torch, 3))),
    "dec_tgt_causal_flag": lambda t: _dec(t, dict(norm_first=True), lambda torch, m, x, mem: m(x, mem, tgt_mask=_causal(torch, 3), tgt_is_causal=True)),
    "dec_memory_mask": lambda t: _dec(t, {}, lambda torch, m, x, mem: m(x, mem, memory_mask=torch.tensor([[0.0, -1.0, 0.0, 2.0]] * 3))),
    "dec_all_masks": lambda t: _dec(t, dict(activation="gelu"), lambda torch, m, x, mem: m(
        x, mem, tgt_mask=_causal(torch, 3), tgt_key_padding_mask=torch.tensor([[False, False, True], [False, False, False]]),
        memory_key_padding_mask=_kpm(torch))),
    "causal_mask_values": lambda t: _causal(t, 3),
    "mha_kdim_vdim": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True), (1, 3, 4), (1, 4, 3), (1, 4, 5),
                                 call=lambda torch, m, q, k, v: m(q, k, v)),
    "mha_kdim_param_names": lambda t: [(n, tuple(p.shape)) for n, p in t.nn.MultiheadAttention(4, 2, kdim=3, vdim=5).named_parameters()],
    "mha_add_bias_kv": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, add_bias_kv=True, batch_first=True), (2, 3, 4),
                                   call=lambda torch, m, x: m(x, x, x)),
    "mha_add_zero_attn": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, add_zero_attn=True, batch_first=True), (2, 3, 4),
                                     call=lambda torch, m, x: m(x, x, x)),
    "mha_key_padding_mask": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, batch_first=True), (2, 3, 4), (2, 4, 4),
                                        call=lambda torch, m, q, kv: m(q, kv, kv, key_padding_mask=_kpm(torch))),
    "mha_float_key_padding_mask": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, batch_first=True), (2, 3, 4), (2, 4, 4),
                                              call=lambda torch, m, q, kv: m(q, kv, kv, key_padding_mask=torch.tensor([[0.0, -1.0, 0.5, 0.0]] * 2))),
    "mha_no_average_weights": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, batch_first=True), (2, 3, 4),
                                          call=lambda torch, m, x: m(x, x, x, average_attn_weights=False)),
    "mha_need_weights_false": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, batch_first=True), (2, 3, 4),
                                          call=lambda torch, m, x: m(x, x, x, need_weights=False)),
    "mha_bool_attn_mask": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2), (3, 2, 4),
                                      call=lambda torch, m, x: m(x, x, x, attn_mask=torch.triu(torch.ones(3, 3, dtype=torch.bool), 1))),
    "mha_3d_attn_mask": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, batch_first=True), (2, 3, 4),
                                    call=lambda torch, m, x: m(x, x, x, attn_mask=torch.tensor(arr(4, 3, 3, seed=7)))),
    "mha_is_causal": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, batch_first=True), (2, 3, 4),
                                 call=lambda torch, m, x: m(x, x, x, attn_mask=_causal(torch, 3), is_causal=True)),
    "mha_no_bias": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2, bias=False, batch_first=True), (1, 3, 4),
                               call=lambda torch, m, x: m(x, x, x)),
    "mha_unbatched": lambda t: L(t, lambda nn: nn.MultiheadAttention(4, 2), (3, 4), (5, 4),
                                 call=lambda torch, m, q, kv: m(q, kv, kv, average_attn_weights=False)),
    "mha_bad_embed_raises": lambda t: raised(lambda: t.nn.MultiheadAttention(5, 2)),
}, atol=1e-4, rtol=1e-3)


# ---- resampling and shape layers ----
def _up(**kw):
    return lambda t: L(t, lambda nn: nn.Upsample(**kw), (1, 2, 3, 4))


probes("layers2_shape", {
    "up_bilinear_ac_true": _up(scale_factor=2, mode="bilinear", align_corners=True),
    "up_bilinear_ac_false": _up(scale_factor=2, mode="bilinear", align_corners=False),
    "up_bicubic_ac_true": _up(scale_factor=2, mode="bicubic", align_corners=True),
    "up_bicubic_ac_false": _up(scale_factor=2, mode="bicubic", align_corners=False),
    "up_bilinear_size": _up(size=(5, 7), mode="bilinear"),
    "up_bilinear_size_ac": _up(size=(5, 7), mode="bilinear", align_corners=True),
    "up_nearest_frac": _up(scale_factor=1.5, mode="nearest"),
    "up_nearest_exact": _up(scale_factor=1.5, mode="nearest-exact"),
    "up_bilinear_frac": _up(scale_factor=(1.5, 0.5), mode="bilinear"),
    "up_nearest_down": _up(size=(2, 3)),
    "up_linear_ac_true": lambda t: L(t, lambda nn: nn.Upsample(scale_factor=3, mode="linear", align_corners=True), (1, 2, 4)),
    "up_linear_ac_false": lambda t: L(t, lambda nn: nn.Upsample(size=7, mode="linear"), (1, 2, 4)),
    "up_trilinear": lambda t: L(t, lambda nn: nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False), (1, 1, 2, 2, 3)),
    "upsampling_bilinear2d": lambda t: L(t, lambda nn: nn.UpsamplingBilinear2d(scale_factor=2), (1, 1, 3, 3)),
    "upsampling_nearest2d": lambda t: L(t, lambda nn: nn.UpsamplingNearest2d(size=(4, 5)), (1, 1, 2, 3)),
    "interp_area": lambda t: L(t, lambda nn: nn.Identity(), (1, 1, 5, 6),
                               call=lambda torch, m, x: torch.nn.functional.interpolate(x, size=(2, 3), mode="area")),
    "up_align_corners_nearest_raises": lambda t: raised(lambda: t.nn.Upsample(scale_factor=2, mode="nearest", align_corners=True)(t.ones(1, 1, 2, 2))),
    "pixel_shuffle3": lambda t: L(t, lambda nn: nn.PixelShuffle(3), (1, 18, 2, 2)),
    "pixel_shuffle_unbatched": lambda t: L(t, lambda nn: nn.PixelShuffle(2), (8, 2, 3)),
    "pixel_unshuffle": lambda t: L(t, lambda nn: nn.PixelUnshuffle(2), (2, 1, 4, 6)),
    "pixel_shuffle_roundtrip": lambda t: t.nn.PixelUnshuffle(2)(t.nn.PixelShuffle(2)(t.arange(32.0).view(1, 8, 2, 2))),
    "pixel_shuffle_bad_raises": lambda t: raised(lambda: t.nn.PixelShuffle(2)(t.ones(1, 3, 2, 2))),
    "flatten_all": lambda t: L(t, lambda nn: nn.Flatten(0, -1), (2, 3, 4)),
    "flatten_start2": lambda t: L(t, lambda nn: nn.Flatten(start_dim=2), (2, 3, 2, 2)),
    "flatten_neg_dims": lambda t: L(t, lambda nn: nn.Flatten(-3, -2), (2, 3, 2, 2)),
    "unflatten_infer": lambda t: L(t, lambda nn: nn.Unflatten(1, (2, -1)), (2, 6)),
    "unflatten_neg_dim": lambda t: L(t, lambda nn: nn.Unflatten(-1, (3, 2)), (2, 2, 6)),
    "unflatten_bad_raises": lambda t: raised(lambda: t.nn.Unflatten(1, (4, 2))(t.ones(2, 6))),
    "bilinear_bias": lambda t: L(t, lambda nn: nn.Bilinear(3, 4, 2), (5, 3), (5, 4)),
    "bilinear_no_bias_batched": lambda t: L(t, lambda nn: nn.Bilinear(3, 4, 2, bias=False), (2, 5, 3), (2, 5, 4)),
    "bilinear_param_shapes": lambda t: [(n, tuple(p.shape)) for n, p in t.nn.Bilinear(3, 4, 2).named_parameters()],
    "identity_args": lambda t: L(t, lambda nn: nn.Identity(54, unused_argument1=0.1, unused_argument2=False), (2, 3)),
    "identity_is_same": lambda t: (lambda x: t.nn.Identity(3)(x) is x)(t.ones(2)),
    "reflection_pad2d": lambda t: L(t, lambda nn: nn.ReflectionPad2d((1, 2, 0, 1)), (1, 1, 3, 4)),
    "replication_pad1d": lambda t: L(t, lambda nn: nn.ReplicationPad1d((2, 1)), (1, 2, 3)),
    "circular_pad2d": lambda t: L(t, lambda nn: nn.CircularPad2d(1), (1, 1, 3, 3)),
    "constant_pad_negative": lambda t: L(t, lambda nn: nn.ConstantPad2d((-1, 1, 2, -1), 0.5), (1, 1, 4, 4)),
    "channel_shuffle": lambda t: L(t, lambda nn: nn.ChannelShuffle(2), (1, 4, 2, 2)),
    "unfold_fold": lambda t: L(t, lambda nn: nn.Unfold(2, dilation=1, padding=1, stride=2), (1, 2, 4, 4),
                               call=lambda torch, m, x: (m(x), torch.nn.Fold((4, 4), 2, padding=1, stride=2)(m(x)))),
})

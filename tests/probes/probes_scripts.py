"""Probes: lines as the seven reference programs write them (mnist, vae, regression, word language
model, the blitz CIFAR classifier, makemore, micrograd's tests) — idioms, not their code."""

import math

from tests.probes.harness import arr, fill, probe, probes


def _tokens(torch):
    return torch.arange(23) % 7


def _batchify(torch, data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


probes("script", {
    # word language model
    "wlm_batchify": lambda torch: _batchify(torch, _tokens(torch), 4),
    "wlm_get_batch": lambda torch: (
        _get_batch(_batchify(torch, _tokens(torch), 4), 1, 2)),
    "wlm_seq_len_min": lambda torch: min(35, len(_batchify(torch, _tokens(torch), 4)) - 1 - 2),
    "wlm_ids_type_int64": lambda torch: torch.tensor([3, 1, 2]).type(torch.int64),
    "wlm_cat_ids": lambda torch: (
        torch.cat([torch.tensor([1, 2]).type(torch.int64), torch.tensor([3]).type(torch.int64)])),
    "wlm_init_hidden_new_zeros": lambda torch: (
        _init_hidden(next(torch.nn.Linear(2, 2).parameters()))),
    "wlm_output_view": lambda torch: torch.tensor(arr(5, 2, 7)).view(-1, 7).shape,
    "wlm_total_loss": lambda torch: (
        4 * torch.nn.CrossEntropyLoss()(torch.tensor(arr(4, 3)),
                                        torch.tensor([0, 1, 2, 0])).item()),
    "wlm_ppl": lambda torch: (
        math.exp(torch.nn.CrossEntropyLoss()(torch.tensor(arr(4, 3)),
                                             torch.tensor([0, 1, 2, 0])).item())),
    "wlm_log_softmax_last": lambda torch: (
        torch.nn.functional.log_softmax(torch.tensor(arr(2, 3, 4)), dim=-1).exp().sum(-1)),
    "wlm_square_subsequent_mask": lambda torch: torch.log(torch.tril(torch.ones(3, 3))),
    "wlm_mask_fill_float": lambda torch: (
        _square_subsequent_mask(torch, 3)),
    "wlm_temperature_sampling": lambda torch: (
        _sample_word(torch)),
    "wlm_input_fill_tensor": lambda torch: (
        torch.randint(5, (1, 1), dtype=torch.long).fill_(torch.tensor(3))),
    "wlm_squeeze_div_exp": lambda torch: torch.tensor(arr(1, 1, 4)).squeeze().div(0.8).exp(),
    "wlm_randint_long": lambda torch: (
        (lambda t: (t.shape, t.dtype))(torch.randint(10, (1, 1), dtype=torch.long))),
    # blitz CIFAR-10
    "blitz_flatten_from_1": lambda torch: torch.flatten(torch.tensor(arr(2, 3, 2, 2)), 1).shape,
    "blitz_max_outputs_data": lambda torch: torch.max(torch.tensor(arr(4, 3)).data, 1),
    "blitz_labels_size0": lambda torch: torch.tensor([1, 2, 3]).size(0),
    "blitz_classes_index_by_tensor": lambda torch: ("plane", "car", "bird")[torch.tensor(2)],
    "blitz_fstring_class": lambda torch: (
        " ".join(f"{('plane', 'car', 'bird')[torch.tensor([2, 0])[j]]:5s}" for j in range(2))),
    "blitz_zip_label_pred": lambda torch: (
        [int(label == pred) for label, pred in zip(torch.tensor([1, 2]), torch.tensor([1, 0]))]),
    "blitz_running_loss": lambda torch: sum(torch.tensor(v).item() for v in (0.5, 0.25)) / 2,
    "blitz_next_iter_loader": lambda torch: _first_batch_shapes(torch),
    "blitz_data_index_to_device": lambda torch: (
        _data_to_device(torch, (torch.ones(2, 3), torch.tensor([0, 1])))),
    "blitz_correct_percent": lambda torch: (
        100 * (torch.tensor([1, 2, 3]) == torch.tensor([1, 0, 3])).sum().item() // 3),
    # makemore
    "mm_counts_int32_increment": lambda torch: (
        _increment_count(torch.zeros((3, 3), dtype=torch.int32))),
    "mm_counts_iadd_index": lambda torch: (
        (lambda N: (N[0, 1].__iadd__(1), N)[1])(torch.zeros((2, 2), dtype=torch.int32))),
    "mm_smoothed_probs": lambda torch: (
        (lambda P: P / P.sum(1, keepdims=True))((torch.tensor([[1, 2], [0, 3]]) + 1).float())),
    "mm_probs_idiv": lambda torch: (
        _normalise_rows_inplace(torch.tensor([[1.0, 3.0], [2.0, 2.0]]))),
    "mm_multinomial_item": lambda torch: (
        torch.multinomial(torch.tensor([0.0, 1.0]), num_samples=1, replacement=True,
                          generator=torch.Generator().manual_seed(2147483647)).item()),
    "mm_nelement": lambda torch: torch.tensor([1, 2, 3]).nelement(),
    "mm_emb_lookup": lambda torch: (
        torch.tensor(arr(5, 2))[torch.tensor([[0, 1, 4], [2, 2, 3]])].view(-1, 6).shape),
    "mm_index_by_range": lambda torch: (
        _dlogits_minus_one(torch)),
    "mm_randint_generator": lambda torch: (
        torch.randint(0, 10, (4,), generator=torch.Generator().manual_seed(1)).shape),
    "mm_randn_generator_scaled": lambda torch: (
        (torch.randn((3, 4), generator=torch.Generator().manual_seed(1))
         * (5 / 3) / (3 ** 0.5)).shape),
    "mm_params_requires_grad_loop": lambda torch: (
        _requires_grad_loop([torch.ones(2), torch.zeros(1)])),
    "mm_log10_item": lambda torch: torch.tensor(100.0).log10().item(),
    "mm_batchnorm_running_update": lambda torch: _bn_running(torch),
    "mm_cat_emb_columns": lambda torch: (
        (lambda emb: torch.cat([emb[:, i] for i in range(3)], 1))(torch.tensor(arr(2, 3, 2)))),
    "mm_logits_max_keepdim_values": lambda torch: (
        torch.tensor(arr(2, 4)).max(1, keepdim=True).values),
    "mm_randperm_tolist": lambda torch: sorted(torch.randperm(5).tolist()),
    "mm_crop_row": lambda torch: (
        (lambda row: row[:row.index(0)] if 0 in row else row)(torch.tensor([3, 4, 0, 0]).tolist())),
    "mm_full_long": lambda torch: torch.full((2, 3), -1, dtype=torch.long),
    "mm_tril_view_buffer": lambda torch: torch.tril(torch.ones(3, 3)).view(1, 1, 3, 3).shape,
    # regression
    "reg_format_weights": lambda torch: (
        " ".join("{:+.2f} x^{}".format(w, i) for i, w in enumerate(torch.tensor([1.5, -0.25]), 1))),
    "reg_mm_plus_item": lambda torch: (
        torch.tensor([[1.0, 2.0]]).mm(torch.tensor([[0.5], [0.25]])) + torch.tensor([3.0]).item()),
    "reg_random_unsqueeze_features": lambda torch: (
        torch.cat([torch.tensor([1.0, 2.0]).unsqueeze(1) ** i for i in range(1, 3)], 1)),
    "reg_param_data_add": lambda torch: _reg_update(torch),
    # vae
    "vae_reparameterize_shape": lambda torch: (
        _reparameterize(torch, torch.zeros(2, 3), torch.zeros(2, 3)).shape),
    "vae_view_784": lambda torch: torch.ones(2, 1, 4, 4).view(-1, 16).shape,
    "vae_cat_comparison": lambda torch: (
        torch.cat([torch.ones(4, 1, 2, 2)[:2], torch.zeros(4, 4).view(4, 1, 2, 2)[:2]]).shape),
    "vae_loss_dataset_len": lambda torch: (
        3.0 / len(torch.utils.data.TensorDataset(torch.ones(6, 2)))),
    # mnist
    "mnist_nll_sum_item": lambda torch: (
        torch.nn.functional.nll_loss(torch.log_softmax(torch.tensor(arr(3, 4)), 1),
                                     torch.tensor([0, 3, 1]), reduction="sum").item()),
    "mnist_argmax_keepdim_eq_view_as": lambda torch: (
        _correct(torch.tensor(arr(5, 3)), torch.tensor([0, 1, 2, 0, 1]))),
    "mnist_progress_fstring": lambda torch: (
        "{:.6f} {:.0f}%".format(torch.tensor(0.123456).item(), 100.0 * 2 / 8)),
    "mnist_steplr_adadelta": lambda torch: _mnist_sched(torch),
    "mnist_accelerator_device": lambda torch: (
        (torch.accelerator.current_accelerator() if torch.accelerator.is_available()
         else torch.device("cpu")).type),
})


def _get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)


def _init_hidden(weight):
    return weight.new_zeros((2, 3, 4)), weight.new_zeros(1, 3, 4).dtype


def _square_subsequent_mask(torch, sz):
    mask = torch.tril(torch.ones(sz, sz))
    return mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, float(0.0))


def _sample_word(torch):
    # generate.py: word_weights = output.squeeze().div(temperature).exp(); multinomial(...)[0]
    output = torch.tensor([0.0, 0.0, 5.0, 0.0])
    word_weights = output.div(0.5).exp() * torch.tensor([0.0, 0.0, 1.0, 0.0])
    return torch.multinomial(word_weights, 1)[0]


def _first_batch_shapes(torch):
    ds = torch.utils.data.TensorDataset(torch.ones(5, 3), torch.arange(5))
    images, labels = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    return images.shape, labels


def _data_to_device(torch, data):
    device = torch.device("cpu")
    inputs, labels = data[0].to(device), data[1].to(device)
    return inputs.shape, labels


def _increment_count(N):
    N[1, 2] = N[1, 2] + 1
    return N


def _normalise_rows_inplace(P):
    P /= P.sum(1, keepdim=True)
    return P


def _dlogits_minus_one(torch):
    dlogits = torch.ones(2, 3)
    dlogits[range(2), torch.tensor([1, 0])] -= 1
    return dlogits


def _requires_grad_loop(parameters):
    for p in parameters:
        p.requires_grad = True
    return [p.requires_grad for p in parameters]


def _reparameterize(torch, mu, logvar):
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(std)
    return mu + eps * std


def _correct(output, target):
    pred = output.argmax(dim=1, keepdim=True)
    return pred.eq(target.view_as(pred)).sum().item()


def _bn_running(torch):
    running = torch.zeros(1, 3)
    with torch.no_grad():
        for batch in (torch.ones(2, 3), torch.full((2, 3), 3.0)):
            running = 0.999 * running + 0.001 * batch.mean(0, keepdim=True)
    return running


def _reg_update(torch):
    fc = fill(torch, torch.nn.Linear(2, 1))
    x, y = torch.tensor(arr(4, 2)), torch.tensor(arr(4, 1, seed=1))
    for _ in range(3):
        fc.zero_grad()
        output = torch.nn.functional.smooth_l1_loss(fc(x), y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
    return loss, fc.weight.view(-1), fc.bias.item()


def _mnist_sched(torch):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    lrs = []
    for _ in range(3):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return lrs


@probe("script")
def wlm_train_step_manual_sgd(torch):
    torch.manual_seed(0)
    nn = torch.nn
    enc = fill(torch, nn.Embedding(7, 3))
    rnn = fill(torch, nn.GRU(3, 4), seed=3, scale=0.3)
    dec = fill(torch, nn.Linear(4, 7), seed=9)
    params = list(enc.parameters()) + list(rnn.parameters()) + list(dec.parameters())
    data = _batchify(torch, _tokens(torch), 2)
    hidden = torch.zeros(1, 2, 4)
    for i in range(0, 4, 2):
        x, target = data[i:i + 2], data[i + 1:i + 3].reshape(-1)
        hidden = hidden.detach()
        for p in params:
            p.grad = None
        out, hidden = rnn(enc(x), hidden)
        loss = nn.functional.cross_entropy(dec(out).view(-1, 7), target)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 0.25)
        for p in params:
            p.data.add_(p.grad, alpha=-20)
    return loss.item(), dec.bias


@probe("script")
def mm_bigram_training(torch):
    g = torch.Generator().manual_seed(2147483647)
    xs, ys = torch.tensor([0, 1, 2, 1]), torch.tensor([1, 2, 0, 0])
    W = torch.tensor(arr(3, 3), requires_grad=True)
    for _ in range(3):
        xenc = torch.nn.functional.one_hot(xs, num_classes=3).float()
        counts = (xenc @ W).exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[torch.arange(4), ys].log().mean() + 0.01 * (W ** 2).mean()
        W.grad = None
        loss.backward()
        W.data += -50 * W.grad
    return loss.item(), W, type(g).__name__


@probe("script")
def micrograd_compare_tolerance(torch):
    a = torch.Tensor([-4.0]).double()
    a.requires_grad = True
    g = (a * a + a.relu()) / 2.0
    g.backward()
    tol = 1e-6
    return abs(8.0 - g.data.item()) < tol, abs(-4.0 - a.grad.item()) < tol


@probe("script")
def mm_counts_augmented_assign(torch):
    N = torch.zeros((3, 3), dtype=torch.int32)
    for ch1, ch2 in zip("abca", "bcaa"):
        ix1, ix2 = ord(ch1) - 97, ord(ch2) - 97
        N[ix1, ix2] += 1
    return N


@probe("script")
def blitz_eval_per_class(torch):
    classes = ("plane", "car", "bird")
    correct_pred = {name: 0 for name in classes}
    outputs = torch.tensor(arr(5, 3))
    labels = torch.tensor([0, 1, 2, 2, 1])
    _, predictions = torch.max(outputs, 1)
    for label, prediction in zip(labels, predictions):
        if label == prediction:
            correct_pred[classes[label]] += 1
    return correct_pred

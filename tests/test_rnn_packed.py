"""GRU and LSTM on a PackedSequence against PyTorch on the same weights: outputs, each sequence's final state,
and the gradients of the input, the initial states and every weight (descend/nn/rnn_packed.py)."""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend.nn.utils import rnn as drnn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cls", ["GRU", "LSTM"])
@pytest.mark.parametrize("bidirectional, layers, batch_first", [(False, 1, True), (True, 2, False),
                                                                 (True, 1, True), (False, 2, False)])
def test_packed_recurrence_matches_pytorch(cls: str, bidirectional: bool, layers: int, batch_first: bool) -> None:
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, cls)(3, 4, num_layers=layers, bidirectional=bidirectional,
                                    batch_first=batch_first).double()
    ours = getattr(descend.nn, cls)(3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    ours = ours.double()
    ours.load_state_dict({k: descend.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((4, 6, 3) if batch_first else (6, 4, 3))
    lengths = [3, 6, 1, 3]  # unsorted, with a tie and a one-step sequence
    h0 = rng.standard_normal((layers * (2 if bidirectional else 1), 4, 4))
    states = [h0] if cls == "GRU" else [h0, rng.standard_normal(h0.shape)]

    def run(lib, rnn_utils, layer, tensor):
        xs = tensor(x)
        hs = [tensor(h) for h in states]
        packed = rnn_utils.pack_padded_sequence(xs, lib.tensor(lengths), batch_first=batch_first,
                                                enforce_sorted=False)
        out, final = layer(packed, hs[0] if cls == "GRU" else tuple(hs))
        padded, _ = rnn_utils.pad_packed_sequence(out, batch_first=batch_first)
        finals = [final] if cls == "GRU" else list(final)
        loss = (padded ** 2).sum() + sum((f * (1.5 + i)).sum() for i, f in enumerate(finals))
        loss.backward()
        values = [padded] + finals
        return ([v.detach().numpy() for v in values], [xs.grad.numpy()] + [h.grad.numpy() for h in hs],
                [p.grad.numpy() for p in layer.parameters()])

    mine = run(descend, drnn, ours, lambda a: descend.tensor(a, requires_grad=True))
    ref = run(torch, torch.nn.utils.rnn, theirs, lambda a: torch.tensor(a, requires_grad=True))
    for got_group, want_group in zip(mine, ref):
        for got, want in zip(got_group, want_group):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)

"""The issue's "done when": one model-and-training source, run with torch and with descend, ends equal.

`BODY` below is executed twice, once after `TORCH_IMPORTS` and once after `DESCEND_IMPORTS`: the only
difference between the two programs is the import block. Both train for 100 steps with Adam and a
warm-up (LinearLR) followed by cosine annealing (SequentialLR), on the same batches, from the same weights
(descend's initial state_dict loaded into torch through NumPy arrays), and must end with the same
parameters and batch-norm buffers (float32, rtol 1e-5) and the same learning-rate sequence.

Dropout: the two frameworks draw masks from different generators, so the harness makes torch use
descend's masks. A forward hook on each descend Dropout records which outputs were kept; a forward hook on
the matching torch Dropout replaces its output by input * mask / (1 - p). The dropout input is a ReLU
output passed through max-pooling, so where it is exactly 0 the recorded mask is ambiguous, but there the
output is 0 either way and no gradient flows further back (ReLU's derivative is 0), so the choice is moot.
Dropout's own statistics (rate, 1/(1-p) scaling, eval identity) are tested in test_nn.py.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

TORCH_IMPORTS = """
import torch
from torch import nn
import torch.nn.functional as F
from torch.optim import Adam
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
"""

DESCEND_IMPORTS = """
import descend as torch
from descend import nn
import descend.nn.functional as F
from descend.optim import Adam
from descend.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
"""

BODY = """
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 64)
        self.fc2 = nn.Linear(64, 5)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class CNN(nn.Module):
    # Convolutions feeding batch norm have no bias: BN cancels it, so its gradient is pure rounding noise
    # that Adam would amplify into unrelated steps (in either framework).
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(16 * 2 * 2, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        return self.fc(self.drop(torch.flatten(x, 1)))


def train(model, batches, steps=100, warmup=10, lr=1e-2):
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
                                         CosineAnnealingLR(optimizer, T_max=steps - warmup)],
                             milestones=[warmup])
    model.train()
    lrs, losses = [], []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        loss = F.cross_entropy(model(torch.tensor(x)), torch.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        losses.append(loss.item())
    return lrs, losses
"""


def _namespace(imports):
    ns = {}
    exec(compile(imports + BODY, f"<parity:{imports.split()[1]}>", "exec"), ns)
    return ns


def _batches(kind, n_batches=8, batch=32, seed=0):
    """A learnable task: labels from a fixed random linear map of the inputs."""
    rng = np.random.default_rng(seed)
    shape = (batch, 20) if kind == "MLP" else (batch, 1, 8, 8)
    proj = rng.normal(size=(int(np.prod(shape[1:])), 5))
    out = []
    for _ in range(n_batches):
        x = rng.normal(size=shape).astype(np.float32)
        out.append((x, (x.reshape(batch, -1) @ proj).argmax(1).astype(np.int64)))
    return out


def _sync_dropout(d_model, t_model):
    """Make torch's Dropout layers reuse the masks descend's drew, step by step (see module docstring)."""
    d_drops = [m for m in d_model.modules() if type(m).__name__ == "Dropout"]
    t_drops = [m for m in t_model.modules() if type(m).__name__ == "Dropout"]
    assert len(d_drops) == len(t_drops)
    dropped = []
    for d_drop, t_drop in zip(d_drops, t_drops):
        masks = []

        def record(module, args, out, masks=masks):
            masks.append((out._data != 0) | (args[0]._data == 0))
            dropped.append(int((out._data == 0).sum() - (args[0]._data == 0).sum()))

        def replay(module, args, out, masks=masks):
            mask = torch.from_numpy(masks.pop(0).astype(np.float32))
            return args[0] * mask / (1 - module.p)

        d_drop.register_forward_hook(record)
        t_drop.register_forward_hook(replay)
    return dropped


@pytest.mark.parametrize("kind", ["MLP", "CNN"])
def test_same_source_trains_to_the_same_weights(kind):
    import descend

    assert TORCH_IMPORTS.replace("torch", "descend") != DESCEND_IMPORTS  # the imports are the difference
    d_ns, t_ns = _namespace(DESCEND_IMPORTS), _namespace(TORCH_IMPORTS)
    descend.manual_seed(0)
    d_model, t_model = d_ns[kind](), t_ns[kind]()
    t_model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in d_model.state_dict().items()})
    dropped = _sync_dropout(d_model, t_model)

    batches = _batches(kind)
    d_lrs, d_losses = d_ns["train"](d_model, batches)
    t_lrs, t_losses = t_ns["train"](t_model, batches)

    np.testing.assert_allclose(d_lrs, t_lrs, rtol=1e-12)
    np.testing.assert_allclose(d_losses, t_losses, rtol=1e-4)
    assert d_losses[-1] < 0.5 * d_losses[0]  # it learned something, so the comparison is not vacuous
    t_sd = t_model.state_dict()
    d_sd = d_model.state_dict()
    assert list(d_sd) == list(t_sd)
    for key, value in d_sd.items():
        want = t_sd[key].numpy()
        if want.dtype.kind == "f":
            np.testing.assert_allclose(value.numpy(), want, rtol=1e-5, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(value.numpy(), want, err_msg=key)
    if kind == "CNN":  # dropout really dropped units (beyond the ReLU zeros) at every step
        assert len(dropped) == 100 and min(dropped) > 0

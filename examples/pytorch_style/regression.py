#!/usr/bin/env python
"""Fit a degree-4 polynomial with one Linear layer and hand-written gradient steps, as a plain PyTorch script.

The target polynomial and the batches are drawn with NumPy (seeded), so they do not depend on the framework.

    python examples/pytorch_style/regression.py --max-batches 500
"""

import argparse
from itertools import count

import numpy as np
import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser(description='Polynomial regression with manual updates')
parser.add_argument('--seed', type=int, default=0)
parser.add_argument('--lr', type=float, default=0.1)
parser.add_argument('--batch-size', type=int, default=32)
parser.add_argument('--max-batches', type=int, default=10000)
parser.add_argument('--log-interval', type=int, default=50)
parser.add_argument('--init-in', type=str, default=None)
parser.add_argument('--init-out', type=str, default=None)
args = parser.parse_args()

rng = np.random.default_rng(args.seed)
torch.manual_seed(args.seed)

POLY_DEGREE = 4
W_target = torch.from_numpy(rng.standard_normal((POLY_DEGREE, 1)).astype(np.float32)) * 5
b_target = torch.from_numpy(rng.standard_normal(1).astype(np.float32)) * 5


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    """Approximated function."""
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = 'y = '
    for i, w in enumerate(W):
        result += '{:+.2f} x^{} '.format(w, i + 1)
    result += '{:+.2f}'.format(b[0])
    return result


def get_batch(batch_size=32):
    """Builds a batch i.e. (x, f(x)) pair."""
    random = torch.tensor(rng.standard_normal(batch_size), dtype=torch.float32)
    x = make_features(random)
    y = f(x)
    return x, y


# Define model
fc = torch.nn.Linear(W_target.size(0), 1)
if args.init_out:
    np.savez(args.init_out, **{k: v.detach().numpy() for k, v in fc.state_dict().items()})
if args.init_in:
    fc.load_state_dict({k: torch.tensor(v) for k, v in np.load(args.init_in).items()})

for batch_idx in count(1):
    # Get data
    batch_x, batch_y = get_batch(args.batch_size)

    # Reset gradients
    fc.zero_grad()

    # Forward pass
    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    loss = output.item()

    # Backward pass
    output.backward()

    # Apply gradients: the two classic spellings of a manual step
    fc.weight.data -= args.lr * fc.weight.grad
    with torch.no_grad():
        fc.bias.add_(-args.lr * fc.bias.grad)
    for param in fc.parameters():
        param.grad.zero_()

    if batch_idx % args.log_interval == 0:
        print('batch {} loss {:.8f}'.format(batch_idx, loss))

    # Stop criterion
    if loss < 1e-3 or batch_idx >= args.max_batches:
        break

print('Loss: {:.8f} after {} batches'.format(loss, batch_idx))
print('==> Learned function:\t' + poly_desc(fc.weight.view(-1), fc.bias))
print('==> Actual function:\t' + poly_desc(W_target.view(-1), b_target))

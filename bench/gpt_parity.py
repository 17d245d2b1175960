"""The tiny GPT (descend.models 'gpt') trained in descend and in PyTorch from the same initial weights on the
same batches in the same order, and a descend character GRU of similar size on the same data; validation bits
per character of each.

    apt-get install bible-kjv && bible "Gen1:1-Rev22:21" > kjv.txt
    python bench/gpt_parity.py kjv.txt [--steps 1000] [--context 64] [--batch 32] [--only descend,torch,gru]

The text is split as `descend train --data text:PATH` splits it (contiguous 90/10, non-overlapping windows of
--context characters); AdamW (lr 3e-3, betas 0.9/0.95, weight decay 0.1 on matrices), 5 % linear warm-up then
cosine decay to 10 %, clip 1.0, dropout 0 (so the two frameworks see exactly the same function). Validation
loss is the mean over every validation window.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import descend  # noqa: E402
from descend import models, nn  # noqa: E402
from descend.data.text import lm_loss, load_text  # noqa: E402


def factor(step: int, total: int) -> float:
    warm = max(1, total // 20)
    if step < warm:
        return (step + 1) / warm
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def groups(model: Any) -> list:
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


def torch_gpt(vocab: int, context: int, n_layer: int = 4, n_head: int = 4, n_embd: int = 128) -> Any:
    """descend.models.transformer.GPT written in PyTorch, with the same state_dict keys."""
    import torch
    import torch.nn as tnn

    class Block(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = tnn.LayerNorm(n_embd)
            self.attn = tnn.MultiheadAttention(n_embd, n_head, batch_first=True)
            self.drop = tnn.Dropout(0.0)
            self.ln_2 = tnn.LayerNorm(n_embd)
            self.mlp = tnn.Sequential(tnn.Linear(n_embd, 4 * n_embd), tnn.GELU(approximate="tanh"),
                                      tnn.Linear(4 * n_embd, n_embd),
                                      tnn.Dropout(0.0))

        def forward(self, x: Any, mask: Any) -> Any:
            h = self.ln_1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0]
            return x + self.mlp(self.ln_2(x))

    class GPT(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok_emb = tnn.Embedding(vocab, n_embd)
            self.pos_emb = tnn.Embedding(context, n_embd)
            self.blocks = tnn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = tnn.LayerNorm(n_embd)
            self.head = tnn.Linear(n_embd, vocab, bias=False)
            self.head.weight = self.tok_emb.weight

        def forward(self, idx: Any) -> Any:
            t = idx.shape[1]
            x = self.tok_emb(idx) + self.pos_emb(torch.arange(t))
            mask = tnn.Transformer.generate_square_subsequent_mask(t)
            for b in self.blocks:
                x = b(x, mask)
            return self.head(self.ln_f(x))

    return GPT()


class CharGRU(nn.Module):
    """Embedding → 2-layer GRU → linear head: descend's recurrent baseline of similar size."""

    def __init__(self, vocab: int, hidden: int = 224, n_embd: int = 128) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, n_embd)
        self.gru = nn.GRU(n_embd, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx: Any) -> Any:
        return self.head(self.gru(self.emb(idx))[0])


def train(lib: str, model: Any, train_xy: tuple, val_xy: tuple, steps: int, batch: int, seed: int) -> dict:
    """Train `model` (descend or torch) on shuffled windows; the validation loss over all windows at the end."""
    x, y = train_xy
    rng = np.random.default_rng(seed)
    if lib == "torch":
        import torch

        tensor, no_grad = torch.from_numpy, torch.no_grad
        opt = torch.optim.AdamW(groups(model), lr=3e-3, betas=(0.9, 0.95))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: factor(s, steps))
        loss_fn = lambda out, t: torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1))  # noqa
        clip = torch.nn.utils.clip_grad_norm_
    else:
        tensor, no_grad, loss_fn = descend.tensor, descend.no_grad, lm_loss
        opt = descend.optim.AdamW(groups(model), lr=3e-3, betas=(0.9, 0.95))
        sched = descend.optim.lr_scheduler.LambdaLR(opt, lambda s: factor(s, steps))
        clip = descend.nn.utils.clip_grad_norm_
    order, losses, start = np.array([], dtype=np.int64), [], time.perf_counter()
    for step in range(steps):
        if len(order) < batch:
            order = np.concatenate([order, rng.permutation(len(x))])
        ix, order = order[:batch], order[batch:]
        loss = loss_fn(model(tensor(x[ix])), tensor(y[ix]))
        opt.zero_grad()
        loss.backward()
        clip(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    model.eval()
    total, count = 0.0, 0
    with no_grad():
        for i in range(0, len(val_xy[0]), 256):
            xb, yb = val_xy[0][i:i + 256], val_xy[1][i:i + 256]
            total += loss_fn(model(tensor(xb)), tensor(yb)).item() * len(xb)
            count += len(xb)
    val = total / count
    return {"val_loss": val, "val_bpc": val / math.log(2), "train_seconds": seconds,
            "loss_first": losses[0], "loss_last100": float(np.mean(losses[-100:]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("text")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="descend,torch,gru")
    args = ap.parse_args()
    data = load_text(args.text, args.context)
    train_xy, val_xy = data.train.arrays, data.val.arrays
    vocab = len(data.vocab)
    print(f"{args.text}: {data.chars} characters, vocabulary {vocab}, {len(train_xy[0])} train / "
          f"{len(val_xy[0])} validation windows of {args.context}", flush=True)
    descend.manual_seed(args.seed)
    gpt = models.build("gpt", (args.context,), vocab, dropout=0.0)
    n_params = sum(p.numel() for p in gpt.parameters())
    state = {k: np.array(v._data, copy=True) for k, v in gpt.state_dict().items()}
    results = {}
    for name in args.only.split(","):
        if name == "descend":
            results[name] = train("descend", gpt, train_xy, val_xy, args.steps, args.batch, args.seed)
        elif name == "torch":
            import torch

            torch.set_num_threads(1)
            tg = torch_gpt(vocab, args.context)
            tg.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            results[name] = train("torch", tg, train_xy, val_xy, args.steps, args.batch, args.seed)
        elif name == "gru":
            descend.manual_seed(args.seed)
            gru = CharGRU(vocab)
            results[name] = train("descend", gru, train_xy, val_xy, args.steps, args.batch, args.seed)
            results[name]["params"] = sum(p.numel() for p in gru.parameters())
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps({"gpt_params": n_params, "steps": args.steps, "context": args.context, "batch": args.batch,
                      **results}, indent=1))


if __name__ == "__main__":
    main()

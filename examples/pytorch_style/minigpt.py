"""A minimal character-level GPT, written as a PyTorch program; only the imports say descend.

Attention blocks with a causal mask, LayerNorm, GELU, AdamW (decay on matrices only) with linear warm-up then
cosine decay through LambdaLR, gradient clipping, and sampling with torch.multinomial. To run it under
PyTorch, change the three `descend` imports below to `torch`. tests/test_examples_gpt.py does exactly that
and checks both give the same loss curve from the same initial weights and batches.

    python examples/pytorch_style/minigpt.py [TEXT_FILE] [STEPS]

With no file it trains on a few lines of its own; the King James Bible from Debian makes a better one:
    apt-get install bible-kjv && bible "Gen1:1-Rev22:21" > kjv.txt
"""

import math
import sys

import numpy as np

import descend as torch
import descend.nn as nn
import descend.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size))
                             .view(1, 1, block_size, block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64, dropout=0.1):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, block_size, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.block_size:])
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
        return idx


def configure_optimizer(model, lr, weight_decay=0.1):
    """AdamW with weight decay on the matrices only (embeddings, linear weights), as nanoGPT does."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def warmup_cosine(warmup, total):
    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))
    return factor


def get_batch(data, block_size, batch_size, rng):
    ix = rng.integers(0, len(data) - block_size - 1, size=batch_size)
    x = torch.tensor(np.stack([data[i:i + block_size] for i in ix]), dtype=torch.long)
    y = torch.tensor(np.stack([data[i + 1:i + 1 + block_size] for i in ix]), dtype=torch.long)
    return x, y


def train(model, data, steps, batch_size=16, lr=3e-3, warmup=10, seed=0, log_every=0):
    """Train on random windows of `data` (token ids); returns the loss of every step."""
    optimizer = configure_optimizer(model, lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup, steps))
    rng = np.random.default_rng(seed)
    losses = []
    model.train()
    for step in range(steps):
        x, y = get_batch(data, model.block_size, batch_size, rng)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if log_every and step % log_every == 0:
            print(f"step {step}: loss {loss.item():.4f}, lr {scheduler.get_last_lr()[0]:.2e}")
    return losses


@torch.no_grad()
def estimate_loss(model, data, batch_size=32, iters=10, seed=1):
    model.eval()
    rng = np.random.default_rng(seed)
    losses = [model(*get_batch(data, model.block_size, batch_size, rng))[1].item() for _ in range(iters)]
    model.train()
    return sum(losses) / len(losses)


SAMPLE_TEXT = """In the beginning God created the heaven and the earth.
And the earth was without form, and void; and darkness was upon the face of the deep.
And the Spirit of God moved upon the face of the waters.
And God said, Let there be light: and there was light.
And God saw the light, that it was good: and God divided the light from the darkness.
"""


def main(argv):
    text = open(argv[1], encoding="utf-8").read() if len(argv) > 1 and argv[1] else SAMPLE_TEXT * 20
    steps = int(argv[2]) if len(argv) > 2 else 200
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    torch.manual_seed(1337)
    model = GPT(len(chars), block_size=64)
    train(model, data[:split], steps, log_every=max(1, steps // 10))
    val = estimate_loss(model, data[split:])
    print(f"validation loss {val:.4f} ({val / math.log(2):.3f} bits/char)")
    context = torch.tensor([[stoi[text[0]]]], dtype=torch.long)
    sample = model.generate(context, 200, temperature=0.8, top_k=10)[0].tolist()
    print("".join(chars[i] for i in sample))


if __name__ == "__main__":
    main(sys.argv)

"""Transformer models: a small encoder classifier for 1-D signals and a character-level causal LM (a tiny GPT).

The GPT follows the GPT-2 layout as nanoGPT writes it: token + learned position embeddings, pre-LayerNorm
blocks of causal self-attention and a GELU MLP (4x wider, tanh form), a final LayerNorm and a linear head tied to the
token embedding; weights start from N(0, 0.02), residual output projections from N(0, 0.02/√(2·layers)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descend import backend, nn
from descend.nn import init
from descend.nn.transformer import generate_square_subsequent_mask
from descend._tensor import Tensor, no_grad


class TransformerClassifier(nn.Module):
    """Patches of a 1-D signal → linear embedding + learned positions → pre-LN encoder → mean-pool → linear."""

    def __init__(self, length: int, num_classes: int, patch: int = 4, d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        if length % patch:
            raise ValueError(f"TransformerClassifier: patch {patch} does not divide the signal length {length}")
        self.patch, self.tokens = patch, length // patch
        self.embed = nn.Linear(patch, d_model)
        self.pos = nn.Parameter(backend.xp.zeros((1, self.tokens, d_model), dtype=backend.default_dtype()))
        init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x.reshape(x.shape[0], self.tokens, self.patch)) + self.pos
        return self.head(self.encoder(h).mean(dim=1))


class Block(nn.Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(x)), with causal self-attention."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.MultiheadAttention(n_embd, n_head, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        # GPT-2's GELU is the tanh approximation (also ~15x cheaper here than the erf form).
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.ln_1(x)
        x = x + self.drop(self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0])
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A character-level causal Transformer LM: forward(idx (B, T) ints) → logits (B, T, vocab_size).

    >>> import descend
    >>> gpt = GPT(vocab_size=10, block_size=8, n_layer=1, n_embd=16)
    >>> gpt(descend.tensor([[1, 2, 3]])).shape
    descend.Size([1, 3, 10])
    >>> gpt.generate(descend.tensor([[1]]), max_new_tokens=4, generator=0).shape
    descend.Size([1, 5])
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
                 dropout: float = 0.1, tie_weights: bool = True) -> None:
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, nn.MultiheadAttention):
                init.normal_(m.in_proj_weight, std=0.02)
        for block in self.blocks:  # residual projections scaled down by depth (GPT-2)
            init.normal_(block.attn.out_proj.weight, std=0.02 / math.sqrt(2 * n_layer))
            init.normal_(block.mlp[2].weight, std=0.02 / math.sqrt(2 * n_layer))
        if tie_weights:
            self.head.weight = self.tok_emb.weight

    def forward(self, idx: Tensor) -> Tensor:
        if idx.ndim != 2:
            raise ValueError(f"GPT: expected token ids (B, T), got {tuple(idx.shape)}")
        steps = idx.shape[1]
        if steps > self.block_size:
            raise ValueError(f"GPT: sequence length {steps} exceeds block_size {self.block_size}")
        if idx.dtype.kind not in "iu":
            raise TypeError(f"GPT: token ids must be integers, got {idx.dtype} (--model gpt trains on "
                            f"--data text:PATH)")
        pos = Tensor(backend.get_array_module(idx._data).arange(steps))
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        mask = generate_square_subsequent_mask(steps, dtype=x.dtype)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x))

    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: Any = None) -> Tensor:
        """Append max_new_tokens sampled ids to idx (B, T), each from softmax(logits / temperature) over the
        top_k most likely (all when None); `generator`: a descend/NumPy Generator or a seed (default: global)."""
        if temperature <= 0:
            raise ValueError(f"GPT.generate: temperature must be > 0, got {temperature}")
        rng = _numpy_rng(generator)
        was_training = self.training
        self.eval()
        ids = backend.to_numpy(idx._data).astype(np.int64)
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    window = Tensor(backend.xp.asarray(ids[:, -self.block_size:]))
                    logits = backend.to_numpy(self(window)._data[:, -1, :]).astype(np.float64) / temperature
                    if top_k is not None:
                        kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])][:, None]
                        logits = np.where(logits < kth, -np.inf, logits)
                    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
                    probs /= probs.sum(axis=-1, keepdims=True)
                    u = rng.random((len(probs), 1))
                    nxt = np.minimum((probs.cumsum(axis=-1) < u).sum(axis=-1), probs.shape[-1] - 1)
                    ids = np.concatenate([ids, nxt[:, None]], axis=1)
        finally:
            self.train(was_training)
        return Tensor(backend.xp.asarray(ids))


def _numpy_rng(generator: Any) -> np.random.Generator:
    if generator is None:
        return backend.rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    if hasattr(generator, "numpy"):  # descend.Generator
        return generator.numpy()
    raise TypeError(f"GPT.generate: generator must be a descend.Generator, a NumPy Generator or a seed, got "
                    f"{type(generator).__name__}")


def patch_size(length: int) -> int:
    """The largest of 4, 2, 1 dividing the signal length (MNIST-1D's 40 samples give 10 patches of 4)."""
    return next(p for p in (4, 2, 1) if length % p == 0)


def build_transformer(input_shape: tuple, num_classes: int, dropout: float = 0.0) -> TransformerClassifier:
    """--model transformer: the encoder classifier for 1-D signals shaped (L,) or (1, L)."""
    from descend.models import _length

    length = _length(input_shape, "transformer")
    return TransformerClassifier(length, num_classes, patch=patch_size(length), dropout=dropout)


def build_gpt(input_shape: tuple, num_classes: int, dropout: float = 0.0) -> GPT:
    """--model gpt: a tiny GPT over token windows shaped (context,), num_classes being the vocabulary size."""
    from descend.models import ModelError

    if len(input_shape) != 1:
        raise ModelError(f"model 'gpt' expects token windows shaped (context,), e.g. --data text:PATH; the "
                         f"data's samples have shape {tuple(input_shape)}")
    return GPT(num_classes, int(input_shape[0]), dropout=dropout)

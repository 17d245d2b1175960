"""Character-level language modelling: a UTF-8 text file as windows of token ids (`--data text:PATH`).

The vocabulary is the text's sorted set of characters. The text is split contiguously, the first 90 % for
training and the last 10 % for validation (so no validation window overlaps a training one), and each part
is cut into non-overlapping windows of `context` characters: inputs ids[s:s+T], targets ids[s+1:s+T+1].

A public-domain English text that installs offline from Debian: the King James Bible (4.3 MB, 73 characters)
    apt-get install bible-kjv && bible "Gen1:1-Rev22:21" > kjv.txt
    descend train --model gpt --data text:kjv.txt --context 64 --batch-size 32 --lr 3e-3 --warmup 100 \
        --epochs 1 --dropout 0 --optimizer adamw
"""

from __future__ import annotations

import gzip
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend
from descend import functional as F
from descend.data.dataset import TensorDataset
from descend.data.user import DataError
from descend._tensor import Tensor

VAL_FRACTION = 0.1


class CharVocab:
    """Characters ↔ ids: `encode(text)` gives int64 ids, `decode(ids)` the text back."""

    def __init__(self, chars: list[str]) -> None:
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            raise ValueError(f"CharVocab.encode: character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def read_text(path: str | Path) -> str:
    """The file's text (UTF-8; a .gz file is decompressed); DataError naming the file when unusable."""
    p = Path(path)
    if not str(path):
        raise DataError("text: give a file, as --data text:PATH")
    if not p.exists():
        raise DataError(f"{p}: text file not found")
    if p.is_dir():
        raise DataError(f"{p}: is a directory; --data text:PATH needs a UTF-8 text file")
    raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text (byte {e.start} is {raw[e.start:e.start + 1]!r})") from None
    if not text:
        raise DataError(f"{p}: the file is empty")
    return text


def windows(ids: np.ndarray, context: int) -> TensorDataset:
    """Non-overlapping (input, target) windows of `context` ids, the target shifted by one."""
    n = (len(ids) - 1) // context
    x = ids[:n * context].reshape(n, context)
    y = ids[1:n * context + 1].reshape(n, context)
    return TensorDataset(np.ascontiguousarray(x), np.ascontiguousarray(y))


@dataclass
class TextData:
    """A text as a character vocabulary and train/validation window datasets."""

    vocab: CharVocab
    train: TensorDataset
    val: TensorDataset
    chars: int


def load_text(path: str | Path, context: int) -> TextData:
    """The text at `path` split 90/10 (contiguously) into windows of `context` characters."""
    text = read_text(path)
    vocab = CharVocab(sorted(set(text)))
    ids = vocab.encode(text)
    n_train = int(len(ids) * (1 - VAL_FRACTION))
    need = context + 1
    if n_train < need or len(ids) - n_train < need:
        raise DataError(f"{path}: {len(ids)} characters are too few for --context {context}: the last "
                        f"{VAL_FRACTION:.0%} (validation) and the rest (training) each need at least {need}; "
                        f"use a smaller --context or a longer text")
    return TextData(vocab, windows(ids[:n_train], context), windows(ids[n_train:], context), len(ids))


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats) over every position of (B, T, V) logits against (B, T) target ids."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class TextSamples:
    """A training callback: logs bits per character and prints and stores generated text.

    After each optimizer step it adds `bpc` (loss / ln 2); after each epoch `train_bpc` and `val_bpc`. At each
    epoch's end, and every `every` steps within one, it samples `length` characters from the model's
    `generate` (seeded by the step, so a resumed run writes the same samples), prints them and appends them to
    the run's samples.txt.
    """

    def __init__(self, vocab: CharVocab, length: int = 200, temperature: float = 1.0, top_k: int | None = None,
                 prompt: str = "\n", seed: int = 0, every: int = 500, stream: Any = None) -> None:
        self.vocab, self.length, self.temperature, self.top_k = vocab, length, temperature, top_k
        self.prompt = prompt if all(c in vocab.index for c in prompt) else vocab.chars[0]
        self.seed, self.every, self.stream = seed, every, stream

    def on_train_begin(self, trainer: Any) -> None:
        """Nothing to set up."""

    def on_step_end(self, trainer: Any, logs: dict) -> None:
        logs["bpc"] = logs["loss"] / math.log(2)
        if self.every and trainer.step % self.every == 0:
            self._write(trainer, f"--- epoch {trainer.epoch + 1}, step {trainer.step}, train {logs['bpc']:.3f} "
                                 f"bits/char ---")

    def on_epoch_end(self, trainer: Any, logs: dict) -> None:
        for split in ("train", "val"):
            if f"{split}_loss" in logs:
                logs[f"{split}_bpc"] = logs[f"{split}_loss"] / math.log(2)
        self._write(trainer, f"--- epoch {trainer.epoch + 1}, step {trainer.step}" + (
            f", val {logs['val_bpc']:.3f} bits/char" if "val_bpc" in logs else "") + " ---")

    def _write(self, trainer: Any, header: str) -> None:
        text = self.sample(trainer.model, seed=self.seed + trainer.step)
        stream = self.stream or sys.stdout
        stream.write(f"\n{header}\n{text}\n")
        stream.flush()
        run = getattr(trainer, "run", None)
        if run is not None:
            with open(Path(run.dir) / "samples.txt", "a", encoding="utf-8") as f:
                f.write(f"{header}\n{text}\n\n")

    def on_train_end(self, trainer: Any, logs: dict) -> None:
        """Nothing to close."""

    def sample(self, model: Any, seed: int = 0) -> str:
        """`length` characters generated after the prompt."""
        start = Tensor(backend.xp.asarray(self.vocab.encode(self.prompt)[None]))
        out = model.generate(start, self.length, temperature=self.temperature, top_k=self.top_k,
                             generator=np.random.default_rng(seed))
        return self.vocab.decode(backend.to_numpy(out._data)[0, len(self.prompt):])

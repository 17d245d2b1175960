"""Variable-length sequences (PyTorch's torch.nn.utils.rnn): padding, and packing into a PackedSequence.

A PackedSequence stores the valid time steps of a batch sorted by decreasing length, time-major: `data`
holds batch_sizes[0] rows of step 0, then batch_sizes[1] rows of step 1, ... Everything here is
differentiable (built from slicing, concatenation and stacking). `descend.nn.RNN`, `GRU` and `LSTM` take a
PackedSequence; other layers that do not raise a TypeError naming pad_packed_sequence.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from descend import backend
from descend.ops.movement import cat, stack
from descend._tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]


class PackedSequence(NamedTuple):
    """(data, batch_sizes, sorted_indices, unsorted_indices), as returned by pack_padded_sequence."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    @property
    def ndim(self) -> int:
        # Layers written for padded tensors look at .ndim first: make their failure say what to do.
        raise TypeError("this layer does not take a PackedSequence; unpack it with "
                        "descend.nn.utils.rnn.pad_packed_sequence(packed) and pass the padded tensor")

    shape = ndim

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        return self._replace(data=self.data.to(*args, **kwargs))


def _lengths(lengths: Any) -> np.ndarray:
    arr = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths)
    arr = backend.to_numpy(arr) if not isinstance(arr, np.ndarray) else arr
    if arr.ndim != 1:
        raise ValueError(f"lengths must be a 1-D list or tensor, got shape {arr.shape}")
    return arr.astype(np.int64)


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with padding_value."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    seqs = list(sequences)
    if not seqs:
        raise ValueError("pad_sequence: received an empty list of sequences")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim == 0 or s.shape[1:] != trailing:
            raise ValueError(f"pad_sequence: sequence {i} has shape {s.shape}; every sequence must be "
                             f"(L, {', '.join(map(str, trailing))})")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        missing = longest - s.shape[0]
        if missing:
            xp = backend.get_array_module(s._data)
            fill = Tensor(xp.full((missing,) + trailing, padding_value, dtype=s._data.dtype))
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) of sequences with the given lengths."""
    lens = _lengths(lengths)
    x = input.transpose(0, 1) if batch_first else input
    if lens.shape[0] != x.shape[1]:
        raise ValueError(f"pack_padded_sequence: got {lens.shape[0]} lengths for a batch of {x.shape[1]} "
                         f"(input {input.shape}, batch_first={batch_first})")
    if lens.size and (lens.min() <= 0 or lens.max() > x.shape[0]):
        raise ValueError(f"pack_padded_sequence: lengths must be in [1, {x.shape[0]}] for input "
                         f"{input.shape}, got {lens.tolist()}")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError("pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this requirement")
        sorted_idx = unsorted_idx = None
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        x = x[:, order]
        sorted_idx, unsorted_idx = Tensor(order.astype(np.int64)), Tensor(np.argsort(order).astype(np.int64))
    batch_sizes = (np.arange(int(lens[0]))[:, None] < lens[None, :]).sum(axis=1).astype(np.int64)
    data = cat([x[t, :int(b)] for t, b in enumerate(batch_sizes)], 0)
    return PackedSequence(data, Tensor(batch_sizes), sorted_idx, unsorted_idx)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The padded batch (T, B, *) (or (B, T, *)) and the lengths, in the batch order before packing."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, sizes = sequence.data, _lengths(sequence.batch_sizes)
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is less than the longest "
                             f"sequence length {steps}")
        steps = total_length
    xp = backend.get_array_module(data._data)
    rows, pos = [], 0
    for t in range(steps):
        b = int(sizes[t]) if t < len(sizes) else 0
        step = data[pos:pos + b]
        pos += b
        if b < batch:
            fill = Tensor(xp.full((batch - b,) + data.shape[1:], padding_value, dtype=data._data.dtype))
            step = cat([step, fill], 0) if b else fill
        rows.append(step)
    padded = stack(rows, 0)
    lengths = (sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        order = backend.to_numpy(sequence.unsorted_indices._data)
        padded = padded[:, order]
        lengths = lengths[order]
    return (padded.transpose(0, 1) if batch_first else padded), Tensor(lengths)


def repack(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a padded (T, B, *) batch, in the caller's order, with the layout of an existing PackedSequence."""
    x = padded if like.sorted_indices is None else padded[:, backend.to_numpy(like.sorted_indices._data)]
    sizes = _lengths(like.batch_sizes)
    data = cat([x[t, :int(b)] for t, b in enumerate(sizes)], 0)
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors (pad_sequence, then pack_padded_sequence)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The inverse of pad_sequence: a list of (L_i, *) tensors."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(_lengths(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The inverse of pack_sequence: a list of (L_i, *) tensors in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

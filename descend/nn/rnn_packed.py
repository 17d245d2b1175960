"""GRU and LSTM over a PackedSequence: the fused recurrences run on time segments in which the set of
unfinished sequences does not change, so no step past a sequence's end enters its state.

Sorted by decreasing length, the sequences still running at step t are a prefix of the batch; between two
consecutive distinct lengths that prefix is fixed. Forward in time, each segment runs the prefix and the
sequences ending at its end keep their state as their final one; backward in time (the reverse direction),
the prefix grows, each sequence joining with its initial state at its own last step. Outputs past a
sequence's end are zero (repacking drops them anyway). Everything is built from differentiable ops.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from descend import backend
from descend.ops.movement import cat
from descend._tensor import Tensor

# run(gi (t, k, G), states (each (k, H)), reverse) -> (outputs (t, k, H), final states (each (k, H)))
Run = Callable[[Tensor, tuple, bool], tuple]


def run_packed(run: Run, gi: Tensor, states: tuple, lengths: np.ndarray, reverse: bool) -> tuple:
    """(outputs (T, N, H), final states) of one layer and direction, in the caller's batch order."""
    order = np.argsort(-lengths, kind="stable")
    back = np.argsort(order)
    ends = lengths[order]
    gi = gi[:, order]
    init = tuple(s[order] for s in states)
    bounds = [0] + sorted(set(ends.tolist()))
    segments = list(zip(bounds[:-1], bounds[1:]))
    n = len(ends)
    outs: dict = {}
    if not reverse:
        current, finished = init, []  # finished: final states of the sequences ended so far, shortest first
        for t0, t1 in segments:
            k, going_on = int((ends >= t1).sum()), int((ends > t1).sum())
            seq, new = run(gi[t0:t1, :k], tuple(s[:k] for s in current), False)
            outs[t0] = seq
            finished.append(tuple(s[going_on:k] for s in new))
            current = tuple(s[:going_on] for s in new)
        finals = tuple(cat([part[i] for part in reversed(finished)], 0) for i in range(len(init)))
    else:
        current = None
        for t0, t1 in reversed(segments):
            k = int((ends >= t1).sum())
            joined = k if current is None else k - current[0].shape[0]
            start = tuple(s[k - joined:k] for s in init)
            current = start if current is None else tuple(cat([c, s], 0) for c, s in zip(current, start))
            seq, current = run(gi[t0:t1, :k], current, True)
            outs[t0] = seq
        finals = current
    xp = backend.get_array_module(gi._data)
    pieces = []
    for t0, _ in segments:
        seq = outs[t0]
        if seq.shape[1] < n:  # sequences already ended: zero outputs
            pad = Tensor(xp.zeros((seq.shape[0], n - seq.shape[1]) + tuple(seq.shape[2:]), dtype=seq.dtype))
            seq = cat([seq, pad], 1)
        pieces.append(seq)
    return cat(pieces, 0)[:, back], tuple(f[back] for f in finals)

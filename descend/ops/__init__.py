"""Primitive ops, grouped by kind: elementwise, reduce, movement, matmul (and, later, conv/pool)."""

from descend.ops._heap import tune_heap

tune_heap()  # freed activations stay in the heap for the next step (see _heap.py)

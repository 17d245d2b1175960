"""Primitive ops, grouped by kind: elementwise, reduce, movement, matmul (and, later, conv/pool)."""

from descend.ops._heap import tune_heap

# Nothing happens on import: the training loops (Trainer.fit, GanTrainer.fit, DiffusionTrainer.fit) call
# tune_heap() when they start, and a hand-written loop may call it too.
__all__ = ["tune_heap"]

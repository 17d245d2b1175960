"""Primitive ops, grouped by kind: elementwise, reduce, movement, matmul (and, later, conv/pool)."""

"""The doctor benchmark: faults from the fault-detection literature, healthy runs, oracles, baselines."""

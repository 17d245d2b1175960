"""cuDNN switches that PyTorch scripts set; descend's ops are deterministic and have no autotuner, so these are
recorded and change nothing."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False

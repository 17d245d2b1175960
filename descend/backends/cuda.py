"""`descend.backends.cuda`: the TF32 and reduced-precision switches PyTorch scripts set; descend computes in
float32/float64 on the CPU (or through CuPy), so they are recorded and change nothing."""

from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)


def is_built() -> bool:
    return False

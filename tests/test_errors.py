"""Bad input gets a clear error naming the op and the offending shapes, dtypes or values."""

from __future__ import annotations

import re

import numpy as np
import pytest

import descend
import descend.nn.functional as F


def randn(*shape: int, dtype: str = "float32", requires_grad: bool = False) -> descend.Tensor:
    return descend.randn(*shape, dtype=dtype, requires_grad=requires_grad)


# ---- autograd engine ---------------------------------------------------------------------------------------

def test_backward_on_non_scalar_without_grad_says_so() -> None:
    y = randn(3, 4, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(3, 4\); pass grad="):
        y.backward()


def test_backward_with_wrong_grad_shape() -> None:
    y = randn(3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"grad shape \(4,\) differs from tensor shape \(3,\)"):
        y.backward(np.ones(4, np.float32))


def test_backward_without_requires_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        (randn(2) * 2).sum().backward()


def test_second_backward_without_retain_graph() -> None:
    x = randn(3, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_integer_tensors_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="only floating tensors can require gradients, got dtype int64"):
        descend.tensor([1, 2, 3], requires_grad=True)


def test_numpy_and_item_misuse() -> None:
    x = randn(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        x.numpy()
    with pytest.raises(ValueError, match=r"only one-element tensors.*\(2, 2\)"):
        x.item()


# ---- shapes --------------------------------------------------------------------------------------------

def test_matmul_shape_error_names_op_and_both_shapes() -> None:
    with pytest.raises(ValueError, match=re.escape("matmul: (64, 100) @ (784, 10) — inner dimensions differ")):
        randn(64, 100) @ randn(784, 10)


def test_matmul_batch_dims_and_scalars() -> None:
    with pytest.raises(ValueError, match=r"matmul: batch dimensions of \(2, 3, 4\) and \(5, 4, 2\)"):
        descend.matmul(randn(2, 3, 4), randn(5, 4, 2))
    with pytest.raises(ValueError, match=r"matmul: both operands need at least 1 dimension"):
        descend.matmul(descend.tensor(2.0), randn(3))
    with pytest.raises(ValueError, match=r"mm: expected two 2-D tensors"):
        descend.mm(randn(2, 3, 4), randn(4, 2))


@pytest.mark.parametrize("op, fn", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                    ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b),
                                    ("maximum", descend.maximum)])
def test_broadcast_errors_name_op_and_shapes(op: str, fn) -> None:
    with pytest.raises(ValueError, match=rf"{op}: shapes \(3, 4\) and \(5,\) cannot be broadcast together"):
        fn(randn(3, 4), randn(5))


def test_movement_errors() -> None:
    x = randn(2, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot view shape \(2, 3\) \(6 elements\) as \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"cat: shapes \(2, 3\), \(3, 2\) must match except in dim 0"):
        descend.cat([x, randn(3, 2)])
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape, got \(2, 3\), \(2, 2\)"):
        descend.stack([x, randn(2, 2)])
    with pytest.raises(IndexError, match=r"getitem: index \[5\] is invalid for shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor of 2 dimensions"):
        x.sum(2)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0\) are not a permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(4, 3\)"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 3\) is too large for shape \(2, 3\)"):
        F.pad(x, (3, 3), mode="reflect")


def test_linear_errors() -> None:
    w = randn(10, 784)
    with pytest.raises(ValueError, match=re.escape("linear: expected input (..., 784), got (64, 100)")):
        F.linear(randn(64, 100), w)
    with pytest.raises(ValueError, match=re.escape("linear: bias must have shape (10,), got (5,)")):
        F.linear(randn(2, 784), w, randn(5))
    with pytest.raises(TypeError, match="linear: input dtype float32 and weight dtype float64 differ"):
        F.linear(randn(2, 784), randn(10, 784, dtype="float64"))


def test_conv_errors() -> None:
    w = randn(16, 3, 3, 3)
    with pytest.raises(ValueError, match=re.escape("conv2d: input (8, 1, 28, 28) has 1 channels but weight "
                                                   "(16, 3, 3, 3) with groups=1 expects 3")):
        F.conv2d(randn(8, 1, 28, 28), w)
    with pytest.raises(ValueError, match=r"conv2d: expected input \(N, C, H, W\) or \(C, H, W\), got \(28, 28\)"):
        F.conv2d(randn(28, 28), w)
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D"):
        F.conv2d(randn(1, 3, 8, 8), randn(16, 3, 3))
    with pytest.raises(TypeError, match="conv2d: input dtype float64 and weight dtype float32"):
        F.conv2d(randn(1, 3, 8, 8, dtype="float64"), w)
    with pytest.raises(ValueError, match=r"conv2d: out_channels 16 of weight .* must be divisible by groups 3"):
        F.conv2d(randn(1, 3, 8, 8), randn(16, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided convolutions"):
        F.conv2d(randn(1, 3, 8, 8), w, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"conv2d: input \(1, 3, 2, 2\) padded by \(0, 0\) in dim 2 is smaller"):
        F.conv2d(randn(1, 3, 2, 2), w)
    with pytest.raises(ValueError, match=r"conv1d: bias must have shape \(4,\), got \(3,\)"):
        F.conv1d(randn(1, 2, 8), randn(4, 2, 3), randn(3))


def test_pool_errors() -> None:
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) should be at most half"):
        F.max_pool2d(randn(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool1d: expected input \(N, C, L\) or \(C, L\), got \(8,\)"):
        F.avg_pool1d(randn(8), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: input \(1, 1, 2, 2\) is smaller than the kernel \(3, 3\)"):
        F.max_pool2d(randn(1, 1, 2, 2), 3)


def test_loss_errors() -> None:
    logits = randn(4, 10)
    with pytest.raises(IndexError, match="cross_entropy: target 10 is out of bounds for 10 classes"):
        F.cross_entropy(logits, descend.tensor([1, 2, 10, 0]))
    with pytest.raises(ValueError, match=r"cross_entropy: input \(4, 10\) needs target of shape \(4,\) "
                                         r"\(class indices\), got \(3,\)"):
        F.cross_entropy(logits, descend.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="cross_entropy: class-index target must be an integer tensor"):
        F.cross_entropy(logits, descend.tensor([1.0, 2.0, 3.0, 0.0]))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'none', 'mean' or 'sum', got 'avg'"):
        F.cross_entropy(logits, descend.tensor([1, 2, 3, 0]), reduction="avg")
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(10,\), got \(3,\)"):
        F.cross_entropy(logits, descend.tensor([1, 2, 3, 0]), descend.ones(3))
    with pytest.raises(TypeError, match="cross_entropy: input dtype float32 and target dtype float64 differ"):
        F.cross_entropy(logits, descend.ones(4, 10, dtype="float64"))
    with pytest.raises(IndexError, match="nll_loss: target -1 is out of bounds for 10 classes"):
        F.nll_loss(logits, descend.tensor([1, -1, 3, 0]))
    with pytest.raises(ValueError, match=r"mse_loss: input \(4, 10\) and target \(3,\) cannot be broadcast"):
        F.mse_loss(logits, randn(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target size \(4,\) must be the "
                                         r"same as input size \(4, 10\)"):
        F.binary_cross_entropy_with_logits(logits, randn(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(logits, descend.rand(4, 10))


def test_other_functional_errors() -> None:
    with pytest.raises(ValueError, match="dropout: probability has to be between 0 and 1, but got 1.5"):
        F.dropout(randn(3), 1.5)
    with pytest.raises(IndexError, match="embedding: index 5 is out of range for 5 embeddings"):
        F.embedding(descend.tensor([0, 5]), randn(5, 2))
    with pytest.raises(TypeError, match="embedding: indices must be integers, got dtype float32"):
        F.embedding(descend.tensor([0.0, 1.0]), randn(5, 2))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(randn(3), approximate="fast")
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training"):
        F.batch_norm(randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(3,\)"):
        F.batch_norm(randn(2, 3), descend.zeros(4), descend.ones(3))
    with pytest.raises(ValueError, match=r"layer_norm: input \(2, 3\) does not end with normalized_shape \(4,\)"):
        F.layer_norm(randn(2, 3), 4)
    with pytest.raises(ValueError, match="clamp: at least one of min and max must be given"):
        descend.clamp(randn(3))


def test_gradcheck_argument_errors() -> None:
    with pytest.raises(ValueError, match="gradcheck: input 0 requires grad but has dtype float32"):
        descend.gradcheck(lambda a: a * 2, [randn(3, requires_grad=True)])
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        descend.gradcheck(lambda a: a * 2, [randn(3, dtype="float64")])


def test_bool_tensor_subtraction_is_refused_as_in_pytorch_numpy_bools_are_not():
    x = descend.ones(3)
    mask = descend.tensor([True, False, True])
    for bad in (lambda: x - mask, lambda: mask - 1, lambda: 1 - mask, lambda: x - True,
                lambda: descend.sub(x, mask, alpha=2), lambda: x.sub_(mask)):
        with pytest.raises(RuntimeError, match="logical_not"):
            bad()
    assert (x - np.array([True, False, True])).tolist() == [0.0, 1.0, 0.0]  # PyTorch converts NumPy bools
    assert (x - np.bool_(True)).tolist() == [0.0, 0.0, 0.0]


def test_grad_assignment_is_checked_as_in_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (torch, descend):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(TypeError):
            x.grad = np.ones(3)
        with pytest.raises(RuntimeError, match="gradient of size"):
            x.grad = lib.ones(4)
        with pytest.raises(RuntimeError, match="gradient with dtype"):
            x.grad = lib.ones(3, dtype=lib.float64)
        x.grad = lib.ones(3)
        x.grad = None

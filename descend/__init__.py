"""descend: a deep-learning training framework written from first principles, with a training doctor."""

from descend import backend
from descend.backend import manual_seed, set_default_dtype
from descend.tensor import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from descend.ops.elementwise import (Abs, Add, Clamp, Div, Exp, LeakyReLU, Log, Maximum, Minimum, Mul,
                                     Neg, Pow, ReLU, Sigmoid, Softplus, Sqrt, Sub, Tanh, Where)
from descend.ops.movement import cat, flatten, squeeze, stack, transpose, unsqueeze
from descend.ops.api import (abs, add, amax, amin, argmax, argmin, bmm, clamp, clip, div, erf, exp, log,
                             log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mm, mul, neg,
                             permute, pow, relu, reshape, sigmoid, softmax, sqrt, square, std, sub, sum, tanh,
                             var, where)
from descend.ops.creation import (arange, empty, empty_like, eye, full, full_like, linspace, ones, ones_like,
                                  rand, rand_like, randint, randn, randn_like, randperm, zeros, zeros_like)
from descend import functional
from descend.gradcheck import gradcheck
# The user-facing subpackages, so that `import descend` then `descend.nn.Linear`, `descend.optim.Adam` work as
# in PyTorch (`torch.nn`, `torch.optim`).
from descend import io, nn, optim, data  # noqa: E402  (after the engine: they build on it)

__version__ = "0.1.0"

float32 = "float32"
float64 = "float64"
int64 = "int64"

"""descend: a deep-learning training framework written from first principles, with a training doctor."""

from descend import backend
from descend.backend import manual_seed, set_default_dtype
from descend.tensor import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from descend.ops.elementwise import (Abs, Add, Clamp, Div, Exp, LeakyReLU, Log, Maximum, Minimum, Mul,
                                     Neg, Pow, ReLU, Sigmoid, Softplus, Sqrt, Sub, Tanh, Where)
from descend.ops.movement import cat, flatten, squeeze, stack, transpose, unsqueeze

__version__ = "0.1.0"

float32 = "float32"
float64 = "float64"
int64 = "int64"

"""`descend.autograd`: grad modes, anomaly detection, `grad`, and custom differentiable `Function`s.

The engine itself (Tensor, the op base class, the backward pass) is in descend/_tensor.py.
"""

from descend.autograd.anomaly import NonFiniteError, detect_anomaly, register_op_hook
from descend.autograd.function import Function, FunctionCtx, Variable, backward, grad
from descend.autograd.grad_mode import (enable_grad, inference_mode, is_inference_mode_enabled, no_grad,
                                        set_grad_enabled)
from descend._tensor import is_grad_enabled

__all__ = ["Function", "FunctionCtx", "Variable", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly", "register_op_hook",
           "NonFiniteError"]

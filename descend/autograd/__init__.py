"""`descend.autograd`: grad modes, anomaly detection, `grad`, and custom differentiable `Function`s.

The engine itself (Tensor, the op base class, the backward pass) is in descend/_tensor.py.
"""

from descend.autograd.anomaly import NonFiniteError, detect_anomaly, register_op_hook
from descend.autograd.function import Function, FunctionCtx, Variable, backward, grad
from descend.autograd.grad_mode import (enable_grad, inference_mode, is_inference_mode_enabled, no_grad,
                                        set_grad_enabled)
from descend._tensor import is_grad_enabled
from descend.autograd import functional  # noqa: F401  (jacobian, hessian, vjp, jvp, hvp)


def gradcheck(*args, **kwargs):  # type: ignore[no-untyped-def]
    """descend.gradcheck under torch.autograd.gradcheck's import path (imported late: it builds on the engine)."""
    from descend.gradcheck import gradcheck as check
    return check(*args, **kwargs)


def gradgradcheck(*args, **kwargs):  # type: ignore[no-untyped-def]
    """descend.gradcheck.gradgradcheck under torch.autograd's import path."""
    from descend.gradcheck import gradgradcheck as check
    return check(*args, **kwargs)


__all__ = ["Function", "FunctionCtx", "Variable", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly", "register_op_hook",
           "NonFiniteError", "gradcheck", "gradgradcheck"]

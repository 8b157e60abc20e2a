"""Autograd: the tape, grad and backward, custom Functions, grad modes, anomaly detection,
gradcheck, and `functional` (jacobian, hessian, vjp, jvp, vhp, hvp)."""

from . import functional
from .engine import unbroadcast
from .function import Function
from .grad_mode import (
                        detect_anomaly,
                        enable_grad,
                        graph_scope,
                        inference_mode,
                        is_anomaly_enabled,
                        is_grad_enabled,
                        no_grad,
                        set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .gradients import backward, grad
from .variable import Variable

__all__ = ["Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad",
           "functional", "grad", "gradcheck", "gradgradcheck", "graph_scope", "inference_mode",
           "is_anomaly_enabled", "is_grad_enabled", "no_grad", "set_grad_enabled", "unbroadcast",
           "Variable"]

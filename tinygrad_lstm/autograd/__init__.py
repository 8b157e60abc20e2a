"""Autograd: custom Functions, grad modes, anomaly detection, gradcheck and the tape."""

from .engine import backward, unbroadcast
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
from .gradcheck import GradcheckError, gradcheck
from .variable import Variable

__all__ = ["Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad",
           "gradcheck", "graph_scope", "inference_mode", "is_anomaly_enabled", "is_grad_enabled",
           "no_grad", "set_grad_enabled", "unbroadcast", "Variable"]

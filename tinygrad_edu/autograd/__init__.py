"""Reverse-mode automatic differentiation, as ``torch.autograd``.

Reading order: ``grad_mode`` (switching recording on and off), ``function`` (how an op
call is recorded: ``Function`` and ``Node``), ``engine`` (the backward pass),
``gradcheck`` (checking it against finite differences), ``anomaly`` (finding the op that
made a NaN).
"""
from tinygrad_edu.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from tinygrad_edu.autograd.engine import backward, grad
from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_edu.autograd.gradcheck import GradcheckError, check_backward_invariants, gradcheck, gradgradcheck

__all__ = [
    "backward", "check_backward_invariants", "detect_anomaly", "enable_grad", "Function", "grad", "gradcheck",
    "GradcheckError", "gradgradcheck", "inference_mode", "is_anomaly_enabled", "is_grad_enabled", "no_grad", "Node",
    "set_detect_anomaly", "set_grad_enabled",
]

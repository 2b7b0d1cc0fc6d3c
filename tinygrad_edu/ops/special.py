"""Primitives that ``nn`` needs for accuracy, not for speed, and one with no gradient.

- ``Erf`` has no composition from the other ops (it is an integral), and GELU is built on it.
- ``Softplus``, ln(1 + e^x), composed stably needs |x| and max(x, 0), whose kinks at 0
  make the *second* derivative wrong there (0 instead of 1/4); as a primitive its backward
  is ``grad * sigmoid(x)``, smooth everywhere. ``binary_cross_entropy_with_logits`` uses it.
- ``BinaryCrossEntropy`` could be composed from ``log``, but not with PyTorch's behaviour at
  the ends: PyTorch clamps each log at -100 (so a probability of exactly 0 or 1 gives a
  finite loss) and divides its gradient by ``max(x (1 - x), 1e-12)`` (so the gradient is
  finite too). A composition would give ``0 * inf = NaN`` there.
"""
from __future__ import annotations

import math
from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.backend import array_namespace
from tinygrad_edu.tensor import Tensor

#: PyTorch's floor for log(p) in the binary cross-entropy (exp(-100) ~ 4e-44).
LOG_FLOOR = -100.0
#: PyTorch's floor for x (1 - x) in the binary cross-entropy's gradient.
BCE_GRAD_EPS = 1e-12


class Erf(Function):
    """y = erf x = 2/sqrt(pi) * integral_0^x e^(-t^2) dt;  dy/dx = 2/sqrt(pi) * e^(-x^2)."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        ctx.save_for_backward(x)
        return backend.erf(x.array)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * (2.0 / math.sqrt(math.pi)) * (-(x * x)).exp()


class Softplus(Function):
    """y = ln(1 + e^x);  dy/dx = sigmoid(x).

    Computed as max(x, 0) + ln(1 + e^-|x|), which never exponentiates a positive number:
    exact for x = +-1e4, where the naive form overflows or rounds to 0."""

    @staticmethod
    def forward(ctx: Node, x: Tensor) -> Any:
        ctx.save_for_backward(x)
        xp = array_namespace(x.array)
        return xp.maximum(x.array, 0) + xp.log1p(xp.exp(-xp.abs(x.array)))

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * x.sigmoid()


def _clamped_log(array: Any) -> Any:
    """ln(array), but never below -100 (PyTorch's binary cross-entropy rule)."""
    xp = array_namespace(array)
    return xp.maximum(xp.log(array), LOG_FLOOR)


class BinaryCrossEntropy(Function):
    """l = -(t ln x + (1 - t) ln(1 - x));  dl/dx = (x - t) / (x (1 - x)),  dl/dt = ln(1 - x) - ln x.

    As in PyTorch, each ln is clamped at -100 (in dl/dt too) and x (1 - x) at 1e-12, so
    x = 0 or 1 gives a large but finite loss and gradient."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, target: Tensor) -> Any:
        ctx.save_for_backward(x, target)
        log_x, log_1mx = _clamped_log(x.array), _clamped_log(1 - x.array)
        return -(target.array * log_x + (1 - target.array) * log_1mx)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, target = ctx.saved_tensors
        grad_x = grad_target = None
        if ctx.needs_input_grad[0]:
            grad_x = grad * (x - target) / (x * (1 - x)).clamp(min=BCE_GRAD_EPS)
        if ctx.needs_input_grad[1]:
            grad_target = grad * ((1 - x).log().clamp(min=LOG_FLOOR) - x.log().clamp(min=LOG_FLOOR))
        return grad_x, grad_target


class CountNonzero(Function):
    """y = the number of x_i != 0 (the "0-norm");  dy/dx = 0 almost everywhere: no gradient flows.

    A primitive so that the result is part of the graph (as PyTorch's is) while the input's
    ``.grad`` stays None, which is what a step function's derivative amounts to.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor, dims: Any, keepdim: bool) -> Any:
        return (x.array != 0).sum(axis=dims, keepdims=keepdim).astype(x.array.dtype)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[None, None, None]:
        return None, None, None

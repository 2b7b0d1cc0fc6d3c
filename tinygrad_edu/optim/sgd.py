"""Stochastic gradient descent, with PyTorch's momentum, dampening, weight decay and
Nesterov rules, step for step:

    g = grad + weight_decay * p
    b = g                                   (first step)
    b = momentum * b + (1 - dampening) * g  (later steps)
    g = g + momentum * b  if nesterov  else  b
    p = p - lr * g
"""
from __future__ import annotations

from typing import Any, Iterable

from tinygrad_edu.optim.optimizer import Optimizer, check_non_negative
from tinygrad_edu.tensor import Tensor


class SGD(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        check_non_negative("SGD", "learning rate", lr)
        check_non_negative("SGD", "momentum value", momentum)
        check_non_negative("SGD", "weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.array
        momentum = group["momentum"]
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = self.new_state(param, grad)
            else:
                buffer.array *= momentum
                buffer.array += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer.array if group["nesterov"] else buffer.array
        param.array -= group["lr"] * grad

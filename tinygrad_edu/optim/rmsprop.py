"""RMSprop, with PyTorch's update rule step for step:

    g = grad + weight_decay * p
    s = alpha s + (1 - alpha) g^2                 (running mean of the squared gradient)
    a = g_mean + (1 - alpha) (g - g_mean)         (centered only: running mean of g)
    d = sqrt(s - a^2) + eps  if centered  else  sqrt(s) + eps
    b = momentum b + g / d;  p = p - lr b         (with momentum)
    p = p - lr g / d                              (without)
"""
from __future__ import annotations

from typing import Any, Iterable

from tinygrad_edu import backend
from tinygrad_edu.optim.optimizer import Optimizer, check_non_negative
from tinygrad_edu.tensor import Tensor


class RMSprop(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)):
            check_non_negative("RMSprop", name, value)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = backend.array_namespace(param.array)
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = Tensor(0.0)
            state["square_avg"] = self.new_state(param)
            if momentum > 0:
                state["momentum_buffer"] = self.new_state(param)
            if group["centered"]:
                state["grad_avg"] = self.new_state(param)
        state["step"].array += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.array

        square_avg = state["square_avg"].array
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"].array
            grad_avg += (1 - alpha) * (grad - grad_avg)
            denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            denominator = xp.sqrt(square_avg) + group["eps"]

        if momentum > 0:
            buffer = state["momentum_buffer"].array
            buffer *= momentum
            buffer += grad / denominator
            param.array -= group["lr"] * buffer
        else:
            param.array -= group["lr"] * grad / denominator

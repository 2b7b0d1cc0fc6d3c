"""Adam and AdamW, with PyTorch's update rules step for step (t counts from 1):

    g   = grad + weight_decay * p        (Adam's L2 penalty; AdamW instead does p *= 1 - lr * wd)
    m   = m + (1 - beta1) (g - m)        (a running mean of the gradient)
    v   = beta2 v + (1 - beta2) g^2      (a running mean of its square)
    p   = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The two ``1 - beta^t`` factors undo the bias of starting the means at zero. With
``amsgrad=True`` the denominator uses the largest v seen so far.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from tinygrad_edu import backend
from tinygrad_edu.optim.optimizer import Optimizer, check_beta, check_non_negative
from tinygrad_edu.tensor import Tensor


class Adam(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        name = type(self).__name__
        check_non_negative(name, "learning rate", lr)
        check_non_negative(name, "epsilon value", eps)
        check_non_negative(name, "weight_decay value", weight_decay)
        check_beta(name, 0, betas[0])
        check_beta(name, 1, betas[1])
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = backend.array_namespace(param.array)
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = Tensor(0.0)
            state["exp_avg"] = self.new_state(param)
            state["exp_avg_sq"] = self.new_state(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = self.new_state(param)
        state["step"].array += 1
        step = float(state["step"].array)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.array *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param.array

        exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"].array, exp_avg_sq, out=state["max_exp_avg_sq"].array)
            exp_avg_sq = state["max_exp_avg_sq"].array

        step_size = lr / (1 - beta1**step)
        denominator = xp.sqrt(exp_avg_sq) / math.sqrt(1 - beta2**step) + eps
        param.array -= step_size * exp_avg / denominator


class AdamW(Adam):
    """Adam with *decoupled* weight decay: the parameter shrinks by ``lr * weight_decay``
    directly instead of through the gradient (default ``weight_decay=1e-2``); the same as
    ``Adam(..., decoupled_weight_decay=True)``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

"""``nn.utils``: gradient clipping and flattening parameters into one vector.

``clip_grad_norm_`` is the usual guard against exploding gradients: if the norm of all
gradients together (as if concatenated into one vector) exceeds ``max_norm``, every
gradient is scaled by ``max_norm / total_norm``, so the direction of the update is kept.
"""
from __future__ import annotations

from typing import Any, Iterable

from tinygrad_edu import backend
from tinygrad_edu.autograd import no_grad
from tinygrad_edu.functional import cat, norm, stack
from tinygrad_edu.tensor import Tensor


def _with_grads(parameters: Any) -> list[Tensor]:
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [param for param in parameters if param.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Tensor:
    """Scale the gradients in place so that their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm measured before clipping."""
    params = _with_grads(parameters)
    if not params:
        return Tensor(0.0)
    with no_grad():
        per_tensor = stack([norm(param.grad.detach(), norm_type) for param in params])
        total = norm(per_tensor, norm_type)
        if error_if_nonfinite and not bool(total.isfinite()):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
                f"({total.item()}), so it cannot be clipped; pass error_if_nonfinite=False to scale anyway"
            )
        # As PyTorch: the factor in the norm's dtype, at most 1 (NaN stays NaN); a tensor, not
        # a Python float, so that a jit.capture'd step computes it afresh on every replay.
        scale = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
        with backend.quiet_float_errors():
            for param in params:
                param.grad.array *= scale.array.astype(param.grad.array.dtype, copy=False)
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: Any = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    with no_grad():
        for param in _with_grads(parameters):
            param.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (in order)."""
    return cat([param.reshape(-1) for param in parameters])


def vector_to_parameters(vector: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vector`` into the parameters (the inverse of the above)."""
    params = list(parameters)
    needed = sum(param.numel() for param in params)
    if vector.ndim != 1 or vector.numel() != needed:
        raise RuntimeError(f"vector_to_parameters: expected a 1-D vector of {needed} elements, got shape {vector.shape}")
    start = 0
    with no_grad():
        for param in params:
            param.copy_(vector[start:start + param.numel()].reshape(param.shape))
            start += param.numel()

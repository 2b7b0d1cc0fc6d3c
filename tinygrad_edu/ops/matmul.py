"""Matrix multiplication, for 1-D, 2-D and batched operands, as ``torch.matmul``.

For matrices, C = A @ B gives dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC.

The other cases are reduced to that one. A 1-D left operand is a row vector (a 1 is
inserted before its last axis), a 1-D right operand is a column vector (a 1 is appended);
leading "batch" axes broadcast like any elementwise op. The backward pass computes the
matrix-case gradients on those promoted shapes, sums away the broadcast batch axes
(``unbroadcast``) and drops the inserted 1s (``reshape``).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.broadcasting import broadcast_shape, unbroadcast
from tinygrad_edu.tensor import Tensor


Shape = tuple[int, ...]


def matrix_shapes(a_shape: Shape, b_shape: Shape) -> tuple[Shape, Shape, Shape]:
    """The operands' shapes promoted to (batch..., rows, cols) and the promoted output shape.

    Raises an error naming both shapes when they cannot be multiplied.
    """
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {a_shape} and {b_shape}")
    a2 = (1,) + a_shape if len(a_shape) == 1 else a_shape
    b2 = b_shape + (1,) if len(b_shape) == 1 else b_shape
    if a2[-1] != b2[-2]:
        raise RuntimeError(
            f"matmul: shapes {a_shape} and {b_shape} cannot be multiplied ({a2[-1]} != {b2[-2]})"
        )
    try:
        batch = broadcast_shape("matmul", a2[:-2], b2[:-2])
    except RuntimeError:
        raise RuntimeError(f"matmul: the batch dimensions of shapes {a_shape} and {b_shape} do not broadcast") from None
    return a2, b2, batch + (a2[-2], b2[-1])


class Matmul(Function):
    """C = A @ B;  dL/dA = dL/dC @ B^T,  dL/dB = A^T @ dL/dC (on the promoted shapes)."""

    @staticmethod
    def forward(ctx: Node, a: Tensor, b: Tensor) -> Any:
        matrix_shapes(a.shape, b.shape)  # checks the shapes, with a clear error
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b.shape)
        return a.array @ b.array

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        a2_shape, b2_shape, out2_shape = matrix_shapes(a_shape, b_shape)
        grad = _reshaped(grad, out2_shape)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = _reshaped(unbroadcast(grad @ _reshaped(b, b2_shape).transpose(-1, -2), a2_shape), a_shape)
        if ctx.needs_input_grad[1]:
            grad_b = _reshaped(unbroadcast(_reshaped(a, a2_shape).transpose(-1, -2) @ grad, b2_shape), b_shape)
        return grad_a, grad_b


def _reshaped(tensor: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``tensor.reshape(shape)``, skipped in the common 2-D case where nothing changes."""
    return tensor if tensor.shape == shape else tensor.reshape(shape)

"""The ops as functions: ``tinygrad_edu.exp(x)`` is ``x.exp()``, as in PyTorch.

Only ``cat`` and ``stack`` (which take a list of tensors) and ``where`` are more than a
one-line call of the Tensor method; the rules of every op live with the method.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu import backend, ops
from tinygrad_edu.broadcasting import normalize_dim
from tinygrad_edu.operands import promote_operands
from tinygrad_edu.tensor import Tensor, where  # where lives next to Tensor, which uses it

__all__ = [
    "abs", "argmax", "argmin", "cat", "clamp", "cos", "exp", "log", "log_softmax", "logsumexp", "matmul", "max",
    "maximum", "mean", "mm", "min", "minimum", "pow", "relu", "sigmoid", "sin", "softmax", "sqrt", "stack", "sum", "tanh",
    "where", "allclose", "is_tensor", "numel",
]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    tensors = promote_operands("cat", *tensors, check_broadcast=False)
    first = tensors[0]
    axis = normalize_dim("cat", dim, first.ndim)
    if first.ndim == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated")
    for tensor in tensors[1:]:
        if tensor.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(tensor.shape, first.shape)) if i != axis):
            raise RuntimeError(
                f"cat: shapes {first.shape} and {tensor.shape} must match in every dimension except dimension {dim}"
            )
    return ops.Cat.apply(axis, *tensors)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    for tensor in tensors[1:]:
        if tensor.shape != tensors[0].shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got {tensors[0].shape} and {tensor.shape}")
    axis = normalize_dim("stack", dim, tensors[0].ndim + 1)
    return cat([tensor.unsqueeze(axis) for tensor in tensors], axis)


def matmul(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument names
    return input.matmul(other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    return input.mm(mat2)


def maximum(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.maximum(other)


def minimum(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.minimum(other)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002
    return input.pow(exponent) if isinstance(input, Tensor) else exponent.__rpow__(input)


def exp(input: Tensor) -> Tensor:  # noqa: A002
    return input.exp()


def log(input: Tensor) -> Tensor:  # noqa: A002
    return input.log()


def sqrt(input: Tensor) -> Tensor:  # noqa: A002
    return input.sqrt()


def sin(input: Tensor) -> Tensor:  # noqa: A002
    return input.sin()


def cos(input: Tensor) -> Tensor:  # noqa: A002
    return input.cos()


def abs(input: Tensor) -> Tensor:  # noqa: A001, A002
    return input.abs()


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return input.sigmoid()


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return input.relu()


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A001, A002
    return input.clamp(min, max)


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001, A002
    return input.sum(dim, keepdim, dtype=dtype)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.mean(dim, keepdim)


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    return input.max(dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    return input.min(dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.argmax(dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.argmin(dim, keepdim)


def softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return input.log_softmax(dim)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.logsumexp(dim, keepdim)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:  # noqa: A002
    xp = backend.array_namespace(input.array)
    return bool(xp.allclose(input.array, other.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002
    return input.numel()


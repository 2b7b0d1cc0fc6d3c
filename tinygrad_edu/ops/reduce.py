"""Reduction primitives: ``Sum``, ``Amax`` and ``Prod`` over a tuple of axes.

``dims`` arrive already checked and normalised (a sorted tuple of non-negative axes, see
``broadcasting.normalize_dims``). Every other reduction (mean, var, std, min, logsumexp,
softmax...) is composed from these in ``tensor.py``.

A reduction's backward has to undo the lost axes: the gradient of the output is reshaped to
the "kept" shape (size 1 on each reduced axis) and expanded back to the input's shape.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.backend import int64
from tinygrad_edu.tensor import Tensor


def kept_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a reduction with keepdim=True: 1 on each reduced axis."""
    return tuple(1 if axis in dims else size for axis, size in enumerate(shape))


class Sum(Function):
    """y = sum of x over dims;  dy/dx = 1 for every element, so the gradient is broadcast back."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, dims: tuple[int, ...], keepdim: bool) -> Any:
        ctx.input_shape = x.shape
        ctx.dims = dims
        result_dtype = None if x.dtype.is_floating_point else int64.numpy_dtype  # bool/int sums are int64
        return x.array.sum(axis=dims, keepdims=keepdim, dtype=result_dtype)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None, None]:
        kept = kept_shape(ctx.input_shape, ctx.dims)
        if grad.shape != kept:  # keepdim=False dropped the reduced axes: put them back
            grad = grad.reshape(kept)
        return grad.expand(ctx.input_shape), None, None


class Amax(Function):
    """y = max of x over dims;  dy/dx = 1 at the maximum, 0 elsewhere.

    Where several elements tie for the maximum, the gradient is shared equally between them
    (as PyTorch's ``amax`` and ``max()`` without ``dim`` do), so the sum is still right.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor, dims: tuple[int, ...], keepdim: bool) -> Tensor:
        if x.numel() == 0:
            raise RuntimeError(f"max: cannot reduce an empty tensor of shape {x.shape}: there is no maximum")
        y = Tensor._wrap(x.array.max(axis=dims, keepdims=keepdim))
        ctx.dims = dims
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None, None]:
        x, y = ctx.saved_tensors
        shape = kept_shape(x.shape, ctx.dims)
        is_max = (x == y.reshape(shape)).to(grad.dtype)  # a constant: where the maxima are
        share = is_max / is_max.sum(dim=ctx.dims, keepdim=True)
        return grad.reshape(shape) * share, None, None


class Prod(Function):
    """y = product of x over dims;  dy/dx_i = product of all the other elements.

    "All the others" is y / x_i only where x_i != 0. Where x_i == 0, it is the product of the
    non-zero elements if x_i is the only zero of its slice, and 0 if there are more zeros.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor, dims: tuple[int, ...], keepdim: bool) -> Tensor:
        result_dtype = None if x.dtype.is_floating_point else int64.numpy_dtype
        y = Tensor._wrap(x.array.prod(axis=dims, keepdims=keepdim, dtype=result_dtype))
        ctx.dims = dims
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None, None]:
        x, y = ctx.saved_tensors
        shape = kept_shape(x.shape, ctx.dims)
        y = y.reshape(shape)
        is_zero = x == 0
        others_if_nonzero = y / x.where(~is_zero, 1.0)
        product_of_nonzeros = Prod.apply(x.where(~is_zero, 1.0), ctx.dims, True)
        single_zero = is_zero.sum(dim=ctx.dims, keepdim=True) == 1
        others_if_zero = product_of_nonzeros.where(single_zero, 0.0)
        others = others_if_nonzero.where(~is_zero, others_if_zero)
        return grad.reshape(shape) * others, None, None

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
from tinygrad_edu.autograd.grad_mode import GRAD_MODE
from tinygrad_edu.backend import array_namespace, int64
from tinygrad_edu.broadcasting import count_elements
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

    "All the others" is y / x_i where x_i != 0. Where x_i == 0 it is the product of the
    non-zero elements if x_i is the only zero of its slice, and 0 if there are more zeros.
    That 0 is right in value but flat, while the true "product of the others" still depends
    on the other zeros; so when the gradient itself is being differentiated
    (``create_graph=True``) and a slice has two or more zeros, the products are formed
    explicitly instead (``product_of_others``), which is exact to any order.
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
        if GRAD_MODE.enabled and bool((is_zero.sum(dim=ctx.dims) > 1).any()):
            return grad.reshape(shape) * product_of_others(x, ctx.dims), None, None
        others_if_nonzero = y / x.where(~is_zero, 1.0)
        product_of_nonzeros = Prod.apply(x.where(~is_zero, 1.0), ctx.dims, True)
        single_zero = is_zero.sum(dim=ctx.dims, keepdim=True) == 1
        others_if_zero = product_of_nonzeros.where(single_zero, 0.0)
        others = others_if_nonzero.where(~is_zero, others_if_zero)
        return grad.reshape(shape) * others, None, None


def product_of_others(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """For each element, the product of the other elements of its slice over ``dims``, in
    differentiable Tensor ops: the reduced axes are flattened into one axis of length n, the
    slice is copied n times with the i-th copy's i-th element set to 1, and each copy is
    multiplied out. O(n^2) memory, so Prod uses it only when it must."""
    kept = [axis for axis in range(x.ndim) if axis not in dims]
    moved = x.permute(*kept, *dims)
    outer = moved.shape[:len(kept)]
    n = count_elements(moved.shape, range(len(kept), x.ndim))
    flat = moved.reshape(*outer, 1, n).expand(*outer, n, n)
    diagonal = Tensor._wrap(array_namespace(x.array).eye(n, dtype=bool))
    others = flat.where(~diagonal, 1.0).prod(-1).reshape(moved.shape)
    inverse = [0] * x.ndim
    for position, axis in enumerate(kept + list(dims)):
        inverse[axis] = position
    return others.permute(*inverse)


class Cumsum(Function):
    """y_i = x_0 + ... + x_i along a dim;  dL/dx_i = g_i + ... + g_n: the gradients summed from the end."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, dim: int) -> Any:
        ctx.dim = dim
        return array_namespace(x.array).cumsum(x.array, axis=dim)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        # x_i appears in y_i, y_i+1, ..., y_n: a cumulative sum of the reversed gradient, reversed.
        from_the_end = Cumsum.apply(grad.flip(ctx.dim), ctx.dim)
        return from_the_end.flip(ctx.dim), None

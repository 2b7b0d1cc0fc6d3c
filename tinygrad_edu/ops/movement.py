"""Primitives that move elements without doing arithmetic on them.

``Reshape``, ``Permute`` (transpose), ``Expand`` (broadcast_to), ``Index`` (``x[key]``), its
adjoint ``IndexAdd``, ``Cat``, and ``ToDevice`` (``x.to("cuda")``), which moves every element
to another device's memory. Each backward moves the gradient back to where the
elements came from. Everything else about shapes (view, flatten, squeeze, unsqueeze,
transpose, repeat, stack, split, chunk, gather) is composed from these in ``tensor.py``.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.autograd.function import Function, Node
from tinygrad_edu.backend import array_namespace
from tinygrad_edu.broadcasting import unbroadcast
from tinygrad_edu.tensor import Tensor


class Reshape(Function):
    """y = x with a new shape (same elements, same order);  the gradient is reshaped back."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, shape: tuple[int, ...]) -> Any:
        ctx.input_shape = x.shape
        return x.array.reshape(shape)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        return grad.reshape(ctx.input_shape), None


class Permute(Function):
    """y = x with its axes reordered by ``dims``;  the gradient is permuted by the inverse."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, dims: tuple[int, ...]) -> Any:
        ctx.dims = dims
        return x.array.transpose(dims)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        inverse = [0] * len(ctx.dims)
        for position, axis in enumerate(ctx.dims):
            inverse[axis] = position
        return grad.permute(*inverse), None


class Expand(Function):
    """y = x broadcast to ``shape`` (no copy);  dy/dx: the gradient summed over the copies.

    Each input element was used many times, so its gradient is the sum of the gradients of
    its copies: ``unbroadcast``."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, shape: tuple[int, ...]) -> Any:
        ctx.input_shape = x.shape
        return array_namespace(x.array).broadcast_to(x.array, shape)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        return unbroadcast(grad, ctx.input_shape), None


def has_integer_array(key: tuple[Any, ...]) -> bool:
    """Does an index key hold an integer array (which may name one element several times)?"""
    return any(getattr(part, "dtype", None) is not None and part.dtype.kind in "iu" for part in key)


class Index(Function):
    """y = x[key];  the gradient is scattered back to the positions that were read.

    ``key`` is already normalised by ``Tensor.__getitem__``: a tuple of ints, slices, None,
    Ellipsis and backend integer/boolean arrays.
    """

    @staticmethod
    def forward(ctx: Node, x: Tensor, key: tuple[Any, ...]) -> Any:
        ctx.key = key
        ctx.input_shape = x.shape
        try:
            return x.array[key]
        except IndexError as error:
            raise IndexError(f"index: {error} (indexing a tensor of shape {x.shape})") from None

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        return IndexAdd.apply(grad, ctx.key, ctx.input_shape), None


class IndexAdd(Function):
    """y = zeros(shape) with ``values`` added at ``key``;  dy/dvalues: the gradient read back at ``key``.

    The adjoint of ``Index``. Integer-array keys can name an element twice (``x[[0, 0]]``): those gradients must add
    up, so they go through a scatter-add (NumPy's ``add.at``), which accumulates, instead of an assignment, which
    would keep only the last.
    """

    @staticmethod
    def forward(ctx: Node, values: Tensor, key: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
        ctx.key = key
        result = array_namespace(values.array).zeros(shape, values.array.dtype)
        if has_integer_array(key):
            backend.scatter_add(result, key, values.array)
        else:
            result[key] = values.array
        return result

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None, None]:
        return Index.apply(grad, ctx.key), None, None


class Cat(Function):
    """y = the tensors joined along ``dim``;  each input's gradient is its slice of the output's."""

    @staticmethod
    def forward(ctx: Node, dim: int, *tensors: Tensor) -> Any:
        ctx.dim = dim
        ctx.sizes = [tensor.shape[dim] for tensor in tensors]
        return array_namespace(tensors[0].array).concatenate([tensor.array for tensor in tensors], axis=dim)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, ...]:
        grads: list[Tensor | None] = [None]  # for `dim`
        start = 0
        for index, size in enumerate(ctx.sizes):
            if ctx.needs_input_grad[index + 1]:
                key = (slice(None),) * ctx.dim + (slice(start, start + size),)
                grads.append(Index.apply(grad, key))
            else:
                grads.append(None)
            start += size
        return tuple(grads)


class IndexPut(Function):
    """y = x with y[key] = values;  dy/dx = 1 outside ``key``, 0 inside; dy/dvalues = the gradient at ``key``.

    This is ``x[key] = values`` recorded on the graph."""

    @staticmethod
    def forward(ctx: Node, x: Tensor, values: Tensor, key: tuple[Any, ...]) -> Any:
        ctx.key = key
        result = x.array.copy()
        try:
            result[key] = values.array
        except (IndexError, ValueError) as error:
            raise type(error)(f"setitem: {error} (tensor of shape {x.shape}, value of shape {values.shape})") from None
        return result

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        grad_x = IndexPut.apply(grad, grad.new_zeros(()), ctx.key) if ctx.needs_input_grad[0] else None
        grad_values = Index.apply(grad, ctx.key) if ctx.needs_input_grad[1] else None
        return grad_x, grad_values, None


class ToDevice(Function):
    """y = x copied to another device;  the gradient is copied back to x's device.

    ``x.to("cuda")`` is on the graph, as in PyTorch: a loss computed on the GPU from a CPU
    leaf still gives that leaf a gradient, on the CPU.
    """

    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx: Node, x: Tensor, where: backend.device) -> Any:
        ctx.source = x.device
        return backend.to_device(x.array, where)

    @staticmethod
    def backward(ctx: Node, grad: Tensor) -> tuple[Tensor, None]:
        return ToDevice.apply(grad, ctx.source), None

"""Every broadcasting rule, and the checks on ``dim`` and shape arguments, in one place.

Broadcasting (NumPy's and PyTorch's rule): align two shapes at their right end; each pair
of sizes must be equal or one of them 1; a missing leading dimension counts as 1.

    (4, 1, 3) and (5, 3)  ->  (4, 5, 3)
    (3,)      and ()      ->  (3,)
    (2, 3)    and (4,)    ->  error: 3 and 4 differ and neither is 1

The forward pass of a binary op broadcasts its inputs to a common shape, so the gradient
that flows back has that common shape. Each input only contributed once per element of
its *own* shape, so the gradient has to be summed over the dimensions that broadcasting
added or stretched: that is :func:`unbroadcast`, called by the backward pass for every
input (``autograd/engine.py``) and by ``Expand``.
"""
from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor

Shape = tuple[int, ...]


def broadcast_shape(op: str, *shapes: Shape) -> Shape:
    """The shape that ``shapes`` broadcast to, or a RuntimeError naming ``op`` and the shapes.

    >>> broadcast_shape("add", (4, 1, 3), (5, 3))
    (4, 5, 3)
    """
    ndim = max(len(shape) for shape in shapes)
    result = []
    for axis in range(-ndim, 0):
        size = 1
        for shape in shapes:
            if -axis > len(shape):
                continue
            other = shape[axis]
            if other == size or other == 1:
                continue
            if size == 1:
                size = other
                continue
            shown = " and ".join(str(tuple(s)) for s in shapes)
            raise RuntimeError(
                f"{op}: shapes {shown} are not broadcastable "
                f"(size {size} vs {other} at dimension {axis} counted from the end)"
            )
        result.append(size)
    return tuple(result)


def unbroadcast(grad: "Tensor", shape: Shape) -> "Tensor":
    """Sum ``grad`` down to ``shape``, undoing the broadcasting of a forward pass.

    Two steps, both plain Tensor ops so that the result stays differentiable:
    1. sum away the leading dimensions that broadcasting prepended;
    2. sum (keeping the dimension) where the input had size 1 and the gradient does not.

    >>> unbroadcast(ones(4, 5, 3), (5, 1)).shape   # summed over dim 0, then over dim 2
    (5, 1)
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"unbroadcast: gradient of shape {grad.shape} cannot be reduced to shape {shape}")
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(dim=stretched, keepdim=True)
    if grad.shape != shape:
        raise RuntimeError(f"unbroadcast: gradient of shape {grad.shape} does not match input shape {shape}")
    return grad


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis, or an IndexError naming ``op`` and the valid range.

    A 0-d tensor accepts dims -1 and 0, as in PyTorch.
    """
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    dim = operator.index(dim)
    low, high = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not low <= dim <= high:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{low}, {high}], but got {dim})")
    return dim % ndim if ndim > 0 else 0


def normalize_dims(op: str, dim: "int | Iterable[int] | None", ndim: int) -> tuple[int, ...]:
    """A sorted tuple of non-negative axes; ``None`` (or ``()``) means every axis.

    Repeated dims are an error, as in PyTorch.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if hasattr(dim, "__index__") else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    axes = tuple(sorted(normalize_dim(op, d, ndim) for d in dims))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {dim} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return axes


# ----------------------------------------------------------------------------------------
# shape arguments
# ----------------------------------------------------------------------------------------


def count_elements(shape: tuple[int, ...], axes: Any) -> int:
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


def shape_from_args(args: tuple[Any, ...]) -> tuple[int, ...]:
    """``reshape(2, 3)``, ``reshape((2, 3))`` and ``reshape([2, 3])`` all mean (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(operator.index(size) for size in args)


def resolve_shape(op: str, shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """Fill in a -1 in ``target`` and check that the element count is unchanged."""
    total = count_elements(shape, range(len(shape)))
    if target.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {target}")
    if -1 in target:
        known = count_elements(target, [axis for axis, size in enumerate(target) if size != -1])
        if known == 0 or total % known != 0:
            raise RuntimeError(f"{op}: shape {target} is invalid for a tensor of shape {shape} ({total} elements)")
        target = tuple(total // known if size == -1 else size for size in target)
    if any(size < 0 for size in target) or count_elements(target, range(len(target))) != total:
        raise RuntimeError(f"{op}: shape {target} is invalid for a tensor of shape {shape} ({total} elements)")
    return target

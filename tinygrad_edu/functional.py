"""The ops as functions: ``tinygrad_edu.exp(x)`` is ``x.exp()``, as in PyTorch.

Most are a one-line call of the Tensor method, whose op holds the rules. More than that:
``cat`` and ``stack`` (a list of tensors), ``norm``, and at the end of the file the sorting,
selecting, flipping and rounding ops, composed from indexing and ``where`` (their Tensor
methods, in ``tensor_extras.py``, call them).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from tinygrad_edu import backend, ops
from tinygrad_edu.broadcasting import normalize_dim, normalize_dims
from tinygrad_edu.operands import promote_operands
from tinygrad_edu.tensor import Tensor, ValuesIndices, _rebinding, where  # where lives next to Tensor, which uses it

__all__ = [
    "abs", "add", "all", "allclose", "amax", "amin", "any", "argmax", "argmin", "argsort", "bmm", "cat", "ceil",
    "chunk", "clamp", "clone", "cumsum", "cos", "div", "eq", "exp", "flatten", "flip", "floor", "gather", "ge", "gt",
    "index_select", "is_tensor", "isfinite", "isinf", "isnan", "le", "log", "log_softmax", "logsumexp", "lt",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul", "ne", "neg", "norm", "numel", "permute", "pow",
    "prod", "relu", "reshape", "round", "rsqrt", "sigmoid", "sign", "sin", "softmax", "sort", "split", "sqrt",
    "square", "squeeze", "stack", "std", "sub", "sum", "t", "tanh", "topk", "transpose", "unsqueeze", "var", "where",
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
        mismatched = [i for i, (a, b) in enumerate(zip(tensor.shape, first.shape)) if a != b and i != axis]
        if tensor.ndim != first.ndim or mismatched:
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


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002 - PyTorch's names
    return _into(out, input.matmul(other), "matmul")


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


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The p-norm over ``dim`` (all elements when None): (sum |x|^p)^(1/p); ``p`` is 2 (or
    "fro", the default), 1, any positive number, ``inf`` (max |x|), ``-inf`` (min |x|) or 0
    (the number of non-zeros, which has no gradient).

    Where the derivative is infinite (the root at a zero vector, |x|^p with p < 1 at x = 0)
    while the inner derivative is 0, the chain rule would give 0 * inf = NaN; as in PyTorch
    the gradient there is 0 instead: the power is taken of 1 at those points, and ``where``
    sends no gradient to that branch. NaN inputs still give a NaN norm.
    """
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"norm: expected a floating point tensor, got {input.dtype}")
    magnitude = input.abs()
    dim = tuple(range(input.ndim)) if dim is None else dim
    if p == math.inf or p == -math.inf:
        return magnitude.amax(dim, keepdim) if p > 0 else magnitude.amin(dim, keepdim)
    if p == 0:
        return ops.CountNonzero.apply(input, dim, keepdim)
    if p == 1:
        return magnitude.sum(dim, keepdim)
    power = 2.0 if p in ("fro", 2) else p
    if isinstance(power, bool) or not isinstance(power, (int, float)) or power < 0:
        raise ValueError(f"norm: p must be 'fro', 0, a positive number or +-inf, got {p!r}")
    if power == 2:
        total = (input * input).sum(dim, keepdim)
    else:
        zero = magnitude == 0
        total = where(zero, 0.0, where(zero, 1.0, magnitude) ** power).sum(dim, keepdim)
    zero_total = total == 0
    safe = where(zero_total, 1.0, total)
    return where(zero_total, 0.0, safe.sqrt() if power == 2 else safe ** (1.0 / power))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    return input.flatten(start_dim, end_dim)


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:  # noqa: A002
    return input.reshape(shape)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    return input.squeeze(dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return input.unsqueeze(dim)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    return input.transpose(dim0, dim1)


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:  # noqa: A002
    return input.permute(*dims)


def t(input: Tensor) -> Tensor:  # noqa: A002
    return input.t()


def square(input: Tensor) -> Tensor:  # noqa: A002
    return input.square()


def sign(input: Tensor) -> Tensor:  # noqa: A002
    return input.sign()


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    return input.rsqrt()


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None) -> Tensor:
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None) -> Tensor:
    return input.std(dim, unbiased, keepdim, correction=correction)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.prod(dim, keepdim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    return input.chunk(chunks, dim)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return tensor.split(split_size_or_sections, dim)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    return input.gather(dim, index)


def add(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:  # noqa: A002
    return _into(out, _as_tensor(input).add(other, alpha=alpha), "add")


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:  # noqa: A002
    return _into(out, _as_tensor(input).sub(other, alpha=alpha), "sub")


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    return _into(out, _as_tensor(input).mul(other), "mul")


def div(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    return _into(out, _as_tensor(input).div(other), "div")


def neg(input: Tensor) -> Tensor:  # noqa: A002
    return input.neg()


def isnan(input: Tensor) -> Tensor:  # noqa: A002
    return input.isnan()


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    return input.isinf()


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    return input.isfinite()


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    return input.all(dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    return input.any(dim, keepdim)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.amax(dim, keepdim)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.amin(dim, keepdim)


def clone(input: Tensor) -> Tensor:  # noqa: A002
    return input.clone()


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def eq(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input.eq(other)


def ne(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input.ne(other)


def lt(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input.lt(other)


def le(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input.le(other)


def gt(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input.gt(other)


def ge(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input.ge(other)


def _into(out: Tensor | None, result: Tensor, op: str) -> Tensor:
    """PyTorch's ``out=``: the result is written into ``out`` (resized if its shape differs),
    which is returned. Not on the graph, as in PyTorch: inputs that require grad are refused."""
    if out is None:
        return result
    if result.requires_grad:
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad")
    if out.shape == result.shape:
        backend.copy_into(out.array, result.array)
    else:
        _rebinding(out, "resizes an out= tensor")
        out.array = result.array.astype(out.array.dtype)
    out._version[0] += 1
    return out


# ----------------------------------------------------------------------------------------
# sorting, selecting, flipping, rounding: compositions of indexing and where
# ----------------------------------------------------------------------------------------


def _along(dim: int, ndim: int, index: Any) -> tuple[Any, ...]:
    """An index key that applies ``index`` to dimension ``dim`` and keeps the others whole."""
    return (slice(None),) * dim + (index,)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (int64, outside the graph). Ties keep
    their order (a stable sort), ascending or descending."""
    axis = normalize_dim("argsort", dim, input.ndim if input.ndim else 1)
    values = input.array if input.ndim else input.array.reshape(1)
    order = backend.stable_argsort(-values if descending else values, axis)
    return Tensor._wrap(order.reshape(input.shape).astype(backend.int64.numpy_dtype))


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:  # noqa: A002
    """``(values, indices)`` sorted along ``dim``; the values are gathered from ``input``, so
    their gradient flows back to the places they came from."""
    indices = argsort(input, dim, descending)
    if input.ndim == 0:
        return ValuesIndices(input.clone(), indices)
    return ValuesIndices(input.gather(dim, indices), indices)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    size = input.shape[normalize_dim("topk", dim, input.ndim)] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {size}")
    indices = argsort(input, dim, descending=largest)
    if input.ndim:
        indices = indices[_along(normalize_dim("topk", dim, input.ndim), input.ndim, slice(0, k))]
        return ValuesIndices(input.gather(dim, indices), indices)
    return ValuesIndices(input.clone(), indices)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of ``input`` at ``index`` (1-D int64) along ``dim``; repeated indices
    accumulate gradient."""
    if not isinstance(index, Tensor) or index.dtype is not backend.int64 or index.ndim > 1:
        raise RuntimeError(f"index_select: index must be a 1-D int64 tensor, got {index!r:.60}")
    axis = normalize_dim("index_select", dim, input.ndim)
    return input[_along(axis, input.ndim, index.reshape(-1))]


def flip(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    """``input`` with the order of elements reversed along each of ``dims``."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not dims:
        return input.clone()
    result = input
    for axis in normalize_dims("flip", dims, input.ndim):
        reverse = Tensor._wrap(backend.array_namespace().arange(input.shape[axis] - 1, -1, -1))
        result = result[_along(axis, input.ndim, reverse)]
    return result


def _without_gradient(input: Tensor, values: Any) -> Tensor:  # noqa: A002
    """``values`` as a result of ``input`` whose gradient is 0 everywhere (round, floor,
    ceil are step functions): a ``where`` that always takes the values passes nothing back."""
    never = Tensor._wrap(backend.zeros(input.shape, backend.bool, input.device))
    return where(never, input, Tensor._wrap(values))


def round(input: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """Rounds half to even, as PyTorch does; gradient 0."""
    xp = backend.array_namespace(input.array)
    return _without_gradient(input, xp.round(input.array, decimals)) if input.dtype.is_floating_point else input


def floor(input: Tensor) -> Tensor:  # noqa: A002
    xp = backend.array_namespace(input.array)
    return _without_gradient(input, xp.floor(input.array)) if input.dtype.is_floating_point else input


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    xp = backend.array_namespace(input.array)
    return _without_gradient(input, xp.ceil(input.array)) if input.dtype.is_floating_point else input


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """Batched matrix product of two 3-D tensors (b, n, m) @ (b, m, p)."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got shapes {input.shape} and {mat2.shape}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {input.shape} and {mat2.shape}")
    return input.matmul(mat2)


def cumsum(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """Running sums along ``dim`` (the primitive ``ops.Cumsum``); integers and bools give int64."""
    axis = normalize_dim("cumsum", dim, input.ndim if input.ndim else 1)
    source = input if input.dtype.is_floating_point else input.to(backend.int64)
    if input.ndim == 0:
        return source.clone()
    return ops.Cumsum.apply(source, axis)

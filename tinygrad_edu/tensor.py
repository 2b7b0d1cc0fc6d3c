"""``Tensor``: an array, the gradient that flows back to it, and its link into the graph.

A Tensor holds
- ``array``: the values, a backend array (NumPy today);
- ``requires_grad``: whether gradients should flow back to it;
- ``grad_fn``: the :class:`~tinygrad_edu.autograd.function.Node` of the op that made it
  (``None`` for a *leaf*: data or a parameter);
- ``grad``: the accumulated gradient of a leaf after ``backward()``.

Its methods only check arguments, apply PyTorch's type promotion and then call an op:
either a *primitive* from ``ops/`` (which has a hand-written backward rule) or a
*composition* of other methods (softmax, var, repeat, ...), which gets its gradient for
free. The file is in sections: construction, conversion, autograd, arithmetic, math,
reductions, shapes and indexing, in-place ops.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from tinygrad_edu import backend, tracing
from tinygrad_edu.backend import DType
from tinygrad_edu.broadcasting import (
    broadcast_shape, count_elements, normalize_dim, normalize_dims, resolve_shape, shape_from_args,
)
from tinygrad_edu.indexing import index_key, split_ints_from_arrays
from tinygrad_edu.tensor_extras import MoreTensorMethods

Number = builtins.int | builtins.float | builtins.bool


class ValuesIndices(NamedTuple):
    """What ``max(dim)`` and ``min(dim)`` return, as PyTorch's ``(values, indices)`` pair."""

    values: "Tensor"
    indices: "Tensor"


class HookHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook off again."""

    def __init__(self, hooks: list[Callable[..., Any]], hook: Callable[..., Any]) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor(MoreTensorMethods):
    """An n-dimensional array that records the operations applied to it (more methods: ``tensor_extras.py``)."""

    __slots__ = ("array", "_requires_grad", "_grad", "grad_fn", "_output_index", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # NumPy then defers `ndarray + Tensor` to Tensor.__radd__
    __hash__ = object.__hash__  # == returns a Tensor, so hash by identity (dict keys, sets)

    # ------------------------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------------------------

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None) -> None:
        if not isinstance(requires_grad, builtins.bool):  # e.g. PyTorch's legacy Tensor(2, 3)
            raise TypeError(f"Tensor(data, requires_grad=...): requires_grad must be a bool, got {requires_grad!r} "
                            f"(for an uninitialised tensor of a given size, use empty(2, 3) or zeros(2, 3))")
        where = None if device is None else backend.check_available(device)  # a clear error if unavailable
        if isinstance(data, Tensor):
            target = data.dtype if dtype is None else backend.to_dtype(dtype)
            array = data.array.astype(target.numpy_dtype, copy=True)
            array = array if where is None else backend.to_device(array, where)
        else:
            array = backend.as_array(data, dtype, where)
        self._setup(array)
        if requires_grad:
            self.requires_grad = True

    def _setup(self, array: Any) -> None:
        if tracing.RECORDING.current is not None:  # jit.capture keeps an eye on what a step makes
            tracing.RECORDING.current.tensor_made(self)
        self.array = array
        self._requires_grad = False
        self._grad: Tensor | None = None
        self.grad_fn: Any = None
        self._output_index = 0
        self._version = [0]  # bumped by in-place ops; shared with detach()ed views
        self._hooks: Any = ()

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool = False) -> Tensor:
        """A Tensor around an existing backend array, without copying or dtype inference."""
        tensor = object.__new__(cls)
        tensor._setup(array if backend.is_array(array) else backend.asarray(array))
        tensor._requires_grad = requires_grad
        return tensor

    # ------------------------------------------------------------------------------------
    # attributes
    # ------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> DType:
        return backend.dtype_of(self.array)

    @property
    def device(self) -> backend.device:
        """Where the values live: ``cpu`` (a NumPy array) or ``cuda:N`` (a CuPy array)."""
        return backend.device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def grad(self) -> Tensor | None:
        """The gradient that ``backward()`` accumulated here (None until then)."""
        if tracing.RECORDING.current is not None:  # jit.capture: a step that looks at .grad depends on it
            tracing.RECORDING.current.grad_read(self)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        """Assigning a gradient by hand: it must fit the tensor (as PyTorch checks), or an
        optimizer would fail later, far from the mistake."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has shape {value.shape}, but the tensor has shape {self.shape}")
            if backend.DEVICES_IN_USE and value.device != self.device:
                raise RuntimeError(
                    f"assigned grad is on device {value.device}, but the tensor is on device {self.device}")
        _rebinding(self, "assigns .grad")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._set_requires_grad(value)

    @tracing.effect(repeatable=True, settles=lambda self, value: [self])  # inside a jit.capture'd step: every replay
    def _set_requires_grad(self, value: bool) -> None:
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (this one is {self.dtype})")
        if self.grad_fn is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use tensor.detach() "
                "to get a tensor that does not require grad"
            )
        self._requires_grad = builtins.bool(value)

    @property
    def data(self) -> Tensor:
        """A detached tensor sharing this one's memory (changes through it are not tracked)."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        _rebinding(self, "assigns .data")
        self.array = value.array if isinstance(value, Tensor) else backend.as_array(value, self.dtype, self.device)

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[normalize_dim("size", dim, self.ndim)]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return self.array.size

    def element_size(self) -> int:
        return self.dtype.itemsize

    # ------------------------------------------------------------------------------------
    # conversion to Python and NumPy
    # ------------------------------------------------------------------------------------

    def item(self) -> Number:
        if self.numel() != 1:
            raise RuntimeError(
                f"item: a tensor with {self.numel()} elements (shape "
                f"{self.shape}) cannot be converted to a Python number"
            )
        return self.array.item()

    def tolist(self) -> Any:
        return backend.to_host(self.array).tolist()

    def numpy(self) -> Any:
        """The values as a NumPy array (sharing memory on the CPU), as ``torch.Tensor.numpy``."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return backend.to_host(self.array)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[index] for index in range(self.shape[0]))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {self.numel()} values is ambiguous")
        return builtins.bool(self.array.reshape(()))  # not .item(): jit.capture keeps bool() as a check

    def __float__(self) -> float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        if self.numel() != 1:
            self.item()  # its error
        return builtins.int(self.array.reshape(()))  # not .item(): jit.capture keeps int() as a check

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError(
                f"only integer tensors of a single element can be converted "
                f"to an index (got {self.dtype}, shape {self.shape})"
            )
        return builtins.int(self.array.reshape(()))

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return self.item().__format__(spec)
        return repr(self).__format__(spec)

    def __repr__(self) -> str:
        empty = self.numel() == 0
        extras = [f"size={self.shape}"] if empty and self.ndim != 1 else []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (backend.float32, backend.int64, backend.bool) or (empty and self.dtype is not backend.float32):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([backend.format_array(self.array)] + extras) + ")"

    __str__ = __repr__

    # ------------------------------------------------------------------------------------
    # autograd
    # ------------------------------------------------------------------------------------

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autograd/engine.py``).

        ``gradient`` is needed when ``self`` is not a scalar: it is the upstream gradient
        (the vector of a vector-Jacobian product).
        """
        engine.backward(self, gradient, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """The same values (same memory), cut off from the graph."""
        tensor = Tensor._wrap(self.array)
        tensor._version = self._version
        return tensor

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retain_output_grad(self._output_index, self)

    @property
    def retains_grad(self) -> bool:
        retained = self.grad_fn.retained if self.grad_fn is not None else None
        return retained is not None and self._output_index in retained

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if not isinstance(self._hooks, list):
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self.grad_fn.output_hooks(self._output_index)
        hooks.append(hook)
        return HookHandle(hooks, hook)

    # ------------------------------------------------------------------------------------
    # dtype and device conversion
    # ------------------------------------------------------------------------------------

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(other_tensor)``; returns ``self`` if nothing changes."""
        copy = kwargs.pop("copy", False)
        target, device_spec = to_arguments("to", args, kwargs)
        result = self
        if target is not None and backend.to_dtype(target) is not self.dtype:
            result = ops.Cast.apply(self, backend.to_dtype(target))
        if device_spec is not None:
            where = backend.check_available(device_spec)
            if where != result.device:
                result = ops.ToDevice.apply(result, where)
        if copy and result is self:
            result = self.clone()
        return result

    def float(self) -> Tensor:
        return self.to(backend.float32)

    def double(self) -> Tensor:
        return self.to(backend.float64)

    def long(self) -> Tensor:
        return self.to(backend.int64)

    def int(self) -> Tensor:
        """int64 here: the only integer dtype tinygrad_edu has (PyTorch's ``int()`` gives int32)."""
        return self.to(backend.int64)

    def bool(self) -> Tensor:
        return self.to(backend.bool)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        """This tensor on the GPU (``cuda(1)`` or ``cuda("cuda:1")`` for another one)."""
        if device is None:
            return self.to("cuda")
        return self.to(device if isinstance(device, (str, backend.device)) else f"cuda:{device}")

    def clone(self) -> Tensor:
        return ops.Clone.apply(self)

    def contiguous(self) -> Tensor:
        return self

    def new_zeros(self, *size: Any) -> Tensor:
        return Tensor._wrap(backend.zeros(shape_from_args(size), self.dtype, self.device))

    def new_ones(self, *size: Any) -> Tensor:
        return Tensor._wrap(backend.zeros(shape_from_args(size), self.dtype, self.device) + 1)

    def _as_floating(self) -> Tensor:
        """Integer and bool tensors become float32 before float math, as PyTorch does."""
        return self if self.dtype.is_floating_point else self.to(backend.DEFAULT_FLOAT)

    # ------------------------------------------------------------------------------------
    # arithmetic operators (Python numbers and NumPy arrays on either side)
    # ------------------------------------------------------------------------------------

    def add(self, other: Any, *, alpha: Number = 1) -> Tensor:
        return _binary(ops.Add, "add", self, other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: Number = 1) -> Tensor:
        return _binary(ops.Sub, "sub", self, other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return _binary(ops.Mul, "mul", self, other)

    def div(self, other: Any) -> Tensor:
        a, b = promote_operands("div", self, other)
        return ops.Div.apply(a._as_floating(), b._as_floating())  # int / int is a float, as in PyTorch

    def pow(self, exponent: Any) -> Tensor:
        return power(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        if isinstance(other, Tensor) and other.dtype is not self.dtype:  # PyTorch does not promote here
            raise RuntimeError(f"matmul: expected both operands to have the same dtype, got {self.dtype} (shape "
                               f"{self.shape}) and {other.dtype} (shape {other.shape})")
        return _binary(ops.Matmul, "matmul", self, other, check_broadcast=False)

    def mm(self, other: Tensor) -> Tensor:
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"mm: both arguments must be 2-D, got shapes {self.shape} and {other.shape}")
        return self.matmul(other)

    def neg(self) -> Tensor:
        if self.dtype is backend.bool:
            raise RuntimeError("neg: negation (-) of a bool tensor is not supported; use ~ (logical not) instead")
        return ops.Neg.apply(self)


    def __radd__(self, other: Any) -> Tensor:
        return _binary(ops.Add, "add", other, self)


    def __rsub__(self, other: Any) -> Tensor:
        return _binary(ops.Sub, "sub", other, self)


    def __rmul__(self, other: Any) -> Tensor:
        return _binary(ops.Mul, "mul", other, self)


    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = promote_operands("div", other, self)
        return a.div(b)


    def __rpow__(self, base: Any) -> Tensor:
        return power(base, self)


    def __rmatmul__(self, other: Any) -> Tensor:
        return _binary(ops.Matmul, "matmul", other, self, check_broadcast=False)

    def __floordiv__(self, other: Any) -> Tensor:
        return floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return remainder(other, self)



    # comparisons and logic: results are bool tensors, outside the graph

    def eq(self, other: Any) -> Tensor:
        return compare("eq", self, other)

    def ne(self, other: Any) -> Tensor:
        return compare("ne", self, other)

    def lt(self, other: Any) -> Tensor:
        return compare("lt", self, other)

    def le(self, other: Any) -> Tensor:
        return compare("le", self, other)

    def gt(self, other: Any) -> Tensor:
        return compare("gt", self, other)

    def ge(self, other: Any) -> Tensor:
        return compare("ge", self, other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return compare("eq", self, other) if is_operand(other) else NotImplemented

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return compare("ne", self, other) if is_operand(other) else NotImplemented





    def __and__(self, other: Any) -> Tensor:
        return logical("and", self, other)

    def __or__(self, other: Any) -> Tensor:
        return logical("or", self, other)

    def __xor__(self, other: Any) -> Tensor:
        return logical("xor", self, other)

    def __invert__(self) -> Tensor:
        if self.dtype.is_floating_point:
            raise TypeError(f"~ (bitwise not) is only defined for bool and integer tensors, not {self.dtype}")
        return Tensor._wrap(~self.array)

    # ------------------------------------------------------------------------------------
    # elementwise math
    # ------------------------------------------------------------------------------------

    def exp(self) -> Tensor:
        return ops.Exp.apply(self._as_floating())

    def log(self) -> Tensor:
        return ops.Log.apply(self._as_floating())

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self._as_floating())

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x), composed: its gradient comes from Sqrt and Div."""
        return 1 / self.sqrt()

    def sin(self) -> Tensor:
        return ops.Sin.apply(self._as_floating())

    def cos(self) -> Tensor:
        return ops.Cos.apply(self._as_floating())

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self._as_floating())

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self._as_floating())

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def sign(self) -> Tensor:
        if self.dtype is backend.bool:
            return self.clone()  # the sign of True is True (1), of False is False (0)
        return ops.Sign.apply(self)

    def square(self) -> Tensor:
        return self * self

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        """Limit values to [min, max]. Composed from ``where``: the gradient passes where
        min <= x <= max and is 0 where x was clipped. NaN stays NaN."""
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
        result = self
        if min is not None:
            result = where(result < min, min, result)
        if max is not None:
            result = where(result > max, max, result)
        return result

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max. Where both are equal, each gets half the gradient (as PyTorch)."""
        a, b = promote_operands("maximum", self, other)
        if not a.dtype.is_floating_point:
            return Tensor._wrap(backend.array_namespace(a.array).maximum(a.array, b.array))
        return where(a > b, a, where(a < b, b, (a + b) / 2))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise min. Where both are equal, each gets half the gradient (as PyTorch)."""
        a, b = promote_operands("minimum", self, other)
        if not a.dtype.is_floating_point:
            return Tensor._wrap(backend.array_namespace(a.array).minimum(a.array, b.array))
        return where(a < b, a, where(a > b, b, (a + b) / 2))

    def where(self, condition: Tensor, other: Any) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (``torch.Tensor.where``)."""
        return where(condition, self, other)

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        return where(mask, value, self)

    def isfinite(self) -> Tensor:
        return Tensor._wrap(backend.array_namespace(self.array).isfinite(self.array))

    def isnan(self) -> Tensor:
        return Tensor._wrap(backend.array_namespace(self.array).isnan(self.array))

    def isinf(self) -> Tensor:
        return Tensor._wrap(backend.array_namespace(self.array).isinf(self.array))

    # ------------------------------------------------------------------------------------
    # reductions
    # ------------------------------------------------------------------------------------

    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        source = self if dtype is None else self.to(dtype)
        return ops.Sum.apply(source, normalize_dims("sum", dim, self.ndim), keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        if not self.dtype.is_floating_point:
            raise RuntimeError(f"mean: input dtype must be floating point, got {self.dtype} (use .float() first)")
        dims = normalize_dims("mean", dim, self.ndim)
        return self.sum(dims, keepdim) / count_elements(self.shape, dims)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: Number | None = None) -> Tensor:
        """Variance: sum((x - mean)^2) / (N - correction); correction=1 (Bessel) by default."""
        if correction is None:
            correction = 0 if unbiased is False else 1
        dims = normalize_dims("var", dim, self.ndim)
        centered = self - self.mean(dims, keepdim=True)
        divisor = builtins.max(count_elements(self.shape, dims) - correction, 0)
        return (centered * centered).sum(dims, keepdim) / divisor

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: Number | None = None) -> Tensor:
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        """The p-norm (2 by default) over ``dim``; see ``functional.norm``."""
        return functional.norm(self, p, dim, keepdim)

    def prod(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.Prod.apply(self, normalize_dims("prod", dim, self.ndim), keepdim)

    def amax(self, dim: Any = (), keepdim: bool = False) -> Tensor:
        return ops.Amax.apply(self, normalize_dims("amax", dim, self.ndim), keepdim)

    def amin(self, dim: Any = (), keepdim: bool = False) -> Tensor:
        if self.dtype is backend.bool:  # no negation for bools; no gradient either
            axes = normalize_dims("amin", dim, self.ndim)
            return Tensor._wrap(backend.asarray(self.array.all(axis=axes, keepdims=keepdim)))
        return -(-self).amax(dim, keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``max()``: the largest element. ``max(dim)``: a ``(values, indices)`` pair.
        ``max(other_tensor)``: the elementwise maximum."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return self.amax()
        indices = self.argmax(normalize_dim("max", dim, self.ndim), keepdim=True)
        return _values_at(self, dim, indices, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``min()``, ``min(dim)`` -> ``(values, indices)``, ``min(other_tensor)``: as ``max``."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return self.amin()
        indices = self.argmin(normalize_dim("min", dim, self.ndim), keepdim=True)
        return _values_at(self, dim, indices, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _arg_reduce("argmax", self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _arg_reduce("argmin", self, dim, keepdim)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        axes = normalize_dims("all", dim, self.ndim)
        return Tensor._wrap(backend.asarray(self.array.all(axis=axes, keepdims=keepdim)))

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        axes = normalize_dims("any", dim, self.ndim)
        return Tensor._wrap(backend.asarray(self.array.any(axis=axes, keepdims=keepdim)))

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
        """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the (detached) max,
        so that no exp overflows. m is a constant for the gradient: the result does not
        depend on it. An infinite m is replaced by 0 so that inf - inf never appears."""
        dims = normalize_dims("logsumexp", dim, self.ndim)
        x = self._as_floating()
        shift = x.detach().amax(dims, keepdim=True)
        shift = where(shift.isfinite(), shift, 0.0)
        result = (x - shift).exp().sum(dims, keepdim=True).log() + shift
        return result if keepdim else result.squeeze(dims)

    def softmax(self, dim: int) -> Tensor:
        """exp(x - m) / sum(exp(x - m)) with m the detached max along ``dim`` (no overflow).
        A row whose max is +-inf gives nan, as in PyTorch."""
        dim = normalize_dim("softmax", dim, self.ndim)
        x = self._as_floating()
        exps = (x - x.detach().amax(dim, keepdim=True)).exp()
        return exps / exps.sum(dim, keepdim=True)

    def log_softmax(self, dim: int) -> Tensor:
        """x - logsumexp(x), computed as (x - m) - log(sum(exp(x - m))) with m the detached
        max: stable for any logits, exact where softmax would underflow, and m is never added
        back (in float32, 1e4 + 0.69 - 1e4 would lose three digits)."""
        dim = normalize_dim("log_softmax", dim, self.ndim)
        x = self._as_floating()
        shifted = x - x.detach().amax(dim, keepdim=True)
        return shifted - shifted.exp().sum(dim, keepdim=True).log()

    # ------------------------------------------------------------------------------------
    # shapes
    # ------------------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, resolve_shape("reshape", self.shape, shape_from_args(shape)))

    def view(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, resolve_shape("view", self.shape, shape_from_args(shape)))

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start = normalize_dim("flatten", start_dim, self.ndim)
        end = normalize_dim("flatten", end_dim, self.ndim)
        if start > end:
            raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape
        return self.reshape(shape[:start] + (count_elements(shape, range(start, end + 1)),) + shape[end + 1:])

    def unsqueeze(self, dim: int) -> Tensor:
        axis = normalize_dim("unsqueeze", dim, self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drop size-1 dimensions: all of them, or those among ``dim`` (others are kept)."""
        axes = normalize_dims("squeeze", dim, self.ndim)
        return self.reshape(tuple(size for axis, size in enumerate(self.shape) if not (axis in axes and size == 1)))

    def permute(self, *dims: Any) -> Tensor:
        order = shape_from_args(dims)
        axes = tuple(normalize_dim("permute", axis, self.ndim) for axis in order)
        if sorted(axes) != list(range(self.ndim)):
            raise RuntimeError(
                f"permute: dims {order} are not a permutation of "
                f"the dimensions of a tensor of shape {self.shape}"
            )
        return ops.Permute.apply(self, axes)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        first, second = normalize_dim("transpose", dim0, self.ndim), normalize_dim("transpose", dim1, self.ndim)
        if self.ndim == 0:
            return self
        order = list(range(self.ndim))
        order[first], order[second] = order[second], order[first]
        return ops.Permute.apply(self, tuple(order))

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, but it has shape {self.shape}")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` without copying; -1 keeps a dimension's size."""
        target = shape_from_args(sizes)
        if len(target) < self.ndim:
            raise RuntimeError(
                f"expand: the target shape {target} has fewer "
                f"dimensions than the tensor's shape {self.shape}"
            )
        offset = len(target) - self.ndim
        shape = list(target)
        for axis, size in enumerate(self.shape):
            wanted = target[offset + axis]
            if wanted == -1:
                shape[offset + axis] = size
            elif size != wanted and size != 1:
                raise RuntimeError(
                    f"expand: cannot expand shape {self.shape} to "
                    f"{target} (size {size} at dimension {axis} is not 1)"
                )
        if any(size < 0 for size in shape):
            raise RuntimeError(f"expand: -1 is not allowed for a new leading dimension (target {target})")
        return ops.Expand.apply(self, tuple(shape))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def repeat(self, *repeats: Any) -> Tensor:
        """Tile the tensor ``repeats[i]`` times along dimension i. Composed: give every
        dimension a size-1 partner in front, expand the partners to the repeat counts, and
        merge each pair."""
        counts = shape_from_args(repeats)
        if len(counts) < self.ndim:
            raise RuntimeError(
                f"repeat: {len(counts)} repeat counts given for a tensor "
                f"of shape {self.shape} (need at least {self.ndim})"
            )
        shape = (1,) * (len(counts) - self.ndim) + self.shape
        paired = self.reshape(tuple(size for dim_size in shape for size in (1, dim_size)))
        expanded = paired.expand(tuple(size for count, dim_size in zip(counts, shape) for size in (count, dim_size)))
        return expanded.reshape(tuple(count * dim_size for count, dim_size in zip(counts, shape)))

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        axis = normalize_dim("split", dim, self.ndim)
        length = self.shape[axis]
        if isinstance(split_size_or_sections, builtins.int):
            size = split_size_or_sections
            if size <= 0:
                raise RuntimeError(f"split: split_size must be positive, got {size}")
            sections = [builtins.min(size, length - start) for start in range(0, length, size)] or [0]
        else:
            sections = list(split_size_or_sections)
            if sum(sections) != length:
                raise RuntimeError(
                    f"split: sections {sections} do not add up to {length}, "
                    f"the size of dimension {dim} of shape {self.shape}"
                )
        pieces = []
        start = 0
        for size in sections:
            pieces.append(self[(slice(None),) * axis + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        if chunks <= 0:
            raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
        length = self.shape[normalize_dim("chunk", dim, self.ndim)]
        return self.split(builtins.max(math.ceil(length / chunks), 1), dim)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for dim=0 (and likewise for other dims).
        Composed from indexing: the other axes get index grids, so the gradient is the
        scatter-add of indexing."""
        axis = normalize_dim("gather", dim, self.ndim)
        if index.dtype is not backend.int64 or index.ndim != self.ndim:
            raise RuntimeError(
                f"gather: index must be an int64 tensor with {self.ndim} "
                f"dims, got {index.dtype} of shape {index.shape}"
            )
        if backend.DEVICES_IN_USE:  # as in PyTorch, gather's index lives where the input does
            backend.same_device("gather", self.array, index.array)
        xp = backend.array_namespace(index.array)
        grids = xp.ix_(*[xp.arange(size) for size in index.shape]) if index.ndim else ()
        key = tuple(index.array if a == axis else grid for a, grid in enumerate(grids))
        return ops.Index.apply(self, key)

    # ------------------------------------------------------------------------------------
    # indexing
    # ------------------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Tensor:
        key = index_key(key, self.array)
        basic, advanced = split_ints_from_arrays(key)
        if advanced is None:
            return ops.Index.apply(self, key)
        return ops.Index.apply(ops.Index.apply(self, basic), advanced)

    def __setitem__(self, key: Any, value: Any) -> None:
        key = index_key(key, self.array)
        if isinstance(value, Tensor):
            value = value.to(self.dtype, self.device)
        else:
            value = Tensor(value, dtype=self.dtype, device=self.device)
        if GRAD_MODE.enabled and (self.requires_grad or value.requires_grad):
            self._check_inplace_allowed("setitem")
            self._become(ops.IndexPut.apply(self._snapshot(), value, key))
        else:
            try:
                self.array[key] = value.array
            except (IndexError, ValueError) as error:
                raise type(error)(f"setitem: {error} (tensor of shape {self.shape}, value of shape {value.shape})") from None
            self._version[0] += 1

    # ------------------------------------------------------------------------------------
    # in-place ops
    # ------------------------------------------------------------------------------------

    def _check_inplace_allowed(self, op: str) -> None:
        if GRAD_MODE.enabled and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad is being used in an in-place operation; "
                f"wrap the update in `with no_grad():` (as optimizers do)"
            )

    def _become(self, result: Tensor) -> None:
        """Take over ``result``'s values and graph position (an in-place op on the graph).

        The old values stay in the graph where they were saved; the version bump makes any
        backward rule that saved *this* tensor refuse to use the changed values.
        """
        _rebinding(self, "changes a tensor from outside it in place, on the graph")
        self.array = result.array
        self.grad_fn = result.grad_fn
        self._output_index = result._output_index
        self._requires_grad = result.requires_grad
        self._version[0] += 1

    def _snapshot(self) -> Tensor:
        """The current value and graph position as a separate Tensor object. An in-place op
        on the graph computes from the snapshot, so the snapshot (not ``self``, which moves
        on) is what its backward rule saves."""
        snapshot = Tensor._wrap(self.array, self._requires_grad)
        snapshot.grad_fn, snapshot._output_index = self.grad_fn, self._output_index
        return snapshot

    def _inplace(self, op: str, compute: Callable[[Tensor], Tensor], any_cast: bool = False) -> Tensor:
        """An in-place op: ``compute(current value)`` out of place, then stored into ``self``.

        Off the graph (no grad needed, or inside ``no_grad``) the values are written into the
        existing memory, so views and ``.data`` see them. On the graph, ``self`` takes over the
        result's graph position (``_become``).
        """
        self._check_inplace_allowed(op)
        on_graph = GRAD_MODE.enabled and self._requires_grad
        result = compute(self._snapshot() if on_graph else self)
        if result.shape != self.shape:
            raise RuntimeError(
                f"{op}: the result of shape {result.shape} does "
                f"not fit in the tensor of shape {self.shape}"
            )
        if result.dtype is not self.dtype:
            if not any_cast and result.dtype.category > self.dtype.category:
                raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the tensor's type {self.dtype}")
            result = result.to(self.dtype)
        if result.requires_grad:
            self._become(result)
            return self
        try:
            backend.copy_into(self.array, result.array)  # write through, so views and .data see it
        except ValueError as error:
            raise RuntimeError(f"{op}: cannot write into this tensor ({error}); clone() it first") from None
        self._version[0] += 1
        return self

    def add_(self, other: Any, *, alpha: Number = 1) -> Tensor:
        return self._inplace("add_", lambda current: current.add(other, alpha=alpha))

    def sub_(self, other: Any, *, alpha: Number = 1) -> Tensor:
        return self._inplace("sub_", lambda current: current.sub(other, alpha=alpha))

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", lambda current: current.mul(other))

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", lambda current: current.div(other))

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return self._inplace("clamp_", lambda current: current.clamp(min, max))

    def copy_(self, source: Any) -> Tensor:
        """Overwrite the values with ``source`` (broadcast, converted to this dtype). On the
        graph, the gradient flows to ``source`` and none to the overwritten values."""
        source = source.to(self.device) if isinstance(source, Tensor) else Tensor(source, device=self.device)
        broadcast_shape("copy_", self.shape, source.shape)
        return self._inplace("copy_", lambda current: where(_true_on(current), source, current), any_cast=True)

    def fill_(self, value: Any) -> Tensor:
        value = value.to(self.device) if isinstance(value, Tensor) else value
        return self._inplace("fill_", lambda current: where(_true_on(current), value, current), any_cast=True)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        values = Tensor._wrap(backend.generator(self.device).uniform(a, b, self.shape))
        return self._inplace("uniform_", lambda current: values.to(self.dtype), any_cast=True)

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        values = Tensor._wrap(backend.generator(self.device).normal(mean, std, self.shape))
        return self._inplace("normal_", lambda current: values.to(self.dtype), any_cast=True)

    # ------------------------------------------------------------------------------------
    # Python's operators: the methods above under their operator names
    # (the reflected ones, __radd__ and co., are defined with the arithmetic)
    # ------------------------------------------------------------------------------------

    __add__ = add
    __sub__ = sub
    __mul__ = mul
    __truediv__ = div
    __pow__ = pow
    __matmul__ = matmul
    __neg__ = neg
    __abs__ = abs
    __lt__ = lt
    __le__ = le
    __gt__ = gt
    __ge__ = ge
    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


# ----------------------------------------------------------------------------------------
# helpers shared by the methods above
# ----------------------------------------------------------------------------------------


def to_arguments(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The (dtype, device) that ``Tensor.to`` and ``Module.to`` are asked for, each None when
    not given: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)`` (its
    dtype and device), or the keywords ``dtype=``, ``device=`` (``non_blocking=`` is ignored)."""
    target, device_spec = kwargs.pop("dtype", None), kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"{op}: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            target, device_spec = arg.dtype, arg.device
        elif isinstance(arg, (str, backend.device)):
            device_spec = arg
        else:
            target = arg
    return target, device_spec


def _binary(function: Any, op: str, left: Any, right: Any, check_broadcast: bool = True) -> Tensor:
    a, b = promote_operands(op, left, right, check_broadcast=check_broadcast)
    return function.apply(a, b)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """``input`` where ``condition`` is true, else ``other``; both broadcast with ``condition``."""
    if not isinstance(condition, Tensor):
        condition = Tensor(condition)
    if condition.dtype is not backend.bool:
        raise RuntimeError(f"where: condition must be a bool tensor, got {condition.dtype}")
    a, b = promote_operands("where", input, other, device=condition.device)
    if condition.shape != a.shape or condition.shape != b.shape:
        broadcast_shape("where", condition.shape, a.shape, b.shape)
    return ops.Where.apply(condition, a, b)


_TRUE = {backend.CPU: Tensor._wrap(backend.asarray(True))}


def _true_on(tensor: Tensor) -> Tensor:
    """A 0-d True on the tensor's device: ``where(True, value, self)`` overwrites self on the graph."""
    if tensor.device not in _TRUE:
        _TRUE[tensor.device] = Tensor._wrap(backend.scalar(True, backend.bool, tensor.device))
    return _TRUE[tensor.device]


def _arg_reduce(op: str, tensor: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    if tensor.numel() == 0:
        raise RuntimeError(f"{op}: cannot reduce an empty tensor of shape {tensor.shape}")
    function = tensor.array.argmax if op == "argmax" else tensor.array.argmin
    if dim is None:
        result = function()
    else:
        result = function(axis=normalize_dim(op, dim, tensor.ndim), keepdims=keepdim)
    return Tensor._wrap(backend.asarray(result).astype(backend.int64.numpy_dtype))


def _values_at(tensor: Tensor, dim: int, indices: Tensor, keepdim: bool) -> ValuesIndices:
    values = tensor.gather(dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return ValuesIndices(values, indices)


def _rebinding(tensor: Tensor, what: str) -> None:
    """While ``jit.capture`` records a step: Python giving a tensor from outside the step a
    new array (or a new ``.grad``) is not a NumPy call, so a replay could not repeat it."""
    recording = tracing.recording_now()
    if recording is not None:
        recording.rebinding(tensor, what)


# Imported last: these modules need the Tensor class defined above.
from tinygrad_edu import ops  # noqa: E402
from tinygrad_edu.operands import (  # noqa: E402
    compare, floor_divide, is_operand, logical, power, promote_operands, remainder,
)
from tinygrad_edu.autograd import engine  # noqa: E402
from tinygrad_edu.autograd.grad_mode import GRAD_MODE  # noqa: E402
from tinygrad_edu import functional  # noqa: E402


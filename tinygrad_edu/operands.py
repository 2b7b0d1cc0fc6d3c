"""Operands: how ``t + 2``, ``2 * t``, ``t < ndarray`` become tensors of one dtype.

Every binary op of ``Tensor`` first calls :func:`promote_operands`: Python numbers, NumPy
scalars, NumPy arrays and lists become tensors, all of them take the dtype that PyTorch's
promotion rule gives (``backend.result_dtype``), and the shapes are checked to broadcast,
with an error naming the op and the shapes. Comparisons and logical ops, which make bool
tensors outside the graph, are here too, and so are the ops whose dtype rules need more
than promotion: ``**`` (bool and negative integer powers), ``//`` and ``%``.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable

from tinygrad_edu import backend, ops
from tinygrad_edu.backend import DType
from tinygrad_edu.broadcasting import broadcast_shape
from tinygrad_edu.tensor import Tensor


def is_operand(value: Any) -> bool:
    return isinstance(value, (Tensor, builtins.int, builtins.float, builtins.bool)) or backend.is_array(value)


_CONSTANTS: dict[tuple[Any, DType], Tensor] = {}
_MAX_CONSTANTS = 1024


def constant(value: builtins.int | builtins.float, dtype: DType, like: Any = None) -> Tensor:
    """A Python number as a 0-d tensor of ``dtype``, on the device of the array ``like``.
    The same number in the same dtype (the 0.5 in ``y * 0.5``, on every step of a training
    loop) is made once and reused: nothing ever writes into these tensors, and making one
    costs about a microsecond on the CPU (and a host-to-GPU copy on the GPU)."""
    where = None  # the CPU
    if backend.DEVICES_IN_USE and like is not None and not backend.is_host_array(like):
        where = backend.device_of(like)
    if value != value:
        return Tensor._wrap(backend.scalar(value, dtype, where))  # NaN != NaN: never found again, not cached
    key = (value, math.copysign(1.0, value), dtype, where)  # the sign tells -0.0 from 0.0 (which are ==)
    tensor = _CONSTANTS.get(key)
    if tensor is None:
        tensor = Tensor._wrap(backend.scalar(value, dtype, where))
        if len(_CONSTANTS) < _MAX_CONSTANTS:
            _CONSTANTS[key] = tensor
    return tensor


def promote_operands(op: str, *values: Any, check_broadcast: bool = True, device: Any = None) -> list[Tensor]:
    """Turn the operands of ``op`` into Tensors of one dtype, by PyTorch's promotion rule
    (``backend.result_dtype``), on one device, and check that their shapes broadcast.

    Numbers, lists and NumPy arrays go to the device of the tensor operands (to ``device``
    when no operand is a tensor)."""
    if len(values) == 2:  # fast paths for the common cases: tensor-tensor and tensor-number
        left, right = values
        if isinstance(left, Tensor):
            if isinstance(right, Tensor) and left.array.dtype == right.array.dtype:
                if backend.DEVICES_IN_USE:
                    left, right = on_one_device(op, [left, right])
                if check_broadcast and left.shape != right.shape:
                    broadcast_shape(op, left.shape, right.shape)
                return [left, right]
            if type(right) in (builtins.float, builtins.int) and left.dtype.is_floating_point:
                return [left, constant(right, left.dtype, left.array)]
        elif type(left) in (builtins.float, builtins.int) and isinstance(right, Tensor) and right.dtype.is_floating_point:
            return [constant(left, right.dtype, right.array), right]
    values = tuple(backend.python_number(value) for value in values)  # NumPy scalars act as Python numbers
    # numbers, lists and NumPy arrays join the tensors' device (a GPU one, if there is one)
    devices = [value.device for value in values if isinstance(value, Tensor)]
    home = next((where for where in devices if where.type != "cpu"), devices[0] if devices else device)
    with_shape: list[DType] = []
    zero_dim: list[DType] = []
    numbers: list[Any] = []
    converted: list[Any] = []
    for value in values:
        if isinstance(value, Tensor):
            tensor = value
        elif isinstance(value, (builtins.int, builtins.float, builtins.bool)):
            numbers.append(value)
            converted.append(value)
            continue
        elif backend.is_array(value) or isinstance(value, (list, tuple)):
            tensor = Tensor(value, device=home)
        else:
            raise TypeError(f"{op}: unsupported operand type {type(value).__name__}")
        (with_shape if tensor.ndim else zero_dim).append(tensor.dtype)
        converted.append(tensor)
    dtype = backend.result_dtype(with_shape, zero_dim, numbers)
    tensors = [
        (value if value.dtype is dtype else value.to(dtype)) if isinstance(value, Tensor)
        else Tensor._wrap(backend.scalar(value, dtype, home))
        for value in converted
    ]
    if backend.DEVICES_IN_USE:
        tensors = on_one_device(op, tensors)
    if check_broadcast:
        first = tensors[0].shape
        if any(tensor.shape != first for tensor in tensors[1:]):
            broadcast_shape(op, *(tensor.shape for tensor in tensors))
    return tensors


def on_one_device(op: str, tensors: list[Tensor]) -> list[Tensor]:
    """The operands of one op, on one device. As in PyTorch, a 0-d CPU tensor may join a GPU
    op (it is a scalar: it is moved); any other mix of devices is an error naming both."""
    gpu = next((tensor.device for tensor in tensors if tensor.device.type != "cpu"), None)
    if gpu is not None:
        tensors = [tensor.to(gpu) if tensor.ndim == 0 and tensor.device.type == "cpu" else tensor
                   for tensor in tensors]
    backend.same_device(op, *(tensor.array for tensor in tensors))
    return tensors


COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def compare(op: str, left: Any, right: Any) -> Tensor:
    a, b = promote_operands(op, left, right)
    if backend.DEVICES_IN_USE:  # not an op of the graph, so Function.apply does not check
        backend.same_device(op, a.array, b.array)
    return Tensor._wrap(backend.asarray(COMPARISONS[op](a.array, b.array)))


def logical(op: str, left: Any, right: Any) -> Tensor:
    a, b = promote_operands(op, left, right)
    if backend.DEVICES_IN_USE:
        backend.same_device(op, a.array, b.array)
    if a.dtype.is_floating_point:
        raise TypeError(f"{op}: logical/bitwise ops need bool or integer tensors, got {a.dtype}")
    xp = backend.array_namespace(a.array)
    function = {"and": xp.bitwise_and, "or": xp.bitwise_or, "xor": xp.bitwise_xor}[op]
    return Tensor._wrap(backend.asarray(function(a.array, b.array)))


def floor_divide(left: Any, right: Any) -> Tensor:
    """``//`` with Python's (and PyTorch's) floor rounding. Piecewise constant, so it is left
    out of the graph (PyTorch has no derivative for it either)."""
    a, b = promote_operands("floor_divide", left, right)
    if backend.DEVICES_IN_USE:
        backend.same_device("floor_divide", a.array, b.array)
    check_integer_divisor("floor_divide", a, b)
    return Tensor._wrap(backend.asarray(backend.array_namespace(a.array).floor_divide(a.array, b.array)))


def remainder(left: Any, right: Any) -> Tensor:
    """``%``, the sign of the divisor as in Python and PyTorch; differentiable (``ops.Remainder``)."""
    a, b = promote_operands("remainder", left, right)
    check_integer_divisor("remainder", a, b)
    return ops.Remainder.apply(a, b)


def check_integer_divisor(op: str, a: Tensor, b: Tensor) -> None:
    if not a.dtype.is_floating_point and builtins.bool((b.array == 0).any()):
        raise RuntimeError(f"{op}: integer division by zero")


def power(base: Any, exponent: Any) -> Tensor:
    a, b = promote_operands("pow", base, exponent)
    if a.dtype is backend.bool:  # True ** anything is True, False ** False is True (as PyTorch)
        return Tensor._wrap(a.array | ~b.array)
    if a.dtype is backend.int64 and builtins.bool((b.array < 0).any()):
        raise RuntimeError(f"pow: integers to negative integer powers are not allowed (exponent {b.tolist()})")
    return ops.Pow.apply(a, b)

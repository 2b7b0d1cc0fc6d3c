"""Functions that make new tensors: ``tensor``, ``zeros``, ``arange``, ``randn``, ...

Every one takes ``dtype=``, ``device=`` and ``requires_grad=`` as PyTorch's do, and sizes
either as separate ints (``zeros(2, 3)``) or as one tuple (``zeros((2, 3))``). Random
tensors come from the generator that ``manual_seed`` seeds (``backend.generator``), drawn
on the device asked for; other tensors are made on the CPU and copied there.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.backend import DType
from tinygrad_edu.tensor import Tensor


def _size(size: tuple[Any, ...], keyword: Any = None) -> tuple[int, ...]:
    """Sizes given as ints (``zeros(2, 3)``), one tuple (``zeros((2, 3))``) or ``size=(2, 3)``."""
    if keyword is not None:
        if size:
            raise TypeError("give the size either as arguments or as size=, not both")
        size = (tuple(keyword),) if isinstance(keyword, (tuple, list)) else (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for dim in size:
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"size must be a sequence of ints, got {size}")
        if dim < 0:
            raise RuntimeError(f"trying to create a tensor with a negative dimension: size {size}")
    return tuple(size)


def _where(device: Any) -> backend.device | None:
    """The device asked for, checked (a clear error if it is not available); None: the CPU."""
    return None if device is None else backend.check_available(device)


def _make(array: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    """The one exit of every creation function: device, dtype conversion, requires_grad."""
    if device is not None:
        array = backend.to_device(array, backend.check_available(device))
    tensor = Tensor._wrap(array)
    if dtype is not None and backend.to_dtype(dtype) is not tensor.dtype:
        tensor = Tensor._wrap(array.astype(backend.to_dtype(dtype).numpy_dtype))
    if requires_grad:
        tensor.requires_grad = True
    return tensor


def _dtype_or_float32(dtype: Any) -> DType:
    return backend.DEFAULT_FLOAT if dtype is None else backend.to_dtype(dtype)


def _random_float_dtype(op: str, dtype: Any) -> DType:
    """rand/randn draw real numbers: an integer or bool dtype is refused, as in PyTorch."""
    result = _dtype_or_float32(dtype)
    if not result.is_floating_point:
        raise TypeError(f"{op}: random real numbers need a floating point dtype, got {result} (use randint for integers)")
    return result


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, a NumPy array, a Tensor)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def from_numpy(array: Any) -> Tensor:
    """A tensor sharing memory with a NumPy array of float32, float64, int64 or bool.

    Other integer widths (uint8 images, int32 labels) become an int64 *copy*, the one
    integer dtype here; unsupported dtypes (float16, complex, objects) are refused by name.
    """
    if not backend.is_array(array):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    try:
        backend.to_dtype(array.dtype)
    except TypeError:
        try:
            return Tensor._wrap(backend.as_array(array))  # a copy in the nearest supported dtype
        except TypeError as error:
            raise TypeError(f"from_numpy: {error}".replace("tensor(): ", "")) from None
    return Tensor._wrap(array)


def zeros(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    array = backend.zeros(_size(sizes, size), _dtype_or_float32(dtype), _where(device))
    return _make(array, dtype, None, requires_grad)


def ones(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return full(_size(sizes, size), 1, dtype=_dtype_or_float32(dtype), device=device, requires_grad=requires_grad)


def empty(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised in PyTorch; zeros here (reading it is then at least deterministic)."""
    return zeros(*sizes, size=size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value's kind."""
    size = _size((size,) if isinstance(size, int) else (tuple(size),))
    if dtype is None:
        dtype = backend.result_dtype([], [], [fill_value])
    array = backend.zeros(size, backend.to_dtype(dtype), _where(device))
    array[...] = fill_value
    return _make(array, None, None, requires_grad)


def _like(input: Tensor, dtype: Any, device: Any) -> dict[str, Any]:  # noqa: A002
    """``*_like`` functions take the input's dtype and device unless told otherwise."""
    return {"dtype": input.dtype if dtype is None else dtype, "device": input.device if device is None else device}


def zeros_like(input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return zeros(input.shape, **_like(input, dtype, device), requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return ones(input.shape, **_like(input, dtype, device), requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:
    return full(input.shape, fill_value, **_like(input, dtype, device), requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """[start, end) in steps; int64 when every argument is an int, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be non-zero")
    if dtype is None:
        dtype = backend.result_dtype([], [], [start, end, step])
    xp = backend.array_namespace()
    return _make(xp.arange(start, end, step, dtype=backend.to_dtype(dtype).numpy_dtype), None, device, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    xp = backend.array_namespace()
    return _make(xp.linspace(start, end, steps, dtype=_dtype_or_float32(dtype).numpy_dtype), None, device, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: sizes must be non-negative, got n={n}, m={m}")
    xp = backend.array_namespace()
    return _make(xp.eye(n, m, dtype=_dtype_or_float32(dtype).numpy_dtype), None, device, requires_grad)


def manual_seed(seed: int) -> backend.Generator:
    """Make every random function (and anything built on them) reproducible; returns the
    seeded global generator, as PyTorch does."""
    return backend.manual_seed(seed)


def rand(*sizes: Any, size: Any = None, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    dtype = _random_float_dtype("rand", dtype)
    values = backend.generator_or_default(generator, _where(device)).random(_size(sizes, size))
    return _make(values.astype(dtype.numpy_dtype), None, None, requires_grad)


def randn(*sizes: Any, size: Any = None, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal: mean 0, variance 1."""
    dtype = _random_float_dtype("randn", dtype)
    values = backend.generator_or_default(generator, _where(device)).standard_normal(_size(sizes, size))
    return _make(values.astype(dtype.numpy_dtype), None, None, requires_grad)


def randint(low: int = 0, high: int | None = None, size: Any = None, generator: Any = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:  # randint(high, size): the first argument was the high end
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise RuntimeError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _size((size,) if isinstance(size, int) else (tuple(size),))
    draws = backend.generator_or_default(generator, _where(device))
    return _make(draws.integers(low, high, shape).astype(backend.int64.numpy_dtype), dtype, None, requires_grad)


def randperm(n: int, generator: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64), e.g. to shuffle a data set."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    values = backend.generator_or_default(generator, _where(device)).permutation(n)
    return _make(values.astype(backend.int64.numpy_dtype), dtype, None, requires_grad)


def rand_like(input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return rand(input.shape, **_like(input, dtype, device), requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return randn(input.shape, **_like(input, dtype, device), requires_grad=requires_grad)

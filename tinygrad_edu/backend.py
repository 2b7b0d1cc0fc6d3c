"""The one place that knows which array library does the math.

Every other module asks this one for arrays, dtypes, devices and random numbers; no op
definition imports NumPy or CuPy itself. A tensor on the CPU holds a NumPy array; a tensor
on ``"cuda"`` holds a CuPy array, which has NumPy's interface but lives on an NVIDIA GPU.
Ops ask :func:`array_namespace` for the module that fits their inputs, so one op
definition runs on both devices. CuPy is optional: it is imported the first time a
``"cuda"`` device is used, and its absence (or a missing GPU) is reported by name then.

Contents, top to bottom:
- ``DType`` and the four dtypes (``float32 float64 int64 bool``), conversion from NumPy
  dtypes and from Python data, and PyTorch's type-promotion rule;
- ``device``: where a tensor's memory lives, and the moves between devices;
- ``array_namespace``: the module whose functions (``exp``, ``matmul``, ...) ops call;
- ``quiet_float_errors``: NumPy warns about overflow, PyTorch does not; ops run inside it;
- the random number generator behind ``manual_seed``, ``rand``, ``randn``, ``randint``;
- array helpers (zeros, scalars, host copies, erf, scatter-add), files, printing.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, BinaryIO

import numpy as np

from tinygrad_edu import tracing

# ----------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------


class DType:
    """A tensor element type, printed and compared like ``torch.float32``.

    ``category`` orders the kinds for type promotion: bool < integer < floating.
    """

    __slots__ = ("name", "numpy_dtype", "category", "is_floating_point", "itemsize")

    def __init__(self, name: str, numpy_dtype: Any, category: int) -> None:
        self.name = name
        self.numpy_dtype = np.dtype(numpy_dtype)
        self.category = category
        self.is_floating_point = category == FLOATING
        self.itemsize = self.numpy_dtype.itemsize

    def __repr__(self) -> str:
        return f"tinygrad_edu.{self.name}"

    def __reduce__(self) -> str:
        # Pickling (e.g. copy.deepcopy of a module) keeps the single shared instance.
        return self.name


BOOLEAN, INTEGER, FLOATING = 0, 1, 2

float32 = DType("float32", np.float32, FLOATING)
float64 = DType("float64", np.float64, FLOATING)
int64 = DType("int64", np.int64, INTEGER)
bool = DType("bool", np.bool_, BOOLEAN)  # noqa: A001 - the PyTorch name, only inside this module

DEFAULT_FLOAT = float32
DEFAULT_INT = int64
ALL_DTYPES = (float32, float64, int64, bool)

_FROM_NUMPY: dict[np.dtype, DType] = {dtype.numpy_dtype: dtype for dtype in ALL_DTYPES}


def dtype_of(array: Any) -> DType:
    """The DType of a backend array that already has one of the supported dtypes."""
    return _FROM_NUMPY[array.dtype]


def to_dtype(dtype: Any) -> DType:
    """Accept a DType, a NumPy dtype (``np.float64``) or a Python type (``float``)."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is builtins.float:
        return DEFAULT_FLOAT
    if dtype is builtins.int:
        return DEFAULT_INT
    if dtype is builtins.bool:
        return bool
    try:
        numpy_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unsupported dtype {dtype!r}; use one of {list(ALL_DTYPES)}") from None
    if numpy_dtype in _FROM_NUMPY:
        return _FROM_NUMPY[numpy_dtype]
    raise TypeError(f"unsupported dtype {numpy_dtype}; use one of {list(ALL_DTYPES)}")


def _dtype_for_numpy_array(array: np.ndarray) -> DType:
    """The tensor dtype that ``tensor(array)`` takes, as ``torch.from_numpy`` would.

    float32/float64 and bool map to themselves; every integer width maps to int64
    (the one integer dtype here). Anything else (complex, float16, strings, objects)
    is refused with the dtype named.
    """
    kind = array.dtype.kind
    if kind == "f" and array.dtype.itemsize in (4, 8):
        return _FROM_NUMPY[array.dtype]
    if kind in "iu":
        return int64
    if kind == "b":
        return bool
    raise TypeError(
        f"tensor(): unsupported NumPy dtype {array.dtype}; supported are float32, float64, "
        f"integers (stored as int64) and bool"
    )


def as_array(data: Any, dtype: DType | None = None, where: "device | None" = None) -> Any:
    """Turn Python numbers, nested lists or an array into a backend array on ``where``
    (by default the CPU, or the GPU that a CuPy array ``data`` is on).

    With ``dtype=None`` the dtype is inferred as ``torch.tensor`` does: Python floats give
    float32, Python ints give int64, bools give bool, and a NumPy array keeps its dtype.
    Data is copied (``tensor(array)`` never shares memory with ``array``).
    """
    if _cupy is not None and isinstance(data, _cupy.ndarray):  # GPU data: copied on its GPU
        target = _dtype_for_numpy_array(data) if dtype is None else to_dtype(dtype)
        copied = data.astype(target.numpy_dtype, copy=True)
        return copied if where is None else to_device(copied, where)
    if isinstance(data, np.ndarray):
        array = data
        inferred = _dtype_for_numpy_array(array)
    else:
        if isinstance(data, np.generic):
            array = np.asarray(data)
        else:
            array = np.array(data)
        if array.dtype.kind == "f" and not isinstance(data, np.generic):
            inferred = DEFAULT_FLOAT  # Python floats become float32, as in PyTorch
        elif array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(f"tensor(): cannot make a tensor from {type(data).__name__} data {data!r:.60}")
        else:
            inferred = _dtype_for_numpy_array(array)
    target = inferred if dtype is None else to_dtype(dtype)
    copied = np.array(array, dtype=target.numpy_dtype, copy=True)
    return copied if where is None or where.type == "cpu" else to_device(copied, where)


def result_dtype(dims: list[DType], zero_dims: list[DType], python_numbers: list[Any]) -> DType:
    """PyTorch's type promotion for an op's operands.

    Operands are grouped by priority: tensors with at least one dimension, then 0-d
    tensors, then Python numbers. A lower group only decides the result when its kind
    (bool < integer < floating) is higher than every kind in the groups above it; a
    Python number that wins gives the default dtype of its kind. So
    ``int64 tensor + 2.5 -> float32``, ``float32 tensor + 0-d float64 tensor -> float32``,
    ``float32 tensor + float64 tensor -> float64``.
    """
    result: DType | None = None
    for group in (dims, zero_dims):
        if not group:
            continue
        best = _promote_same_group(group)
        if result is None or best.category > result.category:
            result = best
    for number in python_numbers:
        category = _category_of_python_number(number)
        if result is None or category > result.category:
            result = {FLOATING: DEFAULT_FLOAT, INTEGER: DEFAULT_INT, BOOLEAN: bool}[category]
    assert result is not None, "result_dtype needs at least one operand"
    return result


def _promote_same_group(dtypes: list[DType]) -> DType:
    best = dtypes[0]
    for dtype in dtypes[1:]:
        if dtype.category > best.category or (dtype.category == best.category and dtype.itemsize > best.itemsize):
            best = dtype
    return best


def _category_of_python_number(number: Any) -> int:
    if isinstance(number, (builtins.bool, np.bool_)):
        return BOOLEAN
    if isinstance(number, (builtins.int, np.integer)):
        return INTEGER
    return FLOATING


# ----------------------------------------------------------------------------------------
# devices and the array namespace
# ----------------------------------------------------------------------------------------


class device:  # noqa: N801 - PyTorch's lower-case name
    """Where a tensor's memory lives: ``device("cpu")`` (NumPy) or ``device("cuda:0")``
    (CuPy, on an NVIDIA GPU); compares equal to the string that names it.

    As in PyTorch, naming a device is always allowed (``device("cuda")`` is just a name);
    putting a tensor there is what fails, with the reason, where it is not available
    (:func:`check_available`).
    """

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | device" = "cpu", index: int | None = None) -> None:
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        kind, _, number = str(spec).partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"unknown device {spec!r}; expected 'cpu' or 'cuda'")
        if number and not number.isdigit():
            raise RuntimeError(f"invalid device string {spec!r}: the index after ':' must be a number")
        self.type = kind
        self.index = int(number) if number else index
        if kind == "cpu":
            self.index = None

    def __eq__(self, other: object) -> builtins.bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")
_Device = device  # for code whose own argument is called `device`

# CuPy is imported the first time a "cuda" device is asked for, never at package import:
# `_cupy` is None until then, and every function below takes the NumPy path at the cost of
# one `is None` test. Once CuPy is loaded, `DEVICES_IN_USE` turns True, and only from then
# on do ops pay for the check that all their inputs live on one device.
_cupy: Any = None
DEVICES_IN_USE = False
_CUDA_DEVICES: dict[int, device] = {}


def _load_cupy(spec: str) -> Any:
    """The CuPy module, after checking that it is installed and sees a GPU; otherwise a
    RuntimeError that says which of the two is missing."""
    global _cupy, DEVICES_IN_USE
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            f"device {spec!r} is not available: CuPy is not installed. The GPU backend runs on CuPy: "
            f"pip install \"tinygrad_edu[cuda]\" (or the cupy-cudaXXx wheel for your CUDA version)"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy's CUDARuntimeError when there is no driver or no GPU
        count, reason = 0, f" ({type(error).__name__}: {error})"
    else:
        reason = ""
    if count == 0:
        raise RuntimeError(f"device {spec!r} is not available: CuPy is installed, but it finds no CUDA GPU{reason}")
    _cupy, DEVICES_IN_USE = cupy, True
    return cupy


def check_available(spec: Any) -> device:
    """The device named by ``spec``, if tensors can live there; otherwise a RuntimeError
    that says what is missing (CuPy, a GPU, or a GPU of that index). A plain ``"cuda"``
    means the current GPU, which is GPU 0 here: the result is then ``cuda:0``."""
    where = device(spec)
    if where.type == "cuda":
        cupy = _load_cupy(str(spec))
        count = cupy.cuda.runtime.getDeviceCount()
        if (where.index or 0) >= count:
            raise RuntimeError(f"device {str(spec)!r} is not available: CuPy sees {count} GPU(s), numbered from 0")
        where = device("cuda", where.index or 0)
    return where


def cuda_is_available() -> builtins.bool:
    """True when CuPy is installed and sees at least one GPU."""
    try:
        _load_cupy("cuda")
    except RuntimeError:
        return False
    return True


def cuda_device_count() -> int:
    return _cupy.cuda.runtime.getDeviceCount() if cuda_is_available() else 0


def device_of(array: Any) -> device:
    """The device an array lives on: the CPU for a NumPy array, ``cuda:N`` for a CuPy one."""
    if _cupy is None or isinstance(array, np.ndarray) or type(array) is tracing.Traced:
        return CPU
    index = array.device.id
    if index not in _CUDA_DEVICES:
        _CUDA_DEVICES[index] = device("cuda", index)
    return _CUDA_DEVICES[index]


def array_namespace(*arrays: Any) -> Any:
    """The module whose functions operate on these arrays: NumPy, or CuPy for GPU arrays.

    Ops call ``xp = array_namespace(x)`` and then ``xp.exp(x)``, ``xp.matmul(a, b)``...
    CuPy copies NumPy's interface, so the same op code runs on either device. While
    ``jit.capture`` records a step, NumPy's array makers are written down too
    (``tracing.namespace``).
    """
    if tracing.RECORDING.current is not None:
        recording_numpy = tracing.namespace(*arrays)
        if recording_numpy is not np:
            return recording_numpy
    if _cupy is not None:
        for array in arrays:
            if isinstance(array, _cupy.ndarray):
                return _cupy
    return np


def namespace_of(where: "device | None") -> Any:
    """The array module of a device (NumPy for ``None``, the CPU)."""
    if where is None or where.type == "cpu":
        return np
    return _load_cupy(str(where))


def to_device(array: Any, where: Any) -> Any:
    """The array on device ``where``: itself if it is there already, else a copy."""
    where = device(where)
    if where == device_of(array):
        return array
    if where.type == "cpu":
        return array.get()
    cupy = _load_cupy(str(where))
    with cupy.cuda.Device(where.index or 0):
        return cupy.asarray(array)


def same_device(op: str, *arrays: Any) -> None:
    """Raise PyTorch's error when the arrays of one op live on different devices. Called
    only once CuPy is in use (``DEVICES_IN_USE``): before that every array is on the CPU."""
    first = device_of(arrays[0])
    for array in arrays[1:]:
        other = device_of(array)
        if other != first:
            raise RuntimeError(
                f"{op}: expected all tensors to be on the same device, but found at least two devices, "
                f"{first} and {other}!"
            )


class _QuietFloatErrors:
    """A re-entrant ``np.errstate(all="ignore")``: only the outermost ``with`` touches NumPy's
    error state, so the many ops run inside a backward pass pay nothing for it."""

    def __init__(self) -> None:
        self.depth = 0
        self._outermost: Any = None

    def __enter__(self) -> None:
        if self.depth == 0:
            self._outermost = np.errstate(all="ignore")
            self._outermost.__enter__()
        self.depth += 1

    def __exit__(self, *exc_info: Any) -> None:
        self.depth -= 1
        if self.depth == 0:
            self._outermost.__exit__(*exc_info)


#: The one instance: entering it costs a counter check when it is already entered, and one
#: ``np.errstate`` (about 1 microsecond) at the outermost level.
QUIET_FLOAT_ERRORS = _QuietFloatErrors()


def quiet_float_errors() -> _QuietFloatErrors:
    """A context in which NumPy does not warn about overflow, 0/0, log(0) and the like.

    PyTorch returns inf/nan silently in these cases (``detect_anomaly`` is the tool to find
    them); NumPy would print RuntimeWarnings. Ops run their array math inside this context.
    """
    return QUIET_FLOAT_ERRORS


# ----------------------------------------------------------------------------------------
# random numbers
# ----------------------------------------------------------------------------------------

class Generator:
    """A random number generator, as PyTorch's ``torch.Generator``. One of them, the
    *default generator*, is behind every random function (``rand``, ``randn``, ``Dropout``,
    shuffling); ``manual_seed`` seeds it. Others can be passed as ``generator=`` to
    ``randperm``, ``DataLoader`` or ``random_split`` to make their randomness reproducible
    without touching the global seed:

        g = Generator().manual_seed(0)

    Numbers for a CPU tensor come from NumPy's generator; numbers for a GPU tensor are drawn
    on the GPU, by a CuPy generator seeded with the same seed (as in PyTorch, the two
    devices give different numbers for the same seed, each reproducibly).
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = _Device(device)
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))

    @tracing.effect  # inside a jit.capture'd step: run again on every replay
    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        self._gpu_seed = self._seed
        self._gpu_draws: dict[int, _GpuDraws] = {}
        return self

    def initial_seed(self) -> int:
        return self._seed

    @tracing.effect
    def seed_gpu(self, seed: int) -> None:
        """Re-seed only the GPU draws (``cuda.manual_seed``); the CPU's are untouched."""
        self._gpu_seed = int(seed)
        self._gpu_draws = {}

    def draws_on(self, where: "device | None") -> Any:
        """An object with NumPy's Generator methods (``random``, ``standard_normal``,
        ``integers``, ``uniform``, ``normal``, ``permutation``) that makes arrays on ``where``."""
        if tracing.RECORDING.current is not None:  # jit.capture writes the draws into its program
            draws = tracing.RECORDING.current.draws(self)
            if draws is not None:
                return draws
        if where is None or where.type == "cpu":
            return self.rng
        index = where.index or 0
        if index not in self._gpu_draws:
            self._gpu_draws[index] = _GpuDraws(_load_cupy(str(where)), self._gpu_seed, index)
        return self._gpu_draws[index]


class _GpuDraws:
    """CuPy's ``RandomState`` under the method names of NumPy's ``Generator``."""

    def __init__(self, cupy: Any, seed: int, index: int) -> None:
        self.cupy, self.index = cupy, index
        with cupy.cuda.Device(index):
            self.state = cupy.random.RandomState(seed % 2**63)

    def _draw(self, method: str, *args: Any) -> Any:
        with self.cupy.cuda.Device(self.index):
            return getattr(self.state, method)(*args)

    def random(self, shape: Any) -> Any:
        return self._draw("random_sample", shape)

    def standard_normal(self, shape: Any) -> Any:
        return self._draw("standard_normal", shape)

    def uniform(self, low: float, high: float, shape: Any) -> Any:
        return self._draw("uniform", low, high, shape)

    def normal(self, mean: float, std: float, shape: Any) -> Any:
        return self._draw("normal", mean, std, shape)

    def integers(self, low: int, high: int, shape: Any) -> Any:
        return self._draw("randint", low, high, shape)

    def permutation(self, n: int) -> Any:
        return self._draw("permutation", n)


DEFAULT_GENERATOR = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, behind every random function; returns it, as PyTorch does."""
    return DEFAULT_GENERATOR.manual_seed(seed)


def generator(where: "device | None" = None) -> Any:
    """The default generator's draws on a device (read at call time, so ``manual_seed``
    takes effect); NumPy's generator for the CPU."""
    return DEFAULT_GENERATOR.draws_on(where)


def generator_or_default(generator: "Generator | None", where: "device | None" = None) -> Any:
    """The draws behind a user's ``generator=`` argument, or the global ones, on a device."""
    if generator is None:
        return DEFAULT_GENERATOR.draws_on(where)
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tinygrad_edu.Generator, got {type(generator).__name__}")
    return generator.draws_on(where)


# ----------------------------------------------------------------------------------------
# array helpers used by tensor.py and ops
# ----------------------------------------------------------------------------------------


def zeros(shape: tuple[int, ...], dtype: DType, where: "device | None" = None) -> Any:
    """Zeros on a device (the CPU when ``where`` is None)."""
    if where is None or where.type == "cpu":
        recording = tracing.recording_now()
        if recording is not None:  # jit.capture: made afresh on every replay (it may be written into)
            return tracing.TracingNumPy(recording).zeros(shape, dtype=dtype.numpy_dtype)
        return np.zeros(shape, dtype=dtype.numpy_dtype)
    cupy = _load_cupy(str(where))
    with cupy.cuda.Device(where.index or 0):
        return cupy.zeros(shape, dtype=dtype.numpy_dtype)


def is_host_array(value: Any) -> builtins.bool:
    """A NumPy array (on the CPU)."""
    return isinstance(value, np.ndarray)


def is_array(value: Any) -> builtins.bool:
    """A NumPy array, or a CuPy array once CuPy is in use."""
    return (isinstance(value, np.ndarray) or type(value) is tracing.Traced
            or (_cupy is not None and isinstance(value, _cupy.ndarray)))


def python_number(value: Any) -> Any:
    """A NumPy scalar (``np.float32(2)``, ``np.int64(1)``) as the Python number it holds;
    anything else unchanged. PyTorch treats NumPy scalars like Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def asarray(value: Any, dtype: DType | None = None, like: Any = None) -> Any:
    """An array from an array-like (a NumPy scalar from a full reduction, a list of ints),
    on the device of ``like`` (an array) when given, else where ``value`` already is."""
    xp = array_namespace(value, like)
    if _cupy is not None and xp is _cupy and not isinstance(value, xp.ndarray):
        with xp.cuda.Device(like.device.id):
            return xp.asarray(value, dtype=None if dtype is None else dtype.numpy_dtype)
    return xp.asarray(value, dtype=None if dtype is None else dtype.numpy_dtype)


def scalar(value: Any, dtype: DType, where: "device | None" = None) -> Any:
    """A 0-d array holding a Python number, in ``dtype``, on a device."""
    array = np.array(value, dtype=dtype.numpy_dtype)
    return array if where is None or where.type == "cpu" else to_device(array, where)


def copy_into(target: Any, values: Any) -> None:
    """``target[...] = values``, as a NumPy call (so that ``jit.capture`` sees the write)."""
    array_namespace(target, values).copyto(target, values, casting="unsafe")


def to_host(array: Any) -> np.ndarray:
    """A NumPy array on the host: the array itself on the CPU, a copy from the GPU. (A
    Traced array of ``jit.capture`` gives its value, and the recording notes the read.)"""
    if type(array) is tracing.Traced:
        return np.asarray(array)
    return array if isinstance(array, np.ndarray) else array.get()


_erf_elementwise = np.vectorize(math.erf, otypes=[np.float64])


def erf(array: Any) -> Any:
    """The error function, elementwise. NumPy has none, so Python's ``math.erf`` (the C
    library's, accurate to the last bit) runs per element: slow for big arrays, exact.
    On the GPU, CuPy's ``cupyx.scipy.special.erf`` kernel."""
    if type(array) is tracing.Traced:  # jit.capture: written down as a call of this very function
        return tracing.call_function(erf, "erf", array)
    if not isinstance(array, np.ndarray):
        from cupyx.scipy.special import erf as gpu_erf

        return gpu_erf(array).astype(array.dtype, copy=False)
    return _erf_elementwise(array).astype(array.dtype, copy=False)


def stable_argsort(array: Any, axis: int) -> Any:
    """The indices that sort ``array`` along ``axis``, ties in their original order. NumPy
    must be asked for a stable sort; CuPy's sort is always stable (and older CuPy versions
    refuse the ``kind`` argument)."""
    if isinstance(array, np.ndarray) or type(array) is tracing.Traced:
        return np.argsort(array, axis=axis, kind="stable")
    return array.argsort(axis=axis)


def scatter_add(target: Any, key: Any, values: Any) -> None:
    """``target[key] += values`` where repeated indices in ``key`` each add their value
    (NumPy's ``add.at``; on the GPU, CuPy's ``cupyx.scatter_add``, which means the same)."""
    if isinstance(target, np.ndarray) or type(target) is tracing.Traced:
        np.add.at(target, key, values)
    else:
        import cupyx

        cupyx.scatter_add(target, key, values)


# ----------------------------------------------------------------------------------------
# files: the .npz archives behind save/load and the shipped data sets
# ----------------------------------------------------------------------------------------


def write_npz(file: BinaryIO, arrays: dict[str, Any]) -> None:
    """Write named arrays into a zip archive of ``.npy`` files (NumPy's ``.npz``)."""
    np.savez(file, **{name: to_host(array) for name, array in arrays.items()})


def read_npz(file: Any) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` archive. ``allow_pickle=False``: a file holding
    Python objects raises ``ValueError`` instead of running pickled code."""
    loaded = np.load(file, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("the file holds a single .npy array, not an .npz archive")
    with loaded as archive:
        return {name: archive[name] for name in archive.files}


def bytes_to_array(data: bytes) -> np.ndarray:
    """Bytes (e.g. UTF-8 text) as a 1-D uint8 array, to store text inside an ``.npz``."""
    return np.frombuffer(data, dtype=np.uint8).copy()


def array_to_bytes(array: np.ndarray) -> bytes:
    """The inverse of ``bytes_to_array``; anything but a 1-D uint8 array is refused."""
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(f"expected a 1-D uint8 array of bytes, got {array.dtype} of shape {array.shape}")
    return array.tobytes()


# ----------------------------------------------------------------------------------------
# printing
# ----------------------------------------------------------------------------------------


def format_array(array: Any) -> str:
    """Values printed as PyTorch prints them: 4 decimals unless every value is whole, and
    scientific notation when the magnitudes are far apart."""
    array = to_host(array)
    options: dict[str, Any] = {"separator": ", ", "prefix": "tensor(", "threshold": 1000, "edgeitems": 3}
    if array.dtype.kind == "b":  # pad to the widest word present, as PyTorch does
        width = 5 if (~array).any() else 4
        options["formatter"] = {"bool": lambda value: str(builtins.bool(value)).rjust(width)}
    if array.dtype.kind == "f":
        finite = array[np.isfinite(array)]
        whole = finite.size == 0 or builtins.bool(np.all(finite == np.round(finite)))
        options.update(precision=4, floatmode="maxprec" if whole else "fixed")
        nonzero = np.abs(finite[finite != 0])
        if nonzero.size:  # PyTorch's rule for switching to scientific notation
            largest, smallest = builtins.float(nonzero.max()), builtins.float(nonzero.min())
            if largest > 1e8 or largest / smallest > 1e3 or (not whole and smallest < 1e-4):
                width = builtins.max(len(f"{value:.4e}") for value in (finite.min(), finite.max()))
                options["formatter"] = {"float_kind": lambda value: f"{value:.4e}".rjust(width)}
            elif whole:  # "1500000.", where NumPy would write "1.5e+06"; NaN and inf padded like numbers
                width = builtins.max(len(f"{value:.0f}.") for value in (finite.min(), finite.max()))
                options["formatter"] = {
                    "float_kind": lambda value: (f"{value:.0f}." if np.isfinite(value) else str(value)).rjust(width)
                }
    return np.array2string(array, **options)

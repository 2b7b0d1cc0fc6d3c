"""The one place that knows which array library does the math.

Every other module asks this one for arrays, dtypes, devices and random numbers; no op
definition imports NumPy itself. Today the only backend is NumPy on the CPU. A GPU array
library with NumPy's interface (CuPy) can be added here later, behind
:func:`array_namespace`, without touching a single op.

Contents, top to bottom:
- ``DType`` and the four dtypes (``float32 float64 int64 bool``), conversion from NumPy
  dtypes and from Python data, and PyTorch's type-promotion rule;
- ``device``: where a tensor's memory lives (``"cpu"``; ``"cuda"`` gives a clear error);
- ``array_namespace``: the module whose functions (``exp``, ``matmul``, ...) ops call;
- the random number generator behind ``manual_seed``, ``rand``, ``randn``, ``randint``;
- ``quiet_float_errors``: NumPy warns about overflow, PyTorch does not; ops run inside it.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, BinaryIO

import numpy as np

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


def as_array(data: Any, dtype: DType | None = None) -> np.ndarray:
    """Turn Python numbers, nested lists or a NumPy array into a backend array.

    With ``dtype=None`` the dtype is inferred as ``torch.tensor`` does: Python floats give
    float32, Python ints give int64, bools give bool, and a NumPy array keeps its dtype.
    Data is copied (``tensor(array)`` never shares memory with ``array``).
    """
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
    return np.array(array, dtype=target.numpy_dtype, copy=True)


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
    """Where a tensor's memory lives: ``device("cpu")``; compares equal to ``"cpu"``.

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


def check_available(spec: Any) -> device:
    """The device named by ``spec``, if tensors can live there; otherwise a RuntimeError
    that says what is missing."""
    where = device(spec)
    if where.type == "cuda":
        raise RuntimeError(_cuda_unavailable_reason(str(spec)))
    return where


def cuda_is_available() -> builtins.bool:
    """False: this version computes on the CPU only (the GPU backend is still to come)."""
    return False


def _cuda_unavailable_reason(spec: str) -> str:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return (
            f"device {spec!r} is not available: CuPy is not installed "
            f"(the GPU backend runs on CuPy; install the CuPy wheel for your CUDA version)"
        )
    return f"device {spec!r} is not available: this version of tinygrad_edu has no GPU backend yet"


CPU = device("cpu")
_Device = device  # for code whose own argument is called `device`


def array_namespace(*arrays: Any) -> Any:
    """The module whose functions operate on these arrays (NumPy today).

    Ops call ``xp = array_namespace(x)`` and then ``xp.exp(x)``, ``xp.matmul(a, b)``...
    so that a second backend only has to be answered here.
    """
    return np


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
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = _Device(device)
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed


DEFAULT_GENERATOR = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, behind every random function; returns it, as PyTorch does."""
    return DEFAULT_GENERATOR.manual_seed(seed)


def generator() -> np.random.Generator:
    """The default generator's NumPy generator (read at call time, so ``manual_seed`` takes effect)."""
    return DEFAULT_GENERATOR.rng


def generator_or_default(generator: "Generator | None") -> np.random.Generator:
    """The NumPy generator behind a user's ``generator=`` argument, or the global one."""
    if generator is None:
        return DEFAULT_GENERATOR.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tinygrad_edu.Generator, got {type(generator).__name__}")
    return generator.rng


# ----------------------------------------------------------------------------------------
# array helpers used by tensor.py and ops
# ----------------------------------------------------------------------------------------


def zeros(shape: tuple[int, ...], dtype: DType) -> np.ndarray:
    return np.zeros(shape, dtype=dtype.numpy_dtype)


def is_array(value: Any) -> builtins.bool:
    return isinstance(value, np.ndarray)


def python_number(value: Any) -> Any:
    """A NumPy scalar (``np.float32(2)``, ``np.int64(1)``) as the Python number it holds;
    anything else unchanged. PyTorch treats NumPy scalars like Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def asarray(value: Any, dtype: DType | None = None) -> np.ndarray:
    """An array from an array-like (a NumPy scalar from a full reduction, a list of ints)."""
    return np.asarray(value, dtype=None if dtype is None else dtype.numpy_dtype)


def scalar(value: Any, dtype: DType) -> np.ndarray:
    """A 0-d array holding a Python number, in ``dtype``."""
    return np.array(value, dtype=dtype.numpy_dtype)


def to_host(array: Any) -> np.ndarray:
    """A NumPy array on the host (a no-op on the CPU backend)."""
    return array


_erf_elementwise = np.vectorize(math.erf, otypes=[np.float64])


def erf(array: Any) -> np.ndarray:
    """The error function, elementwise. NumPy has none, so Python's ``math.erf`` (the C
    library's, accurate to the last bit) runs per element: slow for big arrays, exact."""
    return _erf_elementwise(array).astype(array.dtype, copy=False)


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

"""A strict stand-in for CuPy, computed by NumPy on the host, to test the ``"cuda"`` code paths without a GPU.

``install()`` puts fake ``cupy`` and ``cupyx`` modules into ``sys.modules``; ``uninstall()`` takes them out.
Their arrays are ``DeviceArray`` objects: they *hold* a NumPy array but are not one, as a real ``cupy.ndarray``
is not a ``numpy.ndarray`` (a NumPy subclass would not do: ``numpy.asarray`` unwraps a subclass without asking
it, and ``isinstance(a, np.ndarray)`` would call a GPU array a CPU one). So that every mix-up of host and device
in the package fails here with a TypeError, the double is as strict as CuPy, and stricter where CuPy is lenient:
``numpy.asarray(d)``/``numpy.array(d)`` raise CuPy's error; so does any NumPy function or ufunc called on a device
array (real CuPy forwards many to itself; the package should say ``cupy.`` itself); and a host ``numpy.ndarray``
is refused as an operand, an index, an assigned value, an ``out=`` or an argument of a ``cupy`` function. Host
data comes in through ``cupy.asarray``/``array``/``ascontiguousarray`` (copied) and goes out through ``.get()``,
``cupy.asnumpy``, ``.item()``, ``.tolist()``, ``float()``. Results are device arrays (full reductions: 0-d arrays,
never NumPy scalars), and, as on a GPU, overflow or 0/0 never warns.
"""
from __future__ import annotations

import math
import sys
import types
from typing import Any

import numpy as np

IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")
_SCALARS = (bool, int, float, complex, np.generic)
_CONVERTERS = ("array", "asarray", "asanyarray", "ascontiguousarray")  # the functions that accept host data
_HOST_ONLY = ("ctypes", "data", "flat")  # ndarray attributes that would hand out host memory
_DEVICE_COUNT = 1
#: Copies between host and "GPU" so far, counted where a real GPU would copy: host data
#: through ``asarray`` & co. ("to_device"); ``.get()``, ``item()``, ``tolist()``, ``float()``,
#: ``bool()``... ("to_host", each of which also waits for the GPU). Tests read and reset it.
TRANSFERS = {"to_device": 0, "to_host": 0}


def _to_host(value: Any) -> Any:
    TRANSFERS["to_host"] += 1
    return value


def _unwrap(x: Any, keep: dict, strict: bool = True) -> Any:
    """Device arrays -> their NumPy buffers (remembered in ``keep``), inside lists and tuples too.
    A host array is refused, unless ``strict`` is False (only for the host-to-device converters)."""
    if isinstance(x, DeviceArray):
        keep[id(x._buf)] = x
        return x._buf
    if isinstance(x, np.ndarray) and strict:
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)):
        items = [_unwrap(v, keep, strict) for v in x]
        return items if isinstance(x, list) else tuple(items)
    return x


def _operand(x: Any, keep: dict) -> Any:
    """An operand of a ufunc, as CuPy takes them: a device array or a Python/NumPy scalar."""
    if isinstance(x, (DeviceArray,) + _SCALARS):
        return _unwrap(x, keep)
    raise TypeError(f"Unsupported type {type(x)}")


def _wrap(x: Any, keep: dict) -> Any:
    """NumPy results -> device arrays; NumPy scalars -> 0-d device arrays. A buffer that was passed in
    (``out=``, ``asarray(d)``, ``astype(same, copy=False)``) comes back as the very array that held it."""
    if isinstance(x, np.ndarray):
        return keep[id(x)] if id(x) in keep else DeviceArray._of(x)
    if isinstance(x, np.generic):
        return DeviceArray._of(np.asarray(x))
    if isinstance(x, list):
        return [_wrap(v, keep) for v in x]
    if isinstance(x, tuple):
        items = [_wrap(v, keep) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)  # namedtuples stay named
    return x


def _call(func: Any, args: tuple, kwargs: dict, keep: dict | None = None, operands: bool = False) -> Any:
    """Run a NumPy callable on the buffers of device arrays, and wrap what it returns."""
    keep = {} if keep is None else keep
    args = tuple(_operand(a, keep) if operands else _unwrap(a, keep) for a in args)
    kwargs = {k: _unwrap(v, keep) for k, v in kwargs.items()}
    with np.errstate(all="ignore"):
        return _wrap(func(*args, **kwargs), keep)


def _device_function(func: Any) -> Any:
    """``cupy.<name>`` for a NumPy function: takes and returns device arrays only."""
    def call(*args: Any, **kwargs: Any) -> Any:
        return _call(func, args, kwargs)
    call.__name__ = call.__qualname__ = getattr(func, "__name__", "function")
    call.__doc__ = f"Fake CuPy: numpy.{call.__name__} on device arrays."
    return call


def _converter(func: Any) -> Any:
    """``cupy.asarray`` & co.: the door for host data, which is copied, as a transfer to the GPU copies it."""
    def convert(obj: Any, *args: Any, **kwargs: Any) -> Any:
        keep: dict = {}
        result = func(_unwrap(obj, keep, strict=False), *args, **kwargs)
        if isinstance(obj, DeviceArray):
            return _wrap(result, keep)
        TRANSFERS["to_device"] += 1
        return DeviceArray._of(np.array(result, copy=True))
    convert.__name__ = convert.__qualname__ = func.__name__
    return convert


class DeviceUfunc:
    """``cupy.add``, ``cupy.maximum``...: calls (with ``out=``), ``.reduce``, ``.at``, ``.outer``... on device arrays."""

    __repr__ = lambda self: f"<ufunc '{self.__name__}' (fake cupy)>"

    def __init__(self, ufunc: np.ufunc) -> None:
        self._ufunc, self.__name__ = ufunc, ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._ufunc, args, kwargs, operands=True)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._ufunc, name)
        return _device_function(attr) if callable(attr) else attr


class DeviceArray:
    """``cupy.ndarray``: an array in (pretend) GPU memory. NumPy's methods and attributes work, on the
    device (``d.sum()``, ``d.T``, ``d.reshape(...)``); operators take device arrays and scalars only."""

    __slots__ = ("_buf",)
    __array_ufunc__ = None  # NumPy ufuncs refuse it, and NumPy operators and scalars defer to ours
    __hash__ = None  # type: ignore[assignment]  # == is elementwise

    def __init__(self, shape: Any, dtype: Any = float, order: str = "C") -> None:
        self._buf = np.empty(shape, dtype, order=order)

    @classmethod
    def _of(cls, buf: np.ndarray) -> DeviceArray:
        array = object.__new__(cls)
        array._buf = buf
        return array

    # explicit transfers, and the conversions to Python objects that CuPy allows
    def get(self, stream: Any = None) -> np.ndarray:
        return _to_host(self._buf.copy())

    device = property(lambda self: Device(0))
    __float__ = lambda self: _to_host(float(self._buf))
    __int__ = lambda self: _to_host(int(self._buf))
    __complex__ = lambda self: _to_host(complex(self._buf))
    __index__ = lambda self: _to_host(self._buf.__index__())
    __bool__ = lambda self: _to_host(bool(self._buf))
    __len__ = lambda self: len(self._buf)
    __iter__ = lambda self: (self[i] for i in range(len(self)))
    __repr__ = lambda self: repr(self._buf)
    __str__ = lambda self: str(self._buf)
    __format__ = lambda self, spec: format(self._buf, spec)
    __copy__ = lambda self: DeviceArray._of(self._buf.copy())
    __deepcopy__ = lambda self, memo: DeviceArray._of(self._buf.copy())

    # the refusals
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(IMPLICIT)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = func.__name__
        raise TypeError(f"numpy.{name} called on a cupy.ndarray (fake CuPy): call cupy.{name}, or .get() first")

    # indexing: indices and values are device arrays, scalars, slices, lists (never host arrays)
    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._buf[_unwrap(index, {})], {})

    def __setitem__(self, index: Any, value: Any) -> None:
        self._buf[_unwrap(index, {})] = _unwrap(value, {})

    # NumPy's other attributes and methods, run on the buffer
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _HOST_ONLY:
            raise AttributeError(f"'cupy.ndarray' object (fake CuPy) has no attribute {name!r}")
        if name in ("item", "tolist"):
            TRANSFERS["to_host"] += 1
        attr, keep = getattr(self._buf, name), {id(self._buf): self}
        return (lambda *args, **kwargs: _call(attr, args, kwargs, dict(keep))) if callable(attr) else _wrap(attr, keep)


def _operator(ufunc: np.ufunc, swap: bool = False, inplace: bool = False) -> Any:
    def op(self: DeviceArray, other: Any) -> Any:
        if not isinstance(other, (DeviceArray, np.ndarray) + _SCALARS):
            return NotImplemented  # e.g. a Tensor, whose reflected operator then runs
        x = _operand(other, {})  # a host array: TypeError
        with np.errstate(all="ignore"):
            if inplace:
                ufunc(self._buf, x, out=self._buf)
                return self
            return _wrap(ufunc(x, self._buf) if swap else ufunc(self._buf, x), {})
    return op


_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide, "mod": np.remainder,
           "floordiv": np.floor_divide, "pow": np.power, "matmul": np.matmul, "divmod": np.divmod, "and": np.bitwise_and,
           "or": np.bitwise_or, "xor": np.bitwise_xor, "lshift": np.left_shift, "rshift": np.right_shift}
for _name, _ufunc in _BINARY.items():
    setattr(DeviceArray, f"__{_name}__", _operator(_ufunc))
    setattr(DeviceArray, f"__r{_name}__", _operator(_ufunc, swap=True))
    if _name != "divmod":
        setattr(DeviceArray, f"__i{_name}__", _operator(_ufunc, inplace=True))
for _name, _ufunc in {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                      "eq": np.equal, "ne": np.not_equal}.items():
    setattr(DeviceArray, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in {"neg": np.negative, "pos": np.positive, "abs": np.absolute, "invert": np.invert}.items():
    setattr(DeviceArray, f"__{_name}__", lambda self, _ufunc=_ufunc: _call(_ufunc, (self,), {}))


class CUDARuntimeError(RuntimeError):
    """``cupy.cuda.runtime.CUDARuntimeError``."""


class Device:
    """``cupy.cuda.Device``: the fake machine has one GPU, number 0; using another one raises, as in CuPy."""

    def __init__(self, device: Any = None) -> None:
        self.id = 0 if device is None else int(device)

    def use(self) -> None:
        if not 0 <= self.id < _DEVICE_COUNT:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    synchronize = use
    __enter__ = lambda self: (self.use(), self)[1]
    __exit__ = lambda self, *exc_info: None
    __eq__ = lambda self, other: isinstance(other, Device) and other.id == self.id
    __hash__ = lambda self: hash(self.id)
    __int__ = lambda self: self.id
    __repr__ = lambda self: f"<CUDA Device {self.id}>"


class Stream:
    """``cupy.cuda.Stream``: the fake runs every kernel at once, so there is never anything to wait for."""
    null: Stream
    synchronize = lambda self: None


Stream.null = Stream()


class RandomState:
    """``cupy.random.RandomState(seed)``: NumPy's generator (not CuPy's numbers), results on the device.
    Every method takes CuPy's ``dtype=`` too, applied to the result."""

    def __init__(self, seed: Any = None, *, host: Any = None) -> None:
        # CuPy (13.3 on) takes seeds up to 2**64 - 1; NumPy's RandomState only below 2**32.
        seed = None if seed is None else np.random.SeedSequence(int(seed)).generate_state(1)[0]
        self._host = np.random.RandomState(seed) if host is None else host

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._host, name)

        def call(*args: Any, dtype: Any = None, **kwargs: Any) -> Any:
            out = _call(method, args, kwargs)
            return out.astype(dtype, copy=False) if dtype is not None and isinstance(out, DeviceArray) else out
        return call


class Generator(RandomState):
    """``cupy.random.Generator``, as ``cupy.random.default_rng(seed)`` makes it (NumPy's ``default_rng`` inside)."""


def scatter_add(a: DeviceArray, slices: Any, value: Any) -> None:
    """``cupyx.scatter_add``: ``a[slices] += value`` where repeated indices all add up (NumPy's ``add.at``)."""
    _call(np.add.at, (a, slices, value), {})


def erf(x: Any) -> DeviceArray:
    """``cupyx.scipy.special.erf`` by ``math.erf``; the dtype follows SciPy's loops (float32 stays float32)."""
    buf = _operand(x, {})
    dtype = np.result_type(getattr(buf, "dtype", np.float64), np.float32)
    return _wrap(np.asarray(np.frompyfunc(math.erf, 1, 1)(buf), dtype=dtype), {})


def _module(name: str, doc: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.__dict__.update(attrs, IS_FAKE=True)
    return module


def _namespace(name: str, host: types.ModuleType, **attrs: Any) -> types.ModuleType:
    """A module whose other names are ``host``'s (NumPy's), made to take and return device arrays."""
    module = _module(name, f"Fake {name}: {host.__name__}'s functions on device arrays.", **attrs)

    def __getattr__(attr: str) -> Any:
        if attr.startswith("_") or not hasattr(host, attr):
            raise AttributeError(f"module {name!r} (fake) has no attribute {attr!r}")
        value = getattr(host, attr)
        if isinstance(value, np.ufunc):
            value = DeviceUfunc(value)
        elif isinstance(value, types.ModuleType):
            value = _namespace(f"{name}.{attr}", value)
        elif callable(value) and not isinstance(value, type):  # dtypes and other classes pass through
            value = _converter(value) if attr in _CONVERTERS else _device_function(value)
        setattr(module, attr, value)  # made once, so that `cupy.add is cupy.add`
        return value
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def _build() -> dict[str, types.ModuleType]:
    runtime = _module("cupy.cuda.runtime", "Fake CUDA runtime: one device.", CUDARuntimeError=CUDARuntimeError,
                      getDeviceCount=lambda: _DEVICE_COUNT, getDevice=lambda: 0,
                      getDeviceProperties=lambda index: {"name": b"Fake GPU (NumPy on the host)"})
    cuda = _module("cupy.cuda", "Fake cupy.cuda.", runtime=runtime, Device=Device, Stream=Stream,
                   get_device_id=lambda: 0, is_available=lambda: True)
    state = RandomState()
    random = _module("cupy.random", "Fake cupy.random: NumPy's generators, results on the device.",
                     RandomState=RandomState, Generator=Generator, get_random_state=lambda: state,
                     default_rng=lambda seed=None: Generator(host=np.random.default_rng(seed)))
    for name in ("seed", "rand", "randn", "random", "random_sample", "standard_normal", "uniform", "normal",
                 "randint", "permutation", "shuffle", "choice"):
        setattr(random, name, getattr(state, name))
    cupy = _namespace("cupy", np, __version__="13.0.0+fake", ndarray=DeviceArray, cuda=cuda, random=random,
                      asnumpy=lambda a, stream=None: a.get() if isinstance(a, DeviceArray) else np.asarray(a),
                      is_available=lambda: True)
    pool = types.SimpleNamespace(used_bytes=lambda: 0, total_bytes=lambda: 0, free_all_blocks=lambda: None)
    cupy.get_default_memory_pool = lambda: pool  # no memory to count on the host: always 0 bytes
    cupy.get_array_module = lambda *args: cupy if any(isinstance(a, DeviceArray) for a in args) else np
    special = _module("cupyx.scipy.special", "Fake cupyx.scipy.special.", erf=erf)
    scipy = _module("cupyx.scipy", "Fake cupyx.scipy.", special=special)
    cupyx = _module("cupyx", "Fake cupyx.", scipy=scipy, scatter_add=scatter_add)
    return {"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.runtime": runtime, "cupy.random": random,
            "cupy.linalg": cupy.linalg, "cupy.fft": cupy.fft, "cupyx": cupyx, "cupyx.scipy": scipy,
            "cupyx.scipy.special": special}


def install() -> types.ModuleType:
    """Put the fake ``cupy`` and ``cupyx`` (and their submodules) into ``sys.modules``; return ``cupy``."""
    modules = _build()
    sys.modules.update(modules)
    return modules["cupy"]


def uninstall() -> None:
    """Take the fake modules out of ``sys.modules`` (a real CuPy, if one was there, is left alone)."""
    for name in [name for name in sys.modules if name.partition(".")[0] in ("cupy", "cupyx")]:
        if getattr(sys.modules[name], "IS_FAKE", False):
            del sys.modules[name]
